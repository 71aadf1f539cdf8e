//! `/healthz` (the process answers), `/readyz` (it can search and answer), `/metrics` (Prometheus).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::bearer_matches;
use crate::error::ApiError;
use crate::exposure::is_loopback;
use crate::state::{AppState, ModelStatus};

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Search and answers both work.
    pub ready: bool,
    /// The indexes are open and the query embedder loaded (always true once the server listens).
    pub search: bool,
    /// loading, ready or failed
    pub model: String,
    /// That the model failed to load (why is in the server log, which only administrators read).
    pub model_error: Option<String>,
    /// Ingest jobs running or waiting.
    pub ingest_jobs: usize,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "ok")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 once the language model is loaded (search works before); 503 while it loads or if it failed.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (model, model_error) = match state.model_status() {
        ModelStatus::Loading => ("loading", None),
        ModelStatus::Ready { .. } => ("ready", None),
        // Why is in the server log: the error names files and paths of the server.
        ModelStatus::Failed(_) => ("failed", Some("the language model failed to load; see the server log".to_string())),
    };
    let ready = model == "ready";
    let readiness =
        Readiness { ready, search: true, model: model.into(), model_error, ingest_jobs: state.jobs.depth() };
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(readiness))
}

/// Request latency by route, search and answer timings, ingest counters, queue depths. With
/// `server.metrics_token`, only for `Authorization: Bearer <token>`; without, only for loopback clients.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "application/openmetrics-text", description = "Prometheus metrics")))]
pub async fn metrics(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let allowed = match &state.config.server.metrics_token {
        Some(token) => bearer_matches(&headers, token),
        None => peer.is_some_and(|Extension(ConnectInfo(addr))| is_loopback(addr.ip())),
    };
    if !allowed {
        // Like a document a caller may not read: nothing is there for them.
        return Err(ApiError::NotFound("there is nothing at /metrics".into()));
    }
    let text = state.metrics.render(state.answer_queue_depth(), state.jobs.depth());
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text))
}
