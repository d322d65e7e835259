//! Random and hostile bodies against the token, introspection and revocation endpoints: every
//! answer is a protocol error or a success, never a server error.

use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::service_client;
use crate::support::TestApp;

/// Bodies a hostile or broken client might send.
fn hostile_bodies(rng: &mut rand::rngs::StdRng) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = [
        "",
        "&&&&",
        "=",
        "==&==",
        "grant_type",
        "grant_type=",
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=%",
        "grant_type=%zz",
        "grant_type=%00",
        "token=%ff",
        "token=a.b.c",
        "token=....",
        "token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "token=eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NiIsImtpZCI6Im5vIn0.e30.AAAA",
        "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c",
        "client_assertion_type=x&client_assertion=",
        "client_id=%E2%80%AE&client_secret=%00",
        "grant_type=authorization_code&code=x&redirect_uri=javascript:alert(1)",
        "grant_type=refresh_token&refresh_token=' OR 1=1 --",
        "grant_type=client_credentials&scope=%20%20%20",
        "\u{0}\u{1}\u{2}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bodies.push(vec![0xff; 100]);
    bodies.push(format!("a={}", "%41".repeat(6000)).into_bytes());
    bodies.push(
        (0..80)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join("&")
            .into_bytes(),
    );
    for _ in 0..120 {
        let len = rng.gen_range(0..300);
        let alphabet = b"=&%+.abcxyz_-0123456789ABCDEF \x00\xff\xc3";
        bodies.push(
            (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect(),
        );
    }
    bodies
}

#[tokio::test]
async fn hostile_bodies_never_cause_server_errors() {
    let app = TestApp::new().await;
    let (id, secret) = service_client(&app).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x00c1a7e);
    let bodies = hostile_bodies(&mut rng);
    let http = app.http();
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        for (i, body) in bodies.iter().enumerate() {
            let mut request = http
                .post(app.at(path))
                .header(
                    "content-type",
                    match i % 7 {
                        0 => "text/plain",
                        1 => "application/x-www-form-urlencoded; charset=latin1",
                        _ => "application/x-www-form-urlencoded",
                    },
                )
                .body(body.clone());
            request = match i % 5 {
                0 => request.basic_auth(&id, Some(&secret)),
                1 => request.header("authorization", "Basic %%%"),
                2 => request.header("authorization", "Basic Og=="),
                3 => request.header("authorization", "Bearer x"),
                _ => request,
            };
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_client_error() || response.status().is_success(),
                "{path} {:?} -> {}",
                String::from_utf8_lossy(body),
                response.status()
            );
            if !response.status().is_success() {
                let error: Value = response.json().await.unwrap();
                assert!(error["error"].is_string());
            }
        }
    }
    // Other methods are refused without a server error.
    let get = http.get(app.at("/oauth2/token")).send().await.unwrap();
    assert!(get.status().is_client_error());
}

/// `base64url(json)`, for hand-made JWT parts.
fn b64(json: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

#[tokio::test]
async fn nul_characters_inside_tokens_are_refused_as_client_errors() {
    let app = TestApp::new().await;
    let (client_id, secret) = service_client(&app).await;
    // A bearer token whose header names a key id with a NUL in it.
    let forged = format!(
        "{}.{}.AAAA",
        b64(r#"{"typ":"at+jwt","alg":"ES256","kid":"\u0000"}"#),
        b64(r#"{"sub":"x"}"#)
    );
    let userinfo = reqwest::Client::new()
        .get(app.at("/oauth2/userinfo"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let introspected = reqwest::Client::new()
        .post(app.at("/oauth2/introspect"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("token", forged.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), 200);
    assert_eq!(introspected.json::<Value>().await.unwrap()["active"], false);
    // A client assertion whose issuer has a NUL in it.
    let assertion = format!(
        "{}.{}.AAAA",
        b64(r#"{"alg":"ES256","kid":"k"}"#),
        b64(r#"{"iss":"\u0000","sub":"\u0000","aud":"x","exp":9999999999,"jti":"j"}"#)
    );
    let token = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401, "{}", token.text().await.unwrap());
}
