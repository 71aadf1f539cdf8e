//! `POST /api/ask`: the answer as server-sent events, ending with the object of `lore ask --json`.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::StreamExt;
use lore_answer::{AnswerEvent, Question, Turn};
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;

use crate::access::Caller;
use crate::answering::{self, Streamed};
use crate::api::conversations;
use crate::api::search::narrowing;
use crate::error::ApiError;
use crate::extract::Json;
use crate::render::{answer_html, answer_sources};
use crate::schema::{AnswerJson, CitationJson, Detail, SourceJson};
use crate::state::AppState;
use lore_core::audit::AuditAction;

#[derive(Debug, Deserialize, ToSchema)]
pub struct AskRequest {
    /// The question, in plain words.
    pub question: String,
    /// Only these sources.
    #[serde(default)]
    pub source: Vec<String>,
    /// Only these types: pdf, markdown, html, text, docx.
    #[serde(default, rename = "type")]
    pub kind: Vec<String>,
    /// Earlier turns of the conversation, oldest first: follow-ups may refer to them.
    #[serde(default)]
    pub history: Vec<TurnJson>,
    /// false skips the grounding check (administrators only; default: the server's `answer.guard`).
    pub guard: Option<bool>,
    /// Continue this conversation of yours (signed-in users): its turns are the history, and the
    /// answer is added to it. Without it, a signed-in user's question starts a new conversation; the
    /// `conversation` event names it.
    pub conversation: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TurnJson {
    pub question: String,
    pub answer: String,
}

impl AskRequest {
    pub fn question(&self, caller: &Caller, max_chars: usize) -> Result<Question, ApiError> {
        let mut question = Question::new(self.question.trim(), caller.access.clone());
        question.narrowing = narrowing(&self.source, &self.kind)?;
        let history: Vec<Turn> =
            self.history.iter().map(|t| Turn { question: t.question.clone(), answer: t.answer.clone() }).collect();
        question.history = answering::bounded_history(history, max_chars)?;
        if self.guard == Some(false) && !caller.is_admin {
            return Err(ApiError::Forbidden("only administrators may turn the grounding check off".into()));
        }
        question.guard = self.guard;
        Ok(question)
    }
}

/// Answers from the documents the caller may read, streamed. Events: `standalone` (a follow-up
/// rewritten: `{"question"}`), `passages` (the numbered sources), `evidence` (the sentence of the
/// passages that best answers the question, shaped like a citation with the sentence as `quote`, sent
/// as soon as the search is done and before the first token), `retry` (`{}`: the check supported nothing
/// of the draft, whose tokens are void; a second draft's tokens follow), `token` (`{"text"}`, as the model
/// writes), `sentence` (each sentence's check), then `answer` (the object of `lore ask --json`) or
/// `error` (`{"error":{"code","message"}}`). Just before `answer`, `rendered` carries the answer as HTML
/// with its sources, for the web page.
#[utoipa::path(post, path = "/api/ask", request_body = AskRequest, tag = "answers",
    responses((status = 200, content_type = "text/event-stream", description = "server-sent events ending in `answer`"),
              (status = 400, body = crate::schema::ErrorJson),
              (status = 503, description = "the model is loading or its queue is full; see Retry-After", body = crate::schema::ErrorJson)))]
pub async fn ask(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<AskRequest>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let max_chars = state.config.server.max_question_chars;
    let mut question = request.question(&caller, max_chars)?;
    let conversation = conversations::conversation_for(&state, &caller, request.conversation, &question.text).await?;
    if let (Some(id), Some(_)) = (conversation, request.conversation) {
        question.history =
            answering::bounded_history(conversations::history_of(&state, &caller, id).await?, max_chars)?;
    }
    state.audit.record(&caller, AuditAction::Ask, &question.text).await;
    let asked = question.text.clone();
    let events = answering::start(&state, question)?;
    let detail = Detail::for_admin(caller.is_admin);
    let keep = conversation.zip(conversations::owner(&caller)).map(|(id, user)| (state.clone(), id, user));
    let opening = conversation.map(|id| json_event("conversation", &serde_json::json!({ "id": id.0 })));
    // The turn is kept before the final events go out, so a follow-up sent at once finds it.
    let stream = ReceiverStream::new(events)
        .then(move |streamed| {
            let keep = keep.clone();
            let asked = asked.clone();
            async move {
                if let (Streamed::Done(result), Some((state, id, user))) = (&streamed, keep) {
                    if let Ok(answer) = result.as_ref() {
                        conversations::keep_turn(&state, user, id, conversations::turn_for(&asked, answer)).await;
                    }
                }
                streamed
            }
        })
        .flat_map(move |streamed| {
            futures_util::stream::iter(sse_events(streamed, detail).into_iter().map(Ok::<Event, Infallible>))
        });
    let stream = futures_util::stream::iter(opening.map(Ok::<Event, Infallible>)).chain(stream);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn json_event(name: &str, value: &impl serde::Serialize) -> Event {
    Event::default().event(name).json_data(value).expect("answer events serialise")
}

fn sse_events(streamed: Streamed, detail: Detail) -> Vec<Event> {
    match streamed {
        Streamed::Done(result) => match *result {
            Ok(answer) => {
                let sources: Vec<_> = answer_sources(&answer)
                    .into_iter()
                    .map(|s| serde_json::json!({"n": s.n, "title": s.title, "url": s.url, "detail": s.detail}))
                    .collect();
                let rendered = serde_json::json!({
                    "html": answer_html(&answer),
                    "abstained": answer.abstained,
                    "sources": sources,
                });
                vec![json_event("rendered", &rendered), json_event("answer", &AnswerJson::new(&answer, detail))]
            }
            Err(error) => vec![json_event("error", &error.body())],
        },
        Streamed::Event(event) => vec![sse_event(event)],
    }
}

fn sse_event(event: AnswerEvent) -> Event {
    match event {
        AnswerEvent::Standalone(question) => json_event("standalone", &serde_json::json!({ "question": question })),
        AnswerEvent::Passages(passages) => {
            json_event("passages", &passages.iter().map(SourceJson::from).collect::<Vec<_>>())
        }
        AnswerEvent::Evidence(best) => json_event("evidence", &CitationJson::from(&best)),
        AnswerEvent::Token(text) => json_event("token", &serde_json::json!({ "text": text })),
        AnswerEvent::Retry => json_event("retry", &serde_json::json!({})),
        AnswerEvent::Sentence(sentence) => json_event("sentence", &sentence),
    }
}
