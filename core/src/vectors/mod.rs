//! The vector store: give it chunk embeddings with their document's payload, get nearest chunks for a
//! query vector, filtered by payload before ranking.
//!
//! Writes are visible to searches at once but durable only after [`VectorIndex::flush`]; the catalog's
//! pending protocol relies on that order.

mod edge;

use std::collections::{BTreeMap, BTreeSet};

pub use edge::EdgeVectorIndex;

use crate::types::{Chunk, ChunkId, DocumentId, DocumentMeta, SearchFilter};

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("vector store error: {0}")]
    Engine(String),
    #[error("cannot open the vector store at {path}: {reason}")]
    Open { path: std::path::PathBuf, reason: String },
    #[error("{0}")]
    Server(String),
    #[error("embedding has {actual} dimensions, the vector store holds {expected}")]
    Dimensions { expected: usize, actual: usize },
}

pub type Result<T, E = VectorError> = std::result::Result<T, E>;

/// A chunk with its embedding, ready to be stored.
pub struct VectorPoint<'a> {
    pub document: &'a DocumentMeta,
    pub chunk: &'a Chunk,
    pub vector: &'a [f32],
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorHit {
    pub chunk: ChunkId,
    /// Cosine similarity.
    pub score: f32,
}

pub trait VectorIndex: Send + Sync {
    fn dimensions(&self) -> usize;
    fn upsert(&self, points: &[VectorPoint<'_>]) -> Result<()>;
    /// Removes every chunk of these documents (found through the payload index).
    fn delete_documents(&self, documents: &[DocumentId]) -> Result<()>;
    /// Gives every chunk of these documents a new ACL (visible at once, durable at the next flush).
    fn relabel(&self, documents: &[DocumentId], acl: &[String]) -> Result<()>;
    /// The distinct ACLs (sorted principals) the chunks of each document carry.
    fn acl_labels(&self) -> Result<BTreeMap<DocumentId, BTreeSet<Vec<String>>>>;
    /// Removes chunks by id; does not depend on any payload index, so recovery can rely on it.
    fn delete_chunks(&self, chunks: &[ChunkId]) -> Result<()>;
    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;
    /// Builds the search graph (HNSW) over what was written, so searches stop scanning every vector;
    /// returns whether anything changed. Slow on a large store: call it after ingestion, never per write.
    fn optimize(&self) -> Result<bool>;
    fn search(&self, query: &[f32], limit: usize, filter: &SearchFilter) -> Result<Vec<VectorHit>>;
    /// Every chunk id the store holds (its document is part of the id).
    fn chunk_ids(&self) -> Result<Vec<ChunkId>>;
    /// Chunks per document, as the store holds them.
    fn chunk_counts(&self) -> Result<BTreeMap<DocumentId, u64>> {
        let mut counts = BTreeMap::new();
        for id in self.chunk_ids()? {
            *counts.entry(id.document()).or_insert(0) += 1;
        }
        Ok(counts)
    }
    fn len(&self) -> Result<u64>;
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}
