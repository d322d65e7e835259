//! Signature requests: a service asks a citizen to sign through `POST /api/sign/v1/requests`,
//! the citizen reads the exact documents in the portal and signs with a code from an
//! authenticator app (one code for a batch), the service reads the signed outputs (checked by
//! pyHanko, poppler and OpenSSL, not by clave) and hears of the decision by a signed
//! callback; declining, expiry, and every malformed or foreign request are refused with the
//! reason.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::pades::{minimal_pdf, pyhanko_validate};
use super::{Signatory, fetch_pki, openssl};
use crate::mailbox::{call, service_token};
use crate::support::TestApp;
use crate::support::accounts::input_value;
use crate::support::rp::{
    Browser, EventListener, Registered, Rp, citizen, form_with, register, verify_with_jwks,
    web_client,
};

/// A citizen signed in to the portal with an authenticator app, and a service that knows
/// them (by the `sub` from their login) and may ask for signatures.
struct Desk {
    signatory: Signatory,
    browser: Browser,
    sub: String,
    service: Registered,
    token: String,
}

impl Desk {
    /// `None` outside CI when oathtool is missing.
    async fn new() -> Option<Self> {
        let app = TestApp::with_config(|c| c.tokens.access_token_ttl_secs = 3600).await;
        let account = citizen(&app).await;
        let mut client = web_client("Dirección del Trabajo");
        // Not registered for RUNs: it names signers by the `sub` it knows.
        client.scopes.retain(|s| s != "run");
        client.scopes.push("sign:request".into());
        client.grants = vec!["authorization_code".into(), "client_credentials".into()];
        let service = register(&app, client).await;
        let rp = Rp::discover(&app, &service).await;
        let mut browser = Browser::new(&app);
        let (tokens, nonce) = rp.sign_in(&mut browser, &["openid"]).await;
        let sub = rp.id_claims(&tokens, Some(&nonce)).subject().to_string();
        let token = service_token(&app, &service, "sign:request").await;
        let mut signatory = Signatory {
            app,
            account,
            token: String::new(),
            totp_secret: None,
        };
        signatory.enrol().await?;
        Some(Self {
            signatory,
            browser,
            sub,
            service,
            token,
        })
    }

    fn app(&self) -> &TestApp {
        &self.signatory.app
    }

    /// A call to the request API with the service's token.
    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, body) = call(method, &self.app().at(path), &self.token, body, &[]).await;
        (status, body)
    }

    /// Asks the citizen to sign `documents` in `format`; the new request.
    async fn ask(&self, format: &str, documents: Value, extra: Value) -> Value {
        let mut body = json!({
            "signer": { "sub": self.sub },
            "purpose": "Firma del finiquito laboral",
            "format": format,
            "documents": documents,
        });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, body) = self
            .api(Method::POST, "/api/sign/v1/requests", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// A portal page: status and HTML.
    async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .browser
            .http
            .get(self.app().at(path))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Submits the form on `path` that has `field`, with `extra` fields.
    async fn submit(&self, path: &str, field: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let (_, html) = self.page(path).await;
        let form = form_with(&html, field, &self.app().at(path));
        self.browser.submit(&form, extra).await
    }
}

/// `openssl cms -verify` of `doc.p7s` over `doc.txt`, trusting clave's root.
const CMS_VERIFY: &[&str] = &[
    "cms",
    "-verify",
    "-binary",
    "-inform",
    "DER",
    "-in",
    "doc.p7s",
    "-content",
    "doc.txt",
    "-CAfile",
    "root.pem",
    "-purpose",
    "any",
    "-out",
    "/dev/null",
];

fn document(name: &str, media_type: &str, bytes: &[u8]) -> Value {
    json!({ "name": name, "media_type": media_type, "content": STANDARD.encode(bytes) })
}

fn output(request: &Value, position: usize) -> Vec<u8> {
    STANDARD
        .decode(
            request["documents"][position]["signed"]["content"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
}

#[tokio::test]
async fn a_citizen_signs_a_requested_pdf_in_the_portal_and_validators_accept_it() {
    let Some(desk) = Desk::new().await else {
        return;
    };
    let app = desk.app();
    let mut callback = EventListener::start(1).await;
    let pdf = minimal_pdf();
    let request = desk
        .ask(
            "pades",
            json!([document("finiquito.pdf", "application/pdf", &pdf)]),
            json!({ "callback_url": callback.uri }),
        )
        .await;
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(request["status"], "pending");
    assert_eq!(request["level"], "B-T");
    assert_eq!(request["signer"]["sub"], desk.sub.as_str());
    let digest: String = Sha256::digest(&pdf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(request["documents"][0]["sha256"], digest.as_str());

    // The start page says something waits; the list and the request show it.
    let (_, home) = desk.page("/").await;
    assert!(
        home.contains("<a href=\"/me/sign\">Documentos esperan tu firma</a>"),
        "{home}"
    );
    let (status, html) = desk.page("/me/sign").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Dirección del Trabajo") && html.contains("Firma del finiquito laboral"));
    let (status, html) = desk.page(&format!("/me/sign/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&digest),
        "the page shows the document's SHA-256"
    );
    assert!(html.contains("PAdES B-T"));
    // Dates as a Chilean reader writes them, in the deployment's zone.
    let created = time::OffsetDateTime::parse(
        request["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    let local = clave_portal::dates::date_time(
        clave_common::lang::Lang::Es,
        &app.app.config.server.time_zone,
        created,
    );
    assert!(
        local.len() == 16 && local.as_bytes()[2] == b'-' && html.contains(&local),
        "{local} in {html}"
    );

    // What you see is what you sign: the document link gives the very bytes.
    let shown = desk
        .browser
        .http
        .get(app.at(&format!("/me/sign/{id}/documents/0")))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.headers()["content-type"], "application/pdf");
    assert!(
        shown.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    assert_eq!(shown.bytes().await.unwrap().as_ref(), pdf.as_slice());

    // A wrong code signs nothing and says why.
    let response = desk
        .submit(&format!("/me/sign/{id}"), "otp", &[("otp", "000000")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("El código no es válido"), "{html}");
    let (_, state) = desk
        .api(Method::GET, &format!("/api/sign/v1/requests/{id}"), None)
        .await;
    assert_eq!(state["status"], "pending");

    // The right code signs.
    let code = desk.signatory.fresh_code();
    let response = desk
        .submit(&format!("/me/sign/{id}"), "otp", &[("otp", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/me/sign?done=signed");
    let (_, html) = desk.page("/me/sign?done=signed").await;
    assert!(html.contains("Los documentos se firmaron.") && html.contains("Firmada"));

    // The service gets the signed PDF; independent validators accept it.
    let (status, state) = desk
        .api(Method::GET, &format!("/api/sign/v1/requests/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["status"], "signed");
    assert_eq!(
        state["documents"][0]["signed"]["media_type"],
        "application/pdf"
    );
    let signed = output(&state, 0);
    assert!(
        signed.starts_with(&pdf),
        "an incremental update keeps the original bytes"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    fetch_pki(app, path).await;
    std::fs::write(path.join("signed.pdf"), &signed).unwrap();
    if let Some((ok, out)) = pyhanko_validate(path, "signed.pdf").await {
        assert!(ok, "{out}");
        assert!(
            out.contains("The signature covers the entire file"),
            "{out}"
        );
        assert!(out.contains("The signature is judged VALID"), "{out}");
        assert!(
            out.to_lowercase().contains("timestamp"),
            "B-T carries a time stamp: {out}"
        );
    }
    // The citizen can download the same signed PDF.
    let mine = desk
        .browser
        .http
        .get(app.at(&format!("/me/sign/{id}/documents/0?signed=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.bytes().await.unwrap().as_ref(), signed.as_slice());

    // The code cannot be used again, and a decided request cannot be decided twice.
    let second = desk
        .ask(
            "cades",
            json!([document("anexo.txt", "text/plain", b"Anexo del finiquito")]),
            json!({}),
        )
        .await;
    let second_id = second["id"].as_str().unwrap();
    let response = desk
        .submit(&format!("/me/sign/{second_id}"), "otp", &[("otp", &code)])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("ya se usó"));
    let (_, html) = desk.page(&format!("/me/sign/{id}")).await;
    assert!(
        !html.contains("name=\"otp\""),
        "a signed request offers no signing form"
    );

    // The callback: refused once by the service, then delivered; a Security Event Token
    // signed by clave that names the request and its outcome, and nothing more.
    let signer = &app.app.signer;
    let http = clave_signer::requests::callbacks::http_client().unwrap();
    let report = signer.deliver_callbacks(&http).await.unwrap();
    assert_eq!(report.failed, 1);
    let refused = callback.received().expect("the first attempt arrived");
    app.advance(time::Duration::seconds(11));
    let report = signer.deliver_callbacks(&http).await.unwrap();
    assert_eq!(report.delivered, 1);
    let token = callback.received().expect("the retry arrived");
    assert_ne!(token, refused, "each attempt is signed afresh");
    let claims = verify_with_jwks(&app.url, &token).await;
    assert_eq!(claims["aud"], desk.service.client_id.as_str());
    assert_eq!(claims["sub"], desk.sub.as_str());
    assert_eq!(
        claims["events"]["urn:clave:event:signature-request:signed"]["request_id"],
        id.as_str()
    );
    let (_, state) = desk
        .api(Method::GET, &format!("/api/sign/v1/requests/{id}"), None)
        .await;
    assert_eq!(state["callback"]["status"], "delivered");
    assert_eq!(state["callback"]["attempts"], 2);

    // The journal holds the request, the activation and the signature.
    for kind in [
        "signature_request.created",
        "signature.activated",
        "signature.created",
        "signature_request.signed",
        "signature_request.callback_delivered",
    ] {
        assert!(
            !app.journal_of_kind(kind).await.is_empty(),
            "{kind} is journaled"
        );
    }
}

#[tokio::test]
async fn one_code_signs_a_batch_of_requests_and_openssl_verifies_each_signature() {
    let Some(desk) = Desk::new().await else {
        return;
    };
    let app = desk.app();
    let texts: Vec<String> = (1..=3)
        .map(|n| format!("Resolución exenta {n}: se aprueba el convenio."))
        .collect();
    let mut ids = Vec::new();
    for (n, text) in texts.iter().enumerate() {
        let request = desk
            .ask(
                "cades",
                json!([document(
                    &format!("resolucion-{n}.txt"),
                    "text/plain",
                    text.as_bytes()
                )]),
                json!({ "level": "B-B" }),
            )
            .await;
        ids.push(request["id"].as_str().unwrap().to_owned());
    }
    // Nothing chosen: the page says so.
    let code = desk.signatory.fresh_code();
    let response = desk.submit("/me/sign", "otp", &[("otp", &code)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Elige al menos una solicitud")
    );
    // All three with one code.
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("request", id.as_str())).collect();
    fields.push(("otp", &code));
    let response = desk.submit("/me/sign", "otp", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let activations = app.journal_of_kind("signature.activated").await;
    assert_eq!(activations.len(), 1, "one activation for the batch");
    assert_eq!(activations[0].data["hashes"].as_array().unwrap().len(), 3);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    fetch_pki(app, path).await;
    for (n, id) in ids.iter().enumerate() {
        let (_, state) = desk
            .api(Method::GET, &format!("/api/sign/v1/requests/{id}"), None)
            .await;
        assert_eq!(state["status"], "signed", "{state}");
        assert_eq!(state["documents"][0]["signed"]["detached"], true);
        std::fs::write(path.join("doc.txt"), &texts[n]).unwrap();
        std::fs::write(path.join("doc.p7s"), output(&state, 0)).unwrap();
        let (ok, out) = openssl(path, CMS_VERIFY);
        assert!(ok, "{out}");
        // The signature is over this document, not any other of the batch.
        std::fs::write(path.join("doc.txt"), &texts[(n + 1) % 3]).unwrap();
        let (ok, _) = openssl(path, CMS_VERIFY);
        assert!(!ok, "a signature does not verify over another document");
    }
}

#[tokio::test]
async fn declined_expired_and_foreign_requests_end_as_they_should() {
    let Some(desk) = Desk::new().await else {
        return;
    };
    let app = desk.app();
    let mut callback = EventListener::start(0).await;
    let text = document("carta.txt", "text/plain", b"Carta de renuncia");

    // Declined with a reason: the service reads it and is told.
    let request = desk
        .ask(
            "jades",
            json!([text]),
            json!({ "callback_url": callback.uri }),
        )
        .await;
    assert_eq!(request["level"], "B-B");
    let id = request["id"].as_str().unwrap().to_owned();
    let response = desk
        .submit(
            &format!("/me/sign/{id}"),
            "reason",
            &[("reason", "No reconozco este documento")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, state) = desk
        .api(Method::GET, &format!("/api/sign/v1/requests/{id}"), None)
        .await;
    assert_eq!(state["status"], "declined");
    assert_eq!(state["decline_reason"], "No reconozco este documento");
    assert!(state["documents"][0].get("signed").is_none());
    let http = clave_signer::requests::callbacks::http_client().unwrap();
    app.app.signer.deliver_callbacks(&http).await.unwrap();
    let token = callback.received().expect("the callback arrived");
    let claims = verify_with_jwks(&app.url, &token).await;
    assert!(claims["events"]["urn:clave:event:signature-request:declined"].is_object());
    // Signing it now is refused, and nothing changes.
    let response = desk
        .browser
        .http
        .post(app.at(&format!("/me/sign/{id}")))
        .form(&[
            (
                "csrf",
                input_value(&desk.page("/me/sessions").await.1, "csrf")
                    .unwrap()
                    .as_str(),
            ),
            ("action", "sign"),
            ("otp", &desk.signatory.fresh_code()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("ya fue firmada, rechazada o venció")
    );

    // Without the CSRF token, nothing is declined.
    let other = desk
        .ask("cades", json!([text]), json!({ "expires_in": 600 }))
        .await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    let response = desk
        .browser
        .http
        .post(app.at(&format!("/me/sign/{other_id}")))
        .form(&[("action", "decline")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());

    // Expiry: past its time the request is expired for everyone, and recorded by the worker.
    app.advance(time::Duration::seconds(601));
    let (_, state) = desk
        .api(
            Method::GET,
            &format!("/api/sign/v1/requests/{other_id}"),
            None,
        )
        .await;
    assert_eq!(state["status"], "expired");
    assert_eq!(app.app.signer.expire_requests().await.unwrap(), 1);
    assert_eq!(app.app.signer.expire_requests().await.unwrap(), 0);
    assert_eq!(
        app.journal_of_kind("signature_request.expired").await.len(),
        1
    );
    let (_, html) = desk.page("/me/sign").await;
    assert!(
        html.contains("Vencida") && html.contains("Rechazada"),
        "{html}"
    );
    assert!(html.contains("No tienes documentos pendientes de firma."));

    // Another service cannot read the request; another citizen cannot see it.
    let mut stranger = web_client("Otra institución");
    stranger.scopes.push("sign:request".into());
    stranger.grants = vec!["client_credentials".into()];
    let stranger = register(app, stranger).await;
    let stranger_token = service_token(app, &stranger, "sign:request").await;
    let (status, _, body) = call(
        Method::GET,
        &app.at(&format!("/api/sign/v1/requests/{id}")),
        &stranger_token,
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    app.citizen("11.111.111-1", "otra clave bastante larga")
        .await;
    let other_browser = Browser::new(app);
    other_browser
        .log_in("11.111.111-1", "otra clave bastante larga")
        .await;
    for path in [
        format!("/me/sign/{id}"),
        format!("/me/sign/{id}/documents/0"),
    ] {
        let response = other_browser.http.get(app.at(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn malformed_requests_get_the_right_4xx_and_nothing_is_written() {
    let Some(desk) = Desk::new().await else {
        return;
    };
    let app = desk.app();
    let text = document("carta.txt", "text/plain", b"Carta");
    let base = json!({
        "signer": { "sub": desk.sub },
        "purpose": "Firma de la carta",
        "format": "cades",
        "documents": [text],
    });
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("format", json!("xades")), 400, "format must be"),
        (with("level", json!("B-LTA")), 400, "level must be"),
        (with("documents", json!([])), 400, "documents must hold"),
        (with("purpose", json!("  ")), 400, "purpose must say"),
        (with("expires_in", json!(10)), 400, "expires_in must be"),
        (
            with("callback_url", json!("http://example.com/hook")),
            400,
            "callback_url must use https",
        ),
        (
            with(
                "documents",
                json!([
                    document("a.txt", "text/plain", b"x"),
                    document("b.txt", "text/plain", b"x")
                ]),
            ),
            400,
            "the same as an earlier document",
        ),
        (
            with(
                "documents",
                json!([document("../etc/passwd", "text/plain", b"x")]),
            ),
            400,
            "plain file name",
        ),
        (
            with("documents", json!([{ "name": "a.txt", "content": "%%%" }])),
            400,
            "not valid base64",
        ),
        (
            {
                let mut body = with("format", json!("pades"));
                body["documents"] = json!([document("a.pdf", "application/pdf", b"hola")]);
                body
            },
            400,
            "not a PDF",
        ),
        (
            with("signer", json!({ "sub": "nobody-has-this-subject" })),
            404,
            "no signer is known",
        ),
        (
            with("signer", json!({ "run": "12.345.678-5" })),
            403,
            "may not name signers by RUN",
        ),
        (with("surprise", json!(true)), 400, "surprise"),
    ];
    for (body, status, text) in cases {
        let (got, answer) = desk
            .api(Method::POST, "/api/sign/v1/requests", Some(body.clone()))
            .await;
        assert_eq!(got.as_u16(), status, "{body} → {answer}");
        assert!(
            answer.to_string().contains(text),
            "{body}: {answer} should say {text:?}"
        );
    }
    assert!(
        app.journal_of_kind("signature_request.created")
            .await
            .is_empty(),
        "nothing was written"
    );

    // Tokens: none, a citizen's, or one without the scope.
    let (status, _, _) = call(
        Method::POST,
        &app.at("/api/sign/v1/requests"),
        "not-a-token",
        Some(base.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut plain = web_client("Sin permiso");
    plain.scopes.push("mailbox:send".into());
    plain.grants = vec!["client_credentials".into()];
    let plain = register(app, plain).await;
    let plain_token = service_token(app, &plain, "mailbox:send").await;
    let (status, _, body) = call(
        Method::POST,
        &app.at("/api/sign/v1/requests"),
        &plain_token,
        Some(base.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "insufficient_scope");
    let (status, _) = desk
        .api(Method::GET, "/api/sign/v1/requests/no-such-request", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // By RUN, for a service registered for RUNs; an unknown RUN is not found.
    let mut registry = web_client("Registro Civil");
    registry.scopes.push("sign:request".into());
    registry.grants = vec!["client_credentials".into()];
    let registry = register(app, registry).await;
    let registry_token = service_token(app, &registry, "sign:request").await;
    for (run, expected) in [
        ("12.345.678-5", StatusCode::CREATED),
        ("1-9", StatusCode::NOT_FOUND),
    ] {
        let (status, _, body) = call(
            Method::POST,
            &app.at("/api/sign/v1/requests"),
            &registry_token,
            Some(with("signer", json!({ "run": run }))),
            &[],
        )
        .await;
        assert_eq!(status, expected, "{body}");
    }
}
