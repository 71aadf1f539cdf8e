//! A Qdrant server (or cluster) as the one index every worker and web replica shares: give it the
//! chunks of a document, get dense (kNN) and lexical (BM25) search over them, both filtered by payload
//! before ranking. Each chunk is one point holding both vectors, `dense` (the embedding) and `bm25` (a
//! sparse vector of term weights whose IDF the server computes: the `idf` modifier), and the payload
//! a search hit is shown from, so that no process keeps index state of its own.
//!
//! Blunt notes:
//! - [`QdrantServerIndex`] implements both [`TextIndex`] and [`VectorIndex`] over the same points.
//!   `TextIndex::add` writes a chunk's point (payload and sparse vector); `VectorIndex::upsert` then
//!   adds its dense vector, and fails with a clear error for a chunk that was not added first (the
//!   sync writes both in that order). The vector side counts only points with a dense vector, so
//!   `lore status --check` still sees a half-written chunk.
//! - Every write waits for the server to apply it (`wait = true`): `commit` and `flush` have nothing
//!   left to do, and `optimize` is the server's own background work.
//! - The client is asynchronous (gRPC, tonic) and the traits are not: requests run on this value's own
//!   small runtime while the calling thread waits, so call it from blocking threads (`spawn_blocking`),
//!   as every caller of the traits already does.
//! - Quoted phrases are ranked as their words: a sparse vector knows no positions.

mod client;
mod indexes;
mod payload;
mod sparse;

pub use client::{QdrantServerIndex, ServerSettings, SUPPORTED_SERVER};

use crate::text::TextError;
use crate::vectors::VectorError;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot reach the Qdrant server at {url}: {reason} (is it running, and is vectors.url its gRPC port, usually 6334?)")]
    Unreachable { url: String, reason: String },
    #[error("the Qdrant server at {url} did not {action} within {seconds} s (vectors.timeout_secs), in {tries} tries")]
    TimedOut { url: String, action: &'static str, seconds: u64, tries: u32 },
    #[error("the Qdrant server refused to {action}: {reason}")]
    Refused { action: &'static str, reason: String },
    #[error("collection {collection} on the Qdrant server does not fit: {reason}")]
    Collection { collection: String, reason: String },
    #[error("the Qdrant server returned an unexpected point: {0}")]
    Corrupt(String),
    #[error("cannot start the Qdrant client: {0}")]
    Client(String),
}

impl From<ServerError> for VectorError {
    fn from(error: ServerError) -> Self {
        VectorError::Server(error.to_string())
    }
}

impl From<ServerError> for TextError {
    fn from(error: ServerError) -> Self {
        TextError::Server(error.to_string())
    }
}
