//! Corrections: the citizen asks the registry to correct a value it published, from "My
//! data"; the registry lists the open requests and answers; the citizen reads the answer on
//! the page and in the mailbox. Self-asserted values, a second open request, another source
//! answering, and a malformed answer are refused with the reason.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{call, put, source};
use crate::support::TestApp;
use crate::support::rp::{Browser, PASSWORD, RUN, citizen, form_with};

#[tokio::test]
async fn a_citizen_asks_the_source_to_correct_a_value_and_reads_its_answer() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    let (_, registry) = source(&app, "Registro Civil", &["birthdate"]).await;
    let (_, fonasa) = source(&app, "FONASA", &["health_insurance_tier"]).await;
    let (status, body) = put(
        &app,
        &registry,
        RUN,
        "birthdate",
        json!({ "value": "1985-04-32" }),
    )
    .await;
    assert!(status.is_client_error(), "{body}");
    let (status, body) = put(
        &app,
        &registry,
        RUN,
        "birthdate",
        json!({ "value": "1985-03-23" }),
    )
    .await;
    assert!(status.is_success(), "{body}");
    app.app
        .wallet
        .assert_value(&maria.id, "phone_number", &json!("+56 9 1234 5678"))
        .await
        .unwrap();

    let browser = Browser::new(&app);
    browser.log_in(RUN, PASSWORD).await;
    let page = || async {
        let response = browser.http.get(app.at("/me/data")).send().await.unwrap();
        response.text().await.unwrap()
    };
    let html = page().await;
    assert!(html.contains("Pedir una corrección"), "{html}");
    // Only values from sources can be corrected this way.
    assert!(html.contains("<option value=\"birthdate\">"));
    assert!(!html.contains("<option value=\"phone_number\">"));
    let form = form_with(&html, "message", &app.at("/me/data/corrections"));
    let empty = browser
        .submit(&form, &[("attribute", "birthdate"), ("message", "  ")])
        .await;
    assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mine = browser
        .submit(
            &form,
            &[("attribute", "phone_number"), ("message", "Está mal")],
        )
        .await;
    assert_eq!(mine.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        mine.text()
            .await
            .unwrap()
            .contains("change it in your data")
    );
    let sent = browser
        .submit(
            &form,
            &[
                ("attribute", "birthdate"),
                ("message", "Nací el 23 de abril, no de marzo."),
            ],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let again = browser
        .submit(
            &form,
            &[("attribute", "birthdate"), ("message", "Otra vez")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().await.unwrap().contains("already waiting"));
    let html = page().await;
    assert!(html.contains("Esperando respuesta"), "{html}");

    // The registry sees it; FONASA does not, and cannot answer it.
    let (status, list) = call(
        Method::GET,
        &app.at("/api/wallet/v1/corrections"),
        &registry,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let corrections = list["corrections"].as_array().unwrap();
    assert_eq!(corrections.len(), 1, "{list}");
    assert_eq!(corrections[0]["citizen"]["run"], "12.345.678-5");
    assert_eq!(corrections[0]["attribute"], "birthdate");
    let id = corrections[0]["id"].as_str().unwrap().to_owned();
    let (_, theirs) = call(
        Method::GET,
        &app.at("/api/wallet/v1/corrections"),
        &fonasa,
        None,
    )
    .await;
    assert_eq!(theirs["corrections"], json!([]));
    let path = format!("/api/wallet/v1/corrections/{id}");
    let answer = json!({ "outcome": "corrected", "note": "Se corrigió según el acta." });
    let (status, _) = call(Method::POST, &app.at(&path), &fonasa, Some(answer.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        Method::POST,
        &app.at(&path),
        &registry,
        Some(json!({ "outcome": "maybe", "note": "x" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(
        Method::GET,
        &app.at("/api/wallet/v1/corrections?status=closed"),
        &registry,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The registry publishes the right value and answers; a second answer is refused.
    let (status, _) = put(
        &app,
        &registry,
        RUN,
        "birthdate",
        json!({ "value": "1985-04-23" }),
    )
    .await;
    assert!(status.is_success());
    let (status, body) = call(
        Method::POST,
        &app.at(&path),
        &registry,
        Some(answer.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "corrected");
    let (status, _) = call(Method::POST, &app.at(&path), &registry, Some(answer)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let html = page().await;
    assert!(
        html.contains("Corregido") && html.contains("Se corrigió según el acta."),
        "{html}"
    );
    // The answer reaches the mailbox too.
    app.app.wallet.mailbox().follow_journal().await.unwrap();
    let inbox = app
        .app
        .wallet
        .mailbox()
        .inbox(&maria.id, false)
        .await
        .unwrap();
    assert!(
        inbox
            .notices
            .iter()
            .any(|n| n.subject == "Respondieron tu solicitud de corrección")
    );
    assert_eq!(app.journal_of_kind("correction.requested").await.len(), 1);
    assert_eq!(app.journal_of_kind("correction.answered").await.len(), 1);
}
