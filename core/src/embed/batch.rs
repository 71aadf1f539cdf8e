//! Concurrent embedding requests merged into one model call: give it an [`Embedder`], get one that
//! embeds the texts of every request waiting at the moment the model frees up in a single batch.
//!
//! Group commit, without a thread of its own: a caller that finds the model idle runs it for everything
//! queued (its own texts and those of callers who arrived meanwhile, up to `max_texts`); the others wait
//! for their share. One query alone is embedded at once, as before; fifty at once become a few
//! batched calls instead of fifty one-text calls, which costs the model far less per text.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::{EmbedError, Embedder, Result};

pub struct BatchingEmbedder {
    inner: Arc<dyn Embedder>,
    max_texts: usize,
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Default)]
struct State {
    next_id: u64,
    waiting: Vec<Waiting>,
    /// Someone is running the model now.
    busy: bool,
    done: HashMap<u64, std::result::Result<Vec<Vec<f32>>, String>>,
}

struct Waiting {
    id: u64,
    texts: Vec<String>,
}

impl BatchingEmbedder {
    /// `max_texts` bounds one batch (a request larger than it runs alone, whole).
    pub fn new(inner: Arc<dyn Embedder>, max_texts: usize) -> Self {
        Self { inner, max_texts: max_texts.max(1), state: Mutex::new(State::default()), finished: Condvar::new() }
    }

    /// Takes requests from the front of the queue while they fit in one batch (at least one).
    fn take_batch(&self, state: &mut State) -> Vec<Waiting> {
        let mut texts = 0;
        let mut taken = 0;
        for request in &state.waiting {
            if taken > 0 && texts + request.texts.len() > self.max_texts {
                break;
            }
            texts += request.texts.len();
            taken += 1;
        }
        state.waiting.drain(..taken).collect()
    }

    fn run(&self, batch: &[Waiting]) -> Vec<(u64, std::result::Result<Vec<Vec<f32>>, String>)> {
        let texts: Vec<&str> = batch.iter().flat_map(|r| r.texts.iter().map(String::as_str)).collect();
        match self.inner.embed(&texts) {
            Ok(vectors) if vectors.len() == texts.len() => {
                let mut vectors = vectors.into_iter();
                batch.iter().map(|r| (r.id, Ok(vectors.by_ref().take(r.texts.len()).collect()))).collect()
            }
            Ok(vectors) => {
                let error = format!("the model returned {} vectors for {} texts", vectors.len(), texts.len());
                batch.iter().map(|r| (r.id, Err(error.clone()))).collect()
            }
            Err(error) => batch.iter().map(|r| (r.id, Err(error.to_string()))).collect(),
        }
    }
}

impl Embedder for BatchingEmbedder {
    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut state = self.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.waiting.push(Waiting { id, texts: texts.iter().map(|t| t.to_string()).collect() });
        loop {
            if let Some(result) = state.done.remove(&id) {
                return result.map_err(EmbedError::Inference);
            }
            if state.busy {
                self.finished.wait(&mut state);
                continue;
            }
            state.busy = true;
            let batch = self.take_batch(&mut state);
            drop(state);
            // A panic in the model must not leave `busy` set, nor the batch's other callers waiting.
            let mut guard = BusyGuard { embedder: self, ids: batch.iter().map(|r| r.id).collect(), armed: true };
            let outcome = self.run(&batch);
            guard.armed = false;
            state = self.state.lock();
            state.busy = false;
            state.done.extend(outcome);
            self.finished.notify_all();
        }
    }
}

/// If the model panics mid-batch: clears `busy` and fails the batch's requests, so nobody waits for ever.
struct BusyGuard<'a> {
    embedder: &'a BatchingEmbedder,
    ids: Vec<u64>,
    armed: bool,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.embedder.state.lock();
        state.busy = false;
        for id in &self.ids {
            state.done.insert(*id, Err("the embedding model panicked".into()));
        }
        self.embedder.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Embeds a text as [its length]; counts calls and remembers batch sizes.
    struct Counting {
        calls: AtomicUsize,
        largest: AtomicUsize,
    }

    impl Embedder for Counting {
        fn dimensions(&self) -> usize {
            1
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            std::thread::sleep(Duration::from_millis(20));
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.largest.fetch_max(texts.len(), Ordering::SeqCst);
            if texts.contains(&"fail") {
                return Err(EmbedError::Inference("bad text".into()));
            }
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[test]
    fn concurrent_requests_share_model_calls_and_each_gets_its_own_vectors() {
        let inner = Arc::new(Counting { calls: AtomicUsize::new(0), largest: AtomicUsize::new(0) });
        let batching = Arc::new(BatchingEmbedder::new(inner.clone(), 16));
        let threads: Vec<_> = (0..32)
            .map(|n| {
                let batching = batching.clone();
                std::thread::spawn(move || {
                    let text = "x".repeat(n + 1);
                    let vectors = batching.embed(&[&text, "ab"]).unwrap();
                    assert_eq!(vectors, vec![vec![(n + 1) as f32], vec![2.0]]);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let calls = inner.calls.load(Ordering::SeqCst);
        assert!(calls < 32, "{calls} model calls for 32 requests");
        assert!(inner.largest.load(Ordering::SeqCst) <= 16, "batches stay bounded");
    }

    #[test]
    fn a_failed_batch_fails_its_requests_and_the_next_ones_still_run() {
        let inner = Arc::new(Counting { calls: AtomicUsize::new(0), largest: AtomicUsize::new(0) });
        let batching = BatchingEmbedder::new(inner, 16);
        assert!(batching.embed(&["fail"]).is_err());
        assert_eq!(batching.embed(&["abc"]).unwrap(), vec![vec![3.0]]);
        let big: Vec<&str> = vec!["a"; 40];
        assert_eq!(batching.embed(&big).unwrap().len(), 40, "a request larger than a batch runs whole");
    }
}
