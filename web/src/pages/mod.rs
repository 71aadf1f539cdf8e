//! HTML pages, rendered with askama from `web/templates/` (compiled into the binary). Every page works
//! without JavaScript; `web/static/app.js` adds the streamed answer and the live ingest progress.

pub mod admin;
pub mod assets;
pub mod audit;
pub mod document;
pub mod search;
pub mod signin;
pub mod tokens;
pub mod users;
pub mod why;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::error::ApiError;

/// Renders a template into a response; a template error is a bug, reported as a 500 page.
pub fn page(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
    /// Error pages do not know who asked: no user menu.
    signed_in_as: Option<String>,
}

/// What a page handler returns: the page, or the error shown as a page with the API error's status, so
/// handlers use `?` on extractor results and API calls alike.
pub type PageResult = Result<Response, PageError>;

pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<lore_core::catalog::CatalogError> for PageError {
    fn from(error: lore_core::catalog::CatalogError) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.0)
    }
}

/// An API error as a page with the same status.
pub fn error_page(error: ApiError) -> Response {
    let status = error.status();
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::UNAUTHORIZED => "Not signed in",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::SERVICE_UNAVAILABLE => "Busy",
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => "That did not work",
        _ => "Something went wrong",
    };
    let mut response = page(&ErrorPage { title: title.into(), message: error.to_string(), signed_in_as: None });
    *response.status_mut() = status;
    response
}
