//! The mailbox in the portal: the inbox with its unread count, a sensitive notice hidden in
//! the list, opening a notice (recorded as read), downloading its attachment, archiving it,
//! the alert preference, and the forms' CSRF protection.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;

use super::{PDF, agency, citizen_session, send, service_token};
use crate::support::TestApp;
use crate::support::accounts::input_value;
use crate::support::rp::{citizen, form_with};

#[tokio::test]
async fn the_portal_lists_opens_downloads_and_archives_notices() {
    let app = TestApp::new().await;
    let account = citizen(&app).await;
    let sii = agency(&app, "Servicio de Impuestos Internos").await;
    let (sub, _, browser) = citizen_session(&app, &sii).await;
    let token = service_token(&app, &sii, "mailbox:send").await;
    let (_, plain) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Devolución de impuestos", "body": "Le devolveremos **$ 120.000**.",
                "body_format": "markdown",
                "attachments": [{ "filename": "detalle.pdf", "content_type": "application/pdf", "content_base64": STANDARD.encode(PDF) }] }),
        None,
    )
    .await;
    let (_, secret) = send(
        &app,
        &token,
        json!({ "to": { "sub": sub }, "subject": "Sumario reservado", "body": "Texto.", "sensitive": true }),
        None,
    )
    .await;
    let page = |path: String| {
        let http = browser.http.clone();
        let url = app.at(&path);
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };

    let (_, home) = page("/".into()).await;
    assert!(
        home.contains(
            "<a href=\"/me/mailbox\">Mi casilla</a>: Tienes <strong>2</strong> sin leer."
        ),
        "{home}"
    );
    let (status, html) = page("/me/mailbox".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<html lang=\"es\">"));
    assert!(html.contains("<h1>Mi casilla</h1>"));
    assert!(
        html.contains("Tienes <strong>2</strong> sin leer."),
        "{html}"
    );
    assert!(html.contains("Devolución de impuestos"));
    assert!(html.contains("Notificación confidencial") && !html.contains("Sumario reservado"));
    assert!(html.contains("<caption>"));

    // Opening records the first reading and shows the body and the attachment.
    let id = plain["id"].as_str().unwrap();
    let (status, html) = page(format!("/me/mailbox/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<strong>$ 120.000</strong>"), "{html}");
    assert!(html.contains("detalle.pdf"));
    let (_, _, state) = super::call(
        reqwest::Method::GET,
        &app.at(&format!("/api/mailbox/v1/messages/{id}")),
        &token,
        None,
        &[],
    )
    .await;
    assert_eq!(state["status"], "opened");
    let download = browser
        .http
        .get(app.at(&format!("/me/mailbox/{id}/attachments/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);
    let (_, html) = page("/me/mailbox".into()).await;
    assert!(
        html.contains("Tienes <strong>1</strong> sin leer."),
        "{html}"
    );

    // The sensitive one shows itself once opened.
    let (_, html) = page(format!("/me/mailbox/{}", secret["id"].as_str().unwrap())).await;
    assert!(html.contains("Sumario reservado"));

    // Archiving needs the CSRF token, and moves the notice to the archive.
    let (_, html) = page(format!("/me/mailbox/{id}")).await;
    let response = browser
        .http
        .post(app.at(&format!("/me/mailbox/{id}")))
        .form(&[("action", "archive")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    let form = form_with(&html, "action", &app.at(&format!("/me/mailbox/{id}")));
    let response = browser.submit(&form, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = page(location).await;
    assert!(
        !html.contains("Devolución de impuestos") && html.contains("La notificación se archivó.")
    );
    let (_, html) = page("/me/mailbox?archived=1".into()).await;
    assert!(html.contains("Devolución de impuestos"));

    // Alerts can be turned off.
    let (_, html) = page("/me/mailbox".into()).await;
    assert!(input_value(&html, "csrf").is_some());
    let form = form_with(&html, "alerts", &app.at("/me/mailbox"));
    let response = browser.submit(&form, &[("alerts", "off")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        !app.app
            .wallet
            .mailbox()
            .alerts_wanted(&account.id)
            .await
            .unwrap()
    );
    let response = browser.submit(&form, &[("alerts", "maybe")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // English, and an unknown notice is a page, not an error dump.
    let (_, html) = page("/me/mailbox?lang=en".into()).await;
    assert!(html.contains("<h1>My mailbox</h1>"));
    let (status, _) = page("/me/mailbox/not-a-notice".into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Signed out, the pages send the browser to the login.
    let response = app.http().get(app.at("/me/mailbox")).send().await.unwrap();
    assert_eq!(response.headers()["location"], "/login");
}
