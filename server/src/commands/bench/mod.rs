//! `lore bench ...`: benchmarks that print numbers (recorded in BENCHMARKS.md).

mod generate;
mod ingest;
mod search;
mod synthetic;

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
}

pub async fn run(config: Config, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(config, args).await,
        BenchCommand::Search(args) => search::run(config, args).await,
        BenchCommand::Generate(args) => generate::run(config, args).await,
    }
}

/// A line of `/proc/self/status` (e.g. `VmHWM`), in MiB.
fn proc_status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    proc_status_mib("VmHWM:")
}

/// Resident memory of this process now, in MiB.
fn rss_mib() -> f64 {
    proc_status_mib("VmRSS:")
}
