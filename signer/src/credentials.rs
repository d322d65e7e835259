//! Signing credentials: a signer's certificate from one of the deployment's CAs and a key
//! that never leaves the server. A citizen gets one on first use, once a second factor is
//! enrolled (every signature needs one); revocation puts it on the next CRL at once.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::db::is_unique_violation;
use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use clave_idp::accounts::Account;
use serde_json::json;

use crate::ca::{CITIZENS, random_serial};
use clave_common::config::KeyBackendKind;

use crate::keys::{ActiveKey, SoftwareKey};
use crate::profile::{self, Holder, Official};
use crate::{CERT_VALIDITY_DAYS, Signer, SignerError, crl};

/// A signer's credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Credential {
    /// The credential id (the CSC `credentialID`).
    pub id: String,
    /// The account that owns it.
    pub account_id: String,
    /// The CA that issued its certificate.
    pub ca_id: String,
    /// The certificate's serial number, hex.
    pub serial: String,
    /// The certificate, DER.
    #[serde(skip)]
    pub cert_der: Vec<u8>,
    /// `valid` or `revoked`.
    pub status: String,
    /// notBefore (Unix seconds).
    pub not_before: i64,
    /// notAfter (Unix seconds).
    pub not_after: i64,
    /// When it was issued (Unix seconds).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Where its key lives: `software` (sealed in the database) or `pkcs11` (in a token).
    pub key_backend: String,
    /// Whether its key is also wrapped by the signer's signing PIN.
    pub pin_protected: bool,
}

impl Credential {
    /// Whether it can sign at `now`.
    pub fn is_usable(&self, now: i64) -> bool {
        self.status == "valid" && self.not_before <= now && now < self.not_after
    }
}

#[derive(Debug, sqlx::FromRow)]
struct CredentialRow {
    id: String,
    account_id: String,
    ca_id: String,
    serial: String,
    cert_der: String,
    status: String,
    not_before: i64,
    not_after: i64,
    created_at: i64,
    revoked_at: Option<i64>,
    key_backend: String,
    pin_salt: Option<String>,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = SignerError;

    fn try_from(r: CredentialRow) -> Result<Self, SignerError> {
        let cert_der = STANDARD
            .decode(&r.cert_der)
            .map_err(|_| SignerError::Internal(format!("credential {} is corrupt", r.id)))?;
        Ok(Self {
            id: r.id,
            account_id: r.account_id,
            ca_id: r.ca_id,
            serial: r.serial,
            cert_der,
            status: r.status,
            not_before: r.not_before,
            not_after: r.not_after,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            key_backend: r.key_backend,
            pin_protected: r.pin_salt.is_some(),
        })
    }
}

const COLUMNS: &str = "id, account_id, ca_id, serial, cert_der, status, not_before, not_after, \
                       created_at, revoked_at, key_backend, pin_salt";

/// The owner a credential's software key is sealed for (the associated data of its
/// sealing).
pub fn key_owner(credential_id: &str) -> String {
    format!("signer-credential:{credential_id}")
}

impl Signer {
    /// The credential with `id`.
    pub async fn credential(&self, id: &str) -> Result<Option<Credential>, SignerError> {
        let row: Option<CredentialRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM signer_credentials WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.ctx().db.pool())
        .await?;
        row.map(Credential::try_from).transpose()
    }

    /// Every credential of an account, newest first.
    pub async fn credentials_of(&self, account_id: &str) -> Result<Vec<Credential>, SignerError> {
        self.credentials_where("account_id", account_id).await
    }

    /// Every credential a CA issued, newest first.
    pub async fn credentials_of_ca(&self, ca_id: &str) -> Result<Vec<Credential>, SignerError> {
        self.credentials_where("ca_id", ca_id).await
    }

    async fn credentials_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Vec<Credential>, SignerError> {
        let rows: Vec<CredentialRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM signer_credentials WHERE {column} = $1 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(value)
        .fetch_all(self.ctx().db.pool())
        .await?;
        rows.into_iter().map(Credential::try_from).collect()
    }

    /// Every credential, newest first, up to `limit`.
    pub async fn all_credentials(&self, limit: u32) -> Result<Vec<Credential>, SignerError> {
        let rows: Vec<CredentialRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM signer_credentials ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.ctx().db.pool())
        .await?;
        rows.into_iter().map(Credential::try_from).collect()
    }

    /// The citizen's usable credential, issuing one if there is none and the citizen has an
    /// authenticator to activate signatures with; `None` without one.
    pub async fn citizen_credential(
        &self,
        account: &Account,
    ) -> Result<Option<Credential>, SignerError> {
        let now = self.ctx().clock.unix();
        if let Some(existing) = self
            .credentials_of(&account.id)
            .await?
            .into_iter()
            .find(|c| c.ca_id == CITIZENS && c.is_usable(now))
        {
            return Ok(Some(existing));
        }
        if !self.can_activate(&account.id).await? {
            return Ok(None);
        }
        match self.issue(account, CITIZENS, None, &account.id).await {
            Ok(credential) => Ok(Some(credential)),
            // Another request issued it first.
            Err(SignerError::Conflict(_)) => Ok(self
                .credentials_of(&account.id)
                .await?
                .into_iter()
                .find(|c| c.ca_id == CITIZENS && c.is_usable(now))),
            Err(e) => Err(e),
        }
    }

    /// Whether the account has a second factor that activates signatures: an authenticator
    /// app (one-time codes) or a passkey.
    pub async fn can_activate(&self, account_id: &str) -> Result<bool, SignerError> {
        if self.idp().totps().is_active(account_id).await? {
            return Ok(true);
        }
        let passkeys = self
            .idp()
            .passkeys()
            .count(account_id)
            .await
            .map_err(|e| SignerError::Internal(e.to_string()))?;
        Ok(passkeys > 0)
    }

    /// Issues a credential for `account` from the CA `ca_id`; with `official`, the
    /// certificate also names the institution and position. `actor` is who asked.
    pub async fn issue(
        &self,
        account: &Account,
        ca_id: &str,
        official: Option<Official>,
        actor: &str,
    ) -> Result<Credential, SignerError> {
        let ctx = self.ctx();
        if !self.can_activate(&account.id).await? {
            return Err(SignerError::Conflict(
                "the signer has no authenticator app or passkey: every signature needs a fresh \
                 second factor, so enrol one before a certificate is issued"
                    .into(),
            ));
        }
        let (_, issuer) = self.issuer(ca_id).await?;
        let now = ctx.clock.now();
        let serial = random_serial();
        let holder = Holder {
            name: account.full_name(),
            run: account.run.compact(),
            official,
        };
        let params = profile::leaf_params(
            &holder,
            now,
            CERT_VALIDITY_DAYS,
            &serial,
            &self.public_url(),
            ca_id,
        );
        let id = new_id();
        let backend = ctx.config.signing.key_backend;
        let (cert, sealed, key_ref, token) = match backend {
            KeyBackendKind::Software => {
                let key = SoftwareKey::generate();
                let cert = params.signed_by(&key.to_rcgen()?, &issuer)?;
                (cert, key.seal(&ctx.master, &key_owner(&id))?, None, None)
            }
            KeyBackendKind::Pkcs11 => {
                // The key pair is made inside the token; only its label is stored.
                let (token, point) = self.generate_in_token(&id).await?;
                let public = TokenPublicKey { point };
                match params.signed_by(&public, &issuer) {
                    Ok(cert) => (cert, String::new(), Some(id.clone()), Some(token)),
                    Err(e) => {
                        self.discard_token_key(token, &id).await;
                        return Err(e.into());
                    }
                }
            }
        };
        let credential = Credential {
            id: id.clone(),
            account_id: account.id.clone(),
            ca_id: ca_id.to_owned(),
            serial: hex::encode(&serial),
            cert_der: cert.der().to_vec(),
            status: "valid".into(),
            not_before: params.not_before.unix_timestamp(),
            not_after: params.not_after.unix_timestamp(),
            created_at: now.unix_timestamp(),
            revoked_at: None,
            key_backend: key_backend_name(backend).to_owned(),
            pin_protected: false,
        };
        let mut tx = ctx.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signer_credentials (id, account_id, ca_id, serial, cert_der, sealed_key, \
             status, not_before, not_after, created_at, key_backend, key_ref) \
             VALUES ($1, $2, $3, $4, $5, $6, 'valid', $7, $8, $9, $10, $11)",
        )
        .bind(&credential.id)
        .bind(&credential.account_id)
        .bind(&credential.ca_id)
        .bind(&credential.serial)
        .bind(STANDARD.encode(&credential.cert_der))
        .bind(&sealed)
        .bind(credential.not_before)
        .bind(credential.not_after)
        .bind(credential.created_at)
        .bind(&credential.key_backend)
        .bind(&key_ref)
        .execute(&mut *tx)
        .await;
        if inserted.is_err()
            && let Some(token) = token
        {
            self.discard_token_key(token, &id).await;
        }
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(SignerError::Conflict(
                    "the signer already has a valid certificate from this CA; revoke it first"
                        .into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let event = NewEvent::new("signature.certificate_issued")
            .actor(actor)
            .subject(&account.id)
            .data(json!({
                "credential_id": credential.id,
                "ca": ca_id,
                "serial": credential.serial,
                "official": holder.official.is_some(),
                "key_backend": credential.key_backend,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(credential)
    }

    /// Revokes a credential for `reason` (an RFC 5280 reason name) and issues its CA's next
    /// CRL at once.
    pub async fn revoke(
        &self,
        credential_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Credential, SignerError> {
        if !crl::is_reason(reason) {
            return Err(SignerError::Invalid(format!(
                "unknown revocation reason {reason:?}; use one of {}",
                crl::REASONS.join(", ")
            )));
        }
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE signer_credentials SET status = 'revoked', revoked_at = $2, \
             revocation_reason = $3 WHERE id = $1 AND status = 'valid'",
        )
        .bind(credential_id)
        .bind(now.unix_timestamp())
        .bind(reason)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let credential: Option<CredentialRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM signer_credentials WHERE id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(&mut *tx)
        .await?;
        let credential = Credential::try_from(
            credential
                .ok_or_else(|| SignerError::NotFound(format!("no credential {credential_id}")))?,
        )?;
        if changed == 0 {
            return Err(SignerError::Conflict(format!(
                "credential {credential_id} is already revoked"
            )));
        }
        let event = NewEvent::new("signature.certificate_revoked")
            .actor(actor)
            .subject(&credential.account_id)
            .data(json!({
                "credential_id": credential.id,
                "serial": credential.serial,
                "reason": reason,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        self.issue_crl(&credential.ca_id).await?;
        Ok(credential)
    }

    /// The credential's key, opened for one use. `wrapped` is what the activation carries
    /// for a PIN-protected key, opened with the `sad` it was spent with.
    pub(crate) async fn activated_key(
        &self,
        credential_id: &str,
        stored: StoredKey,
        sad: &str,
        wrapped: Option<&str>,
    ) -> Result<ActiveKey, SignerError> {
        if stored.backend == "pkcs11" {
            let label = stored.key_ref.ok_or_else(|| {
                SignerError::Internal(format!("credential {credential_id} names no token key"))
            })?;
            return Ok(ActiveKey::Token {
                token: self.token().await?,
                label,
            });
        }
        let owner = key_owner(credential_id);
        let master = &self.ctx().master;
        if !crate::pin::is_wrapped(&stored.sealed) {
            return Ok(ActiveKey::Software(SoftwareKey::open(
                master,
                &owner,
                &stored.sealed,
            )?));
        }
        let wrapped = wrapped.ok_or_else(|| {
            SignerError::InvalidSad(
                "the credential got a signing PIN after this SAD was issued; authorize again"
                    .into(),
            )
        })?;
        let inner = crate::pin::unwrap(&crate::pin::sad_key(sad), &owner, wrapped)?
            .ok_or_else(|| SignerError::Internal("an activation's key does not open".into()))?;
        let inner = std::str::from_utf8(&inner)
            .map_err(|_| SignerError::Internal("an activation's key is corrupt".into()))?;
        Ok(ActiveKey::Software(SoftwareKey::open(
            master, &owner, inner,
        )?))
    }

    /// How the credential's key is stored.
    pub(crate) async fn stored_key(&self, credential_id: &str) -> Result<StoredKey, SignerError> {
        let mut conn = self.ctx().db.pool().acquire().await?;
        stored_key_in(&mut conn, credential_id).await
    }

    /// The configured PKCS#11 token, opened on a blocking thread.
    async fn token(&self) -> Result<std::sync::Arc<crate::pkcs11::Token>, SignerError> {
        let config = self.ctx().config.signing.clone();
        tokio::task::spawn_blocking(move || crate::pkcs11::open(&config))
            .await
            .map_err(|e| SignerError::Internal(format!("opening the token stopped: {e}")))?
    }

    async fn generate_in_token(
        &self,
        id: &str,
    ) -> Result<(std::sync::Arc<crate::pkcs11::Token>, Vec<u8>), SignerError> {
        let token = self.token().await?;
        let (worker, id) = (token.clone(), id.to_owned());
        let point = tokio::task::spawn_blocking(move || worker.generate(&id))
            .await
            .map_err(|e| SignerError::Internal(format!("key generation stopped: {e}")))??;
        Ok((token, point))
    }

    /// Removes a token key whose credential was never stored; a failure only leaves an
    /// unused key behind, so it is logged rather than returned.
    async fn discard_token_key(&self, token: std::sync::Arc<crate::pkcs11::Token>, id: &str) {
        let label = id.to_owned();
        let done = tokio::task::spawn_blocking(move || token.destroy(&label)).await;
        if !matches!(done, Ok(Ok(()))) {
            tracing::warn!(credential = id, "an unused key stays in the PKCS#11 token");
        }
    }

    /// The certificate chain of a credential: its certificate, then its CAs up to the root.
    pub async fn chain(&self, credential: &Credential) -> Result<Vec<Vec<u8>>, SignerError> {
        let mut chain = vec![credential.cert_der.clone()];
        for ca in self.ca_chain(&credential.ca_id).await? {
            chain.push(ca.cert_der);
        }
        Ok(chain)
    }
}

/// How the credential's key is stored, read through `conn` (inside the caller's
/// transaction, so a signing holds one connection, not two).
pub(crate) async fn stored_key_in(
    conn: &mut sqlx::AnyConnection,
    credential_id: &str,
) -> Result<StoredKey, SignerError> {
    let (sealed, backend, key_ref, pin_salt): (String, String, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT sealed_key, key_backend, key_ref, pin_salt FROM signer_credentials \
             WHERE id = $1",
        )
        .bind(credential_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| SignerError::NotFound(format!("no credential {credential_id}")))?;
    Ok(StoredKey {
        sealed,
        backend,
        key_ref,
        pin_salt,
    })
}

/// How a credential's key is kept, as stored.
#[derive(Debug)]
pub(crate) struct StoredKey {
    /// The master-sealed key, PIN-wrapped when `pin_salt` is set; empty for a token key.
    pub sealed: String,
    /// `software` or `pkcs11`.
    pub backend: String,
    /// The token key's label.
    pub key_ref: Option<String>,
    /// The salt the signing PIN is derived with, when there is one.
    pub pin_salt: Option<String>,
}

fn key_backend_name(kind: KeyBackendKind) -> &'static str {
    match kind {
        KeyBackendKind::Software => "software",
        KeyBackendKind::Pkcs11 => "pkcs11",
    }
}

/// A token key's public half, as rcgen puts it in a certificate.
struct TokenPublicKey {
    point: Vec<u8>,
}

impl rcgen::PublicKeyData for TokenPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}
