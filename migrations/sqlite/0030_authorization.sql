-- The browser flow of the OpenID Connect provider: pending authorization requests (bound to
-- the browser that started them), pushed authorization requests (RFC 9126), single-use
-- authorization codes, rotating refresh tokens, the scopes each citizen approved for each
-- service, and the queue of back-channel logout notices. Bearer values (codes, refresh
-- tokens, PAR handles, browser bindings) are stored only as SHA-256 digests. Client and
-- account ids carry no foreign keys: a removed client keeps its history, and every row here
-- expires on its own. Times are Unix seconds from the server's clock.

CREATE TABLE idp_auth_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    -- The client's name when the request was made, for the login and consent pages.
    client_name TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    -- Whether the request named its redirect_uri (then the token request must repeat it).
    redirect_uri_given BOOLEAN NOT NULL,
    scope TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    response_mode TEXT NOT NULL,
    prompt TEXT NOT NULL,
    max_age BIGINT,
    login_hint TEXT,
    acr_values TEXT,
    ui_locales TEXT,
    -- Digest of the browser cookie that started the request: only that browser may resume it.
    browser_digest TEXT NOT NULL,
    -- Digest of the session cookie the browser had when the request came: a login counts as
    -- fresh (for prompt=login, max_age, step-up) only once the cookie has changed since.
    prior_session_digest TEXT,
    consented_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX idp_auth_requests_expiry ON idp_auth_requests (expires_at);

CREATE TABLE idp_pushed_requests (
    handle_digest TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    -- The pushed parameters as a JSON object of strings.
    params TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX idp_pushed_requests_expiry ON idp_pushed_requests (expires_at);

CREATE TABLE idp_codes (
    digest TEXT PRIMARY KEY,
    -- The authorization (idp_grants row) the code redeems into; revoked when the code is replayed.
    grant_id TEXT NOT NULL,
    -- NULL when the authorization request did not name a redirect_uri.
    redirect_uri TEXT,
    nonce TEXT,
    code_challenge TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX idp_codes_expiry ON idp_codes (expires_at);

CREATE TABLE idp_refresh_tokens (
    token_digest TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    -- The digest of the token this one replaced: the rotation chain of one family.
    parent TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX idp_refresh_tokens_grant ON idp_refresh_tokens (grant_id);

CREATE TABLE idp_scope_approvals (
    account_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    -- The approved scopes, space separated.
    scopes TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE idp_backchannel_deliveries (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    -- The citizen, for the journal.
    account_id TEXT NOT NULL,
    -- The citizen's subject as that client knows it.
    subject TEXT NOT NULL,
    uri TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    abandoned_at BIGINT,
    last_error TEXT
);
CREATE INDEX idp_backchannel_deliveries_due ON idp_backchannel_deliveries (next_attempt_at);
