//! `GET /api/documents/{id}`: a document's extracted text and facts; `GET /documents/{id}/file`: the
//! original file. Both only for documents the caller may read; a document they may not read does not
//! exist for them (404, never 403, so its existence does not leak).

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lore_core::catalog::{DocumentRecord, DocumentStatus};
use lore_core::DocumentId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use lore_core::audit::AuditAction;

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentJson {
    #[schema(value_type = i64)]
    pub id: DocumentId,
    pub title: String,
    pub source: String,
    /// Path inside its source.
    pub path: String,
    /// pdf, markdown, html, text or docx
    pub kind: String,
    pub pages: Option<u32>,
    pub size_bytes: u64,
    pub modified_ms: i64,
    /// indexed, pending, failed or no_text
    #[schema(value_type = String)]
    pub status: DocumentStatus,
    /// Why the last attempt to index it failed (an indexed document keeps its previous version).
    pub error: Option<String>,
    pub chunks: u64,
    /// The extracted text that citations' and hits' character spans point into.
    pub text: String,
    /// Character offset where each page starts (PDF); empty for formats without pages.
    pub page_starts: Vec<usize>,
    /// Where the original file can be downloaded.
    pub download_url: String,
}

/// The document `id`, if the caller may read it.
pub async fn readable_record(state: &AppState, caller: &Caller, id: i64) -> Result<DocumentRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("there is no document {id}"));
    let record = state.catalog.document(DocumentId(id)).await?.ok_or_else(not_found)?;
    if !caller.may_read(&record) {
        return Err(not_found());
    }
    Ok(record)
}

/// The document `id` and its extracted text, if the caller may read it.
pub async fn readable_document(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<(DocumentRecord, String), ApiError> {
    let record = readable_record(state, caller, id).await?;
    let text = state.catalog.document_text(record.id).await?.unwrap_or_default();
    Ok((record, text))
}

/// A document's extracted text, pages and facts.
#[utoipa::path(get, path = "/api/documents/{id}", tag = "documents",
    params(("id" = i64, Path, description = "document id, as in hits and citations")),
    responses((status = 200, body = DocumentJson), (status = 404, body = crate::schema::ErrorJson)))]
pub async fn document(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<i64>,
) -> Result<Json<DocumentJson>, ApiError> {
    let (record, text) = readable_document(&state, &caller, id).await?;
    state.audit.record(&caller, AuditAction::Open, &id.to_string()).await;
    Ok(Json(DocumentJson {
        id: record.id,
        title: record.title,
        source: record.source,
        path: record.path,
        kind: record.kind.as_str().into(),
        pages: record.pages,
        size_bytes: record.size_bytes,
        modified_ms: record.modified_ms,
        status: record.status,
        error: record.error,
        chunks: record.chunk_count,
        text,
        page_starts: record.page_starts,
        download_url: format!("/documents/{id}/file"),
    }))
}

/// The original file of an ingested document. The path comes from the catalog, never from the request,
/// and must still resolve inside its source's folder (a symlink swapped in later does not escape it).
#[utoipa::path(get, path = "/documents/{id}/file", tag = "documents",
    params(("id" = i64, Path, description = "document id")),
    responses((status = 200, description = "the file's bytes"), (status = 404, body = crate::schema::ErrorJson)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(id): UrlPath<i64>,
) -> Result<Response, ApiError> {
    let record = readable_record(&state, &caller, id).await?;
    state.audit.record(&caller, AuditAction::Download, &id.to_string()).await;
    let gone = || ApiError::NotFound(format!("the file of document {id} is no longer in its source folder"));
    let path = contained_path(&record.source_root, &record.path).ok_or_else(gone)?;
    // Opened as ingestion reads: the handle itself must be a regular file inside the folder, whatever
    // was swapped in since the path was resolved.
    let file = {
        let (path, root) = (path.clone(), std::fs::canonicalize(&record.source_root).map_err(|_| gone())?);
        tokio::task::spawn_blocking(move || lore_ingest::read::open_source_file(&path, &root))
            .await
            .map_err(|_| gone())?
            .map_err(|_| gone())?
            .0
    };
    let file = tokio::fs::File::from_std(file);
    let name = Path::new(&record.path).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let body = Body::from_stream(file_chunks(file));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(mime.as_ref()).expect("mime types are valid headers"));
    // An uploaded HTML file must not run as this site's page.
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `root/relative`, if it exists and resolves (symlinks followed) inside `root`.
fn contained_path(root: &Path, relative: &str) -> Option<PathBuf> {
    let root = std::fs::canonicalize(root).ok()?;
    let path = std::fs::canonicalize(root.join(relative)).ok()?;
    (path.starts_with(&root) && path.is_file()).then_some(path)
}

fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + 'static {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(axum::body::Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_source_folder_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("docs");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.md"), "# A").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
        assert!(contained_path(&root, "a.md").is_some());
        assert!(contained_path(&root, "../secret.txt").is_none());
        assert!(contained_path(&root, "missing.md").is_none());
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        assert!(contained_path(&root, "link.txt").is_none(), "a symlink out of the folder is refused");
    }
}
