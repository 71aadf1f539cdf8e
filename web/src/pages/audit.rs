//! The Audit page (administrators): the latest events of the audit log, filtered by action. A document
//! event names the document's title only when the administrator may read the document themselves.

use askama::Template;
use axum::extract::State;
use lore_core::audit::AuditAction;
use lore_core::DocumentId;

use super::{page, PageResult};
use crate::access::Caller;
use crate::api::audit::{read_events, AuditParams};
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

/// Events the page shows.
const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    events: Vec<EventRow>,
    actions: Vec<(&'static str, bool)>,
    signed_in_as: Option<String>,
}

struct EventRow {
    at: String,
    actor: String,
    client: String,
    action: &'static str,
    subject: String,
}

/// `GET /audit`.
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<AuditParams>, ApiError>,
) -> PageResult {
    let Query(params) = params?;
    let mut query = params.query()?;
    query.limit = query.limit.min(SHOWN);
    let records = read_events(&state, &caller, &query).await?;
    let mut events = Vec::with_capacity(records.len());
    for record in records {
        let event = record.event;
        let subject = if event.action.names_a_document() {
            document_label(&state, &caller, &event.subject).await
        } else {
            event.subject
        };
        events.push(EventRow {
            at: lore_core::types::format_utc(event.at_ms),
            actor: event.actor,
            client: event.client.unwrap_or_default(),
            action: event.action.as_str(),
            subject,
        });
    }
    let chosen = query.action;
    Ok(page(&AuditPage {
        events,
        actions: AuditAction::ALL.iter().map(|a| (a.as_str(), Some(*a) == chosen)).collect(),
        signed_in_as: caller.display_name().map(str::to_string),
    }))
}

/// "document 42: Handbook" when the viewer may read it, else "document 42".
async fn document_label(state: &AppState, caller: &Caller, id: &str) -> String {
    let readable = match id.parse::<i64>() {
        Ok(n) => state.catalog.document(DocumentId(n)).await.ok().flatten().filter(|d| caller.may_read(d)),
        Err(_) => None,
    };
    match readable {
        Some(document) => format!("document {id}: {} ({}:{})", document.title, document.source, document.path),
        None => format!("document {id}"),
    }
}
