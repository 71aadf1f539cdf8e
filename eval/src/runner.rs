//! Give it a retriever over an index of a dataset's documents, get metrics per ranking mode; queries run
//! one at a time, so latencies are those of a single user on an idle machine.

use std::collections::{BTreeMap, HashMap};

use lore_core::config::{FusionMethod, RetrievalConfig};
use lore_core::{DocumentId, SearchFilter};
use lore_retrieve::fusion::Scored;
use lore_retrieve::{fuse, Access, Hit, Mode, Retriever, SearchRequest};
use serde::Serialize;

use crate::dataset::EvalQuery;
use crate::metrics::{Accumulator, Metrics};
use crate::EvalError;

/// Hits each query asks for: the deepest metric is @10.
const DEPTH: usize = 10;

/// The four rankings an evaluation compares.
pub const MODES: [Mode; 4] =
    [Mode::Bm25, Mode::Dense, Mode::Hybrid(FusionMethod::Rrf), Mode::Hybrid(FusionMethod::Convex)];

/// Which dataset document each indexed document is.
pub type DocumentMap = HashMap<DocumentId, String>;

/// Eval document ids in ranked order, each once (a collapsed copy counts where its original ranks).
fn documents_of(hits: &[Hit], documents: &DocumentMap) -> Vec<String> {
    let mut ranking: Vec<String> = Vec::new();
    let ids =
        hits.iter().flat_map(|hit| std::iter::once(hit.document_id).chain(hit.also_in.iter().map(|d| d.document_id)));
    for id in ids {
        if let Some(doc) = documents.get(&id) {
            if !ranking.contains(doc) {
                ranking.push(doc.clone());
            }
        }
    }
    ranking
}

/// Runs every query in every mode through [`Retriever::search`], as a user who may read everything.
pub async fn evaluate(
    retriever: &Retriever,
    queries: &[EvalQuery],
    documents: &DocumentMap,
    mut progress: impl FnMut(usize),
) -> Result<BTreeMap<&'static str, Metrics>, EvalError> {
    let mut accumulators: BTreeMap<&'static str, Accumulator> = BTreeMap::new();
    for (done, query) in queries.iter().enumerate() {
        for mode in MODES {
            let request = SearchRequest {
                limit: DEPTH,
                mode: Some(mode),
                ..SearchRequest::new(&query.text, Access::Unrestricted)
            };
            let results = retriever.search(&request).await?;
            let ranking = documents_of(&results.hits, documents);
            accumulators.entry(mode.name()).or_default().add(&ranking, &query.relevant, Some(results.timings.total_ms));
        }
        progress(done + 1);
    }
    Ok(accumulators.into_iter().map(|(name, acc)| (name, acc.finish())).collect())
}

/// One fusion setting's quality on the dataset.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub fusion: FusionMethod,
    /// `rrf_k` for RRF, `convex_alpha` for the convex combination.
    pub parameter: f32,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// Fuses each query's candidates with a range of settings (the same candidates for every setting), to
/// choose `retrieval.rrf_k` and `retrieval.convex_alpha` from data. Latency is not measured here.
pub async fn sweep(
    retriever: &Retriever,
    queries: &[EvalQuery],
    documents: &DocumentMap,
    mut progress: impl FnMut(usize),
) -> Result<Vec<SweepPoint>, EvalError> {
    let mut settings: Vec<(FusionMethod, f32)> =
        [1.0, 5.0, 10.0, 20.0, 40.0, 60.0, 100.0].map(|k| (FusionMethod::Rrf, k)).to_vec();
    settings.extend((1..=9).map(|tenths| (FusionMethod::Convex, tenths as f32 / 10.0)));
    let mut accumulators = vec![Accumulator::default(); settings.len()];
    let base = retriever.config().clone();
    for (done, query) in queries.iter().enumerate() {
        let candidates = retriever
            .candidates(&query.text, &SearchFilter::default(), Mode::Hybrid(base.fusion), base.candidates)
            .await?;
        for ((fusion, parameter), accumulator) in settings.iter().zip(&mut accumulators) {
            let config = match fusion {
                FusionMethod::Rrf => RetrievalConfig { rrf_k: *parameter, ..base.clone() },
                FusionMethod::Convex => RetrievalConfig { convex_alpha: *parameter, ..base.clone() },
            };
            let ranking = chunk_documents(&fuse(Mode::Hybrid(*fusion), &candidates, &config), documents);
            accumulator.add(&ranking, &query.relevant, None);
        }
        progress(done + 1);
    }
    Ok(settings
        .into_iter()
        .zip(accumulators)
        .map(|((fusion, parameter), acc)| SweepPoint { fusion, parameter, metrics: acc.finish() })
        .collect())
}

/// Eval document ids of a chunk ranking, each once, cut at [`DEPTH`].
fn chunk_documents(ranking: &[Scored], documents: &DocumentMap) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scored in ranking {
        if let Some(doc) = documents.get(&scored.chunk.document()) {
            if !out.contains(doc) {
                out.push(doc.clone());
            }
        }
        if out.len() == DEPTH {
            break;
        }
    }
    out
}
