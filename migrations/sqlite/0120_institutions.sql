-- Institutions and their officials' certificates on the ministro-de-fe model: each
-- institution has its own issuing CA (signer_cas row with the same id), staff with roles in
-- it (admin, operator, ministro_de_fe), and requests for officials' certificates that its
-- ministro de fe approves or rejects.

CREATE TABLE signer_institutions (
    id TEXT PRIMARY KEY REFERENCES signer_cas (id),
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE signer_institution_staff (
    institution_id TEXT NOT NULL REFERENCES signer_institutions (id),
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    role TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (institution_id, account_id, role)
);
CREATE INDEX signer_institution_staff_account ON signer_institution_staff (account_id);

-- `status`: pending | approved | rejected. At most one pending request per official and
-- institution.
CREATE TABLE signer_certificate_requests (
    id TEXT PRIMARY KEY,
    institution_id TEXT NOT NULL REFERENCES signer_institutions (id),
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    title TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    reason TEXT,
    credential_id TEXT
);
CREATE INDEX signer_certificate_requests_institution ON signer_certificate_requests (institution_id, status, created_at);
CREATE UNIQUE INDEX signer_certificate_requests_one_pending ON signer_certificate_requests (institution_id, account_id) WHERE status = 'pending';
