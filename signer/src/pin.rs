//! Signing PINs: an optional secret only the signer knows. A software key is sealed under
//! the master key as always, and that sealed blob is wrapped once more with AES-256-GCM under
//! a key derived from the PIN (Argon2id with the configured password parameters, a random
//! salt per credential), so neither a copy of the database nor the master key alone can
//! sign. An activation checked with the PIN carries the master-sealed blob re-wrapped under a
//! key derived from its SAD, which only the client holds (the database keeps the SAD's
//! digest), so `signHash` needs no PIN and the database still cannot sign alone.
//!
//! The stored format is `pin:` followed by the base64 of a 96-bit nonce and the ciphertext;
//! the credential's key owner is the associated data.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::config::PasswordConfig;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use std::net::IpAddr;

use clave_common::journal::{self, NewEvent};
use clave_idp::accounts::Account;
use clave_idp::factors::SecondFactorError;
use serde_json::json;

use crate::activation::owned_usable;
use crate::credentials::key_owner;
use crate::{Signer, SignerError};

/// How a PIN-wrapped key starts in `sealed_key`.
pub const PREFIX: &str = "pin:";
/// The fewest digits a signing PIN has.
pub const MIN_DIGITS: usize = 6;
/// The most digits a signing PIN has.
pub const MAX_DIGITS: usize = 12;
const NONCE_LEN: usize = 12;
const SALT_LEN: usize = 16;

/// A 256-bit wrapping key.
pub type WrapKey = Zeroizing<[u8; 32]>;

/// Checks a new PIN's format: digits only (CSC format `N`), 6 to 12 of them.
pub fn check_format(pin: &str) -> Result<(), SignerError> {
    let digits = pin.chars().count();
    if !pin.chars().all(|c| c.is_ascii_digit()) || !(MIN_DIGITS..=MAX_DIGITS).contains(&digits) {
        return Err(SignerError::Invalid(format!(
            "a signing PIN is {MIN_DIGITS} to {MAX_DIGITS} digits"
        )));
    }
    Ok(())
}

/// A new random salt, base64.
pub fn new_salt() -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    STANDARD.encode(salt)
}

/// The key derived from `pin` and the credential's `salt` (base64). Slow on purpose: call
/// it on a blocking thread.
pub fn derive(params: &PasswordConfig, pin: &str, salt: &str) -> Result<WrapKey, SignerError> {
    let salt = STANDARD
        .decode(salt)
        .map_err(|_| SignerError::Internal("a credential's PIN salt is corrupt".into()))?;
    let params = Params::new(
        params.argon2_memory_kib,
        params.argon2_iterations,
        params.argon2_parallelism,
        Some(32),
    )
    .map_err(|e| SignerError::Internal(format!("argon2 parameters: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), &salt, key.as_mut())
        .map_err(|e| SignerError::Internal(format!("argon2: {e}")))?;
    Ok(key)
}

/// [`derive`] on a blocking thread.
pub async fn derive_blocking(
    params: &PasswordConfig,
    pin: &str,
    salt: &str,
) -> Result<WrapKey, SignerError> {
    let (params, pin, salt) = (
        params.clone(),
        Zeroizing::new(pin.to_owned()),
        salt.to_owned(),
    );
    tokio::task::spawn_blocking(move || derive(&params, &pin, &salt))
        .await
        .map_err(|e| SignerError::Internal(format!("PIN derivation stopped: {e}")))?
}

/// The key that wraps an activation's copy of the sealed key: derived from the SAD under a
/// label of its own, so it is unrelated to the SAD digest the database keeps.
pub fn sad_key(sad: &str) -> WrapKey {
    let mut hasher = Sha256::new();
    hasher.update(b"clave/signer/sad-key\0");
    hasher.update(sad.as_bytes());
    Zeroizing::new(hasher.finalize().into())
}

/// Wraps `inner` (a master-sealed key) under `key` for `owner`.
pub fn wrap(key: &WrapKey, owner: &str, inner: &[u8]) -> Result<String, SignerError> {
    let cipher = Aes256Gcm::new_from_slice(key.as_ref())
        .map_err(|_| SignerError::Internal("wrapping key length".into()))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: inner,
                aad: owner.as_bytes(),
            },
        )
        .map_err(|_| SignerError::Internal("wrapping failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
}

/// Unwraps what [`wrap`] made; `None` when `key` is not the one it was wrapped under (a
/// wrong PIN).
pub fn unwrap(
    key: &WrapKey,
    owner: &str,
    wrapped: &str,
) -> Result<Option<Zeroizing<Vec<u8>>>, SignerError> {
    let corrupt = || SignerError::Internal("a PIN-wrapped key is corrupt".into());
    let raw = wrapped
        .strip_prefix(PREFIX)
        .and_then(|b| STANDARD.decode(b).ok())
        .filter(|raw| raw.len() > NONCE_LEN)
        .ok_or_else(corrupt)?;
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| corrupt())?;
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    Ok(cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: owner.as_bytes(),
            },
        )
        .ok()
        .map(Zeroizing::new))
}

/// Whether a stored `sealed_key` is wrapped by a PIN.
pub fn is_wrapped(sealed: &str) -> bool {
    sealed.starts_with(PREFIX)
}

/// What a signer asks of their signing PIN.
#[derive(Debug, Clone, Copy)]
pub struct PinChange<'a> {
    /// The signer.
    pub account: &'a Account,
    /// The credential whose key the PIN protects.
    pub credential_id: &'a str,
    /// The PIN now in force; required when there is one.
    pub current: Option<&'a str>,
    /// The new PIN; `None` removes the PIN.
    pub new: Option<&'a str>,
    /// Where the request came from, for throttling.
    pub addr: IpAddr,
}

fn pin_error(e: SecondFactorError) -> SignerError {
    match e {
        SecondFactorError::Internal(e) => SignerError::from(e),
        SecondFactorError::LockedOut { retry_after } => SignerError::Pin(format!(
            "too many failed attempts; retry in {retry_after} seconds"
        )),
        _ => SignerError::Pin("the signing PIN is wrong".into()),
    }
}

impl Signer {
    /// With a PIN-protected credential, checks `pin` by unwrapping the key with it and
    /// returns the master-sealed key inside; `None` for a credential without a PIN. A wrong
    /// PIN counts toward the second-factor throttle.
    pub(crate) async fn check_pin(
        &self,
        account: &Account,
        credential_id: &str,
        pin: Option<&str>,
        addr: IpAddr,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, SignerError> {
        let stored = self.stored_key(credential_id).await?;
        let Some(salt) = stored.pin_salt else {
            return Ok(None);
        };
        let pin = pin
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                SignerError::Pin(
                "PIN: this credential is protected by a signing PIN; send it (authData id `PIN`)"
                    .into(),
            )
            })?;
        let factors = self.idp().factors();
        factors
            .refuse_if_locked(account, addr)
            .await
            .map_err(pin_error)?;
        let key = derive_blocking(&self.ctx().config.passwords, pin, &salt).await?;
        match unwrap(&key, &key_owner(credential_id), &stored.sealed)? {
            Some(inner) => Ok(Some(inner)),
            None => Err(pin_error(
                factors.count_failure(account, addr, "signing_pin").await,
            )),
        }
    }

    /// Sets, changes or removes the signing PIN of one of the signer's credentials: the key
    /// is re-wrapped under the new PIN (with a new salt). Journaled, never with the PIN.
    pub async fn set_signing_pin(&self, change: PinChange<'_>) -> Result<(), SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let credential = owned_usable(
            self.credential(change.credential_id).await?,
            &change.account.id,
            now,
        )?;
        let stored = self.stored_key(&credential.id).await?;
        if stored.backend != "software" {
            return Err(SignerError::Conflict(
                "this credential's key lives in a hardware token, which guards it; a signing PIN protects keys kept in software"
                    .into(),
            ));
        }
        if let Some(new) = change.new {
            check_format(new)?;
        }
        let had_pin = stored.pin_salt.is_some();
        if !had_pin && change.new.is_none() {
            return Err(SignerError::Conflict(
                "the credential has no signing PIN to remove".into(),
            ));
        }
        let inner = match self
            .check_pin(change.account, &credential.id, change.current, change.addr)
            .await?
        {
            Some(inner) => inner,
            None => Zeroizing::new(stored.sealed.as_bytes().to_vec()),
        };
        let owner = key_owner(&credential.id);
        let (sealed, salt) = match change.new {
            Some(new) => {
                let salt = new_salt();
                let key = derive_blocking(&ctx.config.passwords, new, &salt).await?;
                (wrap(&key, &owner, &inner)?, Some(salt))
            }
            None => {
                let inner = std::str::from_utf8(&inner)
                    .map_err(|_| SignerError::Internal("a sealed key is corrupt".into()))?;
                (inner.to_owned(), None)
            }
        };
        let mut tx = ctx.db.begin().await?;
        // Only over the key that was checked: a concurrent change wins, this one is refused.
        let changed = sqlx::query(
            "UPDATE signer_credentials SET sealed_key = $2, pin_salt = $3 \
             WHERE id = $1 AND sealed_key = $4",
        )
        .bind(&credential.id)
        .bind(&sealed)
        .bind(&salt)
        .bind(&stored.sealed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(SignerError::Conflict(
                "the signing PIN was changed at the same time; try again".into(),
            ));
        }
        let kind = match (had_pin, change.new.is_some()) {
            (false, _) => "signature.pin_set",
            (true, true) => "signature.pin_changed",
            (true, false) => "signature.pin_removed",
        };
        let event = NewEvent::new(kind)
            .actor(&change.account.id)
            .subject(&change.account.id)
            .data(json!({ "credential_id": credential.id }));
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordConfig {
        PasswordConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            argon2_parallelism: 1,
            ..PasswordConfig::default()
        }
    }

    #[test]
    fn only_the_right_pin_and_owner_unwrap() {
        let salt = new_salt();
        let key = derive(&cheap(), "123456", &salt).unwrap();
        let wrapped = wrap(&key, "signer-credential:a", b"v1:sealed").unwrap();
        assert!(is_wrapped(&wrapped));
        let opened = unwrap(&key, "signer-credential:a", &wrapped).unwrap();
        assert_eq!(opened.unwrap().as_slice(), b"v1:sealed");
        let wrong = derive(&cheap(), "654321", &salt).unwrap();
        assert!(
            unwrap(&wrong, "signer-credential:a", &wrapped)
                .unwrap()
                .is_none()
        );
        assert!(
            unwrap(&key, "signer-credential:b", &wrapped)
                .unwrap()
                .is_none()
        );
        let other_salt = derive(&cheap(), "123456", &new_salt()).unwrap();
        assert!(
            unwrap(&other_salt, "signer-credential:a", &wrapped)
                .unwrap()
                .is_none()
        );
        assert!(unwrap(&key, "signer-credential:a", "v1:abc").is_err());
    }

    #[test]
    fn a_pin_is_six_to_twelve_digits() {
        assert!(check_format("123456").is_ok());
        assert!(check_format("123456789012").is_ok());
        assert!(check_format("12345").is_err());
        assert!(check_format("1234567890123").is_err());
        assert!(check_format("12345a").is_err());
        assert!(check_format("１２３４５６").is_err());
    }

    #[test]
    fn the_sad_key_differs_from_the_sad_digest() {
        let sad = "some-sad";
        assert_ne!(
            hex::encode(sad_key(sad).as_ref()),
            clave_common::id::token_digest(sad)
        );
    }
}
