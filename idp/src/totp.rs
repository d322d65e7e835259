//! TOTP authenticators (RFC 6238): the second factor every citizen can have with an app.
//!
//! Parameters are the ones authenticator apps assume without asking: SHA-1, 6 digits, 30-second
//! steps. A code of the previous, current or next step is accepted (clocks of phones drift),
//! but never a code of a step at or before the last one accepted: the step is advanced by one
//! conditional UPDATE, so of two nodes shown the same code only one accepts it. Failures are
//! counted with the password throttle (per RUN and per address), so guessing codes after a
//! stolen password locks the RUN out like guessing passwords does.
//!
//! The seed is sealed at rest under the master key with owner `totp:<account id>`. Enrolment
//! is two steps: [`Totps::begin`] makes a seed (replacing an unconfirmed one), and
//! [`Totps::confirm`] activates it once the citizen typed a valid code from the app.

use std::net::IpAddr;

use clave_common::journal::{self, NewEvent};
use serde_json::json;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::accounts::Account;
use crate::factors::SecondFactorError;
use crate::throttle::{self, ThrottleKey, Verdict};
use crate::{Idp, IdpError};

/// The length of a step, in seconds.
pub const STEP_SECS: i64 = 30;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Bytes of a seed: 160 bits, what RFC 4226 recommends for SHA-1.
const SEED_LEN: usize = 20;

/// A TOTP enrolment waiting for its first code: what the enrolment page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The seed in base32 (RFC 4648, no padding), for typing into an app.
    pub secret_base32: String,
    /// The `otpauth://totp/…` URI that apps read from the QR code or a tapped link.
    pub uri: String,
}

impl Enrolment {
    /// The seed in groups of four characters, easier to copy by hand.
    pub fn grouped_secret(&self) -> String {
        let chars: Vec<char> = self.secret_base32.chars().collect();
        chars
            .chunks(4)
            .map(|group| group.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(sqlx::FromRow)]
struct TotpRow {
    sealed_secret: String,
    confirmed_at: Option<i64>,
}

/// The TOTP service.
#[derive(Debug, Clone, Copy)]
pub struct Totps<'a> {
    idp: &'a Idp,
}

impl Idp {
    /// TOTP authenticators.
    pub fn totps(&self) -> Totps<'_> {
        Totps { idp: self }
    }
}

fn owner(account_id: &str) -> String {
    format!("totp:{account_id}")
}

/// The name apps show above the codes: the host of the public URL.
fn issuer_name(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "clave".to_owned())
        .replace(':', "")
}

fn generator(seed: Vec<u8>, issuer: String, label: String) -> Result<TOTP, IdpError> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS.unsigned_abs(),
        seed,
        Some(issuer),
        label,
    )
    .map_err(|e| IdpError::Internal(format!("TOTP parameters refused: {e}")))
}

/// The step of the code `code` among the previous, current and next steps at `now`, if any.
/// Every candidate is computed and compared in constant time, so timing says nothing.
fn matching_step(totp: &TOTP, code: &str, now: i64) -> Option<i64> {
    let current = now.div_euclid(STEP_SECS);
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let Ok(time) = u64::try_from(step * STEP_SECS) else {
            continue;
        };
        let expected = totp.generate(time);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// A typed code without spaces; `None` unless it is exactly [`DIGITS`] ASCII digits.
pub fn normalise_code(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

impl Totps<'_> {
    /// Whether the citizen has an active (confirmed) TOTP authenticator.
    pub async fn is_active(&self, account_id: &str) -> Result<bool, IdpError> {
        Ok(self
            .row(account_id)
            .await?
            .is_some_and(|r| r.confirmed_at.is_some()))
    }

    /// The enrolment waiting for confirmation, if one was begun.
    pub async fn pending(&self, account: &Account) -> Result<Option<Enrolment>, IdpError> {
        match self.row(&account.id).await? {
            Some(row) if row.confirmed_at.is_none() => {
                let totp = self.open(account, &row.sealed_secret)?;
                Ok(Some(Enrolment {
                    secret_base32: totp.get_secret_base32(),
                    uri: totp.get_url(),
                }))
            }
            _ => Ok(None),
        }
    }

    /// Makes a new seed for `account`, replacing an unconfirmed one; journaled as
    /// `totp.enrolment_started`. A citizen with an active authenticator must remove it first
    /// ([`IdpError::Conflict`]).
    pub async fn begin(&self, account: &Account) -> Result<Enrolment, IdpError> {
        let ctx = self.idp.ctx();
        let mut seed = vec![0_u8; SEED_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        let totp = generator(
            seed.clone(),
            issuer_name(&ctx.config.server.public_url),
            account.run.canonical(),
        )?;
        let sealed = ctx.master.seal(&owner(&account.id), &seed)?;
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let mut tx = ctx.db.begin().await?;
        let written = sqlx::query(
            "INSERT INTO idp_totp (account_id, sealed_secret, created_at, confirmed_at, last_step) \
             VALUES ($1, $2, $3, NULL, NULL) \
             ON CONFLICT (account_id) DO UPDATE SET sealed_secret = $2, created_at = $3, last_step = NULL \
             WHERE idp_totp.confirmed_at IS NULL",
        )
        .bind(&account.id)
        .bind(&sealed)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written != 1 {
            tx.rollback().await?;
            return Err(IdpError::Conflict(
                "a TOTP authenticator is already active".into(),
            ));
        }
        let event = NewEvent::new("totp.enrolment_started")
            .actor(&account.id)
            .subject(&account.id);
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(Enrolment {
            secret_base32: totp.get_secret_base32(),
            uri: totp.get_url(),
        })
    }

    /// Activates the pending enrolment if `code` is valid for it; journaled as
    /// `totp.enrolled`. The code's step counts as used.
    pub async fn confirm(
        &self,
        account: &Account,
        code: &str,
        addr: IpAddr,
    ) -> Result<(), SecondFactorError> {
        let ctx = self.idp.ctx();
        let row = self
            .row(&account.id)
            .await?
            .filter(|r| r.confirmed_at.is_none())
            .ok_or(SecondFactorError::NotEnrolled)?;
        let step = self.check_code(account, &row, code, addr).await?;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await.map_err(IdpError::from)?;
        let confirmed = sqlx::query(
            "UPDATE idp_totp SET confirmed_at = $2, last_step = $3 \
             WHERE account_id = $1 AND confirmed_at IS NULL AND sealed_secret = $4",
        )
        .bind(&account.id)
        .bind(now.unix_timestamp())
        .bind(step)
        .bind(&row.sealed_secret)
        .execute(&mut *tx)
        .await
        .map_err(IdpError::from)?
        .rows_affected();
        if confirmed != 1 {
            tx.rollback().await.map_err(IdpError::from)?;
            return Err(SecondFactorError::NotEnrolled);
        }
        let event = NewEvent::new("totp.enrolled")
            .actor(&account.id)
            .subject(&account.id);
        journal::append(&mut tx, now, &event)
            .await
            .map_err(IdpError::from)?;
        tx.commit().await.map_err(IdpError::from)?;
        Ok(())
    }

    /// Checks a code from the citizen's active authenticator, as a second factor: throttled,
    /// single use, journaled (`second_factor.succeeded` or `second_factor.failed`).
    pub async fn verify(
        &self,
        account: &Account,
        code: &str,
        addr: IpAddr,
    ) -> Result<(), SecondFactorError> {
        let ctx = self.idp.ctx();
        let row = self
            .row(&account.id)
            .await?
            .filter(|r| r.confirmed_at.is_some())
            .ok_or(SecondFactorError::NotEnrolled)?;
        let step = self.check_code(account, &row, code, addr).await?;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await.map_err(IdpError::from)?;
        // The winner of a race between nodes is the one whose update matched.
        let accepted = sqlx::query(
            "UPDATE idp_totp SET last_step = $2 \
             WHERE account_id = $1 AND confirmed_at IS NOT NULL \
             AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(&account.id)
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(IdpError::from)?
        .rows_affected()
            == 1;
        if !accepted {
            tx.rollback().await.map_err(IdpError::from)?;
            return Err(self.count_failure(account, addr, "otp_reused").await);
        }
        throttle::clear_after_second_factor(&mut tx, &account.run)
            .await
            .map_err(IdpError::from)?;
        let event = NewEvent::new("second_factor.succeeded")
            .actor(&account.id)
            .subject(&account.id)
            .data(json!({ "method": "otp" }));
        journal::append(&mut tx, now, &event)
            .await
            .map_err(IdpError::from)?;
        tx.commit().await.map_err(IdpError::from)?;
        Ok(())
    }

    /// Removes the citizen's authenticator (active or pending) inside `tx`. Returns whether
    /// there was one. The caller journals and enforces the removal policy.
    pub(crate) async fn delete(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
    ) -> Result<bool, IdpError> {
        Ok(sqlx::query("DELETE FROM idp_totp WHERE account_id = $1")
            .bind(account_id)
            .execute(conn)
            .await?
            .rows_affected()
            == 1)
    }

    /// The throttle verdict, then the step `code` belongs to, or the counted failure.
    async fn check_code(
        &self,
        account: &Account,
        row: &TotpRow,
        code: &str,
        addr: IpAddr,
    ) -> Result<i64, SecondFactorError> {
        let ctx = self.idp.ctx();
        refuse_if_locked(self.idp, account, addr).await?;
        let totp = self.open(account, &row.sealed_secret)?;
        let step = normalise_code(code).and_then(|c| matching_step(&totp, &c, ctx.clock.unix()));
        match step {
            Some(step) => Ok(step),
            None => Err(self.count_failure(account, addr, "otp_wrong").await),
        }
    }

    /// Counts a failed code against the RUN and the address, journals it, and says what to
    /// answer.
    async fn count_failure(
        &self,
        account: &Account,
        addr: IpAddr,
        reason: &str,
    ) -> SecondFactorError {
        match count_failure(self.idp, account, addr, reason, "otp").await {
            Ok(error) => error,
            Err(error) => SecondFactorError::Internal(error),
        }
    }

    fn open(&self, account: &Account, sealed: &str) -> Result<TOTP, IdpError> {
        let ctx = self.idp.ctx();
        let seed = ctx.master.open(&owner(&account.id), sealed)?;
        generator(
            seed.to_vec(),
            issuer_name(&ctx.config.server.public_url),
            account.run.canonical(),
        )
    }

    async fn row(&self, account_id: &str) -> Result<Option<TotpRow>, IdpError> {
        Ok(
            sqlx::query_as(
                "SELECT sealed_secret, confirmed_at FROM idp_totp WHERE account_id = $1",
            )
            .bind(account_id)
            .fetch_optional(self.idp.ctx().db.pool())
            .await?,
        )
    }
}

/// Refuses a second-factor attempt while the RUN (for its password or its codes) or the
/// address is locked out.
pub(crate) async fn refuse_if_locked(
    idp: &Idp,
    account: &Account,
    addr: IpAddr,
) -> Result<(), SecondFactorError> {
    let keys = [
        ThrottleKey::run(&account.run),
        ThrottleKey::second_factor(&account.run),
        ThrottleKey::address(addr),
    ];
    match idp
        .throttle()
        .check(&[&keys[0], &keys[1], &keys[2]])
        .await?
    {
        Verdict::Locked { retry_after } => Err(SecondFactorError::LockedOut { retry_after }),
        _ => Ok(()),
    }
}

/// Records a failed second-factor attempt against the RUN's second-factor counter (which a
/// correct password does not clear, and whose lockout also blocks the password) and the
/// address, journals `second_factor.failed`, waits the progressive delay, and
/// returns the error to answer with.
pub(crate) async fn count_failure(
    idp: &Idp,
    account: &Account,
    addr: IpAddr,
    reason: &str,
    method: &str,
) -> Result<SecondFactorError, IdpError> {
    let ctx = idp.ctx();
    let config = &ctx.config.throttle;
    let code_key = ThrottleKey::second_factor(&account.run);
    let addr_key = ThrottleKey::address(addr);
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    let on_code = throttle::record_failure(&mut tx, config, &code_key, now).await?;
    let on_addr = throttle::record_failure(&mut tx, config, &addr_key, now).await?;
    let event = NewEvent::new("second_factor.failed")
        .actor(&account.id)
        .subject(&account.id)
        .data(json!({
            "method": method,
            "reason": reason,
            "addr": addr_key.subject(),
            "failures": on_code.failures,
        }));
    journal::append(&mut tx, now, &event).await?;
    tx.commit().await?;
    if let Some(until) = on_code.locked_until.max(on_addr.locked_until) {
        return Ok(SecondFactorError::LockedOut {
            retry_after: (until - now.unix_timestamp()).max(1),
        });
    }
    let delay = throttle::delay_for(config, on_code.failures);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(if reason.ends_with("reused") {
        SecondFactorError::Reused
    } else {
        SecondFactorError::Invalid
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::NewCitizen;
    use crate::accounts::testing::TestIdp;

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    async fn citizen(t: &TestIdp) -> Account {
        t.idp
            .accounts()
            .create(NewCitizen {
                run: clave_common::Run::parse("12.345.678-5").unwrap(),
                given_names: "María Carmen".into(),
                family_names: "Del Río González".into(),
                email: None,
                password: None,
            })
            .await
            .unwrap()
    }

    fn code_at(enrolment: &Enrolment, unix: i64) -> String {
        let seed = totp_rs::Secret::Encoded(enrolment.secret_base32.clone())
            .to_bytes()
            .unwrap();
        generator(seed, "x".into(), "y".into())
            .unwrap()
            .generate(u64::try_from(unix).unwrap())
    }

    #[tokio::test]
    async fn enrolment_needs_a_code_and_a_code_is_accepted_once_even_concurrently() {
        let t = TestIdp::new().await;
        let account = citizen(&t).await;
        let totps = t.idp.totps();
        let enrolment = totps.begin(&account).await.unwrap();
        // The seed is sealed, not stored in the clear.
        let stored: String = sqlx::query_scalar("SELECT sealed_secret FROM idp_totp")
            .fetch_one(t.idp.ctx().db.pool())
            .await
            .unwrap();
        assert!(!stored.contains(&enrolment.secret_base32));
        assert!(matches!(
            totps.verify(&account, "123456", ADDR).await,
            Err(SecondFactorError::NotEnrolled)
        ));
        let now = t.idp.ctx().clock.unix();
        totps
            .confirm(&account, &code_at(&enrolment, now), ADDR)
            .await
            .unwrap();
        assert!(totps.is_active(&account.id).await.unwrap());
        assert!(matches!(
            totps.begin(&account).await,
            Err(IdpError::Conflict(_))
        ));

        t.clock.advance(time::Duration::seconds(STEP_SECS));
        let code = code_at(&enrolment, now + STEP_SECS);
        let (a, b) = tokio::join!(
            totps.verify(&account, &code, ADDR),
            totps.verify(&account, &code, ADDR)
        );
        assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
        let refused = if a.is_ok() { b } else { a };
        assert!(matches!(refused, Err(SecondFactorError::Reused)));
    }

    #[tokio::test]
    async fn a_correct_password_does_not_reset_the_count_of_guessed_codes() {
        let t = TestIdp::new().await;
        let run = clave_common::Run::parse("12.345.678-5").unwrap();
        let account = t
            .idp
            .accounts()
            .create(NewCitizen {
                run,
                given_names: "María Carmen".into(),
                family_names: "Del Río González".into(),
                email: None,
                password: Some("cerro santa lucia al atardecer".into()),
            })
            .await
            .unwrap();
        let totps = t.idp.totps();
        let enrolment = totps.begin(&account).await.unwrap();
        let now = t.idp.ctx().clock.unix();
        totps
            .confirm(&account, &code_at(&enrolment, now), ADDR)
            .await
            .unwrap();
        let lockout = t.idp.ctx().config.throttle.lockout_failures;
        let mut locked = false;
        for guess in 0..lockout {
            // Whoever holds the password re-enters it between guesses...
            t.idp
                .accounts()
                .verify_password(&run, "cerro santa lucia al atardecer", ADDR)
                .await
                .unwrap();
            // ...but the wrong codes still add up to a lockout.
            let wrong = format!("{:06}", (guess * 7919) % 1_000_000);
            if wrong == code_at(&enrolment, t.idp.ctx().clock.unix()) {
                continue;
            }
            if let Err(SecondFactorError::LockedOut { .. }) =
                totps.verify(&account, &wrong, ADDR).await
            {
                locked = true;
            }
        }
        assert!(locked, "ten wrong codes lock the second factor");
        let right = code_at(&enrolment, t.idp.ctx().clock.unix());
        assert!(matches!(
            totps.verify(&account, &right, ADDR).await,
            Err(SecondFactorError::LockedOut { .. })
        ));
    }

    fn known() -> TOTP {
        // RFC 6238 appendix B's SHA-1 seed.
        generator(
            b"12345678901234567890".to_vec(),
            "example.cl".into(),
            "12.345.678-5".into(),
        )
        .unwrap()
    }

    #[test]
    fn codes_match_rfc_6238_and_a_step_either_side() {
        let totp = known();
        // RFC 6238 test vector at T = 59 s (8 digits 94287082; 6 digits keep the last six).
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(matching_step(&totp, "287082", 59), Some(1));
        assert_eq!(matching_step(&totp, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(&totp, "287082", 59 - 30), Some(1));
        assert_eq!(matching_step(&totp, "287082", 59 + 60), None);
        assert_eq!(matching_step(&totp, "000000", 59), None);
    }

    #[test]
    fn codes_are_six_digits_spaces_allowed() {
        assert_eq!(normalise_code(" 287 082 ").as_deref(), Some("287082"));
        assert_eq!(normalise_code("28708"), None);
        assert_eq!(normalise_code("28708a"), None);
        assert_eq!(normalise_code("２８７０８２"), None);
    }

    #[test]
    fn the_uri_is_what_apps_read_and_the_key_is_grouped() {
        let totp = known();
        let uri = totp.get_url();
        assert!(
            uri.starts_with("otpauth://totp/example.cl:12.345.678-5?"),
            "{uri}"
        );
        assert!(uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        let enrolment = Enrolment {
            secret_base32: totp.get_secret_base32(),
            uri,
        };
        assert_eq!(
            enrolment.grouped_secret(),
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ"
        );
        assert_eq!(issuer_name("https://clave.gob.cl:8443/"), "clave.gob.cl");
    }
}
