//! `/healthz` (the process answers), `/readyz` (it can search and answer), `/metrics` (Prometheus).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::web::state::{AppState, ModelStatus};

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Search and answers both work.
    pub ready: bool,
    /// The indexes are open and the query embedder loaded (always true once the server listens).
    pub search: bool,
    /// loading, ready or failed
    pub model: String,
    /// Why the model failed to load.
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
        ModelStatus::Failed(reason) => ("failed", Some(reason)),
    };
    let ready = model == "ready";
    let readiness =
        Readiness { ready, search: true, model: model.into(), model_error, ingest_jobs: state.worker.depth() };
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(readiness))
}

/// Request latency by route, search and answer timings, ingest counters, queue depths.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "application/openmetrics-text", description = "Prometheus metrics")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics.render(state.answer_queue_depth(), state.worker.depth());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
}
