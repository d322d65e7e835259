//! How authorization requests arrive and leave: pushed (PAR), answered with `form_post`,
//! declined on the consent page, tied to the browser that made them, and redeemed on one of
//! two nodes.

use clave_idp::clients::NewClient;

use super::{authorize_url, journaled};
use crate::support::TestApp;
use crate::support::rp::{
    Browser, Landing, OnConsent, PASSWORD, REDIRECT_URI, RUN, citizen, form_with, post_form,
    redeem, register, web_client,
};

#[tokio::test]
async fn form_post_answers_with_a_self_submitting_form() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Previsión")).await;
    let mut browser = Browser::new(&app);
    let (url, verifier) = authorize_url(&app, &client, &[("response_mode", "form_post")]);
    let landing = browser
        .go(&url, Some((RUN, PASSWORD)), OnConsent::Approve)
        .await;
    let Landing::Page { status, body, .. } = landing else {
        panic!("form_post must answer with a page, got {landing:?}");
    };
    assert_eq!(status, 200);
    // No inline script: a script file, plus a button for browsers without scripts.
    assert!(body.contains("src=\"/static/form-post.js\""), "{body}");
    assert!(!body.contains("<script>"), "{body}");
    assert!(body.contains("<button"), "{body}");
    let form = form_with(&body, "code", REDIRECT_URI);
    assert_eq!(form.action, REDIRECT_URI);
    let field = |name: &str| {
        form.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("state").as_deref(), Some("st-123"));
    assert_eq!(field("iss").as_deref(), Some(app.url.as_str()));
    let (status, tokens) = redeem(&app.url, &client, &field("code").unwrap(), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    // The script the page names is served.
    let script = reqwest::get(format!("{}/static/form-post.js", app.url))
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains("submit()"));

    // Errors travel the same way.
    let (url, _) = authorize_url(
        &app,
        &client,
        &[("response_mode", "form_post"), ("scope", "openid wallet")],
    );
    let Landing::Page { body, .. } = Browser::new(&app).go(&url, None, OnConsent::Stop).await
    else {
        panic!("expected a form_post page");
    };
    assert!(body.contains("invalid_scope"), "{body}");
}

#[tokio::test]
async fn pushed_authorization_requests_are_single_use_and_can_be_required() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Aduanas")).await;
    let strict = register(
        &app,
        NewClient {
            require_par: true,
            ..web_client("Banco Estado")
        },
    )
    .await;
    let par = format!("{}/oauth2/par", app.url);
    let secret = client.secret.clone().unwrap();
    let (url, verifier) = authorize_url(&app, &client, &[]);
    let query: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    // The client must authenticate to push.
    let (status, body) = post_form(&par, &pairs, Some((&client.client_id, "wrong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // A pushed request is validated like any other.
    let mut bad = pairs.clone();
    bad.retain(|(k, _)| *k != "redirect_uri");
    bad.push(("redirect_uri", "https://attacker.example/cb"));
    let (status, body) = post_form(&par, &bad, Some((&client.client_id, &secret))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    let (status, pushed) = post_form(&par, &pairs, Some((&client.client_id, &secret))).await;
    assert_eq!(status, 201, "{pushed}");
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(pushed["expires_in"], app.config.tokens.par_ttl_secs);

    let by_reference = format!(
        "{}/oauth2/authorize?{}",
        app.url,
        serde_urlencoded::to_string([
            ("client_id", client.client_id.as_str()),
            ("request_uri", &request_uri)
        ])
        .unwrap()
    );
    let mut browser = Browser::new(&app);
    let landing = browser
        .go(&by_reference, Some((RUN, PASSWORD)), OnConsent::Approve)
        .await;
    assert_eq!(landing.param("state").as_deref(), Some("st-123"));
    let (status, tokens) = redeem(&app.url, &client, &landing.code(), &verifier).await;
    assert_eq!(status, 200, "{tokens}");

    // Used once; then it is gone (and shown as a page: nothing says where to redirect).
    let response = browser.http.get(&by_reference).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("request_uri"));
    // It expires.
    let (_, pushed) = post_form(&par, &pairs, Some((&client.client_id, &secret))).await;
    app.advance(time::Duration::seconds(app.config.tokens.par_ttl_secs + 1));
    let late = format!(
        "{}/oauth2/authorize?{}",
        app.url,
        serde_urlencoded::to_string([
            ("client_id", client.client_id.as_str()),
            ("request_uri", pushed["request_uri"].as_str().unwrap())
        ])
        .unwrap()
    );
    assert_eq!(browser.http.get(&late).send().await.unwrap().status(), 400);

    // A client that requires PAR is refused a plain request, and accepted through PAR.
    let (url, verifier) = authorize_url(&app, &strict, &[]);
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    assert_eq!(landing.param("error").as_deref(), Some("invalid_request"));
    let query: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let strict_secret = strict.secret.clone().unwrap();
    let (status, pushed) = post_form(&par, &pairs, Some((&strict.client_id, &strict_secret))).await;
    assert_eq!(status, 201, "{pushed}");
    // Another client cannot use it.
    let stolen = format!(
        "{}/oauth2/authorize?{}",
        app.url,
        serde_urlencoded::to_string([
            ("client_id", client.client_id.as_str()),
            ("request_uri", pushed["request_uri"].as_str().unwrap())
        ])
        .unwrap()
    );
    assert_eq!(
        browser.http.get(&stolen).send().await.unwrap().status(),
        400
    );
    let by_reference = format!(
        "{}/oauth2/authorize?{}",
        app.url,
        serde_urlencoded::to_string([
            ("client_id", strict.client_id.as_str()),
            ("request_uri", pushed["request_uri"].as_str().unwrap())
        ])
        .unwrap()
    );
    let landing = browser.go(&by_reference, None, OnConsent::Approve).await;
    let (status, tokens) = redeem(&app.url, &strict, &landing.code(), &verifier).await;
    assert_eq!(status, 200, "{tokens}");
}

#[tokio::test]
async fn a_citizen_can_decline_and_requests_stay_in_their_browser() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Encuestas")).await;
    let mut browser = Browser::new(&app);
    let (url, _) = authorize_url(&app, &client, &[("scope", "openid run")]);
    let landing = browser
        .go(&url, Some((RUN, PASSWORD)), OnConsent::Deny)
        .await;
    assert_eq!(landing.param("error").as_deref(), Some("access_denied"));
    assert_eq!(landing.param("state").as_deref(), Some("st-123"));
    assert_eq!(journaled(&app, "consent.denied").await, 1);

    // The consent page names the service and what it wants, in plain words.
    let (url, _) = authorize_url(&app, &client, &[("scope", "openid run")]);
    let Landing::Page { path, body, .. } = browser.go(&url, None, OnConsent::Stop).await else {
        panic!("expected the consent page");
    };
    assert_eq!(path, "/consent");
    assert!(body.contains("Encuestas"), "{body}");
    assert!(body.contains("RUN"), "{body}");
    assert!(body.contains("name=\"csrf\""), "{body}");

    // A request id is worth nothing in another browser, logged in or not.
    let form = form_with(&body, "decision", &format!("{}/consent", app.url));
    let request_id = form
        .fields
        .iter()
        .find(|(name, _)| name == "req")
        .map(|(_, value)| value.clone())
        .expect("the consent form carries the request id");
    let intruder = Browser::new(&app);
    intruder.log_in(RUN, PASSWORD).await;
    let resume = intruder
        .http
        .get(format!(
            "{}/oauth2/authorize/resume?req={request_id}",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resume.status(), 400);
    assert!(resume.headers().get("location").is_none());
    let consent = intruder
        .http
        .get(format!("{}/consent?req={request_id}", app.url))
        .send()
        .await
        .unwrap();
    assert!(consent.status().is_client_error(), "{}", consent.status());
    // The rightful browser still finishes it.
    let Landing::Client(_) = browser
        .go(
            &format!("/consent?req={request_id}"),
            None,
            OnConsent::Approve,
        )
        .await
    else {
        panic!("the citizen's own browser must finish the request");
    };
}

#[tokio::test]
async fn a_code_is_redeemed_once_across_two_nodes() {
    let app = TestApp::new().await;
    let node = app.second_node().await;
    citizen(&app).await;
    let client = register(&app, web_client("Nodo")).await;
    let mut browser = Browser::new(&app);
    for round in 0..3 {
        let (url, verifier) = authorize_url(&app, &client, &[]);
        let landing = browser
            .go(&url, Some((RUN, PASSWORD)), OnConsent::Approve)
            .await;
        let code = landing.code();
        let (first, second) = tokio::join!(
            redeem(&app.url, &client, &code, &verifier),
            redeem(&node.url, &client, &code, &verifier),
        );
        let statuses = [first.0, second.0];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {first:?} {second:?}"
        );
        let loser = if first.0 == 200 { &second.1 } else { &first.1 };
        assert_eq!(loser["error"], "invalid_grant", "round {round}");
    }
    assert_eq!(journaled(&app, "code.replayed").await, 3);
}

#[tokio::test]
async fn a_service_removed_during_the_login_gets_no_answer_at_its_old_address() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Servicio retirado")).await;
    let mut browser = Browser::new(&app);
    browser.log_in(RUN, PASSWORD).await;
    let (url, _verifier) = authorize_url(&app, &client, &[]);
    let Landing::Page { path, body, .. } = browser.go(&url, None, OnConsent::Stop).await else {
        panic!("the consent page was expected");
    };
    assert_eq!(path, "/consent");
    let consent = form_with(&body, "decision", &app.at("/consent"));
    app.app
        .idp
        .clients()
        .remove(&client.client_id)
        .await
        .unwrap();
    let answer = browser.submit(&consent, &[("decision", "approve")]).await;
    let mut status = answer.status();
    let mut location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned());
    // Follow clave's own redirects; none may lead to the removed service's address.
    while let Some(next) = location.take() {
        assert!(
            !next.starts_with(REDIRECT_URI),
            "redirected to the removed service: {next}"
        );
        let absolute = if next.starts_with('/') {
            app.at(&next)
        } else {
            next
        };
        let response = browser.http.get(&absolute).send().await.unwrap();
        status = response.status();
        location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
    }
    assert!(status.is_client_error(), "a page explains it: {status}");
}

#[tokio::test]
async fn an_id_token_hint_for_someone_else_asks_for_a_login() {
    let app = TestApp::new().await;
    citizen(&app).await;
    app.citizen("11.111.111-1", PASSWORD).await;
    let client = register(&app, web_client("Previsión")).await;
    let other = register(&app, web_client("Otro servicio")).await;

    // María signs in; the service keeps her ID token.
    let mut browser = Browser::new(&app);
    let (url, verifier) = authorize_url(&app, &client, &[]);
    let landing = browser
        .go(&url, Some((RUN, PASSWORD)), OnConsent::Approve)
        .await;
    let (_, tokens) = redeem(&app.url, &client, &landing.code(), &verifier).await;
    let maria_hint = tokens["id_token"].as_str().unwrap().to_owned();

    // With her own hint, a silent request succeeds.
    let (url, _) = authorize_url(
        &app,
        &client,
        &[("prompt", "none"), ("id_token_hint", &maria_hint)],
    );
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    assert!(landing.param("code").is_some(), "{landing:?}");

    // Someone else now uses the browser: the hint for María is not answered with their code.
    let mut shared = Browser::new(&app);
    shared.log_in("11.111.111-1", PASSWORD).await;
    let (url, _) = authorize_url(
        &app,
        &client,
        &[("prompt", "none"), ("id_token_hint", &maria_hint)],
    );
    let landing = shared.go(&url, None, OnConsent::Stop).await;
    assert_eq!(landing.param("error").as_deref(), Some("login_required"));
    let (url, _) = authorize_url(&app, &client, &[("id_token_hint", &maria_hint)]);
    let landing = shared.go(&url, None, OnConsent::Stop).await;
    assert!(
        matches!(&landing, Landing::Page { path, .. } if path == "/login"),
        "{landing:?}"
    );

    // A hint issued to another client, or no ID token at all, is the client's error.
    let (url, _) = authorize_url(&app, &other, &[("id_token_hint", &maria_hint)]);
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    assert_eq!(landing.param("error").as_deref(), Some("invalid_request"));
    let (url, _) = authorize_url(&app, &client, &[("id_token_hint", "not.a.token")]);
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    assert_eq!(landing.param("error").as_deref(), Some("invalid_request"));
    let access = tokens["access_token"].as_str().unwrap();
    let (url, _) = authorize_url(&app, &client, &[("id_token_hint", access)]);
    let landing = browser.go(&url, None, OnConsent::Stop).await;
    assert_eq!(landing.param("error").as_deref(), Some("invalid_request"));
}
