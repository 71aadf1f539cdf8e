//! The ingestion job queue: give it jobs (sync a source, remove one), get them claimed by exactly one
//! worker at a time, wherever the workers run. It lives in the catalog's database (a `jobs` table), so
//! a web replica that enqueues and a worker on another machine only need to share that database.
//!
//! - **Claims are leases.** A worker claims the oldest job that may run, for a lease it renews with
//!   every [`JobQueue::heartbeat`] (which also stores the job's live progress). A worker that dies
//!   stops renewing; once the lease runs out, the next claim takes the job over. Nothing else decides
//!   that a worker is gone, so a job waiting in the queue is only ever "queued", never "stuck".
//! - **One running job per source**, enforced by a unique index: two workers never sync one folder
//!   at once, while different sources run in parallel.
//! - **Failures retry, then stop.** A failed attempt (an error, or a lease that ran out) puts the job
//!   back with a growing backoff; after `max_attempts` it is `dead`, kept with its last error for an
//!   administrator to see.
//! - **Times are the database's clock**, so workers on machines with skewed clocks agree on leases.
//!
//! PostgreSQL claims with `FOR UPDATE SKIP LOCKED` and wakes idle workers with `LISTEN/NOTIFY`; SQLite
//! serialises writers anyway and wakes waiters in the same process at once, others by polling.

pub(crate) mod sql;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::catalog::CatalogError;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobAction {
    Sync,
    Remove,
}

impl JobAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Remove => "remove",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Sync, Self::Remove].into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Done, Self::Dead].into_iter().find(|v| v.as_str() == s)
    }
}

/// A job to add: what to do to which source, with its options as JSON (the worker's to interpret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    pub action: JobAction,
    pub source: String,
    pub payload: String,
}

/// What [`JobQueue::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Added(JobId),
    /// The same job was already waiting; nothing was added.
    AlreadyQueued(JobId),
}

impl Enqueued {
    pub fn id(self) -> JobId {
        match self {
            Self::Added(id) | Self::AlreadyQueued(id) => id,
        }
    }
}

/// A job this worker holds. The claim is identified by worker and attempt, so a worker whose lease ran
/// out (and whose job another worker took) finds out at its next heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub action: JobAction,
    pub source: String,
    pub payload: String,
    /// 1 for the first claim; more when an earlier attempt failed or its worker stopped.
    pub attempt: u32,
    pub max_attempts: u32,
    pub worker: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// The job ran to its end; `summary` is JSON for people to read.
    Done { summary: String },
    /// The attempt failed: retried after a backoff, or `dead` when no attempts are left.
    Failed { error: String },
    /// The worker is stopping: the job goes back to the queue and the attempt does not count.
    Released,
}

/// A job as status pages show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub id: JobId,
    pub action: JobAction,
    pub source: String,
    pub payload: String,
    pub state: JobState,
    pub attempts: u32,
    pub max_attempts: u32,
    pub worker: Option<String>,
    pub enqueued_ms: i64,
    pub not_before_ms: i64,
    pub started_ms: Option<i64>,
    pub heartbeat_ms: Option<i64>,
    pub lease_until_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// JSON progress of a running job (as its last heartbeat left it).
    pub progress: Option<String>,
    /// JSON summary of a done job.
    pub result: Option<String>,
    pub error: Option<String>,
}

/// The queue's view: every job waiting or running, and the most recent finished ones, with the
/// database's time they were read at (to tell how old a heartbeat is).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSnapshot {
    pub now_ms: i64,
    /// Running first, then queued, each oldest first.
    pub active: Vec<JobRecord>,
    /// Done and dead, most recent first.
    pub finished: Vec<JobRecord>,
}

/// Timing of claims and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// Attempts before a job is dead.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each further one, at most [`MAX_BACKOFF`].
    pub backoff: Duration,
}

/// The longest wait between two attempts of a job.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl QueuePolicy {
    pub(crate) fn backoff_ms(&self, failed_attempts: u32) -> i64 {
        let factor = 2u64.saturating_pow(failed_attempts.saturating_sub(1));
        let ms = (self.backoff.as_millis() as u64).saturating_mul(factor);
        ms.min(MAX_BACKOFF.as_millis() as u64) as i64
    }
}

/// Which changes a [`QueueWaiter`] wakes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A job was added or given back: workers try to claim.
    Work,
    /// Anything changed, progress included: status pages refresh.
    Change,
}

/// Waits for the queue to change; see [`JobQueue::waiter`].
#[async_trait]
pub trait QueueWaiter: Send {
    /// Returns when the change it waits for happened, or after `timeout` (jobs whose backoff or lease
    /// ran out announce nothing, so callers look again at least that often).
    async fn wait(&mut self, timeout: Duration);
}

/// Waits for `waiter` (or, without one, polls: sleeps `timeout`) unless `stop` turns true first.
pub async fn wait_unless_stopped(
    waiter: &mut Option<Box<dyn QueueWaiter>>,
    timeout: Duration,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) {
    let wait = async {
        match waiter.as_mut() {
            Some(w) => w.wait(timeout).await,
            None => tokio::time::sleep(timeout).await,
        }
    };
    tokio::select! {
        _ = wait => {}
        _ = stop.changed() => {}
    }
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Adds a job unless the same one (action, source, options) is already waiting.
    async fn enqueue(&self, request: &JobRequest, max_attempts: u32) -> Result<Enqueued>;
    /// Claims the oldest job that may run now for `worker`: one queued and past its backoff, or one whose
    /// lease ran out (an attempt that counts as failed; past `max_attempts` the job turns dead
    /// instead). `None` when nothing may run.
    async fn claim(&self, worker: &str, policy: &QueuePolicy) -> Result<Option<ClaimedJob>>;
    /// Renews the lease and stores `progress` (JSON). `false` when the claim is no longer this worker's:
    /// its lease ran out and another worker took the job, which this worker must then stop.
    async fn heartbeat(&self, job: &ClaimedJob, policy: &QueuePolicy, progress: &str) -> Result<bool>;
    /// Ends the attempt. `false` when the claim was no longer this worker's (nothing is changed).
    async fn finish(&self, job: &ClaimedJob, policy: &QueuePolicy, end: JobEnd) -> Result<bool>;
    /// Ends the lease of every running job now, so the next claim takes them over (counting the
    /// attempt). Only for a process that knows no worker can be running: the embedded server, which
    /// holds the data directory's writer lock, at start. Returns how many.
    async fn expire_leases(&self) -> Result<u64>;
    /// Every active job and the `finished` most recent finished ones.
    async fn snapshot(&self, finished: usize) -> Result<QueueSnapshot>;
    /// Deletes finished jobs older than `before_ms` (dead ones included); returns how many.
    async fn prune(&self, before_ms: i64) -> Result<u64>;
    /// A waiter for changes of kind `wake`. Each task that waits holds its own.
    async fn waiter(&self, wake: Wake) -> Result<Box<dyn QueueWaiter>>;
}

pub(crate) use sql::impl_sql_queue;

pub(crate) fn parse_action(s: &str) -> Result<JobAction> {
    JobAction::parse(s).ok_or_else(|| CatalogError::Corrupt(format!("unknown job action {s:?}")))
}

pub(crate) fn parse_state(s: &str) -> Result<JobState> {
    JobState::parse(s).ok_or_else(|| CatalogError::Corrupt(format!("unknown job state {s:?}")))
}
