//! Recovery codes: ten single-use codes for the day the citizen's phone is lost.
//!
//! They are shown once, when made, and kept only as argon2id hashes (hashed and checked on
//! blocking threads, like passwords). A new set replaces the old one entirely. A code used at
//! login gives level 2 for that login only (`amr` `["pwd", "otp", "mfa"]`: it is a one-time
//! password, RFC 8176); it is spent by one conditional UPDATE, so two nodes cannot both accept
//! it, and its use is journaled as `recovery_code.used` with the citizen as subject, which is
//! the notice to the citizen until the mailbox exists. Failures are counted with the password
//! throttle.

use std::net::IpAddr;

use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use rand::Rng;
use serde_json::json;

use crate::accounts::Account;
use crate::factors::SecondFactorError;
use crate::throttle::ThrottleKey;
use crate::{Idp, IdpError, password};

/// How many codes a set has.
pub const SET_SIZE: usize = 10;
/// Letters of a code: no 0/O, 1/I/L, so they are read back without doubt.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters per code (12 of 31: about 59 bits), shown as three groups of four.
const CODE_LEN: usize = 12;

/// One new code, formatted `XXXX-XXXX-XXXX`.
fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A typed code in its stored form: upper case, without spaces or dashes; `None` when it
/// cannot be a code.
pub fn normalise(code: &str) -> Option<String> {
    let cleaned: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (cleaned.len() == CODE_LEN && cleaned.bytes().all(|b| ALPHABET.contains(&b))).then_some(cleaned)
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    id: String,
    code_hash: String,
}

/// The recovery-code service.
#[derive(Debug, Clone, Copy)]
pub struct RecoveryCodes<'a> {
    idp: &'a Idp,
}

impl Idp {
    /// Recovery codes.
    pub fn recovery_codes(&self) -> RecoveryCodes<'_> {
        RecoveryCodes { idp: self }
    }
}

impl RecoveryCodes<'_> {
    /// Makes a new set of [`SET_SIZE`] codes, replacing any earlier set; journaled as
    /// `recovery_codes.generated`. Returns the codes, which are not kept anywhere: show them
    /// once.
    pub async fn generate(&self, account_id: &str) -> Result<Vec<String>, IdpError> {
        let ctx = self.idp.ctx();
        let codes: Vec<String> = (0..SET_SIZE).map(|_| new_code()).collect();
        let mut hashes = Vec::with_capacity(SET_SIZE);
        for code in &codes {
            let stored = normalise(code)
                .ok_or_else(|| IdpError::Internal("a new recovery code is malformed".into()))?;
            hashes.push(password::hash(ctx, &stored).await?);
        }
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let mut tx = ctx.db.begin().await?;
        let replaced = sqlx::query("DELETE FROM idp_recovery_codes WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for hash in &hashes {
            sqlx::query(
                "INSERT INTO idp_recovery_codes (id, account_id, code_hash, created_at, used_at) \
                 VALUES ($1, $2, $3, $4, NULL)",
            )
            .bind(new_id())
            .bind(account_id)
            .bind(hash)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        let event = NewEvent::new("recovery_codes.generated")
            .actor(account_id)
            .subject(account_id)
            .data(json!({ "count": SET_SIZE, "replaced": replaced }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Spends one of the citizen's codes as a second factor: throttled, single use,
    /// journaled as `recovery_code.used` (or `second_factor.failed`).
    pub async fn redeem(
        &self,
        account: &Account,
        code: &str,
        addr: IpAddr,
    ) -> Result<(), SecondFactorError> {
        let ctx = self.idp.ctx();
        crate::totp::refuse_if_locked(self.idp, account, addr).await?;
        let addr_key = ThrottleKey::address(addr);
        let rows: Vec<CodeRow> = sqlx::query_as(
            "SELECT id, code_hash FROM idp_recovery_codes \
             WHERE account_id = $1 AND used_at IS NULL ORDER BY id",
        )
        .bind(&account.id)
        .fetch_all(ctx.db.pool())
        .await
        .map_err(IdpError::from)?;
        let mut matched = None;
        if let Some(typed) = normalise(code) {
            for row in rows {
                if password::verify(ctx, &typed, Some(&row.code_hash)).await? {
                    matched = Some(row.id);
                    break;
                }
            }
        }
        let Some(code_id) = matched else {
            return Err(self.failure(account, addr, "recovery_code_wrong").await);
        };
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await.map_err(IdpError::from)?;
        let spent = sqlx::query(
            "UPDATE idp_recovery_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
        )
        .bind(&code_id)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await
        .map_err(IdpError::from)?
        .rows_affected()
            == 1;
        if !spent {
            tx.rollback().await.map_err(IdpError::from)?;
            return Err(self.failure(account, addr, "recovery_code_reused").await);
        }
        crate::throttle::clear_after_second_factor(&mut tx, &account.run)
            .await
            .map_err(IdpError::from)?;
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM idp_recovery_codes WHERE account_id = $1 AND used_at IS NULL",
        )
        .bind(&account.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(IdpError::from)?;
        let event = NewEvent::new("recovery_code.used")
            .actor(&account.id)
            .subject(&account.id)
            .data(json!({ "code_id": code_id, "left": left, "addr": addr_key.subject() }));
        journal::append(&mut tx, now, &event)
            .await
            .map_err(IdpError::from)?;
        tx.commit().await.map_err(IdpError::from)?;
        Ok(())
    }

    async fn failure(&self, account: &Account, addr: IpAddr, reason: &str) -> SecondFactorError {
        match crate::totp::count_failure(self.idp, account, addr, reason, "recovery_code").await {
            Ok(error) => error,
            Err(error) => SecondFactorError::Internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_three_groups_of_four_and_read_back_leniently() {
        let code = new_code();
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        let stored = normalise(&code).unwrap();
        assert_eq!(normalise(&code.to_lowercase()), Some(stored.clone()));
        assert_eq!(
            normalise(&format!(" {} ", code.replace('-', " "))),
            Some(stored)
        );
        assert_eq!(normalise("ABCD-EFGH-IJK0"), None);
        assert_eq!(normalise("ABCD-EFGH"), None);
        assert_ne!(new_code(), new_code());
    }
}
