-- The journal: an append-only, hash-chained log of every security-relevant event.
-- Each entry's hash covers its own fields and the previous entry's hash, so an altered,
-- missing or reordered row breaks the chain at that point. `journal_head` is a single row
-- that every appender updates first: its row lock serialises appends across all nodes.
CREATE TABLE journal (
    seq BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    subject TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX journal_subject ON journal (subject, seq);
CREATE INDEX journal_kind ON journal (kind, seq);

CREATE TABLE journal_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO journal_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
