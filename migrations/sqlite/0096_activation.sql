-- Activation codes handed out at a front desk after an in-person identity check: the citizen
-- sets their password with one (a first password for an account a registry created, or a new
-- one for a citizen who lost theirs). One live code per account; only its keyed digest is
-- kept; activation deletes it.
CREATE TABLE idp_activation_codes (
    account_id TEXT PRIMARY KEY,
    code_digest TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
