//! The emergency lock: a citizen who fears someone else holds their account stops everything
//! at once. The lock ends every session (the services of each hear of it by back-channel
//! logout), revokes every grant (so no access or refresh token works any more), and blocks
//! every way in, password and passkey alike, until the lock is lifted in person at a front
//! desk, by an operator, or by the citizen with one of their recovery codes.
//!
//! The lock is committed first, so a crash half-way leaves the account locked; locking again
//! ends whatever was left. Journaled as `account.locked` and `account.unlocked`.

use clave_common::journal::{self, NewEvent};
use serde_json::json;

use crate::IdpError;
use crate::accounts::{AccountStatus, Accounts};
use crate::factors::lock_account;

/// `locked_reason` of a lock the citizen set.
pub const EMERGENCY: &str = "emergency";
/// `locked_reason` of a lock an operator set.
pub const OPERATOR: &str = "operator";

/// What a lock ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Sessions ended.
    pub sessions: usize,
    /// Grants revoked (each with its access and refresh tokens).
    pub grants: usize,
}

impl Accounts<'_> {
    /// Locks `account_id` for `reason` ([`EMERGENCY`]: on the citizen's word; [`OPERATOR`]:
    /// an operator's decision, which only an operator lifts and which an emergency lock does
    /// not weaken), by `actor`. Ends every session and revokes every grant, even when the
    /// account was locked already. Journaled as `account.locked` with the reason.
    pub async fn lock(
        &self,
        account_id: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Locked, IdpError> {
        if reason != EMERGENCY && reason != OPERATOR {
            return Err(IdpError::Invalid(format!("unknown lock reason {reason:?}")));
        }
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        lock_account(&mut tx, account_id).await?;
        let updated = sqlx::query(
            "UPDATE idp_accounts SET status = 'locked', locked_reason = \
             CASE WHEN $2 = 'operator' THEN 'operator' ELSE COALESCE(locked_reason, $2) END, \
             updated_at = $3 WHERE id = $1",
        )
        .bind(account_id)
        .bind(reason)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Err(IdpError::NotFound("account"));
        }
        let grants: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM idp_grants WHERE account_id = $1 AND revoked_at IS NULL",
        )
        .bind(account_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut revoked = 0;
        for (grant,) in &grants {
            if self
                .idp
                .tokens()
                .revoke_grant(&mut tx, grant, "account_locked")
                .await?
            {
                revoked += 1;
            }
        }
        let event = NewEvent::new("account.locked")
            .actor(actor)
            .subject(account_id)
            .data(json!({ "reason": reason, "grants_revoked": revoked }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        // Each session ends in its own commit, with its back-channel logouts.
        let sessions = self
            .idp
            .sessions()
            .end_all(account_id, "account_locked")
            .await?
            .len();
        Ok(Locked {
            sessions,
            grants: revoked,
        })
    }

    /// Lifts `account_id`'s lock. Without `operator`, only an emergency lock is lifted (a
    /// front desk or the citizen's recovery code cannot undo an operator's decision).
    /// Journaled as `account.unlocked` by `actor`, with `how`. Returns whether the account
    /// was locked and is now active.
    pub async fn unlock(
        &self,
        account_id: &str,
        actor: &str,
        how: &str,
        operator: bool,
    ) -> Result<bool, IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let lifted = sqlx::query(
            "UPDATE idp_accounts SET status = 'active', locked_reason = NULL, updated_at = $2 \
             WHERE id = $1 AND status = 'locked' AND ($3 OR locked_reason = $4)",
        )
        .bind(account_id)
        .bind(now.unix_timestamp())
        .bind(operator)
        .bind(EMERGENCY)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if lifted {
            let event = NewEvent::new("account.unlocked")
                .actor(actor)
                .subject(account_id)
                .data(json!({ "how": how }));
            journal::append(&mut tx, now, &event).await?;
        }
        tx.commit().await?;
        Ok(lifted)
    }

    /// Why `account_id` is locked ([`EMERGENCY`], [`OPERATOR`]), or `None` if it is active.
    pub async fn lock_reason(&self, account_id: &str) -> Result<Option<String>, IdpError> {
        let Some(account) = self.get(account_id).await? else {
            return Err(IdpError::NotFound("account"));
        };
        if account.status == AccountStatus::Active {
            return Ok(None);
        }
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT locked_reason FROM idp_accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(self.idp.ctx().db.pool())
                .await?;
        Ok(Some(
            row.and_then(|(r,)| r)
                .unwrap_or_else(|| OPERATOR.to_owned()),
        ))
    }
}
