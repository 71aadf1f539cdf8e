//! `GET /api/search?q=..`: the hit objects of `lore search --json`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use lore_core::DocumentKind;
use lore_retrieve::{Narrowing, SearchRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::web::access::Caller;
use crate::web::error::ApiError;
use crate::web::extract::Query;
use crate::web::schema::SearchJson;
use crate::web::state::AppState;

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
    /// Results to skip.
    pub offset: Option<usize>,
}

impl SearchParams {
    /// The request these parameters describe, for `caller`; rejects unknown types and oversized pages.
    pub fn request(&self, caller: &Caller) -> Result<SearchRequest, ApiError> {
        let limit = self.limit.unwrap_or(10);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let mut request = SearchRequest::new(self.q.clone(), caller.access.clone());
        request.limit = limit;
        request.offset = self.offset.unwrap_or(0);
        request.narrowing = narrowing(&self.source, &self.kind)?;
        Ok(request)
    }
}

/// Facet choices from query parameters: empty values are ignored, unknown types rejected.
pub fn narrowing(sources: &[String], kinds: &[String]) -> Result<Narrowing, ApiError> {
    let split = |values: &[String]| -> Vec<String> {
        values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect()
    };
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
    responses((status = 200, body = SearchJson), (status = 400, body = crate::web::schema::ErrorJson),
              (status = 503, description = "too many searches at once; see Retry-After", body = crate::web::schema::ErrorJson)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> Result<impl IntoResponse, ApiError> {
    let request = params.request(&caller)?;
    let searched = state.search(&request).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], searched.json()))
}
