-- Signature requests: a service asks a citizen (or an official) to sign documents; the
-- signer sees the request in the portal, views the exact documents and signs or declines;
-- the service reads the outcome, and may be told by a callback. Document contents and the
-- signed outputs are stored as base64 text, the same on both backends.

-- `institution_id`: set when the signer signs as an official of that institution (with the
-- certificate from its CA), none for a signature in the signer's own name.
-- `status`: pending | signed | declined | expired. `format`: pades | cades | jades.
-- `level`: B-B | B-T. `callback_status`: NULL without a callback URL, otherwise pending,
-- delivered or abandoned once the request is decided.
CREATE TABLE signer_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    addressed_as TEXT NOT NULL,
    institution_id TEXT,
    purpose TEXT NOT NULL,
    format TEXT NOT NULL,
    level TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_at BIGINT,
    decline_reason TEXT,
    credential_id TEXT,
    callback_url TEXT,
    callback_status TEXT,
    callback_attempts BIGINT NOT NULL,
    callback_next_at BIGINT,
    callback_error TEXT
);
CREATE INDEX signer_requests_signer ON signer_requests (account_id, status, created_at);
CREATE INDEX signer_requests_client ON signer_requests (client_id, created_at);
CREATE INDEX signer_requests_expiry ON signer_requests (status, expires_at);
CREATE INDEX signer_requests_callbacks ON signer_requests (callback_status, callback_next_at);

-- The documents of a request, in order, with their SHA-256 (hex) as shown to the signer,
-- and once signed the output: the signed PDF (PAdES) or the detached signature.
CREATE TABLE signer_request_documents (
    request_id TEXT NOT NULL REFERENCES signer_requests (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    content TEXT NOT NULL,
    signed TEXT,
    PRIMARY KEY (request_id, position)
);
