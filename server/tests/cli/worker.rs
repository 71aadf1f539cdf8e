//! `lore worker` processes sharing a PostgreSQL job queue: each job runs once, a killed worker's job is
//! taken over when its lease runs out, a job that keeps failing ends dead. Until the vector store can be
//! a server (shared by every process), each worker here keeps its indexes in its own data directory;
//! the catalog and the queue are the shared PostgreSQL database.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lore_core::catalog::{Catalog, PostgresCatalog};
use lore_core::queue::{JobQueue, JobRecord, JobState};
use lore_ingest::jobs::IngestJob;

use crate::workspace::{exits_within, kill, Workspace};

struct SharedQueue {
    url: String,
    catalog: Arc<PostgresCatalog>,
    runtime: tokio::runtime::Runtime,
}

impl SharedQueue {
    fn new() -> Self {
        let url = lore_testkit::postgres::database();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let catalog = Arc::new(runtime.block_on(PostgresCatalog::open(&url, 2)).unwrap());
        Self { url, catalog, runtime }
    }

    fn enqueue(&self, job: IngestJob, max_attempts: u32) {
        self.runtime.block_on(self.catalog.enqueue(&job.request(), max_attempts)).unwrap();
    }

    fn jobs(&self) -> Vec<JobRecord> {
        let snapshot = self.runtime.block_on(self.catalog.snapshot(100)).unwrap();
        snapshot.active.into_iter().chain(snapshot.finished).collect()
    }

    /// Waits until no job is queued or running.
    fn wait_until_finished(&self, timeout: Duration) -> Vec<JobRecord> {
        let started = Instant::now();
        loop {
            let jobs = self.jobs();
            if jobs.iter().all(|j| matches!(j.state, JobState::Done | JobState::Dead)) {
                return jobs;
            }
            assert!(started.elapsed() < timeout, "jobs still active after {timeout:?}: {jobs:#?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `lore worker` on its own data directory, with short leases.
    fn worker(&self, workspace: &Workspace, data_dir: &Path, name: &str) -> Child {
        workspace
            .command(&["worker", "--name", name])
            .arg("--data-dir")
            .arg(data_dir)
            .env("LORE_CATALOG__URL", &self.url)
            .env("LORE_QUEUE__LEASE_SECS", "4")
            .env("LORE_QUEUE__BACKOFF_SECS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("lore worker starts")
    }

    fn documents(&self) -> u64 {
        let status = self.runtime.block_on(self.catalog.status()).unwrap();
        status.sources.iter().map(|s| s.documents).sum()
    }
}

fn folder(workspace: &Workspace, name: &str, files: usize) -> PathBuf {
    for n in 0..files {
        workspace.write(
            &format!("{name}/page-{n}.md"),
            format!("# {name} page {n}\n\nThe {name} team keeps page {n} about rota number {n} here.\n"),
        );
    }
    workspace.docs.join(name)
}

/// Ctrl-C, and the worker must be gone within a minute.
fn stop(mut child: Child) {
    kill(&child, "-INT");
    exits_within(&mut child, Duration::from_secs(60));
}

#[test]
fn workers_share_the_queue_and_run_each_job_once() {
    let workspace = Workspace::new();
    let queue = SharedQueue::new();
    for n in 0..6 {
        let name = format!("team-{n}");
        queue.enqueue(IngestJob::sync(name.clone(), folder(&workspace, &name, 5), None), 3);
    }
    let a = queue.worker(&workspace, &workspace.dir.path().join("worker-a"), "worker-a");
    let b = queue.worker(&workspace, &workspace.dir.path().join("worker-b"), "worker-b");
    let jobs = queue.wait_until_finished(Duration::from_secs(300));
    stop(a);
    stop(b);
    assert_eq!(jobs.len(), 6);
    for job in &jobs {
        assert_eq!((job.state, job.attempts), (JobState::Done, 1), "each job ran once: {job:?}");
        let summary: serde_json::Value = serde_json::from_str(job.result.as_deref().unwrap()).unwrap();
        assert_eq!(summary["indexed"], 5, "{summary}");
    }
    assert_eq!(queue.documents(), 30, "every file once in the shared catalog");
}

#[test]
fn a_killed_workers_job_is_taken_over_when_its_lease_runs_out() {
    let workspace = Workspace::new();
    let queue = SharedQueue::new();
    queue.enqueue(IngestJob::sync("big".into(), folder(&workspace, "big", 400), None), 3);
    let mut doomed = queue.worker(&workspace, &workspace.dir.path().join("worker-a"), "doomed");
    // Kill it once it has committed part of the folder.
    let started = Instant::now();
    loop {
        let jobs = queue.jobs();
        let progress = jobs[0].progress.as_deref().map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap());
        if progress.is_some_and(|p| p["done"].as_u64().unwrap_or(0) > 0) {
            break;
        }
        assert!(jobs[0].state != JobState::Done, "the sync finished before it could be interrupted");
        assert!(started.elapsed() < Duration::from_secs(180), "the first worker never made progress: {jobs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let heir = queue.worker(&workspace, &workspace.dir.path().join("worker-b"), "heir");
    let jobs = queue.wait_until_finished(Duration::from_secs(300));
    stop(heir);
    let job = &jobs[0];
    assert_eq!((job.state, job.attempts, job.worker.as_deref()), (JobState::Done, 2, Some("heir")), "{job:?}");
    assert_eq!(queue.documents(), 400, "every file indexed once, none lost to the killed worker");
}

#[test]
fn a_job_that_keeps_failing_ends_dead() {
    let workspace = Workspace::new();
    let queue = SharedQueue::new();
    let missing = workspace.dir.path().join("no-such-folder");
    queue.enqueue(IngestJob::sync("gone".into(), missing, None), 2);
    let worker = queue.worker(&workspace, &workspace.dir.path().join("worker-a"), "w");
    let jobs = queue.wait_until_finished(Duration::from_secs(180));
    stop(worker);
    let job = &jobs[0];
    assert_eq!((job.state, job.attempts), (JobState::Dead, 2), "{job:?}");
    assert!(job.error.as_deref().unwrap().contains("no-such-folder"), "{job:?}");
}

#[test]
fn a_worker_without_a_shared_catalog_says_what_to_set() {
    let workspace = Workspace::new();
    let out = workspace.run(&["worker"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("catalog.url"), "{stderr}");
}
