//! `/documents/{id}?start=..&end=..`: a document's extracted text page by page, the span highlighted
//! (the `#cited` fragment scrolls to it), and a download of the original file.

use askama::Template;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::{page, PageResult};
use crate::access::Caller;
use crate::api::documents::readable_document;
use crate::error::ApiError;
use crate::extract::Query;
use crate::render::{document_pages, PageHtml};
use crate::state::AppState;
use lore_core::audit::AuditAction;

#[derive(Debug, Deserialize)]
pub struct SpanParams {
    start: Option<usize>,
    end: Option<usize>,
}

#[derive(Template)]
#[template(path = "document.html")]
struct DocumentPage {
    id: i64,
    title: String,
    source: String,
    path: String,
    kind: &'static str,
    size: String,
    status_note: Option<String>,
    highlighted: bool,
    cited_page: Option<usize>,
    pages: Vec<PageHtml>,
    signed_in_as: Option<String>,
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

pub async fn document(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    span: Result<Query<SpanParams>, ApiError>,
) -> PageResult {
    let Query(span) = span?;
    let (record, text) = readable_document(&state, &caller, id).await?;
    state.audit.record(&caller, AuditAction::Open, &id.to_string()).await;
    let highlight = span.start.zip(span.end);
    let pages = document_pages(&text, &record.page_starts, highlight);
    let cited_page = highlight
        .and_then(|(start, _)| record.page_starts.iter().rposition(|&page_start| page_start <= start).map(|i| i + 1));
    let status_note = record.error.as_ref().map(|error| {
        format!("The file changed and could not be read again ({error}); this is the version indexed before.")
    });
    Ok(page(&DocumentPage {
        id,
        title: record.title,
        source: record.source,
        path: record.path,
        kind: record.kind.as_str(),
        size: human_size(record.size_bytes),
        status_note,
        highlighted: pages.iter().any(|p| p.html.contains("id=\"cited\"")),
        cited_page,
        pages,
        signed_in_as: caller.display_name().map(str::to_string),
    }))
}
