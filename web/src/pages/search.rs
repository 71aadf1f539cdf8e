//! `/`: the search page (plain HTML search, facets, pages) with the answer panel; `POST /ask`: the same
//! page with the answer written into it, for browsers without JavaScript (app.js streams it instead).
//! Only a POST runs the model: a GET is what a cross-site `<img src>` can send, and it would queue
//! answers in the user's name.

use askama::Template;
use axum::extract::State;
use axum::response::IntoResponse;
use lore_core::audit::AuditAction;
use lore_core::conversations::ConversationId;
use lore_core::DocumentKind;
use lore_retrieve::snippet::escape_html;
use lore_retrieve::Hit;
use serde::Deserialize;

use super::{page, PageResult};
use crate::access::Caller;
use crate::answering;
use crate::api::conversations::{self, TurnJson};
use crate::api::search::{bounded_query, narrowing};
use crate::api::sources::list_sources;
use crate::error::ApiError;
use crate::extract::{Form, Query};
use crate::render::{answer_html, answer_sources, span_url, SourceView};
use crate::state::AppState;

const PER_PAGE: usize = 10;

#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    source: Vec<String>,
    #[serde(default, rename = "type")]
    kind: Vec<String>,
    page: Option<usize>,
    /// The signed-in user's conversation shown (and continued by Ask).
    conversation: Option<i64>,
}

impl PageParams {
    /// This page's URL with another page number.
    fn url(&self, path: &str, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = vec![("q", self.q.clone())];
        pairs.extend(self.source.iter().map(|s| ("source", s.clone())));
        pairs.extend(self.kind.iter().map(|k| ("type", k.clone())));
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        if let Some(id) = self.conversation {
            pairs.push(("conversation", id.to_string()));
        }
        format!("{path}?{}", serde_html_form::to_string(&pairs).expect("pairs of strings encode"))
    }
}

pub struct HitView {
    pub title: String,
    pub url: String,
    pub source: String,
    pub path: String,
    pub kind: &'static str,
    /// "page 3" or the heading path.
    pub place: Option<String>,
    pub snippet_html: String,
    pub also_in: Vec<String>,
}

impl From<&Hit> for HitView {
    fn from(hit: &Hit) -> Self {
        let place = match (hit.page, &hit.heading) {
            (Some(page), _) => Some(format!("page {page}")),
            (None, Some(heading)) => Some(heading.clone()),
            _ => None,
        };
        Self {
            title: hit.title.clone(),
            url: span_url(hit.document_id, hit.start, hit.end),
            source: hit.source.clone(),
            path: hit.document_path.clone(),
            kind: hit.kind.as_str(),
            place,
            snippet_html: hit.snippet.to_html(),
            also_in: hit.also_in.iter().map(|d| d.document_path.clone()).collect(),
        }
    }
}

pub struct Facet {
    pub name: String,
    pub label: String,
    pub checked: bool,
}

/// The best evidence sentence shown above an answer, quoted, with a link to its place.
pub struct EvidenceView {
    pub quote: String,
    pub url: String,
    pub label: String,
}

impl From<&lore_answer::Citation> for EvidenceView {
    fn from(c: &lore_answer::Citation) -> Self {
        Self {
            quote: c.quote.clone(),
            url: span_url(c.document_id, c.start, c.end),
            label: match c.page {
                Some(page) => format!("[{}] {}, page {page}", c.n, c.title),
                None => format!("[{}] {}", c.n, c.title),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub q: String,
    pub searched: bool,
    pub hits: Vec<HitView>,
    pub first_number: usize,
    pub sources: Vec<Facet>,
    pub kinds: Vec<Facet>,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
    pub page: usize,
    pub took_ms: String,
    pub error: Option<String>,
    pub answer_html: Option<String>,
    pub answer_note: Option<String>,
    pub answer_sources: Vec<SourceView>,
    pub answer_evidence: Option<EvidenceView>,
    /// The user menu's name (`base.html`).
    pub signed_in_as: Option<String>,
    /// Signed-in users: their conversations (`(id, title)`), most recent first...
    pub conversations: Vec<(i64, String)>,
    /// ...and the one shown, with its earlier turns.
    pub conversation: Option<ConversationView>,
}

pub struct ConversationView {
    pub id: i64,
    pub title: String,
    pub turns: Vec<TurnJson>,
}

async fn search_page(
    state: &AppState,
    caller: &Caller,
    params: &PageParams,
    path: &str,
) -> Result<SearchPage, ApiError> {
    let page = params.page.unwrap_or(1).max(1);
    // One more than shown is asked for: whether there is a next page.
    let offset = (page - 1)
        .checked_mul(PER_PAGE)
        .filter(|offset| offset + PER_PAGE < lore_retrieve::MAX_DEPTH)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "page {page} is past the results served (the first {}): narrow the search instead",
                lore_retrieve::MAX_DEPTH
            ))
        })?;
    let sources = list_sources(state, caller).await?;
    let facet_sources = sources
        .iter()
        .map(|s| Facet {
            name: s.name.clone(),
            label: format!("{} ({})", s.name, s.documents),
            checked: params.source.contains(&s.name),
        })
        .collect();
    let kinds = DocumentKind::ALL
        .iter()
        .map(|k| Facet {
            name: k.as_str().into(),
            label: k.as_str().into(),
            checked: params.kind.iter().any(|p| p == k.as_str()),
        })
        .collect();
    let mut view = SearchPage {
        q: params.q.clone(),
        searched: false,
        hits: Vec::new(),
        first_number: offset + 1,
        sources: facet_sources,
        kinds,
        prev_url: (page > 1).then(|| params.url(path, page - 1)),
        next_url: None,
        page,
        took_ms: String::new(),
        error: None,
        answer_html: None,
        answer_note: None,
        answer_sources: Vec::new(),
        answer_evidence: None,
        signed_in_as: caller.display_name().map(str::to_string),
        conversations: conversations::list(state, caller).await?.into_iter().map(|c| (c.id.0, c.title)).collect(),
        conversation: None,
    };
    if let Some(id) = params.conversation {
        let (summary, turns) = conversations::turns_of(state, caller, ConversationId(id)).await?;
        view.conversation = Some(ConversationView { id, title: summary.title, turns });
    }
    if params.q.trim().is_empty() {
        return Ok(view);
    }
    let query = bounded_query(&params.q, state.config.retrieval.max_query_chars);
    state.audit.record(caller, AuditAction::Search, &query).await;
    let mut request = lore_retrieve::SearchRequest::new(query, caller.access.clone());
    request.narrowing = narrowing(&params.source, &params.kind)?;
    request.offset = offset;
    request.limit = PER_PAGE + 1;
    let searched = state.search(&request).await?;
    let results = &searched.results;
    view.searched = true;
    let next_served = offset + 2 * PER_PAGE < lore_retrieve::MAX_DEPTH;
    view.next_url = (results.hits.len() > PER_PAGE && next_served).then(|| params.url(path, page + 1));
    view.hits = results.hits.iter().take(PER_PAGE).map(HitView::from).collect();
    // Timings show what other callers asked before (caches): administrators only.
    view.took_ms = if caller.is_admin { format!(" · {:.0} ms", results.timings.total_ms) } else { String::new() };
    Ok(view)
}

/// `GET /`: search.
pub async fn home(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<PageParams>, ApiError>,
) -> PageResult {
    let Query(params) = params?;
    Ok(page(&search_page(&state, &caller, &params, "/").await?))
}

/// `GET /ask` (an old link or a bookmark): the search for the same words, without running the model.
pub async fn ask_form(params: Result<Query<PageParams>, ApiError>) -> PageResult {
    let Query(params) = params?;
    Ok(axum::response::Redirect::to(&params.url("/", 1)).into_response())
}

/// `POST /ask`: search, and the answer written into the page once it is complete (no JavaScript needed).
pub async fn ask_page(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Form<PageParams>, ApiError>,
) -> PageResult {
    let Form(params) = params?;
    let mut question = lore_answer::Question::new(params.q.trim(), caller.access.clone());
    let conversation = conversations::conversation_for(&state, &caller, params.conversation, &question.text).await?;
    if let (Some(id), Some(_)) = (conversation, params.conversation) {
        let history = conversations::history_of(&state, &caller, id).await?;
        question.history = answering::bounded_history(history, state.config.server.max_question_chars)?;
    }
    // The page shows the conversation as it was before this turn, and this turn's answer below it.
    let shown = PageParams { conversation: conversation.map(|c| c.0), ..params };
    let mut view = search_page(&state, &caller, &shown, "/").await?;
    state.audit.record(&caller, AuditAction::Ask, &question.text).await;
    question.narrowing = narrowing(&shown.source, &shown.kind)?;
    let asked = question.text.clone();
    match answering::complete(&state, question).await {
        Ok(answer) => {
            if let (Some(id), Some(user)) = (conversation, conversations::owner(&caller)) {
                conversations::keep_turn(&state, user, id, conversations::turn_for(&asked, &answer)).await;
            }
            view.answer_html = Some(answer_html(&answer));
            view.answer_note = answer.abstained.then(|| "No answer: here are the closest sources.".to_string());
            view.answer_sources = answer_sources(&answer);
            view.answer_evidence = answer.best_evidence.as_ref().map(EvidenceView::from);
        }
        Err(e) => view.answer_html = Some(format!("<p class=\"error\">{}</p>", escape_html(&e.to_string()))),
    }
    Ok(page(&view))
}

/// `POST /conversations/{id}/delete`: the page's delete button.
pub async fn delete_conversation(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> PageResult {
    conversations::remove(&state, &caller, id).await?;
    Ok(axum::response::Redirect::to("/").into_response())
}
