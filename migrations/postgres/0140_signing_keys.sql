-- Signing keys beyond the master-sealed software key, and passkey activations.
--
-- A credential's key may live in a PKCS#11 token (`key_backend` 'pkcs11', `key_ref` its label there, `sealed_key` empty): the
-- database then holds no key material at all. A software key may also be wrapped by a key
-- derived from the signer's signing PIN (`pin_salt` set, `sealed_key` starting `pin:`), so
-- the database and the master key together still cannot sign without the signer.
ALTER TABLE signer_credentials ADD COLUMN key_backend TEXT NOT NULL DEFAULT 'software';
ALTER TABLE signer_credentials ADD COLUMN key_ref TEXT;
ALTER TABLE signer_credentials ADD COLUMN pin_salt TEXT;

-- An activation checked with a signing PIN carries the master-sealed key re-wrapped under a
-- key derived from its SAD, which only the client holds, so signing under it needs no PIN
-- while the database alone still cannot open the key.
ALTER TABLE signer_activations ADD COLUMN wrapped_key TEXT;

-- A signature activation waiting for a passkey assertion: the requests and the hex SHA-256
-- of every document they hold (JSON arrays), and the WebAuthn ceremony whose challenge the
-- signer's authenticator must sign. Taken out by the one answer it gets, short-lived.
CREATE TABLE signer_passkey_activations (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id),
    credential_id TEXT NOT NULL REFERENCES signer_credentials (id),
    request_ids TEXT NOT NULL,
    hashes TEXT NOT NULL,
    ceremony_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX signer_passkey_activations_expiry ON signer_passkey_activations (expires_at);
