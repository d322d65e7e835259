//! The data wallet end to end: sources publish over the API, a relying party built with
//! `openidconnect` gets the consent page and the consented claims with their provenance, the
//! receipt verifies against the JWKS, the once-only agency API honours a consent and refuses
//! after its revocation, the access log shows every release, and the ledger is tamper-evident.

use clave_idp::clients::NewClient;
use openidconnect::{OAuth2TokenResponse, TokenResponse as _};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::rp::{
    Browser, EventListener, OnConsent, PASSWORD, RUN, Registered, Rp, citizen, jwt_parts, register,
    verify_with_jwks, web_client,
};

mod activation;
mod cli;
mod corrections;
mod email;

/// A source agency: a service client allowed to publish.
async fn source(app: &TestApp, name: &str, attributes: &[&str]) -> (Registered, String) {
    let registered = register(
        app,
        NewClient {
            name: name.into(),
            scopes: vec!["wallet:publish".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await;
    for attribute in attributes {
        app.app
            .wallet
            .catalogue()
            .grant_source(attribute, &registered.client_id)
            .await
            .unwrap();
    }
    let token = service_token(app, &registered, "wallet:publish").await;
    (registered, token)
}

/// A client_credentials access token for `scope`.
async fn service_token(app: &TestApp, client: &Registered, scope: &str) -> String {
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

/// A call with a bearer token; the status and the JSON body.
pub(crate) async fn call(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn put(
    app: &TestApp,
    token: &str,
    run: &str,
    attribute: &str,
    body: Value,
) -> (StatusCode, Value) {
    call(
        reqwest::Method::PUT,
        &app.at(&format!(
            "/api/wallet/v1/citizens/{run}/attributes/{attribute}"
        )),
        token,
        Some(body),
    )
    .await
}

/// The registry and the health fund publish María's data.
pub(crate) async fn publish_maria(app: &TestApp) -> (Registered, Registered) {
    let (registry, registry_token) = source(
        app,
        "Registro Civil",
        &["given_names", "family_names", "birthdate", "nationality"],
    )
    .await;
    let (fonasa, fonasa_token) = source(app, "FONASA", &["health_insurance_tier"]).await;
    let (status, _) = put(
        app,
        &registry_token,
        RUN,
        "birthdate",
        json!({"value": "1985-04-23", "source_reference": "acta 123"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = put(
        app,
        &registry_token,
        RUN,
        "nationality",
        json!({"value": "CL"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = put(
        app,
        &fonasa_token,
        RUN,
        "health_insurance_tier",
        json!({"value": "B"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    (registry, fonasa)
}

#[tokio::test]
async fn sources_publish_what_they_are_authoritative_for_and_nothing_else() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    let (_registry, token) = source(
        &app,
        "Registro Civil",
        &["given_names", "family_names", "birthdate"],
    )
    .await;

    let (status, body) = put(
        &app,
        &token,
        "12345678-5",
        "birthdate",
        json!({"value": "1985-04-23"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "created");
    let (status, body) = put(
        &app,
        &token,
        RUN,
        "birthdate",
        json!({"value": "1985-04-23"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("unchanged"))
    );
    let (status, body) = put(
        &app,
        &token,
        RUN,
        "birthdate",
        json!({"value": "1985-04-24", "source_reference": "rectificación 77"}),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("updated"))
    );
    // The old version is kept as history, never overwritten.
    let history = app
        .app
        .wallet
        .values()
        .history(&maria.id, "birthdate")
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].value, json!("1985-04-24"));
    assert_eq!(
        history[0].source_reference.as_deref(),
        Some("rectificación 77")
    );
    assert!(history[0].superseded_at.is_none() && history[1].superseded_at.is_some());
    assert_eq!(history[1].value, json!("1985-04-23"));

    // Refusals: not authoritative, a bad value, an unknown attribute, a bad RUN.
    let (status, body) = put(
        &app,
        &token,
        RUN,
        "health_insurance_tier",
        json!({"value": "A"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_authoritative"))
    );
    let (status, body) = put(
        &app,
        &token,
        RUN,
        "birthdate",
        json!({"value": "23/04/1985"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("1990-04-23"),
        "{body}"
    );
    let (status, body) = put(&app, &token, RUN, "shoe_size", json!({"value": "42"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_attribute"))
    );
    let (status, body) = put(
        &app,
        &token,
        "12.345.678-9",
        "birthdate",
        json!({"value": "1985-04-23"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_run"))
    );
    let (status, _) = put(
        &app,
        &token,
        RUN,
        "birthdate",
        json!({"value": "1985-04-23", "colour": "red"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A source that is not the identity registry cannot create citizens.
    let (_fonasa, fonasa_token) = source(&app, "FONASA", &["health_insurance_tier"]).await;
    let (status, body) = put(
        &app,
        &fonasa_token,
        "11.111.111-1",
        "health_insurance_tier",
        json!({"value": "A"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_citizen"))
    );

    // A token without the publishing scope, and no token at all.
    let reader = register(
        &app,
        NewClient {
            name: "Lector".into(),
            scopes: vec!["wallet:read".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await;
    let read_token = service_token(&app, &reader, "wallet:read").await;
    let (status, body) = put(
        &app,
        &read_token,
        RUN,
        "birthdate",
        json!({"value": "1985-04-23"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_scope"))
    );
    let (status, _) = put(&app, "", RUN, "birthdate", json!({"value": "1985-04-23"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_batch_writes_every_valid_item_at_once_and_reports_the_others() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let (_registry, token) = source(
        &app,
        "Registro Civil",
        &["given_names", "family_names", "birthdate", "civil_status"],
    )
    .await;
    let items = json!({"items": [
        {"run": RUN, "attribute": "civil_status", "value": "casado"},
        {"run": RUN, "attribute": "civil_status", "value": "married"},
        {"run": "22.222.222-2", "attribute": "given_names", "value": "Pedro Pablo"},
        {"run": "22.222.222-2", "attribute": "family_names", "value": "Rojas"},
        {"run": "22.222.222-2", "attribute": "birthdate", "value": "2001-01-31", "valid_from": "2001-01-31"},
        {"run": RUN, "attribute": "sex", "value": "F"},
        {"run": "nonsense", "attribute": "birthdate", "value": "2001-01-31"},
        {"attribute": "birthdate"},
    ]});
    let (status, report) = call(
        reqwest::Method::POST,
        &app.at("/api/wallet/v1/attributes/batch"),
        &token,
        Some(items),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["written"], 4);
    assert_eq!(report["rejected"], 4);
    assert_eq!(report["citizens_created"], 1);
    let errors: Vec<(u64, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "rejected")
        .map(|r| (r["index"].as_u64().unwrap(), r["error"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [
            (1, "invalid_value"),
            (5, "not_authoritative"),
            (6, "invalid_run"),
            (7, "malformed")
        ]
    );
    // The registry created Pedro's account, named, without a password: he activates later.
    let pedro = app
        .app
        .idp
        .accounts()
        .find_by_run(&clave_common::Run::parse("22.222.222-2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (pedro.given_names.as_str(), pedro.family_names.as_str()),
        ("Pedro Pablo", "Rojas")
    );
    assert!(!pedro.has_password);
    let values = app.app.wallet.values().current(&pedro.id).await.unwrap();
    assert_eq!(values.len(), 3);

    // Too many items, and none.
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"run": RUN, "attribute": "birthdate", "value": "2001-01-31"}))
        .collect();
    let (status, _) = call(
        reqwest::Method::POST,
        &app.at("/api/wallet/v1/attributes/batch"),
        &token,
        Some(json!({"items": many})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = call(
        reqwest::Method::POST,
        &app.at("/api/wallet/v1/attributes/batch"),
        &token,
        Some(json!({"items": []})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A web client for the wallet tests: login scopes, the wallet's, and client_credentials
/// for the agency API.
pub(crate) async fn service_with_wallet_access(app: &TestApp, events: Option<&str>) -> Registered {
    let mut new = web_client("Municipalidad de Providencia");
    new.scopes
        .extend(["health", "address", "wallet", "wallet:read"].map(String::from));
    new.grants = vec!["client_credentials".into()];
    let registered = register(app, new).await;
    app.app
        .wallet
        .consents()
        .set_terms(
            &registered.client_id,
            &clave_wallet::consent::ClientTerms {
                purpose: Some("Tramitar el permiso de circulación".into()),
                legal_basis: Some("Ley 18.695".into()),
                consent_events_uri: events.map(str::to_owned),
            },
        )
        .await
        .unwrap();
    registered
}

pub(crate) const ONGOING: &str = r#"[{"type": "clave_wallet", "attributes": ["birthdate"], "optional_attributes": ["nationality"], "purpose": "Verificar la edad para el subsidio", "mode": "ongoing", "expires_in": 2592000}]"#;

#[tokio::test]
async fn a_relying_party_gets_the_consented_claims_with_provenance_and_a_verifiable_receipt() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    publish_maria(&app).await;
    let client = service_with_wallet_access(&app, None).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let discovery: Value = reqwest::get(app.at("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["authorization_details_types_supported"],
        json!(["clave_wallet"])
    );
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("health"))
    );
    assert!(
        discovery["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("attribute_provenance"))
    );

    // The consent page shows the purpose, the duration, each value and its source.
    let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
    let landing = browser
        .go(start.url.as_str(), Some((RUN, PASSWORD)), OnConsent::Stop)
        .await;
    let crate::support::rp::Landing::Page { path, body, .. } = &landing else {
        panic!("expected the consent page, got {landing:?}");
    };
    assert_eq!(path, "/consent");
    for expected in [
        "Verificar la edad para el subsidio",
        "Ley 18.695",
        "Hasta el",
        "1985-04-23",
        "Registro Civil",
        "Fecha de nacimiento",
        "name=\"share\" value=\"nationality\"",
    ] {
        assert!(
            body.contains(expected),
            "{expected} missing from the consent page"
        );
    }
    // The citizen unticks nothing: the page's form is sent as a browser sends it.
    let page_url = app.at(&format!(
        "/consent?{}",
        browser
            .visited
            .last()
            .unwrap()
            .split_once('?')
            .map_or("", |(_, q)| q)
    ));
    let form = crate::support::rp::form_with(body, "decision", &page_url);
    let response = browser.submit(&form, &[("decision", "approve")]).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let landing = browser.go(&location, None, OnConsent::Stop).await;
    let code = landing.code();
    let tokens = rp.exchange(&code, start.verifier).await;
    let claims = rp.id_claims(&tokens, Some(&start.nonce));
    assert_eq!(claims.birthdate().map(|b| b.as_str()), Some("1985-04-23"));

    let raw_id = tokens.id_token().unwrap().to_string();
    let (_, id_claims) = jwt_parts(&raw_id);
    assert_eq!(id_claims["nationality"], "CL");
    assert_eq!(
        id_claims["attribute_provenance"]["birthdate"]["source"],
        "Registro Civil"
    );
    assert_eq!(
        id_claims["attribute_provenance"]["birthdate"]["verified"],
        true
    );
    assert!(
        id_claims["attribute_provenance"]["birthdate"]["updated_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    // Not consented, so not released, though the scope allows asking.
    assert!(id_claims.get("health_insurance_tier").is_none());

    let userinfo = crate::support::rp::userinfo(&app.url, tokens.access_token().secret()).await;
    assert_eq!(userinfo.0, 200);
    assert_eq!(userinfo.1["birthdate"], "1985-04-23");
    assert_eq!(
        userinfo.1["attribute_provenance"]["nationality"]["source"],
        "Registro Civil"
    );

    // The consent and its receipt, verifiable with the JWKS.
    let access = tokens.access_token().secret().clone();
    let (status, list) = call(
        reqwest::Method::GET,
        &app.at("/api/wallet/v1/me/consents"),
        &access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let consent = &list["consents"][0];
    assert_eq!(consent["mode"], "ongoing");
    assert_eq!(consent["status"], "active");
    assert_eq!(consent["attributes"], json!(["birthdate", "nationality"]));
    let receipt = verify_with_jwks(&app.url, consent["receipt"].as_str().unwrap()).await;
    assert_eq!(receipt["jti"], consent["id"]);
    assert_eq!(receipt["client_id"], json!(client.client_id));
    assert_eq!(receipt["purpose"], "Verificar la edad para el subsidio");
    assert_eq!(receipt["legal_basis"], "Ley 18.695");
    assert_eq!(receipt["attributes"], json!(["birthdate", "nationality"]));
    // The subject the service knows, not an identifier that links services.
    assert_eq!(receipt["sub"], json!(claims.subject().as_str()));
    assert_ne!(receipt["sub"], json!(maria.id));
    assert_eq!(
        jwt_parts(consent["receipt"].as_str().unwrap()).0["typ"],
        "consent-receipt+jwt"
    );

    // The access log shows both releases; as CSV too.
    let (status, log) = call(
        reqwest::Method::GET,
        &app.at("/api/wallet/v1/me/access-log"),
        &access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let channels: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["id_token", "userinfo"]);
    assert_eq!(
        log["entries"][0]["recipient_name"],
        "Municipalidad de Providencia"
    );
    assert_eq!(
        log["entries"][0]["purpose"],
        "Verificar la edad para el subsidio"
    );
    assert_eq!(log["entries"][0]["consent_ids"], json!([consent["id"]]));
    let csv = reqwest::Client::new()
        .get(app.at("/api/wallet/v1/me/access-log?format=csv"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().nth(2).unwrap().ends_with(",userinfo"));

    // The next login with the same request is covered by the standing consent: no page.
    let mut again = Browser::new(&app);
    let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
    let landing = again
        .go(start.url.as_str(), Some((RUN, PASSWORD)), OnConsent::Stop)
        .await;
    assert!(
        !again.visited.iter().any(|p| p.starts_with("/consent")),
        "{:?}",
        again.visited
    );
    let second = rp.exchange(&landing.code(), start.verifier).await;
    assert_eq!(
        jwt_parts(&second.id_token().unwrap().to_string()).1["birthdate"],
        "1985-04-23"
    );
}

#[tokio::test]
async fn the_agency_api_honours_a_consent_and_refuses_once_it_is_revoked() {
    let app = TestApp::new().await;
    citizen(&app).await;
    publish_maria(&app).await;
    let mut listener = EventListener::start(0).await;
    let client = service_with_wallet_access(&app, Some(&listener.uri)).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let sub = rp
        .id_claims(&tokens, Some(&start.nonce))
        .subject()
        .to_string();

    let agency = service_token(&app, &client, "wallet:read").await;
    let read = |names: &'static str| {
        let url = app.at(&format!(
            "/api/wallet/v1/citizens/{sub}/attributes?names={names}"
        ));
        let agency = agency.clone();
        async move { call(reqwest::Method::GET, &url, &agency, None).await }
    };
    let (status, body) = read("birthdate").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["birthdate"], "1985-04-23");
    assert_eq!(body["sub"], json!(sub));
    assert_eq!(
        body["attribute_provenance"]["birthdate"]["source"],
        "Registro Civil"
    );
    let (status, body) = read("birthdate,health_insurance_tier").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("consent_required"))
    );
    assert_eq!(body["missing"], json!(["health_insurance_tier"]));
    // A subject this client never saw.
    let (status, _) = call(
        reqwest::Method::GET,
        &app.at("/api/wallet/v1/citizens/nobody/attributes?names=birthdate"),
        &agency,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The citizen's token is not the agency's.
    let (status, _) = call(
        reqwest::Method::GET,
        &app.at(&format!(
            "/api/wallet/v1/citizens/{sub}/attributes?names=birthdate"
        )),
        tokens.access_token().secret(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The citizen revokes: everything stops at once.
    let access = tokens.access_token().secret().clone();
    let (_, list) = call(
        reqwest::Method::GET,
        &app.at("/api/wallet/v1/me/consents"),
        &access,
        None,
    )
    .await;
    let id = list["consents"][0]["id"].as_str().unwrap().to_owned();
    let (status, revoked) = call(
        reqwest::Method::DELETE,
        &app.at(&format!("/api/wallet/v1/me/consents/{id}")),
        &access,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let (status, body) = read("birthdate").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("consent_required"))
    );
    let (status, _) = crate::support::rp::userinfo(&app.url, &access).await;
    assert_eq!(status, 401, "tokens issued under the consent are revoked");
    let refresh = crate::support::rp::post_form(
        &app.at("/oauth2/token"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token().unwrap().secret()),
        ],
        Some((&client.client_id, client.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(refresh.1["error"], "invalid_grant");
    // Revoking twice is a conflict; someone else's consent is not found.
    let mut other_browser = Browser::new(&app);
    app.citizen("11.111.111-1", PASSWORD).await;
    let other = rp.start(&["wallet"], &[]);
    let landing = other_browser
        .go(
            other.url.as_str(),
            Some(("11.111.111-1", PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    let other_tokens = rp.exchange(&landing.code(), other.verifier).await;
    let (status, _) = call(
        reqwest::Method::DELETE,
        &app.at(&format!("/api/wallet/v1/me/consents/{id}")),
        other_tokens.access_token().secret(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The service hears of it: a signed Security Event Token.
    let http = reqwest::Client::new();
    let report = app.app.wallet.deliver_events(&http).await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    let event = verify_with_jwks(&app.url, &listener.received().unwrap()).await;
    assert_eq!(event["sub"], json!(sub));
    assert_eq!(event["aud"], json!(client.client_id));
    assert_eq!(
        event["events"]["urn:clave:event:consent:revoked"]["consent_id"],
        json!(id)
    );
    assert_eq!(app.journal_of_kind("consent.revoked").await.len(), 1);
    assert_eq!(
        app.journal_of_kind("consent.event_delivered").await.len(),
        1
    );

    // The access log kept the agency's read.
    let log = app
        .app
        .wallet
        .access_log(
            &app.app
                .idp
                .accounts()
                .find_by_run(&clave_common::Run::parse(RUN).unwrap())
                .await
                .unwrap()
                .unwrap()
                .id,
            None,
            100,
        )
        .await
        .unwrap();
    assert!(
        log.entries
            .iter()
            .any(|e| e.channel == "agency_api" && e.attributes == ["birthdate"])
    );
}

#[tokio::test]
async fn sensitive_data_needs_level_two_and_bad_details_go_back_to_the_service() {
    let app = TestApp::new().await;
    citizen(&app).await;
    publish_maria(&app).await;
    let client = service_with_wallet_access(&app, None).await;
    let rp = Rp::discover(&app, &client).await;

    // Asking for the health tier makes the login reach level 2: the second-factor step.
    let mut browser = Browser::new(&app);
    let start = rp.start(&["health"], &[]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    assert!(
        matches!(&landing, crate::support::rp::Landing::Page { path, .. } if path == "/login/second-factor"),
        "{landing:?} {:?}",
        browser.visited
    );
    assert!(!browser.visited.iter().any(|p| p.starts_with("/consent")));

    // Malformed details are the client's error, sent back to it.
    let mut browser = Browser::new(&app);
    let start = rp.start(
        &[],
        &[(
            "authorization_details",
            r#"[{"type": "clave_wallet", "attributes": ["shoe_size"]}]"#,
        )],
    );
    let landing = browser.go(start.url.as_str(), None, OnConsent::Stop).await;
    assert_eq!(
        landing.param("error").as_deref(),
        Some("invalid_authorization_details")
    );
    assert!(
        landing
            .param("error_description")
            .unwrap()
            .contains("shoe_size")
    );
    let start = rp.start(
        &[],
        &[(
            "authorization_details",
            r#"[{"type": "clave_wallet", "attributes": ["social_register_bracket"]}]"#,
        )],
    );
    let landing = browser.go(start.url.as_str(), None, OnConsent::Stop).await;
    assert!(
        landing
            .param("error_description")
            .unwrap()
            .contains("not registered for")
    );
}

#[tokio::test]
async fn the_citizen_edits_contact_data_unverified_and_unticks_optional_data() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    publish_maria(&app).await;
    let client = service_with_wallet_access(&app, None).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let (tokens, _) = rp.sign_in(&mut browser, &["wallet"]).await;
    let access = tokens.access_token().secret().clone();

    let address = json!({"value": {"street_address": "Av. Providencia 1234", "locality": "Providencia", "country": "CL"}});
    let (status, body) = call(
        reqwest::Method::PUT,
        &app.at("/api/wallet/v1/me/attributes/address"),
        &access,
        Some(address),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        reqwest::Method::PUT,
        &app.at("/api/wallet/v1/me/attributes/email"),
        &access,
        Some(json!({"value": "maria.nueva@example.cl"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let account = app
        .app
        .idp
        .accounts()
        .get(&maria.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.email.as_deref(), Some("maria.nueva@example.cl"));
    assert!(!account.email_verified);
    // Not the citizen's to assert, and malformed.
    let (status, _) = call(
        reqwest::Method::PUT,
        &app.at("/api/wallet/v1/me/attributes/birthdate"),
        &access,
        Some(json!({"value": "2000-01-01"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        reqwest::Method::PUT,
        &app.at("/api/wallet/v1/me/attributes/phone_number"),
        &access,
        Some(json!({"value": "call me"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, mine) = call(
        reqwest::Method::GET,
        &app.at("/api/wallet/v1/me/attributes"),
        &access,
        None,
    )
    .await;
    let address = mine["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "address")
        .unwrap();
    assert_eq!(
        (address["source"].as_str(), address["verified"].as_bool()),
        (Some("citizen"), Some(false))
    );

    // Scope-asked data is optional: unticking the address withholds it.
    let mut browser = Browser::new(&app);
    let start = rp.start(&["address", "profile"], &[("prompt", "consent")]);
    let landing = browser
        .go(start.url.as_str(), Some((RUN, PASSWORD)), OnConsent::Stop)
        .await;
    let crate::support::rp::Landing::Page { body, .. } = &landing else {
        panic!("{landing:?}")
    };
    assert!(body.contains("Av. Providencia 1234") && body.contains("Ingresado por ti"));
    let mut form = crate::support::rp::form_with(body, "decision", &app.at("/consent"));
    form.fields
        .retain(|(name, value)| !(name == "share" && value == "address"));
    let response = browser.submit(&form, &[("decision", "approve")]).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let landing = browser.go(&location, None, OnConsent::Stop).await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let (_, id_claims) = jwt_parts(&tokens.id_token().unwrap().to_string());
    assert!(id_claims.get("address").is_none(), "{id_claims}");
    assert_eq!(id_claims["birthdate"], "1985-04-23");
}

#[tokio::test]
async fn tampering_with_the_consent_ledger_is_caught_by_journal_verify() {
    let app = TestApp::new().await;
    citizen(&app).await;
    publish_maria(&app).await;
    let client = service_with_wallet_access(&app, None).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    // The token response says what was granted (RFC 9396 §7).
    let (status, tokens) =
        crate::support::rp::redeem(&app.url, &client, &landing.code(), start.verifier.secret())
            .await;
    assert_eq!(status, 200, "{tokens}");
    let granted = &tokens["authorization_details"][0];
    assert_eq!(granted["type"], "clave_wallet");
    assert_eq!(granted["attributes"], json!(["birthdate", "nationality"]));
    assert_eq!(granted["mode"], "ongoing");
    let receipt = verify_with_jwks(&app.url, granted["consent_receipt"].as_str().unwrap()).await;
    assert_eq!(receipt["jti"], granted["consent_id"]);
    assert!(app.cli(&["journal", "verify"]).success);

    let granted = app.journal_of_kind("consent.granted").await;
    assert_eq!(granted.len(), 1);
    let mut data = granted[0].data.clone();
    data["attributes"] = json!(["birthdate", "nationality", "health_insurance_tier"]);
    sqlx::query("UPDATE journal SET data = $1 WHERE seq = $2")
        .bind(data.to_string())
        .bind(granted[0].seq)
        .execute(app.app.db.pool())
        .await
        .unwrap();
    let out = app.cli(&["journal", "verify"]);
    assert!(!out.success);
    assert!(
        out.stdout.contains(&granted[0].seq.to_string()),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn consents_expire_on_time_and_the_service_is_told() {
    let app = TestApp::new().await;
    citizen(&app).await;
    publish_maria(&app).await;
    let mut listener = EventListener::start(1).await;
    let client = service_with_wallet_access(&app, Some(&listener.uri)).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let sub = rp
        .id_claims(&tokens, Some(&start.nonce))
        .subject()
        .to_string();
    let wallet = &app.app.wallet;
    assert_eq!(wallet.consents().expire_lapsed().await.unwrap(), 0);
    app.advance(time::Duration::seconds(2_592_000));
    // Expired even before the sweep runs.
    let agency = service_token(&app, &client, "wallet:read").await;
    let (status, _) = call(
        reqwest::Method::GET,
        &app.at(&format!(
            "/api/wallet/v1/citizens/{sub}/attributes?names=birthdate"
        )),
        &agency,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(wallet.consents().expire_lapsed().await.unwrap(), 1);
    assert_eq!(app.journal_of_kind("consent.expired").await.len(), 1);
    // The first delivery fails and is retried later.
    let http = reqwest::Client::new();
    let first = wallet.deliver_events(&http).await.unwrap();
    assert_eq!((first.delivered, first.failed), (0, 1));
    app.advance(time::Duration::seconds(11));
    let second = wallet.deliver_events(&http).await.unwrap();
    assert_eq!(second.delivered, 1);
    let failed = listener.received().unwrap();
    let delivered = verify_with_jwks(&app.url, &listener.received().unwrap()).await;
    assert_ne!(
        jwt_parts(&failed).1["jti"],
        delivered["jti"],
        "each attempt is a fresh token"
    );
    assert!(
        delivered["events"]["urn:clave:event:consent:expired"].is_object(),
        "{delivered}"
    );
}

#[tokio::test]
async fn the_portal_shows_data_permissions_and_activity_and_revokes() {
    let app = TestApp::new().await;
    citizen(&app).await;
    publish_maria(&app).await;
    let client = service_with_wallet_access(&app, None).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
    let landing = browser
        .go(
            start.url.as_str(),
            Some((RUN, PASSWORD)),
            OnConsent::Approve,
        )
        .await;
    let tokens = rp.exchange(&landing.code(), start.verifier).await;
    let sub = rp
        .id_claims(&tokens, Some(&start.nonce))
        .subject()
        .to_string();
    let page = |path: &'static str| {
        let http = browser.http.clone();
        let url = app.at(path);
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };

    let (status, html) = page("/me/data").await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "Fecha de nacimiento",
        "1985-04-23",
        "Registro Civil",
        "FONASA",
        "Tramo de FONASA",
    ] {
        assert!(html.contains(expected), "{expected} missing from /me/data");
    }
    // Editing the phone number: a bad one is refused with the reason, a good one saved.
    let form = crate::support::rp::form_with(&html, "attribute", &app.at("/me/data"));
    let mut phone = form.clone();
    phone.fields.retain(|(n, _)| n != "attribute");
    let response = browser
        .submit(
            &phone,
            &[("attribute", "phone_number"), ("value", "llámame")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("+56 9 1234 5678"));
    let response = browser
        .submit(
            &phone,
            &[("attribute", "phone_number"), ("value", "+56 9 8765 4321")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page("/me/data").await;
    assert!(html.contains("+56 9 8765 4321") && html.contains("Ingresado por ti"));
    // Without the CSRF token nothing changes.
    let response = browser
        .http
        .post(app.at("/me/data"))
        .form(&[("attribute", "phone_number"), ("value", "+56 9 1111 1111")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());

    let (status, html) = page("/me/permissions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Municipalidad de Providencia")
            && html.contains("Verificar la edad para el subsidio")
    );
    let id = crate::support::accounts::input_value(&html, "consent").unwrap();
    let receipt = browser
        .http
        .get(app.at(&format!("/me/permissions/{id}/receipt")))
        .send()
        .await
        .unwrap();
    assert_eq!(receipt.headers()["content-type"], "application/jwt");
    let claims = verify_with_jwks(&app.url, &receipt.text().await.unwrap()).await;
    assert_eq!(claims["jti"], json!(id));

    let (_, html) = page("/me/activity").await;
    assert!(html.contains("id_token") && html.contains("Municipalidad de Providencia"));
    let csv = browser
        .http
        .get(app.at("/me/activity.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");

    // Revoking from the portal stops the agency API at once.
    let (_, html) = page("/me/permissions").await;
    let form = crate::support::rp::form_with(&html, "consent", &app.at("/me/permissions"));
    let response = browser.submit(&form, &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let agency = service_token(&app, &client, "wallet:read").await;
    let (status, _) = call(
        reqwest::Method::GET,
        &app.at(&format!(
            "/api/wallet/v1/citizens/{sub}/attributes?names=birthdate"
        )),
        &agency,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = page("/me/permissions").await;
    assert!(html.contains("Revocado"));

    // Signed out, the pages send the browser to the login.
    let stranger = app.http();
    let response = stranger
        .get(app.at("/me/permissions"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/login");
}
