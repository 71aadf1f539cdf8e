//! `/admin`: sources (add a folder, re-sync, remove), the ingestion worker's live progress and the files
//! that failed. Forms post and redirect back, so it works without JavaScript; app.js keeps the progress
//! live from `/api/ingest/events`.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use lore_core::types::now_ms;
use serde::Deserialize;

use super::{page, PageResult};
use crate::access::Caller;
use crate::api::sources::{list_sources, queue_job, queue_new_source, AddSource};
use crate::error::ApiError;
use crate::extract::{Form, Query};
use crate::ingest_jobs::IngestStatus;
use crate::schema::FailureJson;
use crate::schema::SourceFolderJson;
use crate::state::{AppState, ModelStatus};

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    notice: Option<String>,
}

/// A row of the sources table.
struct SourceRow {
    source: SourceFolderJson,
    /// The name as a URL path segment.
    url_name: String,
    last_sync: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    notice: Option<String>,
    sources: Vec<SourceRow>,
    status: IngestStatus,
    /// The status as JSON, for app.js to start from.
    status_json: String,
    failures: Vec<FailureJson>,
    model: String,
    signed_in_as: Option<String>,
}

/// "3 min ago" for a time in ms since the epoch.
fn ago(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "never".into() };
    let secs = (now_ms() - ms).max(0) / 1000;
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

pub async fn admin(
    State(state): State<AppState>,
    caller: Caller,
    notice: Result<Query<Notice>, ApiError>,
) -> PageResult {
    caller.require_admin()?;
    let notice = notice.map(|Query(n)| n.notice).unwrap_or_default();
    let sources = list_sources(&state, &caller).await?;
    let failures = state.catalog.failures(None).await?.iter().map(FailureJson::from).collect();
    let status = state.jobs.status();
    let model = match state.model_status() {
        ModelStatus::Loading => "loading…".to_string(),
        ModelStatus::Ready { name } => format!("{name} (ready)"),
        ModelStatus::Failed(reason) => format!("failed to load: {reason}"),
    };
    let sources = sources
        .into_iter()
        .map(|source| SourceRow { url_name: path_segment(&source.name), last_sync: ago(source.last_synced_ms), source })
        .collect();
    Ok(page(&AdminPage {
        notice,
        sources,
        status_json: serde_json::to_string(&status).expect("the status serialises"),
        status,
        failures,
        model,
        signed_in_as: caller.display_name().map(str::to_string),
    }))
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    path: String,
    #[serde(default)]
    name: String,
    /// Comma-separated principals.
    #[serde(default)]
    acl: String,
}

fn back(notice: &str) -> Response {
    let query = serde_html_form::to_string([("notice", notice)]).expect("a notice encodes");
    Redirect::to(&format!("/admin?{query}")).into_response()
}

/// `POST /admin/sources`.
pub async fn add(State(state): State<AppState>, caller: Caller, form: Result<Form<AddForm>, ApiError>) -> PageResult {
    let Form(form) = form?;
    let add = AddSource {
        path: form.path,
        name: Some(form.name),
        acl: form.acl.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
    };
    match queue_new_source(&state, &caller, add).await {
        Ok(job) => Ok(back(&format!("Source '{}' added; its first sync is queued.", job.source))),
        Err(ApiError::BadRequest(message) | ApiError::Forbidden(message)) => {
            Ok(back(&format!("Not added: {message}.")))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/sources/{name}/sync`.
pub async fn sync(State(state): State<AppState>, caller: Caller, Path(name): Path<String>) -> PageResult {
    let job = queue_job(&state, &caller, &name, false).await?;
    Ok(match job.queued {
        true => back(&format!("A sync of '{name}' is queued.")),
        false => back(&format!("A sync of '{name}' was already waiting.")),
    })
}

/// `POST /admin/sources/{name}/remove`.
pub async fn remove(State(state): State<AppState>, caller: Caller, Path(name): Path<String>) -> PageResult {
    queue_job(&state, &caller, &name, true).await?;
    Ok(back(&format!("'{name}' will be removed from the indexes (its files stay where they are).")))
}

/// `name` as one URL path segment (percent-encoded beyond unreserved characters).
fn path_segment(name: &str) -> String {
    let mut out = String::new();
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
