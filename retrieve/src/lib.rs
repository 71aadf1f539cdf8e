//! Hybrid retrieval: give it a query, the caller's principals and facet choices, get ranked passages
//! with snippets.
//!
//! - [`Retriever`]: BM25 (tantivy) and vector kNN (Qdrant Edge) at the same time, fused, de-duplicated.
//! - [`request`]: what a caller asks for; [`Access`] has no default, so no caller forgets permissions.
//! - [`fusion`]: reciprocal rank fusion and convex combination, as pure functions.
//! - [`snippet`], [`dedup`]: the presentation of hits.
//!
//! Permissions are a filter both engines apply before ranking, never a pass over the results: a user
//! who may not read a chunk cannot see it, nor learn from the number of hits that it exists.

pub mod dedup;
pub mod fusion;
pub mod request;
mod retriever;
pub mod snippet;

pub use request::{Access, Mode, Narrowing, SearchRequest};
pub use retriever::{fuse, Candidates, Duplicate, Hit, Retriever, SearchResults, Timings, MAX_DEPTH};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the query is empty: type a few words or a question")]
    EmptyQuery,
    #[error(transparent)]
    Text(#[from] lore_core::text::TextError),
    #[error(transparent)]
    Vectors(#[from] lore_core::vectors::VectorError),
    #[error("cannot embed the query: {0}")]
    Embed(#[from] lore_core::embed::EmbedError),
    #[error("results past the first {max} are not served (offset + limit was {asked}): narrow the search instead")]
    TooDeep { asked: String, max: usize },
    #[error("a search worker thread crashed")]
    Worker,
}
