//! Cross-site request forgery, swept over the portal: every state-changing form and every
//! WebAuthn call refuses a request without the double-submitted token, or with a token that
//! does not match the browser's cookie, even from a signed-in browser, and changes nothing.

use reqwest::StatusCode;

use crate::callers::cookie_client;
use crate::support::TestApp;
use crate::support::accounts::{get, log_in};
use crate::support::rp::{PASSWORD, RUN, citizen};

/// Every form the portal accepts (paths with an id use a made-up one: the token is checked
/// before anything is looked up).
const FORMS: &[&str] = &[
    "/login",
    "/login/second-factor",
    "/logout",
    "/consent",
    "/activate",
    "/unlock",
    "/me/data",
    "/me/data/email-code",
    "/me/data/corrections",
    "/me/permissions",
    "/me/security",
    "/me/sessions",
    "/me/lock",
    "/me/verify-call",
    "/me/mailbox",
    "/me/mailbox/0190d000-0000-7000-8000-000000000000",
    "/me/sign",
    "/me/sign/0190d000-0000-7000-8000-000000000000",
    "/me/sign/pin",
    "/official/requests",
    "/official/requests/0190d000-0000-7000-8000-000000000000",
    "/official/credentials/0190d000-0000-7000-8000-000000000000",
    "/agent/verify",
    "/agent/start",
    "/agent/unlock",
    "/agent/activation",
    "/agent/factors",
    "/admin/services",
    "/admin/services/0190d000-0000-7000-8000-000000000000",
    "/admin/services/0190d000-0000-7000-8000-000000000000/rotate-secret",
    "/admin/services/0190d000-0000-7000-8000-000000000000/remove",
    "/admin/institutions",
    "/admin/institutions/registro-civil/grant",
    "/admin/institutions/registro-civil/revoke",
    "/admin/attributes",
    "/admin/attributes/birthdate/sources",
    "/admin/attributes/birthdate/sources/revoke",
    "/admin/agents/grant",
    "/admin/agents/revoke",
];

/// The WebAuthn calls, which carry the token in a header (bodies of the right shape, so the
/// token is what is judged).
const WEBAUTHN: &[&str] = &[
    "/webauthn/register/start",
    "/webauthn/register/finish",
    "/webauthn/second-factor/start",
    "/webauthn/second-factor/finish",
    "/webauthn/login/start",
    "/webauthn/login/finish",
    "/me/sign/passkey/start",
    "/me/sign/passkey/finish",
];

#[tokio::test]
async fn every_form_and_webauthn_call_refuses_a_forged_request() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let browser = cookie_client();
    let login = log_in(&browser, &app, "", RUN, PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    // The browser holds a CSRF cookie from the login page; a forger does not know it.
    let real = get(&browser, &app, "/me/sessions")
        .await
        .field("csrf")
        .unwrap();
    let before = app
        .app
        .journal
        .list(Default::default())
        .await
        .unwrap()
        .len();

    for path in FORMS {
        for form in [
            vec![("run", RUN), ("action", "others"), ("confirm", "yes")],
            vec![
                ("csrf", "forged-token-of-the-right-shape-0123456789ab"),
                ("run", RUN),
                ("action", "others"),
                ("confirm", "yes"),
            ],
        ] {
            let response = browser.post(app.at(path)).form(&form).send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} accepted a form without the browser's token"
            );
        }
    }
    for path in WEBAUTHN {
        for token in [None, Some("forged-token-of-the-right-shape-0123456789ab")] {
            let mut request = browser
                .post(app.at(path))
                .header("content-type", "application/json")
                .body(r#"{"ceremony": "0190d000-0000-7000-8000-000000000000", "credential": {}}"#);
            if let Some(token) = token {
                request = request.header("x-csrf-token", token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} accepted a call without the browser's token"
            );
        }
    }
    // Nothing happened: the session is alive and the journal holds no new entry.
    assert_eq!(get(&browser, &app, "/me/data").await.status, StatusCode::OK);
    let after = app
        .app
        .journal
        .list(Default::default())
        .await
        .unwrap()
        .len();
    assert_eq!(before, after);
    // The real token does work (the sweep refused for the token, not for the path).
    let ended = browser
        .post(app.at("/me/sessions"))
        .form(&[("csrf", real.as_str()), ("action", "others")])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
}
