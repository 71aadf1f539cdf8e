//! Who a request acts as. Lore does not authenticate users itself: behind an authenticating reverse proxy
//! it trusts the principals the proxy puts in `server.principal_header`; without one configured, every
//! request acts as `everyone` (and may administer: a single-user deployment, only served on loopback).
//!
//! The header must appear once: a proxy that appends its value to one the client sent would otherwise
//! let the client add principals (`role:admin`) of its own.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use lore_core::catalog::DocumentRecord;
use lore_core::EVERYONE;
use lore_retrieve::Access;

use crate::error::ApiError;
use crate::state::AppState;

/// Principals one request may act with.
pub const MAX_PRINCIPALS: usize = 256;

/// The caller's principals, as an extractor.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access: Access,
    pub is_admin: bool,
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
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let server = &state.config.server;
        let Some(header) = &server.principal_header else {
            return Ok(Caller { access: Access::everyone(), is_admin: true });
        };
        let mut values = parts.headers.get_all(header.as_str()).iter();
        let (value, repeated) = (values.next(), values.next().is_some());
        if repeated {
            return Err(ApiError::BadRequest(format!("the {header} header appears more than once")));
        }
        let principals: Vec<String> = match value.map(|v| v.to_str()) {
            None => Vec::new(),
            Some(Ok(value)) => value.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
            Some(Err(_)) => return Err(ApiError::BadRequest(format!("the {header} header is not plain text"))),
        };
        // Each principal is a filter clause in both engines.
        if principals.len() > MAX_PRINCIPALS {
            return Err(ApiError::BadRequest(format!(
                "the {header} header names {} principals; at most {MAX_PRINCIPALS} are accepted",
                principals.len()
            )));
        }
        let is_admin = principals.iter().any(|p| *p == server.admin_principal);
        Ok(Caller { access: Access::Principals(principals), is_admin })
    }
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
