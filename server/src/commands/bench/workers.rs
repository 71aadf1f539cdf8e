//! `lore bench workers FOLDER`: the same corpus ingested by 1, 2, ... `lore worker` processes sharing
//! the job queue (the scale-out layout: PostgreSQL catalog, Qdrant server), and what the queue itself
//! costs per job. Every run gets a database and a collection of its own, dropped afterwards: the
//! configured catalog and collection are never touched.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use lore_core::catalog::{create_database, drop_database, PostgresCatalog};
use lore_core::config::Config;
use lore_core::qdrant_server::{QdrantServerIndex, ServerSettings};
use lore_core::queue::{JobAction, JobEnd, JobQueue, JobRequest, JobState, Wake};
use lore_core::EVERYONE;
use lore_engine as engine;
use lore_eval::metrics::percentile;
use lore_ingest::jobs::IngestJob;
use serde::Serialize;

use crate::commands::worker::READY_PREFIX;
use crate::terminal::thousands;

/// How long a worker may take to load its models and announce itself.
const WORKER_START_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Args)]
pub struct WorkersBenchArgs {
    /// Folder whose subfolders become one source each: the queue runs one job per source at a time,
    /// so workers share a corpus by its sources.
    pub path: PathBuf,
    /// Worker counts to measure, one run each on a fresh database and collection.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub workers: Vec<usize>,
    /// Empty jobs run through the queue to measure its own cost.
    #[arg(long, default_value_t = 200)]
    pub queue_jobs: usize,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct WorkersBench {
    cores: usize,
    sources: usize,
    runs: Vec<WorkersRun>,
    queue: QueueOverhead,
}

#[derive(Serialize)]
struct WorkersRun {
    workers: usize,
    documents: u64,
    chunks: u64,
    /// From the first job queued to the last one done (the workers' model loading is not included).
    ingest_s: f64,
    chunks_per_s: f64,
    /// Throughput against the first run's.
    speedup: f64,
}

/// Milliseconds per job of each queue operation, on the catalog's own server, with no work in the job.
#[derive(Serialize)]
struct QueueOverhead {
    jobs: usize,
    enqueue_ms: f64,
    claim_ms: f64,
    heartbeat_ms: f64,
    finish_ms: f64,
    /// enqueue + claim + one heartbeat + finish.
    per_job_ms: f64,
    /// From a job queued to an idle worker waking for it (PostgreSQL LISTEN/NOTIFY), p50 and p95.
    wake_p50_ms: f64,
    wake_p95_ms: f64,
}

pub async fn run(config: Config, args: WorkersBenchArgs) -> anyhow::Result<ExitCode> {
    let Some(url) = config.catalog.url.clone() else {
        anyhow::bail!(
            "lore bench workers measures workers sharing a PostgreSQL catalog: set catalog.url (it makes \
             a database of its own beside the one named there)"
        );
    };
    anyhow::ensure!(
        config.vectors.url.is_some(),
        "lore bench workers needs a Qdrant server (vectors.url): workers on one machine cannot share embedded \
         indexes"
    );
    anyhow::ensure!(args.workers.iter().all(|&n| n > 0), "--workers takes counts of at least 1");
    let sources = corpus_sources(&args.path)?;
    let mut runs: Vec<WorkersRun> = Vec::new();
    for &workers in &args.workers {
        eprintln!("Ingesting {} sources with {workers} worker(s)", sources.len());
        let mut run = run_workers(&config, &url, &sources, workers).await?;
        run.speedup = runs.first().map_or(1.0, |first| run.chunks_per_s / first.chunks_per_s.max(f64::EPSILON));
        runs.push(run);
    }
    eprintln!("Measuring the queue with {} empty jobs", args.queue_jobs);
    let queue = queue_overhead(&config, &url, args.queue_jobs.max(1)).await?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let result = WorkersBench { cores, sources: sources.len(), runs, queue };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print(&result);
    }
    Ok(ExitCode::SUCCESS)
}

/// The subfolders of `path`, each a source named after it.
fn corpus_sources(path: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let root = std::fs::canonicalize(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&root).with_context(|| format!("cannot list {}", root.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && !entry.file_name().to_string_lossy().starts_with('.') {
            sources.push((entry.file_name().to_string_lossy().to_string(), entry.path()));
        }
    }
    sources.sort();
    anyhow::ensure!(
        sources.len() >= 2,
        "{} needs at least two subfolders (one source each) for workers to share",
        root.display()
    );
    Ok(sources)
}

/// A database and a collection for one measurement, removed by [`Scratch::remove`].
pub(super) struct Scratch {
    url: String,
    database: String,
    pub(super) config: Config,
    dir: tempfile::TempDir,
}

impl Scratch {
    pub(super) async fn create(config: &Config, url: &str, name: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let scratch_url = create_database(url, name)
            .await
            .context("the benchmark makes a database of its own on the catalog's server (the role needs CREATEDB)")?;
        let mut config = config.clone();
        config.catalog.url = Some(scratch_url);
        config.vectors.collection = name.to_string();
        config.data_dir = dir.path().join("data");
        Ok(Self { url: url.to_string(), database: name.to_string(), config, dir })
    }

    pub(super) async fn remove(self) {
        if let Some(settings) = ServerSettings::from_config(&self.config.vectors, self.config.embedding.dimensions) {
            let deleted = tokio::task::spawn_blocking(move || {
                QdrantServerIndex::connect(settings).and_then(|index| index.delete_collection())
            })
            .await;
            if !matches!(deleted, Ok(Ok(()))) {
                tracing::warn!(collection = %self.database, "cannot delete the benchmark's collection");
            }
        }
        if let Err(error) = drop_database(&self.url, &self.database).await {
            tracing::warn!(database = %self.database, %error, "cannot drop the benchmark's database");
        }
    }
}

async fn run_workers(
    config: &Config,
    url: &str,
    sources: &[(String, PathBuf)],
    workers: usize,
) -> anyhow::Result<WorkersRun> {
    let scratch = Scratch::create(config, url, &format!("lore_bench_workers_{}_{workers}", std::process::id())).await?;
    let result = ingest_with_workers(&scratch, sources, workers).await;
    scratch.remove().await;
    result
}

async fn ingest_with_workers(
    scratch: &Scratch,
    sources: &[(String, PathBuf)],
    workers: usize,
) -> anyhow::Result<WorkersRun> {
    // Opened here first, so the schema and the collection exist before the workers race to make them.
    let stores = engine::open_stores(&scratch.config, "lore bench workers").await?;
    let config_file = scratch.dir.path().join("lore.toml");
    write_config(&scratch.config, &config_file)?;
    let mut children = Vec::new();
    for n in 0..workers {
        children.push(WorkerProcess::start(&config_file, &format!("bench-{n}")).await?);
    }
    let started = Instant::now();
    for (name, root) in sources {
        let job = IngestJob::sync(name.clone(), root.clone(), Some(vec![EVERYONE.into()]));
        stores.queue.enqueue(&job.request(), scratch.config.queue.max_attempts).await?;
    }
    loop {
        let snapshot = stores.queue.snapshot(sources.len()).await?;
        if let Some(dead) = snapshot.finished.iter().find(|job| job.state == JobState::Dead) {
            anyhow::bail!("the job for {} failed: {}", dead.source, dead.error.as_deref().unwrap_or("no reason given"));
        }
        if snapshot.active.is_empty() {
            break;
        }
        for child in &mut children {
            child.check_running()?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ingest_s = started.elapsed().as_secs_f64();
    drop(children);
    let status = stores.catalog.status().await?;
    let documents = status.sources.iter().map(|s| s.documents).sum();
    let chunks = status.sources.iter().map(|s| s.chunks).sum::<u64>();
    Ok(WorkersRun { workers, documents, chunks, ingest_s, chunks_per_s: chunks as f64 / ingest_s, speedup: 1.0 })
}

/// The whole effective configuration as a file a child process loads: the children get no `LORE_*`
/// variables, so this file is all they read.
fn write_config(config: &Config, file: &Path) -> anyhow::Result<()> {
    let text = toml::to_string(config).context("cannot write the workers' configuration")?;
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
}

/// A `lore worker` child process, stopped (SIGTERM, then waited for) when dropped.
struct WorkerProcess {
    name: String,
    child: Child,
}

impl WorkerProcess {
    /// Starts a worker with `config_file` and waits until it has loaded its models and listens.
    async fn start(config_file: &Path, name: &str) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the lore binary")?;
        let mut command = Command::new(exe);
        // The parent's settings (a catalog.url in LORE_CATALOG__URL, say) must not override the
        // benchmark's own database and collection in the file.
        for (variable, _) in std::env::vars_os() {
            let variable = variable.to_string_lossy().to_string();
            if variable.starts_with("LORE_") && variable != "LORE_LOG" {
                command.env_remove(variable);
            }
        }
        let mut child = command
            .arg("--config")
            .arg(config_file)
            .args(["worker", "--name", name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start a worker")?;
        let stderr = child.stderr.take().context("the worker's output is not readable")?;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let worker = name.to_string();
        std::thread::spawn(move || {
            // Read to the end, so the worker never blocks on a full pipe; log what it says.
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(ready) = ready_tx.take_if(|_| line.starts_with(READY_PREFIX)) {
                    let _ = ready.send(());
                }
                tracing::debug!(%worker, %line, "worker output");
            }
        });
        let mut process = Self { name: name.to_string(), child };
        match tokio::time::timeout(WORKER_START_TIMEOUT, ready_rx).await {
            Ok(Ok(())) => Ok(process),
            // The output ended (the worker exited) or the time ran out.
            Ok(Err(_)) | Err(_) => {
                process.check_running()?;
                anyhow::bail!("worker {name} did not start within {} s", WORKER_START_TIMEOUT.as_secs())
            }
        }
    }

    fn check_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => anyhow::bail!("worker {} exited ({status}); run with LORE_LOG=debug to see why", self.name),
            None => Ok(()),
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child this process started and has not yet waited for.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

async fn queue_overhead(config: &Config, url: &str, jobs: usize) -> anyhow::Result<QueueOverhead> {
    let scratch = Scratch::create(config, url, &format!("lore_bench_queue_{}", std::process::id())).await?;
    let result = measure_queue(&scratch, jobs).await;
    scratch.remove().await;
    result
}

async fn measure_queue(scratch: &Scratch, jobs: usize) -> anyhow::Result<QueueOverhead> {
    let url = scratch.config.catalog.url.as_deref().unwrap_or_default();
    let queue: Arc<dyn JobQueue> = Arc::new(PostgresCatalog::open(url, 4).await?);
    let policy = scratch.config.queue.policy();
    let max_attempts = policy.max_attempts;
    let request = |n: usize| JobRequest { action: JobAction::Sync, source: format!("empty-{n}"), payload: "{}".into() };
    let (mut enqueue, mut claim, mut heartbeat, mut finish) = (0.0, 0.0, 0.0, 0.0);
    for n in 0..jobs {
        let t = Instant::now();
        queue.enqueue(&request(n), max_attempts).await?;
        enqueue += ms(t);
        let t = Instant::now();
        let job = queue.claim("bench", &policy).await?.context("the queued job was not claimable")?;
        claim += ms(t);
        let t = Instant::now();
        queue.heartbeat(&job, &policy, "{}").await?;
        heartbeat += ms(t);
        let t = Instant::now();
        queue.finish(&job, &policy, JobEnd::Done { summary: "{}".into() }).await?;
        finish += ms(t);
    }
    let mut wakes = Vec::new();
    for n in 0..jobs.min(50) {
        let mut waiter = queue.waiter(Wake::Work).await?;
        let woken = tokio::spawn(async move {
            waiter.wait(Duration::from_secs(5)).await;
            Instant::now()
        });
        // Give the waiter time to be listening before the job arrives.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let queued = Instant::now();
        queue.enqueue(&request(jobs + n), max_attempts).await?;
        let woke = woken.await.context("the waiter crashed")?;
        wakes.push(woke.saturating_duration_since(queued).as_secs_f64() * 1000.0);
        let job = queue.claim("bench", &policy).await?.context("the queued job was not claimable")?;
        queue.finish(&job, &policy, JobEnd::Done { summary: "{}".into() }).await?;
    }
    let per = |total: f64| total / jobs as f64;
    Ok(QueueOverhead {
        jobs,
        enqueue_ms: per(enqueue),
        claim_ms: per(claim),
        heartbeat_ms: per(heartbeat),
        finish_ms: per(finish),
        per_job_ms: per(enqueue + claim + heartbeat + finish),
        wake_p50_ms: percentile(&wakes, 50.0),
        wake_p95_ms: percentile(&wakes, 95.0),
    })
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn print(result: &WorkersBench) {
    println!("Ingestion by workers sharing the queue ({} sources, {} cores)", result.sources, result.cores);
    for run in &result.runs {
        println!(
            "  {} worker(s): {} documents, {} chunks in {:.1} s = {:.0} chunks/s ({:.2}x)",
            run.workers,
            thousands(run.documents),
            thousands(run.chunks),
            run.ingest_s,
            run.chunks_per_s,
            run.speedup
        );
    }
    let q = &result.queue;
    println!(
        "Queue, per job ({} empty jobs): {:.2} ms (enqueue {:.2}, claim {:.2}, heartbeat {:.2}, finish {:.2}); \
         an idle worker wakes {:.1} ms after a job arrives (p95 {:.1})",
        q.jobs, q.per_job_ms, q.enqueue_ms, q.claim_ms, q.heartbeat_ms, q.finish_ms, q.wake_p50_ms, q.wake_p95_ms
    );
}

#[cfg(test)]
mod tests {
    use lore_core::config::{Config, Overrides};

    #[test]
    fn the_workers_configuration_file_reads_back_as_the_benchmarks_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.catalog.url = Some("postgres://lore@127.0.0.1:5432/lore_bench_workers_1_2".into());
        config.vectors.url = Some("http://127.0.0.1:6334".into());
        config.vectors.collection = "lore_bench_workers_1_2".into();
        config.data_dir = dir.path().join("data");
        let file = dir.path().join("lore.toml");
        super::write_config(&config, &file).unwrap();
        let loaded = Config::load(Some(&file), &Overrides::default()).unwrap();
        assert_eq!(loaded.catalog.url, config.catalog.url);
        assert_eq!(loaded.vectors.url, config.vectors.url);
        assert_eq!(loaded.vectors.collection, config.vectors.collection);
        assert_eq!(loaded.data_dir, config.data_dir);
        assert_eq!(loaded.queue, config.queue);
    }
}
