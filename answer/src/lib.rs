//! Grounded answers: give it a question, get an answer the local model wrote from the retrieved passages
//! only, every sentence checked against them, every citation resolved to an exact document span; or an
//! honest "the documents don't answer this" with the closest sources.
//!
//! - [`Answerer`]: the pipeline (condense a follow-up, retrieve, select, prompt, generate, check).
//! - [`evidence`]: every sentence of the hits scored as evidence for the question, best first.
//! - [`context`]: which sentences of which hits the prompt quotes, within a token budget.
//! - [`prompt`]: the messages, and recognising the model's own refusal.
//! - [`guard`]: the sentence-by-sentence check after generation.
//! - [`confidence`]: how sure the model was of its draft, from its tokens' probabilities.
//! - [`links`]: links and images in an answer only where a cited passage has them, inside the company.
//! - [`sentences`], [`terms`]: sentence splitting; content words and facts (numbers, dates, names).

mod answerer;
pub mod confidence;
pub mod context;
pub mod evidence;
pub mod guard;
pub mod links;
pub mod prompt;
pub mod sentences;
pub mod terms;

pub use answerer::{Abstention, Answer, AnswerEvent, AnswerTimings, Answerer, Citation, Question, Thresholds, Turn};

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error(transparent)]
    Search(#[from] lore_retrieve::SearchError),
    #[error(transparent)]
    Generation(#[from] lore_llm::LlmError),
    #[error("cannot embed the answer for its check: {0}")]
    Embed(#[from] lore_core::embed::EmbedError),
    #[error("an answer worker thread crashed")]
    Worker,
}
