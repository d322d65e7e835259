//! Signing with a passkey in the portal: a citizen whose only second factor is a passkey
//! signs a request with a WebAuthn assertion (a software authenticator here), and OpenSSL
//! verifies the signature. The assertion is bound to the pending activation kept with the
//! documents' hashes: replayed, sent for another pending activation, or without user
//! verification, it signs nothing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_idp::passkey::softkey::SoftKey;
use clave_signer::requests::{NewDocument, NewRequest, SignerRef};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{fetch_pki, openssl};
use crate::support::TestApp;
use crate::support::accounts::{get, log_in};
use crate::support::rp::{PASSWORD, RUN, citizen, register, web_client};

/// POSTs JSON with the page's CSRF token; the status and the JSON answer.
async fn call(
    http: &reqwest::Client,
    app: &TestApp,
    path: &str,
    csrf: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = http
        .post(app.at(path))
        .header("X-CSRF-Token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A pending CAdES request for the citizen over `content`; its id.
async fn ask(app: &TestApp, client_id: &str, content: &[u8]) -> String {
    let client = app.app.idp.clients().get(client_id).await.unwrap().unwrap();
    let request = app
        .app
        .signer
        .create_request(
            &client,
            NewRequest {
                signer: SignerRef::Run(RUN.into()),
                purpose: "Solicitud de permiso de edificación".into(),
                format: "cades".into(),
                level: Some("B-B".into()),
                documents: vec![NewDocument {
                    name: "permiso.txt".into(),
                    media_type: Some("text/plain".into()),
                    content: STANDARD.encode(content),
                }],
                expires_in: None,
                callback_url: None,
                institution: None,
            },
        )
        .await
        .unwrap();
    request.id
}

async fn status_of(app: &TestApp, id: &str) -> String {
    app.app.signer.request(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn a_passkey_assertion_bound_to_the_documents_signs_them_once() {
    let app = TestApp::on_localhost().await;
    let account = citizen(&app).await;
    let http = app.http();
    let done = log_in(&http, &app, "", RUN, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let csrf = get(&http, &app, "/me/passkeys")
        .await
        .field("csrf")
        .unwrap();

    // The citizen's only second factor is a passkey.
    let host = url::Url::parse(&app.url).unwrap();
    let mut key = SoftKey::new(host.host_str().unwrap(), &app.url);
    let (status, options) = call(&http, &app, "/webauthn/register/start", &csrf, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let credential = key.register(&options);
    let (status, body) = call(
        &http,
        &app,
        "/webauthn/register/finish",
        &csrf,
        json!({"ceremony": options["ceremony"], "credential": credential, "name": "Llave"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !app.app.idp.totps().is_active(&account.id).await.unwrap(),
        "no authenticator app"
    );

    let service = register(&app, web_client("Dirección de Obras")).await;
    let first = ask(&app, &service.client_id, b"Permiso 1: ampliacion de 20 m2").await;
    let second = ask(&app, &service.client_id, b"Permiso 2: cierre perimetral").await;

    // The request page offers the passkey and no code field.
    let page = get(&http, &app, &format!("/me/sign/{first}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"sign-passkey\""), "{}", page.body);
    assert!(page.body.contains("/static/sign-passkey.js"));
    assert!(!page.body.contains("name=\"otp\""));
    let script = get(&http, &app, "/static/sign-passkey.js").await;
    assert_eq!(script.status, StatusCode::OK);
    let csrf = page.field("csrf").unwrap();

    // Signing the first request: the options come with the pending activation.
    let (status, options) = call(
        &http,
        &app,
        "/me/sign/passkey/start",
        &csrf,
        json!({ "requests": [first] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let assertion = key.assert(&options);
    let finish = json!({ "pending": options["pending"], "credential": assertion });
    let (status, body) = call(
        &http,
        &app,
        "/me/sign/passkey/finish",
        &csrf,
        finish.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["redirect"], "/me/sign?done=signed");
    assert_eq!(status_of(&app, &first).await, "signed");

    // OpenSSL verifies the CAdES made under the passkey's activation.
    let request = app.app.signer.request(&first).await.unwrap().unwrap();
    let p7s = app
        .app
        .signer
        .request_document(&request, 0, true)
        .await
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    fetch_pki(&app, path).await;
    std::fs::write(path.join("permiso.txt"), b"Permiso 1: ampliacion de 20 m2").unwrap();
    std::fs::write(path.join("permiso.p7s"), &p7s).unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "permiso.p7s",
            "-content",
            "permiso.txt",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok && out.contains("Verification successful"), "{out}");
    let activated = app.journal_of_kind("signature.activated").await;
    assert_eq!(activated.len(), 1);
    assert_eq!(activated[0].data["method"], "passkey");

    // The same assertion again: its pending activation is spent.
    let (status, body) = call(&http, &app, "/me/sign/passkey/finish", &csrf, finish).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "expired");

    // Two pending activations for the second request: an assertion for one does not finish
    // the other (and spends that other), while its own still signs.
    let start = || {
        call(
            &http,
            &app,
            "/me/sign/passkey/start",
            &csrf,
            json!({ "requests": [second] }),
        )
    };
    let (_, one) = start().await;
    let (_, other) = start().await;
    assert_ne!(one["pending"], other["pending"]);
    let for_one = key.assert(&one);
    let (status, body) = call(
        &http,
        &app,
        "/me/sign/passkey/finish",
        &csrf,
        json!({ "pending": other["pending"], "credential": for_one }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "refused");
    assert_eq!(status_of(&app, &second).await, "pending");

    // Without user verification, nothing is signed either.
    let (_, unverified) = start().await;
    key.user_verified = false;
    let lazy = key.assert(&unverified);
    key.user_verified = true;
    let (status, body) = call(
        &http,
        &app,
        "/me/sign/passkey/finish",
        &csrf,
        json!({ "pending": unverified["pending"], "credential": lazy }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(status_of(&app, &second).await, "pending");

    // Another signer's session cannot finish this citizen's pending activation.
    let (status, _) = call(
        &reqwest::Client::new(),
        &app,
        "/me/sign/passkey/finish",
        &csrf,
        json!({ "pending": one["pending"], "credential": for_one }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no session, no CSRF cookie");

    let (status, body) = call(
        &http,
        &app,
        "/me/sign/passkey/finish",
        &csrf,
        json!({ "pending": one["pending"], "credential": for_one }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(status_of(&app, &second).await, "signed");
    assert_eq!(
        app.journal_of_kind("signature.activated").await.len(),
        2,
        "refused assertions activate nothing"
    );
}
