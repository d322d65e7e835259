-- Corrections the citizen asks of an authoritative source: "this value the registry gave is
-- wrong". The source lists the open ones and answers each (corrected, with a new version
-- published as usual, or rejected with a reason); the citizen sees the answer.

-- `status`: open | corrected | rejected. `value_id` is the version the citizen disputes.
CREATE TABLE wallet_corrections (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    attribute TEXT NOT NULL,
    source TEXT NOT NULL,
    value_id TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    answered_at BIGINT,
    answer TEXT
);
CREATE INDEX wallet_corrections_source ON wallet_corrections (source, status, created_at);
CREATE INDEX wallet_corrections_account ON wallet_corrections (account_id, created_at);
CREATE UNIQUE INDEX wallet_corrections_one_open ON wallet_corrections (account_id, attribute) WHERE status = 'open';
