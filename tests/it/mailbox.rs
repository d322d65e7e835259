//! The citizen mailbox end to end: an agency sends notices over the API with a
//! client-credentials token, the citizen lists and opens them with a token from their login
//! (the first opening recorded once, journaled, and returned to the agency in a receipt that
//! verifies against the JWKS), retries never make a second notice, scheduled notices wait
//! for their time, sensitive ones hide their sender and subject, a notice that needs a
//! higher level asks for a step-up, e-mail alerts really go out over SMTP (and failures are
//! retried and reported), security events become notices, and the retention policy deletes
//! only with a journal entry.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::mail::Mailer;
use clave_idp::clients::NewClient;
use openidconnect::OAuth2TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::support::TestApp;
use crate::support::rp::{
    Browser, REDIRECT_URI, RUN, Registered, Rp, citizen, register, verify_with_jwks,
};
use crate::support::smtp::SmtpSink;

mod portal;

/// A small but real PDF header: enough for content checks, which read the bytes.
pub const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// An agency that logs citizens in (so it knows their `sub`) and sends notices.
pub async fn agency(app: &TestApp, name: &str) -> Registered {
    register(
        app,
        NewClient {
            name: name.into(),
            redirect_uris: vec![REDIRECT_URI.into()],
            scopes: ["openid", "mailbox", "mailbox:send"]
                .map(String::from)
                .to_vec(),
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await
}

/// A client-credentials token for `scope`.
pub async fn service_token(app: &TestApp, client: &Registered, scope: &str) -> String {
    let response = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// The citizen logs in to `client` (password only): their `sub` there and a token with the
/// `mailbox` scope.
pub async fn citizen_session(app: &TestApp, client: &Registered) -> (String, String, Browser) {
    let rp = Rp::discover(app, client).await;
    let mut browser = Browser::new(app);
    let (tokens, nonce) = rp.sign_in(&mut browser, &["mailbox"]).await;
    let sub = rp.id_claims(&tokens, Some(&nonce)).subject().to_string();
    (sub, tokens.access_token().secret().clone(), browser)
}

/// Marks the citizen's e-mail address as verified, so alerts can go to it.
pub async fn verified_email(app: &TestApp, account_id: &str) {
    let mut tx = app.app.db.begin().await.unwrap();
    app.app
        .idp
        .accounts()
        .set_email(&mut tx, account_id, Some("maria@example.cl"), true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A call with a bearer token and optional headers; the status, headers and JSON body.
pub async fn call(
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// POSTs a notice; the status and body.
pub async fn send(
    app: &TestApp,
    token: &str,
    body: Value,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let (status, _, body) = call(
        Method::POST,
        &app.at("/api/mailbox/v1/messages"),
        token,
        Some(body),
        &headers,
    )
    .await;
    (status, body)
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(Method::GET, &app.at(path), token, None, &[]).await;
    (status, body)
}

#[tokio::test]
async fn a_notice_is_sent_once_opened_once_and_the_agency_gets_a_verifiable_proof() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let sii = agency(&app, "Servicio de Impuestos Internos").await;
    let (sub, citizen_token, _) = citizen_session(&app, &sii).await;
    let token = service_token(&app, &sii, "mailbox:send").await;

    let notice = json!({
        "to": { "sub": sub },
        "subject": "Resolución de su declaración",
        "body": "# Resolución\n\nSu declaración fue **aceptada**.<script>alert(1)</script>",
        "body_format": "markdown",
        "attachments": [{
            "filename": "resolución 2026.pdf",
            "content_type": "application/pdf",
            "content_base64": STANDARD.encode(PDF),
        }],
    });
    let (status, sent) = send(&app, &token, notice.clone(), Some("sii-2026-0001")).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    assert_eq!(sent["status"], "delivered");
    assert_eq!(sent["to"]["sub"], json!(sub));
    assert!(sent["delivered_at"].is_string());
    assert!(sent["first_opened_at"].is_null());
    assert_eq!(
        sent["attachments"][0]["sha256"],
        json!(format!("{:x}", sha2::Sha256::digest(PDF)))
    );

    // A retry with the same key is the same notice; the same key for another notice is refused.
    let (status, again) = send(&app, &token, notice.clone(), Some("sii-2026-0001")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["id"], json!(id));
    let mut other = notice.clone();
    other["subject"] = json!("Otra cosa");
    let (status, refused) = send(&app, &token, other, Some("sii-2026-0001")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"], "idempotency_key_reused");
    assert_eq!(app.journal_of_kind("mailbox.notice_sent").await.len(), 1);

    // The citizen's list: one unread, with its sender and subject.
    let (status, list) = get(&app, &citizen_token, "/api/mailbox/v1/me/messages").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["unread"], 1);
    assert_eq!(
        list["messages"][0]["subject"],
        "Resolución de su declaración"
    );
    assert_eq!(
        list["messages"][0]["sender"],
        "Servicio de Impuestos Internos"
    );

    // Opening shows the body as safe HTML and records the first opening once.
    let path = format!("/api/mailbox/v1/me/messages/{id}");
    let (status, opened) = get(&app, &citizen_token, &path).await;
    assert_eq!(status, StatusCode::OK, "{opened}");
    let html = opened["body_html"].as_str().unwrap();
    assert!(html.contains("<strong>aceptada</strong>"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    let first = opened["first_opened_at"].clone();
    assert!(first.is_string());
    app.advance(time::Duration::seconds(90));
    let (_, reopened) = get(&app, &citizen_token, &path).await;
    assert_eq!(reopened["first_opened_at"], first);
    let opens = app.journal_of_kind("mailbox.notice_opened").await;
    assert_eq!(opens.len(), 1);
    let (_, list) = get(&app, &citizen_token, "/api/mailbox/v1/me/messages").await;
    assert_eq!(list["unread"], 0);

    // The agency sees the proof, and the receipt verifies with clave's published keys.
    let (status, state) = get(&app, &token, &format!("/api/mailbox/v1/messages/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["status"], "opened");
    assert_eq!(state["first_opened_at"], first);
    let receipt = verify_with_jwks(&app.url, state["receipt"].as_str().unwrap()).await;
    assert_eq!(receipt["aud"], json!(sii.client_id));
    assert_eq!(receipt["sub"], json!(sub));
    assert_eq!(receipt["notice"]["first_opened_at"], first);
    assert_eq!(receipt["notice"]["content_digest"], state["content_digest"]);
    assert_eq!(receipt["notice"]["journal_entry"], json!(opens[0].id));

    // The attachment downloads as it was sent.
    let href = opened["attachments"][0]["href"].as_str().unwrap();
    let download = reqwest::Client::new()
        .get(app.at(href))
        .bearer_auth(&citizen_token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);

    // Archived, it leaves the inbox for the archive.
    let (status, _, _) = call(
        Method::POST,
        &app.at(&format!("{path}/archive")),
        &citizen_token,
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, inbox) = get(&app, &citizen_token, "/api/mailbox/v1/me/messages").await;
    assert_eq!(inbox["messages"], json!([]));
    let (_, archive) = get(
        &app,
        &citizen_token,
        "/api/mailbox/v1/me/messages?archived=true",
    )
    .await;
    assert_eq!(archive["messages"][0]["id"], json!(id));

    // Another agency cannot read the status; a citizen's token cannot send.
    let other = agency(&app, "Otra institución").await;
    let other_token = service_token(&app, &other, "mailbox:send").await;
    let (status, _) = get(
        &app,
        &other_token,
        &format!("/api/mailbox/v1/messages/{id}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = send(&app, &citizen_token, notice, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = get(&app, &token, "/api/mailbox/v1/me/messages").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app.app.journal.verify().await.unwrap().is_intact());
}

#[tokio::test]
async fn bad_notices_get_the_right_4xx_with_the_reason() {
    let app = TestApp::with_config(|c| {
        c.mailbox.max_attachments = 2;
        c.mailbox.max_attachment_bytes = 1000;
    })
    .await;
    citizen(&app).await;
    let sii = agency(&app, "Servicio de Impuestos Internos").await;
    let (sub, _, _) = citizen_session(&app, &sii).await;
    let token = service_token(&app, &sii, "mailbox:send").await;
    let base = json!({ "to": { "sub": sub }, "subject": "Aviso", "body": "Texto" });
    let with = |changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let file = |name: &str, kind: &str, content: &[u8]| json!({ "filename": name, "content_type": kind, "content_base64": STANDARD.encode(content) });
    let cases = [
        (
            with(json!({ "to": { "sub": "nobody-known" } })),
            StatusCode::NOT_FOUND,
            "no citizen",
        ),
        (
            with(json!({ "to": { "run": RUN } })),
            StatusCode::FORBIDDEN,
            "by RUN",
        ),
        (
            with(json!({ "subject": "  " })),
            StatusCode::BAD_REQUEST,
            "subject",
        ),
        (with(json!({ "body": "" })), StatusCode::BAD_REQUEST, "body"),
        (
            with(json!({ "body_format": "html" })),
            StatusCode::BAD_REQUEST,
            "body_format",
        ),
        (
            with(json!({ "required_level": "gold" })),
            StatusCode::BAD_REQUEST,
            "required_level",
        ),
        (
            with(json!({ "deliver_at": "tomorrow" })),
            StatusCode::BAD_REQUEST,
            "RFC 3339",
        ),
        (
            with(json!({ "deliver_at": "2999-01-01T00:00:00Z" })),
            StatusCode::BAD_REQUEST,
            "days ahead",
        ),
        (
            with(json!({ "colour": "red" })),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        (
            with(
                json!({ "attachments": [file("a.pdf", "application/pdf", PDF), file("b.pdf", "application/pdf", PDF), file("c.pdf", "application/pdf", PDF)] }),
            ),
            StatusCode::BAD_REQUEST,
            "at most 2",
        ),
        (
            with(json!({ "attachments": [file("big.txt", "text/plain", &[b'a'; 1001])] })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than 1000",
        ),
        (
            with(
                json!({ "attachments": [file("virus.pdf", "application/pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04")] }),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not of any accepted type",
        ),
        (
            with(json!({ "attachments": [file("photo.png", "image/png", PDF)] })),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "its content is application/pdf",
        ),
        (
            with(json!({ "attachments": [file("run.exe", "application/x-msdownload", PDF)] })),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not accepted",
        ),
        (
            with(
                json!({ "attachments": [{ "filename": "x.pdf", "content_type": "application/pdf", "content_base64": "***" }] }),
            ),
            StatusCode::BAD_REQUEST,
            "not base64",
        ),
        (
            with(json!({ "attachments": [file("../../etc/passwd", "text/plain", b"x")] })),
            StatusCode::BAD_REQUEST,
            "plain file name",
        ),
    ];
    for (body, expected, reason) in cases {
        let (status, answer) = send(&app, &token, body.clone(), None).await;
        assert_eq!(status, expected, "{body} → {answer}");
        let text = answer["error_description"].as_str().unwrap_or_default();
        assert!(text.contains(reason), "{reason:?} not in {text:?}");
    }
    assert!(app.journal_of_kind("mailbox.notice_sent").await.is_empty());

    // Without a token: 401 with a challenge; a bad RUN once RUN addressing is allowed: 400.
    let (status, headers, _) = call(
        Method::POST,
        &app.at("/api/mailbox/v1/messages"),
        "",
        Some(base.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));
    let out = app.cli(&["client", "mailbox", &sii.client_id, "--by-run", "true"]);
    assert!(out.success, "{}", out.stderr);
    let (status, answer) = send(
        &app,
        &token,
        with(json!({ "to": { "run": "12.345.678-9" } })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = send(&app, &token, with(json!({ "to": { "run": RUN } })), None).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // The answer names the citizen by this client's sub, which then addresses them too.
    let (status, again) = send(
        &app,
        &token,
        with(json!({ "to": { "sub": answer["to"]["sub"] } })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    let (status, answer) = send(
        &app,
        &token,
        with(json!({ "to": { "run": "11.111.111-1" } })),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
}

#[tokio::test]
async fn scheduled_notices_arrive_at_their_time_and_only_then_alert() {
    let sink = SmtpSink::start(0).await;
    let mail = sink.mail_config();
    let app = TestApp::with_config(|c| c.mail = mail).await;
    let account = citizen(&app).await;
    verified_email(&app, &account.id).await;
    let sii = agency(&app, "Servicio de Impuestos Internos").await;
    let (sub, citizen_token, _) = citizen_session(&app, &sii).await;
    let token = service_token(&app, &sii, "mailbox:send").await;
    let later = (app.app.clock.now() + time::Duration::hours(1))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, sent) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Citación", "body": "Mañana.", "deliver_at": later }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["status"], "scheduled");
    assert!(sent["delivered_at"].is_null());
    let id = sent["id"].as_str().unwrap();
    let (_, list) = get(&app, &citizen_token, "/api/mailbox/v1/me/messages").await;
    assert_eq!(list["messages"], json!([]));
    let (status, _) = get(
        &app,
        &citizen_token,
        &format!("/api/mailbox/v1/me/messages/{id}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mailer = Mailer::new(&app.config.mail).unwrap().unwrap();
    let mailbox = app.app.wallet.mailbox();
    assert_eq!(mailbox.send_alerts(&mailer).await.unwrap().sent, 0);

    app.advance(time::Duration::seconds(3601));
    let inbox = mailbox.inbox(&account.id, false).await.unwrap();
    assert_eq!(inbox.unread, 1);
    assert_eq!(inbox.notices[0].id, id);
    // Access tokens live five minutes: a fresh one after the hour.
    let token = service_token(&app, &sii, "mailbox:send").await;
    let (_, state) = get(&app, &token, &format!("/api/mailbox/v1/messages/{id}")).await;
    assert_eq!(state["status"], "delivered");
    assert_eq!(state["delivered_at"], json!(later));
    // The alert goes now, not before.
    let report = mailbox.send_alerts(&mailer).await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn alerts_go_out_over_smtp_hide_sensitive_notices_and_failures_are_retried_and_reported() {
    let sink = SmtpSink::start(1).await;
    let mail = sink.mail_config();
    let app = TestApp::with_config(|c| c.mail = mail).await;
    let account = citizen(&app).await;
    verified_email(&app, &account.id).await;
    let fonasa = agency(&app, "FONASA").await;
    let (sub, citizen_token, _) = citizen_session(&app, &fonasa).await;
    let token = service_token(&app, &fonasa, "mailbox:send").await;

    let (_, plain) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Cambio de tramo", "body": "Su tramo cambió." }),
        None,
    )
    .await;
    let (status, secret) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Resultado de examen VIH", "body": "Confidencial.", "sensitive": true }),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Sending did not wait for the mail server.
    assert!(sink.messages().is_empty());
    assert_eq!(plain["alert"]["status"], "pending");

    // The citizen's list hides the sensitive notice's sender and subject.
    let (_, list) = get(&app, &citizen_token, "/api/mailbox/v1/me/messages").await;
    let hidden = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == secret["id"])
        .unwrap();
    assert_eq!(hidden["sensitive"], true);
    assert!(
        hidden["subject"].is_null() && hidden["sender"].is_null(),
        "{hidden}"
    );

    // The mail server refuses the first message: one alert fails, the other goes.
    let mailer = Mailer::new(&app.config.mail).unwrap().unwrap();
    let mailbox = app.app.wallet.mailbox();
    let first = mailbox.send_alerts(&mailer).await.unwrap();
    assert_eq!((first.sent, first.failed), (1, 1), "{first:?}");
    let status_of = |id: &Value| format!("/api/mailbox/v1/messages/{}", id.as_str().unwrap());
    let (_, a) = get(&app, &token, &status_of(&plain["id"])).await;
    let (_, b) = get(&app, &token, &status_of(&secret["id"])).await;
    let (failed, _) = if a["alert"]["status"] == "pending" {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(failed["alert"]["attempts"], 1, "{failed}");
    assert!(
        failed["alert_error"].as_str().unwrap().contains("451"),
        "{failed}"
    );
    assert!(failed["alert_sent_at"].is_null());
    // Not retried before its backoff; retried after it.
    assert_eq!(
        mailbox.send_alerts(&mailer).await.unwrap(),
        Default::default()
    );
    app.advance(time::Duration::seconds(31));
    assert_eq!(mailbox.send_alerts(&mailer).await.unwrap().sent, 1);
    let (_, retried) = get(&app, &token, &status_of(&failed["id"])).await;
    assert_eq!(retried["alert"]["status"], "sent");
    assert!(retried["alert_sent_at"].is_string());
    assert_eq!(retried["alert"]["attempts"], 2);

    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert_eq!(message.to, vec!["<maria@example.cl>".to_owned()]);
    }
    let text_for = |id: &Value| {
        messages
            .iter()
            .map(|m| m.text())
            .find(|t| t.contains(&format!("/me/mailbox/{}", id.as_str().unwrap())))
            .unwrap()
    };
    let plain_text = text_for(&plain["id"]);
    assert!(plain_text.contains("Cambio de tramo") && plain_text.contains("FONASA"));
    assert!(
        !plain_text.contains("Su tramo cambió"),
        "no content in alerts"
    );
    let secret_text = text_for(&secret["id"]);
    assert!(
        !secret_text.contains("VIH") && !secret_text.contains("FONASA"),
        "{secret_text}"
    );
    assert_eq!(app.journal_of_kind("mailbox.alert_sent").await.len(), 2);

    // Alerts off: the next notice's alert is recorded as disabled, and nothing is sent.
    mailbox.set_alerts(&account.id, false).await.unwrap();
    let (_, quiet) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Otro", "body": "Texto." }),
        None,
    )
    .await;
    assert_eq!(mailbox.send_alerts(&mailer).await.unwrap().skipped, 1);
    let (_, state) = get(&app, &token, &status_of(&quiet["id"])).await;
    assert_eq!(state["alert"]["status"], "disabled");
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test]
async fn an_alert_that_keeps_failing_is_given_up_and_reported() {
    let sink = SmtpSink::start(100).await;
    let mail = sink.mail_config();
    let app = TestApp::with_config(|c| c.mail = mail).await;
    let account = citizen(&app).await;
    verified_email(&app, &account.id).await;
    let sii = agency(&app, "SII").await;
    let (sub, _, _) = citizen_session(&app, &sii).await;
    let token = service_token(&app, &sii, "mailbox:send").await;
    let (_, sent) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Aviso", "body": "Texto." }),
        None,
    )
    .await;
    let mailer = Mailer::new(&app.config.mail).unwrap().unwrap();
    let mailbox = app.app.wallet.mailbox();
    let mut abandoned = 0;
    for _ in 0..clave_wallet::mailbox::alerts::MAX_ATTEMPTS {
        abandoned += mailbox.send_alerts(&mailer).await.unwrap().abandoned;
        app.advance(time::Duration::hours(2));
    }
    assert_eq!(abandoned, 1);
    let token = service_token(&app, &sii, "mailbox:send").await;
    let (_, state) = get(
        &app,
        &token,
        &format!("/api/mailbox/v1/messages/{}", sent["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(state["alert"]["status"], "failed", "{state}");
    assert!(state["alert_error"].as_str().unwrap().contains("451"));
    assert_eq!(app.journal_of_kind("mailbox.alert_failed").await.len(), 1);
}

#[tokio::test]
async fn a_notice_that_needs_a_higher_level_asks_for_a_step_up() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let sii = agency(&app, "SII").await;
    let (sub, citizen_token, browser) = citizen_session(&app, &sii).await;
    let token = service_token(&app, &sii, "mailbox:send").await;
    let (_, sent) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Deuda", "body": "Detalle.", "required_level": "urn:clave:loa:2" }),
        None,
    )
    .await;
    let id = sent["id"].as_str().unwrap();
    let (status, headers, body) = call(
        Method::GET,
        &app.at(&format!("/api/mailbox/v1/me/messages/{id}")),
        &citizen_token,
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "insufficient_user_authentication");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("acr_values=\"urn:clave:loa:2\""),
        "{challenge}"
    );

    // In the portal, the password-only session is sent to the step-up.
    let page = browser
        .http
        .get(app.at(&format!("/me/mailbox/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("/login/second-factor?then=mailbox")
    );
    let (_, state) = get(&app, &token, &format!("/api/mailbox/v1/messages/{id}")).await;
    assert!(
        state["first_opened_at"].is_null(),
        "not opened by the refusal"
    );

    // At level 2 it opens.
    let opened = app
        .app
        .wallet
        .mailbox()
        .open(&account.id, id, "urn:clave:loa:2")
        .await
        .unwrap();
    assert!(opened.first_opened_at.is_some());
}

#[tokio::test]
async fn security_events_become_notices_from_clave_once() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let mailbox = app.app.wallet.mailbox();
    // Events before the follower's first round are new to it (the cursor starts at migration).
    app.app
        .idp
        .accounts()
        .set_password(&account.id, "una contraseña nueva y larga")
        .await
        .unwrap();
    assert_eq!(mailbox.follow_journal().await.unwrap(), 1);
    assert_eq!(mailbox.follow_journal().await.unwrap(), 0);
    let inbox = mailbox.inbox(&account.id, false).await.unwrap();
    assert_eq!(inbox.unread, 1);
    let notice = &inbox.notices[0];
    assert_eq!(notice.sender, "clave");
    assert_eq!(notice.subject, "Tu contraseña cambió");
    assert!(notice.body_html().contains("href=\"/me/security\""));
}

#[tokio::test]
async fn the_retention_policy_deletes_old_notices_and_journals_the_proof() {
    let app = TestApp::with_config(|c| c.mailbox.retention_days = 30).await;
    let account = citizen(&app).await;
    let sii = agency(&app, "SII").await;
    let (sub, _, _) = citizen_session(&app, &sii).await;
    let token = service_token(&app, &sii, "mailbox:send").await;
    let (_, sent) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Aviso", "body": "Texto.",
                "attachments": [{ "filename": "a.pdf", "content_type": "application/pdf", "content_base64": STANDARD.encode(PDF) }] }),
        None,
    )
    .await;
    let id = sent["id"].as_str().unwrap();
    let mailbox = app.app.wallet.mailbox();
    mailbox
        .open(&account.id, id, "urn:clave:loa:1")
        .await
        .unwrap();
    assert_eq!(mailbox.apply_retention().await.unwrap(), 0);
    app.advance(time::Duration::days(31));
    assert_eq!(mailbox.apply_retention().await.unwrap(), 1);
    let deleted = app.journal_of_kind("mailbox.notice_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].data["notice_id"], json!(id));
    assert_eq!(deleted[0].data["content_digest"], sent["content_digest"]);
    assert!(deleted[0].data["first_opened_at"].is_i64());
    let token = service_token(&app, &sii, "mailbox:send").await;
    let (status, _) = get(&app, &token, &format!("/api/mailbox/v1/messages/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(app.app.journal.verify().await.unwrap().is_intact());
}
