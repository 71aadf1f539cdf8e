//! `lore worker`: claims ingestion jobs from the job queue in the shared catalog (PostgreSQL) and runs
//! them until stopped. Web replicas (`lore serve --no-worker`) enqueue; any number of workers, on any
//! machines that can read the source folders, share the work: each job runs once, a killed worker's
//! job is taken over when its lease runs out.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use lore_core::catalog::PostgresCatalog;
use lore_core::config::Config;
use lore_core::datadir::DataDir;
use lore_ingest::sync::RecoveryScope;
use lore_ingest::worker::{NoHooks, Worker, WorkerSettings};
use lore_ingest::{Stores, Syncer};

use super::signals::ShutdownSignals;
use crate::engine;

/// Lock holder name of a worker.
const WORKER_HOLDER: &str = "lore worker";

#[derive(Args)]
pub struct WorkerArgs {
    /// Name in the queue and the status pages; default host:process id.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

pub async fn run(config: Config, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = config.catalog.url.clone() else {
        anyhow::bail!(
            "lore worker takes its jobs from a catalog shared with other processes: set catalog.url = \
             \"postgres://...\" (or LORE_CATALOG__URL); with the embedded catalog, `lore serve` runs its own worker"
        );
    };
    let stop = ShutdownSignals::listen()?;
    let catalog = Arc::new(PostgresCatalog::open(&url, config.catalog.max_connections).await?);
    let data_dir = DataDir::create(&config.data_dir)?;
    let lock = data_dir.lock_for_writing(WORKER_HOLDER)?;
    let stores = Stores::open_with_catalog(&data_dir, config.embedding.dimensions, lock, catalog.clone())
        .await
        .with_context(|| format!("cannot open the indexes in {}", config.data_dir.display()))?;
    let queue = stores.queue.clone();
    let chunker = engine::load_chunker(&config)?;
    let embedder = engine::load_embedder(&config).await?;
    let syncer =
        Syncer::new(Arc::new(config.clone()), stores, embedder, Arc::new(chunker)).with_recovery(RecoveryScope::Source);
    let name = args.name.unwrap_or_else(default_name);
    let settings = WorkerSettings {
        name: name.clone(),
        policy: config.queue.policy(),
        heartbeat: Duration::from_millis(config.queue.lease_secs * 1000 / 4),
        idle_poll: Duration::from_secs(5),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Worker::new(Arc::new(syncer), queue, settings, Arc::new(NoHooks)).run(stop_rx));
    eprintln!("Lore worker {name} takes jobs from {} (Ctrl-C stops it)", lore_core::catalog::redact_url(&url));
    stop.received().await;
    eprintln!("stopping: the files being ingested are committed and the job goes back to the queue");
    stop_tx.send_replace(true);
    worker.await.context("the worker crashed")?;
    Ok(ExitCode::SUCCESS)
}

/// `host:pid`: unique among the workers on one queue.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}
