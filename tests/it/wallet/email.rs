//! A self-asserted e-mail address stays unverified until the citizen types back the code
//! clave sent to it over SMTP; wrong codes are counted, a code expires, and the verified
//! address is what the account and the wallet then carry.

use reqwest::StatusCode;

use crate::support::TestApp;
use crate::support::rp::{Browser, PASSWORD, RUN, citizen, form_with};
use crate::support::smtp::SmtpSink;

/// The six-digit code in the last message the sink received.
fn last_code(sink: &SmtpSink) -> String {
    let text = sink.messages().last().unwrap().text();
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_self_asserted_email_is_verified_by_a_code_sent_to_it() {
    let sink = SmtpSink::start(0).await;
    let mail = sink.mail_config();
    let app = TestApp::with_config(|c| c.mail = mail).await;
    let account = citizen(&app).await;
    let browser = Browser::new(&app);
    browser.log_in(RUN, PASSWORD).await;
    let page = |path: &'static str| {
        let http = browser.http.clone();
        let url = app.at(path);
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (_, html) = page("/me/data").await;
    let form = form_with(&html, "attribute", &app.at("/me/data"));
    let mut email = form.clone();
    email.fields.retain(|(n, _)| n != "attribute");
    let response = browser
        .submit(
            &email,
            &[("attribute", "email"), ("value", "maria.nueva@example.cl")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page("/me/data").await;
    assert!(html.contains("Verifica tu correo") && html.contains("maria.nueva@example.cl"));

    // Ask for a code: it arrives at the new address.
    let send = form_with(&html, "action", &app.at("/me/data"));
    let response = browser.submit(&send, &[]).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{}",
        response.text().await.unwrap()
    );
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(
        sink.messages()[0].to,
        vec!["<maria.nueva@example.cl>".to_owned()]
    );
    let code = last_code(&sink);
    let (_, html) = page("/me/data?done=code_sent").await;
    let confirm = form_with(&html, "code", &app.at("/me/data"));

    // A wrong code is counted and refused; the right one verifies the address.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let response = browser.submit(&confirm, &[("code", wrong)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("4 attempts left"));
    let response = browser.submit(&confirm, &[("code", &code)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let stored = app
        .app
        .idp
        .accounts()
        .get(&account.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.email.as_deref(), Some("maria.nueva@example.cl"));
    assert!(stored.email_verified);
    let values = app.app.wallet.values().current(&account.id).await.unwrap();
    let email_value = values.iter().find(|v| v.attribute == "email").unwrap();
    assert!(email_value.verified);
    assert_eq!(app.journal_of_kind("email.verified").await.len(), 1);
    let (_, html) = page("/me/data?done=email_verified").await;
    assert!(html.contains("Tu correo quedó verificado.") && !html.contains("Verifica tu correo"));
    // The code is spent.
    let response = browser.submit(&confirm, &[("code", &code)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn codes_expire_and_allow_few_attempts() {
    let sink = SmtpSink::start(0).await;
    let mail = sink.mail_config();
    let app = TestApp::with_config(|c| c.mail = mail).await;
    let account = citizen(&app).await;
    let wallet = &app.app.wallet;
    wallet
        .assert_value(&account.id, "email", &serde_json::json!("otra@example.cl"))
        .await
        .unwrap();
    let mailer = clave_common::mail::Mailer::new(&app.config.mail)
        .unwrap()
        .unwrap();
    wallet.send_email_code(&account.id, &mailer).await.unwrap();
    let code = last_code(&sink);
    app.advance(time::Duration::minutes(16));
    let err = wallet
        .confirm_email_code(&account.id, &code)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");

    wallet.send_email_code(&account.id, &mailer).await.unwrap();
    let code = last_code(&sink);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..clave_wallet::email_code::MAX_ATTEMPTS {
        assert!(wallet.confirm_email_code(&account.id, wrong).await.is_err());
    }
    let err = wallet
        .confirm_email_code(&account.id, &code)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too many"), "{err}");
    let stored = app
        .app
        .idp
        .accounts()
        .get(&account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.email_verified);
}
