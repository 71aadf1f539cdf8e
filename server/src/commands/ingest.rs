//! `lore ingest PATH`: sync a folder into the data directory, once or continuously (`--watch`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use lore_core::config::Config;
use lore_ingest::{SyncOptions, SyncReport};

use super::progress::BarProgress;
use crate::terminal::{rate, thousands};
use lore_engine as engine;

#[derive(Args)]
pub struct IngestArgs {
    /// Folder to index (recursively).
    pub path: PathBuf,
    /// Name of the source; default: the folder's name.
    #[arg(long)]
    pub source: Option<String>,
    /// Principal allowed to read this source's documents (repeatable). A new source defaults to
    /// everyone; an existing one keeps its ACL unless this is given, and changing it relabels every
    /// indexed chunk of the source at once.
    #[arg(long = "acl", value_name = "PRINCIPAL")]
    pub acl: Vec<String>,
    /// Keep running and re-sync whenever files change.
    #[arg(long)]
    pub watch: bool,
    /// Read again files that failed before, even if they did not change.
    #[arg(long)]
    pub retry_failed: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub async fn run(config: Config, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let options = sync_options(&args)?;
    // Listening before the data directory is locked: a Ctrl-C from then on is never lost, even while
    // the model loads, and even when the process was started with SIGINT ignored (`nohup`, `cmd &`),
    // which the handler replaces only once it is installed.
    let cancel = Arc::new(AtomicBool::new(false));
    cancel_on_ctrl_c(cancel.clone())?;
    let syncer = engine::syncer(&config, "lore ingest").await?;
    let progress = Arc::new(BarProgress::new(args.quiet || args.json));
    if !args.json && !args.quiet {
        eprintln!("Ingesting {} as source '{}'", options.root.display(), options.source);
    }
    let print = |report: &SyncReport| {
        progress.finish();
        if args.json {
            println!("{}", serde_json::to_string(report).expect("the report serialises"));
        } else {
            print_report(report);
        }
    };
    if args.watch {
        if !args.json {
            eprintln!("Watching for changes; Ctrl-C to stop.");
        }
        lore_ingest::watch::watch(&syncer, &options, progress.clone(), cancel, print).await?;
    } else {
        let report = syncer.sync(&options, progress.clone(), cancel).await?;
        print(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn sync_options(args: &IngestArgs) -> anyhow::Result<SyncOptions> {
    if !args.path.exists() {
        bail!("{} does not exist", args.path.display());
    }
    if !args.path.is_dir() {
        bail!("{} is not a folder; lore ingest takes a folder", args.path.display());
    }
    let root = std::fs::canonicalize(&args.path).with_context(|| format!("cannot resolve {}", args.path.display()))?;
    let source = match &args.source {
        Some(name) if name.trim().is_empty() => bail!("--source needs a non-empty name"),
        Some(name) => name.trim().to_string(),
        None => root.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "root".into()),
    };
    let acl = (!args.acl.is_empty()).then(|| args.acl.clone());
    Ok(SyncOptions { source, root, acl, retry_failed: args.retry_failed })
}

/// First Ctrl-C: finish and commit the files in flight, then stop. Second: stop now (the next run
/// cleans up whatever was half-written). The handler is installed before this returns (a signal that
/// arrives before the task first runs is kept, not lost).
fn cancel_on_ctrl_c(cancel: Arc<AtomicBool>) -> anyhow::Result<()> {
    let mut interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for Ctrl-C")?;
    tokio::spawn(async move {
        if interrupts.recv().await.is_some() {
            eprintln!("\nstopping after the files in progress (Ctrl-C again to stop at once)…");
            cancel.store(true, Ordering::Relaxed);
            if interrupts.recv().await.is_some() {
                eprintln!("stopped; the next run will clean up and continue");
                std::process::exit(130);
            }
        }
    });
    Ok(())
}

fn print_report(report: &SyncReport) {
    let c = &report.counts;
    let secs = report.elapsed.as_secs_f64();
    if report.recovery.purged_documents > 0 {
        println!(
            "recovered from an interrupted run: {} half-written documents purged and re-indexed",
            report.recovery.purged_documents
        );
    }
    println!(
        "source '{}'{}",
        report.source,
        if report.interrupted { " (interrupted: run again to finish)" } else { "" }
    );
    println!(
        "  indexed    {:>8}  ({} chunks, {} pages)",
        thousands(c.indexed),
        thousands(c.chunks),
        thousands(report.pages)
    );
    println!("  unchanged  {:>8}", thousands(c.unchanged));
    println!("  removed    {:>8}", thousands(c.removed));
    println!("  failed     {:>8}", thousands(report.failures.len() as u64));
    for failure in &report.failures {
        println!("    {}: {}", failure.path, failure.error);
    }
    println!(
        "  took {secs:.1} s: {} files/s, {} pages/s, {} chunks/s",
        rate(c.indexed, secs),
        rate(report.pages, secs),
        rate(c.chunks, secs)
    );
}
