//! `POST /v1/chat/completions` and `GET /v1/models`: OpenAI's chat API, so existing clients and chat UIs
//! can use Lore. The last user message is the question, earlier user/assistant pairs its conversation;
//! system messages are ignored (the answer is always grounded in the documents by Lore's own prompt).
//! The reply is the checked answer with `[n]` markers and a "Sources" list; the full answer object is
//! under the extra `lore` field. With `"stream": true` the checked answer is sent sentence by sentence
//! once it is checked: what a client displays has always passed the grounding check.

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use lore_answer::{Answer, Question, Turn};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;

use crate::access::Caller;
use crate::answering::{self, Streamed};
use crate::error::ApiError;
use crate::extract::Json;
use crate::schema::{AnswerJson, Detail};
use crate::state::AppState;
use lore_core::audit::AuditAction;

/// The model name Lore answers as.
pub const MODEL_ID: &str = "lore";

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// Any name; Lore answers with its configured model.
    #[serde(default)]
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatMessage {
    /// system, user or assistant
    pub role: String,
    /// A string, or a list of `{"type":"text","text":..}` parts.
    #[schema(value_type = Object)]
    pub content: Value,
}

impl ChatMessage {
    fn text(&self) -> String {
        match &self.content {
            Value::String(text) => text.clone(),
            Value::Array(parts) => {
                parts.iter().filter_map(|part| part.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
            }
            _ => String::new(),
        }
    }
}

/// Messages one request may carry: a conversation's turns, and a few system messages.
const MAX_MESSAGES: usize = 2 * answering::MAX_HISTORY_TURNS + 8;

/// The question (last user message) and its conversation (earlier user/assistant pairs).
fn question(request: &ChatRequest, caller: &Caller, max_chars: usize) -> Result<Question, ApiError> {
    if request.messages.len() > MAX_MESSAGES {
        return Err(ApiError::TooLarge(format!(
            "the request has {} messages; at most {MAX_MESSAGES} are accepted",
            request.messages.len()
        )));
    }
    let dialogue: Vec<&ChatMessage> =
        request.messages.iter().filter(|m| m.role == "user" || m.role == "assistant").collect();
    let Some((last, earlier)) = dialogue.split_last() else {
        return Err(ApiError::BadRequest("messages must contain a user message".into()));
    };
    if last.role != "user" {
        return Err(ApiError::BadRequest("the last message must be the user's question".into()));
    }
    let mut question = Question::new(last.text().trim(), caller.access.clone());
    let mut pending: Option<String> = None;
    for message in earlier {
        match (message.role.as_str(), pending.take()) {
            ("user", _) => pending = Some(message.text()),
            ("assistant", Some(asked)) => question.history.push(Turn { question: asked, answer: message.text() }),
            _ => {}
        }
    }
    question.history = answering::bounded_history(std::mem::take(&mut question.history), max_chars)?;
    Ok(question)
}

/// Document titles and paths in Markdown that chat clients render: their own brackets, parentheses,
/// emphasis and HTML are shown as text, so a title cannot become a link or an image.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '[' | ']' | '(' | ')' | '!' | '<' | '>' | '*' | '_' | '`' | '#' | '|' | '~') {
            out.push('\\');
        }
        out.push(if c == '\n' || c == '\r' { ' ' } else { c });
    }
    out
}

/// The answer's own text as Markdown: HTML tags the model may have written are shown, not rendered
/// (links and images were confined by the answerer already).
fn markdown_answer(text: &str) -> String {
    text.replace('<', "\\<")
}

/// The reply's text: the answer, then its sources (the closest ones for an abstention).
pub fn reply_text(answer: &Answer) -> String {
    let mut text = markdown_answer(&answer.text);
    let sources: Vec<String> = if answer.abstained {
        answer
            .passages
            .iter()
            .map(|p| {
                format!(
                    "- {} ({}:{})",
                    markdown_text(&p.title),
                    markdown_text(&p.source),
                    markdown_text(&p.document_path)
                )
            })
            .collect()
    } else {
        answer
            .citations
            .iter()
            .map(|c| {
                let page = c.page.map(|p| format!(", page {p}")).unwrap_or_default();
                let (title, source, path) =
                    (markdown_text(&c.title), markdown_text(&c.source), markdown_text(&c.document_path));
                format!("[{}] {title}{page} ({source}:{path})", c.n)
            })
            .collect()
    };
    if !sources.is_empty() {
        let heading = if answer.abstained { "Closest sources" } else { "Sources" };
        text.push_str(&format!("\n\n{heading}:\n{}", sources.join("\n")));
    }
    text
}

fn created() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn completion_id() -> String {
    format!("chatcmpl-{:x}", SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default())
}

fn usage(answer: &Answer) -> Value {
    let completion = answer.generation.map_or(0, |g| g.answer_tokens);
    json!({
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": answer.prompt_tokens + completion,
    })
}

/// A grounded answer in OpenAI's chat completion format (streamed with `"stream": true`).
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatRequest,
    responses((status = 200, description = "a chat.completion object, or chat.completion.chunk events"),
              (status = 400, body = crate::schema::ErrorJson),
              (status = 503, description = "the model is loading or its queue is full; see Retry-After", body = crate::schema::ErrorJson)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ChatRequest>,
) -> Result<Response, ApiError> {
    let question = question(&request, &caller, state.config.server.max_question_chars)?;
    state.audit.record(&caller, AuditAction::Ask, &question.text).await;
    let detail = Detail::for_admin(caller.is_admin);
    let (id, created) = (completion_id(), created());
    if !request.stream {
        let answer = answering::complete(&state, question).await?;
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply_text(&answer)},
                "finish_reason": "stop",
            }],
            "usage": usage(&answer),
            "lore": AnswerJson::new(&answer, detail),
        });
        return Ok(axum::Json(body).into_response());
    }
    let mut events = answering::start(&state, question)?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        let chunk = |delta: Value, finish: Option<&str>, extra: Option<Value>| {
            let mut body = json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            });
            if let Some(extra) = extra {
                body["lore"] = extra;
            }
            Ok(Event::default().data(body.to_string()))
        };
        if sender.send(chunk(json!({"role": "assistant", "content": ""}), None, None)).await.is_err() {
            return;
        }
        loop {
            // Nothing is sent while the answer is written and checked: watch for the client leaving
            // meanwhile, and drop the events then, which stops the generation.
            let streamed = tokio::select! {
                streamed = events.recv() => streamed,
                _ = sender.closed() => {
                    tracing::info!("the chat client left before its answer was finished; generation stopped");
                    return;
                }
            };
            let Some(streamed) = streamed else { break };
            let Streamed::Done(result) = streamed else { continue };
            match *result {
                Ok(answer) => {
                    let text = reply_text(&answer);
                    for piece in text.split_inclusive(['.', '\n']) {
                        if sender.send(chunk(json!({"content": piece}), None, None)).await.is_err() {
                            return;
                        }
                    }
                    let done = chunk(
                        json!({}),
                        Some("stop"),
                        Some(serde_json::to_value(AnswerJson::new(&answer, detail)).expect("answers serialise")),
                    );
                    let _ = sender.send(done).await;
                }
                Err(error) => {
                    let body = serde_json::to_string(&error.body()).expect("errors serialise");
                    let _ = sender.send(Ok(Event::default().data(body))).await;
                }
            }
        }
        let _ = sender.send(Ok(Event::default().data("[DONE]"))).await;
    });
    Ok(Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default()).into_response())
}

/// The one model Lore offers.
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, description = "a model list")))]
/// Any signed-in caller (in `accounts` mode an API client authenticates first, as it will for chat).
pub async fn models(_caller: Caller) -> axum::Json<Value> {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "lore"}],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_cannot_become_links_or_images_in_a_chat_client() {
        let title = "![x](https://attacker.example/p.png) [click](https://attacker.example) <img src=x>";
        let text = markdown_text(title);
        assert!(!text.contains("](") && text.contains("\\<img") && !text.contains(" <img"), "{text}");
        assert_eq!(markdown_text("Travel policy"), "Travel policy");
        assert_eq!(markdown_answer("Use <b>it</b>"), "Use \\<b>it\\</b>");
    }
}
