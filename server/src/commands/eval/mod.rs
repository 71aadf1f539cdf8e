//! `lore eval ...`: quality measured on labelled data. Each evaluation builds a fresh index of its dataset
//! in a temporary directory with the real ingestion pipeline, so it measures what users get.

mod answers;
mod retrieval;

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use lore_core::config::Config;
use lore_core::qdrant_server::{QdrantServerIndex, ServerSettings};
use lore_core::EVERYONE;
use lore_eval::corpus::write_corpus;
use lore_eval::dataset::EvalDocument;
use lore_ingest::{SyncOptions, SyncReport, Syncer};

use super::progress::BarProgress;
use lore_engine as engine;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Retrieval quality (Recall@1/5/10, MRR@10, nDCG@10) and latency of BM25, vectors and both fusions.
    Retrieval(retrieval::RetrievalArgs),
    /// Answer quality with the local model, grounding guard on and off: gold answers found, gold
    /// paragraphs cited, abstention on unanswerable questions, unsupported sentences, speed.
    Answers(answers::AnswersArgs),
}

pub async fn run(config: Config, command: EvalCommand) -> anyhow::Result<ExitCode> {
    match command {
        EvalCommand::Retrieval(args) => retrieval::run(config, args).await,
        EvalCommand::Answers(args) => answers::run(config, args).await,
    }
}

/// The source name the evaluation corpus is indexed under.
const EVAL_SOURCE: &str = "eval";

/// A dataset indexed in a temporary data directory, and a temporary collection on the Qdrant server
/// when `vectors.url` names one (both deleted on drop).
struct BuiltIndex {
    syncer: Syncer,
    report: SyncReport,
    /// Corpus file path (relative to the source root) -> dataset document id.
    paths: HashMap<String, String>,
    index_s: f64,
    /// Which engine ranks the `bm25` mode: tantivy, or the server's sparse vectors.
    lexical: &'static str,
    _collection: Option<ScratchCollection>,
    _scratch: tempfile::TempDir,
}

/// A collection made for one evaluation, deleted with every point in it when dropped.
struct ScratchCollection(ServerSettings);

impl Drop for ScratchCollection {
    fn drop(&mut self) {
        let deleted = QdrantServerIndex::connect(self.0.clone()).and_then(|index| index.delete_collection());
        if let Err(error) = deleted {
            tracing::warn!(collection = %self.0.collection, %error, "cannot delete the evaluation's collection");
        }
    }
}

async fn build_index(
    config: &Config,
    documents: &[EvalDocument],
    origin: &Path,
    questions: usize,
) -> anyhow::Result<BuiltIndex> {
    let scratch = tempfile::tempdir().context("cannot create a temporary directory for the evaluation index")?;
    let mut config = config.clone();
    config.data_dir = scratch.path().join("data");
    // The evaluation's catalog is its own, and so is its collection on a Qdrant server: nothing shared
    // is touched.
    config.catalog.url = None;
    config.vectors.collection = format!("lore_eval_{}", std::process::id());
    let collection = ServerSettings::from_config(&config.vectors, config.embedding.dimensions).map(ScratchCollection);
    let lexical = if collection.is_some() { "qdrant-sparse-bm25" } else { "tantivy" };
    let corpus_dir = scratch.path().join("corpus");
    eprintln!("Indexing {} documents from {} (questions: {questions})", documents.len(), origin.display());
    let paths = write_corpus(documents, &corpus_dir)?;
    let started = Instant::now();
    let syncer = engine::syncer(&config, "lore eval").await?;
    let options = SyncOptions {
        source: EVAL_SOURCE.into(),
        root: corpus_dir,
        acl: Some(vec![EVERYONE.into()]),
        retry_failed: false,
    };
    let progress = Arc::new(BarProgress::new(false));
    let report = syncer.sync(&options, progress.clone(), Arc::new(AtomicBool::new(false))).await?;
    progress.finish();
    let index_s = started.elapsed().as_secs_f64();
    Ok(BuiltIndex { syncer, report, paths, index_s, lexical, _collection: collection, _scratch: scratch })
}

fn query_bar(queries: usize, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(queries as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} questions · eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}
