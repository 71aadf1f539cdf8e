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

use crate::web::access::Caller;
use crate::web::answering::{self, Streamed};
use crate::web::error::ApiError;
use crate::web::extract::Json;
use crate::web::schema::AnswerJson;
use crate::web::state::AppState;

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

/// The question (last user message) and its conversation (earlier user/assistant pairs).
fn question(request: &ChatRequest, caller: &Caller) -> Result<Question, ApiError> {
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
    Ok(question)
}

/// The reply's text: the answer, then its sources (the closest ones for an abstention).
pub fn reply_text(answer: &Answer) -> String {
    let mut text = answer.text.clone();
    let sources: Vec<String> = if answer.abstained {
        answer.passages.iter().map(|p| format!("- {} ({}:{})", p.title, p.source, p.document_path)).collect()
    } else {
        answer
            .citations
            .iter()
            .map(|c| {
                let page = c.page.map(|p| format!(", page {p}")).unwrap_or_default();
                format!("[{}] {}{page} ({}:{})", c.n, c.title, c.source, c.document_path)
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
              (status = 400, body = crate::web::schema::ErrorJson),
              (status = 503, description = "the model is loading or its queue is full; see Retry-After", body = crate::web::schema::ErrorJson)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ChatRequest>,
) -> Result<Response, ApiError> {
    let question = question(&request, &caller)?;
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
            "lore": AnswerJson::from(&answer),
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
        while let Some(streamed) = events.recv().await {
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
                        Some(serde_json::to_value(AnswerJson::from(&answer)).expect("answers serialise")),
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
pub async fn models() -> axum::Json<Value> {
    axum::Json(json!({
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "lore"}],
    }))
}
