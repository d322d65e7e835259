//! A citizen the registry created activates with the serial number of their identity card,
//! as the registry published it: once, for a first password only, and throttled.

use reqwest::StatusCode;
use serde_json::json;

use super::{call, source};
use crate::callers::{cookie_client, submit};
use crate::support::TestApp;
use crate::support::accounts::Fetched;
use crate::support::rp::PASSWORD;

const PEDRO: &str = "22.222.222-2";
const SERIAL: &str = "100.123.456";

async fn activate(app: &TestApp, run: &str, serial: &str, password: &str) -> Fetched {
    submit(
        &cookie_client(),
        app,
        "/activate",
        "/activate",
        &[
            ("proof", "document"),
            ("run", run),
            ("serial", serial),
            ("password", password),
            ("password_again", password),
        ],
    )
    .await
}

#[tokio::test]
async fn a_registry_citizen_activates_with_the_card_serial_once_and_never_over_a_password() {
    let app = TestApp::new().await;
    let (_registry, token) = source(
        &app,
        "Registro Civil",
        &["given_names", "family_names", "document_serial"],
    )
    .await;
    let publish = |items: serde_json::Value| {
        let (app, token) = (&app, &token);
        async move {
            let (status, report) = call(
                reqwest::Method::POST,
                &app.at("/api/wallet/v1/attributes/batch"),
                token,
                Some(json!({ "items": items })),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            assert_eq!(report["rejected"], 0, "{report}");
        }
    };
    publish(json!([
        {"run": PEDRO, "attribute": "given_names", "value": "Pedro Pablo"},
        {"run": PEDRO, "attribute": "family_names", "value": "Rojas"},
    ]))
    .await;

    // Before the registry publishes a serial, no serial activates the account.
    let early = activate(&app, PEDRO, SERIAL, PASSWORD).await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST, "{}", early.body);
    assert!(early.body.contains("número de documento"), "{}", early.body);

    publish(json!([{"run": PEDRO, "attribute": "document_serial", "value": SERIAL}])).await;
    let wrong = activate(&app, PEDRO, "100.123.457", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.journal_of_kind("activation.failed").await.len(), 2);
    // The right serial, typed without dots, with the wrong repeated password first.
    let mismatch = submit(
        &cookie_client(),
        &app,
        "/activate",
        "/activate",
        &[
            ("proof", "document"),
            ("run", PEDRO),
            ("serial", "100123456"),
            ("password", PASSWORD),
            ("password_again", "otra cosa distinta"),
        ],
    )
    .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(mismatch.body.contains("no coinciden"));
    let done = activate(&app, PEDRO, "100123456", PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("id=\"activated\""), "{}", done.body);
    let activated = app.journal_of_kind("account.activated").await;
    assert_eq!(activated.len(), 1);
    assert_eq!(
        activated[0].data["proof"], "document_serial",
        "{activated:?}"
    );
    let pedro = app
        .app
        .idp
        .accounts()
        .find_by_run(&clave_common::Run::parse(PEDRO).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(pedro.has_password);

    // Whoever else holds the card cannot set another password over Pedro's.
    let takeover = activate(&app, PEDRO, SERIAL, "una frase distinta y larga").await;
    assert_eq!(takeover.status, StatusCode::BAD_REQUEST);
    assert!(
        takeover.body.contains("ya tiene contraseña"),
        "{}",
        takeover.body
    );
    assert_eq!(app.journal_of_kind("account.activated").await.len(), 1);
}

#[tokio::test]
async fn a_citizen_cannot_vouch_for_their_own_serial_and_guessing_is_throttled() {
    let app = TestApp::new().await;
    let (_registry, token) = source(&app, "Registro Civil", &["given_names", "family_names"]).await;
    let (status, report) = call(
        reqwest::Method::POST,
        &app.at("/api/wallet/v1/attributes/batch"),
        &token,
        Some(json!({"items": [
            {"run": PEDRO, "attribute": "given_names", "value": "Pedro"},
            {"run": PEDRO, "attribute": "family_names", "value": "Rojas"},
            // Not authoritative for the serial: refused, so nothing vouches for one.
            {"run": PEDRO, "attribute": "document_serial", "value": SERIAL},
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["results"][2]["error"], "not_authoritative",
        "{report}"
    );
    let refused = activate(&app, PEDRO, SERIAL, PASSWORD).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    // Guessing serials locks the RUN out like guessing passwords does.
    let mut last = StatusCode::OK;
    for guess in 0..12 {
        last = activate(&app, PEDRO, &format!("100.000.{guess:03}"), PASSWORD)
            .await
            .status;
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}
