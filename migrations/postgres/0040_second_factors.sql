-- Second factors beyond the password: TOTP authenticators, recovery codes, and the citizen's
-- choice to be asked for a second factor at every login. Kept in the database, not in a
-- node's memory, so that every node agrees on which one-time codes were already used.

-- One TOTP authenticator per citizen. `sealed_secret` is the seed sealed under the master key
-- (owner `totp:<account id>`). `confirmed_at` is NULL while enrolment waits for a first valid
-- code. `last_step` is the last 30-second step accepted: a code of that step or an earlier one
-- is refused, and it is advanced by one conditional UPDATE, so two nodes cannot both accept a
-- code.
CREATE TABLE idp_totp (
    account_id TEXT PRIMARY KEY REFERENCES idp_accounts (id),
    sealed_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT
);

-- Single-use recovery codes, argon2id-hashed. A new set replaces the old one (deleted);
-- `used_at` marks a code spent.
CREATE TABLE idp_recovery_codes (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX idp_recovery_codes_account ON idp_recovery_codes (account_id, used_at);

-- The citizen's second-factor preferences.
CREATE TABLE idp_factor_settings (
    account_id TEXT PRIMARY KEY REFERENCES idp_accounts (id),
    always_ask BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL
);
