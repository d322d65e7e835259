//! A call-centre agent verifies a caller, both ways, with two browsers side by side: the
//! citizen's (on a phone or a desktop) and the agent's (their own context, own cookies).
//! The agent then sees the minimal profile, and the citizen's activity page names the agent
//! and the office.

use std::net::{IpAddr, Ipv4Addr};

use clave_common::Run;
use clave_idp::accounts::{Account, NewCitizen};
use serde_json::json;

use super::{Size, follow, heading, shot, sign_in, text_of, totp_from_key};
use crate::support::TestApp;
use crate::support::browser::{Browser, Page};
use crate::support::rp::{self, PASSWORD, RUN};

const AGENT_RUN: &str = "11.111.111-1";
const AGENT_PASSWORD: &str = "atencion telefonica de lunes a viernes";
const OFFICE: &str = "Call center Santiago";

/// An agent of [`OFFICE`], Pedro Soto, made with the command line, with an authenticator
/// app that every login asks for (agents work at level 2); the account and the app's key.
pub(super) async fn agent(app: &TestApp) -> (Account, String) {
    let account = app
        .app
        .idp
        .accounts()
        .create(NewCitizen {
            run: Run::parse(AGENT_RUN).unwrap(),
            given_names: "Pedro".into(),
            family_names: "Soto".into(),
            email: None,
            password: Some(AGENT_PASSWORD.into()),
        })
        .await
        .unwrap();
    let granted = app.cli(&[
        "citizen",
        "grant-role",
        "--run",
        AGENT_RUN,
        "--role",
        "agent",
        "--office",
        OFFICE,
    ]);
    assert!(granted.success, "{}", granted.stderr);
    let enrolment = app.app.idp.totps().begin(&account).await.unwrap();
    let code = totp_from_key(app, &enrolment.secret_base32);
    app.app
        .idp
        .totps()
        .confirm(&account, &code, IpAddr::V4(Ipv4Addr::LOCALHOST))
        .await
        .unwrap();
    app.app
        .idp
        .factors()
        .set_always_ask(&account.id, true)
        .await
        .unwrap();
    // The next code is a new one.
    app.advance(time::Duration::seconds(30));
    (account, enrolment.secret_base32)
}

/// The agent signs in with password and authenticator code, landing on the home page.
pub(super) async fn agent_signs_in(page: &Page<'_>, app: &TestApp, key: &str) {
    let landed = sign_in(page, app, AGENT_RUN, AGENT_PASSWORD).await;
    assert!(landed.ends_with("/login/second-factor"), "{landed}");
    page.fill("#code", &totp_from_key(app, key)).await;
    let home = page
        .click_and_wait("form[action='/login/second-factor'] button[type=submit]")
        .await;
    assert!(home.ends_with('/'), "{home}");
    app.advance(time::Duration::seconds(30));
}

/// María, with a phone number on file, signed in on `size`; and the agent at the console.
async fn both_sides<'b>(
    browser: &'b Browser,
    app: &TestApp,
    size: Size,
) -> (Account, Account, Page<'b>, Page<'b>) {
    let maria = rp::citizen(app).await;
    app.app
        .wallet
        .assert_value(&maria.id, "phone_number", &json!("+56 9 1234 5678"))
        .await
        .unwrap();
    let (pedro, key) = agent(app).await;
    let citizen = browser.new_private_page().await;
    size.apply(&citizen).await;
    sign_in(&citizen, app, RUN, PASSWORD).await;
    let desk = browser.new_private_page().await;
    size.apply(&desk).await;
    agent_signs_in(&desk, app, &key).await;
    follow(&desk, "/agent").await;
    assert_eq!(heading(&desk).await, "Atención: verificar a quien llama");
    assert_eq!(
        desk.eval("document.title").await,
        "Atención: verificar a quien llama · Clave",
        "the page title names the console and nothing else"
    );
    assert!(desk.text().await.contains(OFFICE));
    (maria, pedro, citizen, desk)
}

/// What the agent sees once the caller is verified, and what the citizen's log says.
async fn profile_and_log(
    app: &TestApp,
    size: Size,
    maria: &Account,
    pedro: &Account,
    citizen: &Page<'_>,
    desk: &Page<'_>,
) {
    let profile = text_of(desk, "table.data-table").await;
    for expected in [
        "María Carmen Del Río González",
        "12.345.678-5",
        "+56 9 1234 5678",
    ] {
        assert!(profile.contains(expected), "{expected} missing: {profile}");
    }
    let seen = app
        .app
        .wallet
        .access_log(&maria.id, None, 100)
        .await
        .unwrap()
        .entries
        .iter()
        .filter(|e| e.recipient == pedro.id && e.channel == "agent")
        .count();
    assert_eq!(seen, 1, "the look is recorded");

    citizen.goto(&app.at("/")).await;
    follow(citizen, "/me/activity").await;
    let log = text_of(citizen, "table.data-table").await;
    assert!(
        log.contains("Pedro Soto · Call center Santiago"),
        "the agent and office are named: {log}"
    );
    shot(citizen, size, "activity-agent").await;
}

/// (a) The citizen reads a code from the portal; the agent types it with the RUN.
async fn by_code(size: Size) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    let (maria, pedro, citizen, desk) = both_sides(&browser, &app, size).await;
    shot(&desk, size, "agent").await;

    citizen.goto(&app.at("/")).await;
    follow(&citizen, "/me/verify-call").await;
    assert_eq!(heading(&citizen).await, "Verificar una llamada");
    citizen
        .click_and_wait("form[action='/me/verify-call'] input[value=code] ~ button")
        .await;
    let code = text_of(&citizen, "#caller-code").await;
    assert_eq!(
        code.chars().filter(char::is_ascii_digit).count(),
        6,
        "{code}"
    );
    shot(&citizen, size, "verify-call").await;

    // Read aloud, typed by the agent with a slip first: refused, with what to do.
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let wrong = format!("{:06}", (digits.parse::<u32>().unwrap() + 1) % 1_000_000);
    desk.fill("#code-run", RUN).await;
    desk.fill("#code", &wrong).await;
    desk.click_and_wait("form[action='/agent/verify'] button[type=submit]")
        .await;
    assert!(
        text_of(&desk, "#error-summary")
            .await
            .contains("código nuevo"),
        "{}",
        desk.text().await
    );
    desk.fill("#code-run", RUN).await;
    desk.fill("#code", &code).await;
    let check = desk
        .click_and_wait("form[action='/agent/verify'] button[type=submit]")
        .await;
    assert!(check.contains("/agent/checks/"), "{check}");
    shot(&desk, size, "agent-profile").await;
    profile_and_log(&app, size, &maria, &pedro, &citizen, &desk).await;
    let verified = app.journal_of_kind("caller.verified").await;
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].actor.as_deref(), Some(pedro.id.as_str()));
}

#[tokio::test]
async fn an_agent_verifies_a_caller_by_the_code_from_a_phone() {
    by_code(Size::Phone).await;
}

#[tokio::test]
async fn an_agent_verifies_a_caller_by_the_code_on_desktops() {
    by_code(Size::Desktop).await;
}

/// (b) The agent asks; the citizen compares the phrase and approves in the portal.
async fn by_approval(size: Size) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    let (maria, pedro, citizen, desk) = both_sides(&browser, &app, size).await;

    desk.fill("#ask-run", RUN).await;
    let check = desk
        .click_and_wait("form[action='/agent/start'] button[type=submit]")
        .await;
    assert!(check.contains("/agent/checks/"), "{check}");
    let phrase = text_of(&desk, "#binding-phrase").await;
    assert!(!phrase.is_empty());
    assert!(text_of(&desk, "p.notice").await.len() > 1, "waiting");
    shot(&desk, size, "agent-waiting").await;

    // The citizen's home says an agent is waiting; the page shows the same phrase.
    citizen.goto(&app.at("/")).await;
    let attention = text_of(&citizen, "section[aria-labelledby=attention-heading]").await;
    assert!(
        attention.contains("Un agente espera que apruebes"),
        "{attention}"
    );
    follow(&citizen, "/me/verify-call").await;
    let shown = text_of(&citizen, ".binding-phrase").await;
    assert_eq!(shown, phrase, "both read the same phrase");
    assert!(citizen.text().await.contains("Pedro Soto"));
    assert!(citizen.text().await.contains(OFFICE));
    shot(&citizen, size, "verify-call-approve").await;
    citizen
        .click_and_wait("button[name=action][value=approve]")
        .await;
    assert!(
        text_of(&citizen, "p.notice[role=status]")
            .await
            .starts_with("Aprobaste la verificación."),
        "{}",
        citizen.text().await
    );
    assert!(
        citizen
            .eval("!document.querySelector('.binding-phrase')")
            .await
            == true,
        "the request is answered"
    );

    // The agent refreshes and sees the profile.
    desk.click_and_wait(&format!(
        "a[href='{}']",
        url::Url::parse(&check).unwrap().path()
    ))
    .await;
    assert!(desk.text().await.contains("María Carmen Del Río González"));
    profile_and_log(&app, size, &maria, &pedro, &citizen, &desk).await;
}

#[tokio::test]
async fn a_caller_approves_the_agents_request_from_a_phone() {
    by_approval(Size::Phone).await;
}

#[tokio::test]
async fn a_caller_approves_the_agents_request_on_desktops() {
    by_approval(Size::Desktop).await;
}
