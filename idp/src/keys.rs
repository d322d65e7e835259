//! The idp's own keys: the keys that sign tokens, and the secret that derives pairwise
//! subjects.
//!
//! Signing keys live in the database so that every node signs with, and publishes, the same
//! keys. Private halves are sealed under the master key, bound to their kid. A key is
//! *active* (signs; one per algorithm), then *retired* by a rotation (no longer signs but stays
//! published in the JWKS until `retired_at + tokens.key_retire_grace_secs`, so every token it
//! signed can still be checked until it expires), then *removed* (unpublished; the private half
//! is erased).
//!
//! Each node keeps the keys it loaded for a few seconds ([`SIGNING_CACHE_SECS`]), so signing a
//! token costs no database read. Verification looks a token's kid up in that cache and goes
//! back to the database before refusing an unknown kid, so a key another node has just made
//! verifies at once. The JWKS endpoint always reads the database.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clave_common::journal::{self, NewEvent};
use clave_common::seal::SealError;
use josekit::jwk::Jwk;
use josekit::jwk::KeyPair;
use josekit::jws::{JwsSigner, JwsVerifier};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Ctx, Idp};

mod cache;
mod subject;
#[cfg(test)]
mod tests;

pub use cache::{KeyCache, SignatureRejection, VerifiedJwt};
pub(crate) use subject::SubjectKey;

/// Seconds a node reuses the signing keys it loaded before reading them again.
pub const SIGNING_CACHE_SECS: i64 = 5;

/// RSA modulus size for RS256 keys.
const RSA_BITS: u32 = 2048;

/// A token-signing algorithm clave offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigningAlg {
    /// ECDSA with P-256 and SHA-256; the default.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256; required by OpenID Connect for interoperability.
    RS256,
}

impl SigningAlg {
    /// Every algorithm, each of which always has an active key.
    pub const ALL: [Self; 2] = [Self::ES256, Self::RS256];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    /// The algorithm a JOSE name names, if clave offers it.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }

    /// A verifier for a public JWK with this algorithm.
    pub fn verifier(self, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
        Ok(match self {
            Self::ES256 => Box::new(josekit::jws::ES256.verifier_from_jwk(jwk)?),
            Self::RS256 => Box::new(josekit::jws::RS256.verifier_from_jwk(jwk)?),
        })
    }

    fn signer(self, der: &[u8]) -> Result<Box<dyn JwsSigner>, josekit::JoseError> {
        Ok(match self {
            Self::ES256 => Box::new(josekit::jws::ES256.signer_from_der(der)?),
            Self::RS256 => Box::new(josekit::jws::RS256.signer_from_der(der)?),
        })
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signs new tokens.
    Active,
    /// No longer signs; published so that tokens it signed still verify.
    Retired,
    /// Unpublished; tokens it signed no longer verify.
    Removed,
}

/// A signing key as the operator sees it (no private material).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SigningKeyInfo {
    /// The key id (the RFC 7638 thumbprint of its public key).
    pub kid: String,
    /// Its algorithm.
    pub alg: SigningAlg,
    /// Its state now.
    pub state: KeyState,
    /// When it was made.
    pub created_at: i64,
    /// When a rotation retired it.
    pub retired_at: Option<i64>,
    /// Until when it is published (retired keys only).
    pub published_until: Option<i64>,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A private key could not be sealed or opened (wrong or missing master key).
    #[error("cannot seal or open a signing key: {0}")]
    Seal(#[from] SealError),
    /// Key generation, parsing or signing failed in the crypto library.
    #[error("key operation failed: {0}")]
    Crypto(String),
    /// A stored key does not parse.
    #[error("stored key {kid} is corrupt: {problem}")]
    Corrupt {
        /// The key.
        kid: String,
        /// What is wrong.
        problem: String,
    },
    /// No active key of this algorithm (keys were never created, or a rotation failed).
    #[error("no active {0} signing key; run `clave keys rotate`")]
    NoActiveKey(SigningAlg),
    /// Another node rotated the keys at the same moment; this rotation was undone.
    #[error("another rotation ran at the same time; check `clave keys list` and retry if needed")]
    ConcurrentRotation,
}

impl From<KeyError> for crate::IdpError {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::Db(e) => Self::Db(e),
            KeyError::Seal(e) => Self::Seal(e),
            other => Self::Internal(other.to_string()),
        }
    }
}

fn crypto(err: impl fmt::Display) -> KeyError {
    KeyError::Crypto(err.to_string())
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    public_jwk: String,
    private_key: String,
    created_at: i64,
    retired_at: Option<i64>,
    removed_at: Option<i64>,
}

impl Idp {
    /// The idp's keys.
    pub fn keys(&self) -> Keys<'_> {
        Keys { idp: self }
    }
}

/// The key service; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    idp: &'a Idp,
}

/// Generates a key pair for `alg`: the sealed-ready PKCS#8 DER and the public JWK with its kid.
fn generate(alg: SigningAlg) -> Result<(String, Vec<u8>, Jwk), KeyError> {
    let (der, mut jwk) = match alg {
        SigningAlg::ES256 => {
            let pair = josekit::jws::ES256.generate_key_pair().map_err(crypto)?;
            (pair.to_der_private_key(), pair.to_jwk_public_key())
        }
        SigningAlg::RS256 => {
            let pair = josekit::jws::RS256
                .generate_key_pair(RSA_BITS)
                .map_err(crypto)?;
            (pair.to_der_private_key(), pair.to_jwk_public_key())
        }
    };
    let kid = thumbprint(&jwk).ok_or_else(|| crypto("generated key has no public parameters"))?;
    jwk.set_key_id(&kid);
    jwk.set_algorithm(alg.as_str());
    jwk.set_key_use("sig");
    Ok((kid, der, jwk))
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC or RSA public key.
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    let member = |name: &str| {
        jwk.parameter(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    // The required members in lexicographic order, serialised without whitespace.
    let canonical = match jwk.key_type() {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            member("e")?,
            member("n")?
        ),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

fn owner(kid: &str) -> String {
    format!("signing-key:{kid}")
}

impl Keys<'_> {
    fn ctx(&self) -> &Ctx {
        self.idp.ctx()
    }

    fn now(&self) -> i64 {
        self.ctx().clock.unix()
    }

    fn grace(&self) -> i64 {
        self.ctx().config.tokens.key_retire_grace_secs
    }

    /// Creates an active key for every algorithm that has none, and the pairwise-subject
    /// secret if missing. Safe to run on every start and on several nodes at once.
    pub async fn ensure_keys(&self) -> Result<(), KeyError> {
        self.create_missing().await.map(|_| ())
    }

    /// [`Keys::ensure_keys`], returning the kids it created.
    async fn create_missing(&self) -> Result<Vec<String>, KeyError> {
        self.subject_key().await?;
        let mut created = Vec::new();
        for alg in SigningAlg::ALL {
            let (active,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM idp_signing_keys WHERE alg = $1 AND retired_at IS NULL",
            )
            .bind(alg.as_str())
            .fetch_one(self.ctx().db.pool())
            .await?;
            if active > 0 {
                continue;
            }
            let (kid, der, jwk) = tokio::task::spawn_blocking(move || generate(alg))
                .await
                .map_err(crypto)??;
            let sealed = self.ctx().master.seal(&owner(&kid), &der)?;
            let mut tx = self.ctx().db.begin().await?;
            // Another node may have made one meanwhile; the partial unique index keeps one.
            let inserted = sqlx::query(
                "INSERT INTO idp_signing_keys (kid, alg, public_jwk, private_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&kid)
            .bind(alg.as_str())
            .bind(jwk.to_string())
            .bind(&sealed)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                journal::append(
                    &mut tx,
                    self.ctx().clock.now(),
                    &NewEvent::new("keys.created")
                        .subject(kid.clone())
                        .data(json!({"kid": kid, "alg": alg.as_str()})),
                )
                .await?;
                created.push(kid);
            }
            tx.commit().await?;
        }
        if !created.is_empty() {
            self.refresh().await?;
        }
        Ok(created)
    }

    /// Adds a new active key for every algorithm, retires the keys they replace (still
    /// published for the grace period), and removes keys whose grace has passed. Journaled as
    /// `keys.rotated`. Returns the new keys.
    pub async fn rotate(&self) -> Result<Vec<SigningKeyInfo>, KeyError> {
        let mut fresh = Vec::new();
        for alg in SigningAlg::ALL {
            let (kid, der, jwk) = tokio::task::spawn_blocking(move || generate(alg))
                .await
                .map_err(crypto)??;
            let sealed = self.ctx().master.seal(&owner(&kid), &der)?;
            fresh.push((alg, kid, sealed, jwk));
        }
        let now = self.now();
        let mut tx = self.ctx().db.begin().await?;
        let retired: Vec<(String,)> = sqlx::query_as(
            "SELECT kid FROM idp_signing_keys WHERE retired_at IS NULL ORDER BY kid",
        )
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("UPDATE idp_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut created = Vec::new();
        for (alg, kid, sealed, jwk) in &fresh {
            let inserted = sqlx::query(
                "INSERT INTO idp_signing_keys (kid, alg, public_jwk, private_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(kid)
            .bind(alg.as_str())
            .bind(jwk.to_string())
            .bind(sealed)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() != 1 {
                // A concurrent rotation won the "one active key per algorithm" race.
                tx.rollback().await?;
                return Err(KeyError::ConcurrentRotation);
            }
            created.push(SigningKeyInfo {
                kid: kid.clone(),
                alg: *alg,
                state: KeyState::Active,
                created_at: now,
                retired_at: None,
                published_until: None,
            });
        }
        let removed = self.prune(&mut tx, now).await?;
        let retired: Vec<String> = retired.into_iter().map(|(kid,)| kid).collect();
        journal::append(
            &mut tx,
            self.ctx().clock.now(),
            &NewEvent::new("keys.rotated").data(json!({
                "created": created.iter().map(|k| json!({"kid": k.kid, "alg": k.alg})).collect::<Vec<_>>(),
                "retired": retired,
                "removed": removed,
                "published_until": now + self.grace(),
            })),
        )
        .await?;
        tx.commit().await?;
        self.refresh().await?;
        Ok(created)
    }

    /// Marks keys whose grace has passed as removed and erases their private halves.
    async fn prune(
        &self,
        conn: &mut sqlx::AnyConnection,
        now: i64,
    ) -> Result<Vec<String>, KeyError> {
        let cutoff = now - self.grace();
        let gone: Vec<(String,)> = sqlx::query_as(
            "SELECT kid FROM idp_signing_keys \
             WHERE removed_at IS NULL AND retired_at IS NOT NULL AND retired_at <= $1",
        )
        .bind(cutoff)
        .fetch_all(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE idp_signing_keys SET removed_at = $1, private_key = '' \
             WHERE removed_at IS NULL AND retired_at IS NOT NULL AND retired_at <= $2",
        )
        .bind(now)
        .bind(cutoff)
        .execute(&mut *conn)
        .await?;
        Ok(gone.into_iter().map(|(kid,)| kid).collect())
    }

    fn state_of(&self, row: &KeyRow, now: i64) -> (KeyState, Option<i64>) {
        match (row.retired_at, row.removed_at) {
            (_, Some(_)) => (KeyState::Removed, None),
            (None, None) => (KeyState::Active, None),
            (Some(retired), None) => {
                let until = retired.saturating_add(self.grace());
                if until > now {
                    (KeyState::Retired, Some(until))
                } else {
                    (KeyState::Removed, Some(until))
                }
            }
        }
    }

    /// Every key row, newest first; with the sealed private halves only when `private`.
    async fn rows(&self, private: bool) -> Result<Vec<KeyRow>, KeyError> {
        let private_key = if private {
            "private_key"
        } else {
            "'' AS private_key"
        };
        Ok(sqlx::query_as(&format!(
            "SELECT kid, alg, public_jwk, {private_key}, created_at, retired_at, removed_at \
             FROM idp_signing_keys ORDER BY created_at DESC, alg, kid"
        ))
        .fetch_all(self.ctx().db.pool())
        .await?)
    }

    /// Every key with its state, newest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyInfo>, KeyError> {
        let now = self.now();
        let mut keys = Vec::new();
        for row in self.rows(false).await? {
            let alg = SigningAlg::parse(&row.alg).ok_or_else(|| KeyError::Corrupt {
                kid: row.kid.clone(),
                problem: format!("unknown algorithm {:?}", row.alg),
            })?;
            let (state, published_until) = self.state_of(&row, now);
            keys.push(SigningKeyInfo {
                kid: row.kid,
                alg,
                state,
                created_at: row.created_at,
                retired_at: row.retired_at,
                published_until,
            });
        }
        Ok(keys)
    }

    /// The public JWK Set: every active and retired key, read from the database.
    pub async fn jwks(&self) -> Result<Value, KeyError> {
        let now = self.now();
        let mut keys = Vec::new();
        for row in self.rows(false).await? {
            if self.state_of(&row, now).0 == KeyState::Removed {
                continue;
            }
            let jwk: Value =
                serde_json::from_str(&row.public_jwk).map_err(|e| KeyError::Corrupt {
                    kid: row.kid.clone(),
                    problem: e.to_string(),
                })?;
            keys.push(jwk);
        }
        Ok(json!({ "keys": keys }))
    }
}
