//! A chat model served by another process, over the OpenAI chat-completions API: another `lore` (its
//! `lore serve-model`) on a GPU box, or any OpenAI-compatible server (llama.cpp, vLLM). Answers stream
//! token by token as from the local model, through the same bounded queue, with a deadline for the
//! first token and one for each next piece.
//!
//! Blunt notes: the remote side's answer is read as untrusted input like a document (bounded line and
//! body sizes); it is still checked by the guard like any draft. Plain `http://` only: put a TLS
//! terminating proxy on both ends when the link leaves a trusted network.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::admission::{Admission, Ticket};
use crate::{ChatMessage, ChatModel, Generation, GenerationStats, LlmError, Result, Sampling, TokenChoice, TokenEvent};

/// Longest line of the event stream accepted: one token's JSON with its alternatives is a few KiB.
const MAX_LINE_BYTES: usize = 256 * 1024;
/// OpenAI's limit on alternatives per token.
const MAX_ALTERNATIVES: usize = 20;

/// Where the model is served and how long to wait for it.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Base URL, e.g. `http://gpu-box:8090`; requests go to `<url>/v1/chat/completions`.
    pub url: String,
    pub api_key: Option<String>,
    /// The `model` field of each request (what the server calls its model).
    pub model: String,
    pub context_tokens: usize,
    /// Requests running or waiting at once from this process.
    pub queue: usize,
    /// Until the answer starts (the server's queue and the prompt's reading), and between two pieces.
    pub timeout: Duration,
}

pub struct RemoteModel {
    client: reqwest::Client,
    options: RemoteOptions,
    admission: Admission,
}

impl RemoteModel {
    pub fn new(options: RemoteOptions) -> Result<Self> {
        let url = options.url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(LlmError::Remote(format!("generation.url {url:?} is not an http:// address")));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| LlmError::Remote(format!("cannot make an http client: {e}")))?;
        let options = RemoteOptions { url: url.to_string(), ..options };
        Ok(Self { admission: Admission::new(options.queue), client, options })
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.post(format!("{}{path}", self.options.url));
        match &self.options.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Asks the server which models it serves: that it answers at all (a readiness check at start).
    pub async fn check(&self) -> Result<()> {
        let mut request = self.client.get(format!("{}/v1/models", self.options.url));
        if let Some(key) = &self.options.api_key {
            request = request.bearer_auth(key);
        }
        self.send("list its models", request).await?;
        Ok(())
    }

    /// Sends `request` and waits for the response's head (at most `timeout`); a refusal is an error.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let response = tokio::time::timeout(self.options.timeout, request.send())
            .await
            .map_err(|_| self.timed_out(what))?
            .map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            return Err(self.refused(what, response).await);
        }
        Ok(response)
    }

    fn unreachable(&self, error: reqwest::Error) -> LlmError {
        LlmError::Remote(format!("cannot reach the model server at {}: {error}", self.options.url))
    }

    fn timed_out(&self, what: &str) -> LlmError {
        LlmError::Remote(format!(
            "the model server at {} did not {what} within {} s (generation.timeout_secs)",
            self.options.url,
            self.options.timeout.as_secs()
        ))
    }

    async fn refused(&self, what: &str, response: reqwest::Response) -> LlmError {
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return LlmError::Busy { waiting: self.options.queue };
        }
        let body = bounded_text(response, 2048).await;
        LlmError::Remote(format!("the model server at {} would not {what}: {status}: {body}", self.options.url))
    }

    fn body(&self, messages: &[ChatMessage], sampling: &Sampling) -> Value {
        let mut body = json!({
            "model": self.options.model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        });
        if !sampling.stop.is_empty() {
            body["stop"] = json!(sampling.stop);
        }
        if sampling.alternatives > 0 {
            body["logprobs"] = json!(true);
            body["top_logprobs"] = json!(sampling.alternatives.min(MAX_ALTERNATIVES));
        }
        body
    }
}

/// At most `limit` bytes of a response's body, as text (for error messages).
async fn bounded_text(mut response: reqwest::Response, limit: usize) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() >= limit {
            bytes.truncate(limit);
            break;
        }
    }
    String::from_utf8_lossy(&bytes).trim().to_string()
}

#[async_trait::async_trait]
impl ChatModel for RemoteModel {
    fn name(&self) -> &str {
        &self.options.model
    }

    fn context_tokens(&self) -> usize {
        self.options.context_tokens
    }

    /// Through the server's `/tokenize`: `lore serve-model` answers `{"count"}`, llama.cpp's server
    /// `{"tokens": [ids]}`.
    async fn count_tokens(&self, text: &str) -> Result<usize> {
        #[derive(Deserialize)]
        struct Tokens {
            count: Option<usize>,
            #[serde(default)]
            tokens: Vec<Value>,
        }
        let response = self.send("count tokens", self.post("/tokenize").json(&json!({"content": text}))).await?;
        let tokens: Tokens =
            response.json().await.map_err(|e| LlmError::Remote(format!("unreadable /tokenize answer: {e}")))?;
        Ok(tokens.count.unwrap_or(tokens.tokens.len()))
    }

    async fn generate(&self, messages: Vec<ChatMessage>, sampling: Sampling) -> Result<Generation> {
        let ticket = self.admission.enter()?;
        let started = Instant::now();
        let request = self.post("/v1/chat/completions").json(&self.body(&messages, &sampling));
        let response = self.send("start answering", request).await?;
        let (sender, events) = mpsc::channel(64);
        let reader = StreamReader { timeout: self.options.timeout, url: self.options.url.clone(), started };
        tokio::spawn(reader.forward(response, sender, ticket));
        Ok(Generation { events })
    }
}

struct StreamReader {
    timeout: Duration,
    url: String,
    started: Instant,
}

#[derive(Default)]
struct Counts {
    first_token: Option<Duration>,
    pieces: usize,
    prompt_tokens: usize,
    answer_tokens: usize,
}

impl StreamReader {
    /// Reads the server-sent events until `[DONE]`, passing each piece on as it arrives.
    async fn forward(self, mut response: reqwest::Response, sender: mpsc::Sender<TokenEvent>, ticket: Ticket) {
        let _ticket = ticket;
        let mut buffer: Vec<u8> = Vec::new();
        let mut counts = Counts::default();
        loop {
            let chunk = match tokio::time::timeout(self.timeout, response.chunk()).await {
                Err(_) => return self.fail(&sender, format!("the model server at {} went silent", self.url)).await,
                Ok(Err(e)) => return self.fail(&sender, format!("the model server's stream broke: {e}")).await,
                Ok(Ok(None)) => return self.fail(&sender, "the model server closed the stream early".into()).await,
                Ok(Ok(Some(chunk))) => chunk,
            };
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else { continue };
                if data == "[DONE]" {
                    let _ = sender.send(TokenEvent::Finished(self.stats(&counts))).await;
                    return;
                }
                match self.events(data, &mut counts) {
                    Ok(events) => {
                        for event in events {
                            if sender.send(event).await.is_err() {
                                return; // the asker left; dropping the response cancels the request
                            }
                        }
                    }
                    Err(reason) => return self.fail(&sender, reason).await,
                }
            }
            if buffer.len() > MAX_LINE_BYTES {
                return self.fail(&sender, "the model server sent a line past 256 KiB".into()).await;
            }
        }
    }

    async fn fail(&self, sender: &mpsc::Sender<TokenEvent>, reason: String) {
        let _ = sender.send(TokenEvent::Failed(reason)).await;
    }

    /// One event's JSON to what it says: alternatives, a piece of text, the usage.
    fn events(&self, data: &str, counts: &mut Counts) -> std::result::Result<Vec<TokenEvent>, String> {
        let chunk: Value = serde_json::from_str(data).map_err(|e| format!("unreadable event from the model: {e}"))?;
        if let Some(error) = chunk.get("error") {
            return Err(format!("the model server failed: {}", error["message"].as_str().unwrap_or("no message")));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            counts.prompt_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0) as usize;
            counts.answer_tokens = usage["completion_tokens"].as_u64().unwrap_or(0) as usize;
        }
        let mut events = Vec::new();
        let Some(choice) = chunk["choices"].get(0) else { return Ok(events) };
        for token in choice["logprobs"]["content"].as_array().into_iter().flatten() {
            events.push(TokenEvent::Choice(token_choice(token)));
        }
        if let Some(text) = choice["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
            counts.first_token.get_or_insert_with(|| self.started.elapsed());
            counts.pieces += 1;
            events.push(TokenEvent::Text(text.to_string()));
        }
        Ok(events)
    }

    fn stats(&self, counts: &Counts) -> GenerationStats {
        let total = self.started.elapsed();
        let time_to_first_token = counts.first_token.unwrap_or(total);
        let answer_tokens = if counts.answer_tokens > 0 { counts.answer_tokens } else { counts.pieces };
        let decode_secs = total.saturating_sub(time_to_first_token).as_secs_f64();
        let ttft = time_to_first_token.as_secs_f64();
        GenerationStats {
            prompt_tokens: counts.prompt_tokens,
            answer_tokens,
            time_to_first_token,
            prompt_tokens_per_s: if ttft > 0.0 { counts.prompt_tokens as f64 / ttft } else { 0.0 },
            decode_tokens_per_s: if answer_tokens > 1 && decode_secs > 0.0 {
                (answer_tokens - 1) as f64 / decode_secs
            } else {
                0.0
            },
            total,
        }
    }
}

/// OpenAI reports natural logarithms of the probabilities.
fn token_choice(token: &Value) -> TokenChoice {
    let probability = |v: &Value| v.as_f64().filter(|l| l.is_finite()).map_or(0.0, |l| l.exp() as f32);
    TokenChoice {
        text: token["token"].as_str().unwrap_or_default().to_string(),
        probability: probability(&token["logprob"]),
        alternatives: token["top_logprobs"]
            .as_array()
            .into_iter()
            .flatten()
            .take(MAX_ALTERNATIVES)
            .map(|top| (top["token"].as_str().unwrap_or_default().to_string(), probability(&top["logprob"])))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> StreamReader {
        StreamReader { timeout: Duration::from_secs(1), url: "http://model".into(), started: Instant::now() }
    }

    #[test]
    fn events_carry_text_alternatives_and_usage() {
        let (reader, mut counts) = (reader(), Counts::default());
        let data = r#"{"choices":[{"delta":{"content":"Paris"},"logprobs":{"content":[
            {"token":"Paris","logprob":-0.1,"top_logprobs":[{"token":"Paris","logprob":-0.1},{"token":"Lyon","logprob":-2.5}]}]}}]}"#;
        let events = reader.events(data, &mut counts).unwrap();
        assert!(
            matches!(&events[0], TokenEvent::Choice(c) if c.text == "Paris" && (c.probability - 0.905).abs() < 0.01
            && c.alternatives.len() == 2)
        );
        assert_eq!(events[1], TokenEvent::Text("Paris".into()));
        reader.events(r#"{"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":3}}"#, &mut counts).unwrap();
        let stats = reader.stats(&counts);
        assert_eq!((stats.prompt_tokens, stats.answer_tokens), (40, 3));
    }

    #[test]
    fn errors_and_garbage_are_failures_not_text() {
        let mut counts = Counts::default();
        assert!(reader()
            .events(r#"{"error":{"message":"out of memory"}}"#, &mut counts)
            .unwrap_err()
            .contains("out of memory"));
        assert!(reader().events("not json", &mut counts).is_err());
        assert!(reader().events(r#"{"choices":[{"delta":{}}]}"#, &mut counts).unwrap().is_empty());
    }

    #[test]
    fn the_request_asks_for_a_stream_with_bounded_alternatives() {
        let options = RemoteOptions {
            url: "http://gpu:8090/".into(),
            api_key: None,
            model: "qwen".into(),
            context_tokens: 2048,
            queue: 2,
            timeout: Duration::from_secs(5),
        };
        let model = RemoteModel::new(options).unwrap();
        let sampling = Sampling { alternatives: 50, ..Sampling::greedy(64) };
        let body = model.body(&[ChatMessage::user("hi")], &sampling);
        assert_eq!(body["stream"], true);
        assert_eq!(body["top_logprobs"], 20);
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(model.options.url, "http://gpu:8090");
        assert!(RemoteModel::new(RemoteOptions { url: "gpu:8090".into(), ..model.options.clone() }).is_err());
    }
}
