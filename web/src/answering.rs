//! Give it a question, get its answer's events as they happen, then the answer: the one way every
//! endpoint that answers (`/api/ask`, `/v1/chat/completions`, the answer page) runs the model, so each
//! gets the same admission (503 beyond `generation.queue`), metrics and cancellation.

use lore_answer::{Answer, AnswerEvent, Question, Turn};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::state::AppState;

/// Events waiting for a slow client before the answer pauses for it.
const EVENT_BUFFER: usize = 256;

/// Earlier turns one request may carry (the answerer uses the last `answer.history_turns`).
pub const MAX_HISTORY_TURNS: usize = 20;

/// The conversation a request carries, refused when it is longer than a person's: at most
/// [`MAX_HISTORY_TURNS`] turns, each question within `max_chars` and each answer within four times that.
pub fn bounded_history(history: Vec<Turn>, max_chars: usize) -> Result<Vec<Turn>, ApiError> {
    if history.len() > MAX_HISTORY_TURNS {
        return Err(ApiError::TooLarge(format!(
            "the conversation has {} earlier turns; at most {MAX_HISTORY_TURNS} are accepted",
            history.len()
        )));
    }
    let answer_chars = max_chars.saturating_mul(4);
    for turn in &history {
        if turn.question.chars().count() > max_chars || turn.answer.chars().count() > answer_chars {
            return Err(ApiError::TooLarge(format!(
                "an earlier turn is too long: questions may have {max_chars} characters, answers {answer_chars}"
            )));
        }
    }
    Ok(history)
}

pub enum Streamed {
    Event(AnswerEvent),
    Done(Box<Result<Answer, ApiError>>),
}

/// Admits `question` (or refuses at once: still loading, or the queue is full) and answers it on a task
/// of its own. Dropping the receiver (the client went away) stops the generation.
pub fn start(state: &AppState, question: Question) -> Result<mpsc::Receiver<Streamed>, ApiError> {
    let max_chars = state.config.server.max_question_chars;
    let chars = question.text.chars().count();
    if question.text.trim().is_empty() {
        return Err(ApiError::BadRequest("the question is empty: type a question".into()));
    }
    if chars > max_chars {
        return Err(ApiError::TooLarge(format!(
            "the question has {chars} characters; at most {max_chars} are accepted"
        )));
    }
    let (answerer, permit) = state.admit_answer()?;
    let (out, receiver) = mpsc::channel(EVENT_BUFFER);
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let mut asking = tokio::spawn(async move { answerer.ask(question, Some(events_tx)).await });
        let mut client_gone = false;
        while let Some(event) = events.recv().await {
            if out.send(Streamed::Event(event)).await.is_err() {
                client_gone = true;
                break;
            }
        }
        if client_gone {
            asking.abort();
            tracing::info!("the client left before its answer was finished; generation stopped");
            return;
        }
        let result = match (&mut asking).await {
            Ok(Ok(answer)) => {
                metrics.observe_answer(&answer);
                Ok(answer)
            }
            Ok(Err(e)) => {
                metrics.answer_failed();
                Err(ApiError::from(e))
            }
            Err(e) => {
                metrics.answer_failed();
                Err(ApiError::internal("the answer task crashed", e))
            }
        };
        let _ = out.send(Streamed::Done(Box::new(result))).await;
    });
    Ok(receiver)
}

/// Waits for the whole answer (for callers that do not stream).
pub async fn complete(state: &AppState, question: Question) -> Result<Answer, ApiError> {
    let mut events = start(state, question)?;
    while let Some(streamed) = events.recv().await {
        if let Streamed::Done(result) = streamed {
            return *result;
        }
    }
    Err(ApiError::Internal("the answer ended without a result".into()))
}
