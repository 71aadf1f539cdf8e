//! `GET /api/search?q=..`: the hit objects of `lore search --json`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use lore_core::audit::AuditAction;
use lore_core::DocumentKind;
use lore_retrieve::{Narrowing, SearchRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::access::Caller;
use crate::error::ApiError;
use crate::extract::Query;
use crate::schema::{Detail, SearchJson};
use crate::state::AppState;

/// Most results one request may ask for.
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// A few words or a question; "double quotes" require a phrase.
    pub q: String,
    /// Only these sources (comma-separated or repeated).
    #[serde(default)]
    pub source: Vec<String>,
    /// Only these types: pdf, markdown, html, text, docx.
    #[serde(default, rename = "type")]
    pub kind: Vec<String>,
    /// Results per page (default 10, at most 100).
    pub limit: Option<usize>,
    /// Results to skip; `offset + limit` may be at most 1000.
    pub offset: Option<usize>,
}

impl SearchParams {
    /// The request these parameters describe, for `caller`; rejects unknown types and oversized pages.
    /// The query is cut to one character past `max_query_chars`: the search cuts it to that length
    /// anyway (and says so), and a cache key or a log line never holds more.
    pub fn request(&self, caller: &Caller, max_query_chars: usize) -> Result<SearchRequest, ApiError> {
        let limit = self.limit.unwrap_or(10);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let mut request = SearchRequest::new(bounded_query(&self.q, max_query_chars), caller.access.clone());
        request.limit = limit;
        request.offset = self.offset.unwrap_or(0);
        request.narrowing = narrowing(&self.source, &self.kind)?;
        Ok(request)
    }
}

/// At most `max_chars + 1` characters of a query (leading blanks skipped).
pub fn bounded_query(query: &str, max_chars: usize) -> String {
    let query = query.trim_start();
    match query.char_indices().nth(max_chars.saturating_add(1)) {
        Some((cut, _)) => query[..cut].to_string(),
        None => query.to_string(),
    }
}

/// Facet values one request may choose (each is a filter clause in both engines).
const MAX_FACET_VALUES: usize = 64;

/// Facet choices from query parameters: empty values are ignored, unknown types rejected.
pub fn narrowing(sources: &[String], kinds: &[String]) -> Result<Narrowing, ApiError> {
    let split = |values: &[String]| -> Vec<String> {
        values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect()
    };
    if split(sources).len() + split(kinds).len() > MAX_FACET_VALUES {
        return Err(ApiError::BadRequest(format!("at most {MAX_FACET_VALUES} sources and types may be chosen")));
    }
    let kinds = split(kinds)
        .iter()
        .map(|name| {
            DocumentKind::parse(&name.to_ascii_lowercase())
                .or_else(|| DocumentKind::from_extension(&name.to_ascii_lowercase()))
                .ok_or_else(|| ApiError::BadRequest(format!("unknown document type '{name}'")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Narrowing { sources: split(sources), kinds, ..Narrowing::default() })
}

/// Hybrid search (BM25 + vectors, fused) over what the caller may read.
#[utoipa::path(get, path = "/api/search", params(SearchParams), tag = "search",
    responses((status = 200, body = SearchJson), (status = 400, body = crate::schema::ErrorJson),
              (status = 503, description = "too many searches at once; see Retry-After", body = crate::schema::ErrorJson)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<impl IntoResponse, ApiError> {
    let request = params.request(&caller, state.config.retrieval.max_query_chars)?;
    state.audit.record(&caller, AuditAction::Search, &request.query).await;
    let searched = state.search(&request).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], searched.json(Detail::for_admin(caller.is_admin))))
}
