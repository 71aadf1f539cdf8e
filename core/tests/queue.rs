//! The job queue contract, on SQLite and on PostgreSQL: each job claimed by one worker at a time, leases
//! that expire, retries with backoff, a dead state, waking idle workers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lore_core::queue::{ClaimedJob, Enqueued, JobAction, JobEnd, JobQueue, JobRequest, JobState, QueuePolicy, Wake};

/// Opens another handle on the same queue (another process would do the same).
type Reopen = Arc<dyn Fn() -> futures_like::BoxFuture<Arc<dyn JobQueue>> + Send + Sync>;

mod futures_like {
    pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("catalog.sqlite");
                let reopen: super::Reopen = std::sync::Arc::new(move || {
                    let path = path.clone();
                    Box::pin(async move {
                        let catalog = lore_core::catalog::SqliteCatalog::open(&path).await.unwrap();
                        std::sync::Arc::new(catalog) as std::sync::Arc<dyn lore_core::queue::JobQueue>
                    })
                });
                super::$name(reopen).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let url = lore_testkit::postgres::database();
                let reopen: super::Reopen = std::sync::Arc::new(move || {
                    let url = url.clone();
                    Box::pin(async move {
                        let catalog = lore_core::catalog::PostgresCatalog::open(&url, 4).await.unwrap();
                        std::sync::Arc::new(catalog) as std::sync::Arc<dyn lore_core::queue::JobQueue>
                    })
                });
                super::$name(reopen).await;
            })*
        }
    };
}

contract!(
    identical_waiting_jobs_are_queued_once,
    one_job_per_source_runs_at_a_time,
    heartbeats_renew_the_lease_and_carry_progress,
    failures_back_off_then_die,
    an_expired_lease_hands_the_job_to_another_worker,
    a_worker_that_keeps_dying_leaves_the_job_dead,
    a_released_job_waits_again_without_losing_an_attempt,
    expired_leases_are_taken_over_at_once,
    concurrent_workers_run_each_job_exactly_once,
    idle_workers_wake_when_work_arrives,
    finished_jobs_are_pruned_by_age,
);

const POLICY: QueuePolicy =
    QueuePolicy { lease: Duration::from_secs(30), max_attempts: 3, backoff: Duration::from_millis(300) };

fn sync(source: &str) -> JobRequest {
    JobRequest { action: JobAction::Sync, source: source.into(), payload: format!("{{\"source\":\"{source}\"}}") }
}

async fn claim(queue: &Arc<dyn JobQueue>, worker: &str, policy: &QueuePolicy) -> Option<ClaimedJob> {
    queue.claim(worker, policy).await.unwrap()
}

async fn identical_waiting_jobs_are_queued_once(reopen: Reopen) {
    let queue = reopen().await;
    let first = queue.enqueue(&sync("wiki"), 3).await.unwrap();
    assert!(matches!(first, Enqueued::Added(_)));
    assert_eq!(queue.enqueue(&sync("wiki"), 3).await.unwrap(), Enqueued::AlreadyQueued(first.id()));
    let other = JobRequest { payload: "{\"retry\":true}".into(), ..sync("wiki") };
    assert!(matches!(queue.enqueue(&other, 3).await.unwrap(), Enqueued::Added(_)));
    let remove = JobRequest { action: JobAction::Remove, ..sync("wiki") };
    assert!(matches!(queue.enqueue(&remove, 3).await.unwrap(), Enqueued::Added(_)));
    // Once the first runs, the same job may wait again (a change arrived during the sync).
    let running = claim(&queue, "w1", &POLICY).await.unwrap();
    assert_eq!(running.id, first.id());
    assert!(matches!(queue.enqueue(&sync("wiki"), 3).await.unwrap(), Enqueued::Added(_)));
    let snapshot = queue.snapshot(10).await.unwrap();
    assert_eq!(snapshot.active.len(), 4);
    assert_eq!(snapshot.active[0].state, JobState::Running, "running jobs come first");
    assert!(snapshot.active[1..].iter().all(|j| j.state == JobState::Queued));
}

async fn one_job_per_source_runs_at_a_time(reopen: Reopen) {
    let queue = reopen().await;
    let a1 = queue.enqueue(&sync("a"), 3).await.unwrap().id();
    queue.enqueue(&JobRequest { action: JobAction::Remove, ..sync("a") }, 3).await.unwrap();
    let b = queue.enqueue(&sync("b"), 3).await.unwrap().id();
    let first = claim(&queue, "w1", &POLICY).await.unwrap();
    assert_eq!((first.id, first.attempt, first.worker.as_str()), (a1, 1, "w1"));
    let second = claim(&queue, "w2", &POLICY).await.unwrap();
    assert_eq!(second.id, b, "a's second job waits for its first; b runs meanwhile");
    assert_eq!(claim(&queue, "w3", &POLICY).await, None);
    assert!(queue.finish(&first, &POLICY, JobEnd::Done { summary: "{}".into() }).await.unwrap());
    let third = claim(&queue, "w3", &POLICY).await.unwrap();
    assert_eq!((third.source.as_str(), third.action), ("a", JobAction::Remove));
}

async fn heartbeats_renew_the_lease_and_carry_progress(reopen: Reopen) {
    let queue = reopen().await;
    queue.enqueue(&sync("a"), 3).await.unwrap();
    let short = QueuePolicy { lease: Duration::from_millis(600), ..POLICY };
    let job = claim(&queue, "w1", &short).await.unwrap();
    for n in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(queue.heartbeat(&job, &short, &format!("{{\"done\":{n}}}")).await.unwrap());
    }
    // A whole second has passed, more than the lease: the heartbeats kept it.
    assert_eq!(claim(&queue, "w2", &short).await, None);
    let snapshot = queue.snapshot(10).await.unwrap();
    let running = &snapshot.active[0];
    assert_eq!(running.progress.as_deref(), Some("{\"done\":3}"));
    assert_eq!(running.worker.as_deref(), Some("w1"));
    assert!(running.lease_until_ms.unwrap() > snapshot.now_ms);
    assert!(queue.finish(&job, &short, JobEnd::Done { summary: "{\"indexed\":2}".into() }).await.unwrap());
    let snapshot = queue.snapshot(10).await.unwrap();
    assert!(snapshot.active.is_empty());
    assert_eq!(snapshot.finished[0].state, JobState::Done);
    assert_eq!(snapshot.finished[0].result.as_deref(), Some("{\"indexed\":2}"));
    assert_eq!(snapshot.finished[0].progress, None);
}

async fn failures_back_off_then_die(reopen: Reopen) {
    let queue = reopen().await;
    // Long enough that the claim right after the failure always falls inside it.
    const POLICY: QueuePolicy = QueuePolicy { backoff: Duration::from_millis(1500), ..self::POLICY };
    let id = queue.enqueue(&sync("a"), 2).await.unwrap().id();
    let job = claim(&queue, "w1", &POLICY).await.unwrap();
    assert!(queue.finish(&job, &POLICY, JobEnd::Failed { error: "folder gone".into() }).await.unwrap());
    let waiting = queue.snapshot(10).await.unwrap().active.remove(0);
    assert_eq!((waiting.state, waiting.attempts, waiting.error.as_deref()), (JobState::Queued, 1, Some("folder gone")));
    let started = waiting.started_ms.unwrap();
    assert!(
        waiting.not_before_ms >= started + 1500,
        "a backoff from the failure: {} vs {started}",
        waiting.not_before_ms
    );
    assert_eq!(claim(&queue, "w1", &POLICY).await, None, "not before the backoff");
    let started = Instant::now();
    let retry = loop {
        if let Some(job) = claim(&queue, "w2", &POLICY).await {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the backoff ends");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!((retry.id, retry.attempt), (id, 2));
    assert!(queue.finish(&retry, &POLICY, JobEnd::Failed { error: "folder still gone".into() }).await.unwrap());
    let snapshot = queue.snapshot(10).await.unwrap();
    assert!(snapshot.active.is_empty());
    let dead = &snapshot.finished[0];
    assert_eq!((dead.state, dead.attempts, dead.error.as_deref()), (JobState::Dead, 2, Some("folder still gone")));
    assert!(dead.finished_ms.is_some());
}

async fn an_expired_lease_hands_the_job_to_another_worker(reopen: Reopen) {
    let queue = reopen().await;
    queue.enqueue(&sync("a"), 3).await.unwrap();
    let short = QueuePolicy { lease: Duration::from_millis(300), ..POLICY };
    let lost = claim(&queue, "dying-worker", &short).await.unwrap();
    assert_eq!(claim(&queue, "w2", &short).await, None, "the lease still holds");
    tokio::time::sleep(Duration::from_millis(450)).await;
    let taken = claim(&queue, "w2", &short).await.unwrap();
    assert_eq!((taken.id, taken.attempt), (lost.id, 2));
    let record = queue.snapshot(10).await.unwrap().active.remove(0);
    assert!(record.error.unwrap().contains("dying-worker"), "the takeover says whose lease ran out");
    // The first worker comes back: its claim is gone, and what it would write is refused.
    assert!(!queue.heartbeat(&lost, &short, "{}").await.unwrap());
    assert!(!queue.finish(&lost, &short, JobEnd::Done { summary: "{}".into() }).await.unwrap());
    assert!(queue.finish(&taken, &short, JobEnd::Done { summary: "{}".into() }).await.unwrap());
    assert_eq!(queue.snapshot(10).await.unwrap().finished[0].worker.as_deref(), Some("w2"));
}

async fn a_worker_that_keeps_dying_leaves_the_job_dead(reopen: Reopen) {
    let queue = reopen().await;
    queue.enqueue(&sync("a"), 2).await.unwrap();
    let short = QueuePolicy { lease: Duration::from_millis(200), ..POLICY };
    assert_eq!(claim(&queue, "w1", &short).await.unwrap().attempt, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(claim(&queue, "w2", &short).await.unwrap().attempt, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(claim(&queue, "w3", &short).await, None, "no attempts left");
    let snapshot = queue.snapshot(10).await.unwrap();
    assert!(snapshot.active.is_empty());
    assert_eq!(snapshot.finished[0].state, JobState::Dead);
    let error = snapshot.finished[0].error.clone().unwrap();
    assert!(error.contains("w2") && error.contains("2 attempts"), "{error}");
}

async fn expired_leases_are_taken_over_at_once(reopen: Reopen) {
    let queue = reopen().await;
    queue.enqueue(&sync("a"), 3).await.unwrap();
    let crashed = claim(&queue, "previous-process", &POLICY).await.unwrap();
    assert_eq!(claim(&queue, "w2", &POLICY).await, None, "a 30 s lease holds");
    assert_eq!(queue.expire_leases().await.unwrap(), 1);
    let taken = claim(&queue, "w2", &POLICY).await.unwrap();
    assert_eq!((taken.id, taken.attempt), (crashed.id, 2));
}

async fn a_released_job_waits_again_without_losing_an_attempt(reopen: Reopen) {
    let queue = reopen().await;
    queue.enqueue(&sync("a"), 1).await.unwrap();
    let job = claim(&queue, "w1", &POLICY).await.unwrap();
    assert!(queue.finish(&job, &POLICY, JobEnd::Released).await.unwrap());
    let again = claim(&queue, "w2", &POLICY).await.expect("released jobs may run at once");
    assert_eq!((again.id, again.attempt), (job.id, 1), "a one-attempt job survives a restart");
}

async fn concurrent_workers_run_each_job_exactly_once(reopen: Reopen) {
    let producer = reopen().await;
    let mut expected = Vec::new();
    for n in 0..60 {
        // Twelve sources, five jobs each; distinct options, so none is merged into another.
        let request = JobRequest { payload: format!("{{\"n\":{n}}}"), ..sync(&format!("source-{}", n % 12)) };
        expected.push(producer.enqueue(&request, 3).await.unwrap().id());
    }
    let expected_count = expected.len();
    let mut workers = Vec::new();
    for w in 0..4 {
        let queue = reopen().await;
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            let mut idle = 0;
            while idle < 20 {
                match queue.claim(&format!("worker-{w}"), &POLICY).await.unwrap() {
                    Some(job) => {
                        idle = 0;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        assert!(queue.finish(&job, &POLICY, JobEnd::Done { summary: "{}".into() }).await.unwrap());
                        done.push(job.id);
                    }
                    None => {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            done
        }));
    }
    let mut runs: HashMap<_, usize> = HashMap::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            *runs.entry(id).or_default() += 1;
        }
    }
    assert_eq!(runs.len(), expected_count, "every job ran");
    assert!(runs.values().all(|&n| n == 1), "no job ran twice: {runs:?}");
    assert!(expected.iter().all(|id| runs.contains_key(id)));
    assert!(producer.snapshot(0).await.unwrap().active.is_empty());
}

async fn idle_workers_wake_when_work_arrives(reopen: Reopen) {
    // On SQLite only waiters of the same process are woken at once (others poll): one handle here.
    let worker = reopen().await;
    woken_by_enqueue(worker.clone(), worker.clone()).await;
    assert!(claim(&worker, "w1", &POLICY).await.is_some());
}

/// `worker` waits for work with a long timeout; `producer` enqueues after a moment; the wait ends early.
async fn woken_by_enqueue(worker: Arc<dyn JobQueue>, producer: Arc<dyn JobQueue>) {
    let mut waiter = worker.waiter(Wake::Work).await.unwrap();
    let started = Instant::now();
    let enqueue = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        producer.enqueue(&sync("a"), 3).await.unwrap();
    });
    waiter.wait(Duration::from_secs(20)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "woken by the enqueue, not the timeout");
    enqueue.await.unwrap();
}

async fn finished_jobs_are_pruned_by_age(reopen: Reopen) {
    let queue = reopen().await;
    queue.enqueue(&sync("a"), 3).await.unwrap();
    queue.enqueue(&sync("b"), 3).await.unwrap();
    let job = claim(&queue, "w1", &POLICY).await.unwrap();
    queue.finish(&job, &POLICY, JobEnd::Done { summary: "{}".into() }).await.unwrap();
    let now = queue.snapshot(0).await.unwrap().now_ms;
    assert_eq!(queue.prune(now - 60_000).await.unwrap(), 0, "younger than the cutoff");
    assert_eq!(queue.prune(now + 1).await.unwrap(), 1, "the finished one; the queued one stays");
    assert_eq!(queue.snapshot(10).await.unwrap().active.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_wakes_workers_of_other_processes() {
    let url = lore_testkit::postgres::database();
    let worker = lore_core::catalog::PostgresCatalog::open(&url, 2).await.unwrap();
    let producer = lore_core::catalog::PostgresCatalog::open(&url, 2).await.unwrap();
    // LISTEN/NOTIFY, through the server: two pools as two processes would have.
    woken_by_enqueue(Arc::new(worker), Arc::new(producer)).await;
}
