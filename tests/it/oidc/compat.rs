//! A service integrated with ClaveÚnica moves to clave by changing its base URL: the same
//! paths, parameters and userinfo shape.

use serde_json::json;

use crate::support::TestApp;
use crate::support::rp::{
    Browser, OnConsent, PASSWORD, REDIRECT_URI, RUN, citizen, jwt_parts, post_form, register,
    web_client,
};

#[tokio::test]
async fn the_claveunica_endpoints_answer_as_claveunica_did() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Servicio de siempre")).await;
    let secret = client.secret.clone().unwrap();

    // What an existing integration sends: no PKCE, the `name` scope, trailing slashes.
    let query = serde_urlencoded::to_string([
        ("client_id", client.client_id.as_str()),
        ("response_type", "code"),
        ("scope", "openid run name"),
        ("redirect_uri", REDIRECT_URI),
        ("state", "abc123"),
    ])
    .unwrap();
    let mut browser = Browser::new(&app);
    let landing = browser
        .go(
            &format!("{}/openid/authorize/?{query}", app.url),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    assert_eq!(landing.param("state").as_deref(), Some("abc123"));

    let (status, tokens) = post_form(
        &format!("{}/openid/token/", app.url),
        &[
            ("client_id", &client.client_id),
            ("client_secret", &secret),
            ("redirect_uri", REDIRECT_URI),
            ("grant_type", "authorization_code"),
            ("code", &landing.code()),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let sub = jwt_parts(tokens["id_token"].as_str().unwrap()).1["sub"].clone();
    let access = tokens["access_token"].as_str().unwrap();

    let response = reqwest::Client::new()
        .post(format!("{}/openid/userinfo/", app.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "sub": sub,
            "RolUnico": {"numero": 12_345_678, "DV": "5", "tipo": "RUN"},
            "name": {"nombres": ["María", "Carmen"], "apellidos": ["Del Río", "González"]}
        })
    );

    // Without a valid bearer: 401 with a challenge.
    let response = reqwest::Client::new()
        .post(format!("{}/openid/userinfo/", app.url))
        .bearer_auth("nonsense")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}
