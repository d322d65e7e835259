//! This node's cache of the signing keys, and signing and verifying with them.
//!
//! A snapshot of the published keys (signers for the active ones, verifiers for all) is kept
//! for [`SIGNING_CACHE_SECS`] by the server's clock. One task reloads at a time and the others
//! reuse its result, so a stale cache costs one database read however busy the node is.
//!
//! Each node also remembers, for a while, which tokens' signatures it has already checked
//! ([`CheckedSignatures`]): a service calling userinfo or introspection with the same access
//! token many times costs one signature check, not one per call. Only the signature is
//! remembered. The key must still be published on every use, and whatever can change about
//! a token (expiry, revocation, its grant and session) is checked by the caller each time.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, JwsSigner, JwsVerifier};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::subject::SubjectKey;
use super::{KeyError, KeyState, Keys, SIGNING_CACHE_SECS, SigningAlg, crypto, owner};
use crate::Idp;

/// Why a JWT's signature was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignatureRejection {
    /// Not a compact JWS, or its header is not what clave writes.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The header names no key that clave publishes.
    #[error("the token is signed with an unknown or withdrawn key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token signature is invalid")]
    BadSignature,
    /// The keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// A JWT whose signature verified under a published clave key.
#[derive(Debug, Clone)]
pub struct VerifiedJwt {
    /// The key that signed it.
    pub kid: String,
    /// The `typ` header, if any.
    pub typ: Option<String>,
    /// The claims.
    pub claims: Arc<Map<String, Value>>,
}

/// How many checked signatures a node remembers at most (about a kilobyte of claims each, so
/// some 20 MiB at the very most).
const CHECKED_CAPACITY: usize = 20_000;

/// How long a checked signature is remembered at most, whatever the token's `exp`.
const CHECKED_SECS: i64 = 900;

/// Tokens whose signatures this node has checked, by the SHA-256 of the whole compact token,
/// each until its `exp` (at most [`CHECKED_SECS`]). Only tokens that verified are kept, so a
/// forged token never matches one; a token with no `exp` is not kept.
#[derive(Default)]
struct CheckedSignatures {
    tokens: Mutex<HashMap<[u8; 32], (i64, VerifiedJwt)>>,
}

impl CheckedSignatures {
    fn get(&self, digest: &[u8; 32], now: i64) -> Option<VerifiedJwt> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(digest)
            .filter(|(until, _)| *until > now)
            .map(|(_, jwt)| jwt.clone())
    }

    fn insert(&self, digest: [u8; 32], jwt: &VerifiedJwt, now: i64) {
        let Some(exp) = jwt.claims.get("exp").and_then(Value::as_i64) else {
            return;
        };
        let until = exp.min(now.saturating_add(CHECKED_SECS));
        if until <= now {
            return;
        }
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tokens.len() >= CHECKED_CAPACITY {
            tokens.retain(|_, (until, _)| *until > now);
            if tokens.len() >= CHECKED_CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(digest, (until, jwt.clone()));
    }
}

/// A loaded key: a verifier always, a signer while active.
struct LoadedKey {
    kid: String,
    alg: SigningAlg,
    retired_at: Option<i64>,
    signer: Option<Box<dyn JwsSigner>>,
    verifier: Box<dyn JwsVerifier>,
}

/// The keys one node loaded, and when (by the server's clock).
struct KeySnapshot {
    loaded_at: i64,
    keys: Vec<LoadedKey>,
}

/// What one node keeps in memory about the idp's keys; held by [`Idp`].
#[derive(Default)]
pub struct KeyCache {
    snapshot: RwLock<Option<Arc<KeySnapshot>>>,
    reload: tokio::sync::Mutex<()>,
    checked: CheckedSignatures,
    pub(super) subject_key: tokio::sync::OnceCell<Arc<SubjectKey>>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<String> = self
            .current()
            .map(|s| s.keys.iter().map(|k| k.kid.clone()).collect())
            .unwrap_or_default();
        f.debug_struct("KeyCache").field("kids", &kids).finish()
    }
}

impl KeyCache {
    fn current(&self) -> Option<Arc<KeySnapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn store(&self, snapshot: Arc<KeySnapshot>) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(snapshot);
    }
}

impl Keys<'_> {
    /// Reloads this node's keys now (after this node changed them).
    pub(super) async fn refresh(&self) -> Result<(), KeyError> {
        self.reload().await.map(|_| ())
    }

    /// Reads every published key from the database and replaces this node's cache.
    async fn reload(&self) -> Result<Arc<KeySnapshot>, KeyError> {
        self.reload_unless(|_| false).await
    }

    /// Reloads the keys unless, once this node's reload lock is held, the cached snapshot
    /// already satisfies `good` (another task reloaded meanwhile): concurrent requests that
    /// find the cache stale cause one database read, not one each.
    async fn reload_unless(
        &self,
        good: impl Fn(&KeySnapshot) -> bool,
    ) -> Result<Arc<KeySnapshot>, KeyError> {
        let cache = self.idp.key_cache();
        let _one_at_a_time = cache.reload.lock().await;
        if let Some(current) = cache.current().filter(|s| good(s)) {
            return Ok(current);
        }
        let now = self.now();
        let mut keys = Vec::new();
        for row in self.rows(true).await? {
            let (state, _) = self.state_of(&row, now);
            if state == KeyState::Removed {
                continue;
            }
            let corrupt = |problem: String| KeyError::Corrupt {
                kid: row.kid.clone(),
                problem,
            };
            let alg = SigningAlg::parse(&row.alg)
                .ok_or_else(|| corrupt(format!("unknown algorithm {:?}", row.alg)))?;
            let jwk =
                Jwk::from_bytes(row.public_jwk.as_bytes()).map_err(|e| corrupt(e.to_string()))?;
            let verifier = alg.verifier(&jwk).map_err(|e| corrupt(e.to_string()))?;
            let signer = if state == KeyState::Active {
                let der = self.ctx().master.open(&owner(&row.kid), &row.private_key)?;
                // The kid goes into each header at signing (keys loaded from DER carry none).
                Some(alg.signer(&der).map_err(|e| corrupt(e.to_string()))?)
            } else {
                None
            };
            keys.push(LoadedKey {
                kid: row.kid.clone(),
                alg,
                retired_at: row.retired_at,
                signer,
                verifier,
            });
        }
        let snapshot = Arc::new(KeySnapshot {
            loaded_at: now,
            keys,
        });
        self.idp.key_cache().store(snapshot.clone());
        Ok(snapshot)
    }

    /// This node's keys, read again when older than [`SIGNING_CACHE_SECS`].
    async fn snapshot(&self) -> Result<Arc<KeySnapshot>, KeyError> {
        let now = self.now();
        let fresh = |s: &KeySnapshot| s.loaded_at <= now && now - s.loaded_at < SIGNING_CACHE_SECS;
        match self.idp.key_cache().current() {
            Some(s) if fresh(&s) => Ok(s),
            _ => self.reload_unless(fresh).await,
        }
    }

    /// Signs `claims` as a compact JWS with the active key for `alg`, with header `typ`.
    pub async fn sign(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<String, KeyError> {
        let mut snapshot = self.snapshot().await?;
        if !snapshot
            .keys
            .iter()
            .any(|k| k.alg == alg && k.signer.is_some())
        {
            // Keys were never made here (or all were retired by hand): make them, then retry.
            self.ensure_keys().await?;
            snapshot = self.reload().await?;
        }
        let key = snapshot
            .keys
            .iter()
            .filter(|k| k.alg == alg)
            .find_map(|k| k.signer.as_ref().map(|s| (k, s)))
            .ok_or(KeyError::NoActiveKey(alg))?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(&key.0.kid);
        let payload = serde_json::to_vec(claims).map_err(crypto)?;
        josekit::jws::serialize_compact(&payload, &header, key.1.as_ref()).map_err(crypto)
    }

    /// Checks a compact JWS against the published keys and returns its header `typ` and
    /// claims. Checks nothing about the claims themselves. Looks an unknown kid up in the
    /// database before refusing it. A token whose signature this node already checked is
    /// not checked again while its key is still published.
    pub async fn verify(&self, token: &str) -> Result<VerifiedJwt, SignatureRejection> {
        let header = peek_header(token)?;
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(SignatureRejection::Malformed(
                "the header names no key (kid)",
            ))?
            .to_owned();
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(SigningAlg::parse)
            .ok_or(SignatureRejection::Malformed(
                "the algorithm is not ES256 or RS256",
            ))?;
        let mut snapshot = self.snapshot().await?;
        let knows = |s: &KeySnapshot| s.keys.iter().any(|k| k.kid == kid);
        // A kid that cannot be one of ours (clave's are key thumbprints) never reaches the
        // database.
        if !clave_common::id::is_plausible_id(&kid) {
            return Err(SignatureRejection::UnknownKey);
        }
        if !knows(&snapshot) && self.kid_exists(&kid).await? {
            snapshot = self.reload_unless(knows).await?;
        }
        let now = self.now();
        let key = snapshot
            .keys
            .iter()
            .find(|k| k.kid == kid && k.alg == alg)
            // A key cached as retired may have passed its grace since it was loaded.
            .filter(|k| {
                k.retired_at
                    .is_none_or(|at| at.saturating_add(self.grace()) > now)
            })
            .ok_or(SignatureRejection::UnknownKey)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let checked = &self.idp.key_cache().checked;
        if let Some(known) = checked.get(&digest, now) {
            return Ok(known);
        }
        let (payload, header) = josekit::jws::deserialize_compact(token, key.verifier.as_ref())
            .map_err(|_| SignatureRejection::BadSignature)?;
        let claims: Map<String, Value> = serde_json::from_slice(&payload)
            .map_err(|_| SignatureRejection::Malformed("the payload is not a JSON object"))?;
        let verified = VerifiedJwt {
            kid,
            typ: header.token_type().map(str::to_owned),
            claims: Arc::new(claims),
        };
        checked.insert(digest, &verified, now);
        Ok(verified)
    }

    async fn kid_exists(&self, kid: &str) -> Result<bool, KeyError> {
        let found: Option<(String,)> = sqlx::query_as(
            "SELECT kid FROM idp_signing_keys WHERE kid = $1 AND removed_at IS NULL",
        )
        .bind(kid)
        .fetch_optional(self.ctx().db.pool())
        .await?;
        Ok(found.is_some())
    }
}

/// The decoded header of a compact JWS, read before the key is known.
fn peek_header(token: &str) -> Result<Map<String, Value>, SignatureRejection> {
    if token.len() > 16 * 1024 {
        return Err(SignatureRejection::Malformed("the token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SignatureRejection::Malformed(
            "not a compact JWS (three dot-separated parts)",
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| SignatureRejection::Malformed("the header is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| SignatureRejection::Malformed("the header is not a JSON object"))
}

impl Idp {
    pub(crate) fn key_cache(&self) -> &KeyCache {
        &self.keys
    }
}
