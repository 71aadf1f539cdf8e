//! `lore serve-model`: the local language model alone, over OpenAI's chat-completions API, for web
//! tiers elsewhere to use (`generation.url`): a GPU box runs it, the web replicas stay small. It knows
//! nothing of documents; it writes what it is prompted for, with the same bounded queue as in-process.
//!
//! Routes: `POST /v1/chat/completions` (streamed or not, with token probabilities when asked),
//! `POST /tokenize` (`{"content"}` in, `{"count"}` out), `GET /v1/models`, `GET /healthz`. Every request needs
//! `Authorization: Bearer <generation.api_key>` when a key is set, and a key must be set to listen
//! beyond loopback.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lore_llm::{ChatMessage, ChatModel, LlmError, Role, Sampling, TokenEvent};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;

use crate::access::bearer_matches;

/// Largest request body: a prompt of passages is tens of KiB.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Messages one request may carry.
const MAX_MESSAGES: usize = 64;
/// OpenAI's limit on alternatives per token.
const MAX_ALTERNATIVES: usize = 20;

#[derive(Clone)]
struct ModelState {
    model: Arc<dyn ChatModel>,
    api_key: Option<Arc<str>>,
    max_answer_tokens: usize,
}

/// The service, bound and with its model loaded.
pub struct ModelService {
    listener: TcpListener,
    router: Router,
}

impl ModelService {
    /// Refuses a non-loopback address without an API key, loads the model, binds.
    pub async fn build(
        model: Arc<dyn ChatModel>,
        addr: SocketAddr,
        api_key: Option<String>,
        max_answer_tokens: usize,
    ) -> anyhow::Result<Self> {
        if !addr.ip().is_loopback() && api_key.is_none() {
            anyhow::bail!(
                "lore serve-model on {addr} would answer anyone on the network: set generation.api_key \
                 (LORE_GENERATION__API_KEY), which clients then send as a bearer token"
            );
        }
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let state = ModelState { model, api_key: api_key.map(Arc::from), max_answer_tokens };
        let router = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/tokenize", post(tokenize))
            .route("/v1/models", get(models))
            .route_layer(middleware::from_fn_with_state(state.clone(), require_key))
            .route("/healthz", get(|| async { "ok" }))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(state);
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await?;
        Ok(())
    }
}

fn error_json(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"message": message.into()}}))).into_response()
}

async fn require_key(State(state): State<ModelState>, request: Request, next: Next) -> Response {
    if let Some(key) = &state.api_key {
        if !bearer_matches(request.headers(), key) {
            return error_json(StatusCode::UNAUTHORIZED, "a valid bearer token (generation.api_key) is required");
        }
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct CompletionRequest {
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stop: Option<Value>,
    #[serde(default)]
    logprobs: bool,
    #[serde(default)]
    top_logprobs: Option<usize>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Value,
}

/// The request's messages and sampling, every field bounded; or what is wrong with it.
fn parse(request: CompletionRequest, max_answer_tokens: usize) -> Result<(Vec<ChatMessage>, Sampling), String> {
    if request.messages.is_empty() || request.messages.len() > MAX_MESSAGES {
        return Err(format!("between 1 and {MAX_MESSAGES} messages are accepted"));
    }
    let mut messages = Vec::with_capacity(request.messages.len());
    for message in request.messages {
        let role = match message.role.as_str() {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => return Err(format!("unknown role {other:?}")),
        };
        let content = match message.content {
            Value::String(text) => text,
            Value::Array(parts) => {
                parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
            }
            _ => return Err("a message's content must be text".into()),
        };
        messages.push(ChatMessage { role, content });
    }
    let temperature = request.temperature.unwrap_or(0.0);
    let top_p = request.top_p.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) || !(top_p > 0.0 && top_p <= 1.0) {
        return Err("temperature must be within 0..2 and top_p within (0, 1]".into());
    }
    let stop = match request.stop {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).take(4).map(str::to_string).collect(),
        Some(_) => return Err("stop must be a string or a list of strings".into()),
    };
    let alternatives = if request.logprobs { request.top_logprobs.unwrap_or(0).min(MAX_ALTERNATIVES) } else { 0 };
    let sampling = Sampling {
        max_tokens: request.max_tokens.unwrap_or(max_answer_tokens).clamp(1, max_answer_tokens),
        temperature,
        top_p,
        stop,
        alternatives,
    };
    Ok((messages, sampling))
}

fn refusal(error: LlmError) -> Response {
    match error {
        LlmError::Busy { .. } => {
            let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, &error);
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
            response
        }
        LlmError::PromptTooLong { .. } => error_response(StatusCode::BAD_REQUEST, &error),
        other => error_response(StatusCode::INTERNAL_SERVER_ERROR, &other),
    }
}

fn error_response(status: StatusCode, error: &LlmError) -> Response {
    error_json(status, error.to_string())
}

fn created() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A token's probability and its alternatives in OpenAI's form (natural logarithms).
fn logprob(choice: &lore_llm::TokenChoice) -> Value {
    let ln = |p: f32| if p > 0.0 { f64::from(p).ln() } else { -9999.0 };
    json!({
        "token": choice.text,
        "logprob": ln(choice.probability),
        "top_logprobs": choice.alternatives.iter().map(|(t, p)| json!({"token": t, "logprob": ln(*p)})).collect::<Vec<_>>(),
    })
}

async fn complete(
    State(state): State<ModelState>,
    body: Result<Json<CompletionRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return error_json(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let stream = request.stream;
    let (messages, sampling) = match parse(request, state.max_answer_tokens) {
        Ok(parsed) => parsed,
        Err(reason) => return error_json(StatusCode::BAD_REQUEST, reason),
    };
    let generation = match state.model.generate(messages, sampling).await {
        Ok(generation) => generation,
        Err(error) => return refusal(error),
    };
    let (id, model, created) = (format!("chatcmpl-{}", created()), state.model.name().to_string(), created());
    if !stream {
        let mut events = generation.events;
        let (mut text, mut choices) = (String::new(), Vec::new());
        while let Some(event) = events.recv().await {
            match event {
                TokenEvent::Text(piece) => text.push_str(&piece),
                TokenEvent::Choice(choice) => choices.push(logprob(&choice)),
                TokenEvent::Finished(stats) => {
                    return Json(json!({
                        "id": id, "object": "chat.completion", "created": created, "model": model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "logprobs": {"content": choices}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.answer_tokens,
                                  "total_tokens": stats.prompt_tokens + stats.answer_tokens},
                    }))
                    .into_response()
                }
                TokenEvent::Failed(reason) => return error_json(StatusCode::INTERNAL_SERVER_ERROR, reason),
            }
        }
        return error_json(StatusCode::INTERNAL_SERVER_ERROR, "the model stopped without finishing");
    }
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(async move {
        let mut events = generation.events;
        let chunk = |choice: Value, usage: Value| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": choice, "usage": usage})
        };
        while let Some(event) = events.recv().await {
            let data = match event {
                TokenEvent::Text(piece) => chunk(json!([{"index": 0, "delta": {"content": piece}}]), Value::Null),
                TokenEvent::Choice(choice) => {
                    chunk(json!([{"index": 0, "delta": {}, "logprobs": {"content": [logprob(&choice)]}}]), Value::Null)
                }
                TokenEvent::Finished(stats) => {
                    let finish = chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]), Value::Null);
                    let usage = json!({"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.answer_tokens,
                                       "total_tokens": stats.prompt_tokens + stats.answer_tokens});
                    for data in [finish, chunk(json!([]), usage)] {
                        if sender.send(Ok(Event::default().data(data.to_string()))).await.is_err() {
                            return;
                        }
                    }
                    let _ = sender.send(Ok(Event::default().data("[DONE]"))).await;
                    return;
                }
                TokenEvent::Failed(reason) => json!({"error": {"message": reason}}),
            };
            // A client that left drops the receiver: the generation's sender then fails and it stops.
            if sender.send(Ok(Event::default().data(data.to_string()))).await.is_err() {
                return;
            }
        }
    });
    Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default()).into_response()
}

#[derive(Deserialize)]
struct TokenizeRequest {
    content: String,
}

async fn tokenize(State(state): State<ModelState>, Json(request): Json<TokenizeRequest>) -> Response {
    match state.model.count_tokens(&request.content).await {
        Ok(count) => Json(json!({"count": count})).into_response(),
        Err(error) => refusal(error),
    }
}

async fn models(State(state): State<ModelState>) -> Json<Value> {
    Json(json!({"object": "list", "data": [{"id": state.model.name(), "object": "model", "owned_by": "lore"}]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: Value) -> CompletionRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn requests_are_bounded() {
        let (messages, sampling) = parse(
            request(json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000,
                           "logprobs": true, "top_logprobs": 99})),
            256,
        )
        .unwrap();
        assert_eq!(messages[0].role, Role::User);
        assert_eq!((sampling.max_tokens, sampling.alternatives), (256, MAX_ALTERNATIVES));
        assert!(parse(request(json!({"messages": []})), 256).is_err());
        assert!(parse(request(json!({"messages": [{"role": "tool", "content": "x"}]})), 256).is_err());
        assert!(parse(request(json!({"messages": [{"role": "user", "content": "x"}], "temperature": 9})), 256).is_err());
        let many: Vec<Value> = (0..MAX_MESSAGES + 1).map(|_| json!({"role": "user", "content": "x"})).collect();
        assert!(parse(request(json!({ "messages": many })), 256).is_err());
    }
}
