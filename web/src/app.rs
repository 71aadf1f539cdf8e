//! Building and running the server: components loaded, background tasks (initial syncs, re-syncs, the
//! language model's load), connection limits, shutdown. The routes are `router`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use lore_core::config::Config;
use lore_core::datadir::DataDir;
use lore_engine as engine;
use lore_ingest::jobs::IngestJob;
use lore_ingest::sync::RecoveryScope;
use lore_ingest::Syncer;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::cache::ResultCache;
use crate::exposure::{self, AllowedHosts};
use crate::ingest_jobs::{IngestJobs, Takeover};
use crate::listen::{self, ConnectionLimits};
use crate::metrics::Metrics;
use crate::router;
use crate::state::{AppState, CatalogDb};

/// How long shutdown waits for open connections (a streaming answer) before it stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Folders to add as sources (named after the folder) and sync at start, besides the known ones.
    pub ingest: Vec<PathBuf>,
    /// A stateless web replica: jobs go to the shared queue for `lore worker`s to run (requires a
    /// shared catalog and a Qdrant server: `catalog.url`, `vectors.url`).
    pub no_worker: bool,
}

#[derive(Serialize)]
struct ServerFile {
    url: String,
    pid: u32,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    /// `server.json`, when this process holds the data directory.
    server_file: Option<PathBuf>,
}

impl Application {
    /// Opens the stores (the data directory as its one writer, or the shared ones), loads the
    /// embedding models, queues the syncs and binds the address. The language model loads in the
    /// background: search works at once, answers once `/readyz` says so.
    pub async fn build(config: Config, options: ServeOptions) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        exposure::check_bind(options.addr, &config.server, config.auth.effective_mode(&config.server))?;
        if options.no_worker && (config.catalog.url.is_none() || config.vectors.url.is_none()) {
            anyhow::bail!(
                "--no-worker serves from stores other processes write: set catalog.url (PostgreSQL) and \
                 vectors.url (a Qdrant server); without them `lore serve` runs its own worker"
            );
        }
        let stores = engine::open_stores(&config, lore_core::datadir::SERVER_HOLDER).await?;
        let listener =
            TcpListener::bind(options.addr).await.with_context(|| format!("cannot listen on {}", options.addr))?;
        let hosts = AllowedHosts::new(listener.local_addr()?, &config.server);
        let query_embedder = engine::load_query_embedder(&config).await?;
        let retriever = lore_retrieve::Retriever::new(
            stores.text.clone(),
            stores.vectors.clone(),
            query_embedder.clone(),
            config.retrieval.clone(),
        );
        let queue = stores.queue.clone();
        let db = CatalogDb {
            catalog: stores.catalog.clone(),
            accounts: stores.accounts.clone(),
            audit: stores.audit.clone(),
            conversations: stores.conversations.clone(),
        };
        let audit = stores.audit.clone();
        let holds_data_dir = stores.holds_data_dir();
        let metrics = Metrics::new();
        let results = Arc::new(ResultCache::new(config.server.search_cache, config.server.search_cache_mb << 20));
        let jobs = IngestJobs::watch(queue, config.queue.clone(), results.clone());
        if !options.no_worker {
            let chunker = engine::load_chunker(&config)?;
            let ingest_embedder = engine::load_embedder(&config).await?;
            let mut syncer = Syncer::new(config.clone(), stores, ingest_embedder, Arc::new(chunker));
            if config.catalog.url.is_some() {
                // Other workers share the catalog: a sync cleans up only after its own source.
                syncer = syncer.with_recovery(RecoveryScope::Source);
            }
            // Jobs a previous process left running are its own to take over only when nothing else can
            // be running them: the data directory's lock holds the embedded catalog.
            let takeover = if config.catalog.url.is_none() { Takeover::AtOnce } else { Takeover::AfterLease };
            jobs.run_worker(Arc::new(syncer), metrics.clone(), results.clone(), takeover).await;
        }
        if config.auth.effective_mode(&config.server) == lore_core::config::AuthMode::Accounts
            && db.accounts.users().await?.is_empty()
        {
            tracing::warn!(
                "people must sign in (auth.mode = \"accounts\") but no account exists: run `lore admin create NAME`"
            );
        }
        let state = AppState::new(config.clone(), db, retriever, jobs, metrics, results)?;

        queue_initial_syncs(&state, &options.ingest).await?;
        spawn_resync(&state);
        spawn_session_purge(&state);
        spawn_audit_retention(&state, audit);
        spawn_model_loading(&state, query_embedder);

        let url = format!("http://{}", listener.local_addr()?);
        // Only a process that holds the data directory announces itself there.
        let server_file = holds_data_dir.then(|| DataDir::new(&config.data_dir).server_note_path());
        if let Some(file) = &server_file {
            let note = serde_json::to_string(&ServerFile { url, pid: std::process::id() })?;
            std::fs::write(file, note).with_context(|| format!("cannot write {}", file.display()))?;
        }
        Ok(Self { listener, router: router::routes(state.clone(), hosts), state, server_file })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes; then stops accepting, lets open requests finish (for at most
    /// 30 s) and the running ingest commit its files in flight. Connections are limited
    /// (`server.max_connections`, `server.header_timeout_secs`, see `listen`).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, router, state, server_file } = self;
        let signal = {
            let state = state.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: finishing open requests and the files being ingested");
                state.begin_shutdown();
            }
        };
        let limits = ConnectionLimits {
            max_connections: state.config.server.max_connections,
            header_timeout: Duration::from_secs(state.config.server.header_timeout_secs),
            grace: SHUTDOWN_GRACE,
        };
        listen::serve(listener, router, limits, signal).await;
        state.jobs.shutdown().await;
        if let Some(file) = server_file {
            let _ = std::fs::remove_file(file);
        }
        Ok(())
    }
}

/// Every known source, then the `--ingest` folders that are not sources yet.
async fn queue_initial_syncs(state: &AppState, folders: &[PathBuf]) -> anyhow::Result<()> {
    let known = state.catalog.sources().await?;
    for source in &known {
        state.jobs.enqueue(IngestJob::sync(source.name.clone(), source.root.clone(), None)).await?;
    }
    for folder in folders {
        let root = std::fs::canonicalize(folder).with_context(|| format!("cannot use {}", folder.display()))?;
        anyhow::ensure!(root.is_dir(), "{} is not a folder", root.display());
        if known.iter().any(|s| s.root == root) {
            continue;
        }
        let name = root.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "root".into());
        state.jobs.enqueue(IngestJob::sync(name, root, None)).await?;
    }
    Ok(())
}

/// Re-syncs every source every `server.resync_minutes`.
fn spawn_resync(state: &AppState) {
    let minutes = state.config.server.resync_minutes;
    if minutes == 0 {
        return;
    }
    spawn_every(state, Duration::from_secs(minutes * 60), |state| async move {
        match state.catalog.sources().await {
            Ok(sources) => {
                for source in sources {
                    if let Err(e) = state.jobs.enqueue(IngestJob::sync(source.name, source.root, None)).await {
                        tracing::error!(error = %e, "cannot queue a re-sync");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot list the sources to re-sync"),
        }
    });
}

/// Ended sessions are forgotten hourly (they already open nothing: this only keeps the table small).
fn spawn_session_purge(state: &AppState) {
    if state.auth.mode() != lore_core::config::AuthMode::Accounts {
        return;
    }
    spawn_every(state, Duration::from_secs(3600), |state| async move {
        match state.auth.purge_ended_sessions().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "forgot ended sessions"),
            Err(e) => tracing::warn!(error = %e, "cannot forget ended sessions"),
        }
    });
}

/// Events past `audit.retention_days` are forgotten hourly.
fn spawn_audit_retention(state: &AppState, log: Arc<dyn lore_core::audit::AuditLog>) {
    let days = state.config.audit.retention_days;
    if days == 0 || !state.config.audit.enabled {
        return;
    }
    spawn_every(state, Duration::from_secs(3600), move |_| {
        let log = log.clone();
        async move {
            let before = lore_core::now_ms() - (days as i64).saturating_mul(86_400_000);
            match log.purge_before(before).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "forgot audit events past their retention"),
                Err(e) => tracing::warn!(error = %e, "cannot forget old audit events"),
            }
        }
    });
}

/// Runs `task` every `period` (the first time one period after start) until the server stops, without
/// keeping the server's components alive.
fn spawn_every<F, Fut>(state: &AppState, period: Duration, task: F)
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let weak = state.downgrade();
    let stopping = state.stopping();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        every.tick().await;
        tokio::pin!(stopping);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = &mut stopping => return,
            }
            let Some(state) = AppState::upgrade(&weak) else { return };
            task(state).await;
        }
    });
}

/// Loads the language model in the background. The task keeps only a weak handle (and the embedder),
/// so a server that stops during the load is not kept alive by it.
fn spawn_model_loading(state: &AppState, query_embedder: Arc<dyn lore_core::embed::Embedder>) {
    let (weak, config) = (state.downgrade(), state.config.clone());
    tokio::spawn(async move {
        let loaded = engine::load_language_model(&config).await;
        let Some(state) = AppState::upgrade(&weak) else { return };
        match loaded {
            Ok(model) => {
                let name = model.name().to_string();
                tracing::info!(model = %name, "the language model is loaded; answers are available");
                let answerer = engine::answerer_with(&config, state.retriever.clone(), query_embedder, model);
                state.model_loaded(answerer, name);
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the language model failed to load; search still works");
                state.model_failed(format!("{e:#}"));
            }
        }
    });
}
