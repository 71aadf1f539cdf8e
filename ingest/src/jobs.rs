//! Ingestion as queued jobs: what a job asks for (its payload in the queue), what its live progress and
//! its summary look like (JSON in the queue, read by every web replica's status page).

use std::path::PathBuf;

use lore_core::queue::{ClaimedJob, JobAction, JobRequest};
use lore_core::types::now_ms;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::progress::FileOutcome;
use crate::sync::{FileFailure, SyncOptions, SyncReport};
use crate::ProgressEvent;

/// Failures of one run kept in its summary (all of them are in the catalog).
const FAILURES_SHOWN: usize = 50;

/// What a job does.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestJob {
    Sync(SyncOptions),
    Remove { source: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct RemovePayload {
    source: String,
}

#[derive(Debug, thiserror::Error)]
#[error("job {job} of source '{source_name}' has options this version cannot read: {reason}")]
pub struct PayloadError {
    job: i64,
    source_name: String,
    reason: String,
}

impl IngestJob {
    /// A sync of a source folder, as `lore serve --ingest` and the admin page ask for it; `acl: None`
    /// keeps an existing source's ACL.
    pub fn sync(source: String, root: PathBuf, acl: Option<Vec<String>>) -> Self {
        Self::Sync(SyncOptions { source, root, acl, retry_failed: false })
    }

    pub fn source(&self) -> &str {
        match self {
            Self::Sync(options) => &options.source,
            Self::Remove { source } => source,
        }
    }

    pub fn action(&self) -> JobAction {
        match self {
            Self::Sync(_) => JobAction::Sync,
            Self::Remove { .. } => JobAction::Remove,
        }
    }

    /// The job as the queue stores it.
    pub fn request(&self) -> JobRequest {
        let payload = match self {
            Self::Sync(options) => serde_json::to_string(options),
            Self::Remove { source } => serde_json::to_string(&RemovePayload { source: source.clone() }),
        }
        .expect("job options serialise");
        JobRequest { action: self.action(), source: self.source().to_string(), payload }
    }

    /// The job a worker claimed.
    pub fn from_claim(job: &ClaimedJob) -> Result<Self, PayloadError> {
        let error = |e: serde_json::Error| PayloadError {
            job: job.id.0,
            source_name: job.source.clone(),
            reason: e.to_string(),
        };
        match job.action {
            JobAction::Sync => serde_json::from_str(&job.payload).map(Self::Sync).map_err(error),
            JobAction::Remove => serde_json::from_str::<RemovePayload>(&job.payload)
                .map(|p| Self::Remove { source: p.source })
                .map_err(error),
        }
    }
}

/// A running job's progress, as its worker's heartbeats store it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
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

impl RunProgress {
    pub fn starting(job: &IngestJob) -> Self {
        Self {
            source: job.source().to_string(),
            action: job.action().as_str().into(),
            phase: if matches!(job, IngestJob::Remove { .. }) { "removing" } else { "scanning" }.into(),
            started_ms: now_ms(),
            ..Self::default()
        }
    }

    /// Counts one step of a sync.
    pub fn apply(&mut self, event: &ProgressEvent<'_>) {
        match *event {
            ProgressEvent::Scanning => self.phase = "scanning".into(),
            ProgressEvent::Planned { files, to_read, unchanged, .. } => {
                self.phase = "reading".into();
                (self.files, self.to_read, self.unchanged) = (files, to_read, unchanged);
            }
            ProgressEvent::Embedded { chunks } => self.chunks_embedded += chunks,
            ProgressEvent::FileDone { path, outcome, .. } => {
                match outcome {
                    FileOutcome::Indexed => self.indexed += 1,
                    FileOutcome::Failed => self.failed += 1,
                    FileOutcome::Unchanged => return,
                }
                self.done += 1;
                self.last_file = Some(path.to_string());
            }
            ProgressEvent::Committed { chunks, .. } => self.chunks_committed = chunks,
            ProgressEvent::Optimizing => self.phase = "optimizing".into(),
            ProgressEvent::Relabeling { .. } => self.phase = "relabeling".into(),
            ProgressEvent::Relabeled { .. } => self.phase = "scanning".into(),
        }
    }
}

/// A finished job, for people to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

impl RunSummary {
    fn base(source: &str, action: &str, seconds: f64) -> Self {
        Self {
            source: source.to_string(),
            action: action.into(),
            finished_ms: now_ms(),
            seconds,
            outcome: "failed".into(),
            message: String::new(),
            indexed: 0,
            unchanged: 0,
            removed: 0,
            chunks: 0,
            failures: Vec::new(),
        }
    }

    pub fn of_sync(source: &str, report: &SyncReport, seconds: f64) -> Self {
        let c = &report.counts;
        Self {
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
            ..Self::base(source, "sync", seconds)
        }
    }

    pub fn of_removal(source: &str, removed: u64, seconds: f64) -> Self {
        Self {
            outcome: "completed".into(),
            message: format!("{removed} documents removed"),
            removed,
            ..Self::base(source, "remove", seconds)
        }
    }

    /// A job whose last attempt failed: `dead` when it will not be tried again.
    pub fn of_failure(source: &str, action: &str, error: &str, finished_ms: i64) -> Self {
        Self { message: error.to_string(), finished_ms, ..Self::base(source, action, 0.0) }
    }
}
