//! Ingestion as the web service sees it: give it jobs (sync a source, remove one), they go into the
//! job queue in the catalog's database; get back the queue's live status, the same on every replica.
//!
//! The embedded `lore serve` also runs the worker that claims those jobs (`lore_ingest::worker`) in
//! its own process; a web replica started with `--no-worker` leaves them to `lore worker` processes.
//! Either way the status comes from the queue, read again whenever it announces a change.

use std::sync::Arc;
use std::time::Duration;

use lore_core::config::QueueConfig;
use lore_core::queue::{wait_unless_stopped, Enqueued, JobQueue, JobRecord, JobState, QueueSnapshot, Wake};
use lore_ingest::jobs::{IngestJob, RunProgress, RunSummary};
use lore_ingest::progress::FileOutcome;
use lore_ingest::worker::{Worker, WorkerHooks, WorkerSettings};
use lore_ingest::{ProgressEvent, Syncer};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::cache::ResultCache;
use crate::metrics::Metrics;

/// Finished jobs shown in the status, most recent first.
const RECENT_RUNS: usize = 10;
/// How often the status is read again while jobs are active and nothing was announced (another
/// process's SQLite writes announce nothing here).
const ACTIVE_REFRESH: Duration = Duration::from_millis(500);
/// The same while the queue is idle.
const IDLE_REFRESH: Duration = Duration::from_secs(5);
/// How often finished jobs older than `queue.keep_finished_days` are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The queue as the admin page shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct IngestStatus {
    /// The job running (the oldest, when several workers run jobs): kept for clients that show one.
    pub running: Option<RunProgress>,
    /// Every running job, with the worker that holds it.
    pub running_jobs: Vec<RunningJob>,
    /// Jobs waiting, in order: "sync handbook", "remove old-wiki".
    pub queued: Vec<QueuedJob>,
    /// Finished jobs, most recent first; `outcome` is `dead` for one that failed every attempt.
    pub recent: Vec<RunSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunningJob {
    pub worker: String,
    pub attempt: u32,
    pub max_attempts: u32,
    /// Since the worker last renewed its lease.
    pub heartbeat_age_ms: i64,
    /// The lease ran out without a heartbeat: the worker is probably gone, and the next claim will
    /// take the job over.
    pub stalled: bool,
    pub progress: RunProgress,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QueuedJob {
    pub source: String,
    /// sync or remove
    pub action: String,
    /// Since when the job waits.
    pub enqueued_ms: i64,
    /// Attempts made (a job waiting after a failure has some).
    pub attempts: u32,
    /// Set while the job waits out its backoff after a failed attempt.
    pub retry_at_ms: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl IngestStatus {
    fn from_snapshot(snapshot: &QueueSnapshot) -> Self {
        let running_jobs: Vec<RunningJob> = snapshot
            .active
            .iter()
            .filter(|job| job.state == JobState::Running)
            .map(|job| running_job(job, snapshot.now_ms))
            .collect();
        let queued = snapshot
            .active
            .iter()
            .filter(|job| job.state == JobState::Queued)
            .map(|job| QueuedJob {
                source: job.source.clone(),
                action: job.action.as_str().into(),
                enqueued_ms: job.enqueued_ms,
                attempts: job.attempts,
                retry_at_ms: (job.not_before_ms > snapshot.now_ms).then_some(job.not_before_ms),
                last_error: job.error.clone(),
            })
            .collect();
        let recent = snapshot.finished.iter().map(summary).collect();
        Self { running: running_jobs.first().map(|job| job.progress.clone()), running_jobs, queued, recent }
    }

    /// What changes whenever a job writes to the indexes: chunks committed, phases (a relabel), the
    /// jobs that finished.
    fn writes(&self) -> (Vec<(String, String, u64)>, Option<(i64, String)>) {
        let running = self
            .running_jobs
            .iter()
            .map(|j| (j.progress.source.clone(), j.progress.phase.clone(), j.progress.chunks_committed))
            .collect();
        (running, self.recent.first().map(|r| (r.finished_ms, r.source.clone())))
    }
}

fn running_job(job: &JobRecord, now_ms: i64) -> RunningJob {
    let progress =
        job.progress.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or_else(|| RunProgress {
            source: job.source.clone(),
            action: job.action.as_str().into(),
            phase: "starting".into(),
            started_ms: job.started_ms.unwrap_or(job.enqueued_ms),
            ..RunProgress::default()
        });
    RunningJob {
        worker: job.worker.clone().unwrap_or_default(),
        attempt: job.attempts,
        max_attempts: job.max_attempts,
        heartbeat_age_ms: job.heartbeat_ms.map_or(0, |at| (now_ms - at).max(0)),
        stalled: job.lease_until_ms.is_some_and(|until| until < now_ms),
        progress,
    }
}

fn summary(job: &JobRecord) -> RunSummary {
    let finished_ms = job.finished_ms.unwrap_or_default();
    match (job.state, job.result.as_deref().and_then(|json| serde_json::from_str::<RunSummary>(json).ok())) {
        (JobState::Done, Some(summary)) => summary,
        _ => {
            let error = job.error.as_deref().unwrap_or("no summary was recorded");
            let message = format!("{error} (gave up after {} attempts)", job.attempts);
            RunSummary {
                outcome: "dead".into(),
                ..RunSummary::of_failure(&job.source, job.action.as_str(), &message, finished_ms)
            }
        }
    }
}

/// Handle to the queue for request handlers; cheap to clone.
#[derive(Clone)]
pub struct IngestJobs {
    queue: Arc<dyn JobQueue>,
    config: QueueConfig,
    status: watch::Sender<IngestStatus>,
    stop: watch::Sender<bool>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// Held from reading the queue to publishing what was read, so an older read never replaces a newer.
    reading: Arc<tokio::sync::Mutex<()>>,
}

/// What a starting worker does with jobs the queue says are running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Nothing else can be running them (the embedded catalog, under the data directory's lock): they
    /// are a previous process's, taken over at once.
    AtOnce,
    /// Other workers share the queue: a job is taken over only when its lease runs out.
    AfterLease,
}

impl IngestJobs {
    /// Watches the queue's status. `results` is emptied whenever a job commits or finishes.
    pub fn watch(queue: Arc<dyn JobQueue>, config: QueueConfig, results: Arc<ResultCache>) -> Self {
        let jobs = Self {
            queue,
            config,
            status: watch::channel(IngestStatus::default()).0,
            stop: watch::channel(false).0,
            tasks: Arc::new(Mutex::new(Vec::new())),
            reading: Arc::new(tokio::sync::Mutex::new(())),
        };
        let monitor = tokio::spawn(jobs.clone().monitor(results));
        jobs.tasks.lock().push(monitor);
        jobs
    }

    /// Also runs the jobs, in this process.
    pub async fn run_worker(
        &self,
        syncer: Arc<Syncer>,
        metrics: Metrics,
        results: Arc<ResultCache>,
        takeover: Takeover,
    ) {
        if takeover == Takeover::AtOnce {
            match self.queue.expire_leases().await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(jobs = n, "taking over ingest jobs a previous server left running"),
                Err(error) => tracing::error!(%error, "cannot take over the jobs a previous server left running"),
            }
        }
        let settings = WorkerSettings::from_config(format!("embedded:{}", std::process::id()), &self.config);
        let hooks = Arc::new(ServerHooks { metrics, results });
        let worker = Worker::new(syncer, self.queue.clone(), settings, hooks);
        let task = tokio::spawn(worker.run(self.stop.subscribe()));
        self.tasks.lock().push(task);
    }

    /// Queues a job unless the same one is already waiting. Returns whether it was added.
    pub async fn enqueue(&self, job: IngestJob) -> Result<bool, lore_core::catalog::CatalogError> {
        if *self.stop.borrow() {
            return Ok(false);
        }
        let enqueued = self.queue.enqueue(&job.request(), self.config.max_attempts).await?;
        // The caller's next look at the status shows the job (the monitor may not have woken yet).
        self.refresh().await?;
        Ok(matches!(enqueued, Enqueued::Added(_)))
    }

    /// Reads the queue and publishes its status; returns it.
    async fn refresh(&self) -> Result<IngestStatus, lore_core::catalog::CatalogError> {
        let _reading = self.reading.lock().await;
        let status = IngestStatus::from_snapshot(&self.queue.snapshot(RECENT_RUNS).await?);
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status.clone();
            changed
        });
        Ok(status)
    }

    pub fn status(&self) -> IngestStatus {
        self.status.borrow().clone()
    }

    /// Every change of the status, for a live page.
    pub fn subscribe(&self) -> watch::Receiver<IngestStatus> {
        self.status.subscribe()
    }

    /// Jobs running or waiting.
    pub fn depth(&self) -> usize {
        let status = self.status.borrow();
        status.running_jobs.len() + status.queued.len()
    }

    /// Stops the worker (its running sync commits its files in flight and the job goes back to the
    /// queue) and the status monitor, and waits for both.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
    }

    async fn monitor(self, results: Arc<ResultCache>) {
        let mut stop = self.stop.subscribe();
        let mut waiter = None;
        let mut pruned_at: Option<std::time::Instant> = None;
        let mut seen_writes = None;
        while !*stop.borrow() {
            if waiter.is_none() {
                waiter = self.queue.waiter(Wake::Change).await.ok();
            }
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(std::time::Instant::now());
                let before = lore_core::types::now_ms() - (self.config.keep_finished_days as i64) * 86_400_000;
                if let Err(error) = self.queue.prune(before).await {
                    tracing::warn!(%error, "cannot prune finished ingest jobs");
                }
            }
            let refresh = match self.refresh().await {
                Ok(status) => {
                    // A worker (perhaps in another process) changed the indexes: cached results may be
                    // stale, or show what an ACL change has just hidden.
                    let writes = status.writes();
                    if seen_writes.as_ref().is_some_and(|seen| *seen != writes) {
                        results.clear();
                    }
                    seen_writes = Some(writes);
                    if !status.running_jobs.is_empty() || !status.queued.is_empty() {
                        ACTIVE_REFRESH
                    } else {
                        IDLE_REFRESH
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the ingest job queue");
                    IDLE_REFRESH
                }
            };
            wait_unless_stopped(&mut waiter, refresh, &mut stop).await;
        }
    }
}

/// The in-process worker's effects on this server: ingest counters, and cached results emptied as
/// soon as the indexes change.
struct ServerHooks {
    metrics: Metrics,
    results: Arc<ResultCache>,
}

impl WorkerHooks for ServerHooks {
    fn progress(&self, event: &ProgressEvent<'_>) {
        match event {
            ProgressEvent::Embedded { chunks } => self.metrics.embedded_chunks(*chunks),
            ProgressEvent::Committed { .. } | ProgressEvent::Relabeled { .. } => self.results.clear(),
            ProgressEvent::FileDone { outcome, .. } => self.metrics.ingested_file(match outcome {
                FileOutcome::Indexed => "indexed",
                FileOutcome::Unchanged => "unchanged",
                FileOutcome::Failed => "failed",
            }),
            _ => {}
        }
    }

    fn finished(&self) {
        self.results.clear();
    }
}
