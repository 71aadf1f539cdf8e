//! The JSON API. Each module is one resource; `openapi` collects their descriptions.

pub mod ask;
pub mod documents;
pub mod health;
pub mod openai;
pub mod search;
pub mod sources;

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lore",
        description = "Private document search and grounded answers. Every endpoint acts as the \
        caller's principals (see `server.principal_header`); errors are `{\"error\":{\"code\",\"message\"}}`."
    ),
    paths(
        search::search,
        ask::ask,
        documents::document,
        documents::download,
        sources::sources,
        sources::add_source,
        sources::sync_source,
        sources::remove_source,
        sources::ingest_status,
        sources::ingest_events,
        openai::chat_completions,
        openai::models,
        health::healthz,
        health::readyz,
        health::metrics,
    ),
    components(schemas(crate::web::schema::ErrorJson, crate::web::schema::AnswerJson))
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
