-- Sign-ins through an OpenID provider that have left for the provider and not come back yet.
-- migrations/postgres/0006_sign_in_flows.sql is the same table on PostgreSQL. A row is taken (deleted)
-- by the callback that completes it, on whichever web process the browser reaches; rows older than a
-- few minutes are purged.
CREATE TABLE sign_in_flows (
    -- SHA-256 (hex) of the `state` parameter sent to the provider.
    state_hash      TEXT    PRIMARY KEY,
    -- SHA-256 (hex) of the secret in the browser's flow cookie: the callback must come from the
    -- browser that started the sign-in (no login CSRF).
    browser_hash    TEXT    NOT NULL,
    provider        TEXT    NOT NULL,
    -- The PKCE code verifier and the ID token's expected nonce.
    pkce_verifier   TEXT    NOT NULL,
    nonce           TEXT    NOT NULL,
    -- Where the browser goes once signed in (a path on this site).
    next_path       TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL
);

CREATE INDEX sign_in_flows_by_age ON sign_in_flows (created_ms);
