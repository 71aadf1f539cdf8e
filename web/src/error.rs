//! One error type for every endpoint: give it a failure, get a status code and `{"error":{"code","message"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::schema::{ErrorBody, ErrorJson};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// Nobody is signed in (or the credentials were wrong).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    /// Beyond capacity: the client should come back after `retry_after_secs`.
    #[error("{message}")]
    Busy { message: String, retry_after_secs: u64 },
    /// Too many attempts (sign-ins) from this client or for this account: come back later.
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    /// The service is starting (a model is loading) or failed to.
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy { .. } | Self::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::Unauthorized(_) => "unauthorized",
            Self::RateLimited { .. } => "rate_limited",
            Self::Forbidden(_) => "forbidden",
            Self::TooLarge(_) => "too_large",
            Self::Busy { .. } => "busy",
            Self::NotReady(_) => "not_ready",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON body, also sent as an SSE `error` event when a stream fails after it started.
    pub fn body(&self) -> ErrorJson {
        ErrorJson { error: ErrorBody { code: self.code().into(), message: self.to_string() } }
    }

    /// A failure of ours: logged with its whole chain, reported without internals (paths, engine
    /// messages and the like stay in the server log, where administrators read them).
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::Internal(format!("{context}; the details are in the server log"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after = match &self {
            Self::Busy { retry_after_secs, .. } | Self::RateLimited { retry_after_secs, .. } => Some(*retry_after_secs),
            Self::NotReady(_) => Some(5),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Self::Unauthorized(_) = self {
            // API clients authenticate with a token (`Authorization: Bearer`); browsers sign in.
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"lore\""));
        }
        response
    }
}

impl From<lore_retrieve::SearchError> for ApiError {
    fn from(e: lore_retrieve::SearchError) -> Self {
        match e {
            lore_retrieve::SearchError::EmptyQuery | lore_retrieve::SearchError::TooDeep { .. } => {
                Self::BadRequest(e.to_string())
            }
            other => Self::internal("search failed", other),
        }
    }
}

impl From<lore_answer::AnswerError> for ApiError {
    fn from(e: lore_answer::AnswerError) -> Self {
        match e {
            lore_answer::AnswerError::Search(search) => search.into(),
            lore_answer::AnswerError::Generation(lore_llm::LlmError::Busy { .. }) => {
                Self::Busy { message: "the language model is busy: try again shortly".into(), retry_after_secs: 30 }
            }
            other => Self::internal("cannot answer", other),
        }
    }
}

impl From<lore_core::catalog::CatalogError> for ApiError {
    fn from(e: lore_core::catalog::CatalogError) -> Self {
        Self::internal("catalog error", e)
    }
}

/// axum's own rejections (a malformed JSON body, a bad query string) in the same shape.
impl ApiError {
    /// An axum body rejection (malformed JSON, a body over the limit) in Lore's terms.
    fn from_rejection(status: StatusCode, body_text: String) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::TooLarge("the request body is too large".into());
        }
        Self::BadRequest(body_text.to_lowercase())
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::BytesRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}
