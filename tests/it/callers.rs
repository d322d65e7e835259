//! Caller verification: an agent (role `agent`, level 2) verifies a caller by the code the
//! citizen made in the portal, or by the citizen's approval of a request with a binding
//! phrase; the agent then sees a minimal profile for a while, and every look lands in the
//! citizen's access log with the agent and office. Wrong codes are throttled; codes are
//! single use; other agents and citizens are refused.

use clave_common::Run;
use clave_idp::accounts::{Account, NewCitizen};
use reqwest::StatusCode;
use serde_json::json;

use crate::second_factor::{enrolled, portal_login_with_totp_as};
use crate::support::TestApp;
use crate::support::accounts::{Fetched, get, log_in, post};
use crate::support::rp::{PASSWORD, RUN, citizen};

pub(crate) const AGENT_RUN: &str = "11.111.111-1";
const OTHER_AGENT_RUN: &str = "22.222.222-2";
const AGENT_PASSWORD: &str = "atencion telefonica de lunes a viernes";
const OFFICE: &str = "Call center Santiago";

pub(crate) fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn person(app: &TestApp, run: &str, given: &str, family: &str) -> Account {
    app.app
        .idp
        .accounts()
        .create(NewCitizen {
            run: Run::parse(run).unwrap(),
            given_names: given.into(),
            family_names: family.into(),
            email: None,
            password: Some(AGENT_PASSWORD.into()),
        })
        .await
        .unwrap()
}

/// An agent of [`OFFICE`] made with the command line, with TOTP; `None` without oathtool.
pub(crate) async fn agent(app: &TestApp, run: &str, family: &str) -> Option<(Account, String)> {
    let account = person(app, run, "Pedro", family).await;
    let granted = app.cli(&[
        "--json",
        "citizen",
        "grant-role",
        "--run",
        run,
        "--role",
        "agent",
        "--office",
        OFFICE,
    ]);
    assert!(granted.success, "{}", granted.stderr);
    assert_eq!(granted.json()["office"], OFFICE);
    let secret = enrolled(app, &account).await?;
    Some((account, secret))
}

/// Signs `client` in as the agent with password and TOTP (level 2).
pub(crate) async fn agent_signs_in(
    app: &TestApp,
    client: &reqwest::Client,
    run: &str,
    secret: &str,
) {
    portal_login_with_totp_as(app, client, run, AGENT_PASSWORD, secret).await;
}

/// Posts a form on `path` with the CSRF token of the page at `from`.
pub(crate) async fn submit(
    client: &reqwest::Client,
    app: &TestApp,
    from: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Fetched {
    let page = get(client, app, from).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // The form is on the page, where a person sees it: inside the main landmark.
    let main = page
        .body
        .find("<main")
        .expect("the page has a main landmark");
    assert!(
        page.body[main..].contains(&format!("action=\"{path}\"")),
        "{from} shows no form that posts to {path}"
    );
    let csrf = page.field("csrf").unwrap();
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    post(client, app, path, &fields).await
}

/// Posts `form` to `path` with the CSRF token of the page at `from`, whether or not that
/// page offers the form: what a person crafting the request would do.
pub(crate) async fn post_crafted(
    client: &reqwest::Client,
    app: &TestApp,
    from: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Fetched {
    let csrf = get(client, app, from).await.field("csrf").unwrap();
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    post(client, app, path, &fields).await
}

/// The citizen makes a code in the portal; returns it as shown ("123 456").
async fn make_code(app: &TestApp, citizen: &reqwest::Client) -> String {
    let made = submit(
        citizen,
        app,
        "/me/verify-call",
        "/me/verify-call",
        &[("action", "code")],
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let from = made.body.find("id=\"caller-code\">").unwrap() + "id=\"caller-code\">".len();
    let code = &made.body[from..from + 7];
    assert!(
        code.len() == 7 && code.chars().filter(char::is_ascii_digit).count() == 6,
        "{code:?}"
    );
    code.to_owned()
}

async fn verify(app: &TestApp, agent: &reqwest::Client, run: &str, code: &str) -> Fetched {
    submit(
        agent,
        app,
        "/agent",
        "/agent/verify",
        &[("run", run), ("code", code)],
    )
    .await
}

async fn signed_in_citizen(app: &TestApp) -> reqwest::Client {
    let client = cookie_client();
    let login = log_in(&client, app, "", RUN, PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    client
}

async fn releases_to(app: &TestApp, account: &Account, agent: &Account) -> usize {
    app.app
        .wallet
        .access_log(&account.id, None, 500)
        .await
        .unwrap()
        .entries
        .iter()
        .filter(|e| e.recipient == agent.id && e.channel == "agent")
        .count()
}

#[tokio::test]
async fn an_agent_verifies_a_caller_by_code_and_every_look_is_in_the_citizens_log() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    app.app
        .wallet
        .assert_value(&maria.id, "phone_number", &json!("+56 9 1234 5678"))
        .await
        .unwrap();
    let Some((pedro, secret)) = agent(&app, AGENT_RUN, "Soto").await else {
        return;
    };

    // Without an office an agent cannot be made; an unknown role is named as such.
    let no_office = app.cli(&["citizen", "grant-role", "--run", RUN, "--role", "agent"]);
    assert!(!no_office.success);
    assert!(no_office.stderr.contains("office"), "{}", no_office.stderr);
    let unknown = app.cli(&["citizen", "grant-role", "--run", RUN, "--role", "root"]);
    assert!(!unknown.success);
    assert!(
        unknown.stderr.contains("unknown role"),
        "{}",
        unknown.stderr
    );

    // Not signed in: to the login. A citizen is refused; an agent signed in with the
    // password only is sent to the second factor, which then returns to the console.
    let anonymous = cookie_client();
    let page = get(&anonymous, &app, "/agent").await;
    assert_eq!(page.location.as_deref(), Some("/login"));
    let citizen_browser = signed_in_citizen(&app).await;
    assert_eq!(
        get(&citizen_browser, &app, "/agent").await.status,
        StatusCode::FORBIDDEN
    );
    let level_one = cookie_client();
    log_in(&level_one, &app, "", AGENT_RUN, AGENT_PASSWORD).await;
    let stepping_up = get(&level_one, &app, "/agent").await;
    assert_eq!(stepping_up.status, StatusCode::SEE_OTHER);
    assert_eq!(
        stepping_up.location.as_deref(),
        Some("/login/second-factor?then=agent")
    );
    let step_up = get(&level_one, &app, "/login/second-factor?then=agent").await;
    assert_eq!(step_up.status, StatusCode::OK, "{}", step_up.body);
    assert!(step_up.body.contains("name=\"code\""), "{}", step_up.body);
    // The console's forms are refused the same way: nothing is done at level 1.
    let posted = post_crafted(
        &level_one,
        &app,
        "/login/second-factor?then=agent",
        "/agent/verify",
        &[("run", RUN), ("code", "123456")],
    )
    .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.journal_of_kind("caller.verification_failed")
            .await
            .len(),
        0
    );

    let agent_browser = cookie_client();
    agent_signs_in(&app, &agent_browser, AGENT_RUN, &secret).await;
    let console = get(&agent_browser, &app, "/agent").await;
    assert_eq!(console.status, StatusCode::OK);
    assert!(console.body.contains(OFFICE));

    // A bad RUN, a malformed code and a wrong code are refused with what to do.
    let bad_run = verify(&app, &agent_browser, "12.345.678-9", "123456").await;
    assert_eq!(bad_run.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_run.body.contains("dígito verificador"),
        "{}",
        bad_run.body
    );
    let malformed = verify(&app, &agent_browser, RUN, "12ab").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(malformed.body.contains("6 dígitos"), "{}", malformed.body);
    let code = make_code(&app, &citizen_browser).await;
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let wrong = format!("{:06}", (digits.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = verify(&app, &agent_browser, RUN, &wrong).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("código nuevo"), "{}", refused.body);
    assert_eq!(
        app.journal_of_kind("caller.verification_failed")
            .await
            .len(),
        1
    );

    // The right code, typed as read aloud, verifies the caller once.
    let verified = verify(&app, &agent_browser, RUN, &code).await;
    assert_eq!(verified.status, StatusCode::SEE_OTHER, "{}", verified.body);
    let check_path = verified.location.unwrap();
    assert!(check_path.starts_with("/agent/checks/"));
    let profile = get(&agent_browser, &app, &check_path).await;
    assert_eq!(profile.status, StatusCode::OK);
    for expected in [
        "María Carmen Del Río González",
        "12.345.678-5",
        "+56 9 1234 5678",
    ] {
        assert!(profile.body.contains(expected), "{expected} missing");
    }
    let again = verify(&app, &agent_browser, RUN, &digits).await;
    assert_eq!(
        again.status,
        StatusCode::FORBIDDEN,
        "the code is single use"
    );

    // Each look is in the citizen's access log, with the agent and the office.
    get(&agent_browser, &app, &check_path).await;
    assert_eq!(releases_to(&app, &maria, &pedro).await, 2);
    let activity = get(&citizen_browser, &app, "/me/activity").await;
    assert!(
        activity.body.contains("Pedro Soto · Call center Santiago"),
        "{}",
        activity.body
    );
    let mine = get(
        &citizen_browser,
        &app,
        &format!("/me/activity?who={}", pedro.id),
    )
    .await;
    assert_eq!(
        mine.body
            .matches("Pedro Soto · Call center Santiago</td>")
            .count(),
        2
    );
    let nobody = get(&citizen_browser, &app, "/me/activity?who=someone-else").await;
    assert!(
        !nobody
            .body
            .contains("Pedro Soto · Call center Santiago</td>")
    );
    let verified_events = app.journal_of_kind("caller.verified").await;
    assert_eq!(verified_events.len(), 1);
    assert_eq!(verified_events[0].actor.as_deref(), Some(pedro.id.as_str()));

    // Another agent cannot open the check.
    let Some((_, other_secret)) = agent(&app, OTHER_AGENT_RUN, "Rojas").await else {
        return;
    };
    let other = cookie_client();
    agent_signs_in(&app, &other, OTHER_AGENT_RUN, &other_secret).await;
    assert_eq!(
        get(&other, &app, &check_path).await.status,
        StatusCode::NOT_FOUND
    );

    // The view ends: the page says so and nothing more is released.
    app.advance(time::Duration::minutes(16));
    let lapsed = get(&agent_browser, &app, &check_path).await;
    assert_eq!(lapsed.status, StatusCode::OK);
    assert!(!lapsed.body.contains("+56 9 1234 5678"));
    assert!(
        lapsed.body.contains("ya no está vigente"),
        "{}",
        lapsed.body
    );
    assert_eq!(releases_to(&app, &maria, &pedro).await, 2);

    // A code lapses after ten minutes.
    let code = make_code(&app, &citizen_browser).await;
    app.advance(time::Duration::minutes(11));
    let late = verify(&app, &agent_browser, RUN, &code).await;
    assert_eq!(late.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_caller_approves_the_agents_request_after_comparing_the_phrase() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    let Some((pedro, secret)) = agent(&app, AGENT_RUN, "Soto").await else {
        return;
    };
    let agent_browser = cookie_client();
    agent_signs_in(&app, &agent_browser, AGENT_RUN, &secret).await;
    let citizen_browser = signed_in_citizen(&app).await;

    let unknown = submit(
        &agent_browser,
        &app,
        "/agent",
        "/agent/start",
        &[("run", "15.555.555-6")],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("Ninguna cuenta"), "{}", unknown.body);

    let started = submit(
        &agent_browser,
        &app,
        "/agent",
        "/agent/start",
        &[("run", RUN)],
    )
    .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let check_path = started.location.unwrap();
    let waiting = get(&agent_browser, &app, &check_path).await;
    let from =
        waiting.body.find("id=\"binding-phrase\">").unwrap() + "id=\"binding-phrase\">".len();
    let phrase = waiting.body[from..].split('<').next().unwrap().to_owned();
    assert_eq!(phrase.split('-').count(), 3, "{phrase}");
    assert_eq!(
        releases_to(&app, &maria, &pedro).await,
        0,
        "nothing before approval"
    );

    // One request waits at a time.
    let second = submit(
        &agent_browser,
        &app,
        "/agent",
        "/agent/start",
        &[("run", RUN)],
    )
    .await;
    assert_eq!(second.status, StatusCode::CONFLICT);

    // The start page says a request waits, and links to it.
    let home = get(&citizen_browser, &app, "/").await;
    assert!(home.body.contains("Un agente espera"), "{}", home.body);
    assert!(home.body.contains("href=\"/me/verify-call\""));

    // The citizen sees the agent, the office and the same phrase, and approves.
    let page = get(&citizen_browser, &app, "/me/verify-call").await;
    for expected in ["Pedro Soto", OFFICE, phrase.as_str()] {
        assert!(page.body.contains(expected), "{expected} missing");
    }
    let check_id = check_path.rsplit('/').next().unwrap();
    let approved = submit(
        &citizen_browser,
        &app,
        "/me/verify-call",
        "/me/verify-call",
        &[("check", check_id), ("action", "approve")],
    )
    .await;
    assert_eq!(
        approved.location.as_deref(),
        Some("/me/verify-call?done=approved")
    );
    let profile = get(&agent_browser, &app, &check_path).await;
    assert!(profile.body.contains("María Carmen Del Río González"));
    let home = get(&citizen_browser, &app, "/").await;
    assert!(!home.body.contains("Un agente espera"));
    assert!(
        get(&agent_browser, &app, "/")
            .await
            .body
            .contains("href=\"/agent\"")
    );
    assert_eq!(releases_to(&app, &maria, &pedro).await, 1);

    // An answer is final.
    let twice = submit(
        &citizen_browser,
        &app,
        "/me/verify-call",
        "/me/verify-call",
        &[("check", check_id), ("action", "deny")],
    )
    .await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);

    // A denied request shows nothing.
    let started = submit(
        &agent_browser,
        &app,
        "/agent",
        "/agent/start",
        &[("run", RUN)],
    )
    .await;
    let denied_path = started.location.unwrap();
    let denied_id = denied_path.rsplit('/').next().unwrap();
    submit(
        &citizen_browser,
        &app,
        "/me/verify-call",
        "/me/verify-call",
        &[("check", denied_id), ("action", "deny")],
    )
    .await;
    let denied = get(&agent_browser, &app, &denied_path).await;
    assert!(denied.body.contains("rechazó"), "{}", denied.body);
    assert!(!denied.body.contains("María Carmen"));
    assert_eq!(app.journal_of_kind("caller.denied").await.len(), 1);

    // A request nobody answers lapses after five minutes.
    let started = submit(
        &agent_browser,
        &app,
        "/agent",
        "/agent/start",
        &[("run", RUN)],
    )
    .await;
    let lapsing = started.location.unwrap();
    app.advance(time::Duration::minutes(6));
    let page = get(&citizen_browser, &app, "/me/verify-call").await;
    assert!(page.body.contains("No hay solicitudes"), "{}", page.body);
    let lapsed = get(&agent_browser, &app, &lapsing).await;
    assert!(lapsed.body.contains("ya no está vigente"));
}

#[tokio::test]
async fn wrong_codes_lock_the_run_and_the_agent_out_even_for_the_right_code() {
    let app = TestApp::with_config(|c| {
        c.throttle.lockout_failures = 3;
        c.throttle.free_failures = 5;
    })
    .await;
    citizen(&app).await;
    let Some((_, secret)) = agent(&app, AGENT_RUN, "Soto").await else {
        return;
    };
    let agent_browser = cookie_client();
    agent_signs_in(&app, &agent_browser, AGENT_RUN, &secret).await;
    let citizen_browser = signed_in_citizen(&app).await;
    let code = make_code(&app, &citizen_browser).await;
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let wrong = format!("{:06}", (digits.parse::<u32>().unwrap() + 7) % 1_000_000);
    for _ in 0..2 {
        let refused = verify(&app, &agent_browser, RUN, &wrong).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    let locked = verify(&app, &agent_browser, RUN, &wrong).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let right = verify(&app, &agent_browser, RUN, &code).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        right.body
    );
    assert!(right.body.contains("Demasiados intentos"), "{}", right.body);
    // The citizen's own login is not locked by a stranger's guesses.
    let login = log_in(&cookie_client(), &app, "", RUN, PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    // The lockout lapses.
    app.advance(time::Duration::minutes(16));
    let code = make_code(&app, &citizen_browser).await;
    let after = verify(&app, &agent_browser, RUN, &code).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "{}", after.body);
}
