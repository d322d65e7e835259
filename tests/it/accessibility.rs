//! Accessibility: every portal page, as a citizen and as an agent reach it in headless
//! Chromium, is checked by axe-core (WCAG 2.0/2.1 A and AA rules) and must have no
//! violation. axe-core is installed from the npm registry with the other Node.js test tools
//! (`interop/node`), and injected into each page through the DevTools protocol. The citizen's
//! pages are seen on a 320-pixel-wide phone screen and must not scroll sideways; the agent's
//! on a desktop screen.
//!
//! With `CLAVE_SCREENSHOTS=DIR`, each page is also saved as a PNG in DIR (how the pictures in
//! `docs/screenshots/` are made).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::second_factor::{enrolled, oathtool};
use crate::support::TestApp;
use crate::support::browser::{Browser, Page};
use crate::support::rp::{PASSWORD, RUN, citizen};

const AGENT_RUN: &str = "11.111.111-1";
const AGENT_PASSWORD: &str = "atencion telefonica de lunes a viernes";

/// axe-core's script, or `None` (skipping) when `npm ci` has not run; under CI a failure.
fn axe_source() -> Option<String> {
    let path: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/node/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "axe-core is missing ({e}); .ci/run installs it with npm ci in interop/node"
            );
            eprintln!("skipping: axe-core is not installed (npm ci --prefix interop/node)");
            None
        }
    }
}

/// Runs axe on the page loaded in `page`; returns its violations as readable lines.
async fn audit(page: &Page<'_>, axe: &str, label: &str) -> Vec<String> {
    if page.eval("typeof window.axe").await != "object" {
        page.eval(axe).await;
    }
    let result = page
        .eval(
            "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })\
             .then(r => JSON.stringify(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, \
             nodes: v.nodes.map(n => n.target.join(' ')) }))))",
        )
        .await;
    let violations: Vec<Value> = serde_json::from_str(result.as_str().unwrap_or("[]")).unwrap();
    violations
        .iter()
        .map(|v| {
            format!(
                "{label}: {} ({}) {} at {}",
                v["id"], v["impact"], v["help"], v["nodes"]
            )
        })
        .collect()
}

/// Checks the page loaded in `page`: axe, no sideways scrolling, and a screenshot when asked.
async fn check(page: &Page<'_>, axe: &str, label: &str, found: &mut Vec<String>) {
    found.extend(audit(page, axe, label).await);
    let overflow = page
        .eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .await
        .as_i64()
        .unwrap_or(0);
    if overflow > 0 {
        found.push(format!("{label}: scrolls sideways by {overflow} px"));
    }
    if let Ok(dir) = std::env::var("CLAVE_SCREENSHOTS") {
        let name: String = label
            .trim_start_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let name = if name.is_empty() {
            "home".to_owned()
        } else {
            name
        };
        page.screenshot(&Path::new(&dir).join(format!("{name}.png")))
            .await;
    }
}

async fn visit(page: &Page<'_>, app: &TestApp, axe: &str, path: &str, found: &mut Vec<String>) {
    page.goto(&app.at(path)).await;
    check(page, axe, path, found).await;
}

/// Makes the tab a phone screen: 320 CSS pixels wide.
async fn phone(page: &Page<'_>) {
    page.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 320, "height": 640, "deviceScaleFactor": 2, "mobile": true}),
    )
    .await;
}

async fn sign_in(page: &Page<'_>, app: &TestApp, run: &str, password: &str) {
    page.goto(&app.at("/login")).await;
    page.fill("input[name=run]", run).await;
    page.fill("input[name=password]", password).await;
    page.click_and_wait("form button[type=submit]").await;
}

#[tokio::test]
async fn every_portal_page_passes_axe_with_no_violation() {
    let Some(axe) = axe_source() else {
        return;
    };
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    app.app
        .wallet
        .assert_value(&maria.id, "phone_number", &json!("+56 9 1234 5678"))
        .await
        .unwrap();
    // A notice from clave for the mailbox pages.
    app.app
        .idp
        .accounts()
        .set_password(&maria.id, PASSWORD)
        .await
        .unwrap();
    app.app.wallet.mailbox().follow_journal().await.unwrap();
    // A signature request for the signing pages.
    let mut registry = crate::support::rp::web_client("Registro Civil");
    registry.scopes.push("sign:request".into());
    let registry = crate::support::rp::register(&app, registry).await;
    let registry = app
        .app
        .idp
        .clients()
        .get(&registry.client_id)
        .await
        .unwrap()
        .unwrap();
    app.app
        .signer
        .create_request(
            &registry,
            serde_json::from_value(json!({
                "signer": { "run": RUN },
                "purpose": "Firma del contrato de arriendo",
                "format": "cades",
                "documents": [{ "name": "contrato.txt", "media_type": "text/plain", "content": "Q29udHJhdG8=" }],
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    // A value from the registry, with a correction asked of it, for "My data".
    app.app
        .wallet
        .catalogue()
        .grant_source("birthdate", &registry.client_id)
        .await
        .unwrap();
    app.app
        .wallet
        .publish(
            &registry.client_id,
            vec![Ok(clave_wallet::publish::Publication {
                run: RUN.into(),
                attribute: "birthdate".into(),
                value: json!("1985-04-23"),
                source_reference: None,
                valid_from: None,
                valid_until: None,
            })],
        )
        .await
        .unwrap();
    app.app
        .wallet
        .request_correction(&maria.id, "birthdate", "Nací el 23 de marzo.")
        .await
        .unwrap();
    let mut found = Vec::new();

    // Before signing in, and a form with its error summary.
    let page = browser.new_page().await;
    phone(&page).await;
    for path in ["/", "/login", "/activate", "/unlock", "/nowhere"] {
        visit(&page, &app, &axe, path, &mut found).await;
    }
    page.goto(&app.at("/login")).await;
    page.fill("input[name=run]", RUN).await;
    page.fill("input[name=password]", "not the password").await;
    page.click_and_wait("form button[type=submit]").await;
    check(&page, &axe, "/login (wrong password)", &mut found).await;

    // The citizen's pages.
    sign_in(&page, &app, RUN, PASSWORD).await;
    for path in [
        "/",
        "/me/data",
        "/me/permissions",
        "/me/activity",
        "/me/security",
        "/me/passkeys",
        "/me/sessions",
        "/me/mailbox",
        "/me/lock",
        "/me/sign",
        "/me/verify-call",
    ] {
        visit(&page, &app, &axe, path, &mut found).await;
    }

    page.click_and_wait("form[action='/me/verify-call'] button[type=submit]")
        .await;
    check(&page, &axe, "/me/verify-call (code shown)", &mut found).await;
    let code = page
        .eval("document.getElementById('caller-code').textContent")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    page.goto(&app.at("/me/mailbox")).await;
    let notice = page
        .eval("document.querySelector('a[href^=\"/me/mailbox/\"]')?.getAttribute('href')")
        .await;
    if let Some(href) = notice.as_str() {
        visit(&page, &app, &axe, href, &mut found).await;
    } else {
        found.push("/me/mailbox: no notice to open".into());
    }
    page.goto(&app.at("/me/sign")).await;
    let request = page
        .eval("document.querySelector('a[href^=\"/me/sign/\"]')?.getAttribute('href')")
        .await;
    if let Some(href) = request.as_str() {
        visit(&page, &app, &axe, href, &mut found).await;
    } else {
        found.push("/me/sign: no request to open".into());
    }

    // The agent's console, in a browser of its own, at level 2.
    let agent = app
        .app
        .idp
        .accounts()
        .create(clave_idp::accounts::NewCitizen {
            run: clave_common::Run::parse(AGENT_RUN).unwrap(),
            given_names: "Pedro".into(),
            family_names: "Soto".into(),
            email: None,
            password: Some(AGENT_PASSWORD.into()),
        })
        .await
        .unwrap();
    app.app
        .idp
        .accounts()
        .grant_role(&agent.id, "agent", Some("Call center Santiago"), "test")
        .await
        .unwrap();
    let Some(secret) = enrolled(&app, &agent).await else {
        return;
    };
    // The agent is also an institution's operator and ministro de fe, with a certificate
    // request for María waiting.
    let signer = &app.app.signer;
    signer
        .create_institution("registro-civil", "Servicio de Registro Civil", "test")
        .await
        .unwrap();
    for role in ["operator", "ministro_de_fe"] {
        signer
            .grant_institution_role("registro-civil", &agent.id, role, "test")
            .await
            .unwrap();
    }
    enrolled(&app, &maria).await.unwrap();
    signer
        .request_official_certificate(&agent, "registro-civil", &maria, "Oficial Civil")
        .await
        .unwrap();
    let Some(agent_browser) = Browser::launch().await else {
        return;
    };
    let desk = agent_browser.new_page().await;
    sign_in(&desk, &app, AGENT_RUN, AGENT_PASSWORD).await;
    desk.goto(&app.at("/login/second-factor?then=security"))
        .await;
    check(&desk, &axe, "/login/second-factor", &mut found).await;
    let otp = oathtool(&secret, app.app.idp.ctx().clock.unix()).unwrap();
    desk.fill("input[name=code]", &otp).await;
    desk.click_and_wait("form button[type=submit]").await;
    visit(&desk, &app, &axe, "/agent", &mut found).await;
    desk.fill("#code-run", RUN).await;
    desk.fill("#code", &code).await;
    desk.click_and_wait("form[action='/agent/verify'] button[type=submit]")
        .await;
    assert!(
        desk.url().await.contains("/agent/checks/"),
        "{}",
        desk.text().await
    );
    check(&desk, &axe, "/agent/checks (verified)", &mut found).await;
    visit(&desk, &app, &axe, "/official", &mut found).await;

    // The administration pages, on a phone: the agent is also an administrator.
    app.app
        .idp
        .accounts()
        .grant_role(&agent.id, "admin", None, "test")
        .await
        .unwrap();
    phone(&desk).await;
    let service = format!("/admin/services/{}", registry.client_id);
    for path in [
        "/admin",
        "/admin/services",
        "/admin/services/new",
        service.as_str(),
        "/admin/institutions",
        "/admin/institutions/registro-civil",
        "/admin/attributes",
        "/admin/attributes?name=given_names",
        "/admin/journal",
        "/admin/agents",
    ] {
        visit(&desk, &app, &axe, path, &mut found).await;
    }
    desk.goto(&app.at("/admin/services/new")).await;
    desk.click_and_wait("form.service-form button[type=submit]")
        .await;
    check(&desk, &axe, "/admin/services (refused)", &mut found).await;
    desk.fill("#name", "Registro de Vivienda").await;
    desk.fill("#redirect_uris", "https://vivienda.example.cl/callback")
        .await;
    desk.click_and_wait("form.service-form button[type=submit]")
        .await;
    check(&desk, &axe, "/admin/services (registered)", &mut found).await;

    assert!(
        found.is_empty(),
        "axe found {} violation(s):\n{}",
        found.len(),
        found.join("\n")
    );
}
