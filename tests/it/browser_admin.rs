//! An administrator in a real browser (headless Chromium): signs in with password and
//! authenticator code, registers a service with the page's own form, sees its secret once,
//! and finds the service in the list, where the secret is not shown again; then rotates the
//! secret and removes the service with the edit page's confirmations.
//!
//! With `CLAVE_SCREENSHOTS=DIR`, the registration form and the services page are saved as
//! PNGs in DIR (the pictures in `docs/screenshots/`).

use std::path::Path;

use crate::admin::{ADMIN_RUN, STAFF_PASSWORD, staff};
use crate::second_factor::oathtool;
use crate::support::TestApp;
use crate::support::browser::{Browser, Page};

async fn screenshot(page: &Page<'_>, name: &str) {
    if let Ok(dir) = std::env::var("CLAVE_SCREENSHOTS") {
        page.screenshot(&Path::new(&dir).join(name)).await;
    }
}

#[tokio::test]
async fn an_administrator_registers_a_service_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    let Some((_, secret)) = staff(&app, ADMIN_RUN, "Administradora", Some("admin")).await else {
        return;
    };
    let page = browser.new_page().await;
    page.goto(&app.at("/login")).await;
    page.fill("input[name=run]", ADMIN_RUN).await;
    page.fill("input[name=password]", STAFF_PASSWORD).await;
    page.click_and_wait("form button[type=submit]").await;
    page.goto(&app.at("/login/second-factor?then=security"))
        .await;
    let otp = oathtool(&secret, app.app.idp.ctx().clock.unix()).unwrap();
    page.fill("input[name=code]", &otp).await;
    page.click_and_wait("form button[type=submit]").await;

    page.goto(&app.at("/admin")).await;
    let landed = page.click_and_wait("a[href='/admin/services']").await;
    assert!(landed.ends_with("/admin/services"), "{landed}");
    let landed = page.click_and_wait("#register-service").await;
    assert!(landed.ends_with("/admin/services/new"), "{landed}");
    // Every field of the form is labelled.
    assert_eq!(
        page.eval("[...document.querySelectorAll('main input:not([type=hidden]), main textarea, main select')].every(i => i.labels && i.labels.length > 0)")
            .await,
        true
    );
    page.fill("#name", "Registro de Vivienda").await;
    page.fill("#redirect_uris", "https://vivienda.example.cl/callback")
        .await;
    page.fill("#purpose", "Postulación a subsidios habitacionales")
        .await;
    page.fill("#legal_basis", "Ley 19.880").await;
    page.eval("document.activeElement.blur(); window.scrollTo(0, 0)")
        .await;
    screenshot(&page, "admin-service-form-desktop.png").await;
    page.click_and_wait("form.service-form button[type=submit]")
        .await;

    let shown = page
        .eval("document.getElementById('client-secret')?.textContent ?? ''")
        .await;
    let shown = shown.as_str().unwrap().to_owned();
    assert!(
        shown.len() >= 40,
        "the secret is shown: {}",
        page.text().await
    );
    let client_id = page
        .eval("document.getElementById('client-id').textContent")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let registered = app
        .app
        .idp
        .clients()
        .get(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(registered.name, "Registro de Vivienda");
    assert_eq!(
        registered.redirect_uris,
        ["https://vivienda.example.cl/callback"]
    );

    page.click_and_wait("a[href='/admin/services']").await;
    let text = page.text().await;
    assert!(text.contains("Registro de Vivienda"), "{text}");
    assert!(text.contains(&client_id));
    assert!(
        !page
            .eval("document.documentElement.outerHTML")
            .await
            .as_str()
            .unwrap()
            .contains(&shown)
    );
    screenshot(&page, "admin-services-desktop.png").await;

    // Rotated with the box ticked: a new secret, shown once.
    let edit = format!("/admin/services/{client_id}");
    page.goto(&app.at(&edit)).await;
    page.click("#rotate-confirm").await;
    page.click_and_wait("form[action$='/rotate-secret'] button[type=submit]")
        .await;
    let rotated = page
        .eval("document.getElementById('client-secret')?.textContent ?? ''")
        .await;
    let rotated = rotated.as_str().unwrap().to_owned();
    assert!(rotated.len() >= 40, "{}", page.text().await);
    assert_ne!(rotated, shown);

    // Removed once its identifier is typed: gone from the list.
    page.goto(&app.at(&edit)).await;
    page.fill("#remove-confirm", &client_id).await;
    let landed = page
        .click_and_wait("form[action$='/remove'] button[type=submit]")
        .await;
    assert!(landed.ends_with("/admin/services?done=removed"), "{landed}");
    let text = page.text().await;
    assert!(!text.contains(&client_id), "{text}");
    assert!(
        app.app
            .idp
            .clients()
            .get(&client_id)
            .await
            .unwrap()
            .is_none()
    );
}
