//! Second factors as a whole: which level of assurance a request needs, what a citizen's
//! account can reach, the freshness rule for changing factors, and the policy on removing
//! them.
//!
//! Levels: [`LOA_1`] password; [`LOA_2`] password and a second factor (a TOTP code, or a
//! recovery code, which gives level 2 for that login only since it is spent with it); [`LOA_3`]
//! a passkey with user verification. A request needs the highest of the client's registered
//! minimum, the level its `acr_values` ask for, and level 2 when the citizen chose "always ask
//! for my second factor" and has one. The minimum and "always ask" are requirements; the
//! `acr_values` are a wish that is met when the citizen can, and otherwise answered with the
//! level reached (the ID token says which).
//!
//! Changing factors (adding, removing, regenerating recovery codes, "always ask") needs an
//! authentication within the last [`FRESH_SECS`] seconds, and, once the account has a second
//! factor, a session at level 2 or more: a stolen password alone cannot turn the second
//! factor off. The last second factor cannot be removed while "always ask" is on.

use clave_common::journal::{self, NewEvent};
use serde_json::json;

use crate::accounts::Account;
use crate::session::{LOA_1, LOA_2, LOA_3, Session};
use crate::{Idp, IdpError};

/// How recent an authentication must be to change factors: five minutes.
pub const FRESH_SECS: i64 = 300;

/// Why a second factor was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// The code is wrong or expired.
    #[error("the code is not valid")]
    Invalid,
    /// The code was valid but has already been used.
    #[error("the code was already used")]
    Reused,
    /// The citizen has no such factor (or the enrolment lapsed).
    #[error("no such second factor")]
    NotEnrolled,
    /// Too many failed attempts on this RUN or from this address; retry later.
    #[error("too many failed attempts; retry in {retry_after} seconds")]
    LockedOut {
        /// Seconds until the lockout lapses.
        retry_after: i64,
    },
    /// The attempt could not be checked.
    #[error(transparent)]
    Internal(#[from] IdpError),
}

/// The rank of an authentication level: 1 password, 2 password and a second factor, 3 a
/// passkey; 0 for a value clave does not know.
pub fn rank(acr: &str) -> u8 {
    match acr {
        a if a == LOA_1 => 1,
        a if a == LOA_2 => 2,
        a if a == LOA_3 => 3,
        _ => 0,
    }
}

/// The `acr` value of a rank (ranks below 1 read as 1).
pub fn acr_of(rank: u8) -> &'static str {
    match rank {
        0 | 1 => LOA_1,
        2 => LOA_2,
        _ => LOA_3,
    }
}

/// The level `acr_values` asks for: any listed level satisfies it, so the lowest known one.
pub fn requested_rank(acr_values: Option<&str>) -> u8 {
    acr_values
        .into_iter()
        .flat_map(|v| v.split(' '))
        .map(rank)
        .filter(|l| *l > 0)
        .min()
        .unwrap_or(0)
}

/// What a citizen's account has set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorSummary {
    /// An active TOTP authenticator.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// Registered passkeys.
    pub passkeys: i64,
    /// The citizen asked to be asked for a second factor at every login.
    pub always_ask: bool,
}

impl FactorSummary {
    /// Whether the citizen has a second factor to log in with.
    pub fn has_second_factor(&self) -> bool {
        self.totp || self.recovery_codes_left > 0 || self.passkeys > 0
    }

    /// The highest level the citizen can reach today.
    pub fn reachable(&self) -> u8 {
        if self.passkeys > 0 {
            3
        } else if self.has_second_factor() {
            2
        } else {
            1
        }
    }

    /// The level a login must reach whatever the service asks: 2 when the citizen chose
    /// "always ask" and has a second factor, else 1.
    pub fn own_minimum(&self) -> u8 {
        if self.always_ask && self.has_second_factor() {
            2
        } else {
            1
        }
    }
}

/// What a request needs of the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelNeed {
    /// The level that must be reached (client minimum, "always ask").
    pub required: u8,
    /// The level to reach when the citizen can (`required` and `acr_values`).
    pub wanted: u8,
}

impl LevelNeed {
    /// The need of a request from a client with minimum `min_acr` asking `acr_values`, for a
    /// citizen with `summary`.
    pub fn of(min_acr: Option<&str>, acr_values: Option<&str>, summary: &FactorSummary) -> Self {
        let required = min_acr.map_or(0, rank).max(summary.own_minimum()).max(1);
        let wanted = requested_rank(acr_values).max(required);
        Self { required, wanted }
    }

    /// The level to ask the citizen for, given the session's level `has` and what the
    /// account can reach: `None` when the session is enough (or nothing more can be reached
    /// and only a wish is unmet).
    pub fn step_up_to(&self, has: u8, reachable: u8) -> Option<u8> {
        if has >= self.wanted {
            return None;
        }
        let target = self.wanted.min(reachable.max(self.required));
        (target > has).then_some(target)
    }
}

/// Whether `session` authenticated recently enough to change factors at `now`.
pub fn is_fresh(session: &Session, now: i64) -> bool {
    now.saturating_sub(session.auth_time) <= FRESH_SECS
}

/// Locks `account_id`'s row until the transaction ends (an update that changes nothing takes
/// the row lock on PostgreSQL; SQLite's write transactions are serial anyway), so factor
/// changes of one citizen are applied one at a time across nodes.
pub async fn lock_account(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE idp_accounts SET updated_at = updated_at WHERE id = $1")
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn summary_on(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
) -> Result<FactorSummary, IdpError> {
    // BOOLEAN is read through an integer cast: sqlx's Any driver cannot decode SQLite's.
    let row: SummaryRow = sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM idp_totp WHERE account_id = $1 AND confirmed_at IS NOT NULL) AS totp, \
           (SELECT COUNT(*) FROM idp_recovery_codes WHERE account_id = $1 AND used_at IS NULL) AS recovery, \
           (SELECT COUNT(*) FROM idp_passkeys WHERE account_id = $1) AS passkeys, \
           COALESCE((SELECT CAST(always_ask AS INTEGER) FROM idp_factor_settings WHERE account_id = $1), 0) AS always_ask",
    )
    .bind(account_id)
    .fetch_one(conn)
    .await?;
    Ok(FactorSummary {
        totp: row.totp > 0,
        recovery_codes_left: row.recovery,
        passkeys: row.passkeys,
        always_ask: row.always_ask != 0,
    })
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    totp: i64,
    recovery: i64,
    passkeys: i64,
    always_ask: i64,
}

/// The second-factor service.
#[derive(Debug, Clone, Copy)]
pub struct Factors<'a> {
    idp: &'a Idp,
}

impl Idp {
    /// Second factors as a whole: summary, preferences, removal.
    pub fn factors(&self) -> Factors<'_> {
        Factors { idp: self }
    }
}

impl Factors<'_> {
    /// Refuses while the RUN or the address is locked out of second factors. Other secrets
    /// that guard a signature (a signing PIN) share this throttle, so guessing one does not
    /// get more tries than guessing a code.
    pub async fn refuse_if_locked(
        &self,
        account: &Account,
        addr: std::net::IpAddr,
    ) -> Result<(), SecondFactorError> {
        crate::totp::refuse_if_locked(self.idp, account, addr).await
    }

    /// Counts a wrong `method` secret (e.g. `signing_pin`) toward the second-factor throttle,
    /// journals it, and says what to answer (a lockout once there were too many).
    pub async fn count_failure(
        &self,
        account: &Account,
        addr: std::net::IpAddr,
        method: &str,
    ) -> SecondFactorError {
        let reason = format!("{method}_wrong");
        match crate::totp::count_failure(self.idp, account, addr, &reason, method).await {
            Ok(error) => error,
            Err(error) => SecondFactorError::Internal(error),
        }
    }

    /// What `account_id` has set up.
    pub async fn summary(&self, account_id: &str) -> Result<FactorSummary, IdpError> {
        let mut conn = self.idp.ctx().db.pool().acquire().await?;
        summary_on(&mut conn, account_id).await
    }

    /// Inside a transaction that just removed one of `account_id`'s factors: refuses
    /// ([`IdpError::Conflict`]) when none is left while "always ask" is on. The caller locked
    /// the account first ([`lock_account`]), so two removals racing on two nodes are counted
    /// one after the other and cannot both take the last factors away.
    pub(crate) async fn check_one_left(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
    ) -> Result<(), IdpError> {
        let summary = summary_on(conn, account_id).await?;
        if summary.always_ask && !summary.has_second_factor() {
            return Err(IdpError::Conflict(
                "this is the last second factor and every login asks for one".into(),
            ));
        }
        Ok(())
    }

    /// Sets "always ask for my second factor"; journaled as `factors.always_ask_changed`.
    /// Turning it on without a second factor is refused ([`IdpError::Invalid`]).
    pub async fn set_always_ask(&self, account_id: &str, on: bool) -> Result<(), IdpError> {
        if on && !self.summary(account_id).await?.has_second_factor() {
            return Err(IdpError::Invalid(
                "set up a second factor before asking for it at every login".into(),
            ));
        }
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        sqlx::query(
            "INSERT INTO idp_factor_settings (account_id, always_ask, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET always_ask = $2, updated_at = $3",
        )
        .bind(account_id)
        .bind(on)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new("factors.always_ask_changed")
            .actor(account_id)
            .subject(account_id)
            .data(json!({ "always_ask": on }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A front desk, having checked the citizen's identity card in person, removes every
    /// second factor (authenticator app, passkeys, recovery codes) of a citizen who lost them,
    /// turns "always ask" off and ends the citizen's sessions, so they can sign in with their
    /// password and set new factors up. Journaled as `second_factor.reset` by `actor`, with
    /// `how` (where and how the identity was checked), which the citizen is told of.
    /// Returns whether there was anything to remove.
    pub async fn reset_all(
        &self,
        account_id: &str,
        actor: &str,
        how: &str,
    ) -> Result<bool, IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        lock_account(&mut tx, account_id).await?;
        let mut removed = serde_json::Map::new();
        let mut any = false;
        for (table, what) in [
            ("idp_totp", "totp"),
            ("idp_passkeys", "passkeys"),
            ("idp_recovery_codes", "recovery_codes"),
        ] {
            let n = sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
                .bind(account_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            any |= n > 0;
            removed.insert(what.into(), json!(n));
        }
        sqlx::query(
            "UPDATE idp_factor_settings SET always_ask = $2, updated_at = $3 WHERE account_id = $1",
        )
        .bind(account_id)
        .bind(false)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
        if !any {
            tx.rollback().await?;
            return Ok(false);
        }
        let event = NewEvent::new("second_factor.reset")
            .actor(actor)
            .subject(account_id)
            .data(json!({ "how": how, "removed": removed }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        // Whoever held a session may have used the lost factors: every session ends.
        self.idp
            .sessions()
            .end_all(account_id, "second_factor_reset")
            .await?;
        Ok(true)
    }

    /// Removes the citizen's TOTP authenticator; journaled as `totp.removed`. Refused
    /// ([`IdpError::Conflict`]) when it is the last second factor and "always ask" is on.
    pub async fn remove_totp(&self, account_id: &str) -> Result<(), IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        lock_account(&mut tx, account_id).await?;
        if !self.idp.totps().delete(&mut tx, account_id).await? {
            tx.rollback().await?;
            return Err(IdpError::NotFound("TOTP authenticator"));
        }
        self.check_one_left(&mut tx, account_id).await?;
        let event = NewEvent::new("totp.removed")
            .actor(account_id)
            .subject(account_id);
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(totp: bool, always_ask: bool) -> FactorSummary {
        FactorSummary {
            totp,
            always_ask,
            ..FactorSummary::default()
        }
    }

    #[test]
    fn the_need_is_the_highest_of_client_request_and_citizen() {
        let none = summary(false, false);
        assert_eq!(
            LevelNeed::of(None, None, &none),
            LevelNeed {
                required: 1,
                wanted: 1
            }
        );
        let need = LevelNeed::of(None, Some(LOA_2), &none);
        assert_eq!((need.required, need.wanted), (1, 2));
        let need = LevelNeed::of(Some(LOA_2), Some(LOA_1), &none);
        assert_eq!((need.required, need.wanted), (2, 2));
        // "Always ask" counts only when there is something to ask for.
        assert_eq!(LevelNeed::of(None, None, &summary(false, true)).required, 1);
        assert_eq!(LevelNeed::of(None, None, &summary(true, true)).required, 2);
    }

    #[test]
    fn step_up_asks_for_what_can_be_reached_and_required_always() {
        // A wish the citizen can meet is asked for; one they cannot is let go.
        let wish = LevelNeed::of(None, Some(LOA_2), &summary(true, false));
        assert_eq!(wish.step_up_to(1, 2), Some(2));
        assert_eq!(wish.step_up_to(1, 1), None);
        assert_eq!(wish.step_up_to(2, 2), None);
        // A requirement is asked for even if it cannot be met (the page says how to enrol).
        let required = LevelNeed::of(Some(LOA_2), None, &summary(false, false));
        assert_eq!(required.step_up_to(1, 1), Some(2));
        // A passkey request from a TOTP citizen gets level 2, the best they can do.
        let passkey = LevelNeed::of(None, Some(LOA_3), &summary(true, false));
        assert_eq!(passkey.step_up_to(1, 2), Some(2));
        assert_eq!(passkey.step_up_to(2, 2), None);
    }

    #[test]
    fn ranks_and_requested_levels() {
        assert_eq!(rank(LOA_1), 1);
        assert_eq!(rank(LOA_3), 3);
        assert_eq!(rank("urn:other"), 0);
        assert_eq!(acr_of(2), LOA_2);
        assert_eq!(requested_rank(Some(&format!("{LOA_3} {LOA_2}"))), 2);
        assert_eq!(requested_rank(Some("urn:unknown")), 0);
    }

    #[test]
    fn freshness_lasts_five_minutes() {
        let session = Session {
            id: "s".into(),
            account_id: "a".into(),
            created_at: 1000,
            auth_time: 1000,
            acr: LOA_1.into(),
            amr: vec!["pwd".into()],
            expires_at: 99_999,
            ended_at: None,
            ended_reason: None,
            user_agent: None,
            ip: None,
        };
        assert!(is_fresh(&session, 1300));
        assert!(!is_fresh(&session, 1301));
    }
}
