//! What a citizen's real browser does: every journey of the portal walked in headless
//! Chromium with the pages' own links, forms, cookies and scripts, at a phone's and a
//! desktop's size, asserting what the person sees and what the server recorded. With
//! `CLAVE_SCREENSHOTS=DIR` the journeys also save the main pages in DIR.

use std::path::PathBuf;

use base64::Engine;
use sha2::Digest;

use crate::support::TestApp;
use crate::support::browser::{Browser, Callback, Page};
use crate::support::rp::{self, PASSWORD, RUN};

mod account;
mod callers;
mod data;
mod language;

/// The two window sizes every journey is walked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Size {
    /// A small phone held upright: 360 x 740.
    Phone,
    /// A laptop: 1280 x 800.
    Desktop,
}

impl Size {
    fn name(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Desktop => "desktop",
        }
    }

    /// Sizes `page` so.
    pub(crate) async fn apply(self, page: &Page<'_>) {
        match self {
            Self::Phone => page.set_viewport(360, 740, true).await,
            Self::Desktop => page.set_viewport(1280, 800, false).await,
        }
    }
}

/// Checks the page fits the window's width (no sideways scrolling), then, with
/// `CLAVE_SCREENSHOTS=DIR`, saves the whole page as `DIR/{name}-{size}.png` (how the pictures
/// in `docs/screenshots/` are made).
pub(crate) async fn shot(page: &Page<'_>, size: Size, name: &str) {
    assert_eq!(
        page.eval("document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        serde_json::json!(true),
        "{name} scrolls sideways at {} size",
        size.name()
    );
    let Ok(dir) = std::env::var("CLAVE_SCREENSHOTS") else {
        return;
    };
    let path = PathBuf::from(dir).join(format!("{name}-{}.png", size.name()));
    page.screenshot_full_page(&path).await;
}

/// The text of the first element matching `selector`, trimmed; fails when there is none.
pub(crate) async fn text_of(page: &Page<'_>, selector: &str) -> String {
    let value = page
        .eval(&format!(
            "(() => {{ const el = document.querySelector({s}); return el ? el.innerText.trim() : null; }})()",
            s = serde_json::json!(selector)
        ))
        .await;
    value
        .as_str()
        .unwrap_or_else(|| panic!("no element {selector}"))
        .to_owned()
}

/// The `<h1>` the person reads first.
pub(crate) async fn heading(page: &Page<'_>) -> String {
    text_of(page, "h1").await
}

/// Opens the login page and signs in with RUN and password, as a person types them;
/// returns where the browser landed.
pub(crate) async fn sign_in(page: &Page<'_>, app: &TestApp, run: &str, password: &str) -> String {
    page.goto(&app.at("/login")).await;
    page.fill("#run", run).await;
    page.fill("#password", password).await;
    page.click_and_wait("form[action='/login'] button[type=submit]")
        .await
}

/// Follows the link to `href` on the current page, as a click does.
pub(crate) async fn follow(page: &Page<'_>, href: &str) -> String {
    page.click_and_wait(&format!("main a[href='{href}'], header a[href='{href}']"))
        .await
}

/// The code an authenticator app shows at the server's current time for the `otpauth://`
/// URI it was given (its algorithm, digits and period included).
pub(crate) fn totp_from_uri(app: &TestApp, uri: &str) -> String {
    let totp = totp_rs::TOTP::from_url_unchecked(uri).unwrap();
    totp.generate(u64::try_from(app.app.idp.ctx().clock.unix()).unwrap())
}

/// The code for a base32 key, with the usual parameters (SHA-1, 6 digits, 30 s).
pub(crate) fn totp_from_key(app: &TestApp, key: &str) -> String {
    let secret = totp_rs::Secret::Encoded(key.replace(' ', ""))
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        String::new(),
    );
    totp.generate(u64::try_from(app.app.idp.ctx().clock.unix()).unwrap())
}

/// An authorization request of `client` for `scope`, answered at `callback`; the URL and
/// the PKCE verifier.
pub(crate) fn authorize_url(
    app: &TestApp,
    client_id: &str,
    callback: &Callback,
    scope: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut url = url::Url::parse(&app.at("/oauth2/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &callback.url)
        .append_pair("scope", scope)
        .append_pair("state", "st-browser")
        .append_pair("nonce", "n-browser")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra);
    (url.to_string(), verifier)
}

/// The `code` in the last response `callback` received.
pub(crate) fn code_at(callback: &Callback) -> String {
    let query = callback
        .received
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("the service got a response");
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {query}"))
}

/// Redeems a code at the token endpoint as `client` would; the token response.
pub(crate) async fn redeem(
    app: &TestApp,
    client: &rp::Registered,
    callback: &Callback,
    code: &str,
    verifier: &str,
) -> serde_json::Value {
    let secret = client.secret.clone().unwrap_or_default();
    let (status, tokens) = rp::post_form(
        &app.at("/oauth2/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &callback.url),
            ("code_verifier", verifier),
            ("client_id", &client.client_id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn pkce() -> (String, String) {
    let verifier = clave_common::id::random_token(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[tokio::test]
async fn a_citizen_signs_in_with_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    rp::citizen(&app).await;
    let callback = Callback::start().await;
    let mut new = rp::web_client("Servicio de Prueba");
    new.redirect_uris = vec![callback.url.clone()];
    let client = rp::register(&app, new).await;
    let (verifier, challenge) = pkce();
    let authorize = format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile&state=st-123&nonce=n-456&code_challenge={challenge}&code_challenge_method=S256",
        app.url,
        client.client_id,
        url::form_urlencoded::byte_serialize(callback.url.as_bytes()).collect::<String>(),
    );

    let page = browser.new_page().await;
    Size::Desktop.apply(&page).await;
    page.goto(&authorize).await;
    assert!(
        page.url().await.contains("/login"),
        "sent to the login page"
    );
    shot(&page, Size::Desktop, "login-for-service").await;
    assert_eq!(page.eval("document.documentElement.lang").await, "es");
    // Every input is labelled, and the fields carry the names services and scripts rely on.
    assert_eq!(
        page.eval("[...document.querySelectorAll('input:not([type=hidden])')].every(i => i.labels && i.labels.length > 0)")
            .await,
        true
    );
    assert_eq!(
        page.eval("!!document.querySelector('input[name=csrf]')")
            .await,
        true
    );

    // A wrong password first: the page says so and keeps the citizen on the login page.
    page.fill("input[name=run]", RUN).await;
    page.fill("input[name=password]", "not the password at all")
        .await;
    let after_failure = page.click_and_wait("form button[type=submit]").await;
    assert!(after_failure.contains("/login"), "{after_failure}");
    assert!(
        page.eval("!!document.querySelector('[role=alert], .error-summary')")
            .await
            == true,
        "an error summary is shown: {}",
        page.text().await
    );

    page.fill("input[name=run]", RUN).await;
    page.fill("input[name=password]", PASSWORD).await;
    let landed = page.click_and_wait("form button[type=submit]").await;
    if landed.contains("/consent") {
        assert!(
            page.text().await.contains("Servicio de Prueba"),
            "the consent page names the service"
        );
        let back = page
            .click_and_wait("button[name=decision][value=approve]")
            .await;
        assert!(back.starts_with(&callback.url), "{back}");
    } else {
        assert!(landed.starts_with(&callback.url), "{landed}");
    }

    let query = callback
        .received
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("the service got a response");
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], app.url);
    let secret = client.secret.clone().unwrap_or_default();
    let (status, tokens) = rp::post_form(
        &app.at("/oauth2/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", &callback.url),
            ("code_verifier", &verifier),
            ("client_id", &client.client_id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let (_, claims) = rp::jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["acr"], "urn:clave:loa:1");

    // The session cookie the browser holds is HttpOnly: page scripts cannot read it.
    let cookies = page.eval("document.cookie").await;
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("clave_session"),
        "{cookies}"
    );
}

/// The signing journey in a real browser: a service's request waits on the start page, the
/// citizen opens it, reads the document's fingerprint, types a code from their authenticator
/// app and signs; the service then holds the signed document.
#[tokio::test]
async fn a_citizen_signs_a_requested_document_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    let maria = rp::citizen(&app).await;
    let Some(secret) = crate::second_factor::enrolled(&app, &maria).await else {
        return;
    };
    let mut registry = rp::web_client("Registro Civil");
    registry.scopes.push("sign:request".into());
    let registry = rp::register(&app, registry).await;
    let client = app
        .app
        .idp
        .clients()
        .get(&registry.client_id)
        .await
        .unwrap()
        .unwrap();
    let document = b"Solicitud de posesion efectiva";
    let request = app
        .app
        .signer
        .create_request(
            &client,
            serde_json::from_value(serde_json::json!({
                "signer": { "run": RUN },
                "purpose": "Firma de la solicitud de posesión efectiva",
                "format": "cades",
                "level": "B-B",
                "documents": [{ "name": "solicitud.txt", "media_type": "text/plain",
                                "content": base64::engine::general_purpose::STANDARD.encode(document) }],
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    let page = browser.new_page().await;
    Size::Desktop.apply(&page).await;
    page.goto(&app.at("/login")).await;
    page.fill("input[name=run]", RUN).await;
    page.fill("input[name=password]", PASSWORD).await;
    page.click_and_wait("form button[type=submit]").await;
    page.goto(&app.at("/")).await;
    let landed = page.click_and_wait("a[href='/me/sign']").await;
    assert!(landed.ends_with("/me/sign"), "{landed}");
    shot(&page, Size::Desktop, "sign-list").await;
    let opened = page
        .click_and_wait(&format!("a[href='/me/sign/{}']", request.id))
        .await;
    assert!(opened.contains(&request.id), "{opened}");
    shot(&page, Size::Desktop, "sign-request").await;
    let fingerprint = hex_of(&sha2::Sha256::digest(document));
    assert!(
        page.text().await.contains(&fingerprint),
        "the page shows the SHA-256"
    );
    app.advance(time::Duration::seconds(30));
    let code = crate::second_factor::oathtool(&secret, app.app.idp.ctx().clock.unix()).unwrap();
    page.fill("#otp", &code).await;
    let done = page
        .click_and_wait("form[action^='/me/sign/'] button[type=submit]")
        .await;
    assert!(done.contains("/me/sign?done=signed"), "{done}");
    assert!(page.text().await.contains("Los documentos se firmaron."));
    let signed = app.app.signer.request(&request.id).await.unwrap().unwrap();
    assert_eq!(signed.status, "signed");
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
