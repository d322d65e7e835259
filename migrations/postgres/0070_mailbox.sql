-- The citizen mailbox: notices that agencies (registered clients) and clave itself send to
-- citizens, their attachments, the citizen's alert preference, and the position of the
-- follower that turns security events in the journal into notices.
--
-- A notice's first opening is its proof of notification: `first_opened_at` is written once
-- and the opening is journaled (mailbox.notice_opened) in the same transaction. Notices are
-- never changed after they are sent, only archived by the citizen or, under the retention
-- policy, deleted with a journal entry that keeps their digest and proof.

-- Which clients may address citizens by RUN (the others use the `sub` they know).
CREATE TABLE mailbox_senders (
    client_id TEXT PRIMARY KEY,
    by_run BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE mailbox_notices (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    -- The sending client's id, or `clave` for notices from clave itself.
    sender TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    -- How the sender named the citizen: `sub:<subject>`, `run` or `clave`.
    addressed_as TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- text | markdown
    body_format TEXT NOT NULL,
    sensitive BIGINT NOT NULL,
    -- The acr needed to open it, if any.
    required_level TEXT,
    -- The sender's Idempotency-Key and the digest of the request it came with.
    idempotency_key TEXT,
    request_digest TEXT NOT NULL,
    -- SHA-256 over the subject, body and attachment digests (see the mailbox docs).
    content_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- When it is (or was) delivered to the mailbox: the creation time or the scheduled time.
    deliver_at BIGINT NOT NULL,
    first_opened_at BIGINT,
    -- The journal entry that recorded the first opening.
    opened_entry TEXT,
    archived_at BIGINT,
    -- pending | sent | failed | disabled | no_address | not_configured
    alert_status TEXT NOT NULL,
    alert_attempts BIGINT NOT NULL,
    alert_next_at BIGINT,
    alert_sent_at BIGINT,
    alert_error TEXT
);
CREATE UNIQUE INDEX mailbox_notices_idempotency ON mailbox_notices (sender, idempotency_key);
CREATE INDEX mailbox_notices_inbox ON mailbox_notices (account_id, deliver_at);
CREATE INDEX mailbox_notices_alerts ON mailbox_notices (alert_status, alert_next_at);
CREATE INDEX mailbox_notices_retention ON mailbox_notices (deliver_at);

CREATE TABLE mailbox_attachments (
    notice_id TEXT NOT NULL REFERENCES mailbox_notices (id),
    position BIGINT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    -- The content, base64 (standard alphabet, padded).
    content TEXT NOT NULL,
    PRIMARY KEY (notice_id, position)
);

-- Whether the citizen wants e-mail alerts (a missing row means yes).
CREATE TABLE mailbox_preferences (
    account_id TEXT PRIMARY KEY REFERENCES idp_accounts (id),
    alerts BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The last journal entry the security-notice follower has handled. It starts at the
-- journal's head, so a deployment that upgrades does not get notices for its past.
CREATE TABLE mailbox_journal_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO mailbox_journal_cursor (id, seq) SELECT 1, seq FROM journal_head WHERE id = 1;
