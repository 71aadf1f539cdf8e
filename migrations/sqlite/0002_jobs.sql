-- The ingestion job queue, in the catalog's database so that the process that enqueues (a web replica,
-- the CLI) and the processes that work (`lore worker`, the embedded server's worker) share it.
-- migrations/postgres/0002_jobs.sql is the same table on PostgreSQL.

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    -- sync: read a source folder into the indexes; remove: take a source out of them.
    action          TEXT    NOT NULL CHECK (action IN ('sync', 'remove')),
    source          TEXT    NOT NULL,
    -- The job's options as JSON (for a sync: folder, ACL, whether to retry failed files).
    payload         TEXT    NOT NULL,
    -- queued: waiting (or waiting out a backoff); running: a worker holds the lease;
    -- done: ran to its end (outcome in `result`); dead: failed `max_attempts` times, kept for people to see.
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    -- Claims so far, the current one included; a claim whose lease expired counts as a failed attempt.
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    -- The worker holding (or that last held) the job, and until when its lease runs.
    worker          TEXT,
    lease_until_ms  INTEGER,
    heartbeat_ms    INTEGER,
    enqueued_ms     INTEGER NOT NULL,
    -- Not claimed before this time (backoff after a failed attempt).
    not_before_ms   INTEGER NOT NULL,
    started_ms      INTEGER,
    finished_ms     INTEGER,
    -- JSON: the running job's live progress, and the finished job's summary.
    progress        TEXT,
    result          TEXT,
    -- The last attempt's error.
    error           TEXT
);

CREATE INDEX jobs_by_state ON jobs (state, not_before_ms, id);
-- One running job per source: two workers never sync the same folder at once.
CREATE UNIQUE INDEX jobs_running_per_source ON jobs (source) WHERE state = 'running';
-- The same job is never waiting twice.
CREATE UNIQUE INDEX jobs_queued_once ON jobs (action, source, payload) WHERE state = 'queued';
