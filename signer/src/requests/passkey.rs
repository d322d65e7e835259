//! Activating a signature with a passkey instead of a one-time code. Starting keeps a
//! pending activation server-side: the exact requests, the SHA-256 of each of their
//! documents, and the WebAuthn ceremony whose challenge the signer's authenticator must
//! sign. Finishing takes the pending activation out (once, before it lapses), checks that the
//! requests still hash the same, verifies the assertion against that ceremony only (user
//! verification required), and signs. An assertion made for another pending activation, or
//! replayed, is refused.

use std::net::IpAddr;

use clave_common::id::{is_plausible_id, new_id};
use clave_idp::accounts::Account;
use clave_idp::passkey::PasskeyError;
use serde_json::{Value, json};

use crate::activation::{Factor, VerifiedPasskey};
use crate::{Signer, SignerError};

/// How long a pending passkey activation waits for the assertion, in seconds.
pub const PENDING_TTL_SECS: i64 = 120;

/// A passkey activation begun: its id, to send back with the assertion, and the options for
/// `navigator.credentials.get()`.
#[derive(Debug, Clone)]
pub struct PasskeySigning {
    /// The pending activation's id.
    pub pending: String,
    /// The WebAuthn request options (`{"publicKey": …}`).
    pub options: Value,
}

fn passkey_refusal(e: PasskeyError) -> SignerError {
    match e {
        PasskeyError::Idp(e) => SignerError::from(e),
        PasskeyError::NoPasskeys => {
            SignerError::SecondFactor("the signer has no passkey registered".into())
        }
        PasskeyError::CeremonyExpired => SignerError::SecondFactor(
            "the passkey prompt expired or was already answered; start again".into(),
        ),
        PasskeyError::Unavailable(text) => SignerError::Unavailable(text),
        _ => SignerError::SecondFactor("the passkey was not accepted".into()),
    }
}

impl Signer {
    /// Begins signing the pending requests `ids` of `account` with a passkey.
    pub async fn start_passkey_signing(
        &self,
        account: &Account,
        ids: &[String],
    ) -> Result<PasskeySigning, SignerError> {
        let batch = self.prepare_batch(account, ids).await?;
        let ceremony = self
            .idp()
            .passkeys()
            .start_second_factor(&account.id)
            .await
            .map_err(passkey_refusal)?;
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let request_ids: Vec<&str> = batch.requests.iter().map(|r| r.id.as_str()).collect();
        let hashes: Vec<String> = batch.hashes.iter().map(hex::encode).collect();
        let id = new_id();
        // Lapsed pending activations are of no further use.
        sqlx::query("DELETE FROM signer_passkey_activations WHERE expires_at <= $1")
            .bind(now)
            .execute(ctx.db.pool())
            .await?;
        sqlx::query(
            "INSERT INTO signer_passkey_activations (id, account_id, credential_id, request_ids, \
             hashes, ceremony_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&account.id)
        .bind(&batch.credential.id)
        .bind(json!(request_ids).to_string())
        .bind(json!(hashes).to_string())
        .bind(&ceremony.id)
        .bind(now + PENDING_TTL_SECS)
        .bind(now)
        .execute(ctx.db.pool())
        .await?;
        Ok(PasskeySigning {
            pending: id,
            options: ceremony.options,
        })
    }

    /// Completes a passkey activation with the browser's `assertion` and signs its requests;
    /// the signing `pin` too when the credential has one.
    pub async fn finish_passkey_signing(
        &self,
        account: &Account,
        pending: &str,
        assertion: &Value,
        pin: Option<&str>,
        addr: IpAddr,
    ) -> Result<(), SignerError> {
        let expired = || {
            SignerError::InvalidSad(
                "the passkey activation expired or was already used; start again".into(),
            )
        };
        if !is_plausible_id(pending) {
            return Err(expired());
        }
        let ctx = self.ctx();
        let mut tx = ctx.db.begin().await?;
        #[allow(clippy::type_complexity)]
        let row: Option<(String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT account_id, credential_id, request_ids, hashes, ceremony_id, expires_at \
             FROM signer_passkey_activations WHERE id = $1",
        )
        .bind(pending)
        .fetch_optional(&mut *tx)
        .await?;
        // Taken out before anything is checked: one answer per pending activation.
        let taken = sqlx::query("DELETE FROM signer_passkey_activations WHERE id = $1")
            .bind(pending)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        let Some((owner, credential_id, request_ids, hashes, ceremony, expires_at)) = row else {
            return Err(expired());
        };
        if taken != 1 || owner != account.id || expires_at <= ctx.clock.unix() {
            return Err(expired());
        }
        let request_ids: Vec<String> = serde_json::from_str(&request_ids)
            .map_err(|_| SignerError::Internal("corrupt pending activation".into()))?;
        let hashes: Vec<String> = serde_json::from_str(&hashes)
            .map_err(|_| SignerError::Internal("corrupt pending activation".into()))?;
        // The documents signed are exactly those the assertion was asked for.
        let batch = self.prepare_batch(account, &request_ids).await?;
        if batch.credential.id != credential_id
            || batch.hashes.iter().map(hex::encode).collect::<Vec<_>>() != hashes
        {
            return Err(SignerError::Conflict(
                "the requests changed since the passkey was asked for; start again".into(),
            ));
        }
        let used = self
            .idp()
            .passkeys()
            .finish_second_factor(&account.id, &ceremony, assertion)
            .await
            .map_err(passkey_refusal)?;
        if !used.user_verified {
            return Err(SignerError::SecondFactor(
                "signing needs a passkey that verifies you (PIN or biometrics)".into(),
            ));
        }
        let verified = VerifiedPasskey {
            account_id: used.account_id,
            passkey_id: used.passkey_id,
        };
        self.sign_batch(account, batch, Factor::Passkey(&verified), pin, addr)
            .await
    }
}
