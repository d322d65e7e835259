-- Staff and caller verification.
--
-- An account's staff roles are the JSON list in idp_accounts.roles; an agent also belongs to
-- an office, named in the citizen's access log beside every look-up the agent makes.
ALTER TABLE idp_accounts ADD COLUMN office TEXT;

-- The one live caller-verification code of a citizen, made in the portal and read to an
-- agent over the telephone. Only its keyed digest is kept; a new code replaces the old one,
-- and a successful check deletes it (single use).
CREATE TABLE wallet_caller_codes (
    account_id TEXT PRIMARY KEY,
    code_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Caller checks. An agent's check is `pending` while the citizen is asked to approve it in
-- the portal (the binding phrase read aloud on both sides), `verified` once a code matched
-- or the citizen approved (expires_at then ends the agent's view of the profile), or
-- `denied`.
CREATE TABLE wallet_caller_checks (
    id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    office TEXT NOT NULL,
    account_id TEXT NOT NULL,
    method TEXT NOT NULL,
    binding TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX wallet_caller_checks_account ON wallet_caller_checks (account_id, state);
CREATE INDEX wallet_caller_checks_agent ON wallet_caller_checks (agent_id, created_at);
