//! The login page, password checks, throttling across nodes, and `clave citizen`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::accounts::{get, log_in, post};
use crate::support::rp::{REDIRECT_URI, register, web_client};

const RUN: &str = "12.345.678-5";
const PASSWORD: &str = "tortuga violeta bajo la lluvia";
const BAD_CREDENTIALS_ES: &str = "El RUN o la contraseña no son correctos.";

#[tokio::test]
async fn the_login_page_has_labelled_fields_a_csrf_token_and_speaks_spanish() {
    let app = TestApp::new().await;
    let client = app.http();
    let page = get(&client, &app, "/login").await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(body.contains("<html lang=\"es\">"), "{body}");
    assert!(body.contains("Ingresa con tu Clave"));
    assert!(body.contains("<label for=\"run\">RUN</label>"));
    assert!(body.contains("<label for=\"password\">Contraseña</label>"));
    assert!(body.contains(r#"<input id="run" name="run" type="text""#));
    assert!(body.contains(r#"autocomplete="username webauthn""#));
    assert!(body.contains(
        r#"<input id="password" name="password" type="password" autocomplete="current-password""#
    ));
    assert!(body.contains(r##"<a class="skip-link" href="#main">"##));
    for landmark in ["<header", "<main id=\"main\"", "<footer"] {
        assert!(body.contains(landmark), "missing {landmark}");
    }

    let csrf = page.field("csrf").unwrap();
    assert_eq!(csrf.len(), 43);
    let cookie = page.cookie("clave_csrf").unwrap();
    assert!(
        cookie.starts_with(&format!("clave_csrf={csrf};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // The same browser keeps its token on the next page.
    let again = get(&client, &app, "/login").await;
    assert_eq!(again.field("csrf").unwrap(), csrf);
    assert!(again.cookie("clave_csrf").is_none());

    let css = client
        .get(app.at("/static/clave.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert!(css.text().await.unwrap().contains(":focus-visible"));
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_without_checking_the_password() {
    let app = TestApp::new().await;
    app.citizen(RUN, PASSWORD).await;
    let client = app.http();
    // No token at all, then the browser's cookie with a field that does not match it.
    let refused = post(
        &client,
        &app,
        "/login",
        &[("run", RUN), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("El formulario expiró"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("recarga la página"));
    get(&client, &app, "/login").await;
    let forged = "A".repeat(43);
    let refused = post(
        &client,
        &app,
        "/login",
        &[
            ("csrf", forged.as_str()),
            ("run", RUN),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.cookie("clave_session").is_none());
    assert!(app.journal_of_kind("login.succeeded").await.is_empty());
    assert!(app.journal_of_kind("login.failed").await.is_empty());
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_run_get_byte_identical_messages() {
    let app = TestApp::new().await;
    app.citizen(RUN, PASSWORD).await;
    let wrong = log_in(&app.http(), &app, "", RUN, "not the right passphrase").await;
    let unknown = log_in(&app.http(), &app, "", "11.111.111-1", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.status, unknown.status);
    let summary = wrong.error_summary().unwrap();
    assert_eq!(Some(summary.clone()), unknown.error_summary());
    assert!(summary.contains(BAD_CREDENTIALS_ES), "{summary}");
    assert!(summary.contains("href=\"#password\""), "{summary}");
    assert!(wrong.cookie("clave_session").is_none());
    // The RUN typed is kept, the password never sent back.
    assert_eq!(wrong.field("run").as_deref(), Some(RUN));
    assert!(!wrong.body.contains("not the right passphrase"));

    let failed = app.journal_of_kind("login.failed").await;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].subject.as_deref(), Some("12345678-5"));
    assert_eq!(failed[1].subject.as_deref(), Some("11111111-1"));
}

#[tokio::test]
async fn a_malformed_run_is_named_as_such() {
    let app = TestApp::new().await;
    let client = app.http();
    let page = log_in(&client, &app, "", "12.345.678-9", PASSWORD).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let summary = page.error_summary().unwrap();
    assert!(
        summary.contains("El dígito verificador no corresponde al RUN."),
        "{summary}"
    );
    assert!(summary.contains("href=\"#run\""));
    assert!(
        page.body
            .contains(r#"aria-invalid="true" aria-describedby="run-hint run-error""#)
    );
    let page = log_in(&client, &app, "?lang=en", "12.345.6x8-5", PASSWORD).await;
    assert!(
        page.error_summary()
            .unwrap()
            .contains("A RUN can only have digits, dots, one hyphen and the letter K."),
        "{}",
        page.body
    );
    // Format errors are not login attempts.
    assert!(app.journal_of_kind("login.failed").await.is_empty());
}

#[tokio::test]
async fn a_login_starts_a_session_and_a_second_login_re_authenticates_it() {
    let app = TestApp::new().await;
    let account = app.citizen(RUN, PASSWORD).await;
    let client = app.http();
    let done = log_in(&client, &app, "", "123456785", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/"));
    let cookie = done.cookie("clave_session").unwrap();
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=28800"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http must not get Secure: {cookie}"
    );
    let home = get(&client, &app, "/").await;
    assert!(home.body.contains("Hola, María Carmen"), "{}", home.body);

    let again = log_in(&client, &app, "", RUN, PASSWORD).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let created = app.journal_of_kind("session.created").await;
    assert_eq!(created.len(), 1);
    let reauthenticated = app.journal_of_kind("session.reauthenticated").await;
    assert_eq!(reauthenticated.len(), 1);
    assert_eq!(
        reauthenticated[0].data["session_id"],
        created[0].data["session_id"]
    );
    let succeeded = app.journal_of_kind("login.succeeded").await;
    assert_eq!(succeeded.len(), 2);
    assert_eq!(succeeded[0].subject.as_deref(), Some(account.id.as_str()));
}

#[tokio::test]
async fn a_login_for_a_service_speaks_its_ui_locales_and_returns_to_the_flow() {
    let app = TestApp::new().await;
    app.citizen(RUN, PASSWORD).await;
    let registered = register(&app, web_client("Servicio de Impuestos")).await;
    let client = app.http();
    let authorize = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1&ui_locales=en-GB%20es&login_hint=123456785",
        registered.client_id,
        url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>()
    );
    let started = get(&client, &app, &authorize).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let login_path = started.location.unwrap();
    assert!(login_path.starts_with("/login?req="), "{login_path}");
    let req = login_path.trim_start_matches("/login?req=").to_owned();

    let page = get(&client, &app, &login_path).await;
    assert!(page.body.contains("<html lang=\"en\">"), "{}", page.body);
    assert!(page.body.contains("Log in with your Clave"));
    assert!(
        page.body
            .contains("to continue to <strong>Servicio de Impuestos</strong>")
    );
    // The service's hint prefills the RUN, in the form people recognise.
    assert_eq!(page.field("run").as_deref(), Some(RUN));
    let switch = format!(r#"href="/login?req={req}&#38;lang=es""#);
    assert!(page.body.contains(&switch), "{switch} not in {}", page.body);

    let done = log_in(&client, &app, &login_path["/login".len()..], RUN, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.unwrap(),
        format!("/oauth2/authorize/resume?req={req}")
    );

    // A request id that names nothing pending is an error page, not a login.
    let lapsed = get(&client, &app, "/login?req=no-such-request").await;
    assert_eq!(lapsed.status, StatusCode::BAD_REQUEST);
    assert!(
        lapsed.body.contains("La solicitud de ingreso expiró"),
        "{}",
        lapsed.body
    );
}

#[tokio::test]
async fn the_language_switch_is_remembered_and_the_wrong_password_message_translated() {
    let app = TestApp::new().await;
    app.citizen(RUN, PASSWORD).await;
    let client = app.http();
    let switched = get(&client, &app, "/login?lang=en").await;
    assert!(switched.body.contains("<html lang=\"en\">"));
    let cookie = switched.cookie("clave_lang").unwrap();
    assert!(cookie.starts_with("clave_lang=en;"), "{cookie}");
    assert!(
        switched
            .body
            .contains(r#"href="/login?lang=es" hreflang="es" lang="es">Español</a>"#)
    );

    // The cookie keeps English without the parameter; the form posts in English too.
    let wrong = log_in(&client, &app, "", RUN, "not the right passphrase").await;
    assert!(wrong.body.contains("<html lang=\"en\">"));
    assert!(
        wrong
            .error_summary()
            .unwrap()
            .contains("The RUN or the password is not correct.")
    );

    let back = get(&client, &app, "/login?lang=es").await;
    assert!(back.body.contains("<html lang=\"es\">"));
    assert!(
        back.cookie("clave_lang")
            .unwrap()
            .starts_with("clave_lang=es;")
    );
}

#[tokio::test]
async fn failures_are_delayed_then_locked_out_on_every_node_and_the_lockout_lapses() {
    let app = TestApp::with_config(|c| {
        c.throttle.free_failures = 1;
        c.throttle.lockout_failures = 3;
        c.throttle.lockout_secs = 600;
        c.throttle.delay_step_ms = 1;
        c.throttle.max_delay_ms = 2;
    })
    .await;
    let node2 = app.second_node().await;
    app.citizen(RUN, PASSWORD).await;
    let client = app.http();

    let first = log_in(&client, &app, "", RUN, "wrong guess number one").await;
    let second = log_in(&client, &node2, "", "123456785", "wrong guess number two").await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    assert_eq!(first.error_summary(), second.error_summary());
    let delays: Vec<i64> = app
        .journal_of_kind("login.failed")
        .await
        .iter()
        .map(|e| e.data["delay_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(delays, vec![0, 1]);

    // The third failure, counted across both nodes, locks the RUN out.
    let third = log_in(&client, &app, "", "12345678-5", "wrong guess number three").await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    let summary = third.error_summary().unwrap();
    assert!(summary.contains(BAD_CREDENTIALS_ES), "{summary}");
    assert!(
        summary.contains("demasiados intentos fallidos"),
        "{summary}"
    );
    let locked = app.journal_of_kind("account.locked_out").await;
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].subject.as_deref(), Some("12345678-5"));

    // Even the right password is refused on the other node while the lockout lasts.
    let refused = log_in(&client, &node2, "", RUN, PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.cookie("clave_session").is_none());

    // An unknown RUN is locked out just the same, so a lockout reveals nothing.
    for guess in [
        "guess one is wrong",
        "guess two is wrong",
        "guess three wrong",
    ] {
        log_in(&client, &app, "", "11.111.111-1", guess).await;
    }
    let unknown = log_in(&client, &app, "", "11.111.111-1", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(unknown.error_summary(), refused.error_summary());

    app.advance(time::Duration::seconds(600));
    node2.advance(time::Duration::seconds(600));
    let done = log_in(&client, &node2, "", RUN, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let unlocked = app.journal_of_kind("account.unlocked").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].data["reason"], "lapsed");
}

#[tokio::test]
async fn concurrent_failures_on_two_nodes_are_all_counted_and_lock_out_once() {
    let app = TestApp::with_config(|c| {
        c.throttle.free_failures = 1;
        c.throttle.lockout_failures = 3;
        c.throttle.delay_step_ms = 1;
        c.throttle.max_delay_ms = 1;
    })
    .await;
    let node2 = app.second_node().await;
    app.citizen(RUN, PASSWORD).await;
    let attempts = (0..8).map(|i| {
        let node = if i % 2 == 0 { &app } else { &node2 };
        async move {
            log_in(&node.http(), node, "", RUN, "a wrong guess at it")
                .await
                .status
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::BAD_REQUEST || *s == StatusCode::TOO_MANY_REQUESTS)
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(app.journal_of_kind("account.locked_out").await.len(), 1);
    // Every attempt was either counted or refused as locked; none was lost.
    let failed = app.journal_of_kind("login.failed").await;
    assert_eq!(failed.len(), 8);
    let counted: Vec<i64> = failed
        .iter()
        .filter_map(|e| e.data["failures"].as_i64())
        .collect();
    let mut sorted = counted.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=counted.len() as i64).collect::<Vec<_>>());
    assert!(counted.len() >= 3);
}

#[tokio::test]
async fn a_login_upgrades_a_hash_made_with_older_parameters() {
    let app = TestApp::new().await;
    // The operator created the account while the memory cost was different.
    let mut env = app.cli_env();
    env.retain(|(name, _)| name != "CLAVE_PASSWORDS__ARGON2_MEMORY_KIB");
    env.push(("CLAVE_PASSWORDS__ARGON2_MEMORY_KIB".into(), "128".into()));
    let created = crate::support::run_cli(
        &env,
        &[
            "citizen",
            "add",
            "--run",
            RUN,
            "--given-names",
            "María Carmen",
            "--family-names",
            "Del Río González",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(created.success, "{}", created.stderr);
    let stored = || async {
        let (hash,): (String,) =
            sqlx::query_as("SELECT password_hash FROM idp_accounts WHERE run = $1")
                .bind("12345678-5")
                .fetch_one(app.app.db.pool())
                .await
                .unwrap();
        hash
    };
    assert!(stored().await.contains("$m=128,"));

    let done = log_in(&app.http(), &app, "", RUN, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(stored().await.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    let succeeded = app.journal_of_kind("login.succeeded").await;
    assert_eq!(succeeded[0].data["rehashed"], true);
    // The upgraded hash still opens the account.
    let again = log_in(&app.http(), &app, "", RUN, PASSWORD).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.journal_of_kind("login.succeeded").await[1].data["rehashed"],
        false
    );
}

#[tokio::test]
async fn citizen_add_show_and_list_from_the_command_line() {
    let app = TestApp::new().await;
    let add = [
        "--json",
        "citizen",
        "add",
        "--run",
        "12345678-5",
        "--given-names",
        "María Carmen",
        "--family-names",
        "Del Río González",
        "--email",
        "maria@example.cl",
        "--password-stdin",
    ];
    let created = app.cli_stdin(&add, &format!("{PASSWORD}\n"));
    assert!(created.success, "{}", created.stderr);
    let account = created.json();
    assert_eq!(account["run"], RUN);
    assert_eq!(account["given_names"], "María Carmen");
    assert_eq!(account["email"], "maria@example.cl");
    assert_eq!(account["has_password"], true);
    assert_eq!(account["status"], "active");

    // The account works for logging in.
    let done = log_in(&app.http(), &app, "", RUN, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    let duplicate = app.cli_stdin(&add, &format!("{PASSWORD}\n"));
    assert!(!duplicate.success);
    assert!(
        duplicate.stderr.contains("already exists"),
        "{}",
        duplicate.stderr
    );

    let weak = app.cli_stdin(
        &[
            "citizen",
            "add",
            "--run",
            "11.111.111-1",
            "--given-names",
            "Pedro",
            "--family-names",
            "Soto",
            "--password-stdin",
        ],
        "pedro soto 1234\n",
    );
    assert!(!weak.success);
    assert!(
        weak.stderr.contains(
            "weak password: The password cannot contain your given names or family names."
        ),
        "{}",
        weak.stderr
    );
    let common = app.cli_stdin(
        &[
            "citizen",
            "add",
            "--run",
            "11.111.111-1",
            "--given-names",
            "Pedro",
            "--family-names",
            "Soto",
            "--password-stdin",
        ],
        "qwertyuiop2024\n",
    );
    assert!(!common.success);
    assert!(common.stderr.contains("too common"), "{}", common.stderr);

    let bad_run = app.cli(&[
        "citizen",
        "add",
        "--run",
        "12.345.678-9",
        "--given-names",
        "X Y Z",
        "--family-names",
        "W",
    ]);
    assert!(!bad_run.success);
    assert!(
        bad_run.stderr.contains("not a valid RUN"),
        "{}",
        bad_run.stderr
    );
    assert!(bad_run.stderr.contains("check digit"), "{}", bad_run.stderr);

    let shown = app.cli(&["--json", "citizen", "show", "--run", "123456785"]);
    assert!(shown.success, "{}", shown.stderr);
    assert_eq!(shown.json()["id"], account["id"]);
    let missing = app.cli(&["citizen", "show", "--run", "11.111.111-1"]);
    assert!(!missing.success);
    assert!(
        missing.stderr.contains("no account has RUN 11.111.111-1"),
        "{}",
        missing.stderr
    );

    let listed = app.cli(&["--json", "citizen", "list"]);
    assert!(listed.success, "{}", listed.stderr);
    let listed: Value = listed.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["run"], RUN);
    let human = app.cli(&["citizen", "list"]);
    assert!(
        human
            .stdout
            .contains("12.345.678-5  María Carmen Del Río González"),
        "{}",
        human.stdout
    );

    let journal = app.journal_of_kind("account.created").await;
    assert_eq!(journal.len(), 1);
}
