-- Advanced electronic signature: the deployment's certificate authorities, the signers'
-- credentials (a certificate and its sealed P-256 key), every CRL ever issued (kept for
-- long-term validation), and signature activations (SAD) bound to the exact hashes they may
-- sign, and the time-stamp authority. Certificates and CRLs are stored as base64 DER text,
-- the same on both backends.

-- `id` is the name in URLs (`root`, `ciudadanos`). `sealed_key` is the PKCS#8 key sealed
-- under the master key (owner `signer-ca:<id>`). `crl_number` is the number of the last
-- CRL issued; it only grows.
CREATE TABLE signer_cas (
    id TEXT PRIMARY KEY,
    parent_id TEXT REFERENCES signer_cas (id),
    common_name TEXT NOT NULL,
    cert_der TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    crl_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A signer's credential. `serial` is the certificate's serial number in hex. `status` is
-- `valid` or `revoked`; at most one valid credential per account and CA. `sealed_key` has
-- owner `signer-credential:<id>`.
CREATE TABLE signer_credentials (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    ca_id TEXT NOT NULL REFERENCES signer_cas (id),
    serial TEXT NOT NULL UNIQUE,
    cert_der TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    status TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revocation_reason TEXT
);
CREATE INDEX signer_credentials_account ON signer_credentials (account_id);
CREATE INDEX signer_credentials_ca ON signer_credentials (ca_id, status);
CREATE UNIQUE INDEX signer_credentials_one_valid ON signer_credentials (account_id, ca_id) WHERE status = 'valid';

-- Every CRL issued, newest by number.
CREATE TABLE signer_crls (
    ca_id TEXT NOT NULL REFERENCES signer_cas (id),
    number BIGINT NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL,
    der TEXT NOT NULL,
    PRIMARY KEY (ca_id, number)
);

-- Signature activation data. Only a digest of the SAD is kept. `hashes` is a JSON array of
-- the hex SHA-256 hashes still allowed; `remaining` how many signatures are left. A hash is
-- removed when signed, so each is signed once.
CREATE TABLE signer_activations (
    id TEXT PRIMARY KEY,
    sad_digest TEXT NOT NULL UNIQUE,
    credential_id TEXT NOT NULL REFERENCES signer_credentials (id),
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    client_id TEXT NOT NULL,
    hashes TEXT NOT NULL,
    remaining BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signer_activations_expiry ON signer_activations (expires_at);

-- clave's own RFC 3161 time-stamp authority: its certificate (under the root, extended key
-- usage timeStamping) and its key sealed under the master key (owner `signer-tsa:tsa`).
CREATE TABLE signer_tsa (
    id TEXT PRIMARY KEY,
    cert_der TEXT NOT NULL,
    sealed_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
