-- People who sign in, and their browser sessions. migrations/postgres/0003_accounts.sql is the same on
-- PostgreSQL.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    -- 'local' for accounts with a password kept here (`lore admin create`); otherwise the OpenID issuer
    -- that vouches for the user.
    issuer          TEXT    NOT NULL,
    -- Unique per issuer: the login name of a local account, the OpenID subject (`sub`) otherwise.
    subject         TEXT    NOT NULL,
    display_name    TEXT    NOT NULL,
    email           TEXT,
    -- Argon2id in PHC string form; local accounts only.
    password_hash   TEXT,
    -- JSON array of the principals the user reads with (user:..., group:...): for an OpenID user as its
    -- last sign-in mapped them, for a local account as the administrator set them.
    principals      TEXT    NOT NULL,
    -- A local account made to administer (`lore admin create`).
    is_admin        INTEGER NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL,
    last_sign_in_ms INTEGER,
    UNIQUE (issuer, subject)
);

CREATE TABLE sessions (
    -- SHA-256 (hex) of the secret in the cookie: the database never holds a usable session.
    id_hash         TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms      INTEGER NOT NULL,
    -- Renewed by use (at most once a minute); the session ends after `auth.session_idle_minutes` unused.
    last_seen_ms    INTEGER NOT NULL,
    -- The absolute end (`auth.session_max_hours` after sign-in), whatever the use.
    expires_ms      INTEGER NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_ms);

-- API tokens: a user's credentials for programs (scripts, OpenAI clients), sent as
-- `Authorization: Bearer`. They act as their owner, as the owner is now, within their scopes.
CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What the owner called it ("laptop script").
    name            TEXT    NOT NULL,
    -- SHA-256 (hex) of the token: it is shown once, when made, and never stored.
    secret_hash     TEXT    NOT NULL UNIQUE,
    -- The token's first characters, to tell tokens apart in a list.
    hint            TEXT    NOT NULL,
    -- JSON array of what it may do: search, ask, admin.
    scopes          TEXT    NOT NULL,
    -- JSON array of the owner's principals it is narrowed to; NULL: all of them.
    principals      TEXT,
    created_ms      INTEGER NOT NULL,
    -- NULL: never expires.
    expires_ms      INTEGER,
    last_used_ms    INTEGER,
    revoked_ms      INTEGER
);

CREATE INDEX api_tokens_by_user ON api_tokens (user_id);
