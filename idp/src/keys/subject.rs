//! The pairwise-subject secret and the subjects it derives.
//!
//! A pairwise `sub` is an HMAC of the sector and the account id under a secret made once per
//! deployment. It cannot be a keyed digest under the master key, which rotates: the subjects
//! a service knows its users by must never change.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{KeyError, Keys};

/// The name under which the pairwise-subject secret is stored.
const SUBJECT_SECRET: &str = "pairwise-subject";

/// The secret that derives pairwise subjects.
pub(crate) struct SubjectKey(Vec<u8>);

impl SubjectKey {
    /// A key for tests of code that needs a [`crate::clients::Client`] value.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn fixed() -> Self {
        Self(vec![7; 32])
    }

    /// The pairwise subject of `account_id` within `sector`.
    pub(crate) fn subject(&self, sector: &str, account_id: &str) -> String {
        derive_subject(&self.0, sector, account_id)
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey([redacted])")
    }
}

impl Keys<'_> {
    /// The pairwise-subject secret: made once per deployment (by whichever node comes
    /// first), sealed in the database, and never changed, since changing it would change every
    /// pairwise subject.
    pub(crate) async fn subject_key(&self) -> Result<Arc<SubjectKey>, KeyError> {
        let cache = &self.idp.key_cache().subject_key;
        cache
            .get_or_try_init(|| async {
                let owner = format!("idp-secret:{SUBJECT_SECRET}");
                let mut fresh = [0_u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
                let sealed = self.ctx().master.seal(&owner, &fresh)?;
                sqlx::query(
                    "INSERT INTO idp_secrets (name, sealed, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(SUBJECT_SECRET)
                .bind(&sealed)
                .bind(self.now())
                .execute(self.ctx().db.pool())
                .await?;
                let (stored,): (String,) =
                    sqlx::query_as("SELECT sealed FROM idp_secrets WHERE name = $1")
                        .bind(SUBJECT_SECRET)
                        .fetch_one(self.ctx().db.pool())
                        .await?;
                let secret = self.ctx().master.open(&owner, &stored)?;
                Ok(Arc::new(SubjectKey(secret.to_vec())))
            })
            .await
            .cloned()
    }

    /// The pairwise subject of `account_id` within `sector`: an HMAC under the deployment's
    /// pairwise secret, so it is stable, says nothing about the account, and differs between
    /// sectors.
    pub async fn pairwise_subject(
        &self,
        sector: &str,
        account_id: &str,
    ) -> Result<String, KeyError> {
        Ok(self.subject_key().await?.subject(sector, account_id))
    }
}

fn derive_subject(key: &[u8], sector: &str, account_id: &str) -> String {
    // Length-prefixed fields, so ("ab", "c") and ("a", "bc") never collide.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes keys of any length; this arm cannot run.
        return String::new();
    };
    mac.update(b"clave/pairwise-subject/v1");
    for field in [sector, account_id] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_subjects_are_stable_and_unlinkable() {
        let key = [7_u8; 32];
        let a1 = derive_subject(&key, "sector-a", "account-1");
        assert_eq!(a1, derive_subject(&key, "sector-a", "account-1"));
        assert_ne!(a1, derive_subject(&key, "sector-b", "account-1"));
        assert_ne!(a1, derive_subject(&key, "sector-a", "account-2"));
        assert_ne!(a1, derive_subject(&[8_u8; 32], "sector-a", "account-1"));
        assert!(!a1.contains("account"));
        // Field boundaries matter.
        assert_ne!(
            derive_subject(&key, "ab", "c"),
            derive_subject(&key, "a", "bc")
        );
    }
}
