//! The token service from outside: discovery, the JWKS, the token endpoint with every client
//! authentication method and `client_credentials`, introspection, revocation, key rotation
//! through the CLI ([`cli`]), the client CLI, and hostile input ([`hostile`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clave_idp::clients::NewClient;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::JwsHeader;
use reqwest::StatusCode;
use serde_json::{Value, json};

use clave_common::Clock;

use crate::support::TestApp;

mod cli;
mod hostile;

/// A service client registered through the domain service: (client_id, secret).
async fn service_client(app: &TestApp) -> (String, String) {
    let registered = app
        .app
        .idp
        .clients()
        .register(NewClient {
            name: "Tesorería General".into(),
            scopes: vec!["profile".into(), "email".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        })
        .await
        .unwrap();
    (
        registered.client.client_id,
        registered.client_secret.unwrap(),
    )
}

fn claims_of(jwt: &str, part: usize) -> Value {
    let segment = jwt.split('.').nth(part).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

async fn client_credentials_basic(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.http()
        .post(app.at("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn access_token(app: &TestApp, id: &str, secret: &str) -> String {
    let response = client_credentials_basic(app, id, secret).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn introspect(app: &TestApp, id: &str, secret: &str, token: &str) -> Value {
    let response = app
        .http()
        .post(app.at("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn jwks(app: &TestApp) -> Value {
    app.http()
        .get(app.at("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Checks a token's signature against the published JWKS, as a resource server would.
fn verifies_with(jwks: &Value, token: &str) -> bool {
    let kid = claims_of(token, 0)["kid"].as_str().unwrap().to_owned();
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
    else {
        return false;
    };
    let jwk = Jwk::from_bytes(key.to_string().as_bytes()).unwrap();
    let verifier = josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap();
    josekit::jws::deserialize_compact(token, &verifier).is_ok()
}

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn discovery_describes_the_provider() {
    let app = TestApp::new().await;
    let response = app
        .http()
        .get(app.at("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], app.url.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/oauth2/jwks"),
        ("pushed_authorization_request_endpoint", "/oauth2/par"),
        ("end_session_endpoint", "/oauth2/logout"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("revocation_endpoint", "/oauth2/revoke"),
    ] {
        assert_eq!(doc[field], app.at(path), "{field}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["response_modes_supported"],
        json!(["query", "form_post"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        json!(["pairwise", "public"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["acr_values_supported"],
        json!(["urn:clave:loa:1", "urn:clave:loa:2", "urn:clave:loa:3"])
    );
    assert_eq!(doc["ui_locales_supported"], json!(["es", "en"]));
    for method in [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ] {
        assert!(
            doc["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(method))
        );
    }
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    for scope in ["openid", "profile", "email", "run"] {
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(scope))
        );
    }
    for grant in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(grant))
        );
    }
    for claim in [
        "sub",
        "acr",
        "amr",
        "sid",
        "auth_time",
        "name",
        "email",
        "run",
    ] {
        assert!(
            doc["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(claim))
        );
    }
    for (flag, value) in [
        ("backchannel_logout_supported", true),
        ("backchannel_logout_session_supported", true),
        ("frontchannel_logout_supported", false),
        ("require_pushed_authorization_requests", false),
        ("authorization_response_iss_parameter_supported", true),
        ("claims_parameter_supported", false),
        ("request_parameter_supported", false),
        ("request_uri_parameter_supported", true),
    ] {
        assert_eq!(doc[flag], json!(value), "{flag}");
    }
    assert!(doc["introspection_endpoint_auth_methods_supported"].is_array());
}

#[tokio::test]
async fn the_jwks_publishes_public_signing_keys() {
    let app = TestApp::new().await;
    let response = app.http().get(app.at("/oauth2/jwks")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.contains("max-age=60"), "{cache}");
    let set: Value = response.json().await.unwrap();
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort_unstable();
    assert_eq!(algs, ["ES256", "RS256"]);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "private parameter {private} published"
            );
        }
    }
}

#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let app = TestApp::new().await;
    let (id, secret) = service_client(&app).await;

    let response = client_credentials_basic(&app, &id, &secret).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "profile email");
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("id_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(token, 0)["typ"], "at+jwt");
    let claims = claims_of(token, 1);
    assert_eq!(claims["iss"], app.url.as_str());
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["aud"], id.as_str());
    assert!(claims["jti"].is_string());
    assert!(verifies_with(&jwks(&app).await, token));

    let post = app
        .http()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "email"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::OK);
    assert_eq!(post.json::<Value>().await.unwrap()["scope"], "email");

    // A scope beyond the registration.
    let wide = app
        .http()
        .post(app.at("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "run")])
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(wide).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_scope");
}

#[tokio::test]
async fn client_authentication_failures() {
    let app = TestApp::new().await;
    let (id, secret) = service_client(&app).await;

    let wrong = client_credentials_basic(&app, &id, "not-the-secret").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let challenge = wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let unknown = client_credentials_basic(&app, "no-such-client", &secret).await;
    let (status, error) = error_of(unknown).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"], "invalid_client");

    let wrong_post = app
        .http()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_post.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong_post.headers().get("www-authenticate").is_none());

    // Two methods at once.
    let both = app
        .http()
        .post(app.at("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(both).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_request");

    // No authentication at all.
    let anonymous = app
        .http()
        .post(app.at("/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(anonymous).await.1["error"], "invalid_client");
}

#[tokio::test]
async fn grant_types_are_checked() {
    let app = TestApp::new().await;
    let (id, secret) = service_client(&app).await;
    let unsupported = app
        .http()
        .post(app.at("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "x"),
            ("password", "y"),
        ])
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(unsupported).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "unsupported_grant_type");

    let missing = app
        .http()
        .post(app.at("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("scope", "email")])
        .send()
        .await
        .unwrap();
    let (_, error) = error_of(missing).await;
    assert_eq!(error["error"], "invalid_request");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("grant_type")
    );

    // A login client that was not given client_credentials.
    let web = app
        .app
        .idp
        .clients()
        .register(NewClient {
            name: "Portal Municipal".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            ..NewClient::default()
        })
        .await
        .unwrap();
    let refused = client_credentials_basic(
        &app,
        &web.client.client_id,
        web.client_secret.as_deref().unwrap(),
    )
    .await;
    let (status, error) = error_of(refused).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "unauthorized_client");
}

#[tokio::test]
async fn malformed_requests_are_refused_with_invalid_request() {
    let app = TestApp::new().await;
    let (id, secret) = service_client(&app).await;
    let raw = |body: String, content_type: &'static str| {
        app.http()
            .post(app.at("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";

    let duplicated = raw(
        "grant_type=client_credentials&scope=email&scope=profile".into(),
        form,
    )
    .await
    .unwrap();
    let (status, error) = error_of(duplicated).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_request");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("`scope`")
    );

    let oversized = raw(
        format!("grant_type=client_credentials&pad={}", "x".repeat(200_000)),
        form,
    )
    .await
    .unwrap();
    let (status, error) = error_of(oversized).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_request");

    let long_value = raw(
        format!("grant_type=client_credentials&scope={}", "x".repeat(20_000)),
        form,
    )
    .await
    .unwrap();
    assert_eq!(error_of(long_value).await.1["error"], "invalid_request");

    let json_body = raw(
        r#"{"grant_type":"client_credentials"}"#.into(),
        "application/json",
    )
    .await
    .unwrap();
    let (status, error) = error_of(json_body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"], "invalid_request");

    let not_utf8 = raw("grant_type=client_credentials&scope=%ff%fe".into(), form)
        .await
        .unwrap();
    assert_eq!(error_of(not_utf8).await.1["error"], "invalid_request");
}

fn es256_client_keys() -> (josekit::jws::alg::ecdsa::EcdsaJwsSigner, Value) {
    let pair = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("svc-key-1");
    let jwks: Value = serde_json::from_str(&format!("{{\"keys\":[{public}]}}")).unwrap();
    let signer = josekit::jws::ES256
        .signer_from_der(pair.to_der_private_key())
        .unwrap();
    (signer, jwks)
}

/// A `private_key_jwt` assertion valid for a minute by the server's clock.
fn client_assertion(
    app: &TestApp,
    signer: &josekit::jws::alg::ecdsa::EcdsaJwsSigner,
    client_id: &str,
    audience: &str,
    jti: &str,
) -> String {
    let now = app.clock.unix();
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": jti,
        "iat": now,
        "exp": now + 60,
    });
    let mut header = JwsHeader::new();
    header.set_key_id("svc-key-1");
    header.set_token_type("JWT");
    josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, signer).unwrap()
}

#[tokio::test]
async fn client_credentials_with_private_key_jwt_and_replay_protection() {
    let app = TestApp::new().await;
    let (signer, jwks) = es256_client_keys();
    let registered = app
        .app
        .idp
        .clients()
        .register(NewClient {
            name: "Servicio con llaves".into(),
            scopes: vec!["email".into()],
            grants: vec!["client_credentials".into()],
            jwks: Some(jwks),
            ..NewClient::default()
        })
        .await
        .unwrap();
    assert!(registered.client_secret.is_none());
    let id = registered.client.client_id;
    let assertion = client_assertion(&app, &signer, &id, &app.at("/oauth2/token"), "jti-1");
    let send = |assertion: String| {
        app.http()
            .post(app.at("/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials".to_owned()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ),
                ("client_assertion", assertion),
            ])
            .send()
    };
    let ok = send(assertion.clone()).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let token = ok.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(claims_of(&token, 1)["client_id"], id.as_str());

    // The same assertion again, even on another node, is refused.
    let replay = send(assertion.clone()).await.unwrap();
    let (status, error) = error_of(replay).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"], "invalid_client");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let node = app.second_node().await;
    let replay_elsewhere = node
        .http()
        .post(node.at("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay_elsewhere.status(), StatusCode::UNAUTHORIZED);
    let replays = app
        .app
        .journal
        .list(clave_common::journal::JournalFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "client.assertion_replayed")
        .count();
    assert_eq!(replays, 2);

    // A fresh jti with the issuer as audience works; a foreign audience does not.
    let fresh = send(client_assertion(&app, &signer, &id, &app.url, "jti-2"))
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    let foreign = send(client_assertion(
        &app,
        &signer,
        &id,
        "https://other.example/token",
        "jti-3",
    ))
    .await
    .unwrap();
    assert_eq!(foreign.status(), StatusCode::UNAUTHORIZED);
    // A key the client never registered.
    let (other_signer, _) = es256_client_keys();
    let forged = send(client_assertion(
        &app,
        &other_signer,
        &id,
        &app.at("/oauth2/token"),
        "jti-4",
    ))
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn introspection_tells_owners_only() {
    let app = TestApp::new().await;
    let (id, secret) = service_client(&app).await;
    let (other_id, other_secret) = service_client(&app).await;
    let token = access_token(&app, &id, &secret).await;

    let active = introspect(&app, &id, &secret, &token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], id.as_str());
    assert_eq!(active["scope"], "profile email");
    assert_eq!(active["token_type"], "Bearer");
    assert!(active["exp"].as_i64().is_some());

    // Another client learns nothing.
    assert_eq!(
        introspect(&app, &other_id, &other_secret, &token).await,
        json!({"active": false})
    );
    for junk in ["junk", "a.b.c", "", "eyJhbGciOiJub25lIn0.e30."] {
        if junk.is_empty() {
            continue;
        }
        assert_eq!(
            introspect(&app, &id, &secret, junk).await,
            json!({"active": false}),
            "{junk}"
        );
    }

    // Expired.
    app.advance(time::Duration::seconds(301));
    assert_eq!(
        introspect(&app, &id, &secret, &token).await["active"],
        false
    );

    // Introspection needs client authentication.
    let anonymous = app
        .http()
        .post(app.at("/oauth2/introspect"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let missing = app
        .http()
        .post(app.at("/oauth2/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(missing).await.1["error"], "invalid_request");
}

#[tokio::test]
async fn revocation_takes_effect_at_once_and_only_for_the_owner() {
    let app = TestApp::new().await;
    let (id, secret) = service_client(&app).await;
    let (other_id, other_secret) = service_client(&app).await;
    let token = access_token(&app, &id, &secret).await;
    let revoke = |client: &str, secret: &str, token: &str| {
        app.http()
            .post(app.at("/oauth2/revoke"))
            .basic_auth(client, Some(secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
    };

    // Another client's attempt is accepted and does nothing.
    let foreign = revoke(&other_id, &other_secret, &token).await.unwrap();
    assert_eq!(foreign.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &id, &secret, &token).await["active"], true);

    // Unknown tokens are accepted too.
    assert_eq!(
        revoke(&id, &secret, "unknown-token")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let node = app.second_node().await;
    let own = revoke(&id, &secret, &token).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(
        introspect(&app, &id, &secret, &token).await["active"],
        false
    );
    // Every node refuses it at once.
    assert_eq!(
        introspect(&node, &id, &secret, &token).await["active"],
        false
    );
    // Revoking again is harmless.
    assert_eq!(
        revoke(&id, &secret, &token).await.unwrap().status(),
        StatusCode::OK
    );

    let revoked = app
        .app
        .journal
        .list(clave_common::journal::JournalFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "token.revoked")
        .count();
    assert_eq!(revoked, 1);

    // Revocation needs a known client.
    let anonymous = app
        .http()
        .post(app.at("/oauth2/revoke"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
