//! The operator's side: `clave client …` and `clave keys …` through the real binary.

use reqwest::StatusCode;
use serde_json::json;

use super::{
    access_token, claims_of, client_assertion, client_credentials_basic, es256_client_keys,
    introspect, jwks, service_client, verifies_with,
};
use crate::support::TestApp;

#[tokio::test]
async fn keys_rotate_through_the_cli_and_old_keys_verify_until_their_grace_ends() {
    let grace = 600;
    let app = TestApp::with_config(|c| c.tokens.key_retire_grace_secs = grace).await;
    let (id, secret) = service_client(&app).await;
    let old_token = access_token(&app, &id, &secret).await;
    let old_kid = claims_of(&old_token, 0)["kid"].as_str().unwrap().to_owned();

    let rotated = app.cli(&["--json", "keys", "rotate"]);
    assert!(rotated.success, "{}", rotated.stderr);
    let created = rotated.json()["created"].as_array().unwrap().clone();
    assert_eq!(created.len(), 2);
    let new_es256 = created.iter().find(|k| k["alg"] == "ES256").unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_es256, old_kid);

    // The JWKS shows both generations at once, on every node.
    let published: Vec<String> = jwks(&app).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(published.len(), 4);
    assert!(published.contains(&old_kid) && published.contains(&new_es256));

    // Once this node's key cache lapses, the new key signs.
    app.advance(time::Duration::seconds(clave_idp::keys::SIGNING_CACHE_SECS));
    let new_token = access_token(&app, &id, &secret).await;
    assert_eq!(claims_of(&new_token, 0)["kid"], new_es256.as_str());
    assert!(verifies_with(&jwks(&app).await, &new_token));

    // The old token still verifies while it lives.
    assert_eq!(
        introspect(&app, &id, &secret, &old_token).await["active"],
        true
    );
    assert!(verifies_with(&jwks(&app).await, &old_token));

    let listed = app.cli(&["--json", "keys", "list"]).json();
    let old = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old_kid.as_str())
        .unwrap()
        .clone();
    assert_eq!(old["state"], "retired");

    // After the grace period the old key is withdrawn.
    app.advance(time::Duration::seconds(grace));
    let published = jwks(&app).await;
    assert_eq!(published["keys"].as_array().unwrap().len(), 2);
    assert!(!verifies_with(&published, &old_token));
    assert_eq!(
        introspect(&app, &id, &secret, &old_token).await["active"],
        false
    );
}

#[tokio::test]
async fn the_client_cli_registers_lists_shows_rotates_and_removes() {
    let app = TestApp::new().await;
    let added = app.cli(&[
        "--json",
        "client",
        "add",
        "--name",
        "Servicio de Salud",
        "--redirect-uri",
        "https://salud.example/callback",
        "--redirect-uri",
        "http://localhost:8080/cb",
        "--post-logout-redirect-uri",
        "https://salud.example/bye",
        "--scope",
        "openid",
        "--scope",
        "run",
        "--grant",
        "client_credentials",
        "--subject-type",
        "public",
        "--id-token-alg",
        "RS256",
    ]);
    assert!(added.success, "{}", added.stderr);
    let out = added.json();
    let id = out["client_id"].as_str().unwrap().to_owned();
    let secret = out["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43, "256 bits, base64url");
    assert_eq!(out.as_object().unwrap().len(), 2);

    // The secret works at the token endpoint.
    let token = access_token(&app, &id, &secret).await;
    assert!(!token.is_empty());

    let listed = app.cli(&["--json", "client", "list"]);
    assert!(listed.success, "{}", listed.stderr);
    assert!(listed.stdout.contains(&id));
    assert!(!listed.stdout.contains(&secret));

    let shown = app.cli(&["--json", "client", "show", &id]);
    assert!(shown.success, "{}", shown.stderr);
    let client = shown.json();
    assert_eq!(client["name"], "Servicio de Salud");
    assert_eq!(
        client["redirect_uris"],
        json!(["https://salud.example/callback", "http://localhost:8080/cb"])
    );
    assert_eq!(
        client["post_logout_redirect_uris"],
        json!(["https://salud.example/bye"])
    );
    assert_eq!(client["scopes"], json!(["openid", "run"]));
    assert_eq!(
        client["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(client["subject_type"], "public");
    assert_eq!(client["id_token_alg"], "RS256");
    assert_eq!(client["public"], false);
    assert!(!shown.stdout.contains(&secret));

    let rotated = app.cli(&["--json", "client", "rotate-secret", &id]);
    assert!(rotated.success, "{}", rotated.stderr);
    let new_secret = rotated.json()["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(
        client_credentials_basic(&app, &id, &secret).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = access_token(&app, &id, &new_secret).await;

    let public = app.cli(&[
        "--json",
        "client",
        "add",
        "--name",
        "App móvil",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:9999/cb",
    ]);
    assert!(public.success, "{}", public.stderr);
    assert!(public.json().get("client_secret").is_none());
    let public_id = public.json()["client_id"].as_str().unwrap().to_owned();
    let no_secret = app.cli(&["client", "rotate-secret", &public_id]);
    assert!(!no_secret.success);
    assert!(
        no_secret.stderr.contains("no secret"),
        "{}",
        no_secret.stderr
    );

    let removed = app.cli(&["--json", "client", "remove", &id]);
    assert!(removed.success, "{}", removed.stderr);
    assert_eq!(removed.json()["removed"], true);
    assert_eq!(
        client_credentials_basic(&app, &id, &new_secret)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Its tokens die with it.
    let claims = app.app.idp.tokens().validate_access_token(&fresh).await;
    assert!(claims.is_err());
    let gone = app.cli(&["client", "show", &id]);
    assert!(!gone.success);
    assert!(gone.stderr.contains("no client"), "{}", gone.stderr);
    let again = app.cli(&["client", "remove", &id]);
    assert!(!again.success);
    let listed = app.cli(&["--json", "client", "list"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_client_cli_refuses_bad_registrations_with_reasons() {
    let app = TestApp::new().await;
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "http://evil.example/cb",
            ],
            "https",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://rp.example/cb#frag",
            ],
            "fragment",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "not a url",
            ],
            "absolute",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://rp.example/cb",
                "--scope",
                "admin",
            ],
            "unknown scope",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://rp.example/cb",
                "--grant",
                "password",
            ],
            "unknown grant",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--public",
                "--redirect-uri",
                "https://rp.example/cb",
                "--grant",
                "client_credentials",
            ],
            "public client",
        ),
        (&["client", "add", "--name", "X"], "redirect-uri"),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://rp.example/cb",
                "--jwks",
                "/nonexistent/jwks.json",
            ],
            "cannot read",
        ),
        (
            &["client", "add", "--redirect-uri", "https://rp.example/cb"],
            "--name",
        ),
        (
            &[
                "client",
                "add",
                "--name",
                "X",
                "--redirect-uri",
                "https://rp.example/cb",
                "--subject-type",
                "random",
            ],
            "subject-type",
        ),
    ];
    for (args, reason) in cases {
        let out = app.cli(args);
        assert!(!out.success, "{args:?} should fail");
        assert!(out.stderr.contains(reason), "{args:?}: {}", out.stderr);
    }
    let listed = app.cli(&["--json", "client", "list"]).json();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn the_client_cli_registers_keys_for_private_key_jwt() {
    let app = TestApp::new().await;
    let (signer, jwks) = es256_client_keys();
    let file = app.data_dir().join("svc-jwks.json");
    std::fs::write(&file, jwks.to_string()).unwrap();
    let added = app.cli(&[
        "--json",
        "client",
        "add",
        "--name",
        "SII",
        "--grant",
        "client_credentials",
        "--jwks",
        file.to_str().unwrap(),
    ]);
    assert!(added.success, "{}", added.stderr);
    let out = added.json();
    assert!(out.get("client_secret").is_none());
    let id = out["client_id"].as_str().unwrap();
    let response = app
        .http()
        .post(app.at("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            (
                "client_assertion",
                &client_assertion(&app, &signer, id, &app.at("/oauth2/token"), "cli-1"),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
