-- The audit log: who searched, asked, opened or downloaded what, every sign-in and every administrator's
-- action, appended in the catalog's database and kept for `audit.retention_days`.
-- migrations/postgres/0004_audit.sql is the same table on PostgreSQL.

CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    -- The signed-in user, when there is one (kept when the user is deleted: the log outlives accounts).
    user_id         INTEGER,
    -- Who, as people read it: a user's name, the principals a proxy named, or 'everyone'.
    actor           TEXT    NOT NULL,
    -- The client's address.
    client          TEXT,
    -- sign_in, sign_in_failed, sign_out, search, ask, open, download, source_add, source_sync,
    -- source_remove, token_create, token_revoke, user_change.
    action          TEXT    NOT NULL,
    -- What: the query or question, a document id, a source's name, a token id.
    subject         TEXT    NOT NULL
);

CREATE INDEX audit_by_time ON audit_events (at_ms);
CREATE INDEX audit_by_user ON audit_events (user_id, at_ms);
