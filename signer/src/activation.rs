//! Signature activation: the signer proves sole control with a fresh second factor and gets
//! signature activation data (SAD) bound server-side to one credential, the exact hashes to
//! be signed, a count and a short expiry. Each bound hash can be signed once; a SAD used for
//! other hashes, past its count or after its expiry is refused. Only a digest of the SAD is
//! stored.

use std::net::IpAddr;

use clave_common::id::{new_id, random_token, token_digest};
use clave_common::journal::{self, NewEvent};
use clave_idp::accounts::Account;
use clave_idp::factors::SecondFactorError;
use serde_json::json;

use crate::credentials::Credential;
use crate::keys::ActiveKey;
use crate::{MULTISIGN, SAD_TTL_SECS, Signer, SignerError};

/// What an activation asks for.
#[derive(Debug, Clone)]
pub struct ActivationRequest<'a> {
    /// The signer.
    pub account: &'a Account,
    /// The client the signer's token was issued to.
    pub client_id: &'a str,
    /// The credential to activate.
    pub credential_id: &'a str,
    /// The SHA-256 hashes that may be signed.
    pub hashes: Vec<Vec<u8>>,
    /// How many signatures; must equal the number of hashes.
    pub num_signatures: i64,
    /// How the signer proves sole control.
    pub factor: Factor<'a>,
    /// The signing PIN, required when the credential has one.
    pub pin: Option<&'a str>,
    /// Where the request came from, for throttling.
    pub addr: IpAddr,
}

/// How a signer proves sole control of their key for one activation.
#[derive(Debug, Clone, Copy)]
pub enum Factor<'a> {
    /// A one-time code from the signer's authenticator app, checked during the activation.
    Otp(&'a str),
    /// A passkey assertion already checked, with user verification, against a challenge
    /// kept with exactly the hashes being activated.
    Passkey(&'a VerifiedPasskey),
}

/// A passkey assertion the signer checked for one pending activation; only this crate makes
/// one, so no caller can claim a passkey it did not check.
#[derive(Debug)]
pub struct VerifiedPasskey {
    pub(crate) account_id: String,
    pub(crate) passkey_id: String,
}

/// Signature activation data handed to the signer's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The SAD.
    pub sad: String,
    /// Seconds it stays valid.
    pub expires_in: i64,
}

/// The usable credential `credential_id` of `account_id`, or why not.
pub(crate) fn owned_usable(
    credential: Option<Credential>,
    account_id: &str,
    now: i64,
) -> Result<Credential, SignerError> {
    let credential = credential
        .filter(|c| c.account_id == account_id)
        .ok_or_else(|| SignerError::NotFound("no such credential for this signer".into()))?;
    if credential.status != "valid" {
        return Err(SignerError::Forbidden(
            "the credential's certificate is revoked".into(),
        ));
    }
    if !credential.is_usable(now) {
        return Err(SignerError::Forbidden(
            "the credential's certificate is not valid at this time".into(),
        ));
    }
    Ok(credential)
}

impl Signer {
    /// Checks a fresh one-time code from `account`'s authenticator app: the proof of sole
    /// control every signature activation and every approval asks for.
    pub(crate) async fn check_code(
        &self,
        account: &Account,
        otp: &str,
        addr: IpAddr,
    ) -> Result<(), SignerError> {
        if otp.trim().is_empty() {
            return Err(SignerError::SecondFactor(
                "authData: a one-time code from the signer's authenticator (id `otp`) is required"
                    .into(),
            ));
        }
        self.idp()
            .totps()
            .verify(account, otp.trim(), addr)
            .await
            .map_err(|e| match e {
                SecondFactorError::Internal(e) => SignerError::from(e),
                SecondFactorError::Reused => SignerError::SecondFactor(
                    "the one-time code was already used; wait for the next one".into(),
                ),
                SecondFactorError::NotEnrolled => {
                    SignerError::SecondFactor("the signer has no authenticator app enrolled".into())
                }
                SecondFactorError::LockedOut { retry_after } => SignerError::SecondFactor(format!(
                    "too many failed codes; retry in {retry_after} seconds"
                )),
                SecondFactorError::Invalid => {
                    SignerError::SecondFactor("the one-time code is not valid".into())
                }
            })
    }

    /// Checks the second factor and binds a new SAD to the request's hashes.
    pub async fn authorize(
        &self,
        request: ActivationRequest<'_>,
    ) -> Result<Activation, SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let credential = owned_usable(
            self.credential(request.credential_id).await?,
            &request.account.id,
            now,
        )?;
        if request.hashes.is_empty() {
            return Err(SignerError::Invalid(
                "hashes: name the SHA-256 hashes to be signed; the activation is bound to them"
                    .into(),
            ));
        }
        if request.num_signatures != request.hashes.len() as i64 {
            return Err(SignerError::Invalid(format!(
                "numSignatures is {} but {} hashes were sent; they must match",
                request.num_signatures,
                request.hashes.len()
            )));
        }
        if request.num_signatures > MULTISIGN {
            return Err(SignerError::Invalid(format!(
                "at most {MULTISIGN} signatures per activation"
            )));
        }
        let mut hex_hashes = Vec::with_capacity(request.hashes.len());
        for hash in &request.hashes {
            if hash.len() != 32 {
                return Err(SignerError::Invalid(
                    "hashes: each must be a SHA-256 hash (32 bytes, base64)".into(),
                ));
            }
            let h = hex::encode(hash);
            if hex_hashes.contains(&h) {
                return Err(SignerError::Invalid("hashes: a hash is repeated".into()));
            }
            hex_hashes.push(h);
        }
        let unlocked = self
            .check_pin(request.account, &credential.id, request.pin, request.addr)
            .await?;
        let (method, passkey_id) = match request.factor {
            Factor::Otp(otp) => {
                self.check_code(request.account, otp, request.addr).await?;
                ("otp", None)
            }
            Factor::Passkey(passkey) if passkey.account_id == request.account.id => {
                ("passkey", Some(passkey.passkey_id.clone()))
            }
            Factor::Passkey(_) => {
                return Err(SignerError::Forbidden(
                    "the passkey assertion is another signer's".into(),
                ));
            }
        };
        let sad = random_token(32);
        let wrapped_key = unlocked
            .map(|inner| {
                crate::pin::wrap(
                    &crate::pin::sad_key(&sad),
                    &crate::credentials::key_owner(&credential.id),
                    &inner,
                )
            })
            .transpose()?;
        let expires_at = now + SAD_TTL_SECS;
        let mut tx = ctx.db.begin().await?;
        sqlx::query(
            "INSERT INTO signer_activations (id, sad_digest, credential_id, account_id, client_id, \
             hashes, remaining, expires_at, created_at, wrapped_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new_id())
        .bind(token_digest(&sad))
        .bind(&credential.id)
        .bind(&request.account.id)
        .bind(request.client_id)
        .bind(json!(hex_hashes).to_string())
        .bind(request.num_signatures)
        .bind(expires_at)
        .bind(now)
        .bind(&wrapped_key)
        .execute(&mut *tx)
        .await?;
        // Lapsed activations are of no further use.
        sqlx::query("DELETE FROM signer_activations WHERE expires_at < $1")
            .bind(now - SAD_TTL_SECS)
            .execute(&mut *tx)
            .await?;
        let event = NewEvent::new("signature.activated")
            .actor(&request.account.id)
            .subject(&request.account.id)
            .data(json!({
                "credential_id": credential.id,
                "client_id": request.client_id,
                "hashes": hex_hashes,
                "method": method,
                "passkey_id": passkey_id,
                "pin": wrapped_key.is_some(),
            }));
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        Ok(Activation {
            sad,
            expires_in: SAD_TTL_SECS,
        })
    }

    /// Spends `sad` on `hashes` for `credential_id`: each must be among the hashes it is
    /// still bound to. Returns the credential, still usable, and its key opened for this
    /// use.
    pub(crate) async fn consume(
        &self,
        sad: &str,
        account_id: &str,
        credential_id: &str,
        hashes: &[Vec<u8>],
    ) -> Result<(Credential, ActiveKey), SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let credential = owned_usable(self.credential(credential_id).await?, account_id, now)?;
        if hashes.is_empty() {
            return Err(SignerError::Invalid("hashes: nothing to sign".into()));
        }
        let invalid = |text: &str| SignerError::InvalidSad(text.to_owned());
        let mut tx = ctx.db.begin().await?;
        #[allow(clippy::type_complexity)]
        let row: Option<(String, String, String, String, i64, i64, Option<String>)> =
            sqlx::query_as(
                "SELECT id, credential_id, account_id, hashes, remaining, expires_at, wrapped_key \
                 FROM signer_activations WHERE sad_digest = $1",
            )
            .bind(token_digest(sad))
            .fetch_optional(&mut *tx)
            .await?;
        let Some((id, bound_credential, bound_account, bound, remaining, expires_at, wrapped)) =
            row
        else {
            return Err(invalid("the SAD is not valid"));
        };
        if bound_account != account_id || bound_credential != credential_id {
            return Err(invalid("the SAD was issued for another credential"));
        }
        if expires_at <= now {
            return Err(invalid("the SAD has expired; authorize again"));
        }
        if (hashes.len() as i64) > remaining {
            return Err(invalid(
                "the SAD does not cover this many more signatures; authorize again",
            ));
        }
        let mut left: Vec<String> = serde_json::from_str(&bound)
            .map_err(|_| SignerError::Internal("corrupt activation".into()))?;
        for hash in hashes {
            let h = hex::encode(hash);
            let Some(at) = left.iter().position(|b| *b == h) else {
                return Err(invalid(
                    "a hash is not among those the SAD was authorized for, or was already signed",
                ));
            };
            left.remove(at);
        }
        let spent = sqlx::query(
            "UPDATE signer_activations SET hashes = $2, remaining = $3 \
             WHERE id = $1 AND remaining = $4",
        )
        .bind(&id)
        .bind(json!(left).to_string())
        .bind(remaining - hashes.len() as i64)
        .bind(remaining)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent != 1 {
            return Err(invalid(
                "the SAD was used at the same time by another request",
            ));
        }
        let event = NewEvent::new("signature.created")
            .actor(account_id)
            .subject(account_id)
            .data(json!({
                "credential_id": credential_id,
                "hashes": hashes.iter().map(hex::encode).collect::<Vec<_>>(),
            }));
        // The key opens before anything is spent, so a key that cannot be used costs no
        // signature.
        let stored = crate::credentials::stored_key_in(&mut tx, credential_id).await?;
        let key = self
            .activated_key(credential_id, stored, sad, wrapped.as_deref())
            .await?;
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        Ok((credential, key))
    }

    /// Signs `hashes` (SHA-256) with the credential under `sad`; DER ECDSA signatures in the
    /// order of the hashes.
    pub async fn sign_hashes(
        &self,
        sad: &str,
        account_id: &str,
        credential_id: &str,
        hashes: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, SignerError> {
        for hash in hashes {
            if hash.len() != 32 {
                return Err(SignerError::Invalid(
                    "hashes: each must be a SHA-256 hash (32 bytes, base64)".into(),
                ));
            }
        }
        let (_, key) = self.consume(sad, account_id, credential_id, hashes).await?;
        let mut signatures = Vec::with_capacity(hashes.len());
        for hash in hashes {
            signatures.push(key.sign(hash).await?.to_der().as_bytes().to_vec());
        }
        Ok(signatures)
    }
}
