//! Second factors: TOTP enrolment and codes checked against an independent generator
//! (`oathtool`), the second-factor step and step-up with `acr`/`amr` in the ID token, a
//! client's minimum level, "always ask", recovery codes, and the freshness rule for changes.

use std::net::{IpAddr, Ipv4Addr};

use clave_idp::accounts::Account;
use clave_idp::factors::SecondFactorError;
use openidconnect::core::CoreIdTokenClaims;
use reqwest::StatusCode;

use crate::support::TestApp;
use crate::support::accounts::{Fetched, get, log_in, post};
use crate::support::rp::{
    Browser, Landing, OnConsent, PASSWORD, RUN, Rp, citizen, form_with, register, web_client,
};

const LOA_1: &str = "urn:clave:loa:1";
const LOA_2: &str = "urn:clave:loa:2";
const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The code `oathtool` computes for `secret` (base32) at `unix`, or `None` when oathtool is
/// not installed (outside CI, where it must be).
fn oathtool(secret: &str, unix: i64) -> Option<String> {
    let output = std::process::Command::new("oathtool")
        .args(["--totp", "-b", secret, "-N", &format!("@{unix}")])
        .output();
    match output {
        Ok(output) if output.status.success() => {
            Some(String::from_utf8(output.stdout).unwrap().trim().to_owned())
        }
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("oathtool is required in CI (Debian package `oathtool`)")
        }
        _ => {
            eprintln!("skipping: oathtool (Debian package `oathtool`) is not installed");
            None
        }
    }
}

fn now(app: &TestApp) -> i64 {
    app.app.idp.ctx().clock.unix()
}

/// Enrols a TOTP authenticator for `account` through the domain, confirming it with
/// oathtool's code; returns the key. The clock then moves one step on, so the next code is
/// new.
pub(crate) async fn enrolled(app: &TestApp, account: &Account) -> Option<String> {
    let enrolment = app.app.idp.totps().begin(account).await.unwrap();
    let code = oathtool(&enrolment.secret_base32, now(app))?;
    app.app
        .idp
        .totps()
        .confirm(account, &code, ADDR)
        .await
        .unwrap();
    app.advance(time::Duration::seconds(30));
    Some(enrolment.secret_base32)
}

/// The text between `start` and the next `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let to = from + html[from..].find(end)?;
    Some(&html[from..to])
}

/// Submits the second-factor form on `page` (a `Landing::Page` at `/login/second-factor`)
/// with `code`, and follows the browser from there.
async fn answer_second_factor(
    app: &TestApp,
    browser: &mut Browser,
    landing: &Landing,
    code: &str,
) -> Landing {
    let Landing::Page { path, body, .. } = landing else {
        panic!("expected the second-factor page, got {landing:?}");
    };
    assert_eq!(path, "/login/second-factor", "{body}");
    let form = form_with(body, "code", &app.at(path));
    let response = browser.submit(&form, &[("code", code)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    browser.go(&location, None, OnConsent::Approve).await
}

fn acr_amr(claims: &CoreIdTokenClaims) -> (String, Vec<String>) {
    let acr = claims.auth_context_ref().unwrap().to_string();
    let amr = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    (acr, amr)
}

#[tokio::test]
async fn totp_enrolment_shows_qr_key_and_link_and_accepts_only_fresh_valid_codes() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let client = app.http();
    let login = log_in(&client, &app, "", RUN, PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);

    let page = get(&client, &app, "/me/security").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    let begun = post(
        &client,
        &app,
        "/me/security",
        &[("csrf", &csrf), ("action", "totp_begin")],
    )
    .await;
    assert_eq!(begun.status, StatusCode::SEE_OTHER, "{}", begun.body);
    let page = get(&client, &app, "/me/security").await;
    assert!(page.body.contains("<svg"), "{}", page.body);
    let key_text = between(&page.body, "<code class=\"totp-key\">", "</code>").unwrap();
    let secret: String = key_text.split_whitespace().collect();
    assert_eq!(secret.len(), 32, "{key_text}");
    let href = between(&page.body, "<a href=\"otpauth://totp/", "\"").unwrap();
    assert!(href.contains(&format!("secret={secret}")), "{href}");

    // A wrong code does not activate it.
    let wrong = post(
        &client,
        &app,
        "/me/security",
        &[
            ("csrf", &csrf),
            ("action", "totp_confirm"),
            ("code", "000000"),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(!app.app.idp.totps().is_active(&account.id).await.unwrap());

    let Some(code) = oathtool(&secret, now(&app)) else {
        return;
    };
    let confirmed = post(
        &client,
        &app,
        "/me/security",
        &[("csrf", &csrf), ("action", "totp_confirm"), ("code", &code)],
    )
    .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    assert!(app.app.idp.totps().is_active(&account.id).await.unwrap());
    assert_eq!(app.journal_of_kind("totp.enrolled").await.len(), 1);

    let totps = app.app.idp.totps();
    // The code that confirmed the enrolment is spent.
    assert!(matches!(
        totps.verify(&account, &code, ADDR).await,
        Err(SecondFactorError::Reused)
    ));
    // The next step's code works once; a step either side is accepted.
    app.advance(time::Duration::seconds(30));
    let next = oathtool(&secret, now(&app)).unwrap();
    totps.verify(&account, &next, ADDR).await.unwrap();
    assert!(matches!(
        totps.verify(&account, &next, ADDR).await,
        Err(SecondFactorError::Reused)
    ));
    let ahead = oathtool(&secret, now(&app) + 30).unwrap();
    totps.verify(&account, &ahead, ADDR).await.unwrap();
    // A code two steps old has expired; a made-up one is wrong.
    app.advance(time::Duration::seconds(30));
    let old = oathtool(&secret, now(&app)).unwrap();
    app.advance(time::Duration::seconds(90));
    assert!(matches!(
        totps.verify(&account, &old, ADDR).await,
        Err(SecondFactorError::Invalid)
    ));
    let current = oathtool(&secret, now(&app)).unwrap();
    let made_up = if current == "123456" {
        "654321"
    } else {
        "123456"
    };
    assert!(matches!(
        totps.verify(&account, made_up, ADDR).await,
        Err(SecondFactorError::Invalid)
    ));
    totps.verify(&account, &current, ADDR).await.unwrap();
    // Another node on the same database knows the code was used.
    let other = app.second_node().await;
    other.advance(time::Duration::seconds(now(&app) - now(&other)));
    assert!(matches!(
        other.app.idp.totps().verify(&account, &current, ADDR).await,
        Err(SecondFactorError::Reused)
    ));
    let failures = app.journal_of_kind("second_factor.failed").await;
    assert!(failures.len() >= 4, "{failures:?}");
    assert_eq!(failures[0].subject.as_deref(), Some(account.id.as_str()));
}

#[tokio::test]
async fn a_level_one_session_is_stepped_up_with_only_the_second_factor() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let Some(secret) = enrolled(&app, &account).await else {
        return;
    };
    let registered = register(&app, web_client("Registro Civil")).await;
    let rp = Rp::discover(&app, &registered).await;
    let mut browser = Browser::new(&app);

    // Without a demand, the password is enough.
    let (tokens, nonce) = rp.sign_in(&mut browser, &["profile"]).await;
    let (acr, amr) = acr_amr(&rp.id_claims(&tokens, Some(&nonce)));
    assert_eq!((acr.as_str(), amr), (LOA_1, vec!["pwd".to_owned()]));

    // acr_values asks for level 2: only the second factor is asked, not the password.
    browser.visited.clear();
    let start = rp.start(&["profile"], &[("acr_values", LOA_2)]);
    let landing = browser
        .go(start.url.as_str(), None, OnConsent::Approve)
        .await;
    assert!(
        !browser.visited.iter().any(|p| p == "/login"),
        "{:?}",
        browser.visited
    );
    let code = oathtool(&secret, now(&app)).unwrap();
    let landing = answer_second_factor(&app, &mut browser, &landing, &code).await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let (acr, amr) = acr_amr(&rp.id_claims(&tokens, Some(&start.nonce)));
    assert_eq!(acr, LOA_2);
    for method in ["pwd", "otp", "mfa"] {
        assert!(amr.iter().any(|m| m == method), "{amr:?}");
    }
    let succeeded = app.journal_of_kind("second_factor.succeeded").await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].data["method"], "otp");

    // The session is at level 2 now: the next such request needs nothing more.
    browser.visited.clear();
    let start = rp.start(&["profile"], &[("acr_values", LOA_2)]);
    browser
        .go(start.url.as_str(), None, OnConsent::Approve)
        .await
        .code();
    assert!(browser.visited.is_empty(), "{:?}", browser.visited);
}

#[tokio::test]
async fn a_client_registered_with_level_two_gets_level_two_or_access_denied() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let mut new = web_client("Servicio de Impuestos");
    new.min_acr = Some(LOA_2.into());
    let registered = register(&app, new).await;
    let rp = Rp::discover(&app, &registered).await;

    // Without a second factor the citizen is told how to get one, and may go back.
    let mut browser = Browser::new(&app);
    let start = rp.start(&["profile"], &[]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    let Landing::Page { status, path, body } = &landing else {
        panic!("expected the page for a citizen without a second factor: {landing:?}");
    };
    assert_eq!((*status, path.as_str()), (403, "/login/second-factor"));
    assert!(body.contains("href=\"/me/security\""), "{body}");
    let form = form_with(body, "action", &app.at(path));
    let response = browser.submit(&form, &[("action", "give_up")]).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&location).unwrap();
    let error = url.query_pairs().find(|(k, _)| k == "error").unwrap().1;
    assert_eq!(error, "access_denied");

    // With one, the login asks for it after the password and the token says level 2.
    let Some(secret) = enrolled(&app, &account).await else {
        return;
    };
    let mut browser = Browser::new(&app);
    let start = rp.start(&["profile"], &[]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    assert_eq!(browser.visited.first().map(String::as_str), Some("/login"));
    let code = oathtool(&secret, now(&app)).unwrap();
    let landing = answer_second_factor(&app, &mut browser, &landing, &code).await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let (acr, amr) = acr_amr(&rp.id_claims(&tokens, Some(&start.nonce)));
    assert_eq!(acr, LOA_2);
    assert!(amr.iter().any(|m| m == "otp"), "{amr:?}");
}

/// Logs `client` in at the portal and confirms the second factor with `secret`'s code.
async fn portal_login_with_totp(app: &TestApp, client: &reqwest::Client, secret: &str) {
    portal_login_with_totp_as(app, client, RUN, PASSWORD, secret).await;
}

/// Logs `client` in at the portal as `run` and confirms the second factor with `secret`'s
/// code; the session is then at level 2.
pub(crate) async fn portal_login_with_totp_as(
    app: &TestApp,
    client: &reqwest::Client,
    run: &str,
    password: &str,
    secret: &str,
) {
    let login = log_in(client, app, "", run, password).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let page = get(client, app, "/login/second-factor?then=security").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    let code = oathtool(secret, now(app)).unwrap();
    let done = post(
        client,
        app,
        "/login/second-factor",
        &[
            ("csrf", &csrf),
            ("then", "security"),
            ("method", "totp"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/me/security"),
        "{}",
        done.body
    );
}

async fn security_post(client: &reqwest::Client, app: &TestApp, form: &[(&str, &str)]) -> Fetched {
    // The browser's CSRF token, from a page that always has a form (the security page shows
    // none while changes are closed).
    let csrf = get(client, app, "/login").await.field("csrf").unwrap();
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    post(client, app, "/me/security", &fields).await
}

#[tokio::test]
async fn always_ask_makes_every_login_ask_for_the_second_factor() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let Some(secret) = enrolled(&app, &account).await else {
        return;
    };
    let client = app.http();
    portal_login_with_totp(&app, &client, &secret).await;
    let set = security_post(&client, &app, &[("action", "always_ask"), ("value", "on")]).await;
    assert_eq!(set.status, StatusCode::SEE_OTHER, "{}", set.body);
    assert!(
        app.app
            .idp
            .factors()
            .summary(&account.id)
            .await
            .unwrap()
            .always_ask
    );
    assert_eq!(
        app.journal_of_kind("factors.always_ask_changed")
            .await
            .len(),
        1
    );
    // The last second factor cannot go while every login asks for one.
    let refused = security_post(&client, &app, &[("action", "totp_remove")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(app.app.idp.totps().is_active(&account.id).await.unwrap());

    // A service that asks for nothing still gets the second factor asked.
    app.advance(time::Duration::seconds(30));
    let registered = register(&app, web_client("Biblioteca")).await;
    let rp = Rp::discover(&app, &registered).await;
    let mut browser = Browser::new(&app);
    let start = rp.start(&["profile"], &[]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    let code = oathtool(&secret, now(&app)).unwrap();
    let landing = answer_second_factor(&app, &mut browser, &landing, &code).await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    assert_eq!(acr_amr(&rp.id_claims(&tokens, Some(&start.nonce))).0, LOA_2);

    // A portal login goes to the second factor too.
    let other = app.http();
    let login = log_in(&other, &app, "", RUN, PASSWORD).await;
    assert_eq!(login.location.as_deref(), Some("/login/second-factor"));
    // Until the code is given, the password alone opens no signed-in page.
    for page in ["/me/security", "/me/passkeys"] {
        let response = other.get(app.at(page)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(response.headers()["location"], "/login", "{page}");
    }
    let home = other
        .get(app.at("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !home.contains("María"),
        "the home page does not greet a half-signed-in citizen"
    );

    // With "always ask" off, the authenticator can be removed; both changes are journaled.
    let off = security_post(&client, &app, &[("action", "always_ask"), ("value", "off")]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    let removed = security_post(&client, &app, &[("action", "totp_remove")]).await;
    assert_eq!(
        removed.location.as_deref(),
        Some("/me/security?done=totp_removed")
    );
    assert!(!app.app.idp.totps().is_active(&account.id).await.unwrap());
    let journaled = app.journal_of_kind("totp.removed").await;
    assert_eq!(journaled.len(), 1);
    assert_eq!(journaled[0].subject.as_deref(), Some(account.id.as_str()));
    assert_eq!(
        app.journal_of_kind("factors.always_ask_changed")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn wrong_codes_count_towards_the_lockout_of_the_run() {
    let app = TestApp::with_config(|c| c.throttle.lockout_failures = 3).await;
    let account = citizen(&app).await;
    let Some(secret) = enrolled(&app, &account).await else {
        return;
    };
    let totps = app.app.idp.totps();
    let code = oathtool(&secret, now(&app)).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..2 {
        assert!(matches!(
            totps.verify(&account, wrong, ADDR).await,
            Err(SecondFactorError::Invalid)
        ));
    }
    assert!(matches!(
        totps.verify(&account, wrong, ADDR).await,
        Err(SecondFactorError::LockedOut { .. })
    ));
    // Locked out, even the right code is refused, and so is the password.
    assert!(matches!(
        totps.verify(&account, &code, ADDR).await,
        Err(SecondFactorError::LockedOut { .. })
    ));
    let locked = app
        .app
        .idp
        .accounts()
        .verify_password(&account.run, PASSWORD, ADDR)
        .await;
    assert!(
        matches!(
            locked,
            Err(clave_idp::accounts::LoginError::LockedOut { .. })
        ),
        "{locked:?}"
    );
    let locked_out = app.journal_of_kind("account.locked_out").await;
    assert_eq!(locked_out.len(), 1, "{locked_out:?}");
    assert_eq!(
        locked_out[0].subject.as_deref(),
        Some(account.run.compact().as_str())
    );
}

#[tokio::test]
async fn recovery_codes_are_shown_once_single_use_and_replaced_by_a_new_set() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let client = app.http();
    log_in(&client, &app, "", RUN, PASSWORD).await;
    let made = security_post(&client, &app, &[("action", "recovery_generate")]).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let first_set: Vec<String> = made
        .body
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest[..rest.find("</code>").unwrap()].to_owned())
        .collect();
    assert_eq!(first_set.len(), 10, "{}", made.body);
    // Shown once: the page does not show them again.
    let again = get(&client, &app, "/me/security").await;
    assert!(!again.body.contains(&first_set[0]));

    // The session now lacks the second factor the account has: step up with a code.
    let regenerate = security_post(&client, &app, &[("action", "recovery_generate")]).await;
    assert_eq!(regenerate.status, StatusCode::FORBIDDEN);
    let page = get(&client, &app, "/login/second-factor?then=security").await;
    assert!(page.body.contains("name=\"code\""), "{}", page.body);
    let csrf = page.field("csrf").unwrap();
    let step = |code: String| {
        let csrf = csrf.clone();
        let client = client.clone();
        let app = &app;
        async move {
            post(
                &client,
                app,
                "/login/second-factor",
                &[
                    ("csrf", csrf.as_str()),
                    ("then", "security"),
                    ("method", "recovery"),
                    ("code", &code),
                ],
            )
            .await
        }
    };
    let used = step(first_set[0].to_lowercase()).await;
    assert_eq!(
        used.location.as_deref(),
        Some("/me/security"),
        "{}",
        used.body
    );
    let journaled = app.journal_of_kind("recovery_code.used").await;
    assert_eq!(journaled.len(), 1);
    assert_eq!(journaled[0].subject.as_deref(), Some(account.id.as_str()));
    assert_eq!(journaled[0].data["left"], 9);
    let summary = app.app.idp.factors().summary(&account.id).await.unwrap();
    assert_eq!(summary.recovery_codes_left, 9);

    // Spent: the same code does not work twice.
    let twice = app
        .app
        .idp
        .recovery_codes()
        .redeem(&account, &first_set[0], ADDR)
        .await;
    assert!(
        matches!(twice, Err(SecondFactorError::Invalid)),
        "{twice:?}"
    );

    // A new set replaces the old one.
    let remade = security_post(&client, &app, &[("action", "recovery_generate")]).await;
    assert_eq!(remade.status, StatusCode::OK, "{}", remade.body);
    let old = app
        .app
        .idp
        .recovery_codes()
        .redeem(&account, &first_set[1], ADDR)
        .await;
    assert!(matches!(old, Err(SecondFactorError::Invalid)), "{old:?}");
    assert_eq!(
        app.journal_of_kind("recovery_codes.generated").await.len(),
        2
    );
}

#[tokio::test]
async fn factor_changes_need_an_authentication_within_five_minutes() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let client = app.http();
    log_in(&client, &app, "", RUN, PASSWORD).await;
    app.advance(time::Duration::seconds(301));
    let page = get(&client, &app, "/me/security").await;
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
    let refused = security_post(&client, &app, &[("action", "totp_begin")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        app.app
            .idp
            .totps()
            .pending(&account)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.journal_of_kind("totp.enrolment_started")
            .await
            .is_empty()
    );
    // An enrolment begun earlier does not show its key to a stale session either.
    let enrolment = app.app.idp.totps().begin(&account).await.unwrap();
    let page = get(&client, &app, "/me/security").await;
    assert!(
        !page.body.contains(&enrolment.secret_base32[..8]),
        "{}",
        page.body
    );
    assert!(!page.body.contains("otpauth://"));

    // A wrong password opens nothing; the right one opens changes again.
    let wrong = security_post(
        &client,
        &app,
        &[("action", "reauthenticate"), ("password", "no es la clave")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let confirmed = security_post(
        &client,
        &app,
        &[("action", "reauthenticate"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER);
    let begun = security_post(&client, &app, &[("action", "totp_begin")]).await;
    assert_eq!(begun.status, StatusCode::SEE_OTHER);
    assert!(
        app.app
            .idp
            .totps()
            .pending(&account)
            .await
            .unwrap()
            .is_some()
    );
    let started = app.journal_of_kind("totp.enrolment_started").await;
    assert_eq!(started.len(), 2);
    assert_eq!(started[0].subject.as_deref(), Some(account.id.as_str()));
}

#[tokio::test]
async fn the_password_again_opens_changes_only_after_the_second_factor_again() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let Some(secret) = enrolled(&app, &account).await else {
        return;
    };
    let registered = register(&app, web_client("Registro Civil")).await;
    let rp = Rp::discover(&app, &registered).await;
    let mut browser = Browser::new(&app);
    let client = browser.http.clone();
    portal_login_with_totp(&app, &client, &secret).await;
    app.advance(time::Duration::seconds(301));
    let confirmed = security_post(
        &client,
        &app,
        &[("action", "reauthenticate"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::SEE_OTHER);
    // The password alone is level 1 again: changes wait for the second factor.
    let refused = security_post(&client, &app, &[("action", "recovery_generate")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        app.journal_of_kind("recovery_codes.generated")
            .await
            .is_empty()
    );
    let page = get(&client, &app, "/login/second-factor?then=security").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);

    // A service asking for a recent login is told that only the password was typed.
    let start = rp.start(&["profile"], &[("max_age", "60")]);
    let landing = browser
        .go(start.url.as_str(), None, OnConsent::Approve)
        .await;
    assert!(
        !browser.visited.iter().any(|p| p == "/login"),
        "{:?}",
        browser.visited
    );
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let (acr, amr) = acr_amr(&rp.id_claims(&tokens, Some(&start.nonce)));
    assert_eq!((acr.as_str(), amr), (LOA_1, vec!["pwd".to_owned()]));
}

#[tokio::test]
async fn a_stale_session_types_the_password_before_the_code_opens_changes() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let Some(secret) = enrolled(&app, &account).await else {
        return;
    };
    let client = app.http();
    log_in(&client, &app, "", RUN, PASSWORD).await;
    app.advance(time::Duration::seconds(301));
    let page = get(&client, &app, "/login/second-factor?then=security").await;
    assert_eq!(
        page.location.as_deref(),
        Some("/me/security"),
        "{}",
        page.body
    );
    let csrf = get(&client, &app, "/login").await.field("csrf").unwrap();
    let code = oathtool(&secret, now(&app)).unwrap();
    let answered = post(
        &client,
        &app,
        "/login/second-factor",
        &[
            ("csrf", &csrf),
            ("then", "security"),
            ("method", "totp"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(answered.location.as_deref(), Some("/me/security"));
    // The code was not taken: changes stay closed until the password is typed.
    let refused = security_post(&client, &app, &[("action", "recovery_generate")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        app.journal_of_kind("recovery_codes.generated")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_passkey_page_leads_through_the_step_up_and_back() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let Some(secret) = enrolled(&app, &account).await else {
        return;
    };
    let client = app.http();
    log_in(&client, &app, "", RUN, PASSWORD).await;
    let page = get(&client, &app, "/me/passkeys").await;
    let link = "/login/second-factor?then=passkeys";
    assert!(
        page.body.contains(&format!("href=\"{link}\"")),
        "{}",
        page.body
    );
    let step = get(&client, &app, link).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.body);
    let csrf = step.field("csrf").unwrap();
    let code = oathtool(&secret, now(&app)).unwrap();
    let done = post(
        &client,
        &app,
        "/login/second-factor",
        &[
            ("csrf", &csrf),
            ("then", "passkeys"),
            ("method", "totp"),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/me/passkeys"),
        "{}",
        done.body
    );
    let page = get(&client, &app, "/me/passkeys").await;
    assert!(!page.body.contains(link), "{}", page.body);

    // Stale, the same link asks for the password first.
    app.advance(time::Duration::seconds(301));
    let stale = get(&client, &app, link).await;
    assert_eq!(stale.location.as_deref(), Some("/me/security"));
}
