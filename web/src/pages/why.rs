//! The "why can X read Y?" page (administrators): give it a person (a user's login, or principals) and
//! a document (its id, or `source:path`), get the document's ACL with where it comes from (the source,
//! an ACL file, the page's front matter) and the principal that grants reading, or why none does.

use askama::Template;
use axum::extract::State;
use lore_core::acl::check_principal;
use lore_core::catalog::DocumentRecord;
use lore_core::{DocumentId, EVERYONE};
use serde::Deserialize;

use super::{page, PageResult};
use crate::access::{Caller, MAX_PRINCIPALS};
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct WhyParams {
    /// A user's login or name, or principals (`group:hr, user:ann`).
    #[serde(default)]
    who: String,
    /// A document id, or `source:path`.
    #[serde(default)]
    document: String,
}

#[derive(Template)]
#[template(path = "why.html")]
struct WhyPage {
    who: String,
    document: String,
    answer: Option<Answer>,
    signed_in_as: Option<String>,
}

struct Answer {
    person: String,
    principals: Vec<String>,
    document_label: String,
    document_id: i64,
    acl: Vec<String>,
    /// Where the folder's part comes from.
    origin: String,
    /// The page's own list when its front matter narrows it.
    page_acl: Option<String>,
    verdict: Verdict,
}

enum Verdict {
    Yes(String),
    No(String),
}

/// `GET /admin/why`.
pub async fn why(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<WhyParams>, ApiError>,
) -> PageResult {
    caller.require_admin()?;
    let Query(params) = params?;
    let (who, document) = (params.who.trim().to_string(), params.document.trim().to_string());
    let answer = if who.is_empty() || document.is_empty() {
        None
    } else {
        let (person, principals) = person(&state, &who).await?;
        let record = find_document(&state, &document).await?;
        Some(explain(person, principals, &record))
    };
    Ok(page(&WhyPage { who, document, answer, signed_in_as: caller.display_name().map(str::to_string) }))
}

/// A user found by login or name (with their principals now), else the principals written out.
async fn person(state: &AppState, who: &str) -> Result<(String, Vec<String>), ApiError> {
    let users = state.auth.accounts().users().await.map_err(|e| ApiError::internal("cannot list the users", e))?;
    if let Some(user) = users.iter().find(|u| u.subject == who || u.display_name == who) {
        let state = if user.disabled { " (disabled: reads nothing now)" } else { "" };
        let principals = if user.disabled { Vec::new() } else { user.principals.clone() };
        return Ok((format!("{} ({}){state}", user.display_name, user.subject), principals));
    }
    let principals: Vec<String> =
        who.split([',', ' ', '\n']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect();
    if principals.len() > MAX_PRINCIPALS {
        return Err(ApiError::BadRequest(format!("at most {MAX_PRINCIPALS} principals")));
    }
    if let Some(bad) = principals.iter().find_map(|p| check_principal(p).err()) {
        return Err(ApiError::BadRequest(format!("no user is called that, and {bad}")));
    }
    Ok((format!("someone holding {}", principals.join(", ")), principals))
}

async fn find_document(state: &AppState, wanted: &str) -> Result<DocumentRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("there is no document {wanted} (give its number or source:path)"));
    let id = match wanted.parse::<i64>() {
        Ok(id) => DocumentId(id),
        Err(_) => {
            let (source, path) = wanted.split_once(':').ok_or_else(not_found)?;
            let source = state.catalog.source_by_name(source).await?.ok_or_else(not_found)?;
            let documents = state.catalog.documents(source.id).await?;
            documents.iter().find(|d| d.path == path).ok_or_else(not_found)?.id
        }
    };
    state.catalog.document(id).await?.ok_or_else(not_found)
}

fn explain(person: String, principals: Vec<String>, document: &DocumentRecord) -> Answer {
    let origin = match &document.acl_file {
        Some(file) => format!("the ACL file {file} in source {}", document.source),
        None => format!("source {}'s ACL", document.source),
    };
    let verdict = if document.acl.iter().any(|p| p == EVERYONE) {
        Verdict::Yes("the document is readable by everyone".into())
    } else if let Some(shared) = document.acl.iter().find(|p| principals.contains(p)) {
        Verdict::Yes(format!("both name {shared}"))
    } else if document.acl.is_empty() {
        Verdict::No("the document is readable by nobody (only administrators see it)".into())
    } else {
        Verdict::No(format!("none of their principals is among the document's {}", document.acl.join(", ")))
    };
    Answer {
        person,
        principals,
        document_label: format!("{} ({}:{})", document.title, document.source, document.path),
        document_id: document.id.0,
        acl: document.acl.clone(),
        origin,
        page_acl: document.page_acl.as_ref().map(|p| if p.is_empty() { "nobody".into() } else { p.join(", ") }),
        verdict,
    }
}
