-- Conversations in the browser, per user. migrations/postgres/0007_conversations.sql is the same on
-- PostgreSQL. Only the owner's id finds a conversation; deleting the user deletes theirs.
CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The first question, cut.
    title           TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    -- When its last turn was added: the list is ordered by it.
    updated_ms      INTEGER NOT NULL
);

CREATE INDEX conversations_by_user ON conversations (user_id, updated_ms);

CREATE TABLE conversation_turns (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- 0, 1, 2... in the order asked.
    ordinal         INTEGER NOT NULL,
    question        TEXT    NOT NULL,
    -- The answer as the web service showed it (JSON).
    answer          TEXT    NOT NULL,
    -- JSON list of the ids of every document the answer cites or lists: an old answer is shown only
    -- to a user who may still read them all.
    documents       TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, ordinal)
);
