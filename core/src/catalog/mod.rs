//! The catalog: give it what ingestion learned about files, get back the state of every source and
//! document. It is the system of record; the text and vector indexes are derived from it.
//!
//! Write protocol that keeps the three stores in agreement across crashes (see ARCHITECTURE.md):
//! 1. [`Catalog::begin_documents`] marks documents `pending` before anything touches the indexes;
//! 2. the indexes are written, then committed and flushed;
//! 3. [`Catalog::complete_documents`] stores the chunks and marks the documents `indexed` in one
//!    transaction.
//!
//! A crash between 1 and 3 leaves `pending` rows, which the next writer purges from the indexes
//! before it does anything else. Removal follows the same order: mark pending, purge, then delete.

mod postgres;
pub(crate) mod rows;
mod sql;
mod sqlite;

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::Serialize;

pub use postgres::{create_database, drop_database, redact as redact_url, PostgresCatalog};
pub(crate) use rows::storable;
pub use sqlite::SqliteCatalog;

use crate::acl::DocumentAcl;
use crate::types::{Chunk, DocumentId, DocumentKind};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the catalog schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("source '{name}' already indexes {existing}; pick another name with --source")]
    SourceRootConflict { name: String, existing: PathBuf },
    #[error("cannot reach the catalog database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("'{0}' is not a plain database name (lowercase letters, digits, underscores)")]
    InvalidDatabaseName(String),
    #[error("catalog holds invalid data: {0}")]
    Corrupt(String),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SourceId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RunId(pub i64);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceRecord {
    pub id: SourceId,
    pub name: String,
    pub root: PathBuf,
    pub acl: Vec<String>,
    pub last_synced_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    Pending,
    Indexed,
    Failed,
    NoText,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Indexed => "indexed",
            Self::Failed => "failed",
            Self::NoText => "no_text",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Indexed, Self::Failed, Self::NoText].into_iter().find(|v| v.as_str() == s)
    }
}

/// What the catalog remembers of a file, to decide whether it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentState {
    pub id: DocumentId,
    pub path: String,
    pub size_bytes: u64,
    pub modified_ms: i64,
    pub content_hash: String,
    pub status: DocumentStatus,
    pub error: Option<String>,
    /// The ACL its chunks carry (for a failed file never indexed: the one it would carry).
    pub acl: DocumentAcl,
}

/// What the file system says about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFacts {
    pub path: String,
    pub kind: DocumentKind,
    pub size_bytes: u64,
    pub modified_ms: i64,
    pub content_hash: String,
    /// Who may read it: its folder's ACL (source or `.lore-acl`), narrowed by its front matter.
    pub acl: DocumentAcl,
}

/// A document whose chunks are in both indexes, ready to be recorded as indexed.
#[derive(Debug, Clone)]
pub struct CompletedDocument {
    pub id: DocumentId,
    pub title: String,
    pub pages: Option<u32>,
    pub text: String,
    /// Character offset where each page starts; empty for unpaginated formats.
    pub page_starts: Vec<usize>,
    pub chunks: Vec<Chunk>,
}

/// A file that could not be indexed.
#[derive(Debug, Clone)]
pub struct FailedFile {
    pub facts: FileFacts,
    pub title: String,
    /// `NoText` for a readable file without a text layer (e.g. a scanned PDF).
    pub status: DocumentStatus,
    pub error: String,
}

/// Counters of one ingest run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub scanned: u64,
    pub indexed: u64,
    pub unchanged: u64,
    pub removed: u64,
    pub failed: u64,
    pub chunks: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Completed,
    /// Stopped on request (Ctrl-C) after committing what was done.
    Interrupted,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    pub name: String,
    pub root: PathBuf,
    pub documents: u64,
    pub chunks: u64,
    pub failed: u64,
    pub last_synced_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRecord {
    pub source: String,
    pub path: String,
    pub status: DocumentStatus,
    pub error: String,
}

/// One document as the document view shows it: where it comes from, who may read it, its pages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub source: String,
    /// The source's folder; `path` is relative to it.
    pub source_root: PathBuf,
    /// Principals allowed to read it (what its chunks carry): the source's ACL, or the nearest ACL
    /// file's, narrowed by the page's front matter.
    pub acl: Vec<String>,
    /// The ACL file that governs its folder (relative to the source's folder); `None`: the source's.
    pub acl_file: Option<String>,
    /// The page's own list from its front matter, before narrowing.
    pub page_acl: Option<Vec<String>>,
    pub path: String,
    pub kind: DocumentKind,
    pub title: String,
    pub pages: Option<u32>,
    pub size_bytes: u64,
    pub modified_ms: i64,
    pub status: DocumentStatus,
    pub error: Option<String>,
    pub chunk_count: u64,
    /// Character offset where each page of the extracted text starts; empty for unpaginated formats.
    pub page_starts: Vec<usize>,
}

/// Indexed documents of one source that carry one ACL: what a caller who shares the ACL may count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AclCount {
    pub source: String,
    pub acl: Vec<String>,
    pub documents: u64,
    pub chunks: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogStatus {
    pub sources: Vec<SourceStatus>,
    pub pending: u64,
}

/// The catalog database. SQLite ([`SqliteCatalog`]) is the embedded default; [`PostgresCatalog`] serves
/// several processes.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Registers a source with `acl`, or returns it as it is when it exists with the same root: an
    /// existing source's ACL changes only through [`Catalog::set_source_acl`].
    async fn ensure_source(&self, name: &str, root: &std::path::Path, acl: &[String]) -> Result<SourceRecord>;
    /// Gives a source a new ACL. Its documents keep theirs until the sync relabels them (through
    /// [`Catalog::begin_relabel`]), so the catalog never claims an ACL the indexes do not carry.
    async fn set_source_acl(&self, source: SourceId, acl: &[String]) -> Result<()>;
    /// Step 1 of an ACL change: in one transaction, gives each document its new ACL and marks those
    /// that have chunks `pending`; returns them. Their chunks must then be relabelled in both indexes
    /// and made durable before [`Catalog::finish_relabel`]. A crash in between leaves them pending, and
    /// recovery purges them from the indexes, so no chunk keeps the old ACL.
    async fn begin_relabel(&self, documents: &[(DocumentId, DocumentAcl)]) -> Result<Vec<DocumentId>>;
    /// Step 3 of an ACL change: the relabelled documents are `indexed` again.
    async fn finish_relabel(&self, documents: &[DocumentId]) -> Result<()>;
    /// The ACL the chunks of every indexed document must carry in both indexes.
    async fn document_acls(&self) -> Result<BTreeMap<DocumentId, Vec<String>>>;
    /// Indexed (and failed) documents per source and ACL: counts a caller may see are the sum over
    /// the ACLs they share.
    async fn acl_counts(&self) -> Result<Vec<AclCount>>;
    async fn sources(&self) -> Result<Vec<SourceRecord>>;
    async fn source_by_name(&self, name: &str) -> Result<Option<SourceRecord>>;
    async fn documents(&self, source: SourceId) -> Result<Vec<DocumentState>>;

    /// Creates or updates the rows of files about to be written to the indexes, marked `pending`;
    /// returns their ids in the same order.
    async fn begin_documents(&self, source: SourceId, files: &[FileFacts]) -> Result<Vec<DocumentId>>;
    /// Records documents whose chunks are committed in both indexes.
    async fn complete_documents(&self, documents: &[CompletedDocument]) -> Result<()>;
    /// Records files that could not be indexed. A file that was indexed before keeps its previous
    /// version searchable, with the error attached.
    async fn record_failures(&self, source: SourceId, failures: &[FailedFile]) -> Result<()>;
    /// Files whose content did not change but whose modification time did.
    async fn touch_documents(&self, touched: &[(DocumentId, i64)]) -> Result<()>;
    /// Marks documents `pending` before they are purged from the indexes.
    async fn mark_pending(&self, ids: &[DocumentId]) -> Result<()>;
    async fn delete_documents(&self, ids: &[DocumentId]) -> Result<()>;
    async fn pending_documents(&self) -> Result<Vec<DocumentId>>;
    /// The pending documents of one source: what a sync of it that died left behind, when several
    /// workers share the catalog (each source is synced by one at a time; see `queue`).
    async fn pending_documents_of(&self, source: SourceId) -> Result<Vec<DocumentId>>;

    async fn start_run(&self, source: SourceId) -> Result<RunId>;
    async fn finish_run(&self, run: RunId, counts: &RunCounts, outcome: RunOutcome, error: Option<&str>) -> Result<()>;
    /// Marks runs left `running` by a process that died as `interrupted`; returns how many.
    async fn interrupt_stale_runs(&self) -> Result<u64>;
    /// The same for one source's runs, when several workers share the catalog.
    async fn interrupt_stale_runs_of(&self, source: SourceId) -> Result<u64>;

    async fn status(&self) -> Result<CatalogStatus>;
    async fn failures(&self, source: Option<SourceId>) -> Result<Vec<FailureRecord>>;
    /// Chunks per indexed document, as the chunks table has them.
    async fn chunk_counts(&self) -> Result<BTreeMap<DocumentId, u64>>;
    /// Documents whose `chunk_count` column disagrees with their rows in the chunks table.
    async fn miscounted_documents(&self) -> Result<Vec<DocumentId>>;
    async fn chunks_of(&self, document: DocumentId) -> Result<Vec<Chunk>>;
    async fn document_text(&self, document: DocumentId) -> Result<Option<String>>;
    async fn document(&self, document: DocumentId) -> Result<Option<DocumentRecord>>;
    /// Deletes a source whose documents are already gone (see `lore_ingest::Syncer::remove_source`).
    async fn delete_source(&self, source: SourceId) -> Result<()>;
}
