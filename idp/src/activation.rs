//! Activation: how a citizen who has no password (an account a registry created), or who
//! lost theirs, sets one. Two proofs are accepted:
//!
//! - an **activation code**: a front-desk agent or an operator checks the citizen's identity
//!   in person and issues a code; the citizen types it with their RUN and a new password.
//!   It works for a first password and for a lost one;
//! - the **serial number of the identity card**, as the identity registry published it: it
//!   proves possession of the card, which is enough for a first password only. An account
//!   that already has a password is never taken over this way (the card may be lost or
//!   seen by others); its owner uses a recovery code or a front desk.
//!
//! Codes are sixteen characters of an unambiguous alphabet (80 bits), valid for
//! [`CODE_SECS`], single use, and only their keyed digest is stored. Wrong codes and wrong
//! serials count on the login's throttle counters for the RUN and the address: guessing
//! either is guessing a way in. Journaled as `activation.code_issued`, `activation.failed`
//! and `account.activated` (with the proof used).

use std::net::IpAddr;

use clave_common::Run;
use clave_common::id::random_below;
use clave_common::journal::{self, NewEvent};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::IdpError;
use crate::accounts::{Account, Accounts};
use crate::password::{self, PolicyViolation, check_policy};
use crate::throttle::{self, ThrottleKey, Verdict, delay_for};

/// How long a code can be used: a week.
pub const CODE_SECS: i64 = 7 * 24 * 3600;

const PURPOSE: &str = "activation-code";
/// No 0/O, 1/I: read from paper and typed by hand.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_CHARS: usize = 16;

/// A code as handed to the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationCode {
    /// In groups of four: `ABCD-EFGH-JKLM-NPQR`.
    pub code: String,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
}

/// Why an activation failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// The RUN has no account, or the code is wrong, used or expired.
    #[error("the RUN or the activation code is wrong, or the code expired")]
    Refused,
    /// Too many failures on this RUN or from this address.
    #[error("too many failed attempts; retry in {retry_after} seconds")]
    LockedOut {
        /// Seconds until the lockout lapses.
        retry_after: i64,
    },
    /// The code is right but the new password is not acceptable (the code stays usable).
    #[error("the password is not acceptable: {0}")]
    Policy(PolicyViolation),
    /// The activation could not be checked.
    #[error(transparent)]
    Internal(#[from] IdpError),
}

impl From<sqlx::Error> for ActivationError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

/// Checks `new_password` against the policy for `account`.
fn check_new_password(
    ctx: &crate::Ctx,
    account: &Account,
    new_password: &str,
) -> Result<(), ActivationError> {
    check_policy(
        &ctx.config.passwords,
        new_password,
        &account.run,
        &account.given_names,
        &account.family_names,
    )
    .map_err(ActivationError::Policy)
}

/// A card serial as typed or published: upper-cased, without spaces, dots and dashes
/// (`100.123.456` and `100123456` are the same serial).
fn normalise_serial(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A code as typed: upper-cased, without spaces and dashes.
fn normalise(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn digest_input(account_id: &str, code: &str) -> Vec<u8> {
    format!("{account_id}:{code}").into_bytes()
}

impl Accounts<'_> {
    /// A new activation code for `account_id`, replacing any earlier one; `actor` is who
    /// checked the citizen's identity (an agent's account id, or the operator).
    pub async fn issue_activation_code(
        &self,
        account_id: &str,
        actor: &str,
        place: &str,
    ) -> Result<ActivationCode, IdpError> {
        let ctx = self.idp.ctx();
        if self.get(account_id).await?.is_none() {
            return Err(IdpError::NotFound("account"));
        }
        let raw: String = (0..CODE_CHARS)
            .map(|_| char::from(ALPHABET[random_below(32) as usize]))
            .collect();
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let expires_at = at + CODE_SECS;
        let digest = ctx
            .master
            .keyed_digest(PURPOSE, &digest_input(account_id, &raw));
        let mut tx = ctx.db.begin().await?;
        sqlx::query(
            "INSERT INTO idp_activation_codes (account_id, code_digest, issued_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET \
             code_digest = excluded.code_digest, issued_by = excluded.issued_by, \
             created_at = excluded.created_at, expires_at = excluded.expires_at",
        )
        .bind(account_id)
        .bind(&digest)
        .bind(actor)
        .bind(at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new("activation.code_issued")
            .actor(actor)
            .subject(account_id)
            .data(json!({ "place": place, "expires_at": expires_at }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        let code = raw
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-");
        Ok(ActivationCode { code, expires_at })
    }

    /// Sets `run`'s first password with the serial number of their identity card, from
    /// `addr`. Refused, like a wrong serial, when the account already has a password or no
    /// registry has published a serial for it.
    pub async fn activate_with_document(
        &self,
        run: &Run,
        typed_serial: &str,
        new_password: &str,
        addr: IpAddr,
    ) -> Result<Account, ActivationError> {
        let ctx = self.idp.ctx();
        let (run_key, addr_key) = self.activation_keys(run, addr).await?;
        let account = match self.find_by_run(run).await? {
            Some(account) if !account.has_password => account,
            _ => {
                return Err(self
                    .count_activation_failure(run, &run_key, &addr_key)
                    .await?);
            }
        };
        let on_record = ctx
            .claims
            .document_serial(self.idp, &account.id)
            .await
            .map_err(|e| IdpError::Internal(format!("the identity registry's data: {e}")))?;
        let matches = on_record.is_some_and(|serial| {
            let (typed, known) = (normalise_serial(typed_serial), normalise_serial(&serial));
            !known.is_empty() && bool::from(typed.as_bytes().ct_eq(known.as_bytes()))
        });
        if !matches {
            return Err(self
                .count_activation_failure(run, &run_key, &addr_key)
                .await?);
        }
        check_new_password(ctx, &account, new_password)?;
        let hash = password::hash(ctx, new_password).await?;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        // Only while the account still has no password: a race with another activation
        // (or a password set meanwhile) leaves the first one standing.
        let set = sqlx::query(
            "UPDATE idp_accounts SET password_hash = $2, updated_at = $3              WHERE id = $1 AND password_hash IS NULL",
        )
        .bind(&account.id)
        .bind(&hash)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !set {
            return Err(ActivationError::Refused);
        }
        self.finish_activation(tx, &account, "document_serial", &run_key)
            .await
    }

    /// Sets `run`'s password with an activation code, from `addr`. A citizen who had a
    /// password gets a new one, and every session of theirs ends.
    pub async fn activate(
        &self,
        run: &Run,
        typed_code: &str,
        new_password: &str,
        addr: IpAddr,
    ) -> Result<Account, ActivationError> {
        let ctx = self.idp.ctx();
        let (run_key, addr_key) = self.activation_keys(run, addr).await?;
        let code = normalise(typed_code);
        let account = self.find_by_run(run).await?;
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let stored: Option<(String,)> = match &account {
            Some(a) => {
                sqlx::query_as(
                    "SELECT code_digest FROM idp_activation_codes \
                     WHERE account_id = $1 AND expires_at > $2",
                )
                .bind(&a.id)
                .bind(at)
                .fetch_optional(ctx.db.pool())
                .await?
            }
            None => None,
        };
        let (Some(account), Some((digest,))) = (account, stored) else {
            return Err(self
                .count_activation_failure(run, &run_key, &addr_key)
                .await?);
        };
        if !ctx
            .master
            .verify_keyed_digest(PURPOSE, &digest_input(&account.id, &code), &digest)
        {
            return Err(self
                .count_activation_failure(run, &run_key, &addr_key)
                .await?);
        }
        check_new_password(ctx, &account, new_password)?;
        let hash = password::hash(ctx, new_password).await?;
        let mut tx = ctx.db.begin().await?;
        // Only one activation spends the code, however many race for it.
        let spent = sqlx::query(
            "DELETE FROM idp_activation_codes \
             WHERE account_id = $1 AND code_digest = $2 AND expires_at > $3",
        )
        .bind(&account.id)
        .bind(&digest)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !spent {
            return Err(ActivationError::Refused);
        }
        sqlx::query("UPDATE idp_accounts SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(&account.id)
            .bind(&hash)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        self.finish_activation(tx, &account, "activation_code", &run_key)
            .await
    }

    /// Journals the activation in `tx` (which has set the password), commits, and ends the
    /// sessions of a citizen who had a password before.
    async fn finish_activation(
        &self,
        mut tx: clave_common::db::Tx,
        account: &Account,
        proof: &str,
        run_key: &ThrottleKey,
    ) -> Result<Account, ActivationError> {
        let now = self.idp.ctx().clock.now();
        let event = NewEvent::new("account.activated")
            .actor(&account.id)
            .subject(&account.id)
            .data(json!({ "had_password": account.has_password, "proof": proof }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        self.idp.throttle().forget(run_key).await?;
        if account.has_password {
            self.idp
                .sessions()
                .end_all(&account.id, "password_reset")
                .await?;
        }
        Ok(self
            .get(&account.id)
            .await?
            .ok_or(IdpError::NotFound("account"))?)
    }

    /// The throttle keys of an activation by `run` from `addr`, unless either is locked out.
    async fn activation_keys(
        &self,
        run: &Run,
        addr: IpAddr,
    ) -> Result<(ThrottleKey, ThrottleKey), ActivationError> {
        let run_key = ThrottleKey::run(run);
        let addr_key = ThrottleKey::address(addr);
        if let Verdict::Locked { retry_after } =
            self.idp.throttle().check(&[&run_key, &addr_key]).await?
        {
            return Err(ActivationError::LockedOut { retry_after });
        }
        Ok((run_key, addr_key))
    }

    async fn count_activation_failure(
        &self,
        run: &Run,
        run_key: &ThrottleKey,
        addr_key: &ThrottleKey,
    ) -> Result<ActivationError, ActivationError> {
        let ctx = self.idp.ctx();
        let config = &ctx.config.throttle;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let on_run = throttle::record_failure(&mut tx, config, run_key, now).await?;
        let on_addr = throttle::record_failure(&mut tx, config, addr_key, now).await?;
        let event = NewEvent::new("activation.failed")
            .subject(run.compact())
            .data(json!({ "addr": addr_key.subject(), "failures": on_run.failures }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        if let Some(until) = on_run.locked_until.max(on_addr.locked_until) {
            return Ok(ActivationError::LockedOut {
                retry_after: (until - now.unix_timestamp()).max(1),
            });
        }
        let delay = delay_for(config, on_run.failures);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(ActivationError::Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_leniently() {
        assert_eq!(normalise(" abcd-efgh jklm-NPQR "), "ABCDEFGHJKLMNPQR");
        assert_eq!(ALPHABET.len(), 32);
        assert!(!ALPHABET.contains(&b'0') && !ALPHABET.contains(&b'O'));
        assert!(!ALPHABET.contains(&b'1') && !ALPHABET.contains(&b'I'));
    }

    #[test]
    fn serials_ignore_punctuation_and_case() {
        assert_eq!(normalise_serial(" 100.123.456 "), "100123456");
        assert_eq!(normalise_serial("a-012.345"), "A012345");
        assert_ne!(
            normalise_serial("100.123.456"),
            normalise_serial("100.123.457")
        );
        assert_eq!(normalise_serial(" .- "), "");
    }
}
