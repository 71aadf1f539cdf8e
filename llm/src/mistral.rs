//! mistral.rs over a local GGUF file: tokenizer and chat template come from the file, no hub is contacted.
//!
//! Loading goes through `mistralrs::core`'s lower-level loader rather than `GgufModelBuilder` so that
//! activations are F32: the builder picks F16, which candle computes slowly on CPUs (measured 27 vs 34
//! prompt tokens/s on the 0.5B model, 2 cores).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use either::Either;
use lore_core::config::{Config, WeightFormat};
use mistralrs::core::{GGUFLoaderBuilder, GGUFSpecificConfig, TokenSource};
use mistralrs::{
    AutoDeviceMapParams, DefaultSchedulerMethod, DeviceMapSetting, Model, ModelDType, RequestBuilder, Response,
    SamplingParams, SchedulerConfig, StopTokens, TextMessageRole, TextMessages,
};
use tokio::sync::mpsc;

use crate::admission::{Admission, Ticket};
use crate::{
    ChatMessage, ChatModel, Generation, GenerationStats, LlmError, Result, Role, Sampling, TokenChoice, TokenEvent,
};

/// Sets what candle only reads from the environment: its thread count (rayon's global pool, which
/// nothing else in Lore uses) and whether quantized weights are expanded at load. Call it at the start
/// of `main`, before any other thread exists: changing the environment of a running multi-threaded
/// process races with the threads that read it.
pub fn configure_process(threads: usize, weights: WeightFormat) {
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    match weights {
        WeightFormat::Quantized => {}
        WeightFormat::F32 => std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1"),
        WeightFormat::F16 => std::env::set_var("CANDLE_DEQUANTIZE_ALL_F16", "1"),
    }
}

/// The loaded model, shared by every request of the process.
pub struct MistralModel {
    model: Arc<Model>,
    name: String,
    context_tokens: usize,
    admission: Admission,
}

/// What [`MistralModel::load`] needs, taken from the configuration.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub path: PathBuf,
    pub context_tokens: usize,
    pub threads: usize,
    pub queue: usize,
}

impl LoadOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            path: config.generation_model_path(),
            context_tokens: config.generation.context_tokens,
            threads: config.generation_threads(),
            queue: config.generation.queue,
        }
    }
}

impl MistralModel {
    /// Loads the GGUF file (seconds; CPU and disk bound, so it runs on a blocking thread).
    pub async fn load(options: LoadOptions) -> Result<Self> {
        let path = options.path.clone();
        if !path.is_file() {
            return Err(LlmError::ModelMissing(path));
        }
        let (dir, file) = split_model_path(&path)?;
        if std::env::var("RAYON_NUM_THREADS").ok() != Some(options.threads.to_string()) {
            tracing::warn!(
                threads = options.threads,
                "configure_process was not called with these threads; candle uses rayon's default"
            );
        }
        let started = Instant::now();
        let max_seq_len = options.context_tokens;
        let load_path = path.clone();
        let pipeline = tokio::task::spawn_blocking(move || {
            let loader =
                GGUFLoaderBuilder::new(None, None, dir, vec![file], GGUFSpecificConfig { topology: None }, false, None)
                    .build();
            loader.load_model_from_hf(
                None,
                TokenSource::None,
                &ModelDType::F32,
                &mistralrs::Device::Cpu,
                true,
                DeviceMapSetting::Auto(AutoDeviceMapParams::Text { max_seq_len, max_batch_size: 1 }),
                None,
                None,
            )
        })
        .await
        .map_err(|e| LlmError::Load { path: load_path.clone(), reason: e.to_string() })?
        .map_err(|e| LlmError::Load { path: load_path.clone(), reason: format!("{e:#}") })?;
        // One sequence at a time: on a few cores, interleaving two answers only makes both slower; the
        // others wait in the scheduler, bounded by the admission queue.
        let scheduler = SchedulerConfig::DefaultScheduler {
            method: DefaultSchedulerMethod::Fixed(NonZeroUsize::new(1).expect("1 is not zero")),
        };
        // The prefix cache measured no gain for repeated prompts here and holds KV caches in memory.
        let runner = mistralrs::core::MistralRsBuilder::new(pipeline, scheduler, false, None)
            .with_no_prefix_cache(true)
            .build()
            .await;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        tracing::info!(model = %name, secs = started.elapsed().as_secs_f64(), "language model loaded");
        Ok(Self {
            model: Arc::new(Model::new(runner)),
            name,
            context_tokens: options.context_tokens,
            admission: Admission::new(options.queue),
        })
    }

    /// Requests running or waiting now.
    pub fn queued(&self) -> usize {
        self.admission.in_use()
    }
}

fn split_model_path(path: &Path) -> Result<(String, String)> {
    let invalid = || LlmError::Load { path: path.to_path_buf(), reason: "not a file path".into() };
    let dir = path.parent().ok_or_else(invalid)?;
    let file = path.file_name().ok_or_else(invalid)?;
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    Ok((dir.to_string_lossy().into_owned(), file.to_string_lossy().into_owned()))
}

fn request(messages: Vec<ChatMessage>, sampling: &Sampling) -> RequestBuilder {
    let mut params = if sampling.temperature == 0.0 {
        SamplingParams::deterministic()
    } else {
        SamplingParams {
            temperature: Some(sampling.temperature),
            top_p: Some(sampling.top_p),
            ..SamplingParams::neutral()
        }
    };
    params.max_len = Some(sampling.max_tokens);
    if !sampling.stop.is_empty() {
        params.stop_toks = Some(StopTokens::Seqs(sampling.stop.clone()));
    }
    params.top_n_logprobs = sampling.alternatives;
    let mut builder = RequestBuilder::new().set_sampling(params).return_logprobs(sampling.alternatives > 0);
    for message in messages {
        builder = builder.add_message(role(message.role), &message.content);
    }
    builder
}

fn role(role: Role) -> TextMessageRole {
    match role {
        Role::System => TextMessageRole::System,
        Role::User => TextMessageRole::User,
        Role::Assistant => TextMessageRole::Assistant,
    }
}

impl MistralModel {
    /// Tokens of the whole prompt as the model reads it: chat template, messages, generation prompt.
    async fn prompt_tokens(&self, messages: &[ChatMessage]) -> Result<usize> {
        let chat = messages.iter().fold(TextMessages::new(), |chat, m| chat.add_message(role(m.role), &m.content));
        let tokens = self
            .model
            .tokenize(Either::Left(chat), None, true, true, None)
            .await
            .map_err(|e| LlmError::Generation(format!("applying the chat template: {e}")))?;
        Ok(tokens.len())
    }
}

#[async_trait::async_trait]
impl ChatModel for MistralModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn context_tokens(&self) -> usize {
        self.context_tokens
    }

    async fn count_tokens(&self, text: &str) -> Result<usize> {
        let tokens = self
            .model
            .tokenize(Either::Right(text.to_string()), None, false, false, None)
            .await
            .map_err(|e| LlmError::Generation(format!("tokenizing: {e}")))?;
        Ok(tokens.len())
    }

    async fn generate(&self, messages: Vec<ChatMessage>, sampling: Sampling) -> Result<Generation> {
        let ticket = self.admission.enter()?;
        let prompt_tokens = self.prompt_tokens(&messages).await?;
        if prompt_tokens + sampling.max_tokens > self.context_tokens {
            return Err(LlmError::PromptTooLong {
                prompt: prompt_tokens,
                answer: sampling.max_tokens,
                context: self.context_tokens,
            });
        }
        let (sender, events) = mpsc::channel(64);
        let model = self.model.clone();
        let request = request(messages, &sampling);
        tokio::spawn(stream_answer(model, request, sender, ticket));
        Ok(Generation { events })
    }
}

/// Forwards the model's chunks as [`TokenEvent`]s until the answer ends or the receiver goes away.
async fn stream_answer(model: Arc<Model>, request: RequestBuilder, sender: mpsc::Sender<TokenEvent>, ticket: Ticket) {
    let _ticket = ticket;
    let started = Instant::now();
    let mut first_token: Option<Duration> = None;
    let mut answer_tokens = 0usize;
    let mut stream = match model.stream_chat_request(request).await {
        Ok(stream) => stream,
        Err(e) => {
            let _ = sender.send(TokenEvent::Failed(e.to_string())).await;
            return;
        }
    };
    while let Some(response) = stream.next().await {
        match response {
            Response::Chunk(chunk) => {
                let Some(choice) = chunk.choices.first() else { continue };
                if let Some(logprob) = &choice.logprobs {
                    if sender.send(TokenEvent::Choice(token_choice(logprob))).await.is_err() {
                        return;
                    }
                }
                if let Some(text) = choice.delta.content.as_ref().filter(|t| !t.is_empty()) {
                    first_token.get_or_insert_with(|| started.elapsed());
                    answer_tokens += 1;
                    if sender.send(TokenEvent::Text(text.clone())).await.is_err() {
                        return;
                    }
                }
                if choice.finish_reason.is_some() {
                    let stats = stats_from(chunk.usage.as_ref(), started, first_token, answer_tokens);
                    let _ = sender.send(TokenEvent::Finished(stats)).await;
                    return;
                }
            }
            Response::Done(done) => {
                let stats = stats_from(Some(&done.usage), started, first_token, answer_tokens);
                let _ = sender.send(TokenEvent::Finished(stats)).await;
                return;
            }
            Response::ModelError(reason, _) => {
                let _ = sender.send(TokenEvent::Failed(reason)).await;
                return;
            }
            Response::InternalError(e) | Response::ValidationError(e) => {
                let _ = sender.send(TokenEvent::Failed(e.to_string())).await;
                return;
            }
            _ => {}
        }
    }
    let _ = sender.send(TokenEvent::Failed("the model's stream closed early".into())).await;
}

/// mistral.rs reports base-10 logarithms of the probabilities.
fn token_choice(logprob: &mistralrs::core::ResponseLogprob) -> TokenChoice {
    let probability = |log10: f32| if log10.is_finite() { 10f32.powf(log10) } else { 0.0 };
    TokenChoice {
        text: logprob.token.clone(),
        probability: probability(logprob.logprob),
        alternatives: logprob
            .top_logprobs
            .iter()
            .map(|top| (top.bytes.clone().unwrap_or_default(), probability(top.logprob)))
            .collect(),
    }
}

fn stats_from(
    usage: Option<&mistralrs::Usage>,
    started: Instant,
    first_token: Option<Duration>,
    counted_tokens: usize,
) -> GenerationStats {
    let total = started.elapsed();
    let time_to_first_token = first_token.unwrap_or(total);
    let answer_tokens = usage.map(|u| u.completion_tokens).filter(|&n| n > 0).unwrap_or(counted_tokens);
    let decode_secs = (total - time_to_first_token).as_secs_f64();
    let decode_tokens_per_s =
        if answer_tokens > 1 && decode_secs > 0.0 { (answer_tokens - 1) as f64 / decode_secs } else { 0.0 };
    GenerationStats {
        prompt_tokens: usage.map(|u| u.prompt_tokens).unwrap_or(0),
        answer_tokens,
        time_to_first_token,
        prompt_tokens_per_s: usage.map(|u| u.avg_prompt_tok_per_sec as f64).unwrap_or(0.0),
        decode_tokens_per_s,
        total,
    }
}
