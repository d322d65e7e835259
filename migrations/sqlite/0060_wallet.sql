-- The data wallet: the catalogue of attributes a citizen's wallet can hold, which registered
-- clients are the authoritative source of each, every version of every value (nothing is
-- overwritten: a new version supersedes the old one, which stays as history), and the
-- consents under which values are released to services. Releases themselves (the access
-- log) and every grant, use, expiry and revocation of a consent (the consent ledger) are
-- journal events, so they are hash-chained with everything else.
--
-- The idp keeps, beside its own rows, what it needs to carry a consent through a login:
-- the request's authorization_details and the level it demands, and the consent a request
-- and then its grant released data under.

CREATE TABLE wallet_attributes (
    name TEXT PRIMARY KEY,
    label_es TEXT NOT NULL,
    label_en TEXT NOT NULL,
    -- text | date | number | boolean | address | code
    kind TEXT NOT NULL,
    -- For kind = code: the allowed codes, a JSON array of strings.
    codes TEXT,
    -- 1 when releasing the attribute needs level 2 or more.
    sensitive BIGINT NOT NULL,
    -- The scope that asks for it.
    scope TEXT NOT NULL,
    -- 1 when the citizen may assert it (unverified until verified).
    self_asserted BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE wallet_sources (
    attribute TEXT NOT NULL REFERENCES wallet_attributes (name),
    client_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (attribute, client_id)
);
CREATE INDEX wallet_sources_client ON wallet_sources (client_id);

-- Every version of every value. The current one has superseded_at NULL; the partial unique
-- index keeps it to one per citizen and attribute even when two sources race.
CREATE TABLE wallet_values (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    attribute TEXT NOT NULL REFERENCES wallet_attributes (name),
    -- The value as JSON.
    value TEXT NOT NULL,
    -- The client id of the publishing source, or `citizen` for a self-asserted value.
    source TEXT NOT NULL,
    source_reference TEXT,
    verified BIGINT NOT NULL,
    valid_from BIGINT,
    valid_until BIGINT,
    recorded_at BIGINT NOT NULL,
    superseded_at BIGINT
);
CREATE UNIQUE INDEX wallet_values_current ON wallet_values (account_id, attribute) WHERE superseded_at IS NULL;
CREATE INDEX wallet_values_history ON wallet_values (account_id, attribute, recorded_at);

CREATE TABLE wallet_consents (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    client_id TEXT NOT NULL,
    -- The consented attributes, a JSON array of names.
    attributes TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis TEXT,
    -- one_time | ongoing
    mode TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- active | revoked | expired
    status TEXT NOT NULL,
    ended_at BIGINT,
    -- The signed receipt (a JWS compact serialization).
    receipt TEXT NOT NULL
);
CREATE INDEX wallet_consents_account ON wallet_consents (account_id, granted_at);
CREATE INDEX wallet_consents_client ON wallet_consents (client_id, account_id, status);
CREATE INDEX wallet_consents_expiry ON wallet_consents (status, expires_at);

-- What a registered client tells citizens when it asks for their data (its default purpose
-- and the legal basis it relies on), and where it wants consent events sent.
CREATE TABLE wallet_clients (
    client_id TEXT PRIMARY KEY,
    purpose TEXT,
    legal_basis TEXT,
    consent_events_uri TEXT,
    updated_at BIGINT NOT NULL
);

-- Consent events (revocations, expiries) for clients that registered a URI for them,
-- delivered by a worker with retries.
CREATE TABLE wallet_consent_events (
    id TEXT PRIMARY KEY,
    consent_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    -- revoked | expired
    event TEXT NOT NULL,
    uri TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    abandoned_at BIGINT,
    last_error TEXT
);
CREATE INDEX wallet_consent_events_due ON wallet_consent_events (next_attempt_at);

ALTER TABLE idp_auth_requests ADD COLUMN authorization_details TEXT;
ALTER TABLE idp_auth_requests ADD COLUMN min_acr TEXT;
ALTER TABLE idp_auth_requests ADD COLUMN consent_ref TEXT;
ALTER TABLE idp_grants ADD COLUMN consent_ref TEXT;
CREATE INDEX idp_grants_consent ON idp_grants (consent_ref);
