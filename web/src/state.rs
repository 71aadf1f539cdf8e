//! What every request handler shares: the loaded components, the capacity limits, the ingest jobs, metrics.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lore_answer::Answerer;
use lore_core::accounts::AccountStore;
use lore_core::audit::AuditLog;
use lore_core::catalog::Catalog;
use lore_core::config::Config;
use lore_core::conversations::ConversationStore;
use lore_retrieve::{Retriever, SearchRequest};
use parking_lot::RwLock;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::audit::Auditor;
use crate::auth::Authenticator;
use crate::cache::{ResultCache, Searched};
use crate::error::ApiError;
use crate::ingest_jobs::IngestJobs;
use crate::metrics::Metrics;

/// Where the language model is: answers need it, search does not.
#[derive(Debug, Clone)]
pub enum ModelStatus {
    Loading,
    Ready { name: String },
    Failed(String),
}

/// The parts of the catalog's database the web service uses, each behind its own trait (one value
/// implements them all: the SQLite or PostgreSQL catalog).
pub struct CatalogDb {
    pub catalog: Arc<dyn Catalog>,
    pub accounts: Arc<dyn AccountStore>,
    pub audit: Arc<dyn AuditLog>,
    pub conversations: Arc<dyn ConversationStore>,
}

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Arc<Config>,
    pub catalog: Arc<dyn Catalog>,
    /// Who requests act as: sessions, sign-in, the proxy's header.
    pub auth: Authenticator,
    /// Records who searched, asked, opened and administered what...
    pub audit: Auditor,
    /// ...and the log it writes to, for the Audit page and `/api/audit`.
    pub audit_log: Arc<dyn AuditLog>,
    /// Signed-in users' conversations.
    pub conversations: Arc<dyn ConversationStore>,
    pub retriever: Retriever,
    pub jobs: IngestJobs,
    pub metrics: Metrics,
    /// Emptied whenever a job changes the indexes (see `ingest_jobs`).
    pub results: Arc<ResultCache>,
    answerer: OnceLock<Answerer>,
    model_status: RwLock<ModelStatus>,
    /// Searches running at once: on 2 cores, more than a few only make each one slower.
    search_slots: Semaphore,
    /// Answers running or waiting (`generation.queue`); past it a request gets 503 at once.
    answer_slots: Arc<Semaphore>,
    /// Becomes true when the server starts shutting down: endless streams (live status) end.
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        db: CatalogDb,
        retriever: Retriever,
        jobs: IngestJobs,
        metrics: Metrics,
        results: Arc<ResultCache>,
    ) -> anyhow::Result<Self> {
        let search_slots = Semaphore::new(config.search_concurrency());
        let answer_slots = Arc::new(Semaphore::new(config.generation.queue));
        let CatalogDb { catalog, accounts, audit, conversations } = db;
        Ok(Self(Arc::new(Shared {
            auth: Authenticator::new(config.clone(), accounts)?,
            audit: Auditor::start(audit.clone(), &config.audit),
            audit_log: audit,
            conversations,
            config,
            catalog,
            retriever,
            jobs,
            metrics,
            results,
            answerer: OnceLock::new(),
            model_status: RwLock::new(ModelStatus::Loading),
            search_slots,
            answer_slots,
            shutdown: tokio::sync::watch::channel(false).0,
        })))
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Completes once the server is shutting down.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopping = self.shutdown.subscribe();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    }

    /// A handle that does not keep the server's components alive (for background tasks that may
    /// outlive it, like the model loader).
    pub fn downgrade(&self) -> std::sync::Weak<Shared> {
        Arc::downgrade(&self.0)
    }

    pub fn upgrade(weak: &std::sync::Weak<Shared>) -> Option<Self> {
        weak.upgrade().map(Self)
    }

    pub fn model_loaded(&self, answerer: Answerer, name: String) {
        let _ = self.answerer.set(answerer);
        *self.model_status.write() = ModelStatus::Ready { name };
    }

    pub fn model_failed(&self, reason: String) {
        *self.model_status.write() = ModelStatus::Failed(reason);
    }

    pub fn model_status(&self) -> ModelStatus {
        self.model_status.read().clone()
    }

    /// Runs a search once one of `server.search_concurrency` turns is free; refuses with 503 after
    /// `server.search_queue_timeout_ms` of waiting.
    /// A cached result for the same request since the indexes last changed costs nothing.
    pub async fn search(&self, request: &SearchRequest) -> Result<Arc<Searched>, ApiError> {
        if let Some(results) = self.results.get(request) {
            self.metrics.observe_cached_search();
            return Ok(results);
        }
        let wait = Duration::from_millis(self.config.server.search_queue_timeout_ms);
        let _slot = match tokio::time::timeout(wait, self.search_slots.acquire()).await {
            Ok(slot) => slot.expect("the search semaphore is never closed"),
            Err(_) => {
                return Err(ApiError::Busy {
                    message: "too many searches at once: try again in a moment".into(),
                    retry_after_secs: 1,
                })
            }
        };
        let results = self.retriever.search(request).await?;
        self.metrics.observe_search(&results);
        let searched = Arc::new(Searched::new(results));
        self.results.insert(request, searched.clone());
        Ok(searched)
    }

    /// The answerer and a place in its queue, or why not now (503 with Retry-After either way).
    pub fn admit_answer(&self) -> Result<(Answerer, OwnedSemaphorePermit), ApiError> {
        let answerer = match (self.answerer.get(), self.model_status()) {
            (Some(answerer), _) => answerer.clone(),
            (None, ModelStatus::Failed(_)) => {
                return Err(ApiError::NotReady(
                    "the language model failed to load; the reason is in the server log".into(),
                ))
            }
            (None, _) => return Err(ApiError::NotReady("the language model is still loading".into())),
        };
        let permit = self.answer_slots.clone().try_acquire_owned().map_err(|_| ApiError::Busy {
            message: format!(
                "the language model has {} questions running or waiting: try again shortly",
                self.config.generation.queue
            ),
            retry_after_secs: self.metrics.expected_answer_secs(),
        })?;
        Ok((answerer, permit))
    }

    /// Answers running or waiting now.
    pub fn answer_queue_depth(&self) -> usize {
        self.config.generation.queue - self.answer_slots.available_permits()
    }
}
