//! The citizen's data in a real browser: granting a service access to wallet data on the
//! consent page and revoking it from the permissions page (after which the service is
//! refused), the access log with its filter and CSV export, and a notice from a service
//! arriving in the mailbox, unread on the home page until opened.

use clave_idp::clients::NewClient;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Size, authorize_url, code_at, follow, heading, redeem, shot, sign_in, text_of};
use crate::support::TestApp;
use crate::support::browser::{Browser, Callback, Page};
use crate::support::rp::{self, PASSWORD, RUN, Registered};
use crate::wallet::{ONGOING, call, publish_maria};

/// A service that signs citizens in and reads their wallet data with their consent,
/// answered at `callback`.
async fn wallet_service(app: &TestApp, name: &str, callback: &Callback) -> Registered {
    let mut new = rp::web_client(name);
    new.redirect_uris = vec![callback.url.clone()];
    new.scopes
        .extend(["wallet", "wallet:read"].map(String::from));
    new.grants = vec!["client_credentials".into()];
    let registered = rp::register(app, new).await;
    app.app
        .wallet
        .consents()
        .set_terms(
            &registered.client_id,
            &clave_wallet::consent::ClientTerms {
                purpose: Some("Tramitar el permiso de circulación".into()),
                legal_basis: Some("Ley 18.695".into()),
                consent_events_uri: None,
            },
        )
        .await
        .unwrap();
    registered
}

/// A client-credentials token of `client` for `scope`.
async fn service_token(app: &TestApp, client: &Registered, scope: &str) -> String {
    let (status, body) = rp::post_form(
        &app.at("/oauth2/token"),
        &[("grant_type", "client_credentials"), ("scope", scope)],
        Some((&client.client_id, client.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// The service reads the citizen's birth date through the agency API.
async fn agency_reads(app: &TestApp, client: &Registered, sub: &str) -> (StatusCode, Value) {
    let token = service_token(app, client, "wallet:read").await;
    call(
        reqwest::Method::GET,
        &app.at(&format!(
            "/api/wallet/v1/citizens/{sub}/attributes?names=birthdate"
        )),
        &token,
        None,
    )
    .await
}

/// The citizen (signed in on `page` or signed in on the way) lets `client` read the
/// ongoing wallet data, unticking the optional nationality; the service's tokens and the
/// citizen's `sub` there.
async fn grant(
    page: &Page<'_>,
    app: &TestApp,
    size: Size,
    client: &Registered,
    callback: &Callback,
) -> (Value, String) {
    let (url, verifier) = authorize_url(
        app,
        &client.client_id,
        callback,
        "openid wallet",
        &[("authorization_details", ONGOING)],
    );
    page.goto(&url).await;
    if page.url().await.contains("/login") {
        page.fill("#run", RUN).await;
        page.fill("#password", PASSWORD).await;
        page.click_and_wait("form[action='/login'] button[type=submit]")
            .await;
    }
    assert!(
        page.url().await.contains("/consent"),
        "{}",
        page.url().await
    );
    assert_eq!(heading(page).await, "Autoriza el acceso a tus datos");
    let text = page.text().await;
    assert!(
        !text.contains("Otro permiso"),
        "every scope is said in words: {text}"
    );
    for expected in [
        "Ver y administrar en tu nombre tus datos, permisos y actividad en Clave",
        "Verificar la edad para el subsidio",
        "Ley 18.695",
        "1985-04-23",
        "Registro Civil",
    ] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
    assert_eq!(
        page.eval("document.getElementById('share-nationality').checked")
            .await,
        true,
        "optional data is offered ticked"
    );
    // Every column is in view, the share boxes included, without scrolling the table.
    assert_eq!(
        page.eval("(() => { const w = document.querySelector('.table-wrap'); return w.scrollWidth <= w.clientWidth; })()")
            .await,
        true,
        "the data table fits the window: {}",
        page.eval("(() => { const w = document.querySelector('.table-wrap'); return [w.scrollWidth, w.clientWidth, ...[...document.querySelectorAll('.data-table tr')].map(r => [...r.cells].map(c => c.offsetWidth).join('/'))]; })()").await
    );
    shot(page, size, "consent").await;
    page.click("#share-nationality").await;
    let back = page
        .click_and_wait("button[name=decision][value=approve]")
        .await;
    assert!(back.starts_with(&callback.url), "{back}");
    let tokens = redeem(app, client, callback, &code_at(callback), &verifier).await;
    let (_, claims) = rp::jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["birthdate"], "1985-04-23");
    assert!(
        claims.get("nationality").is_none(),
        "the unticked datum is not shared"
    );
    let sub = claims["sub"].as_str().unwrap().to_owned();
    (tokens, sub)
}

async fn consent_journey(size: Size) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    rp::citizen(&app).await;
    publish_maria(&app).await;
    let callback = Callback::start().await;
    let client = wallet_service(&app, "Municipalidad de Providencia", &callback).await;
    let page = browser.new_page().await;
    size.apply(&page).await;
    let (tokens, sub) = grant(&page, &app, size, &client, &callback).await;
    let (status, body) = agency_reads(&app, &client, &sub).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["birthdate"], "1985-04-23");

    // The citizen looks at her data and her permissions from the home page.
    page.goto(&app.at("/")).await;
    follow(&page, "/me/data").await;
    assert_eq!(heading(&page).await, "Mis datos");
    let data = page.text().await;
    assert!(
        data.contains("1985-04-23") && data.contains("FONASA"),
        "{data}"
    );
    shot(&page, size, "my-data").await;
    follow(&page, "/me/permissions").await;
    assert_eq!(heading(&page).await, "Mis permisos");
    let active = text_of(&page, "section[aria-labelledby=active-heading]").await;
    assert!(
        active.contains("Municipalidad de Providencia")
            && active.contains("Verificar la edad para el subsidio"),
        "{active}"
    );
    shot(&page, size, "permissions").await;

    page.click_and_wait("section[aria-labelledby=active-heading] form button[type=submit]")
        .await;
    assert_eq!(
        text_of(&page, "p.notice[role=status]").await,
        "El permiso fue revocado. El servicio ya no puede leer esos datos."
    );
    assert!(
        page.eval("!document.querySelector('section[aria-labelledby=active-heading]')")
            .await
            == true
    );
    let past = text_of(&page, "section[aria-labelledby=past-heading]").await;
    assert!(
        past.contains("Municipalidad de Providencia") && past.contains("Revocado"),
        "{past}"
    );

    // The service is refused from now on: the agency API, userinfo and the refresh token.
    let (status, body) = agency_reads(&app, &client, &sub).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("consent_required"))
    );
    let (status, _) = rp::userinfo(&app.url, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
    let (status, refreshed) = rp::post_form(
        &app.at("/oauth2/token"),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
        Some((&client.client_id, client.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(
        (status, refreshed["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_citizen_grants_and_revokes_a_services_access_on_a_phone() {
    consent_journey(Size::Phone).await;
}

#[tokio::test]
async fn a_citizen_grants_and_revokes_a_services_access_on_a_desktop() {
    consent_journey(Size::Desktop).await;
}

/// Two services read; the activity page lists both, filters to one, and exports CSV.
async fn access_log_journey(size: Size) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    rp::citizen(&app).await;
    publish_maria(&app).await;
    let callback = Callback::start().await;
    let town = wallet_service(&app, "Municipalidad de Providencia", &callback).await;
    let health = wallet_service(&app, "Servicio de Salud Oriente", &callback).await;
    let page = browser.new_page().await;
    size.apply(&page).await;
    sign_in(&page, &app, RUN, PASSWORD).await;
    for client in [&town, &health] {
        let (_, sub) = grant(&page, &app, size, client, &callback).await;
        let (status, body) = agency_reads(&app, client, &sub).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    page.goto(&app.at("/")).await;
    follow(&page, "/me/activity").await;
    assert_eq!(heading(&page).await, "Mi actividad");
    let log = text_of(&page, "table.data-table").await;
    assert!(
        log.contains("Municipalidad de Providencia") && log.contains("Servicio de Salud Oriente"),
        "{log}"
    );
    shot(&page, size, "activity").await;

    // Only the town hall's reads, chosen from the list as a person does.
    let chosen = page
        .eval(
            "(() => { const s = document.getElementById('who'); \
             const o = [...s.options].find(o => o.text === 'Municipalidad de Providencia'); \
             if (!o) return false; s.value = o.value; \
             s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()",
        )
        .await;
    assert_eq!(chosen, true, "the filter offers the service");
    let filtered = page.click_and_wait("form.filter button[type=submit]").await;
    assert!(filtered.contains("who="), "{filtered}");
    let rows = page
        .eval("[...document.querySelectorAll('table.data-table')[0].tBodies[0].rows].map(r => r.cells[1].innerText)")
        .await;
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|who| who == "Municipalidad de Providencia"),
        "{rows:?}"
    );

    // The export link downloads every entry as CSV, with the session's cookie.
    let csv = page
        .eval(
            "fetch(document.querySelector('a[href=\"/me/activity.csv\"]').href, {credentials: 'same-origin'}) \
             .then(r => r.text().then(t => [r.status, r.headers.get('content-type'), t]))",
        )
        .await;
    assert_eq!(csv[0], 200);
    assert_eq!(csv[1], "text/csv; charset=utf-8");
    let body = csv[2].as_str().unwrap();
    assert!(
        body.starts_with("at,recipient,recipient_name,attributes,purpose,consent_ids,channel"),
        "{body}"
    );
    for service in ["Municipalidad de Providencia", "Servicio de Salud Oriente"] {
        assert!(
            body.lines().any(|l| l.contains(service)
                && l.contains("birthdate")
                && l.ends_with("agency_api")),
            "{service}'s read missing: {body}"
        );
    }
}

#[tokio::test]
async fn the_access_log_lists_filters_and_exports_what_services_read_on_a_desktop() {
    access_log_journey(Size::Desktop).await;
}

#[tokio::test]
async fn the_access_log_lists_filters_and_exports_what_services_read_on_a_phone() {
    access_log_journey(Size::Phone).await;
}

/// A service that signs citizens in and sends them notices.
async fn mailbox_service(app: &TestApp, callback: &Callback) -> Registered {
    rp::register(
        app,
        NewClient {
            name: "Servicio de Impuestos Internos".into(),
            redirect_uris: vec![callback.url.clone()],
            scopes: ["openid", "mailbox", "mailbox:send"]
                .map(String::from)
                .to_vec(),
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await
}

async fn mailbox_journey(size: Size) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    rp::citizen(&app).await;
    let callback = Callback::start().await;
    let sii = mailbox_service(&app, &callback).await;
    let page = browser.new_page().await;
    size.apply(&page).await;
    // The citizen once signed in to the service, so it knows her by her `sub`.
    let (url, verifier) = authorize_url(&app, &sii.client_id, &callback, "openid mailbox", &[]);
    page.goto(&url).await;
    page.fill("#run", RUN).await;
    page.fill("#password", PASSWORD).await;
    let landed = page
        .click_and_wait("form[action='/login'] button[type=submit]")
        .await;
    if landed.contains("/consent") {
        page.click_and_wait("button[name=decision][value=approve]")
            .await;
    }
    let tokens = redeem(&app, &sii, &callback, &code_at(&callback), &verifier).await;
    let (_, claims) = rp::jwt_parts(tokens["id_token"].as_str().unwrap());
    let sub = claims["sub"].as_str().unwrap().to_owned();

    let token = service_token(&app, &sii, "mailbox:send").await;
    let (status, _, sent) = crate::mailbox::call(
        reqwest::Method::POST,
        &app.at("/api/mailbox/v1/messages"),
        &token,
        Some(json!({ "to": { "sub": sub }, "subject": "Devolución de impuestos",
                     "body": "Le devolveremos **$ 120.000** en su cuenta.", "body_format": "markdown" })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();

    // The home page tells her; the mailbox lists it unread.
    page.goto(&app.at("/")).await;
    let home = page.text().await;
    assert!(home.contains("Tienes 1 sin leer."), "{home}");
    shot(&page, size, "home-unread").await;
    follow(&page, "/me/mailbox").await;
    assert_eq!(heading(&page).await, "Mi casilla");
    assert!(
        page.eval("document.querySelectorAll('tr.unread').length")
            .await
            == 1,
        "{}",
        page.text().await
    );
    shot(&page, size, "mailbox").await;
    follow(&page, &format!("/me/mailbox/{id}")).await;
    assert_eq!(heading(&page).await, "Devolución de impuestos");
    assert_eq!(text_of(&page, ".notice-body strong").await, "$ 120.000");
    shot(&page, size, "mailbox-notice").await;

    // Opened: read in the list, on the home page, and for the service.
    follow(&page, "/me/mailbox").await;
    assert_eq!(
        page.eval("document.querySelectorAll('tr.unread').length")
            .await,
        0
    );
    assert!(text_of(&page, "#unread-count").await.len() > 1);
    page.goto(&app.at("/")).await;
    assert!(!page.text().await.contains("sin leer"));
    let (status, _, state) = crate::mailbox::call(
        reqwest::Method::GET,
        &app.at(&format!("/api/mailbox/v1/messages/{id}")),
        &token,
        None,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["status"], "opened", "{state}");
    assert!(state["first_opened_at"].is_string(), "{state}");
}

#[tokio::test]
async fn a_notice_arrives_unread_and_is_read_once_opened_on_a_phone() {
    mailbox_journey(Size::Phone).await;
}

#[tokio::test]
async fn a_notice_arrives_unread_and_is_read_once_opened_on_a_desktop() {
    mailbox_journey(Size::Desktop).await;
}
