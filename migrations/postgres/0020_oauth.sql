-- The token service of the OpenID Connect provider: registered clients, the keys that sign
-- tokens, the authorizations (grants) that citizen-bound tokens hang from, the list of
-- revoked access-token ids, and the replay cache of private_key_jwt client assertions.
-- Access tokens are self-contained JWTs; these tables hold only what every node must agree
-- on to refuse one early (a revoked jti, a revoked grant) and what the keys need.
-- Client ids carry no foreign keys: a removed client is marked, not deleted, and keeps its
-- history. Times are Unix seconds from the server's clock; lists are JSON arrays in TEXT.

CREATE TABLE idp_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Keyed digest (HMAC under the master key) of the client secret; NULL for public clients
    -- and for clients that authenticate with private_key_jwt.
    secret_digest TEXT,
    public BOOLEAN NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    -- 'pairwise' or 'public'; pairwise subjects are derived per sector.
    subject_type TEXT NOT NULL,
    sector TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    require_par BOOLEAN NOT NULL,
    id_token_alg TEXT NOT NULL,
    min_acr TEXT,
    -- The client's public keys (a JWK Set as JSON) for private_key_jwt.
    jwks TEXT,
    jwks_uri TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    removed_at BIGINT
);

-- Token-signing keys. A key signs while `retired_at` is NULL (one per algorithm, enforced by
-- the partial unique index), stays published for verification until `retired_at` plus the
-- configured grace, and is then marked removed and its private half erased. The private key
-- is sealed under the master key, bound to its kid.
CREATE TABLE idp_signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    removed_at BIGINT
);
CREATE UNIQUE INDEX idp_signing_keys_one_active ON idp_signing_keys (alg) WHERE retired_at IS NULL;

-- One row per authorization: a redeemed code and the refresh-token family that follows it.
-- Revoking the row refuses every access and refresh token issued under it.
CREATE TABLE idp_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    account_id TEXT,
    session_id TEXT,
    scope TEXT NOT NULL,
    acr TEXT NOT NULL,
    -- JSON array of authentication method references.
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX idp_grants_client ON idp_grants (client_id);
CREATE INDEX idp_grants_account ON idp_grants (account_id);
CREATE INDEX idp_grants_session ON idp_grants (session_id);

-- Access tokens revoked before they expire; a row is useless after `expires_at` and pruned.
CREATE TABLE idp_revoked_tokens (
    jti TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX idp_revoked_tokens_expiry ON idp_revoked_tokens (expires_at);

-- The jti of every private_key_jwt assertion seen, until it expires: an assertion is
-- accepted once across all nodes.
CREATE TABLE idp_assertion_jtis (
    client_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX idp_assertion_jtis_expiry ON idp_assertion_jtis (expires_at);

-- Secrets of the idp itself that are made once per deployment and never change (the
-- pairwise-subject key), sealed under the master key, bound to their name.
CREATE TABLE idp_secrets (
    name TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
