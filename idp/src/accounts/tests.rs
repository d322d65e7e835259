//! Accounts and password login against a real (SQLite) database.

use std::net::IpAddr;

use clave_common::journal::JournalFilter;

use super::testing::TestIdp;
use super::*;

const RUN: &str = "12.345.678-5";
const PASSWORD: &str = "tortuga violeta bajo la lluvia";

fn addr() -> IpAddr {
    "198.51.100.7".parse().unwrap()
}

fn maria(password: Option<&str>) -> NewCitizen {
    NewCitizen {
        run: Run::parse(RUN).unwrap(),
        given_names: "  María   Carmen ".into(),
        family_names: "Del Río González".into(),
        email: Some("maria@example.cl".into()),
        password: password.map(str::to_owned),
    }
}

async fn kinds(t: &TestIdp, kind: &str) -> Vec<clave_common::journal::JournalEntry> {
    t.idp
        .ctx()
        .journal
        .list(JournalFilter {
            kind: Some(kind.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn accounts_are_created_once_per_run_and_found_by_any_run_format() {
    let t = TestIdp::new().await;
    let account = t
        .idp
        .accounts()
        .create(maria(Some(PASSWORD)))
        .await
        .unwrap();
    assert_eq!(account.given_names, "María Carmen");
    assert!(account.has_password);
    let found = t
        .idp
        .accounts()
        .find_by_run(&Run::parse("123456785").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, account);
    assert_eq!(
        t.idp.accounts().get(&account.id).await.unwrap().unwrap(),
        account
    );
    let again = t.idp.accounts().create(maria(None)).await.unwrap_err();
    assert!(matches!(again, IdpError::Conflict(_)), "{again}");
    assert_eq!(kinds(&t, "account.created").await.len(), 1);
}

#[tokio::test]
async fn weak_passwords_and_bad_input_are_refused_with_the_reason() {
    let t = TestIdp::new().await;
    let err = t
        .idp
        .accounts()
        .create(maria(Some("carmen2024!!")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        IdpError::Policy(password::PolicyViolation::ContainsName)
    ));
    let mut bad = maria(None);
    bad.email = Some("not-an-address".into());
    assert!(matches!(
        t.idp.accounts().create(bad).await,
        Err(IdpError::Invalid(_))
    ));
    let mut bad = maria(None);
    bad.family_names = "   ".into();
    assert!(matches!(
        t.idp.accounts().create(bad).await,
        Err(IdpError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_right_password_logs_in_and_a_wrong_one_or_unknown_run_do_not() {
    let t = TestIdp::new().await;
    let account = t
        .idp
        .accounts()
        .create(maria(Some(PASSWORD)))
        .await
        .unwrap();
    let run = Run::parse(RUN).unwrap();
    let ok = t
        .idp
        .accounts()
        .verify_password(&run, PASSWORD, addr())
        .await
        .unwrap();
    assert_eq!(ok.id, account.id);
    let wrong = t
        .idp
        .accounts()
        .verify_password(&run, "nope nope nope", addr())
        .await;
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
    let unknown = Run::parse("11.111.111-1").unwrap();
    let unknown = t
        .idp
        .accounts()
        .verify_password(&unknown, PASSWORD, addr())
        .await;
    assert!(matches!(unknown, Err(LoginError::InvalidCredentials)));

    let failed = kinds(&t, "login.failed").await;
    assert_eq!(failed[0].subject.as_deref(), Some("12345678-5"));
    assert_eq!(failed[0].data["reason"], "wrong_password");
    assert_eq!(failed[1].subject.as_deref(), Some("11111111-1"));
    assert_eq!(failed[1].data["reason"], "unknown_account");
    assert_eq!(
        kinds(&t, "login.succeeded").await[0].actor.as_deref(),
        Some(account.id.as_str())
    );
}

#[tokio::test]
async fn an_account_without_a_password_cannot_log_in() {
    let t = TestIdp::new().await;
    t.idp.accounts().create(maria(None)).await.unwrap();
    let run = Run::parse(RUN).unwrap();
    let result = t.idp.accounts().verify_password(&run, "", addr()).await;
    assert!(matches!(result, Err(LoginError::InvalidCredentials)));
    assert_eq!(
        kinds(&t, "login.failed").await[0].data["reason"],
        "no_password"
    );
}

#[tokio::test]
async fn failures_delay_then_lock_out_an_unknown_run_too_and_the_lockout_lapses() {
    let t = TestIdp::with_config(|c| {
        c.throttle.free_failures = 2;
        c.throttle.lockout_failures = 4;
        c.throttle.lockout_secs = 300;
    })
    .await;
    let accounts = t.idp.accounts();
    let run = Run::parse("11.111.111-1").unwrap();
    for _ in 0..3 {
        let r = accounts
            .verify_password(&run, "guess guess guess", addr())
            .await;
        assert!(matches!(r, Err(LoginError::InvalidCredentials)));
    }
    let delays: Vec<i64> = kinds(&t, "login.failed")
        .await
        .iter()
        .map(|e| e.data["delay_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(delays, vec![0, 0, 1]);

    let fourth = accounts
        .verify_password(&run, "guess guess guess", addr())
        .await;
    assert!(matches!(
        fourth,
        Err(LoginError::LockedOut { retry_after: 300 })
    ));
    let locked = kinds(&t, "account.locked_out").await;
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].subject.as_deref(), Some("11111111-1"));

    // Typed another way, the same RUN is still locked.
    t.clock.advance(time::Duration::seconds(299));
    let other_format = Run::parse("111111111").unwrap();
    let r = accounts
        .verify_password(&other_format, "guess", addr())
        .await;
    assert!(matches!(r, Err(LoginError::LockedOut { retry_after: 1 })));

    t.clock.advance(time::Duration::seconds(1));
    let r = accounts
        .verify_password(&run, "guess guess guess", addr())
        .await;
    assert!(matches!(r, Err(LoginError::InvalidCredentials)));
    let unlocked = kinds(&t, "account.unlocked").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].data["reason"], "lapsed");
    // Counting starts again after the lockout.
    assert_eq!(
        kinds(&t, "login.failed").await.last().unwrap().data["failures"],
        1
    );
}

#[tokio::test]
async fn an_operator_can_lift_a_lockout_before_it_lapses() {
    let t = TestIdp::with_config(|c| {
        c.throttle.free_failures = 1;
        c.throttle.lockout_failures = 2;
    })
    .await;
    t.idp
        .accounts()
        .create(maria(Some(PASSWORD)))
        .await
        .unwrap();
    let run = Run::parse(RUN).unwrap();
    for _ in 0..2 {
        let _ = t
            .idp
            .accounts()
            .verify_password(&run, "wrong wrong wrong", addr())
            .await;
    }
    let locked = t
        .idp
        .accounts()
        .verify_password(&run, PASSWORD, addr())
        .await;
    assert!(
        matches!(locked, Err(LoginError::LockedOut { .. })),
        "{locked:?}"
    );

    let key = ThrottleKey::run(&run);
    assert!(t.idp.throttle().clear(&key, "operator-1").await.unwrap());
    assert!(!t.idp.throttle().clear(&key, "operator-1").await.unwrap());
    let unlocked = kinds(&t, "account.unlocked").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].actor.as_deref(), Some("operator-1"));
    assert_eq!(unlocked[0].data["reason"], "cleared");
    t.idp
        .accounts()
        .verify_password(&run, PASSWORD, addr())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_address_trying_many_runs_is_locked_out() {
    let t = TestIdp::with_config(|c| {
        c.throttle.free_failures = 1;
        c.throttle.lockout_failures = 5;
        c.throttle.address_lockout_failures = 3;
    })
    .await;
    let accounts = t.idp.accounts();
    for number in [1_000_001_u32, 1_000_002, 1_000_003] {
        let run = Run::from_number(number).unwrap();
        let _ = accounts
            .verify_password(&run, "guess guess guess", addr())
            .await;
    }
    let fresh = Run::from_number(2_000_000).unwrap();
    let r = accounts
        .verify_password(&fresh, "guess guess guess", addr())
        .await;
    assert!(matches!(r, Err(LoginError::LockedOut { .. })), "{r:?}");
    assert_eq!(kinds(&t, "address.locked_out").await.len(), 1);
    // Another address is unaffected.
    let elsewhere: IpAddr = "203.0.113.1".parse().unwrap();
    let r = accounts
        .verify_password(&fresh, "guess guess guess", elsewhere)
        .await;
    assert!(matches!(r, Err(LoginError::InvalidCredentials)), "{r:?}");
}

#[tokio::test]
async fn success_forgets_failures_and_upgrades_an_outdated_hash() {
    let t = TestIdp::new().await;
    let account = t
        .idp
        .accounts()
        .create(maria(Some(PASSWORD)))
        .await
        .unwrap();
    let run = Run::parse(RUN).unwrap();
    let _ = t
        .idp
        .accounts()
        .verify_password(&run, "wrong wrong wrong", addr())
        .await;

    // The deployment raises the cost; the stored hash is now outdated.
    let stronger = with_stronger_hashing(&t);
    stronger
        .accounts()
        .verify_password(&run, PASSWORD, addr())
        .await
        .unwrap();
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM idp_accounts WHERE id = $1")
        .bind(&account.id)
        .fetch_one(t.idp.ctx().db.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=128,t=1,p=1$"), "{hash}");
    let succeeded = kinds(&t, "login.succeeded").await;
    assert_eq!(succeeded[0].data["rehashed"], true);
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM idp_throttle WHERE key = $1")
        .bind("run:12345678-5")
        .fetch_one(t.idp.ctx().db.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
    // With the new hash in place there is nothing more to upgrade.
    stronger
        .accounts()
        .verify_password(&run, PASSWORD, addr())
        .await
        .unwrap();
    assert_eq!(
        kinds(&t, "login.succeeded").await[1].data["rehashed"],
        false
    );
}

/// An idp on the same database and clock as `t`, configured with a higher memory cost.
fn with_stronger_hashing(t: &TestIdp) -> Idp {
    let ctx = t.idp.ctx();
    let mut config = (*ctx.config).clone();
    config.passwords.argon2_memory_kib = 128;
    Idp::new(crate::Ctx {
        config: std::sync::Arc::new(config),
        db: ctx.db.clone(),
        clock: ctx.clock.clone(),
        master: ctx.master.clone(),
        journal: ctx.journal.clone(),
        hash_slots: ctx.hash_slots.clone(),
        claims: ctx.claims.clone(),
    })
}
