//! The ingestion worker: give it a [`Syncer`] and a [`JobQueue`], get every job the queue holds run to
//! its end, one at a time, with its progress in the queue for any web replica to show. `lore worker`
//! runs one on its own; the embedded `lore serve` runs one inside the server.
//!
//! While a job runs, a heartbeat renews its lease and stores its progress. When the lease is lost
//! (this worker stalled and another took the job) the sync stops after the files in flight and
//! nothing is reported. When the worker is asked to stop, the sync commits its files in flight and
//! the job goes back to the queue, to continue where it stopped (syncs are incremental).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lore_core::config::QueueConfig;
use lore_core::queue::{wait_unless_stopped, ClaimedJob, JobEnd, JobQueue, QueuePolicy, QueueWaiter, Wake};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::jobs::{IngestJob, RunProgress, RunSummary};
use crate::sync::Syncer;
use crate::{Progress, ProgressEvent};

/// How a worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Unique among the workers sharing a queue (`lore worker` uses host, process id and start time).
    pub name: String,
    pub policy: QueuePolicy,
    /// How often the lease is renewed and progress stored; a fraction of the lease.
    pub heartbeat: Duration,
    /// How often an idle worker looks at the queue when nothing wakes it (backoffs and expired leases
    /// announce nothing).
    pub idle_poll: Duration,
}

impl WorkerSettings {
    /// Settings from `queue.*`: heartbeats four times per lease.
    pub fn from_config(name: String, queue: &QueueConfig) -> Self {
        Self {
            name,
            policy: queue.policy(),
            heartbeat: Duration::from_millis(queue.lease_secs * 1000 / 4),
            idle_poll: IDLE_POLL,
        }
    }
}

/// How often an idle worker looks at the queue unwoken.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// What the process around the worker wants to hear (metrics, caches to empty). Called from the
/// sync's threads.
pub trait WorkerHooks: Send + Sync {
    fn progress(&self, _event: &ProgressEvent<'_>) {}
    /// A job ended, done or failed (the indexes may have changed).
    fn finished(&self) {}
}

/// Hooks that do nothing.
pub struct NoHooks;

impl WorkerHooks for NoHooks {}

pub struct Worker {
    syncer: Arc<Syncer>,
    queue: Arc<dyn JobQueue>,
    settings: WorkerSettings,
    hooks: Arc<dyn WorkerHooks>,
    health: WorkerHealth,
}

/// How long the worker waits before it asks an unreachable queue again.
const QUEUE_RETRY: Duration = Duration::from_secs(5);

impl Worker {
    pub fn new(
        syncer: Arc<Syncer>,
        queue: Arc<dyn JobQueue>,
        settings: WorkerSettings,
        hooks: Arc<dyn WorkerHooks>,
    ) -> Self {
        Self { syncer, queue, settings, hooks, health: WorkerHealth::default() }
    }

    /// What the worker's health check reads; it keeps following the worker once it runs.
    pub fn health(&self) -> WorkerHealth {
        self.health.clone()
    }

    /// Runs jobs until `stop` turns true; returns after the job in hand is committed and given back.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(worker = %self.settings.name, "ingestion worker started");
        let mut waiter: Option<Box<dyn QueueWaiter>> = None;
        while !*stop.borrow() {
            if waiter.is_none() {
                match self.queue.waiter(Wake::Work).await {
                    Ok(w) => waiter = Some(w),
                    Err(error) => tracing::warn!(%error, "cannot listen for new jobs; polling the queue instead"),
                }
            }
            let claimed = self.queue.claim(&self.settings.name, &self.settings.policy).await;
            if claimed.is_ok() {
                self.health.heard_from_queue();
            }
            match claimed {
                Ok(Some(job)) => self.run_job(job, &stop).await,
                Ok(None) => {
                    wait_unless_stopped(&mut waiter, self.settings.idle_poll, &mut stop).await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot claim from the job queue; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(QUEUE_RETRY) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
        tracing::info!(worker = %self.settings.name, "ingestion worker stopped");
    }

    async fn run_job(&self, claimed: ClaimedJob, stop: &watch::Receiver<bool>) {
        let job = match IngestJob::from_claim(&claimed) {
            Ok(job) => job,
            Err(error) => {
                tracing::error!(%error, job = claimed.id.0, "ingest job cannot be read");
                let end = JobEnd::Failed { error: error.to_string() };
                self.finish(&claimed, end).await;
                return;
            }
        };
        tracing::info!(job = claimed.id.0, source = %claimed.source, action = claimed.action.as_str(),
            attempt = claimed.attempt, "ingest job claimed");
        let progress = Arc::new(JobProgress {
            state: Mutex::new(RunProgress::starting(&job)),
            hooks: self.hooks.clone(),
            wrote: tokio::sync::Notify::new(),
        });
        // Set when the worker must stop the sync early: asked to stop, or the lease is lost.
        let cancel = Arc::new(AtomicBool::new(false));
        let lease_lost = Arc::new(AtomicBool::new(false));
        let heartbeat = Heartbeat {
            queue: self.queue.clone(),
            job: claimed.clone(),
            settings: self.settings.clone(),
            progress: progress.clone(),
            cancel: cancel.clone(),
            lease_lost: lease_lost.clone(),
            health: self.health.clone(),
        };
        let heartbeat = tokio::spawn(heartbeat.run(stop.clone()));
        let started = Instant::now();
        let outcome = match &job {
            IngestJob::Sync(options) => self
                .syncer
                .sync(options, progress.clone(), cancel.clone())
                .await
                .map(|report| RunSummary::of_sync(&options.source, &report, started.elapsed().as_secs_f64())),
            IngestJob::Remove { source } => self
                .syncer
                .remove_source(source)
                .await
                .map(|removed| RunSummary::of_removal(source, removed, started.elapsed().as_secs_f64())),
        };
        heartbeat.abort();
        if lease_lost.load(Ordering::Relaxed) {
            tracing::warn!(job = claimed.id.0, source = %claimed.source,
                "ingest job stopped: its lease ran out and another worker took it");
            return;
        }
        let end = match &outcome {
            Ok(summary) if summary.outcome == "interrupted" => JobEnd::Released,
            Ok(summary) => JobEnd::Done { summary: serde_json::to_string(summary).expect("a summary serialises") },
            Err(error) => JobEnd::Failed { error: error.to_string() },
        };
        match &outcome {
            Ok(summary) => {
                tracing::info!(job = claimed.id.0, source = %summary.source, action = %summary.action,
                    report = %summary.message, "ingest job done");
            }
            Err(error) => {
                tracing::error!(job = claimed.id.0, source = %claimed.source, attempt = claimed.attempt,
                    max_attempts = claimed.max_attempts, %error, "ingest job failed");
            }
        }
        self.hooks.finished();
        self.finish(&claimed, end).await;
    }

    /// Records the end of an attempt, trying a few times while the queue is unreachable (a job whose end
    /// is never recorded is retried once its lease runs out).
    async fn finish(&self, job: &ClaimedJob, end: JobEnd) {
        for attempt in 1..=3 {
            match self.queue.finish(job, &self.settings.policy, end.clone()).await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(job = job.id.0, "ingest job was taken over before it finished here");
                    return;
                }
                Err(error) if attempt < 3 => {
                    tracing::warn!(job = job.id.0, %error, "cannot record the end of an ingest job; trying again");
                    tokio::time::sleep(QUEUE_RETRY).await;
                }
                Err(error) => tracing::error!(job = job.id.0, %error,
                    "cannot record the end of an ingest job; it runs again once its lease runs out"),
            }
        }
    }
}

/// A sync's progress, counted for the heartbeat and passed on to the hooks.
struct JobProgress {
    state: Mutex<RunProgress>,
    hooks: Arc<dyn WorkerHooks>,
    /// Woken when the indexes changed (a commit, a relabel): the heartbeat then goes out at once, so
    /// that every web replica empties its cached results now, not a heartbeat period later (a cached
    /// result must not show what an ACL change has just hidden).
    wrote: tokio::sync::Notify,
}

impl Progress for JobProgress {
    fn event(&self, event: ProgressEvent<'_>) {
        self.hooks.progress(&event);
        self.state.lock().apply(&event);
        if matches!(event, ProgressEvent::Committed { .. } | ProgressEvent::Relabeled { .. }) {
            self.wrote.notify_one();
        }
    }
}

/// Renews the lease every `settings.heartbeat` with the progress so far. Stops the sync when the
/// lease is lost, or when it cannot be renewed for as long as it lasts (the queue must then assume
/// this worker is gone), or when the worker is asked to stop.
struct Heartbeat {
    queue: Arc<dyn JobQueue>,
    job: ClaimedJob,
    settings: WorkerSettings,
    progress: Arc<JobProgress>,
    cancel: Arc<AtomicBool>,
    lease_lost: Arc<AtomicBool>,
    health: WorkerHealth,
}

impl Heartbeat {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let Self { queue, job, settings, progress, cancel, lease_lost, health } = self;
        let mut renewed = Instant::now();
        loop {
            let snapshot = serde_json::to_string(&*progress.state.lock()).expect("progress serialises");
            match queue.heartbeat(&job, &settings.policy, &snapshot).await {
                Ok(true) => {
                    renewed = Instant::now();
                    health.heard_from_queue();
                }
                Ok(false) => {
                    lease_lost.store(true, Ordering::Relaxed);
                    cancel.store(true, Ordering::Relaxed);
                    return;
                }
                Err(error) => {
                    tracing::warn!(job = job.id.0, %error, "cannot renew the lease of an ingest job");
                    if renewed.elapsed() >= settings.policy.lease {
                        lease_lost.store(true, Ordering::Relaxed);
                        cancel.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(settings.heartbeat) => {}
                _ = progress.wrote.notified() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                cancel.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// When the worker last heard from its queue (a claim or a renewed lease): what its health check
/// reports. A worker that cannot reach the queue does no work, however alive its process is.
#[derive(Clone, Default)]
pub struct WorkerHealth {
    /// Milliseconds since the epoch; 0 until the first contact.
    last_contact_ms: Arc<AtomicI64>,
}

impl WorkerHealth {
    fn heard_from_queue(&self) {
        self.last_contact_ms.store(lore_core::now_ms(), Ordering::Relaxed);
    }

    /// How long since the queue last answered, `None` if it never has.
    pub fn silence(&self) -> Option<Duration> {
        match self.last_contact_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(lore_core::now_ms().saturating_sub(ms).max(0) as u64)),
        }
    }
}
