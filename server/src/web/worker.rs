//! The background ingestion worker of `lore serve`: give it jobs (sync a source, remove one), get them
//! run one at a time with live progress anyone can watch. Shutdown lets the running sync finish and
//! commit the files in flight, so nothing half-written is left behind.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use lore_core::types::now_ms;
use lore_ingest::progress::FileOutcome;
use lore_ingest::{FileFailure, Progress, ProgressEvent, SyncOptions, SyncReport, Syncer};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{watch, Notify};
use utoipa::ToSchema;

use super::cache::ResultCache;
use super::metrics::Metrics;

/// Runs recorded in the status, most recent first.
const RECENT_RUNS: usize = 10;
/// Failures of one run kept in the status (all of them are in the catalog).
const FAILURES_SHOWN: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    Sync(SyncOptions),
    Remove { source: String },
}

impl Job {
    fn source(&self) -> &str {
        match self {
            Job::Sync(options) => &options.source,
            Job::Remove { source } => source,
        }
    }

    fn action(&self) -> &'static str {
        match self {
            Job::Sync(_) => "sync",
            Job::Remove { .. } => "remove",
        }
    }
}

/// What the worker is doing: the admin page shows it live.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct IngestStatus {
    pub running: Option<RunProgress>,
    /// Jobs waiting, in order: "sync handbook", "remove old-wiki".
    pub queued: Vec<QueuedJob>,
    /// Finished jobs, most recent first.
    pub recent: Vec<RunSummary>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedJob {
    pub source: String,
    /// sync or remove
    pub action: String,
}

/// The job running now.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RunProgress {
    pub source: String,
    pub action: String,
    /// scanning, relabeling (the source's ACL changed), reading, optimizing or removing
    pub phase: String,
    /// Files found in the folder.
    pub files: u64,
    /// Files that are new or changed and are being read.
    pub to_read: u64,
    /// Of those, finished (indexed or failed).
    pub done: u64,
    pub indexed: u64,
    pub failed: u64,
    pub unchanged: u64,
    pub chunks_embedded: u64,
    /// Chunks durable in all three stores.
    pub chunks_committed: u64,
    /// The file finished last.
    pub last_file: Option<String>,
    pub started_ms: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunSummary {
    pub source: String,
    pub action: String,
    pub finished_ms: i64,
    pub seconds: f64,
    /// completed, interrupted or failed
    pub outcome: String,
    /// The error that stopped the job, or a one-line report.
    pub message: String,
    pub indexed: u64,
    pub unchanged: u64,
    pub removed: u64,
    pub chunks: u64,
    #[schema(value_type = Vec<Object>)]
    pub failures: Vec<FileFailure>,
}

struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    wake: Notify,
    stopping: AtomicBool,
}

/// Handle to the worker task; cheap to clone.
#[derive(Clone)]
pub struct IngestWorker {
    queue: Arc<Queue>,
    status: watch::Sender<IngestStatus>,
    /// Tells the running sync to stop after the files in flight.
    cancel: Arc<AtomicBool>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl IngestWorker {
    /// Starts the worker task on the current runtime.
    /// `results` is emptied whenever the indexes change.
    pub fn start(syncer: Arc<Syncer>, metrics: Metrics, results: Arc<ResultCache>) -> Self {
        let queue = Arc::new(Queue { jobs: Mutex::new(VecDeque::new()), wake: Notify::new(), stopping: false.into() });
        let (status, _) = watch::channel(IngestStatus::default());
        let cancel = Arc::new(AtomicBool::new(false));
        let worker = Self { queue, status, cancel, task: Arc::new(Mutex::new(None)) };
        let task = tokio::spawn(worker.clone().run(syncer, metrics, results));
        *worker.task.lock() = Some(task);
        worker
    }

    /// Queues a job unless the same one is already waiting. Returns whether it was queued.
    pub fn enqueue(&self, job: Job) -> bool {
        if self.queue.stopping.load(Ordering::Relaxed) {
            return false;
        }
        {
            let mut jobs = self.queue.jobs.lock();
            if jobs.contains(&job) {
                return false;
            }
            jobs.push_back(job);
        }
        self.publish_queue();
        self.queue.wake.notify_one();
        true
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
        self.queue.jobs.lock().len() + usize::from(self.status.borrow().running.is_some())
    }

    /// Stops taking jobs, lets the running sync commit its files in flight, and waits for it.
    pub async fn shutdown(&self) {
        self.queue.stopping.store(true, Ordering::Relaxed);
        self.cancel.store(true, Ordering::Relaxed);
        self.queue.jobs.lock().clear();
        self.queue.wake.notify_one();
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn publish_queue(&self) {
        let queued = self
            .queue
            .jobs
            .lock()
            .iter()
            .map(|job| QueuedJob { source: job.source().to_string(), action: job.action().into() })
            .collect();
        self.status.send_modify(|status| status.queued = queued);
    }

    async fn run(self, syncer: Arc<Syncer>, metrics: Metrics, results: Arc<ResultCache>) {
        loop {
            if self.queue.stopping.load(Ordering::Relaxed) {
                return;
            }
            let next = self.queue.jobs.lock().pop_front();
            let Some(job) = next else {
                self.queue.wake.notified().await;
                continue;
            };
            self.publish_queue();
            let started = Instant::now();
            let running = RunProgress {
                source: job.source().to_string(),
                action: job.action().into(),
                phase: if matches!(job, Job::Remove { .. }) { "removing" } else { "scanning" }.into(),
                started_ms: now_ms(),
                ..RunProgress::default()
            };
            self.status.send_modify(|status| status.running = Some(running));
            let summary = match &job {
                Job::Sync(options) => {
                    let progress = Arc::new(LiveProgress {
                        status: self.status.clone(),
                        metrics: metrics.clone(),
                        results: results.clone(),
                    });
                    let result = syncer.sync(options, progress, self.cancel.clone()).await;
                    summarise_sync(&options.source, result.map_err(|e| e.to_string()))
                }
                Job::Remove { source } => {
                    let result = syncer.remove_source(source).await;
                    summarise_removal(source, result.map_err(|e| e.to_string()))
                }
            };
            results.clear();
            let summary = RunSummary { seconds: started.elapsed().as_secs_f64(), ..summary };
            match summary.outcome.as_str() {
                "failed" => {
                    tracing::error!(source = %summary.source, action = %summary.action, error = %summary.message, "ingest job failed")
                }
                _ => {
                    tracing::info!(source = %summary.source, action = %summary.action, report = %summary.message, "ingest job done")
                }
            }
            self.status.send_modify(|status| {
                status.running = None;
                status.recent.insert(0, summary);
                status.recent.truncate(RECENT_RUNS);
            });
        }
    }
}

fn summarise_sync(source: &str, result: Result<SyncReport, String>) -> RunSummary {
    let base = RunSummary {
        source: source.to_string(),
        action: "sync".into(),
        finished_ms: now_ms(),
        seconds: 0.0,
        outcome: "failed".into(),
        message: String::new(),
        indexed: 0,
        unchanged: 0,
        removed: 0,
        chunks: 0,
        failures: Vec::new(),
    };
    match result {
        Err(error) => RunSummary { message: error, ..base },
        Ok(report) => {
            let c = &report.counts;
            RunSummary {
                outcome: if report.interrupted { "interrupted" } else { "completed" }.into(),
                message: format!(
                    "{} indexed, {} unchanged, {} removed, {} failed",
                    c.indexed,
                    c.unchanged,
                    c.removed,
                    report.failures.len()
                ),
                indexed: c.indexed,
                unchanged: c.unchanged,
                removed: c.removed,
                chunks: c.chunks,
                failures: report.failures.iter().take(FAILURES_SHOWN).cloned().collect(),
                ..base
            }
        }
    }
}

fn summarise_removal(source: &str, result: Result<u64, String>) -> RunSummary {
    let (outcome, message, removed) = match result {
        Ok(removed) => ("completed", format!("{removed} documents removed"), removed),
        Err(error) => ("failed", error, 0),
    };
    RunSummary {
        source: source.to_string(),
        action: "remove".into(),
        finished_ms: now_ms(),
        seconds: 0.0,
        outcome: outcome.into(),
        message,
        indexed: 0,
        unchanged: 0,
        removed,
        chunks: 0,
        failures: Vec::new(),
    }
}

/// Turns a sync's progress events into the live status (and the ingest counters).
struct LiveProgress {
    status: watch::Sender<IngestStatus>,
    metrics: Metrics,
    results: Arc<ResultCache>,
}

impl Progress for LiveProgress {
    fn event(&self, event: ProgressEvent<'_>) {
        match &event {
            ProgressEvent::Embedded { chunks } => self.metrics.embedded_chunks(*chunks),
            ProgressEvent::Committed { .. } | ProgressEvent::Relabeled { .. } => self.results.clear(),
            ProgressEvent::FileDone { outcome, .. } => self.metrics.ingested_file(match outcome {
                FileOutcome::Indexed => "indexed",
                FileOutcome::Unchanged => "unchanged",
                FileOutcome::Failed => "failed",
            }),
            _ => {}
        }
        self.status.send_modify(|status| {
            let Some(run) = status.running.as_mut() else { return };
            match event {
                ProgressEvent::Scanning => run.phase = "scanning".into(),
                ProgressEvent::Planned { files, to_read, unchanged, .. } => {
                    run.phase = "reading".into();
                    (run.files, run.to_read, run.unchanged) = (files, to_read, unchanged);
                }
                ProgressEvent::Embedded { chunks } => run.chunks_embedded += chunks,
                ProgressEvent::FileDone { path, outcome, .. } => {
                    match outcome {
                        FileOutcome::Indexed => run.indexed += 1,
                        FileOutcome::Failed => run.failed += 1,
                        FileOutcome::Unchanged => return,
                    }
                    run.done += 1;
                    run.last_file = Some(path.to_string());
                }
                ProgressEvent::Committed { chunks, .. } => run.chunks_committed = chunks,
                ProgressEvent::Optimizing => run.phase = "optimizing".into(),
                ProgressEvent::Relabeling { .. } => run.phase = "relabeling".into(),
                ProgressEvent::Relabeled { .. } => run.phase = "scanning".into(),
            }
        });
    }
}

/// A source folder to sync, as `lore serve --ingest` and the admin page give it.
/// `acl: None` keeps an existing source's ACL.
pub fn sync_job(source: String, root: PathBuf, acl: Option<Vec<String>>) -> Job {
    Job::Sync(SyncOptions { source, root, acl, retry_failed: false })
}
