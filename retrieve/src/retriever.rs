//! Give it a search request, get ranked, de-duplicated hits with snippets. BM25 and the vector search run
//! at the same time on blocking threads; both apply the request's filter before they rank.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lore_core::config::{FusionMethod, RetrievalConfig};
use lore_core::embed::Embedder;
use lore_core::text::TextIndex;
use lore_core::vectors::VectorIndex;
use lore_core::{ChunkId, DocumentId, DocumentKind, IndexedChunk, SearchFilter};
use serde::Serialize;

use crate::dedup::Fingerprint;
use crate::fusion::{convex, reciprocal_rank, Scored};
use crate::request::{Mode, SearchRequest};
use crate::snippet::{Highlighter, Snippet};
use crate::SearchError;

/// Deepest result a search serves (`offset + limit`). Paging is for people, and each engine ranks this
/// many candidates: without a bound, a request for page 10^15 would size its buffers from user input.
pub const MAX_DEPTH: usize = 1_000;

/// Where else a collapsed near-duplicate was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duplicate {
    pub document_id: DocumentId,
    pub document_path: String,
    pub title: String,
    pub page: Option<u32>,
}

/// One result: a passage, where it comes from, and why it matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub chunk_id: ChunkId,
    pub document_id: DocumentId,
    pub source: String,
    pub kind: DocumentKind,
    /// Path of the document inside its source.
    pub document_path: String,
    pub title: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub text: String,
    pub snippet: Snippet,
    /// Fused score for hybrid search, BM25 or cosine similarity for a single engine.
    pub score: f32,
    /// Character span of the passage in the document's extracted text.
    pub start: usize,
    pub end: usize,
    /// The same passage in other documents, collapsed into this hit.
    pub also_in: Vec<Duplicate>,
}

/// Milliseconds spent in each stage of one search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    pub bm25_ms: f64,
    pub embed_ms: f64,
    pub vector_ms: f64,
    /// Loading the passages, collapsing duplicates, cutting snippets.
    pub present_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    pub mode: Mode,
    /// The query was longer than `retrieval.max_query_chars` and was cut.
    pub query_truncated: bool,
    pub timings: Timings,
}

/// Each engine's ranking of one query, before fusion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    pub bm25: Vec<Scored>,
    pub dense: Vec<Scored>,
    pub timings: Timings,
}

/// The hybrid search over one set of indexes. Cheap to clone; shares the indexes and the embedder, so
/// searches see what the process's writer commits without reopening anything.
#[derive(Clone)]
pub struct Retriever {
    text: Arc<dyn TextIndex>,
    vectors: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    config: RetrievalConfig,
    query_vectors: Arc<Mutex<QueryVectors>>,
}

/// Embeddings of recent queries: the next page of results, a refined facet or a repeated question
/// costs no inference. Oldest first out; holds `retrieval.query_cache` entries.
struct QueryVectors {
    capacity: usize,
    vectors: HashMap<String, Arc<Vec<f32>>>,
    order: VecDeque<String>,
}

impl QueryVectors {
    fn new(capacity: usize) -> Self {
        Self { capacity, vectors: HashMap::new(), order: VecDeque::new() }
    }

    fn get(&self, query: &str) -> Option<Arc<Vec<f32>>> {
        self.vectors.get(query).cloned()
    }

    fn insert(&mut self, query: &str, vector: Arc<Vec<f32>>) {
        if self.capacity == 0 {
            return;
        }
        if self.vectors.insert(query.to_string(), vector).is_none() {
            self.order.push_back(query.to_string());
            if self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.vectors.remove(&oldest);
                }
            }
        }
    }
}

/// The one ranking a mode makes of an engine's candidates.
pub fn fuse(mode: Mode, candidates: &Candidates, config: &RetrievalConfig) -> Vec<Scored> {
    match mode {
        Mode::Bm25 => candidates.bm25.clone(),
        Mode::Dense => candidates.dense.clone(),
        Mode::Hybrid(FusionMethod::Rrf) => reciprocal_rank(&[&candidates.bm25, &candidates.dense], config.rrf_k),
        Mode::Hybrid(FusionMethod::Convex) => convex(&candidates.bm25, &candidates.dense, config.convex_alpha),
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

impl Retriever {
    pub fn new(
        text: Arc<dyn TextIndex>,
        vectors: Arc<dyn VectorIndex>,
        embedder: Arc<dyn Embedder>,
        config: RetrievalConfig,
    ) -> Self {
        let query_vectors = Arc::new(Mutex::new(QueryVectors::new(config.query_cache)));
        Self { text, vectors, embedder, config, query_vectors }
    }

    pub fn config(&self) -> &RetrievalConfig {
        &self.config
    }

    /// The mode a request without one gets: hybrid with the configured fusion.
    pub fn default_mode(&self) -> Mode {
        Mode::Hybrid(self.config.fusion)
    }

    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let started = Instant::now();
        let (query, query_truncated) = self.prepare_query(&request.query)?;
        let mode = request.mode.unwrap_or(self.default_mode());
        let wanted = request.offset.checked_add(request.limit).filter(|w| *w <= MAX_DEPTH).ok_or_else(|| {
            let asked = request.offset.checked_add(request.limit).map_or("over usize::MAX".into(), |w| w.to_string());
            SearchError::TooDeep { asked, max: MAX_DEPTH }
        })?;
        let depth = self.config.candidates.max(wanted);
        let candidates = self.candidates_for(&query, &request.filter(), mode, depth).await?;
        let ranking = fuse(mode, &candidates, &self.config);
        let this = self.clone();
        let (offset, limit) = (request.offset, request.limit);
        let presenting = Instant::now();
        let hits = tokio::task::spawn_blocking(move || this.present(&query, &ranking, offset, limit))
            .await
            .map_err(|_| SearchError::Worker)??;
        let timings =
            Timings { present_ms: elapsed_ms(presenting), total_ms: elapsed_ms(started), ..candidates.timings };
        tracing::debug!(mode = mode.name(), hits = hits.len(), total_ms = timings.total_ms, "search");
        Ok(SearchResults { hits, mode, query_truncated, timings })
    }

    /// Each engine's top `depth` for a query (the evaluation fuses these itself to compare settings).
    pub async fn candidates(
        &self,
        query: &str,
        filter: &SearchFilter,
        mode: Mode,
        depth: usize,
    ) -> Result<Candidates, SearchError> {
        let (query, _) = self.prepare_query(query)?;
        self.candidates_for(&query, filter, mode, depth).await
    }

    /// The query as the engines get it: not blank, cut to `max_query_chars` characters.
    fn prepare_query(&self, query: &str) -> Result<(String, bool), SearchError> {
        let trimmed = query.trim();
        if trimmed.is_empty() {
            return Err(SearchError::EmptyQuery);
        }
        match trimmed.char_indices().nth(self.config.max_query_chars) {
            Some((cut, _)) => Ok((trimmed[..cut].to_string(), true)),
            None => Ok((trimmed.to_string(), false)),
        }
    }

    async fn candidates_for(
        &self,
        query: &str,
        filter: &SearchFilter,
        mode: Mode,
        depth: usize,
    ) -> Result<Candidates, SearchError> {
        // Spawned before either is awaited, so the two engines run at the same time.
        let bm25 = mode.uses_text().then(|| {
            let (text, query, filter) = (self.text.clone(), query.to_string(), filter.clone());
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let hits = text.search(&query, depth, &filter)?;
                let list = hits.into_iter().map(|h| Scored { chunk: h.chunk, score: h.score }).collect();
                Ok::<_, SearchError>((list, elapsed_ms(started)))
            })
        });
        let dense = mode.uses_vectors().then(|| {
            let (vectors, embedder, cache) = (self.vectors.clone(), self.embedder.clone(), self.query_vectors.clone());
            let (query, filter) = (query.to_string(), filter.clone());
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let known = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&query);
                let vector = match known {
                    Some(vector) => vector,
                    None => {
                        let vector = Arc::new(embedder.embed(&[query.as_str()])?.pop().ok_or(SearchError::Worker)?);
                        cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(&query, vector.clone());
                        vector
                    }
                };
                let embed_ms = elapsed_ms(started);
                let searched = Instant::now();
                let hits = vectors.search(&vector, depth, &filter)?;
                let list = hits.into_iter().map(|h| Scored { chunk: h.chunk, score: h.score }).collect();
                Ok::<_, SearchError>((list, embed_ms, elapsed_ms(searched)))
            })
        });
        let mut candidates = Candidates::default();
        if let Some(task) = bm25 {
            let (list, ms) = task.await.map_err(|_| SearchError::Worker)??;
            candidates.bm25 = list;
            candidates.timings.bm25_ms = ms;
        }
        if let Some(task) = dense {
            let (list, embed_ms, vector_ms) = task.await.map_err(|_| SearchError::Worker)??;
            candidates.dense = list;
            candidates.timings.embed_ms = embed_ms;
            candidates.timings.vector_ms = vector_ms;
        }
        Ok(candidates)
    }

    /// Turns a ranking into hits `offset..offset + limit`: loads the passages, collapses near-duplicates
    /// (a collapsed passage does not take a place), cuts snippets. Blocking.
    fn present(&self, query: &str, ranking: &[Scored], offset: usize, limit: usize) -> Result<Vec<Hit>, SearchError> {
        let wanted = offset.saturating_add(limit);
        let mut kept: Vec<(Hit, Fingerprint)> = Vec::with_capacity(wanted.min(ranking.len()));
        let mut next = 0;
        // Passages are loaded a window at a time: usually the first holds enough distinct ones.
        while kept.len() < wanted && next < ranking.len() {
            let window = &ranking[next..ranking.len().min(next + wanted.max(8) * 3 / 2)];
            next += window.len();
            let ids: Vec<ChunkId> = window.iter().map(|s| s.chunk).collect();
            let mut loaded: HashMap<ChunkId, IndexedChunk> =
                self.text.fetch(&ids)?.into_iter().map(|c| (c.id, c)).collect();
            for scored in window {
                // A chunk deleted between ranking and loading is simply skipped.
                let Some(chunk) = loaded.remove(&scored.chunk) else { continue };
                let fingerprint = Fingerprint::of(&chunk.text);
                let original =
                    kept.iter().position(|(_, seen)| seen.similarity(&fingerprint) >= self.config.duplicate_similarity);
                match original {
                    Some(i) => kept[i].0.also_in.push(Duplicate {
                        document_id: chunk.document.id,
                        document_path: chunk.document.path,
                        title: chunk.document.title,
                        page: chunk.page,
                    }),
                    None if kept.len() < wanted => kept.push((Self::hit(chunk, scored.score), fingerprint)),
                    None => {}
                }
            }
        }
        let highlighter = Highlighter::new(query);
        Ok(kept
            .into_iter()
            .skip(offset)
            .map(|(mut hit, _)| {
                hit.snippet = highlighter.snippet(&hit.text, self.config.snippet_chars);
                hit
            })
            .collect())
    }

    fn hit(chunk: IndexedChunk, score: f32) -> Hit {
        let IndexedChunk { id, document, text, page, heading, start, end } = chunk;
        Hit {
            chunk_id: id,
            document_id: document.id,
            source: document.source,
            kind: document.kind,
            document_path: document.path,
            title: document.title,
            page,
            heading,
            text,
            snippet: Snippet { text: String::new(), highlights: Vec::new() },
            score,
            start,
            end,
            also_in: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_vectors_keep_the_most_recent_and_none_when_off() {
        let mut cache = QueryVectors::new(2);
        for (i, query) in ["a", "b", "c"].into_iter().enumerate() {
            cache.insert(query, Arc::new(vec![i as f32]));
        }
        assert!(cache.get("a").is_none(), "the oldest left");
        assert_eq!(cache.get("c").as_deref(), Some(&vec![2.0]));
        let mut off = QueryVectors::new(0);
        off.insert("a", Arc::new(vec![1.0]));
        assert!(off.get("a").is_none());
    }
}
