//! RP-initiated logout and back-channel notices.

use clave_idp::clients::NewClient;
use clave_idp::oidc::flow::backchannel::deliver_due;
use openidconnect::{OAuth2TokenResponse, TokenResponse as _};

use super::journaled;
use crate::support::TestApp;
use crate::support::rp::{
    Browser, LogoutListener, POST_LOGOUT_URI, Rp, citizen, form_with, jwt_parts, register,
    userinfo, web_client,
};

#[tokio::test]
async fn logout_without_a_matching_hint_asks_first() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Notaría")).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let (tokens, _) = rp.sign_in(&mut browser, &["profile"]).await;
    let access = tokens.access_token().secret().clone();

    // An unregistered post-logout URI is shown as a problem, never followed.
    let response = browser
        .http
        .get(format!("{}/oauth2/logout", app.url))
        .query(&[
            ("client_id", client.client_id.as_str()),
            ("post_logout_redirect_uri", "https://attacker.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    // A hint that is not one of clave's ID tokens is refused too.
    let response = browser
        .http
        .get(format!("{}/oauth2/logout", app.url))
        .query(&[("id_token_hint", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Without a hint (a link anyone could send): a confirmation page.
    let response = browser
        .http
        .get(format!("{}/oauth2/logout", app.url))
        .query(&[
            ("client_id", client.client_id.as_str()),
            ("post_logout_redirect_uri", POST_LOGOUT_URI),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let confirm_url = format!(
        "{}{}",
        app.url,
        response.headers()["location"].to_str().unwrap()
    );
    assert!(confirm_url.contains("/logout?"), "{confirm_url}");
    // Nothing has ended yet.
    assert_eq!(userinfo(&app.url, &access).await.0, 200);
    let page = browser.http.get(&confirm_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("¿Cerrar sesión?"), "{html}");
    assert!(html.contains("Notaría"), "{html}");
    let form = form_with(&html, "decision", &confirm_url);
    assert!(form.fields.iter().any(|(name, _)| name == "csrf"));
    // Without the CSRF token the form is refused.
    let forged: Vec<(String, String)> = form
        .fields
        .iter()
        .filter(|(name, _)| name != "csrf")
        .cloned()
        .chain([("decision".to_owned(), "logout".to_owned())])
        .collect();
    let refused = browser
        .http
        .post(&form.action)
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(userinfo(&app.url, &access).await.0, 200);

    let done = browser.submit(&form, &[("decision", "logout")]).await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        done.headers()["location"].to_str().unwrap(),
        format!("{POST_LOGOUT_URI}?state=s1")
    );
    assert_eq!(userinfo(&app.url, &access).await.0, 401);

    // With no session left, logout just goes where it was asked to.
    let id_token = tokens.id_token().unwrap().to_string();
    let response = browser
        .http
        .get(format!("{}/oauth2/logout", app.url))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", POST_LOGOUT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        POST_LOGOUT_URI
    );
    // And without a URI, to the portal's signed-out page.
    let response = browser
        .http
        .get(format!("{}/oauth2/logout", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        "/logout/done"
    );
    let page = browser
        .http
        .get(format!("{}/logout/done", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn back_channel_notices_are_retried_with_backoff_and_journaled() {
    let mut listener = LogoutListener::start(1).await;
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(
        &app,
        NewClient {
            backchannel_logout_uri: Some(listener.uri.clone()),
            ..web_client("Correos")
        },
    )
    .await;
    // A second service in the same session, without a back-channel URI: nothing is sent to it.
    let quiet = register(&app, web_client("Sin canal")).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let (tokens, _) = rp.sign_in(&mut browser, &["profile"]).await;
    Rp::discover(&app, &quiet)
        .await
        .sign_in(&mut browser, &["profile"])
        .await;
    let id_token = tokens.id_token().unwrap().to_string();
    let response = browser
        .http
        .get(format!("{}/oauth2/logout", app.url))
        .query(&[("id_token_hint", id_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);

    // The service is down the first time.
    let report = deliver_due(&app.app.idp).await.unwrap();
    assert_eq!((report.delivered, report.failed), (0, 1));
    let first = listener
        .received()
        .expect("the first attempt reached the service");
    assert_eq!(journaled(&app, "backchannel.failed").await, 1);
    // Not again before the backoff has passed.
    assert_eq!(deliver_due(&app.app.idp).await.unwrap(), Default::default());
    app.advance(time::Duration::seconds(11));
    let report = deliver_due(&app.app.idp).await.unwrap();
    assert_eq!((report.delivered, report.failed), (1, 0));
    let second = listener.received().expect("the retry reached the service");
    assert!(
        listener.received().is_none(),
        "one notice per service with a back channel"
    );
    assert_eq!(journaled(&app, "backchannel.delivered").await, 1);
    // Each attempt is a fresh token for the same session.
    let (first, second) = (jwt_parts(&first).1, jwt_parts(&second).1);
    assert_ne!(first["jti"], second["jti"]);
    assert_eq!(first["sid"], second["sid"]);
    assert_eq!(first["sid"], jwt_parts(&id_token).1["sid"]);
}
