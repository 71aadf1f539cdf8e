//! `lore worker`: claims ingestion jobs from the job queue in the shared catalog (PostgreSQL) and runs
//! them until stopped. Web replicas (`lore serve --no-worker`) enqueue; any number of workers, on any
//! machines that can read the source folders, share the work: each job runs once, a killed worker's
//! job is taken over when its lease runs out.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use clap::Args;
use lore_core::config::Config;
use lore_ingest::worker::{NoHooks, Worker, WorkerHealth, WorkerSettings};
use serde::Serialize;

use super::signals::ShutdownSignals;
use lore_engine as engine;

/// Lock holder name of a worker.
const WORKER_HOLDER: &str = "lore worker";

/// How a worker's first line on stderr begins once it has loaded its models and takes jobs: what
/// `lore bench workers` (and anything else that starts workers) waits for.
pub const READY_PREFIX: &str = "Lore worker ";

#[derive(Args)]
pub struct WorkerArgs {
    /// Name in the queue and the status pages; default host:process id.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Also answer `GET /healthz` on this address (for container health checks and orchestrators): 200
    /// while the worker hears from its queue, 503 when it has not for longer than a lease.
    #[arg(long, value_name = "HOST:PORT")]
    pub health_addr: Option<SocketAddr>,
}

pub async fn run(config: Config, args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = config.catalog.url.clone() else {
        anyhow::bail!(
            "lore worker takes its jobs from a catalog shared with other processes: set catalog.url = \
             \"postgres://...\" (or LORE_CATALOG__URL); with the embedded catalog, `lore serve` runs its own worker"
        );
    };
    let stop = ShutdownSignals::listen()?;
    // With a Qdrant server (vectors.url) nothing is local; without one, the indexes are this worker's
    // own, in its data directory. Either way a sync cleans up only after its own source.
    let syncer = engine::syncer(&config, WORKER_HOLDER).await?;
    let queue = syncer.stores().queue.clone();
    let name = args.name.unwrap_or_else(default_name);
    let settings = WorkerSettings::from_config(name.clone(), &config.queue);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let patience = settings.policy.lease + settings.idle_poll;
    let worker = Worker::new(Arc::new(syncer), queue, settings, Arc::new(NoHooks));
    if let Some(addr) = args.health_addr {
        serve_health(addr, name.clone(), worker.health(), patience, stop_rx.clone()).await?;
    }
    let worker = tokio::spawn(worker.run(stop_rx));
    eprintln!("{READY_PREFIX}{name} takes jobs from {} (Ctrl-C stops it)", lore_core::catalog::redact_url(&url));
    stop.received().await;
    eprintln!("stopping: the files being ingested are committed and the job goes back to the queue");
    stop_tx.send_replace(true);
    worker.await.context("the worker crashed")?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct HealthReport {
    worker: String,
    healthy: bool,
    /// Since the queue last answered; null before it ever has.
    queue_silence_ms: Option<u64>,
}

/// Serves `/healthz` on `addr` until `stop`.
async fn serve_health(
    addr: SocketAddr,
    name: String,
    health: WorkerHealth,
    patience: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let report = move || {
        let silence = health.silence();
        let healthy = silence.is_some_and(|s| s <= patience);
        let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        let report =
            HealthReport { worker: name.clone(), healthy, queue_silence_ms: silence.map(|s| s.as_millis() as u64) };
        std::future::ready((status, Json(report)))
    };
    let router = Router::new().route("/healthz", get(report));
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stopped).await {
            tracing::error!(%error, "the worker's health endpoint stopped");
        }
    });
    Ok(())
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
