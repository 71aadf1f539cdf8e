//! `lore bench ...`: benchmarks that print numbers (recorded in BENCHMARKS.md).

mod auth;
mod generate;
mod ingest;
mod search;
mod synthetic;
mod workers;

use std::process::ExitCode;

use clap::Subcommand;
use lore_core::config::Config;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest a folder into a fresh temporary data directory; report pages/s, chunks/s, the embedder's
    /// raw throughput on the same chunks, and the time of a re-run with nothing changed.
    Ingest(ingest::IngestBenchArgs),
    /// Build a corpus of N chunks from real sentences (kept between runs), then report search latency
    /// one query at a time and under concurrent load, index size and memory.
    Search(search::SearchBenchArgs),
    /// Prompt reading and answer writing speed of the local model in mistral.rs, beside llama.cpp on the
    /// same GGUF file (scripts/bench-generate.sh), with time to first token and peak memory.
    Generate(generate::GenerateBenchArgs),
    /// Ingest a corpus (one source per subfolder) with 1, 2, ... `lore worker` processes sharing the job
    /// queue (needs catalog.url and vectors.url), and measure the queue's own cost per job.
    Workers(workers::WorkersBenchArgs),
    /// What signing in costs and what checking a session or an API token adds to each request (on a
    /// temporary SQLite catalog, or a scratch database on catalog.url's PostgreSQL server).
    Auth(auth::AuthBenchArgs),
}

pub async fn run(config: Config, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(config, args).await,
        BenchCommand::Search(args) => search::run(config, args).await,
        BenchCommand::Generate(args) => generate::run(config, args).await,
        BenchCommand::Workers(args) => workers::run(config, args).await,
        BenchCommand::Auth(args) => auth::run(config, args).await,
    }
}

/// Percentiles of a set of latencies, in milliseconds.
#[derive(serde::Serialize, Default)]
struct Latency {
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

impl Latency {
    fn of(samples: &[f64]) -> Self {
        use lore_eval::metrics::percentile;
        Self { p50_ms: percentile(samples, 50.0), p95_ms: percentile(samples, 95.0), p99_ms: percentile(samples, 99.0) }
    }

    /// Prints `  name   p50 .. ms   p95 .. ms   p99 .. ms`, the name padded to `width`, with `decimals`.
    fn print_row(&self, name: &str, width: usize, decimals: usize) {
        let w = decimals + 6;
        println!(
            "  {name:<width$} p50 {:>w$.decimals$} ms   p95 {:>w$.decimals$} ms   p99 {:>w$.decimals$} ms",
            self.p50_ms, self.p95_ms, self.p99_ms
        );
    }
}

/// A line of `/proc/<process>/status` (e.g. `VmHWM`), in MiB.
fn proc_status_mib(process: &str, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb = line.split_whitespace().nth(1)?.parse::<f64>().ok()?;
    Some(kb / 1024.0)
}

/// Resident memory of another process on this machine (a Qdrant server), in MiB.
fn process_rss_mib(pid: u32) -> Option<f64> {
    proc_status_mib(&pid.to_string(), "VmRSS:")
}

/// Peak resident memory of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    proc_status_mib("self", "VmHWM:").unwrap_or(0.0)
}

/// Resident memory of this process now, in MiB.
fn rss_mib() -> f64 {
    proc_status_mib("self", "VmRSS:").unwrap_or(0.0)
}
