-- The catalog: Lore's system of record. The text and vector indexes are derived from it and must agree
-- with it; `lore status --check` verifies that they do.

CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    root            TEXT    NOT NULL,
    -- JSON array of the principals allowed to read the source's documents.
    acl             TEXT    NOT NULL DEFAULT '["everyone"]',
    created_ms      INTEGER NOT NULL,
    last_synced_ms  INTEGER
);

CREATE TABLE documents (
    id              INTEGER PRIMARY KEY,
    source_id       INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    -- Relative to the source root, '/'-separated.
    path            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    size_bytes      INTEGER NOT NULL,
    modified_ms     INTEGER NOT NULL,
    -- blake3 of the file's bytes at its last indexing attempt.
    content_hash    TEXT    NOT NULL,
    -- pending: being written to the indexes (a crash leaves it so; the next run purges and redoes it)
    -- indexed: in all three stores; failed / no_text: nothing indexed, `error` says why.
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'indexed', 'failed', 'no_text')),
    -- Why the last attempt failed. On an indexed document: the file changed into something unreadable
    -- and the previous version stays searchable.
    error           TEXT,
    pages           INTEGER,
    chunk_count     INTEGER NOT NULL DEFAULT 0,
    indexed_ms      INTEGER,
    UNIQUE (source_id, path)
);

CREATE INDEX documents_status ON documents (status);

-- The extracted text that chunk offsets point into, kept for the document view and for citations.
CREATE TABLE document_texts (
    document_id     INTEGER PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    text            TEXT    NOT NULL,
    -- JSON array of the character offset where each page starts (empty for unpaginated formats).
    page_starts     TEXT    NOT NULL DEFAULT '[]'
);

CREATE TABLE chunks (
    -- ChunkId: (document id << 20) | ordinal, the same id as in the text and vector indexes.
    id              INTEGER PRIMARY KEY,
    document_id     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal         INTEGER NOT NULL,
    page            INTEGER,
    heading         TEXT,
    start_char      INTEGER NOT NULL,
    end_char        INTEGER NOT NULL,
    tokens          INTEGER NOT NULL,
    text            TEXT    NOT NULL
);

CREATE INDEX chunks_document ON chunks (document_id);

CREATE TABLE ingest_runs (
    id              INTEGER PRIMARY KEY,
    source_id       INTEGER REFERENCES sources (id) ON DELETE SET NULL,
    started_ms      INTEGER NOT NULL,
    finished_ms     INTEGER,
    -- running, completed, interrupted (a newer run found it unfinished), failed
    status          TEXT    NOT NULL,
    scanned         INTEGER NOT NULL DEFAULT 0,
    indexed         INTEGER NOT NULL DEFAULT 0,
    unchanged       INTEGER NOT NULL DEFAULT 0,
    removed         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    chunks          INTEGER NOT NULL DEFAULT 0,
    error           TEXT
);
