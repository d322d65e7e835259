-- Citizen accounts, login throttling and browser sessions: the state behind RUN + password
-- login. Throttling counters and sessions live in the database rather than in a node's memory
-- so that every node sharing it agrees on lockouts and on who is logged in.

-- One row per citizen. `run` is the compact form (12345678-5), unique. `password_hash` is an
-- argon2id PHC string, NULL for accounts a registry created before the citizen activated them.
CREATE TABLE idp_accounts (
    id TEXT PRIMARY KEY,
    run TEXT NOT NULL UNIQUE,
    given_names TEXT NOT NULL,
    family_names TEXT NOT NULL,
    email TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT,
    roles TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Failed-login counters, keyed `run:<compact RUN>` or `addr:<ip>`. A key exists for unknown
-- RUNs too, so a lockout reveals nothing about whether an account exists.
CREATE TABLE idp_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);

-- Browser sessions (single sign-on). The cookie carries a random token; only its SHA-256 is
-- kept here. `amr` is a JSON array of authentication method references.
CREATE TABLE idp_sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    token_digest TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    auth_time BIGINT NOT NULL,
    acr TEXT NOT NULL,
    amr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    ended_reason TEXT,
    user_agent TEXT,
    ip TEXT
);
CREATE INDEX idp_sessions_account ON idp_sessions (account_id, ended_at);
