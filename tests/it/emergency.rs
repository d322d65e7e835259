//! The emergency lock: the citizen locks their account in the portal; every session ends,
//! every token stops working, no one signs in; the citizen lifts it with password and a
//! recovery code, a front-desk agent after checking the identity card, an operator from the
//! command line. An operator's lock is lifted only by an operator.

use clave_idp::emergency::EMERGENCY;
use openidconnect::OAuth2TokenResponse as _;
use reqwest::StatusCode;

use crate::callers::{AGENT_RUN, agent, agent_signs_in, cookie_client, submit};
use crate::support::TestApp;
use crate::support::accounts::{get, log_in, post};
use crate::support::rp::{
    Browser, OnConsent, PASSWORD, RUN, Rp, citizen, register, userinfo, web_client,
};

async fn unlock(app: &TestApp, password: &str, code: &str) -> crate::support::accounts::Fetched {
    let client = cookie_client();
    submit(
        &client,
        app,
        "/unlock",
        "/unlock",
        &[("run", RUN), ("password", password), ("code", code)],
    )
    .await
}

#[tokio::test]
async fn the_citizen_locks_everything_at_once_and_unlocks_with_a_recovery_code() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    let codes = app
        .app
        .idp
        .recovery_codes()
        .generate(&maria.id)
        .await
        .unwrap();

    // A service holds tokens from a sign-in in one browser; the portal is open in another.
    let client = register(&app, web_client("Servicio de Salud")).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let start = rp.start(&["openid"], &[]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let access = tokens.access_token().secret().clone();
    assert_eq!(userinfo(&app.url, &access).await.0, 200);
    let portal = cookie_client();
    log_in(&portal, &app, "", RUN, PASSWORD).await;

    // The lock must be confirmed.
    let unconfirmed = submit(&portal, &app, "/me/lock", "/me/lock", &[]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert!(unconfirmed.body.contains("Marca la casilla"));
    let locked = submit(&portal, &app, "/me/lock", "/me/lock", &[("confirm", "yes")]).await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.body);
    assert!(locked.body.contains("Tu cuenta está bloqueada"));
    assert!(
        locked.set_cookies.iter().any(|c| c.contains("Max-Age=0")),
        "{:?}",
        locked.set_cookies
    );

    // Both sessions ended, the service's token is dead, and no one signs in.
    assert_eq!(
        get(&portal, &app, "/me/data").await.location.as_deref(),
        Some("/login")
    );
    assert_eq!(userinfo(&app.url, &access).await.0, 401);
    let ended = app.journal_of_kind("session.ended").await;
    assert_eq!(
        ended
            .iter()
            .filter(|e| e.data["reason"] == "account_locked")
            .count(),
        2
    );
    let events = app.journal_of_kind("account.locked").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data["reason"], EMERGENCY);
    assert_eq!(events[0].actor.as_deref(), Some(maria.id.as_str()));
    let refused = log_in(&cookie_client(), &app, "", RUN, PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("código de recuperación"),
        "{}",
        refused.body
    );

    // Unlocking needs the password and an unused recovery code.
    let wrong_password = unlock(&app, "no es la clave", &codes[0]).await;
    assert_eq!(wrong_password.status, StatusCode::BAD_REQUEST);
    assert!(wrong_password.body.contains("contraseña no son correctos"));
    let wrong_code = unlock(&app, PASSWORD, "AAAA-BBBB-CCCC").await;
    assert_eq!(wrong_code.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong_code
            .body
            .contains("código de recuperación no es válido")
    );
    let unlocked = unlock(&app, PASSWORD, &codes[0]).await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.body);
    assert!(
        unlocked.body.contains("id=\"unlocked\""),
        "{}",
        unlocked.body
    );
    let summary = app.app.idp.factors().summary(&maria.id).await.unwrap();
    assert_eq!(
        summary.recovery_codes_left,
        i64::try_from(codes.len()).unwrap() - 1
    );
    let back_browser = cookie_client();
    let back = log_in(&back_browser, &app, "", RUN, PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    // The sign-in history shows it all, newest first.
    let activity = get(&back_browser, &app, "/me/activity").await;
    let history = &activity.body[activity.body.find("logins-heading").unwrap()..];
    let mut rest = history;
    for expected in [
        "Ingreso",
        "Cuenta desbloqueada",
        "Contraseña incorrecta",
        "Cuenta bloqueada",
        "Ingreso",
    ] {
        let at = rest
            .find(expected)
            .unwrap_or_else(|| panic!("{expected} missing or out of order: {history}"));
        rest = &rest[at + expected.len()..];
    }
    // An account that is not locked has nothing to unlock.
    let again = unlock(&app, PASSWORD, &codes[1]).await;
    assert!(again.body.contains("no está bloqueada"));
    // The old token stays dead.
    assert_eq!(userinfo(&app.url, &access).await.0, 401);
}

#[tokio::test]
async fn a_front_desk_lifts_an_emergency_lock_and_only_an_operator_lifts_an_operators() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    let codes = app
        .app
        .idp
        .recovery_codes()
        .generate(&maria.id)
        .await
        .unwrap();
    let Some((pedro, secret)) = agent(&app, AGENT_RUN, "Soto").await else {
        return;
    };
    let desk = cookie_client();
    agent_signs_in(&app, &desk, AGENT_RUN, &secret).await;
    let desk_unlock = |in_person: bool| {
        let desk = desk.clone();
        let app = &app;
        async move {
            let mut form = vec![("run", RUN)];
            if in_person {
                form.push(("in_person", "yes"));
            }
            submit(&desk, app, "/agent", "/agent/unlock", &form).await
        }
    };

    // Nothing to unlock yet.
    assert_eq!(desk_unlock(true).await.status, StatusCode::CONFLICT);

    app.app
        .idp
        .accounts()
        .lock(&maria.id, EMERGENCY, &maria.id)
        .await
        .unwrap();
    let unconfirmed = desk_unlock(false).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert!(unconfirmed.body.contains("cédula de identidad en persona"));
    let lifted = desk_unlock(true).await;
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.body);
    assert!(lifted.body.contains("La cuenta quedó desbloqueada"));
    let unlocked = app.journal_of_kind("account.unlocked").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].actor.as_deref(), Some(pedro.id.as_str()));
    assert!(
        unlocked[0].data["how"]
            .as_str()
            .unwrap()
            .contains("Call center Santiago")
    );
    assert_eq!(
        log_in(&cookie_client(), &app, "", RUN, PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // An operator's lock: neither the citizen's code nor a front desk lifts it.
    let locked = app.cli(&["--json", "citizen", "lock", "--run", RUN]);
    assert!(locked.success, "{}", locked.stderr);
    assert_eq!(locked.json()["locked"], true);
    let by_code = unlock(&app, PASSWORD, &codes[0]).await;
    assert_eq!(by_code.status, StatusCode::FORBIDDEN);
    assert!(by_code.body.contains("mesa de ayuda"));
    assert_eq!(desk_unlock(true).await.status, StatusCode::FORBIDDEN);
    // The citizen locking too does not weaken it.
    app.app
        .idp
        .accounts()
        .lock(&maria.id, EMERGENCY, &maria.id)
        .await
        .unwrap();
    assert_eq!(desk_unlock(true).await.status, StatusCode::FORBIDDEN);
    let unlocked = app.cli(&["--json", "citizen", "unlock", "--run", RUN]);
    assert!(unlocked.success, "{}", unlocked.stderr);
    assert_eq!(unlocked.json()["unlocked"], true);
    assert_eq!(
        log_in(&cookie_client(), &app, "", RUN, PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // The form without its token is refused.
    let forged = post(&cookie_client(), &app, "/unlock", &[("run", RUN)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // The citizen hears of every lock and unlock in their mailbox.
    let mailbox = app.app.wallet.mailbox();
    while mailbox.follow_journal().await.unwrap() > 0 {}
    let subjects: Vec<String> = mailbox
        .inbox(&maria.id, false)
        .await
        .unwrap()
        .notices
        .iter()
        .map(|n| n.subject.clone())
        .collect();
    let count = |s: &str| subjects.iter().filter(|x| x.as_str() == s).count();
    assert_eq!(count("Tu cuenta fue bloqueada"), 3, "{subjects:?}");
    assert_eq!(count("Tu cuenta fue desbloqueada"), 2, "{subjects:?}");
}

#[tokio::test]
async fn a_front_desk_code_activates_an_account_once_and_resets_a_lost_password() {
    let app = TestApp::new().await;
    // A registry created the account: it has no password yet.
    let maria = app
        .app
        .idp
        .accounts()
        .create(clave_idp::accounts::NewCitizen {
            run: clave_common::Run::parse(RUN).unwrap(),
            given_names: "María Carmen".into(),
            family_names: "Del Río González".into(),
            email: None,
            password: None,
        })
        .await
        .unwrap();
    let Some((_, secret)) = agent(&app, AGENT_RUN, "Soto").await else {
        return;
    };
    let desk = cookie_client();
    agent_signs_in(&app, &desk, AGENT_RUN, &secret).await;
    let unconfirmed = submit(&desk, &app, "/agent", "/agent/activation", &[("run", RUN)]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    let issued = submit(
        &desk,
        &app,
        "/agent",
        "/agent/activation",
        &[("run", RUN), ("in_person", "yes")],
    )
    .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let from =
        issued.body.find("id=\"activation-code\">").unwrap() + "id=\"activation-code\">".len();
    let code = issued.body[from..].split('<').next().unwrap().to_owned();
    assert_eq!(code.len(), 19, "{code}");

    let activate = |code: String, password: &'static str, again: &'static str| {
        let app = &app;
        async move {
            submit(
                &cookie_client(),
                app,
                "/activate",
                "/activate",
                &[
                    ("run", RUN),
                    ("code", &code),
                    ("password", password),
                    ("password_again", again),
                ],
            )
            .await
        }
    };
    let mismatch = activate(code.clone(), PASSWORD, "otra cosa distinta").await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(mismatch.body.contains("no coinciden"));
    let wrong = activate("ABCD-EFGH-JKLM-NPQR".into(), PASSWORD, PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("no son correctos"));
    assert_eq!(app.journal_of_kind("activation.failed").await.len(), 1);
    // A weak password is refused and the code stays usable.
    let weak = activate(code.clone(), "corta", "corta").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    // Typed in lower case without dashes, as people do.
    let typed = code.replace('-', "").to_lowercase();
    let done = activate(typed.clone(), PASSWORD, PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("id=\"activated\""));
    let portal = cookie_client();
    assert_eq!(
        log_in(&portal, &app, "", RUN, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let again = activate(
        typed,
        "otra frase de paso larga",
        "otra frase de paso larga",
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "single use");

    // A citizen who lost the password: the operator's code sets a new one and every session
    // of theirs ends.
    let out = app.cli(&["--json", "citizen", "activation-code", "--run", RUN]);
    assert!(out.success, "{}", out.stderr);
    let code = out.json()["code"].as_str().unwrap().to_owned();
    let reset = activate(
        code,
        "una frase nueva y bastante larga",
        "una frase nueva y bastante larga",
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(
        get(&portal, &app, "/me/data").await.location.as_deref(),
        Some("/login"),
        "the old session ended"
    );
    assert_eq!(
        log_in(&cookie_client(), &app, "", RUN, PASSWORD)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let activated = app.journal_of_kind("account.activated").await;
    assert_eq!(activated.len(), 2);
    assert_eq!(activated[0].subject.as_deref(), Some(maria.id.as_str()));

    // Codes lapse after a week.
    let out = app.cli(&["--json", "citizen", "activation-code", "--run", RUN]);
    let code = out.json()["code"].as_str().unwrap().to_owned();
    app.advance(time::Duration::days(8));
    let late = activate(
        code,
        "todavia otra frase muy larga",
        "todavia otra frase muy larga",
    )
    .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_citizen_sees_their_sessions_and_ends_the_others() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let laptop = cookie_client();
    log_in(&laptop, &app, "", RUN, PASSWORD).await;
    let phone = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("TelefonoDePrueba 1.0")
        .build()
        .unwrap();
    log_in(&phone, &app, "", RUN, PASSWORD).await;
    let tablet = cookie_client();
    log_in(&tablet, &app, "", RUN, PASSWORD).await;

    let page = get(&laptop, &app, "/me/sessions").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("TelefonoDePrueba 1.0"), "{}", page.body);
    assert_eq!(page.body.matches("name=\"session\"").count(), 3);
    assert_eq!(page.body.matches("(Este navegador)").count(), 1);

    // A session id that is not the citizen's is refused as gone; nothing ends.
    let other = submit(
        &laptop,
        &app,
        "/me/sessions",
        "/me/sessions",
        &[("action", "one"), ("session", "not-mine")],
    )
    .await;
    assert_eq!(other.location.as_deref(), Some("/me/sessions?done=gone"));

    let ended = submit(
        &laptop,
        &app,
        "/me/sessions",
        "/me/sessions",
        &[("action", "others")],
    )
    .await;
    assert_eq!(ended.location.as_deref(), Some("/me/sessions?done=ended"));
    assert_eq!(
        get(&phone, &app, "/me/data").await.location.as_deref(),
        Some("/login")
    );
    assert_eq!(
        get(&tablet, &app, "/me/data").await.location.as_deref(),
        Some("/login")
    );
    assert_eq!(get(&laptop, &app, "/me/data").await.status, StatusCode::OK);
    let reasons = app.journal_of_kind("session.ended").await;
    assert_eq!(
        reasons
            .iter()
            .filter(|e| e.data["reason"] == "ended_by_citizen")
            .count(),
        2
    );

    // Ending this browser's own session signs it out.
    let page = get(&laptop, &app, "/me/sessions").await;
    let from =
        page.body.find("name=\"session\" value=\"").unwrap() + "name=\"session\" value=\"".len();
    let id = page.body[from..].split('"').next().unwrap().to_owned();
    let out = submit(
        &laptop,
        &app,
        "/me/sessions",
        "/me/sessions",
        &[("action", "one"), ("session", &id)],
    )
    .await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    assert_eq!(
        get(&laptop, &app, "/me/data").await.location.as_deref(),
        Some("/login")
    );
}

#[tokio::test]
async fn a_front_desk_removes_lost_second_factors_and_the_citizen_is_told() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    let Some(secret) = crate::second_factor::enrolled(&app, &maria).await else {
        return;
    };
    app.app
        .idp
        .recovery_codes()
        .generate(&maria.id)
        .await
        .unwrap();
    app.app
        .idp
        .factors()
        .set_always_ask(&maria.id, true)
        .await
        .unwrap();
    // María is signed in somewhere (with the factor she is about to lose).
    let old = cookie_client();
    crate::second_factor::portal_login_with_totp_as(&app, &old, RUN, PASSWORD, &secret).await;
    assert_eq!(get(&old, &app, "/me/data").await.status, StatusCode::OK);
    let Some((_, desk_secret)) = agent(&app, AGENT_RUN, "Soto").await else {
        return;
    };
    let desk = cookie_client();
    agent_signs_in(&app, &desk, AGENT_RUN, &desk_secret).await;

    // Without the in-person check, or for an unknown RUN, nothing happens.
    let unconfirmed = submit(&desk, &app, "/agent", "/agent/factors", &[("run", RUN)]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    let unknown = submit(
        &desk,
        &app,
        "/agent",
        "/agent/factors",
        &[("run", "1-9"), ("in_person", "yes")],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        app.app
            .idp
            .factors()
            .summary(&maria.id)
            .await
            .unwrap()
            .has_second_factor()
    );

    let done = submit(
        &desk,
        &app,
        "/agent",
        "/agent/factors",
        &[("run", RUN), ("in_person", "yes")],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Se quitaron los segundos factores"));
    let summary = app.app.idp.factors().summary(&maria.id).await.unwrap();
    assert!(!summary.has_second_factor(), "{summary:?}");
    assert_eq!(
        summary.own_minimum(),
        1,
        "every login no longer asks for one"
    );
    // Her old session ended; the password alone signs her in now.
    let page = get(&old, &app, "/me/data").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let fresh = cookie_client();
    let login = log_in(&fresh, &app, "", RUN, PASSWORD).await;
    assert_eq!(login.location.as_deref(), Some("/"), "{login:?}");
    // Nothing left to remove: the desk is told so.
    let again = submit(
        &desk,
        &app,
        "/agent",
        "/agent/factors",
        &[("run", RUN), ("in_person", "yes")],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // Journaled with who and where, and María is told in her mailbox.
    let entries = app.journal_of_kind("second_factor.reset").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].data["how"], "front_desk: Call center Santiago");
    assert_eq!(entries[0].data["removed"]["recovery_codes"], 10);
    app.app.wallet.mailbox().follow_journal().await.unwrap();
    let inbox = app
        .app
        .wallet
        .mailbox()
        .inbox(&maria.id, false)
        .await
        .unwrap();
    assert!(
        inbox
            .notices
            .iter()
            .any(|n| n.subject == "Se quitaron tus segundos factores"),
        "{:?}",
        inbox.notices.iter().map(|n| &n.subject).collect::<Vec<_>>()
    );
}
