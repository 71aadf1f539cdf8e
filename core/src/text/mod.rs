//! The full-text index: give it chunks with their document's fields, get BM25-ranked chunk ids for a
//! query, filtered before ranking.
//!
//! Writes become durable and visible to searches at [`TextIndex::commit`]; the catalog's pending
//! protocol relies on that order.

mod collector;
mod query;
mod schema;
mod tantivy_index;

use std::collections::{BTreeMap, BTreeSet};

pub use query::QueryTerms;
pub use schema::{analyze, for_each_term, is_stopword, AnalyzedToken};
pub use tantivy_index::{OpenMode, TantivyTextIndex};

use crate::types::{Chunk, ChunkId, DocumentId, DocumentMeta, IndexedChunk, SearchFilter};

#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("full-text index error: {0}")]
    Engine(#[from] tantivy::TantivyError),
    #[error("cannot open the full-text index at {path}: {reason}")]
    Open { path: std::path::PathBuf, reason: String },
    #[error("the full-text index was opened read-only")]
    ReadOnly,
    #[error("{0}")]
    Server(String),
    #[error("full-text index holds an invalid document: {0}")]
    Corrupt(String),
}

pub type Result<T, E = TextError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextHit {
    pub chunk: ChunkId,
    /// BM25 score.
    pub score: f32,
}

pub trait TextIndex: Send + Sync {
    fn add(&self, document: &DocumentMeta, chunks: &[Chunk]) -> Result<()>;
    /// Removes every chunk of these documents (effective at the next commit).
    fn delete_documents(&self, documents: &[DocumentId]) -> Result<()>;
    /// Gives every committed chunk of these documents a new ACL, everything else kept as stored (no
    /// re-extraction, no re-embedding); effective at the next commit, like any write.
    fn relabel(&self, documents: &[DocumentId], acl: &[String]) -> Result<()>;
    /// Makes every write so far durable and visible to searches.
    fn commit(&self) -> Result<()>;
    /// Merges the committed segments into one when there are many, so that searches stay fast;
    /// returns whether it merged. Slow on a large index: call it after ingestion, never per write.
    fn optimize(&self) -> Result<bool>;
    /// BM25 over chunk text, title (boosted) and heading path. Any input is accepted (see
    /// [`QueryTerms`]); a query without any word finds nothing.
    fn search(&self, query: &str, limit: usize, filter: &SearchFilter) -> Result<Vec<TextHit>>;
    /// The stored chunks with these ids, in no particular order; ids the index does not hold are left out.
    fn fetch(&self, chunks: &[ChunkId]) -> Result<Vec<IndexedChunk>>;
    /// Chunks per document, as the index holds them (committed state).
    fn chunk_counts(&self) -> Result<BTreeMap<DocumentId, u64>>;
    /// The distinct ACLs (sorted principals) the chunks of each document carry (committed state): one
    /// ACL per document when the index agrees with the catalog.
    fn acl_labels(&self) -> Result<BTreeMap<DocumentId, BTreeSet<Vec<String>>>>;
    fn len(&self) -> Result<u64>;
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}
