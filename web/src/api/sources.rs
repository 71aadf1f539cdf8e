//! `/api/sources` and `/api/ingest`: what is indexed per source, adding a folder, re-syncing, removing,
//! and the background worker's live progress.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::WatchStream;
use tokio_stream::StreamExt;
use utoipa::ToSchema;

use crate::access::Caller;
use crate::cache::SourceListing;
use crate::error::ApiError;
use crate::extract::Json;
use crate::ingest_jobs::IngestStatus;
use crate::schema::{FailureJson, SourceFolderJson};
use crate::state::AppState;
use lore_core::audit::AuditAction;
use lore_ingest::jobs::IngestJob;

#[derive(Debug, Serialize, ToSchema)]
pub struct SourcesJson {
    pub sources: Vec<SourceFolderJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddSource {
    /// A folder on the server, absolute or relative to where `lore serve` runs.
    pub path: String,
    /// Default: the folder's name.
    pub name: Option<String>,
    /// Principals allowed to read it. A new source defaults to everyone; for an existing source, a
    /// different list changes its ACL (every indexed chunk is relabelled) and an empty one keeps it.
    #[serde(default)]
    pub acl: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub source: String,
    /// sync or remove
    pub action: String,
    /// false when the same job was already waiting.
    pub queued: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestJson {
    #[serde(flatten)]
    pub status: IngestStatus,
    /// Every file that could not be indexed, per source, with the reason.
    pub failures: Vec<FailureJson>,
}

/// Sources the caller may see, with the counts of what they may read: administrators see every
/// source and its totals; others, the sources whose ACL they share or where they may read a document
/// (an ACL file can grant more than the source's ACL), counting only the documents they may read.
pub async fn list_sources(state: &AppState, caller: &Caller) -> Result<Vec<SourceFolderJson>, ApiError> {
    let listing = match state.results.sources() {
        Some(listing) => listing,
        None => {
            let listing = Arc::new(read_sources(state).await?);
            state.results.set_sources(listing.clone());
            listing
        }
    };
    if caller.is_admin {
        return Ok(listing.sources.clone());
    }
    let mut visible = Vec::new();
    for source in &listing.sources {
        let readable: Vec<_> =
            listing.by_acl.iter().filter(|c| c.source == source.name && caller.shares(&c.acl)).collect();
        if readable.is_empty() && !caller.shares(&source.acl) {
            continue;
        }
        visible.push(SourceFolderJson {
            documents: readable.iter().map(|c| c.documents).sum(),
            chunks: readable.iter().map(|c| c.chunks).sum(),
            failed: readable.iter().map(|c| c.failed).sum(),
            ..source.clone()
        });
    }
    Ok(visible)
}

/// Every source with its counts, from the catalog (a pass over all documents).
async fn read_sources(state: &AppState) -> Result<SourceListing, ApiError> {
    let status = state.catalog.status().await?;
    let records = state.catalog.sources().await?;
    let by_acl = state.catalog.acl_counts().await?;
    let sources = status
        .sources
        .into_iter()
        .map(|source| SourceFolderJson {
            acl: records.iter().find(|r| r.name == source.name).map(|r| r.acl.clone()).unwrap_or_default(),
            name: source.name,
            root: source.root.display().to_string(),
            documents: source.documents,
            chunks: source.chunks,
            failed: source.failed,
            last_synced_ms: source.last_synced_ms,
        })
        .collect();
    Ok(SourceListing { sources, by_acl })
}

/// What is indexed, per source.
#[utoipa::path(get, path = "/api/sources", tag = "sources", responses((status = 200, body = SourcesJson)))]
pub async fn sources(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<SourcesJson>, ApiError> {
    Ok(axum::Json(SourcesJson { sources: list_sources(&state, &caller).await? }))
}

/// Checks a folder and queues its first sync (administrators).
pub async fn queue_new_source(state: &AppState, caller: &Caller, add: AddSource) -> Result<JobAccepted, ApiError> {
    caller.require_admin()?;
    let path = PathBuf::from(add.path.trim());
    if add.path.trim().is_empty() {
        return Err(ApiError::BadRequest("give the path of a folder on the server".into()));
    }
    let root = std::fs::canonicalize(&path)
        .map_err(|e| ApiError::BadRequest(format!("cannot use {}: {e}", path.display())))?;
    if !root.is_dir() {
        return Err(ApiError::BadRequest(format!("{} is not a folder", root.display())));
    }
    let allowed = allowed_source_roots(&state.config);
    if !allowed.iter().any(|allowed| root.starts_with(allowed)) {
        let listed: Vec<String> = allowed.iter().map(|p| p.display().to_string()).collect();
        return Err(ApiError::Forbidden(format!(
            "{} is outside the folders sources may be added from here ({}); an administrator can add it to \
             server.source_roots, or index it with `lore serve --ingest`",
            root.display(),
            listed.join(", ")
        )));
    }
    let name = match add.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => root.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "root".into()),
    };
    if let Some(existing) = state.catalog.source_by_name(&name).await? {
        if existing.root != root {
            return Err(ApiError::BadRequest(format!(
                "source '{name}' already indexes {}; pick another name",
                existing.root.display()
            )));
        }
    }
    let acl: Vec<String> = add.acl.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    let acl = (!acl.is_empty()).then_some(acl);
    let subject =
        format!("{name} ({}, readers: {})", root.display(), acl.as_ref().map_or("unchanged".into(), |a| a.join(", ")));
    let queued = state.jobs.enqueue(IngestJob::sync(name.clone(), root, acl)).await?;
    state.audit.record(caller, AuditAction::SourceAdd, &subject).await;
    Ok(JobAccepted { source: name, action: "sync".into(), queued })
}

/// Folders under which the web page and the API may add sources: `server.source_roots`, or the data
/// directory alone (canonical paths, so that a link cannot lead out of them).
fn allowed_source_roots(config: &lore_core::config::Config) -> Vec<PathBuf> {
    let configured = if config.server.source_roots.is_empty() {
        std::slice::from_ref(&config.data_dir)
    } else {
        config.server.source_roots.as_slice()
    };
    configured.iter().filter_map(|root| std::fs::canonicalize(root).ok()).collect()
}

/// Adds a folder as a source and syncs it in the background (administrators).
#[utoipa::path(post, path = "/api/sources", tag = "sources", request_body = AddSource,
    responses((status = 202, body = JobAccepted), (status = 400, body = crate::schema::ErrorJson),
              (status = 403, body = crate::schema::ErrorJson)))]
pub async fn add_source(
    State(state): State<AppState>,
    caller: Caller,
    Json(add): Json<AddSource>,
) -> Result<(StatusCode, axum::Json<JobAccepted>), ApiError> {
    Ok((StatusCode::ACCEPTED, axum::Json(queue_new_source(&state, &caller, add).await?)))
}

/// Queues a sync of a known source, or its removal (administrators).
pub async fn queue_job(state: &AppState, caller: &Caller, name: &str, remove: bool) -> Result<JobAccepted, ApiError> {
    caller.require_admin()?;
    let source = state
        .catalog
        .source_by_name(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no source named '{name}'")))?;
    let job = if remove {
        IngestJob::Remove { source: source.name.clone() }
    } else {
        IngestJob::sync(source.name.clone(), source.root.clone(), None)
    };
    let action = job.action().as_str().into();
    let queued = state.jobs.enqueue(job).await?;
    let audited = if remove { AuditAction::SourceRemove } else { AuditAction::SourceSync };
    state.audit.record(caller, audited, &source.name).await;
    Ok(JobAccepted { source: source.name, action, queued })
}

/// Re-syncs a source in the background: new and changed files are read, deleted ones removed.
#[utoipa::path(post, path = "/api/sources/{name}/sync", tag = "sources",
    params(("name" = String, Path, description = "source name")),
    responses((status = 202, body = JobAccepted), (status = 404, body = crate::schema::ErrorJson)))]
pub async fn sync_source(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
) -> Result<(StatusCode, axum::Json<JobAccepted>), ApiError> {
    Ok((StatusCode::ACCEPTED, axum::Json(queue_job(&state, &caller, &name, false).await?)))
}

/// Removes a source and everything indexed from it, in the background (its files are not touched).
#[utoipa::path(delete, path = "/api/sources/{name}", tag = "sources",
    params(("name" = String, Path, description = "source name")),
    responses((status = 202, body = JobAccepted), (status = 404, body = crate::schema::ErrorJson)))]
pub async fn remove_source(
    State(state): State<AppState>,
    caller: Caller,
    UrlPath(name): UrlPath<String>,
) -> Result<(StatusCode, axum::Json<JobAccepted>), ApiError> {
    Ok((StatusCode::ACCEPTED, axum::Json(queue_job(&state, &caller, &name, true).await?)))
}

/// The ingestion worker: the job running (with live counts), the queue, recent runs, failed files.
#[utoipa::path(get, path = "/api/ingest", tag = "sources", responses((status = 200, body = IngestJson)))]
pub async fn ingest_status(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<IngestJson>, ApiError> {
    caller.require_admin()?;
    let failures = state.catalog.failures(None).await?.iter().map(FailureJson::from).collect();
    Ok(axum::Json(IngestJson { status: state.jobs.status(), failures }))
}

/// The worker's status as server-sent `status` events, one per change.
#[utoipa::path(get, path = "/api/ingest/events", tag = "sources",
    responses((status = 200, content_type = "text/event-stream", description = "`status` events")))]
pub async fn ingest_events(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require_admin()?;
    let statuses = WatchStream::new(state.jobs.subscribe())
        // A sync reports every file; a browser needs a few updates a second.
        .throttle(std::time::Duration::from_millis(250))
        .map(|status| Ok(Event::default().event("status").json_data(&status).expect("the status serialises")));
    let stream = futures_util::StreamExt::take_until(statuses, state.stopping());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
