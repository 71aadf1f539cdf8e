//! `lore bench ingest FOLDER`: ingestion throughput against the embedder's own.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use lore_core::config::Config;
use lore_core::EVERYONE;
use lore_ingest::progress::NoProgress;
use lore_ingest::{Stores, SyncOptions, SyncReport, Syncer};
use serde::Serialize;

use super::peak_rss_mib;
use crate::commands::progress::BarProgress;
use crate::terminal::thousands;
use lore_engine as engine;

#[derive(Args)]
pub struct IngestBenchArgs {
    /// Folder of documents to ingest.
    pub path: PathBuf,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Chunks, spread evenly over the corpus, that the embedder-alone measurement embeds.
    #[arg(long, default_value_t = 2000)]
    pub embedder_sample: usize,
}

#[derive(Serialize)]
struct IngestBench {
    files: u64,
    pages: u64,
    chunks: u64,
    failed: u64,
    model_load_s: f64,
    ingest_s: f64,
    pages_per_s: f64,
    chunks_per_s: f64,
    /// Chunks embedded for the embedder-alone measurement (a sample of the corpus's chunks).
    embedder_sample_chunks: u64,
    embedder_only_s: f64,
    embedder_chunks_per_s: f64,
    /// Ingestion throughput over the embedder's raw throughput (target: at least 0.8).
    ingest_to_embedder_ratio: f64,
    rerun_unchanged_s: f64,
    peak_rss_mib: f64,
    cores: usize,
}

pub async fn run(mut config: Config, args: IngestBenchArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir().context("cannot create a temporary data directory")?;
    config.data_dir = scratch.path().join("data");
    let root = std::fs::canonicalize(&args.path).with_context(|| format!("cannot read {}", args.path.display()))?;
    let options = SyncOptions { source: "bench".into(), root, acl: Some(vec![EVERYONE.into()]), retry_failed: false };

    let load_started = Instant::now();
    let syncer = engine::syncer(&config, "lore bench ingest").await?;
    let model_load_s = load_started.elapsed().as_secs_f64();

    let progress = Arc::new(BarProgress::new(args.json));
    let cold = syncer.sync(&options, progress.clone(), Arc::new(AtomicBool::new(false))).await?;
    progress.finish();
    let rerun = syncer.sync(&options, Arc::new(NoProgress), Arc::new(AtomicBool::new(false))).await?;

    let texts = sample_evenly(all_chunk_texts(syncer.stores()).await?, args.embedder_sample);
    let sampled = texts.len() as u64;
    let embedder_only_s = embed_all(&syncer, texts).await?;

    let result = summarize(&cold, &rerun, model_load_s, sampled, embedder_only_s);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print(&result, &cold);
    }
    Ok(ExitCode::SUCCESS)
}

async fn all_chunk_texts(stores: &Stores) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    for source in stores.catalog.sources().await? {
        for doc in stores.catalog.documents(source.id).await? {
            texts.extend(stores.catalog.chunks_of(doc.id).await?.into_iter().map(|c| c.text));
        }
    }
    Ok(texts)
}

/// At most `n` items, taken at even intervals so that every part of the corpus is represented.
fn sample_evenly(items: Vec<String>, n: usize) -> Vec<String> {
    if items.len() <= n || n == 0 {
        return items;
    }
    let step = items.len() as f64 / n as f64;
    (0..n).map(|i| items[(i as f64 * step) as usize].clone()).collect()
}

/// Embeds `texts` with the same embedder and grouping as ingestion, nothing else running.
async fn embed_all(syncer: &Syncer, texts: Vec<String>) -> anyhow::Result<f64> {
    let embedder = syncer.embedder().clone();
    let seconds = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        let started = Instant::now();
        for group in texts.chunks(256) {
            let refs: Vec<&str> = group.iter().map(String::as_str).collect();
            embedder.embed(&refs)?;
        }
        Ok(started.elapsed().as_secs_f64())
    })
    .await??;
    Ok(seconds)
}

fn summarize(
    cold: &SyncReport,
    rerun: &SyncReport,
    model_load_s: f64,
    sampled: u64,
    embedder_only_s: f64,
) -> IngestBench {
    let ingest_s = cold.elapsed.as_secs_f64();
    let per_s = |n: u64, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    let chunks_per_s = per_s(cold.counts.chunks, ingest_s);
    let embedder_chunks_per_s = per_s(sampled, embedder_only_s);
    IngestBench {
        files: cold.counts.scanned,
        pages: cold.pages,
        chunks: cold.counts.chunks,
        failed: cold.failures.len() as u64,
        model_load_s,
        ingest_s,
        pages_per_s: per_s(cold.pages, ingest_s),
        chunks_per_s,
        embedder_sample_chunks: sampled,
        embedder_only_s,
        embedder_chunks_per_s,
        ingest_to_embedder_ratio: if embedder_chunks_per_s > 0.0 { chunks_per_s / embedder_chunks_per_s } else { 0.0 },
        rerun_unchanged_s: rerun.elapsed.as_secs_f64(),
        peak_rss_mib: peak_rss_mib(),
        cores: Config::cores(),
    }
}

fn print(r: &IngestBench, cold: &SyncReport) {
    println!(
        "lore bench ingest: {} files, {} pages, {} chunks ({} failed), {} cores",
        r.files,
        thousands(r.pages),
        thousands(r.chunks),
        r.failed,
        r.cores
    );
    for f in &cold.failures {
        println!("  failed {}: {}", f.path, f.error);
    }
    println!("  model load            {:>8.2} s", r.model_load_s);
    println!(
        "  ingest (cold)         {:>8.2} s   {:>8.1} pages/s   {:>8.1} chunks/s",
        r.ingest_s, r.pages_per_s, r.chunks_per_s
    );
    println!(
        "  embedder alone        {:>8.2} s                    {:>8.1} chunks/s",
        r.embedder_only_s, r.embedder_chunks_per_s
    );
    println!("  ingest / embedder     {:>8.2}   (target >= 0.80)", r.ingest_to_embedder_ratio);
    println!("  re-run, no changes    {:>8.2} s   (target < 5 s)", r.rerun_unchanged_s);
    println!("  peak RSS              {:>8.0} MiB", r.peak_rss_mib);
}
