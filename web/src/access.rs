//! Who a request acts as, once `auth` has resolved it (the router's `identify` runs in front of every route): the `Caller` extractor, and the checks
//! every handler makes with it (may it read this document, may it administer).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lore_core::accounts::{TokenId, UserId};
use lore_core::catalog::DocumentRecord;
use lore_core::EVERYONE;
use lore_retrieve::Access;

use crate::error::ApiError;

/// Principals one request may act with.
pub const MAX_PRINCIPALS: usize = 256;

/// The caller's principals, as an extractor. A request nobody signed in for has none: API routes
/// answer 401, pages send the browser to the sign-in page.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access: Access,
    pub is_admin: bool,
    /// The signed-in user, when the caller came with a session or a token.
    pub user: Option<SignedIn>,
    /// The client's address (for the audit log and sign-in limits).
    pub client: Option<std::net::IpAddr>,
}

/// A user who signed in, as the pages show them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub id: UserId,
    pub display_name: String,
    pub credential: Credential,
}

/// How the user proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session: the fingerprint of its secret (to sign it out).
    Session(String),
    /// An API token (`Authorization: Bearer`).
    Token(TokenId),
}

impl Caller {
    /// Whether the caller may read a document (its source's ACL shares a principal with the caller).
    pub fn may_read(&self, document: &DocumentRecord) -> bool {
        self.shares(&document.acl)
    }

    /// Whether an ACL grants the caller reading.
    pub fn shares(&self, acl: &[String]) -> bool {
        match &self.access {
            Access::Unrestricted => true,
            Access::Principals(held) => acl.iter().any(|p| p == EVERYONE || held.contains(p)),
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden("administering sources needs the administrator principal".into()))
        }
    }

    /// The name the pages greet the caller with.
    pub fn display_name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.display_name.as_str())
    }

    /// Who the caller is, as the audit log names them: the user, the principals a proxy named, or
    /// `everyone` when nobody signs in.
    pub fn actor(&self) -> String {
        match (&self.user, &self.access) {
            (Some(user), _) => user.display_name.clone(),
            (None, Access::Unrestricted) => EVERYONE.to_string(),
            (None, Access::Principals(held)) if held.is_empty() => "anonymous".to_string(),
            (None, Access::Principals(held)) => held.iter().take(8).cloned().collect::<Vec<_>>().join(", "),
        }
    }

    /// The browser session the caller came with, if any.
    pub fn session(&self) -> Option<&str> {
        match &self.user.as_ref()?.credential {
            Credential::Session(fingerprint) => Some(fingerprint),
            Credential::Token(_) => None,
        }
    }
}

/// Why no caller could be made: an anonymous request where people must sign in.
pub struct NotSignedIn {
    /// Where the browser was going (path and query), to come back to after signing in.
    wanted: String,
    is_api: bool,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        if self.is_api {
            return ApiError::Unauthorized("sign in first, or send an API token as Authorization: Bearer".into())
                .into_response();
        }
        let target = format!("/signin?next={}", percent_encode(&self.wanted));
        let location = HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static("/signin"));
        (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, NotSignedIn> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| NotSignedIn {
            wanted: parts.uri.path_and_query().map_or("/".into(), |p| p.as_str().to_string()),
            is_api: is_api_path(parts.uri.path()),
        })
    }
}

/// Routes that answer in JSON (errors included) rather than with pages.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/v1/")
}

/// `text` safe inside a query string value.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether the request carries `Authorization: Bearer <secret>`, compared in time that does not depend
/// on where a wrong token differs (`/metrics`, `lore serve-model`).
pub fn bearer_matches(headers: &HeaderMap, secret: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), secret.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_path_survives_the_query_string() {
        assert_eq!(percent_encode("/ask?q=a b&x=1"), "/ask%3Fq%3Da%20b%26x%3D1");
    }
}
