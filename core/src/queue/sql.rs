//! The queue's SQL, written once for both engines like the catalog's (`catalog/sql.rs`). What differs is
//! passed in: the engine's clock as SQL, the locking clause of a claim, and how changes are announced.

use super::{parse_action, parse_state, JobId, JobRecord, Result};

/// Active jobs a snapshot lists at most (a queue far longer than this is shown by its first ones).
pub(crate) const ACTIVE_SHOWN: i64 = 500;

pub(crate) const JOB_COLUMNS: &str =
    "id, action, source, payload, state, attempts, max_attempts, worker, enqueued_ms, \
     not_before_ms, started_ms, heartbeat_ms, lease_until_ms, finished_ms, progress, result, error";

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: i64,
    action: String,
    source: String,
    payload: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    worker: Option<String>,
    enqueued_ms: i64,
    not_before_ms: i64,
    started_ms: Option<i64>,
    heartbeat_ms: Option<i64>,
    lease_until_ms: Option<i64>,
    finished_ms: Option<i64>,
    progress: Option<String>,
    result: Option<String>,
    error: Option<String>,
}

impl JobRow {
    pub(crate) fn into_record(self) -> Result<JobRecord> {
        Ok(JobRecord {
            id: JobId(self.id),
            action: parse_action(&self.action)?,
            source: self.source,
            payload: self.payload,
            state: parse_state(&self.state)?,
            attempts: self.attempts as u32,
            max_attempts: self.max_attempts as u32,
            worker: self.worker,
            enqueued_ms: self.enqueued_ms,
            not_before_ms: self.not_before_ms,
            started_ms: self.started_ms,
            heartbeat_ms: self.heartbeat_ms,
            lease_until_ms: self.lease_until_ms,
            finished_ms: self.finished_ms,
            progress: self.progress,
            result: self.result,
            error: self.error,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClaimRow {
    pub(crate) id: i64,
    pub(crate) action: String,
    pub(crate) source: String,
    pub(crate) payload: String,
    pub(crate) attempts: i64,
    pub(crate) max_attempts: i64,
}

/// Implements [`super::JobQueue`] for a catalog type with a `pool` field. `$now` is the engine's clock
/// in milliseconds as SQL, `$lock` what follows a claim's candidate query (PostgreSQL: skip rows
/// another claim holds). The type provides `announce(&self, Wake)` and `open_waiter(&self, Wake)`.
macro_rules! impl_sql_queue {
    ($catalog:ty, $now:literal, $lock:literal) => {
        #[async_trait::async_trait]
        impl $crate::queue::JobQueue for $catalog {
            async fn enqueue(
                &self,
                request: &$crate::queue::JobRequest,
                max_attempts: u32,
            ) -> $crate::queue::Result<$crate::queue::Enqueued> {
                use $crate::queue::{Enqueued, JobId, Wake};
                let waiting: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM jobs WHERE state = 'queued' AND action = $1 AND source = $2 AND payload = $3 \
                     ORDER BY id LIMIT 1",
                )
                .bind(request.action.as_str())
                .bind(&request.source)
                .bind(&request.payload)
                .fetch_optional(&self.pool)
                .await?;
                if let Some(id) = waiting {
                    return Ok(Enqueued::AlreadyQueued(JobId(id)));
                }
                let id: i64 = sqlx::query_scalar(concat!(
                    "INSERT INTO jobs (action, source, payload, state, max_attempts, enqueued_ms, not_before_ms) \
                     VALUES ($1, $2, $3, 'queued', $4, ",
                    $now,
                    ", ",
                    $now,
                    ") RETURNING id"
                ))
                .bind(request.action.as_str())
                .bind(&request.source)
                .bind(&request.payload)
                .bind(i64::from(max_attempts.max(1)))
                .fetch_one(&self.pool)
                .await?;
                self.announce(Wake::Work).await;
                Ok(Enqueued::Added(JobId(id)))
            }

            async fn claim(
                &self,
                worker: &str,
                policy: &$crate::queue::QueuePolicy,
            ) -> $crate::queue::Result<Option<$crate::queue::ClaimedJob>> {
                use $crate::queue::{sql::ClaimRow, ClaimedJob, JobId, Wake};
                // Jobs whose worker stopped renewing the lease and that have no attempts left.
                let dead = sqlx::query(concat!(
                    "UPDATE jobs SET state = 'dead', finished_ms = ",
                    $now,
                    ", error = 'its worker (' || COALESCE(worker, '?') || ') stopped renewing the lease; ' || \
                       attempts || ' attempts made' \
                     WHERE state = 'running' AND lease_until_ms < ",
                    $now,
                    " AND attempts >= max_attempts"
                ))
                .execute(&self.pool)
                .await?;
                if dead.rows_affected() > 0 {
                    tracing::warn!(jobs = dead.rows_affected(), "ingest jobs dead: their workers stopped");
                }
                let lease_ms = policy.lease.as_millis() as i64;
                // Two claims racing for one source's jobs (PostgreSQL) make the unique index refuse the
                // second: it looks again.
                for _ in 0..5 {
                    let claimed: std::result::Result<Option<ClaimRow>, sqlx::Error> = sqlx::query_as(concat!(
                        "UPDATE jobs SET state = 'running', worker = $1, attempts = attempts + 1, \
                           lease_until_ms = ",
                        $now,
                        " + $2, heartbeat_ms = ",
                        $now,
                        ", started_ms = ",
                        $now,
                        ", progress = NULL, \
                           error = CASE WHEN state = 'running' \
                             THEN 'the previous attempt''s worker (' || COALESCE(worker, '?') || ') stopped renewing the lease' \
                             ELSE error END \
                         WHERE id = (SELECT j.id FROM jobs j \
                           WHERE ((j.state = 'queued' AND j.not_before_ms <= ",
                        $now,
                        ") OR (j.state = 'running' AND j.lease_until_ms < ",
                        $now,
                        " AND j.attempts < j.max_attempts)) \
                           AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.source = j.source AND r.state = 'running' \
                             AND r.id <> j.id) \
                           ORDER BY j.id LIMIT 1 ",
                        $lock,
                        ") RETURNING id, action, source, payload, attempts, max_attempts"
                    ))
                    .bind(worker)
                    .bind(lease_ms)
                    .fetch_optional(&self.pool)
                    .await;
                    match claimed {
                        Ok(None) => return Ok(None),
                        Ok(Some(row)) => {
                            self.announce(Wake::Change).await;
                            return Ok(Some(ClaimedJob {
                                id: JobId(row.id),
                                action: $crate::queue::parse_action(&row.action)?,
                                source: row.source,
                                payload: row.payload,
                                attempt: row.attempts as u32,
                                max_attempts: row.max_attempts as u32,
                                worker: worker.to_string(),
                            }));
                        }
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(None)
            }

            async fn heartbeat(
                &self,
                job: &$crate::queue::ClaimedJob,
                policy: &$crate::queue::QueuePolicy,
                progress: &str,
            ) -> $crate::queue::Result<bool> {
                let renewed = sqlx::query(concat!(
                    "UPDATE jobs SET lease_until_ms = ",
                    $now,
                    " + $1, heartbeat_ms = ",
                    $now,
                    ", progress = $2 \
                     WHERE id = $3 AND worker = $4 AND attempts = $5 AND state = 'running'"
                ))
                .bind(policy.lease.as_millis() as i64)
                .bind(progress)
                .bind(job.id.0)
                .bind(&job.worker)
                .bind(i64::from(job.attempt))
                .execute(&self.pool)
                .await?;
                self.announce($crate::queue::Wake::Change).await;
                Ok(renewed.rows_affected() == 1)
            }

            async fn finish(
                &self,
                job: &$crate::queue::ClaimedJob,
                policy: &$crate::queue::QueuePolicy,
                end: $crate::queue::JobEnd,
            ) -> $crate::queue::Result<bool> {
                use $crate::queue::{JobEnd, Wake};
                let query = match &end {
                    JobEnd::Done { summary } => sqlx::query(concat!(
                        "UPDATE jobs SET state = 'done', finished_ms = ",
                        $now,
                        ", lease_until_ms = NULL, progress = NULL, result = $1, error = NULL \
                         WHERE id = $2 AND worker = $3 AND attempts = $4 AND state = 'running'"
                    ))
                    .bind(summary.clone()),
                    JobEnd::Failed { error } => sqlx::query(concat!(
                        "UPDATE jobs SET \
                           state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
                           finished_ms = CASE WHEN attempts >= max_attempts THEN ",
                        $now,
                        " ELSE NULL END, \
                           not_before_ms = ",
                        $now,
                        " + $5, lease_until_ms = NULL, progress = NULL, error = $1 \
                         WHERE id = $2 AND worker = $3 AND attempts = $4 AND state = 'running'"
                    ))
                    .bind($crate::catalog::storable(error).into_owned()),
                    JobEnd::Released => sqlx::query(concat!(
                        "UPDATE jobs SET state = 'queued', attempts = attempts - 1, not_before_ms = ",
                        $now,
                        ", lease_until_ms = NULL, progress = NULL \
                         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state = 'running'"
                    )),
                };
                let query = query.bind(job.id.0).bind(&job.worker).bind(i64::from(job.attempt));
                let query = match end {
                    JobEnd::Failed { .. } => query.bind(policy.backoff_ms(job.attempt)),
                    _ => query,
                };
                let ended = query.execute(&self.pool).await?;
                self.announce(Wake::Work).await;
                Ok(ended.rows_affected() == 1)
            }

            async fn snapshot(&self, finished: usize) -> $crate::queue::Result<$crate::queue::QueueSnapshot> {
                use $crate::queue::sql::{JobRow, ACTIVE_SHOWN, JOB_COLUMNS};
                let now_ms: i64 = sqlx::query_scalar(concat!("SELECT ", $now)).fetch_one(&self.pool).await?;
                let active: Vec<JobRow> = sqlx::query_as(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('running', 'queued') \
                     ORDER BY CASE state WHEN 'running' THEN 0 ELSE 1 END, id LIMIT $1"
                ))
                .bind(ACTIVE_SHOWN)
                .fetch_all(&self.pool)
                .await?;
                let done: Vec<JobRow> = sqlx::query_as(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('done', 'dead') \
                     ORDER BY finished_ms DESC, id DESC LIMIT $1"
                ))
                .bind(finished as i64)
                .fetch_all(&self.pool)
                .await?;
                Ok($crate::queue::QueueSnapshot {
                    now_ms,
                    active: active.into_iter().map(JobRow::into_record).collect::<$crate::queue::Result<_>>()?,
                    finished: done.into_iter().map(JobRow::into_record).collect::<$crate::queue::Result<_>>()?,
                })
            }

            async fn expire_leases(&self) -> $crate::queue::Result<u64> {
                let expired = sqlx::query(concat!(
                    "UPDATE jobs SET lease_until_ms = ",
                    $now,
                    " - 1 WHERE state = 'running'"
                ))
                .execute(&self.pool)
                .await?;
                if expired.rows_affected() > 0 {
                    self.announce($crate::queue::Wake::Work).await;
                }
                Ok(expired.rows_affected())
            }

            async fn prune(&self, before_ms: i64) -> $crate::queue::Result<u64> {
                let pruned = sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'dead') AND finished_ms < $1")
                    .bind(before_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(pruned.rows_affected())
            }

            async fn waiter(
                &self,
                wake: $crate::queue::Wake,
            ) -> $crate::queue::Result<Box<dyn $crate::queue::QueueWaiter>> {
                self.open_waiter(wake).await
            }
        }
    };
}

pub(crate) use impl_sql_queue;
