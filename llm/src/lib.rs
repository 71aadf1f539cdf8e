//! The language model that writes answers: give it chat messages, get a stream of text pieces and the
//! generation's statistics. One model is loaded per process and shared; a bounded admission queue keeps
//! memory flat under load (past its capacity a request is refused as busy, at once).
//!
//! - [`ChatModel`]: the swappable backend trait.
//! - [`MistralModel`]: the default backend, mistral.rs over a local GGUF file (no hub is contacted).
//! - [`RemoteModel`]: a model another process serves (`generation.url`, OpenAI's chat API).
//! - [`Admission`]: the bounded queue every backend puts its requests through.

mod admission;
pub mod mistral;
pub mod remote;

use std::time::Duration;

pub use admission::{Admission, Ticket};
pub use mistral::MistralModel;
pub use remote::{RemoteModel, RemoteOptions};
use serde::Serialize;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error(
        "language model file {0} not found; run scripts/fetch-models.sh, or point generation.model \
         (LORE_GENERATION__MODEL) at a GGUF chat model"
    )]
    ModelMissing(std::path::PathBuf),
    #[error("cannot load the language model {path}: {reason}")]
    Load { path: std::path::PathBuf, reason: String },
    #[error("the language model is busy: {waiting} requests are already running or waiting; try again shortly")]
    Busy { waiting: usize },
    #[error(
        "the prompt has {prompt} tokens; with {answer} for the answer it exceeds the model's context of {context}"
    )]
    PromptTooLong { prompt: usize, answer: usize, context: usize },
    #[error("generation failed: {0}")]
    Generation(String),
    #[error("{0}")]
    Remote(String),
}

pub type Result<T, E = LlmError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// How one generation samples and when it stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub max_tokens: usize,
    /// 0 is greedy.
    pub temperature: f64,
    pub top_p: f64,
    /// Generation ends before any of these strings.
    pub stop: Vec<String>,
    /// When not 0, every token is reported with its probability and this many of the strongest
    /// alternatives ([`TokenEvent::Choice`]): how sure the model was of what it wrote.
    pub alternatives: usize,
}

impl Sampling {
    /// Greedy decoding of at most `max_tokens`, no stop strings, no probabilities.
    pub fn greedy(max_tokens: usize) -> Self {
        Self { max_tokens, temperature: 0.0, top_p: 1.0, stop: Vec::new(), alternatives: 0 }
    }
}

/// One token as the model chose it: its probability and the strongest alternatives it had (the chosen
/// token among them), strongest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenChoice {
    pub text: String,
    pub probability: f32,
    pub alternatives: Vec<(String, f32)>,
}

/// What a generation measured about itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub answer_tokens: usize,
    /// From the request to the first piece of text: queueing, reading the prompt, one decoding step.
    pub time_to_first_token: Duration,
    /// Reading the prompt, as the backend measured it.
    pub prompt_tokens_per_s: f64,
    /// Writing the answer after the first token.
    pub decode_tokens_per_s: f64,
    pub total: Duration,
}

/// One event of a streamed generation. The stream ends after `Finished` or `Failed`.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenEvent {
    Text(String),
    /// The token the next `Text` holds, with its probability (only when `Sampling::alternatives` asks).
    Choice(TokenChoice),
    Finished(GenerationStats),
    Failed(String),
}

/// A running generation: its events, in order. Dropping it cancels the generation.
pub struct Generation {
    pub events: mpsc::Receiver<TokenEvent>,
}

impl Generation {
    /// Waits for the whole text (for callers that do not stream).
    pub async fn collect(mut self) -> Result<(String, GenerationStats)> {
        let mut text = String::new();
        while let Some(event) = self.events.recv().await {
            match event {
                TokenEvent::Text(piece) => text.push_str(&piece),
                TokenEvent::Choice(_) => {}
                TokenEvent::Finished(stats) => return Ok((text, stats)),
                TokenEvent::Failed(reason) => return Err(LlmError::Generation(reason)),
            }
        }
        Err(LlmError::Generation("the model stopped without finishing the answer".into()))
    }
}

/// A chat model that streams its answer. Implementations load their weights once and are shared by all
/// requests of a process; CPU work runs off the async threads.
#[async_trait::async_trait]
pub trait ChatModel: Send + Sync {
    /// A name for logs and reports (the model file's name).
    fn name(&self) -> &str;
    /// Tokens of prompt plus answer the model is prepared for.
    fn context_tokens(&self) -> usize;
    /// Tokens `text` takes in this model's vocabulary.
    async fn count_tokens(&self, text: &str) -> Result<usize>;
    /// Starts a generation; fails at once with [`LlmError::Busy`] when the queue is full.
    async fn generate(&self, messages: Vec<ChatMessage>, sampling: Sampling) -> Result<Generation>;
}
