//! The browser flow of the OpenID Connect provider, driven as a relying party and a browser
//! would: discovery, authorization with PKCE through the real login and consent pages, code
//! and refresh-token exchange, userinfo, logout with back-channel notices, PAR, form_post,
//! the ClaveÚnica-compatible endpoints, and what happens to bad, replayed and hostile input.

use clave_idp::clients::NewClient;
use clave_idp::oidc::flow::backchannel::deliver_due;
use openidconnect::{OAuth2TokenResponse, TokenResponse as _};
use serde_json::json;

use crate::support::TestApp;

mod compat;
mod hostile;
mod logout;
mod requests;
use crate::support::rp::{
    Browser, LogoutListener, OnConsent, PASSWORD, POST_LOGOUT_URI, REDIRECT_URI, RUN, Registered,
    Rp, citizen, jwt_parts, post_form, redeem, register, userinfo, verify_with_jwks, web_client,
};

/// How many journal entries of `kind` there are.
async fn journaled(app: &TestApp, kind: &str) -> usize {
    app.journal_of_kind(kind).await.len()
}

/// The `sid` claim of a raw ID token.
fn sid_of(id_token: &str) -> String {
    jwt_parts(id_token).1["sid"].as_str().unwrap().to_owned()
}

/// An authorization URL for `client` with PKCE (the verifier is returned) and extra params.
fn authorize_url(app: &TestApp, client: &Registered, extra: &[(&str, &str)]) -> (String, String) {
    let verifier = clave_common::id::random_token(32);
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &client.client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid profile"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    let query = serde_urlencoded::to_string(&params).unwrap();
    (format!("{}/oauth2/authorize?{query}", app.url), verifier)
}

#[tokio::test]
async fn a_relying_party_runs_the_code_flow_from_discovery_to_back_channel_logout() {
    let mut listener = LogoutListener::start(0).await;
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let client = register(
        &app,
        NewClient {
            backchannel_logout_uri: Some(listener.uri.clone()),
            ..web_client("Portal de Trámites")
        },
    )
    .await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);

    // The code flow with PKCE through the real login and consent pages.
    let (tokens, nonce) = rp.sign_in(&mut browser, &["profile", "email", "run"]).await;
    assert_eq!(browser.visited.first().map(String::as_str), Some("/login"));
    assert!(
        browser.visited.iter().any(|p| p == "/consent"),
        "{:?}",
        browser.visited
    );
    let claims = rp.id_claims(&tokens, Some(&nonce));
    assert_eq!(claims.issuer().as_str(), app.url);
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:clave:loa:1"
    );
    assert!(
        claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .any(|m| m.as_str() == "pwd")
    );
    assert!(claims.auth_time().is_some());
    // Pairwise by default: the client never sees the account id.
    let sub = claims.subject().as_str().to_owned();
    assert_ne!(sub, account.id);
    let id_token = tokens.id_token().unwrap().to_string();
    let session_id = sid_of(&id_token);
    // Only protocol claims in the ID token; the person is at userinfo.
    assert!(jwt_parts(&id_token).1.get("given_name").is_none());

    // Userinfo through the library, then raw for the `run` claim.
    let info = rp.userinfo(tokens.access_token()).await;
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(
        info.given_name().unwrap().get(None).unwrap().as_str(),
        "María Carmen"
    );
    assert_eq!(
        info.family_name().unwrap().get(None).unwrap().as_str(),
        "Del Río González"
    );
    assert_eq!(info.email().unwrap().as_str(), "maria@example.cl");
    let (status, raw) = userinfo(&app.url, tokens.access_token().secret()).await;
    assert_eq!(status, 200);
    assert_eq!(raw["run"], "12.345.678-5");
    assert_eq!(
        raw["rol_unico"],
        json!({"numero": 12_345_678, "DV": "5", "tipo": "RUN"})
    );

    // Refresh rotates the refresh token and returns a fresh ID token for the same subject.
    let first_refresh = tokens.refresh_token().unwrap();
    let refreshed = rp.refresh(first_refresh).await;
    let second_refresh = refreshed.refresh_token().unwrap();
    assert_ne!(first_refresh.secret(), second_refresh.secret());
    let again = rp.id_claims(&refreshed, None);
    assert_eq!(again.subject().as_str(), sub);

    // A new signing key: tokens signed with it verify against the republished keys, and
    // the old key's tokens still do.
    let old_kid = jwt_parts(&id_token).0["kid"].clone();
    let rotated = app.cli(&["keys", "rotate"]);
    assert!(rotated.success, "{}", rotated.stderr);
    // The server re-reads its keys after its short signing cache lapses.
    app.advance(time::Duration::seconds(
        clave_idp::keys::SIGNING_CACHE_SECS + 1,
    ));
    let rp = Rp::discover(&app, &client).await;
    let after_rotation = rp.refresh(second_refresh).await;
    let new_id_token = after_rotation.id_token().unwrap().to_string();
    assert_ne!(jwt_parts(&new_id_token).0["kid"], old_kid);
    assert_eq!(rp.id_claims(&after_rotation, None).subject().as_str(), sub);
    assert_eq!(rp.id_claims(&refreshed, None).subject().as_str(), sub);

    // RP-initiated logout with a hint for this very session: no confirmation needed.
    let logout = browser
        .http
        .get(format!("{}/oauth2/logout", app.url))
        .query(&[
            ("id_token_hint", new_id_token.as_str()),
            ("post_logout_redirect_uri", POST_LOGOUT_URI),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    assert_eq!(
        logout.headers()["location"].to_str().unwrap(),
        format!("{POST_LOGOUT_URI}?state=bye")
    );

    // Everything issued in that session stops working at once.
    let (status, body) = userinfo(&app.url, after_rotation.access_token().secret()).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = post_form(
        &format!("{}/oauth2/token", app.url),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                after_rotation.refresh_token().unwrap().secret(),
            ),
        ],
        Some((&client.client_id, client.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // The service hears of it over the back channel.
    let report = deliver_due(&app.app.idp).await.unwrap();
    assert_eq!(report.delivered, 1);
    let logout_token = listener.received().expect("a logout token was delivered");
    let (header, _) = jwt_parts(&logout_token);
    assert_eq!(header["typ"], "logout+jwt");
    let logout_claims = verify_with_jwks(&app.url, &logout_token).await;
    assert_eq!(logout_claims["iss"], app.url);
    assert_eq!(logout_claims["aud"], client.client_id);
    assert_eq!(logout_claims["sub"], sub);
    assert_eq!(logout_claims["sid"], session_id);
    assert!(
        logout_claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object()
    );
    assert!(logout_claims.get("nonce").is_none());
    assert_eq!(journaled(&app, "backchannel.delivered").await, 1);
    assert_eq!(journaled(&app, "consent.approved").await, 1);
    // Nothing is left to send.
    assert_eq!(deliver_due(&app.app.idp).await.unwrap().delivered, 0);
}

#[tokio::test]
async fn codes_are_single_use_bound_to_the_verifier_and_short_lived() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Registro Civil")).await;
    let mut browser = Browser::new(&app);
    let (url, verifier) = authorize_url(&app, &client, &[]);
    let landing = browser
        .go(&url, Some((RUN, PASSWORD)), OnConsent::Approve)
        .await;
    assert_eq!(landing.param("state").as_deref(), Some("st-123"));
    assert_eq!(landing.param("iss").as_deref(), Some(app.url.as_str()));
    let code = landing.code();

    // A wrong verifier, a wrong secret and a wrong redirect URI are all refused.
    let (status, body) = redeem(
        &app.url,
        &client,
        &code,
        &clave_common::id::random_token(32),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let wrong_secret = Registered {
        secret: Some("not-the-secret".into()),
        ..client.clone()
    };
    let (status, body) = redeem(&app.url, &wrong_secret, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = post_form(
        &format!("{}/oauth2/token", app.url),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
            ("code_verifier", &verifier),
        ],
        Some((&client.client_id, client.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // The right one works once.
    let (status, tokens) = redeem(&app.url, &client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app.url, &access).await.0, 200);

    // A replay is refused and revokes everything the code gave.
    let (status, body) = redeem(&app.url, &client, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(userinfo(&app.url, &access).await.0, 401);
    let (status, body) = post_form(
        &format!("{}/oauth2/token", app.url),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        Some((&client.client_id, client.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(journaled(&app, "code.replayed").await, 1);

    // A code not redeemed within its lifetime is dead (single sign-on: no pages this time).
    let (url, verifier) = authorize_url(&app, &client, &[]);
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    let code = landing.code();
    app.advance(time::Duration::seconds(app.config.tokens.code_ttl_secs + 1));
    let (status, body) = redeem(&app.url, &client, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Tesorería")).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let (tokens, _) = rp.sign_in(&mut browser, &["profile"]).await;
    let first = tokens.refresh_token().unwrap().clone();
    let second = rp.refresh(&first).await;

    // A narrower scope is fine; a wider one is not.
    let token_url = format!("{}/oauth2/token", app.url);
    let basic = Some((client.client_id.as_str(), client.secret.as_deref().unwrap()));
    let (status, body) = post_form(
        &token_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.refresh_token().unwrap().secret()),
            ("scope", "openid email"),
        ],
        basic,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    let (status, narrowed) = post_form(
        &token_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second.refresh_token().unwrap().secret()),
            ("scope", "openid"),
        ],
        basic,
    )
    .await;
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "openid");
    let (_, info) = userinfo(&app.url, narrowed["access_token"].as_str().unwrap()).await;
    assert!(info.get("given_name").is_none(), "{info}");
    let latest = narrowed["refresh_token"].as_str().unwrap().to_owned();
    let latest_access = narrowed["access_token"].as_str().unwrap().to_owned();

    // Presenting the first token again: the whole family dies, the newest member included.
    let (status, body) = post_form(
        &token_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first.secret()),
        ],
        basic,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = post_form(
        &token_url,
        &[("grant_type", "refresh_token"), ("refresh_token", &latest)],
        basic,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(userinfo(&app.url, &latest_access).await.0, 401);
    assert_eq!(journaled(&app, "refresh.replayed").await, 1);

    // Another client cannot use this client's refresh tokens.
    let other = register(&app, web_client("Otro")).await;
    let (tokens, _) = rp.sign_in(&mut browser, &["profile"]).await;
    let (status, body) = post_form(
        &token_url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token().unwrap().secret()),
        ],
        Some((&other.client_id, other.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

/// Requests `url` and expects clave's HTML error page, not a redirect.
async fn expect_error_page(app: &TestApp, url: &str, needle: &str) {
    let response = Browser::new(app).http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400, "{url}");
    assert!(
        response.headers().get("location").is_none(),
        "{url} redirected"
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = response.text().await.unwrap();
    assert!(body.contains(needle), "{url}: {body}");
}

/// Requests `url` (expecting a redirect to the client) and returns the `error` it carries.
async fn redirected_error(app: &TestApp, url: &str) -> (String, Option<String>) {
    let landing = Browser::new(app).go(url, None, OnConsent::Stop).await;
    assert_eq!(landing.param("state").as_deref(), Some("st-123"), "{url}");
    assert_eq!(
        landing.param("iss").as_deref(),
        Some(app.url.as_str()),
        "{url}"
    );
    (
        landing
            .param("error")
            .unwrap_or_else(|| panic!("no error for {url}")),
        landing.param("error_description"),
    )
}

#[tokio::test]
async fn bad_authorization_requests_are_explained_or_returned_to_the_client() {
    let app = TestApp::new().await;
    let client = register(&app, web_client("Impuestos Internos")).await;
    let public = register(
        &app,
        NewClient {
            public: true,
            ..web_client("App móvil")
        },
    )
    .await;

    // Until the redirect URI is trusted, a page, never a redirect.
    let (url, _) = authorize_url(
        &app,
        &client,
        &[("redirect_uri", "https://attacker.example/cb")],
    );
    expect_error_page(&app, &url, "redirect_uri").await;
    let (url, _) = authorize_url(&app, &client, &[("client_id", "nobody")]);
    expect_error_page(&app, &url, "client_id").await;
    let (url, _) = authorize_url(&app, &client, &[("client_id", "")]);
    expect_error_page(&app, &url, "client_id").await;
    let (url, _) = authorize_url(&app, &client, &[]);
    expect_error_page(&app, &format!("{url}&state=again"), "repeated").await;
    expect_error_page(
        &app,
        &format!("{url}&redirect_uri=https%3A%2F%2Fattacker.example%2F"),
        "repeated",
    )
    .await;
    // The page speaks English when asked.
    let (url, _) = authorize_url(
        &app,
        &client,
        &[("client_id", "nobody"), ("ui_locales", "en")],
    );
    expect_error_page(&app, &url, "Cannot sign in").await;

    // After it, errors go back to the client with state and iss.
    for (extra, expected) in [
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "profile")], "invalid_scope"),
        (vec![("scope", "openid wallet")], "invalid_scope"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("prompt", "sometimes")], "invalid_request"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("response_mode", "fragment")], "invalid_request"),
        (
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let (url, _) = authorize_url(&app, &client, &extra);
        let (error, description) = redirected_error(&app, &url).await;
        assert_eq!(error, expected, "{extra:?}: {description:?}");
        assert!(description.is_some_and(|d| !d.is_empty()));
    }

    // A public client must use PKCE.
    let (url, _) = authorize_url(
        &app,
        &public,
        &[("code_challenge", ""), ("code_challenge_method", "")],
    );
    let (error, description) = redirected_error(&app, &url).await;
    assert_eq!(error, "invalid_request");
    assert!(description.unwrap().contains("PKCE"));

    // A client with one registered URI may leave it out.
    let (url, _) = authorize_url(&app, &client, &[("redirect_uri", ""), ("prompt", "none")]);
    let (error, _) = redirected_error(&app, &url).await;
    assert_eq!(error, "login_required");
}

#[tokio::test]
async fn expired_and_tampered_access_tokens_are_refused() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Salud")).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let (tokens, _) = rp.sign_in(&mut browser, &["profile"]).await;
    let access = tokens.access_token().secret().clone();
    assert_eq!(userinfo(&app.url, &access).await.0, 200);

    let mut tampered = access.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/oauth2/userinfo", app.url))
        .bearer_auth(&tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // The ID token is not an access token.
    let id_token = tokens.id_token().unwrap().to_string();
    assert_eq!(userinfo(&app.url, &id_token).await.0, 401);
    // Never in the URL.
    let response = reqwest::get(format!("{}/oauth2/userinfo?access_token={access}", app.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // POST with the token in the form works.
    let (status, body) = post_form(
        &format!("{}/oauth2/userinfo", app.url),
        &[("access_token", &access)],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    app.advance(time::Duration::seconds(
        app.config.tokens.access_token_ttl_secs + 1,
    ));
    let (status, body) = userinfo(&app.url, &access).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
}

#[tokio::test]
async fn single_sign_on_prompt_login_and_max_age() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let first = register(&app, web_client("Municipalidad")).await;
    let second = register(&app, web_client("Biblioteca")).await;
    let mut browser = Browser::new(&app);
    let (url, first_verifier) = authorize_url(&app, &first, &[]);
    let first_code = browser
        .go(&url, Some((RUN, PASSWORD)), OnConsent::Approve)
        .await
        .code();
    assert_eq!(browser.visited.first().map(String::as_str), Some("/login"));
    let (status, first_tokens) = redeem(&app.url, &first, &first_code, &first_verifier).await;
    assert_eq!(status, 200, "{first_tokens}");

    // The second service may not skip the citizen's approval, even with prompt=none.
    let (url, _) = authorize_url(&app, &second, &[("prompt", "none")]);
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    assert_eq!(landing.param("error").as_deref(), Some("consent_required"));

    // The citizen approves its scopes but types no password.
    browser.visited.clear();
    let (url, verifier) = authorize_url(&app, &second, &[]);
    let landing = browser.go(&url, None, OnConsent::Approve).await;
    assert_eq!(
        browser.visited,
        vec!["/consent", "/oauth2/authorize/resume"]
    );
    let (status, tokens) = redeem(&app.url, &second, &landing.code(), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let first_auth_time = jwt_parts(tokens["id_token"].as_str().unwrap()).1["auth_time"].clone();
    // One session, two services: neither `sub` nor `sid` lets them link the citizen.
    let at_first = jwt_parts(first_tokens["id_token"].as_str().unwrap()).1;
    let at_second = jwt_parts(tokens["id_token"].as_str().unwrap()).1;
    assert_ne!(at_first["sub"], at_second["sub"]);
    assert!(at_first["sid"].is_string() && at_second["sid"].is_string());
    assert_ne!(at_first["sid"], at_second["sid"]);

    // Approved before: straight back with a code, even with prompt=none.
    browser.visited.clear();
    let (url, _) = authorize_url(&app, &second, &[("prompt", "none")]);
    browser.go(&url, None, OnConsent::Stop).await.code();
    assert!(browser.visited.is_empty(), "{:?}", browser.visited);

    // prompt=consent asks again; prompt=login asks for the password again.
    let (url, _) = authorize_url(&app, &second, &[("prompt", "consent")]);
    browser.go(&url, None, OnConsent::Approve).await.code();
    assert!(browser.visited.iter().any(|p| p == "/consent"));
    browser.visited.clear();
    let (url, _) = authorize_url(&app, &second, &[("prompt", "login")]);
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    assert!(
        matches!(&landing, crate::support::rp::Landing::Page { path, .. } if path == "/login"),
        "{landing:?}"
    );
    browser.visited.clear();
    let landing = browser
        .go(&url, Some((RUN, PASSWORD)), OnConsent::Stop)
        .await;
    landing.code();
    assert_eq!(browser.visited.first().map(String::as_str), Some("/login"));

    // max_age: a login older than the client accepts means a new one.
    app.advance(time::Duration::seconds(120));
    browser.visited.clear();
    let (url, _) = authorize_url(&app, &second, &[("max_age", "600")]);
    browser.go(&url, None, OnConsent::Stop).await.code();
    assert!(browser.visited.is_empty(), "{:?}", browser.visited);
    let (url, verifier) = authorize_url(&app, &second, &[("max_age", "60")]);
    let landing = browser
        .go(&url, Some((RUN, PASSWORD)), OnConsent::Stop)
        .await;
    assert_eq!(browser.visited.first().map(String::as_str), Some("/login"));
    let (status, tokens) = redeem(&app.url, &second, &landing.code(), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let auth_time = jwt_parts(tokens["id_token"].as_str().unwrap()).1["auth_time"].clone();
    assert!(auth_time.as_i64().unwrap() >= first_auth_time.as_i64().unwrap() + 120);
}
