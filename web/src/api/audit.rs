//! `GET /api/audit`: the audit log as JSON lines, newest first, for administrators (a SIEM or an
//! archive reads it this way; the Audit page shows the same events).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lore_core::audit::{AuditAction, AuditQuery, AuditRecord};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::access::Caller;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

/// Events one request returns unless it asks for fewer or more (at most `lore_core::audit::MAX_EVENTS`).
const DEFAULT_LIMIT: usize = 1000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// From this time on (milliseconds since the epoch).
    pub since: Option<i64>,
    /// Before this time (milliseconds since the epoch).
    pub until: Option<i64>,
    /// Only this action: sign_in, sign_in_failed, sign_out, search, ask, open, download, source_add,
    /// source_sync, source_remove, token_create, token_revoke, user_change.
    pub action: Option<String>,
    /// At most this many events (default 1000).
    pub limit: Option<usize>,
}

impl AuditParams {
    pub fn query(&self) -> Result<AuditQuery, ApiError> {
        let action = match self.action.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(name) => Some(
                AuditAction::parse(name)
                    .ok_or_else(|| ApiError::BadRequest(format!("unknown audit action {name:?}")))?,
            ),
        };
        Ok(AuditQuery {
            since_ms: self.since,
            until_ms: self.until,
            user: None,
            action,
            limit: self.limit.unwrap_or(DEFAULT_LIMIT).min(lore_core::audit::MAX_EVENTS),
        })
    }
}

/// The events an administrator asked for.
pub async fn read_events(state: &AppState, caller: &Caller, query: &AuditQuery) -> Result<Vec<AuditRecord>, ApiError> {
    caller.require_admin()?;
    state.audit_log.events(query).await.map_err(|e| ApiError::internal("cannot read the audit log", e))
}

/// The audit log as JSON lines (`application/x-ndjson`), newest first.
#[utoipa::path(get, path = "/api/audit", params(AuditParams), tag = "audit",
    responses((status = 200, content_type = "application/x-ndjson", description = "one event per line: id, at_ms, user, actor, client, action, subject"),
              (status = 403, body = crate::schema::ErrorJson)))]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<AuditParams>,
) -> Result<Response, ApiError> {
    let events = read_events(&state, &caller, &params.query()?).await?;
    let mut body = String::new();
    for event in &events {
        body.push_str(&serde_json::to_string(event).expect("events serialise"));
        body.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}
