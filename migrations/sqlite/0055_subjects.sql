-- Which citizen a pairwise subject stands for. A pairwise `sub` is a one-way HMAC, so a
-- service that names a citizen by the `sub` it knows (to send a notice, to read consented
-- data) is answered through this index, written when a citizen's first authorization code
-- for a sector is redeemed. Public subjects are account ids and need no row.
CREATE TABLE idp_subjects (
    sector TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sector, subject)
);
CREATE INDEX idp_subjects_account ON idp_subjects (account_id);
