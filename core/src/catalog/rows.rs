//! Rows as both SQL engines return them, and their conversion to the catalog's types. `FromRow` is
//! derived, so one definition decodes SQLite and PostgreSQL rows alike (both schemas use 64-bit
//! integers and text for every column read here).

use std::borrow::Cow;
use std::path::PathBuf;

use super::{
    CatalogError, DocumentRecord, DocumentState, DocumentStatus, FailureRecord, Result, SourceId, SourceRecord,
    SourceStatus,
};
use crate::acl::DocumentAcl;
use crate::types::{Chunk, ChunkId, DocumentId, DocumentKind};

pub(super) fn acl_json(acl: &[String]) -> String {
    serde_json::to_string(acl).expect("a list of strings serialises")
}

fn parse_acl(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| CatalogError::Corrupt(format!("acl {json:?}: {e}")))
}

/// A document's stored ACL: its effective principals (`COALESCE`d with its source's in the query), the
/// governing ACL file and the page's own list.
fn parse_document_acl(acl: &str, file: Option<String>, page: Option<&str>) -> Result<DocumentAcl> {
    Ok(DocumentAcl { principals: parse_acl(acl)?, file, page: page.map(parse_acl).transpose()? })
}

/// The page list as stored (`NULL` when the page does not narrow).
pub(super) fn page_acl_json(acl: &DocumentAcl) -> Option<String> {
    acl.page.as_deref().map(acl_json)
}

fn parse_status(s: &str) -> Result<DocumentStatus> {
    DocumentStatus::parse(s).ok_or_else(|| CatalogError::Corrupt(format!("unknown document status {s:?}")))
}

/// Text as a column may hold it: PostgreSQL refuses NUL characters in `TEXT` (SQLite keeps them), so
/// both engines store U+FFFD instead, which keeps character offsets where they were.
pub(crate) fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// `$1,$2,...,$n`: both engines understand numbered parameters.
pub(super) fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(",")
}

#[derive(sqlx::FromRow)]
pub(super) struct SourceRow {
    id: i64,
    name: String,
    root: String,
    acl: String,
    last_synced_ms: Option<i64>,
}

impl SourceRow {
    pub(super) const COLUMNS: &'static str = "id, name, root, acl, last_synced_ms";

    pub(super) fn into_record(self) -> Result<SourceRecord> {
        Ok(SourceRecord {
            id: SourceId(self.id),
            name: self.name,
            root: PathBuf::from(self.root),
            acl: parse_acl(&self.acl)?,
            last_synced_ms: self.last_synced_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DocumentStateRow {
    id: i64,
    path: String,
    size_bytes: i64,
    modified_ms: i64,
    content_hash: String,
    status: String,
    error: Option<String>,
    acl: String,
    acl_file: Option<String>,
    page_acl: Option<String>,
}

impl DocumentStateRow {
    /// The columns, for a query over `documents d JOIN sources s`.
    pub(super) const COLUMNS: &'static str = "d.id, d.path, d.size_bytes, d.modified_ms, d.content_hash, d.status, \
        d.error, COALESCE(d.acl, s.acl) AS acl, d.acl_file, d.page_acl";

    pub(super) fn into_state(self) -> Result<DocumentState> {
        Ok(DocumentState {
            acl: parse_document_acl(&self.acl, self.acl_file, self.page_acl.as_deref())?,
            id: DocumentId(self.id),
            path: self.path,
            size_bytes: self.size_bytes as u64,
            modified_ms: self.modified_ms,
            content_hash: self.content_hash,
            status: parse_status(&self.status)?,
            error: self.error,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SourceStatusRow {
    name: String,
    root: String,
    last_synced_ms: Option<i64>,
    documents: i64,
    chunks: i64,
    failed: i64,
}

impl SourceStatusRow {
    pub(super) fn into_status(self) -> SourceStatus {
        SourceStatus {
            name: self.name,
            root: PathBuf::from(self.root),
            documents: self.documents as u64,
            chunks: self.chunks as u64,
            failed: self.failed as u64,
            last_synced_ms: self.last_synced_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct FailureRow {
    name: String,
    path: String,
    status: String,
    error: String,
}

impl FailureRow {
    pub(super) fn into_record(self) -> Result<FailureRecord> {
        Ok(FailureRecord { source: self.name, path: self.path, status: parse_status(&self.status)?, error: self.error })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ChunkRow {
    id: i64,
    ordinal: i64,
    page: Option<i64>,
    heading: Option<String>,
    start_char: i64,
    end_char: i64,
    tokens: i64,
    text: String,
}

impl ChunkRow {
    pub(super) fn into_chunk(self) -> Chunk {
        Chunk {
            id: ChunkId(self.id as u64),
            ordinal: self.ordinal as u32,
            text: self.text,
            page: self.page.map(|p| p as u32),
            heading: self.heading,
            start: self.start_char as usize,
            end: self.end_char as usize,
            tokens: self.tokens as u32,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DocumentRow {
    id: i64,
    name: String,
    root: String,
    acl: String,
    path: String,
    kind: String,
    title: String,
    pages: Option<i64>,
    size_bytes: i64,
    modified_ms: i64,
    status: String,
    error: Option<String>,
    chunk_count: i64,
    page_starts: Option<String>,
    acl_file: Option<String>,
    page_acl: Option<String>,
}

impl DocumentRow {
    pub(super) fn into_record(self) -> Result<DocumentRecord> {
        let page_starts = match self.page_starts {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| CatalogError::Corrupt(format!("page starts of document {}: {e}", self.id)))?,
            None => Vec::new(),
        };
        Ok(DocumentRecord {
            id: DocumentId(self.id),
            source: self.name,
            source_root: PathBuf::from(self.root),
            acl: parse_acl(&self.acl)?,
            acl_file: self.acl_file,
            page_acl: self.page_acl.as_deref().map(parse_acl).transpose()?,
            path: self.path,
            kind: DocumentKind::parse(&self.kind)
                .ok_or_else(|| CatalogError::Corrupt(format!("unknown document kind {:?}", self.kind)))?,
            title: self.title,
            pages: self.pages.map(|p| p as u32),
            size_bytes: self.size_bytes as u64,
            modified_ms: self.modified_ms,
            status: parse_status(&self.status)?,
            error: self.error,
            chunk_count: self.chunk_count as u64,
            page_starts,
        })
    }
}

/// The `(document id, acl)` pairs behind [`super::Catalog::document_acls`].
pub(super) fn document_acl(id: i64, acl: &str) -> Result<(DocumentId, Vec<String>)> {
    Ok((DocumentId(id), parse_acl(acl)?))
}

#[derive(sqlx::FromRow)]
pub(super) struct AclCountRow {
    name: String,
    acl: String,
    documents: i64,
    chunks: i64,
    failed: i64,
}

impl AclCountRow {
    pub(super) fn into_count(self) -> Result<super::AclCount> {
        Ok(super::AclCount {
            source: self.name,
            acl: parse_acl(&self.acl)?,
            documents: self.documents as u64,
            chunks: self.chunks as u64,
            failed: self.failed as u64,
        })
    }
}
