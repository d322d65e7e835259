//! Login throttling: failed attempts counted per RUN and per client address, in the database so
//! that every node sharing it enforces the same limits.
//!
//! Counters are keyed by the RUN typed (in its compact form, whatever format was typed) rather
//! than by account id, so an unknown RUN is counted and locked exactly like a known one and a
//! lockout reveals nothing about which RUNs have accounts. Within `window_secs` of the first
//! failure, each failure beyond `free_failures` is answered only after a delay that doubles
//! each time (capped at `max_delay_ms`); at `lockout_failures` the RUN is locked out for
//! `lockout_secs`. An address is locked out at `address_lockout_failures`, whichever RUNs it
//! tried. Lockouts and their end are journaled (`account.locked_out`, `account.unlocked`,
//! `address.locked_out`, `address.unlocked`).
//!
//! Every change is one statement whose result decides what happened (an upsert that returns
//! the new count, a conditional update whose affected-row count says who lifted a lapsed
//! lockout), so concurrent attempts on several nodes never lose a count or journal twice.

use std::net::IpAddr;
use std::time::Duration;

use clave_common::Run;
use clave_common::config::ThrottleConfig;
use clave_common::journal::{self, NewEvent};
use serde_json::json;
use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::{Idp, IdpError};

/// What a counter counts failures of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Attempts on one RUN.
    Run,
    /// Attempts from one client address.
    Address,
}

/// The key of one counter: `run:<compact RUN>` or `addr:<ip>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey {
    kind: KeyKind,
    key: String,
    subject: String,
}

impl ThrottleKey {
    /// The counter of attempts on `run`, however it was typed.
    pub fn run(run: &Run) -> Self {
        let compact = run.compact();
        Self {
            kind: KeyKind::Run,
            key: format!("run:{compact}"),
            subject: compact,
        }
    }

    /// The counter of second-factor attempts on `run`. It is kept apart from the password's:
    /// a correct password clears the RUN's counter, and must not also reset the count of
    /// guessed codes. Only a successful second factor clears it.
    pub fn second_factor(run: &Run) -> Self {
        let compact = run.compact();
        Self {
            kind: KeyKind::Run,
            key: format!("otp:{compact}"),
            subject: compact,
        }
    }

    /// The counter of failed caller verifications naming `run` (a wrong code typed by an
    /// agent). Kept apart from the login's counters: a stranger on the telephone must not be
    /// able to lock a citizen out of their own account.
    pub fn caller(run: &Run) -> Self {
        let compact = run.compact();
        Self {
            kind: KeyKind::Run,
            key: format!("call:{compact}"),
            subject: compact,
        }
    }

    /// The counter of one agent's failed caller verifications, whichever RUNs they named.
    pub fn agent(account_id: &str) -> Self {
        Self {
            kind: KeyKind::Run,
            key: format!("agent:{account_id}"),
            subject: account_id.to_owned(),
        }
    }

    /// The counter of attempts from `addr`. IPv6 addresses count per /64, the block one
    /// subscriber usually holds, so rotating through it does not reset the count.
    pub fn address(addr: IpAddr) -> Self {
        let shown = match addr {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        };
        Self {
            kind: KeyKind::Address,
            key: format!("addr:{shown}"),
            subject: shown,
        }
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// What the key counts.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The journal subject of events about this counter: the compact RUN or the address.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    fn lockout_threshold(&self, config: &ThrottleConfig) -> i64 {
        match self.kind {
            KeyKind::Run => i64::from(config.lockout_failures),
            KeyKind::Address => i64::from(config.address_lockout_failures),
        }
    }

    fn event_prefix(&self) -> &'static str {
        match self.kind {
            KeyKind::Run => "account",
            KeyKind::Address => "address",
        }
    }
}

/// How long to wait before answering the `failures`-th failure in a window: nothing up to
/// `free_failures`, then `delay_step_ms` doubling with each further failure, at most
/// `max_delay_ms`.
pub fn delay_for(config: &ThrottleConfig, failures: i64) -> Duration {
    let beyond = failures - i64::from(config.free_failures);
    if beyond <= 0 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(beyond - 1).unwrap_or(u32::MAX).min(32);
    let ms = config
        .delay_step_ms
        .saturating_mul(1_u64 << doublings)
        .min(config.max_delay_ms);
    Duration::from_millis(ms)
}

/// What recording one failure did to a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Failures in the current window, this one included.
    pub failures: i64,
    /// When the lockout ends, if this failure locked the key (or it was already locked).
    pub locked_until: Option<i64>,
}

/// Whether attempts may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not locked out.
    Open,
    /// Locked out for this many more seconds.
    Locked {
        /// Seconds until the lockout lapses.
        retry_after: i64,
    },
}

#[derive(sqlx::FromRow)]
struct CounterRow {
    failures: i64,
    locked_until: Option<i64>,
}

/// The throttling service.
#[derive(Debug, Clone, Copy)]
pub struct Throttle<'a> {
    idp: &'a Idp,
}

impl Idp {
    /// Login throttling.
    pub fn throttle(&self) -> Throttle<'_> {
        Throttle { idp: self }
    }
}

impl Throttle<'_> {
    /// Whether any of `keys` is locked out. A lockout that has lapsed is lifted here (and
    /// journaled) so the next failures count from zero.
    pub async fn check(&self, keys: &[&ThrottleKey]) -> Result<Verdict, IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let mut longest = 0_i64;
        for key in keys {
            let row: Option<CounterRow> =
                sqlx::query_as("SELECT failures, locked_until FROM idp_throttle WHERE key = $1")
                    .bind(key.as_str())
                    .fetch_optional(ctx.db.pool())
                    .await?;
            match row.and_then(|r| r.locked_until) {
                Some(until) if until > at => longest = longest.max(until - at),
                Some(_) => lift_lapsed(self.idp, key, now).await?,
                None => {}
            }
        }
        Ok(if longest > 0 {
            Verdict::Locked {
                retry_after: longest,
            }
        } else {
            Verdict::Open
        })
    }

    /// Forgets the failures counted for `key` after a successful login. A lockout that began
    /// meanwhile (from concurrent failures) stays in force.
    pub async fn forget(&self, key: &ThrottleKey) -> Result<(), IdpError> {
        sqlx::query("DELETE FROM idp_throttle WHERE key = $1 AND locked_until IS NULL")
            .bind(key.as_str())
            .execute(self.idp.ctx().db.pool())
            .await?;
        Ok(())
    }

    /// Lifts a lockout before it lapses (an operator's decision, after verifying the citizen),
    /// journaling `account.unlocked` or `address.unlocked` with `actor`. Returns whether a
    /// lockout was in force.
    pub async fn clear(&self, key: &ThrottleKey, actor: &str) -> Result<bool, IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let lifted = sqlx::query(
            "DELETE FROM idp_throttle WHERE key = $1 AND locked_until IS NOT NULL AND locked_until > $2",
        )
        .bind(key.as_str())
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if lifted {
            let event = NewEvent::new(format!("{}.unlocked", key.event_prefix()))
                .actor(actor)
                .subject(key.subject())
                .data(json!({ "reason": "cleared" }));
            journal::append(&mut tx, now, &event).await?;
        } else {
            sqlx::query("DELETE FROM idp_throttle WHERE key = $1")
                .bind(key.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(lifted)
    }
}

async fn lift_lapsed(idp: &Idp, key: &ThrottleKey, now: OffsetDateTime) -> Result<(), IdpError> {
    let ctx = idp.ctx();
    let at = now.unix_timestamp();
    let mut tx = ctx.db.begin().await?;
    // Only the one attempt whose update matches lifts the lockout and journals it.
    let lifted = sqlx::query(
        "UPDATE idp_throttle SET failures = 0, window_start = $2, locked_until = NULL \
         WHERE key = $1 AND locked_until IS NOT NULL AND locked_until <= $2",
    )
    .bind(key.as_str())
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if lifted {
        let event = NewEvent::new(format!("{}.unlocked", key.event_prefix()))
            .subject(key.subject())
            .data(json!({ "reason": "lapsed" }));
        journal::append(&mut tx, now, &event).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Counts one failure against `key` through `conn` (the transaction that journals the failed
/// login), locking the key out, and journaling that, when the failure reaches its threshold.
pub async fn record_failure(
    conn: &mut AnyConnection,
    config: &ThrottleConfig,
    key: &ThrottleKey,
    now: OffsetDateTime,
) -> Result<Counted, sqlx::Error> {
    let at = now.unix_timestamp();
    let window_opened_before = at - config.window_secs;
    // A window that has run out starts again from this failure.
    let row: CounterRow = sqlx::query_as(
        "INSERT INTO idp_throttle (key, failures, window_start, locked_until) VALUES ($1, 1, $2, NULL) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN idp_throttle.window_start <= $3 THEN 1 ELSE idp_throttle.failures + 1 END, \
           window_start = CASE WHEN idp_throttle.window_start <= $3 THEN $2 ELSE idp_throttle.window_start END \
         RETURNING failures, locked_until",
    )
    .bind(key.as_str())
    .bind(at)
    .bind(window_opened_before)
    .fetch_one(&mut *conn)
    .await?;

    if row.failures < key.lockout_threshold(config) {
        return Ok(Counted {
            failures: row.failures,
            locked_until: row.locked_until.filter(|&until| until > at),
        });
    }
    let until = at + config.lockout_secs;
    let locked_now = sqlx::query(
        "UPDATE idp_throttle SET locked_until = $2 \
         WHERE key = $1 AND (locked_until IS NULL OR locked_until <= $3)",
    )
    .bind(key.as_str())
    .bind(until)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if locked_now {
        let event = NewEvent::new(format!("{}.locked_out", key.event_prefix()))
            .subject(key.subject())
            .data(json!({ "failures": row.failures, "until": until }));
        journal::append(conn, now, &event).await?;
        Ok(Counted {
            failures: row.failures,
            locked_until: Some(until),
        })
    } else {
        // Another attempt locked it first; that one journaled the lockout.
        Ok(Counted {
            failures: row.failures,
            locked_until: row.locked_until.filter(|&until| until > at),
        })
    }
}

/// After a successful second factor: forgets the RUN's password and second-factor failures
/// (not the address's, which only time clears).
pub(crate) async fn clear_after_second_factor(
    conn: &mut AnyConnection,
    run: &Run,
) -> Result<(), sqlx::Error> {
    for key in [ThrottleKey::run(run), ThrottleKey::second_factor(run)] {
        sqlx::query("DELETE FROM idp_throttle WHERE key = $1 AND locked_until IS NULL")
            .bind(key.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            free_failures: 3,
            lockout_failures: 10,
            delay_step_ms: 500,
            max_delay_ms: 4000,
            ..ThrottleConfig::default()
        }
    }

    #[test]
    fn delays_start_after_the_free_failures_double_and_are_capped() {
        let c = config();
        let delays: Vec<u128> = (0..=12).map(|n| delay_for(&c, n).as_millis()).collect();
        assert_eq!(
            delays,
            vec![
                0, 0, 0, 0, 500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000
            ]
        );
        assert_eq!(delay_for(&c, i64::MAX), Duration::from_millis(4000));
    }

    #[test]
    fn a_run_counts_under_one_key_however_it_was_typed() {
        let keys: Vec<ThrottleKey> = ["12.345.678-5", "12345678-5", "123456785", " 12345678-5 "]
            .iter()
            .map(|text| ThrottleKey::run(&Run::parse(text).unwrap()))
            .collect();
        assert!(keys.iter().all(|k| k.as_str() == "run:12345678-5"));
        let k = ThrottleKey::run(&Run::parse("5.126.665-k").unwrap());
        assert_eq!(k.as_str(), "run:5126665-K");
        assert_eq!(k.subject(), "5126665-K");
    }

    #[test]
    fn addresses_count_per_ipv4_host_and_per_ipv6_slash_64() {
        let v4 = ThrottleKey::address("203.0.113.9".parse().unwrap());
        assert_eq!(v4.as_str(), "addr:203.0.113.9");
        let a = ThrottleKey::address("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ThrottleKey::address("2001:db8:1:2:bbbb::7".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "addr:2001:db8:1:2::/64");
        let mapped = ThrottleKey::address("::ffff:203.0.113.9".parse().unwrap());
        assert_eq!(mapped, v4);
    }
}
