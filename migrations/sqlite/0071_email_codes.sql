-- One-time codes that prove a citizen owns the e-mail address they entered themselves: a
-- self-asserted address stays unverified until the citizen types back the code sent to it.
-- Only a keyed digest of the code is stored; a code expires and allows a few attempts.
CREATE TABLE wallet_email_codes (
    account_id TEXT PRIMARY KEY REFERENCES idp_accounts (id),
    -- The address the code was sent to; the code proves nothing about any other.
    email TEXT NOT NULL,
    code_digest TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
