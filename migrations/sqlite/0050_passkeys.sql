-- Passkeys (WebAuthn credentials) and the WebAuthn ceremonies in progress. A ceremony's state
-- (the challenge and what the answer must match) lives here, not in a node's memory, because
-- the browser may reach another node to finish what one node started; it is consumed by one
-- DELETE so an answer is accepted at most once. A credential is stored as webauthn-rs's
-- serialised passkey (public key, counter, flags): nothing secret, so not sealed.

CREATE TABLE idp_passkeys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES idp_accounts (id) ON DELETE CASCADE,
    -- The WebAuthn credential id, base64url without padding; unique across all accounts.
    credential_id TEXT NOT NULL UNIQUE,
    -- The citizen's name for it ("Teléfono", "Llave azul").
    name TEXT NOT NULL,
    -- webauthn-rs's `Passkey`, as JSON.
    credential TEXT NOT NULL,
    -- The authenticator's signature counter as last seen (0 for authenticators without one).
    sign_count BIGINT NOT NULL,
    -- 1 if the credential may be synchronised between devices (amr `swk` rather than `hwk`).
    backup_eligible BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX idp_passkeys_account ON idp_passkeys (account_id);

CREATE TABLE idp_webauthn_ceremonies (
    id TEXT PRIMARY KEY,
    -- `register`, `second_factor` or `passwordless`.
    kind TEXT NOT NULL,
    -- The citizen it is for; none for a passwordless login, where the credential says who.
    account_id TEXT,
    -- webauthn-rs's ceremony state, as JSON.
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX idp_webauthn_ceremonies_expiry ON idp_webauthn_ceremonies (expires_at);
