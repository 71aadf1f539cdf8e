//! Conversations of signed-in users: `GET /api/conversations` (theirs, most recent first),
//! `GET /api/conversations/{id}` (its turns), `DELETE /api/conversations/{id}`; and what `/api/ask`
//! and the Ask form use: the history a follow-up is read with, and the turn an answer adds.
//!
//! A conversation exists only for its owner: another caller gets 404, as for one that never existed.
//! An old answer is shown only while its reader may still read every document it was written from;
//! otherwise the turn keeps its question and says the answer is hidden.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use lore_answer::{Answer, Turn as HistoryTurn};
use lore_core::accounts::UserId;
use lore_core::conversations::{self, ConversationId, ConversationSummary, Turn};
use lore_core::{now_ms, DocumentId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::Caller;
use crate::error::ApiError;
use crate::render::{answer_html, answer_sources};
use crate::state::AppState;

/// Conversations the list shows.
const LISTED: usize = 50;

/// An answer as a conversation keeps it: what the page shows of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredAnswer {
    /// The checked answer with `[n]` markers, or the abstention sentence.
    pub text: String,
    pub abstained: bool,
    /// The answer as HTML, with its citation links (built and escaped by the server).
    pub html: String,
    pub sources: Vec<StoredSource>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoredSource {
    pub n: usize,
    pub title: String,
    pub url: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationsJson {
    #[schema(value_type = Vec<Object>)]
    pub conversations: Vec<ConversationSummary>,
}

/// One turn as its reader may see it now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TurnJson {
    pub question: String,
    /// Null when hidden.
    pub answer: Option<StoredAnswer>,
    /// The answer was written from a document the reader may no longer read.
    pub hidden: bool,
    pub created_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationJson {
    #[schema(value_type = i64)]
    pub id: ConversationId,
    pub title: String,
    pub turns: Vec<TurnJson>,
}

/// The signed-in user a conversation belongs to; callers without one (open mode, a proxy's
/// principals) keep no conversations.
pub fn owner(caller: &Caller) -> Option<UserId> {
    caller.user.as_ref().map(|u| u.id)
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("you have no conversation {id}"))
}

fn signed_in(caller: &Caller) -> Result<UserId, ApiError> {
    owner(caller).ok_or_else(|| ApiError::NotFound("conversations are kept for signed-in users".into()))
}

/// The turns of `user`'s conversation `id`, each hidden where the caller may no longer read what
/// its answer was written from; 404 when it is not theirs.
pub async fn turns_of(
    state: &AppState,
    caller: &Caller,
    id: ConversationId,
) -> Result<(ConversationSummary, Vec<TurnJson>), ApiError> {
    let user = signed_in(caller)?;
    let (summary, turns) = state
        .conversations
        .conversation(user, id)
        .await
        .map_err(|e| ApiError::internal("cannot read the conversation", e))?
        .ok_or_else(|| not_found(id.0))?;
    let mut shown = Vec::with_capacity(turns.len());
    for turn in turns {
        let readable = all_readable(state, caller, &turn.documents).await?;
        let answer = if readable { serde_json::from_str::<StoredAnswer>(&turn.answer).ok() } else { None };
        shown.push(TurnJson { question: turn.question, hidden: answer.is_none(), answer, created_ms: turn.created_ms });
    }
    Ok((summary, shown))
}

async fn all_readable(state: &AppState, caller: &Caller, documents: &[DocumentId]) -> Result<bool, ApiError> {
    for id in documents {
        match state.catalog.document(*id).await? {
            Some(document) if caller.may_read(&document) => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// What a follow-up in conversation `id` is read with: its visible turns, oldest first.
pub async fn history_of(state: &AppState, caller: &Caller, id: ConversationId) -> Result<Vec<HistoryTurn>, ApiError> {
    let (_, turns) = turns_of(state, caller, id).await?;
    Ok(turns
        .into_iter()
        .filter_map(|t| t.answer.map(|answer| HistoryTurn { question: t.question, answer: answer.text }))
        .collect())
}

/// The conversation a question goes into: the one named (which must be the caller's), else a new one
/// titled after it. `None` for callers who keep no conversations.
pub async fn conversation_for(
    state: &AppState,
    caller: &Caller,
    named: Option<i64>,
    question: &str,
) -> Result<Option<ConversationId>, ApiError> {
    let Some(user) = owner(caller) else { return Ok(None) };
    match named {
        Some(id) => {
            let found = state.conversations.conversation(user, ConversationId(id)).await;
            let found = found.map_err(|e| ApiError::internal("cannot read the conversation", e))?;
            found.map(|(summary, _)| Some(summary.id)).ok_or_else(|| not_found(id))
        }
        None => {
            let title = conversations::title_of(question);
            let id = state.conversations.start_conversation(user, &title, now_ms()).await;
            id.map(Some).map_err(|e| ApiError::internal("cannot start a conversation", e))
        }
    }
}

/// A finished answer as a conversation keeps it, with every document it was written from.
pub fn turn_for(question: &str, answer: &Answer) -> Turn {
    let stored = StoredAnswer {
        text: answer.text.clone(),
        abstained: answer.abstained,
        html: answer_html(answer),
        sources: answer_sources(answer)
            .into_iter()
            .map(|s| StoredSource { n: s.n, title: s.title, url: s.url, detail: s.detail })
            .collect(),
    };
    let mut documents: Vec<DocumentId> = answer
        .passages
        .iter()
        .map(|p| p.document_id)
        .chain(answer.citations.iter().map(|c| c.document_id))
        .chain(answer.best_evidence.iter().map(|c| c.document_id))
        .collect();
    documents.sort();
    documents.dedup();
    Turn {
        question: question.to_string(),
        answer: serde_json::to_string(&stored).expect("an answer serialises"),
        documents,
        created_ms: now_ms(),
    }
}

/// Adds a turn to the user's conversation; a failure is logged (the answer was given all the same).
pub async fn keep_turn(state: &AppState, user: UserId, conversation: ConversationId, turn: Turn) {
    match state.conversations.add_turn(user, conversation, &turn).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(conversation = conversation.0, "a turn was not kept: the conversation is full or gone")
        }
        Err(error) => tracing::warn!(conversation = conversation.0, %error, "cannot keep a conversation turn"),
    }
}

/// The caller's conversations, most recently continued first.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<ConversationSummary>, ApiError> {
    let Some(user) = owner(caller) else { return Ok(Vec::new()) };
    state
        .conversations
        .conversations(user, LISTED)
        .await
        .map_err(|e| ApiError::internal("cannot list conversations", e))
}

/// Your conversations (signed-in users), most recently continued first.
#[utoipa::path(get, path = "/api/conversations", tag = "answers",
    responses((status = 200, body = ConversationsJson)))]
pub async fn conversations(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<ConversationsJson>, ApiError> {
    Ok(axum::Json(ConversationsJson { conversations: list(&state, &caller).await? }))
}

/// One of your conversations with its turns; an answer written from a document you may no longer
/// read is hidden.
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "answers",
    responses((status = 200, body = ConversationJson), (status = 404, body = crate::schema::ErrorJson)))]
pub async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<axum::Json<ConversationJson>, ApiError> {
    let (summary, turns) = turns_of(&state, &caller, ConversationId(id)).await?;
    Ok(axum::Json(ConversationJson { id: summary.id, title: summary.title, turns }))
}

/// Deletes one of your conversations.
#[utoipa::path(delete, path = "/api/conversations/{id}", tag = "answers",
    responses((status = 204), (status = 404, body = crate::schema::ErrorJson)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    remove(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove(state: &AppState, caller: &Caller, id: i64) -> Result<(), ApiError> {
    let user = signed_in(caller)?;
    let deleted = state.conversations.delete_conversation(user, ConversationId(id)).await;
    match deleted.map_err(|e| ApiError::internal("cannot delete the conversation", e))? {
        true => Ok(()),
        false => Err(not_found(id)),
    }
}
