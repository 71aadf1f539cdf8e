//! The JSON API. Each module is one resource; `openapi` collects their descriptions.

pub mod ask;
pub mod audit;
pub mod conversations;
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
        caller's principals: a signed-in user's, an API token's owner's (`Authorization: Bearer lore_t_...`, \
        within its scopes), or a trusted proxy's `server.principal_header`; errors are \
        `{\"error\":{\"code\",\"message\"}}`."
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
        audit::audit,
        conversations::conversations,
        conversations::conversation,
        conversations::delete,
    ),
    components(schemas(crate::schema::ErrorJson, crate::schema::AnswerJson))
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    /// Two types of one name would share one schema in the document: one of them described wrongly.
    #[test]
    fn a_source_folder_and_a_cited_source_are_described_apart() {
        let document = serde_json::to_value(super::ApiDoc::openapi()).unwrap();
        let schemas = &document["components"]["schemas"];
        assert!(schemas["SourceFolderJson"]["properties"]["root"].is_object(), "{schemas:#}");
        assert!(schemas["SourceJson"]["properties"]["document_path"].is_object(), "{schemas:#}");
    }
}
