//! `lore eval retrieval --squad FILE | --beir DIR`: runs every labelled query in every ranking mode over a
//! fresh index of the dataset, and reports ranking quality and latency.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use lore_core::config::Config;
use lore_eval::dataset::Dataset;
use lore_eval::metrics::Metrics;
use lore_eval::runner::{evaluate, sweep, DocumentMap, SweepPoint};
use lore_retrieve::{Access, Retriever, SearchRequest};
use serde_json::{json, Value};

use super::{build_index, query_bar, EVAL_SOURCE};

#[derive(Args)]
pub struct RetrievalArgs {
    /// SQuAD v2 JSON file: each paragraph is a document, each answerable question a query.
    #[arg(long, value_name = "FILE", conflicts_with = "beir", required_unless_present = "beir")]
    pub squad: Option<PathBuf>,
    /// BEIR folder: corpus.jsonl, queries.jsonl and qrels/test.tsv.
    #[arg(long, value_name = "DIR")]
    pub beir: Option<PathBuf>,
    /// Evaluate only the first N queries.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also re-fuse the same candidates with a range of rrf_k and convex_alpha values.
    #[arg(long)]
    pub sweep: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Queries run before measuring, so that one-time costs (first inference, cold caches) are not timed.
const WARM_UP_QUERIES: usize = 5;

pub async fn run(mut config: Config, args: RetrievalArgs) -> anyhow::Result<ExitCode> {
    let (mut dataset, origin) = match (&args.squad, &args.beir) {
        (Some(file), _) => (Dataset::from_squad(file)?, file.clone()),
        (None, Some(dir)) => (Dataset::from_beir(dir)?, dir.clone()),
        (None, None) => bail!("give a dataset: --squad FILE or --beir DIR"),
    };
    if let Some(limit) = args.limit {
        dataset.queries.truncate(limit);
    }
    // Every mode embeds every query itself, so that each mode's latency includes the embedding.
    config.retrieval.query_cache = 0;
    let built = build_index(&config, &dataset.documents, &origin, dataset.queries.len()).await?;
    let (syncer, report, index_s) = (&built.syncer, &built.report, built.index_s);
    let mut documents = DocumentMap::new();
    let source = syncer.stores().catalog.source_by_name(EVAL_SOURCE).await?.context("the evaluation source exists")?;
    for doc in syncer.stores().catalog.documents(source.id).await? {
        if let Some(id) = built.paths.get(&doc.path) {
            documents.insert(doc.id, id.clone());
        }
    }
    let stores = syncer.stores();
    let retriever = Retriever::new(
        stores.text.clone(),
        stores.vectors.clone(),
        syncer.embedder().clone(),
        config.retrieval.clone(),
    );
    for query in dataset.queries.iter().take(WARM_UP_QUERIES) {
        retriever.search(&SearchRequest::new(&query.text, Access::Unrestricted)).await?;
    }

    let bar = query_bar(dataset.queries.len(), "evaluating");
    let modes = evaluate(&retriever, &dataset.queries, &documents, |done| bar.set_position(done as u64)).await?;
    bar.finish_and_clear();
    let sweep_points = if args.sweep {
        let bar = query_bar(dataset.queries.len(), "sweeping fusion settings");
        let points = sweep(&retriever, &dataset.queries, &documents, |done| bar.set_position(done as u64)).await?;
        bar.finish_and_clear();
        Some(points)
    } else {
        None
    };

    let default = retriever.default_mode().name();
    let run = json!({
        "documents": dataset.documents.len(),
        "indexed_documents": documents.len(),
        "failed_documents": report.failures.len(),
        "chunks": report.counts.chunks,
        "queries": dataset.queries.len(),
        "index_s": index_s,
        "lexical_engine": built.lexical,
        "fusion": config.retrieval,
    });
    if args.json {
        let mut out: serde_json::Map<String, Value> = modes
            .iter()
            .map(|(name, m)| (name.to_string(), serde_json::to_value(m).expect("metrics serialise")))
            .collect();
        out.insert("default".into(), json!(default));
        out.insert("run".into(), run);
        if let Some(points) = &sweep_points {
            out.insert("sweep".into(), json!(points));
        }
        println!("{}", Value::Object(out));
    } else {
        print_table(&modes, default, &run, sweep_points.as_deref());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(modes: &BTreeMap<&str, Metrics>, default: &str, run: &Value, sweep: Option<&[SweepPoint]>) {
    println!(
        "lore eval retrieval: {} queries over {} documents ({} chunks), indexed in {:.1} s; bm25 by {}",
        run["queries"],
        run["indexed_documents"],
        run["chunks"],
        run["index_s"].as_f64().unwrap_or(0.0),
        run["lexical_engine"].as_str().unwrap_or("?")
    );
    println!(
        "  {:<14} {:>8} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "mode", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "p50 ms", "p95 ms"
    );
    let order: HashMap<&str, usize> = [("bm25", 0), ("dense", 1), ("hybrid_rrf", 2), ("hybrid_convex", 3)].into();
    let mut rows: Vec<(&&str, &Metrics)> = modes.iter().collect();
    rows.sort_by_key(|(name, _)| order.get(**name).copied().unwrap_or(usize::MAX));
    for (name, m) in rows {
        let marker = if **name == *default { " (default)" } else { "" };
        println!(
            "  {:<14} {:>8.3} {:>8.3} {:>9.3} {:>8.3} {:>8.3} {:>8.1} {:>8.1}{marker}",
            name, m.recall_1, m.recall_5, m.recall_10, m.mrr_10, m.ndcg_10, m.p50_ms, m.p95_ms
        );
    }
    if let Some(points) = sweep {
        println!("  fusion settings on the same candidates:");
        for p in points {
            let m = &p.metrics;
            println!(
                "    {:<7} {:>5}  R@1 {:.3}  R@5 {:.3}  R@10 {:.3}  MRR@10 {:.3}  nDCG@10 {:.3}",
                format!("{:?}", p.fusion).to_lowercase(),
                p.parameter,
                m.recall_1,
                m.recall_5,
                m.recall_10,
                m.mrr_10,
                m.ndcg_10
            );
        }
    }
}
