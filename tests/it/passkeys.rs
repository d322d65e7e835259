//! Passkeys end to end: registration, second factor and passwordless login, first with a
//! software authenticator over HTTP (for the protocol's refusals), then in a real Chromium
//! with a virtual authenticator through the real pages and `passkey.js`.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::support::TestApp;
use crate::support::accounts::{get, log_in};
use crate::support::browser::{Browser, Callback, Page};
use crate::support::rp::{self, PASSWORD, RUN};
use clave_idp::passkey::softkey::SoftKey;

/// A logged-in browser (cookie-keeping client) and its CSRF token.
struct LoggedIn {
    http: reqwest::Client,
    csrf: String,
}

async fn logged_in(app: &TestApp) -> LoggedIn {
    let http = app.http();
    let done = log_in(&http, app, "", RUN, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = get(&http, app, "/me/passkeys").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page
        .field("csrf")
        .expect("the passkey page has a CSRF token");
    LoggedIn { http, csrf }
}

/// POSTs JSON with the CSRF header; the status and the JSON answer.
async fn call(
    http: &reqwest::Client,
    app: &TestApp,
    path: &str,
    csrf: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = http.post(app.at(path)).json(&body);
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let json = response.json().await.unwrap_or(Value::Null);
    (status, json)
}

fn rp_id(app: &TestApp) -> String {
    url::Url::parse(&app.url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned()
}

/// Registers `key` for the logged-in citizen through the JSON endpoints.
async fn register(app: &TestApp, who: &LoggedIn, key: &mut SoftKey, name: &str) -> Value {
    let (status, options) = call(
        &who.http,
        app,
        "/webauthn/register/start",
        Some(&who.csrf),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let credential = key.register(&options);
    let (status, done) = call(
        &who.http,
        app,
        "/webauthn/register/finish",
        Some(&who.csrf),
        json!({"ceremony": options["ceremony"], "credential": credential, "name": name}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    done
}

/// A browser with no session yet but a CSRF token (from the login page).
async fn anonymous(app: &TestApp) -> LoggedIn {
    let http = app.http();
    let page = get(&http, app, "/login").await;
    let csrf = page.field("csrf").unwrap();
    LoggedIn { http, csrf }
}

#[tokio::test]
async fn a_passkey_registered_over_http_logs_in_without_a_password() {
    let app = TestApp::on_localhost().await;
    let account = rp::citizen(&app).await;
    let who = logged_in(&app).await;
    let mut key = SoftKey::new(&rp_id(&app), &app.url);
    let done = register(&app, &who, &mut key, "Llave azul").await;
    assert_eq!(done["passkey"]["name"], "Llave azul");

    // The page lists it, by name, never used.
    let page = get(&who.http, &app, "/me/passkeys").await;
    assert!(page.body.contains("Llave azul"), "{}", page.body);
    assert!(page.body.contains("Nunca"));

    // Another browser logs in with it alone.
    let other = anonymous(&app).await;
    let (status, options) = call(
        &other.http,
        &app,
        "/webauthn/login/start",
        Some(&other.csrf),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["mediation"], "conditional");
    let assertion = key.assert(&options);
    let (status, done) = call(
        &other.http,
        &app,
        "/webauthn/login/finish",
        Some(&other.csrf),
        json!({"ceremony": options["ceremony"], "credential": assertion}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/");
    let sessions = app
        .app
        .idp
        .sessions()
        .list_active(&account.id)
        .await
        .unwrap();
    let newest = &sessions[0];
    assert_eq!(newest.acr, "urn:clave:loa:3");
    assert_eq!(newest.amr, vec!["hwk", "user", "mfa"]);

    // The same answer again is refused: its ceremony is spent.
    let (status, again) = call(
        &other.http,
        &app,
        "/webauthn/login/finish",
        Some(&other.csrf),
        json!({"ceremony": options["ceremony"], "credential": assertion}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(again["error"], "expired");

    let used = app.journal_of_kind("passkey.used").await;
    assert_eq!(used.len(), 1);
    let registered = app.journal_of_kind("passkey.registered").await;
    assert_eq!(registered.len(), 1);
}

/// Starts a passwordless login in `who`'s browser; the options.
async fn login_options(app: &TestApp, who: &LoggedIn) -> Value {
    let (status, options) = call(
        &who.http,
        app,
        "/webauthn/login/start",
        Some(&who.csrf),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    options
}

/// Finishes a passwordless login with `credential`; the status and answer.
async fn login_finish(
    app: &TestApp,
    who: &LoggedIn,
    options: &Value,
    credential: Value,
) -> (StatusCode, Value) {
    call(
        &who.http,
        app,
        "/webauthn/login/finish",
        Some(&who.csrf),
        json!({"ceremony": options["ceremony"], "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn a_ceremony_begun_on_one_node_finishes_on_another() {
    let app = TestApp::on_localhost().await;
    let account = rp::citizen(&app).await;
    let who = logged_in(&app).await;
    let mut key = SoftKey::new(&rp_id(&app), &app.url);
    register(&app, &who, &mut key, "").await;

    let node = app.second_node().await;
    let first = anonymous(&app).await;
    let options = login_options(&app, &first).await;
    let answer = key.assert(&options);
    // The browser's next request reaches the other node (same issuer, same database).
    let second = anonymous(&node).await;
    let (status, done) = call(
        &second.http,
        &node,
        "/webauthn/login/finish",
        Some(&second.csrf),
        json!({"ceremony": options["ceremony"], "credential": answer}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    // … and the first node knows the ceremony is spent.
    let (status, again) = login_finish(&app, &first, &options, answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    let used = app.app.idp.passkeys().list(&account.id).await.unwrap();
    assert!(used[0].last_used_at.is_some());
}

#[tokio::test]
async fn the_protocol_refuses_what_a_phisher_or_a_clone_would_send() {
    let app = TestApp::on_localhost().await;
    rp::citizen(&app).await;
    let who = logged_in(&app).await;
    let mut key = SoftKey::new(&rp_id(&app), &app.url);
    register(&app, &who, &mut key, "").await;
    let other = anonymous(&app).await;

    // Wrong origin: the answer was made on another site (a phishing copy).
    let options = login_options(&app, &other).await;
    key.origin = "https://clave.example.evil".into();
    let answer = key.assert(&options);
    key.origin = app.url.clone();
    let (status, body) = login_finish(&app, &other, &options, answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "wrong origin: {body}");
    assert_eq!(body["error"], "refused");

    // Wrong challenge: signed for another ceremony's challenge.
    let first = login_options(&app, &other).await;
    let second = login_options(&app, &other).await;
    let answer = key.assert(&first);
    let (status, body) = login_finish(&app, &other, &second, answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "wrong challenge: {body}");

    // A good login moves the stored counter forward …
    key.counter = 40;
    let options = login_options(&app, &other).await;
    let answer = key.assert(&options);
    let (status, body) = login_finish(&app, &other, &options, answer.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // … its answer cannot be replayed against a new ceremony …
    let options = login_options(&app, &other).await;
    let (status, body) = login_finish(&app, &other, &options, answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "replayed assertion: {body}");
    // … and a clone behind it is refused, even with the right challenge and signature.
    let options = login_options(&app, &other).await;
    let challenge = options["publicKey"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = key.assert_with(&challenge, 7);
    let (status, body) = login_finish(&app, &other, &options, answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "counter regression: {body}");

    // Unknown credential: a key this server never registered, claiming the same citizen.
    let mut stranger = SoftKey::new(&rp_id(&app), &app.url);
    stranger.user_handle = key.user_handle.clone();
    let options = login_options(&app, &other).await;
    let answer = stranger.assert(&options);
    let (status, body) = login_finish(&app, &other, &options, answer).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "unknown credential: {body}");

    // Without the CSRF header nothing starts.
    let (status, body) = call(&other.http, &app, "/webauthn/login/start", None, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "invalid_csrf");

    // Only one login succeeded.
    assert_eq!(app.journal_of_kind("passkey.used").await.len(), 1);
}

/// Answers a second-factor ceremony with `key` in `who`'s browser.
async fn second_factor(app: &TestApp, who: &LoggedIn, key: &mut SoftKey) {
    let (status, options) = call(
        &who.http,
        app,
        "/webauthn/second-factor/start",
        Some(&who.csrf),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let assertion = key.assert(&options);
    let (status, done) = call(
        &who.http,
        app,
        "/webauthn/second-factor/finish",
        Some(&who.csrf),
        json!({"ceremony": options["ceremony"], "credential": assertion}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/");
}

#[tokio::test]
async fn changing_passkeys_needs_a_fresh_login_and_is_journaled() {
    let app = TestApp::on_localhost().await;
    let account = rp::citizen(&app).await;
    let who = logged_in(&app).await;
    let mut key = SoftKey::new(&rp_id(&app), &app.url);
    register(&app, &who, &mut key, "Teléfono").await;
    let passkey_id = app.app.idp.passkeys().list(&account.id).await.unwrap()[0]
        .id
        .clone();

    // With a passkey on the account, a password-only session may no longer change it.
    let refused = crate::support::accounts::post(
        &who.http,
        &app,
        &format!("/me/passkeys/{passkey_id}/rename"),
        &[("csrf", &who.csrf), ("name", "Teléfono de trabajo")],
    )
    .await;
    assert_eq!(
        refused.location.as_deref(),
        Some("/me/passkeys?done=reauth")
    );
    second_factor(&app, &who, &mut key).await;
    let session = &app
        .app
        .idp
        .sessions()
        .list_active(&account.id)
        .await
        .unwrap()[0];
    assert_eq!(session.acr, "urn:clave:loa:3");
    assert_eq!(session.amr, vec!["pwd", "hwk", "user", "mfa"]);

    // After the passkey, renaming works through the plain form.
    let renamed = crate::support::accounts::post(
        &who.http,
        &app,
        &format!("/me/passkeys/{passkey_id}/rename"),
        &[("csrf", &who.csrf), ("name", "Teléfono de trabajo")],
    )
    .await;
    assert_eq!(renamed.location.as_deref(), Some("/me/passkeys?done=saved"));
    assert_eq!(
        app.app.idp.passkeys().list(&account.id).await.unwrap()[0].name,
        "Teléfono de trabajo"
    );

    // Ten minutes later the login is no longer fresh: no deletion, no new registration.
    app.advance(time::Duration::minutes(10));
    let refused = crate::support::accounts::post(
        &who.http,
        &app,
        &format!("/me/passkeys/{passkey_id}/delete"),
        &[("csrf", &who.csrf)],
    )
    .await;
    assert_eq!(
        refused.location.as_deref(),
        Some("/me/passkeys?done=reauth")
    );
    assert_eq!(app.app.idp.passkeys().count(&account.id).await.unwrap(), 1);
    let (status, body) = call(
        &who.http,
        &app,
        "/webauthn/register/start",
        Some(&who.csrf),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "reauthentication_required");

    // Using the passkey again makes the session fresh again.
    second_factor(&app, &who, &mut key).await;
    let deleted = crate::support::accounts::post(
        &who.http,
        &app,
        &format!("/me/passkeys/{passkey_id}/delete"),
        &[("csrf", &who.csrf)],
    )
    .await;
    assert_eq!(deleted.location.as_deref(), Some("/me/passkeys?done=saved"));
    assert_eq!(app.app.idp.passkeys().count(&account.id).await.unwrap(), 0);
    assert_eq!(app.journal_of_kind("passkey.deleted").await.len(), 1);
    assert_eq!(app.journal_of_kind("passkey.renamed").await.len(), 1);
}

/// Starts an authorization request in the page; returns the PKCE verifier.
async fn authorize(
    page: &Page<'_>,
    app: &TestApp,
    client_id: &str,
    callback: &str,
    extra: &str,
) -> String {
    let verifier = clave_common::id::random_token(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let url = format!(
        "{}/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=st&nonce=n&code_challenge={challenge}&code_challenge_method=S256{extra}",
        app.url,
        url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>(),
    );
    page.goto(&url).await;
    verifier
}

/// Waits for the service's callback (approving consent on the way) and redeems the code;
/// returns the ID token's claims.
async fn finish_at_service(
    page: &Page<'_>,
    app: &TestApp,
    client: &rp::Registered,
    callback: &Callback,
    verifier: &str,
) -> Value {
    let landed = page
        .wait_until_loaded(|url| url.starts_with(&callback.url) || url.contains("/consent"))
        .await;
    if landed.contains("/consent") {
        page.click("button[name=decision][value=approve]").await;
        page.wait_until_loaded(|url| url.starts_with(&callback.url))
            .await;
    }
    let query = callback.received.lock().unwrap().last().cloned().unwrap();
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    let (status, tokens) = rp::post_form(
        &app.at("/oauth2/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", &callback.url),
            ("code_verifier", verifier),
            ("client_id", &client.client_id),
            (
                "client_secret",
                client.secret.as_deref().unwrap_or_default(),
            ),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    rp::jwt_parts(tokens["id_token"].as_str().unwrap()).1
}

/// Waits until the element matching `selector` is rendered visible (its script has run).
async fn wait_visible(page: &Page<'_>, selector: &str) {
    let script = format!(
        "(() => {{ const el = document.querySelector({}); return !!el && el.offsetParent !== null; }})()",
        json!(selector)
    );
    for _ in 0..200 {
        if page.eval(&script).await == json!(true) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{selector} never became visible: {}", page.text().await);
}

#[tokio::test]
async fn chromium_registers_a_passkey_and_logs_in_with_it_at_level_3() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::on_localhost().await;
    let account = rp::citizen(&app).await;
    let callback = Callback::start().await;
    let mut new = rp::web_client("Servicio de Prueba");
    new.redirect_uris = vec![callback.url.clone()];
    let client = rp::register(&app, new).await;

    let page = browser.new_page().await;
    page.call("WebAuthn.enable", json!({})).await;
    let authenticator = page
        .call(
            "WebAuthn.addVirtualAuthenticator",
            json!({"options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            }}),
        )
        .await["authenticatorId"]
        .clone();

    // Log in with the password and register a passkey on the passkey page.
    page.goto(&app.at("/login")).await;
    page.fill("input[name=run]", RUN).await;
    page.fill("input[name=password]", PASSWORD).await;
    page.click("form button[type=submit]").await;
    page.wait_until_loaded(|url| !url.contains("/login")).await;
    page.goto(&app.at("/me/passkeys")).await;
    wait_visible(&page, "#passkey-register").await;
    page.fill("#passkey-name", "Portátil").await;
    page.click("#passkey-register").await;
    page.wait_until_loaded(|url| url.contains("done=saved"))
        .await;
    assert_eq!(
        page.eval("document.querySelector('#passkeys input[name=name]').value")
            .await,
        "Portátil"
    );
    let credentials = page
        .call(
            "WebAuthn.getCredentials",
            json!({"authenticatorId": authenticator}),
        )
        .await;
    let credentials = credentials["credentials"].as_array().unwrap().clone();
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0]["isResidentCredential"], true, "discoverable");
    assert_eq!(app.app.idp.passkeys().count(&account.id).await.unwrap(), 1);

    // As second factor: a service asks for level 3; the password session is stepped up.
    let verifier = authorize(
        &page,
        &app,
        &client.client_id,
        &callback.url,
        "&acr_values=urn%3Aclave%3Aloa%3A3",
    )
    .await;
    page.wait_until_loaded(|url| url.contains("/login/second-factor"))
        .await;
    wait_visible(&page, "#passkey-second-factor").await;
    page.click("#passkey-second-factor").await;
    let claims = finish_at_service(&page, &app, &client, &callback, &verifier).await;
    assert_eq!(claims["acr"], "urn:clave:loa:3", "{claims}");
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    for method in ["pwd", "hwk", "user", "mfa"] {
        assert!(
            amr.iter().any(|m| m == method),
            "{method} missing from {amr:?}"
        );
    }

    // Passwordless from the RUN field's autofill (conditional UI): the virtual authenticator
    // answers the request the page makes on load, without a click.
    page.call("Network.clearBrowserCookies", json!({})).await;
    let verifier = authorize(&page, &app, &client.client_id, &callback.url, "").await;
    let claims = finish_at_service(&page, &app, &client, &callback, &verifier).await;
    assert_passwordless_level_3(&claims);

    // Passwordless from the button, in a browser without conditional UI.
    page.call("Network.clearBrowserCookies", json!({})).await;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);"}),
    )
    .await;
    let verifier = authorize(&page, &app, &client.client_id, &callback.url, "").await;
    assert!(page.url().await.contains("/login"));
    let autocomplete = page
        .eval("document.querySelector('input[name=run]').getAttribute('autocomplete')")
        .await;
    assert_eq!(
        autocomplete, "username webauthn",
        "conditional UI needs the webauthn token"
    );
    wait_visible(&page, "#passkey-login").await;
    assert_eq!(
        page.eval("document.documentElement.getAttribute('data-passkey-autofill')")
            .await,
        Value::Null,
        "no autofill request where conditional UI is missing"
    );
    page.click("#passkey-login").await;
    let claims = finish_at_service(&page, &app, &client, &callback, &verifier).await;
    assert_passwordless_level_3(&claims);

    let uses = app.journal_of_kind("passkey.used").await;
    let methods: Vec<&str> = uses
        .iter()
        .map(|u| u.data["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["second_factor", "passwordless", "passwordless"]);
}

fn assert_passwordless_level_3(claims: &Value) {
    assert_eq!(claims["acr"], "urn:clave:loa:3", "{claims}");
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    for method in ["hwk", "user", "mfa"] {
        assert!(
            amr.iter().any(|m| m == method),
            "{method} missing from {amr:?}"
        );
    }
    assert!(!amr.iter().any(|m| m == "pwd"), "{amr:?}");
}

#[tokio::test]
async fn without_webauthn_the_login_page_is_the_plain_password_form() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::on_localhost().await;
    rp::citizen(&app).await;
    let page = browser.new_page().await;
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "delete window.PublicKeyCredential;"}),
    )
    .await;
    page.goto(&app.at("/login")).await;
    // The deferred script has run by the time the document is complete.
    assert_eq!(
        page.eval("typeof window.PublicKeyCredential").await,
        "undefined"
    );
    assert_eq!(
        page.eval("document.querySelector('#passkey-login').offsetParent === null")
            .await,
        true,
        "no passkey button where it cannot work"
    );
    page.fill("input[name=run]", RUN).await;
    page.fill("input[name=password]", PASSWORD).await;
    page.click("form button[type=submit]").await;
    let landed = page.wait_until_loaded(|url| !url.contains("/login")).await;
    assert_eq!(landed, app.at("/"));
}

#[tokio::test]
async fn on_an_ip_address_passkeys_are_unavailable_not_broken() {
    // WebAuthn needs a host name as relying-party id; the default test server has an IP.
    let app = TestApp::new().await;
    let browser = anonymous(&app).await;
    let (status, body) = call(
        &browser.http,
        &app,
        "/webauthn/login/start",
        Some(&browser.csrf),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn ids_with_stray_bytes_are_unknown_not_server_errors() {
    let app = TestApp::on_localhost().await;
    let account = rp::citizen(&app).await;
    let who = logged_in(&app).await;
    let mut key = SoftKey::new(&rp_id(&app), &app.url);
    register(&app, &who, &mut key, "Llave").await;
    second_factor(&app, &who, &mut key).await;

    // A ceremony id with a NUL byte (PostgreSQL refuses it in text) is no live ceremony.
    let other = anonymous(&app).await;
    let (status, options) = call(
        &other.http,
        &app,
        "/webauthn/login/start",
        Some(&other.csrf),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let assertion = key.assert(&options);
    let (status, refused) = call(
        &other.http,
        &app,
        "/webauthn/login/finish",
        Some(&other.csrf),
        json!({"ceremony": "abc\u{0}def", "credential": assertion}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"], "expired");
    // The real ceremony is untouched and still finishes.
    let (status, done) = call(
        &other.http,
        &app,
        "/webauthn/login/finish",
        Some(&other.csrf),
        json!({"ceremony": options["ceremony"], "credential": assertion}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");

    // A passkey id with a NUL byte in the path is a passkey that is not there.
    for action in ["rename", "delete"] {
        let answer = crate::support::accounts::post(
            &who.http,
            &app,
            &format!("/me/passkeys/abc%00def/{action}"),
            &[("csrf", &who.csrf), ("name", "Otra")],
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    }
    assert_eq!(app.app.idp.passkeys().count(&account.id).await.unwrap(), 1);
}

#[tokio::test]
async fn where_only_a_passkey_will_do_codes_are_neither_offered_nor_taken() {
    use crate::support::accounts::{input_value, post};
    let app = TestApp::on_localhost().await;
    let account = rp::citizen(&app).await;
    let who = logged_in(&app).await;
    let mut key = SoftKey::new(&rp_id(&app), &app.url);
    register(&app, &who, &mut key, "Llave").await;

    // A citizen whose only second factor is a passkey gets no code form that cannot work.
    let other = app.http();
    log_in(&other, &app, "", RUN, PASSWORD).await;
    let page = get(&other, &app, "/login/second-factor?then=security").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("name=\"code\""), "{}", page.body);
    assert!(
        page.body.contains("necesitas tu llave de acceso"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"passkey-second-factor\""));

    // With recovery codes too, the portal's level 2 offers them …
    let codes = app
        .app
        .idp
        .recovery_codes()
        .generate(&account.id)
        .await
        .unwrap();
    let page = get(&other, &app, "/login/second-factor?then=security").await;
    assert!(page.body.contains("name=\"code\""), "{}", page.body);

    // … but a service asking for level 3 gets the passkey alone, and a code is refused
    // without being spent.
    let registered = rp::register(&app, rp::web_client("Notaría")).await;
    let service = rp::Rp::discover(&app, &registered).await;
    let mut browser = rp::Browser::new(&app);
    let start = service.start(&["profile"], &[("acr_values", "urn:clave:loa:3")]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            rp::OnConsent::Approve,
        )
        .await;
    let rp::Landing::Page { status, path, body } = &landing else {
        panic!("expected the second-factor page: {landing:?}");
    };
    assert_eq!(
        (*status, path.as_str()),
        (200, "/login/second-factor"),
        "{body}"
    );
    assert!(!body.contains("name=\"code\""), "{body}");
    assert!(body.contains("necesitas tu llave de acceso"), "{body}");
    let csrf = input_value(body, "csrf").unwrap();
    let req = input_value(body, "req").unwrap();
    let refused = post(
        &browser.http,
        &app,
        "/login/second-factor",
        &[
            ("csrf", &csrf),
            ("req", &req),
            ("method", "recovery"),
            ("code", &codes[0]),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let summary = app.app.idp.factors().summary(&account.id).await.unwrap();
    assert_eq!(
        usize::try_from(summary.recovery_codes_left).unwrap(),
        codes.len()
    );
    assert!(
        app.journal_of_kind("second_factor.succeeded")
            .await
            .is_empty()
    );
}
