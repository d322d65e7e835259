//! The administration pages (`/admin`): who may administer what (an administrator everything;
//! an agent supervisor agents only; an institution's administrator or ministro de fe their
//! own institution only; citizens and agents nothing), registering a service through the
//! forms and then signing a citizen in with it, editing it, the attribute catalogue, the
//! journal, rotating a service's secret and removing the service, granting and revoking an
//! attribute's authoritative sources, and forms without the CSRF token.

use clave_common::Run;
use clave_idp::accounts::{Account, NewCitizen};
use clave_idp::clients::NewClient;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::callers::{cookie_client, post_crafted, submit};
use crate::second_factor::{enrolled, portal_login_with_totp_as};
use crate::support::TestApp;
use crate::support::accounts::{Fetched, get, log_in, post};
use crate::support::rp::{Browser, PASSWORD, REDIRECT_URI, RUN, Registered, Rp, citizen, register};
use crate::wallet::call;

pub(crate) const ADMIN_RUN: &str = "33.333.333-3";
const SUPERVISOR_RUN: &str = "44.444.444-4";
const AGENT_RUN: &str = "55.555.555-5";
const INSTITUTION_ADMIN_RUN: &str = "66.666.666-6";
pub(crate) const STAFF_PASSWORD: &str = "oficina central de atencion";

/// An account with `STAFF_PASSWORD` and TOTP, given the staff `role` with the command line
/// (as the first administrator is made); `None` without oathtool.
pub(crate) async fn staff(
    app: &TestApp,
    run: &str,
    family: &str,
    role: Option<&str>,
) -> Option<(Account, String)> {
    let account = app
        .app
        .idp
        .accounts()
        .create(NewCitizen {
            run: Run::parse(run).unwrap(),
            given_names: "Ana".into(),
            family_names: family.into(),
            email: None,
            password: Some(STAFF_PASSWORD.into()),
        })
        .await
        .unwrap();
    if let Some(role) = role {
        let mut args = vec![
            "--json",
            "citizen",
            "grant-role",
            "--run",
            run,
            "--role",
            role,
        ];
        if role == "agent" {
            args.extend(["--office", "Oficina Temuco"]);
        }
        let granted = app.cli(&args);
        assert!(granted.success, "{}", granted.stderr);
    }
    let secret = enrolled(app, &account).await?;
    Some((account, secret))
}

/// A browser signed in as `run` at level 2.
pub(crate) async fn signed_in(app: &TestApp, run: &str, secret: &str) -> reqwest::Client {
    let client = cookie_client();
    portal_login_with_totp_as(app, &client, run, STAFF_PASSWORD, secret).await;
    client
}

fn assert_refused(page: &Fetched, why: &str) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains(why), "{}", page.body);
}

#[tokio::test]
async fn each_role_administers_only_what_it_is_given() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let Some((_, agent_secret)) = staff(&app, AGENT_RUN, "Agente", Some("agent")).await else {
        return;
    };
    let (_, supervisor_secret) = staff(&app, SUPERVISOR_RUN, "Supervisora", Some("supervisor"))
        .await
        .unwrap();
    let (boss, boss_secret) = staff(&app, INSTITUTION_ADMIN_RUN, "Jefa", None)
        .await
        .unwrap();
    let signer = &app.app.signer;
    for (id, name) in [
        ("registro-civil", "Registro Civil"),
        ("sii", "Impuestos Internos"),
    ] {
        signer.create_institution(id, name, "test").await.unwrap();
    }
    signer
        .grant_institution_role("registro-civil", &boss.id, "admin", "test")
        .await
        .unwrap();

    // A citizen, even at level 1, administers nothing.
    let plain = cookie_client();
    assert_eq!(
        log_in(&plain, &app, "", RUN, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    for path in [
        "/admin",
        "/admin/services",
        "/admin/agents",
        "/admin/journal",
    ] {
        assert_eq!(get(&plain, &app, path).await.status, StatusCode::FORBIDDEN);
    }
    // Nobody signed in goes to the login.
    let anonymous = cookie_client();
    let page = get(&anonymous, &app, "/admin/services").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/login"));

    // Staff signed in with the password only confirm with their second factor first; the
    // home page of an institution's administrator links to the administration pages.
    let password_only = cookie_client();
    log_in(
        &password_only,
        &app,
        "",
        INSTITUTION_ADMIN_RUN,
        STAFF_PASSWORD,
    )
    .await;
    let stepping_up = get(&password_only, &app, "/admin").await;
    assert_eq!(stepping_up.status, StatusCode::SEE_OTHER);
    assert_eq!(
        stepping_up.location.as_deref(),
        Some("/login/second-factor?then=admin")
    );
    let boss_browser = signed_in(&app, INSTITUTION_ADMIN_RUN, &boss_secret).await;
    assert!(
        get(&boss_browser, &app, "/")
            .await
            .body
            .contains("href=\"/admin\""),
        "the home page links to /admin"
    );
    assert!(
        !get(&plain, &app, "/")
            .await
            .body
            .contains("href=\"/admin\"")
    );

    // An agent at level 2: no services, no agents.
    let agent = signed_in(&app, AGENT_RUN, &agent_secret).await;
    assert!(
        !get(&agent, &app, "/")
            .await
            .body
            .contains("href=\"/admin\"")
    );
    assert_refused(&get(&agent, &app, "/admin").await, "rol de administración");
    assert_refused(
        &get(&agent, &app, "/admin/services").await,
        "Solo los administradores de clave",
    );
    assert_refused(
        &get(&agent, &app, "/admin/agents").await,
        "supervisores de agentes",
    );

    // A supervisor: agents and offices only.
    let supervisor = signed_in(&app, SUPERVISOR_RUN, &supervisor_secret).await;
    let dashboard = get(&supervisor, &app, "/admin").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("href=\"/admin/agents\""));
    assert!(!dashboard.body.contains("href=\"/admin/services\""));
    for path in [
        "/admin/services",
        "/admin/services/new",
        "/admin/institutions",
        "/admin/attributes",
        "/admin/journal",
        "/admin/institutions/registro-civil",
    ] {
        assert_eq!(
            get(&supervisor, &app, path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let granted = submit(
        &supervisor,
        &app,
        "/admin/agents",
        "/admin/agents/grant",
        &[("run", RUN), ("role", "agent"), ("office", "Oficina Arica")],
    )
    .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let maria = app
        .app
        .idp
        .accounts()
        .find_by_run(&Run::parse(RUN).unwrap())
        .await
        .unwrap()
        .unwrap();
    let member = app
        .app
        .idp
        .accounts()
        .staff(&maria.id, "agent")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member.office.as_deref(), Some("Oficina Arica"));
    let event = app.journal_of_kind("role.granted").await;
    let supervisor_account = app
        .app
        .idp
        .accounts()
        .find_by_run(&Run::parse(SUPERVISOR_RUN).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        event.last().unwrap().actor.as_deref(),
        Some(supervisor_account.id.as_str())
    );
    // An agent without an office is refused with the reason, and nothing changes.
    let no_office = submit(
        &supervisor,
        &app,
        "/admin/agents",
        "/admin/agents/grant",
        &[("run", AGENT_RUN), ("role", "agent"), ("office", " ")],
    )
    .await;
    assert_eq!(no_office.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_office.error_summary().unwrap().contains("oficina"));
    // A supervisor cannot make supervisors or administrators.
    let promoted = post_crafted(
        &supervisor,
        &app,
        "/admin/agents",
        "/admin/agents/grant",
        &[("run", RUN), ("role", "admin"), ("office", "")],
    )
    .await;
    assert_eq!(promoted.status, StatusCode::FORBIDDEN);
    assert!(
        !app.app
            .idp
            .accounts()
            .get(&maria.id)
            .await
            .unwrap()
            .unwrap()
            .roles
            .contains(&"admin".to_owned())
    );
    let revoked = submit(
        &supervisor,
        &app,
        "/admin/agents",
        "/admin/agents/revoke",
        &[("account", &maria.id), ("role", "agent")],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert!(
        app.app
            .idp
            .accounts()
            .staff(&maria.id, "agent")
            .await
            .unwrap()
            .is_none()
    );

    // The institution's administrator (signed in above): their own institution, not another.
    let dashboard = get(&boss_browser, &app, "/admin").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(
        dashboard
            .body
            .contains("href=\"/admin/institutions/registro-civil\"")
    );
    assert!(!dashboard.body.contains("/admin/institutions/sii"));
    assert_refused(
        &get(&boss_browser, &app, "/admin/institutions/sii").await,
        "no es la tuya",
    );
    assert_eq!(
        get(&boss_browser, &app, "/admin/institutions").await.status,
        StatusCode::FORBIDDEN
    );
    let elsewhere = post_crafted(
        &boss_browser,
        &app,
        "/admin/institutions/registro-civil",
        "/admin/institutions/sii/grant",
        &[("run", RUN), ("role", "operator")],
    )
    .await;
    assert_refused(&elsewhere, "no es la tuya");
    assert!(signer.institution_staff("sii").await.unwrap().is_empty());
    let own = submit(
        &boss_browser,
        &app,
        "/admin/institutions/registro-civil",
        "/admin/institutions/registro-civil/grant",
        &[("run", RUN), ("role", "operator")],
    )
    .await;
    assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.body);
    assert!(
        signer
            .institution_staff("registro-civil")
            .await
            .unwrap()
            .contains(&(maria.id.clone(), "operator".to_owned()))
    );
    let granted = app.journal_of_kind("institution.role_granted").await;
    assert_eq!(
        granted.last().unwrap().actor.as_deref(),
        Some(boss.id.as_str())
    );
    let page = get(&boss_browser, &app, "/admin/institutions/registro-civil").await;
    assert!(page.body.contains("Del Río González"), "{}", page.body);
    let bad_run = submit(
        &boss_browser,
        &app,
        "/admin/institutions/registro-civil",
        "/admin/institutions/registro-civil/grant",
        &[("run", "12.345.678-9"), ("role", "operator")],
    )
    .await;
    assert_eq!(bad_run.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_run.error_summary().unwrap().contains("RUN"));
    let removed = submit(
        &boss_browser,
        &app,
        "/admin/institutions/registro-civil",
        "/admin/institutions/registro-civil/revoke",
        &[("account", &maria.id), ("role", "operator")],
    )
    .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(
        !signer
            .institution_staff("registro-civil")
            .await
            .unwrap()
            .iter()
            .any(|(id, _)| *id == maria.id)
    );
}

/// The fields of the registration form for a confidential web service.
fn service_form<'a>(name: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("redirect_uris", redirect),
        ("post_logout_redirect_uris", ""),
        ("auth", "secret"),
        ("scopes", "openid profile"),
        ("subject_type", "pairwise"),
        ("id_token_alg", "ES256"),
        ("min_acr", ""),
        ("purpose", "Trámites de vivienda"),
        ("legal_basis", "Ley 19.880"),
        ("logo_uri", "https://serviu.example.cl/logo.png"),
    ]
}

/// The text of the element with `id` (a `<code>`) in `html`.
fn code_with_id(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\">"))? + id.len() + 6;
    let end = start + html[start..].find('<')?;
    Some(html[start..end].to_owned())
}

#[tokio::test]
async fn an_administrator_registers_a_service_that_signs_citizens_in_and_edits_it() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let Some((admin, secret)) = staff(&app, ADMIN_RUN, "Administradora", Some("admin")).await
    else {
        return;
    };
    let browser = signed_in(&app, ADMIN_RUN, &secret).await;
    let clients = app.app.idp.clients();

    // Bad input: the form again with what to fix, nothing registered.
    let refused = submit(
        &browser,
        &app,
        "/admin/services/new",
        "/admin/services",
        &service_form("Serviu", "ftp://serviu.example.cl/callback"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary = refused.error_summary().unwrap();
    assert!(summary.contains("Revisa los datos"), "{summary}");
    assert!(
        summary.contains("ftp://serviu.example.cl/callback"),
        "{summary}"
    );
    assert!(refused.body.contains("value=\"Serviu\""));
    let nameless = submit(
        &browser,
        &app,
        "/admin/services/new",
        "/admin/services",
        &service_form(" ", REDIRECT_URI),
    )
    .await;
    assert_eq!(nameless.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(clients.list().await.unwrap().is_empty());

    // Registered: the id and the secret, shown this once.
    let created = submit(
        &browser,
        &app,
        "/admin/services/new",
        "/admin/services",
        &service_form("Serviu Metropolitano", REDIRECT_URI),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let client_id = code_with_id(&created.body, "client-id").unwrap();
    let client_secret = code_with_id(&created.body, "client-secret").unwrap();
    let list = get(&browser, &app, "/admin/services").await;
    assert!(list.body.contains("Serviu Metropolitano"));
    assert!(list.body.contains(&client_id));
    assert!(!list.body.contains(&client_secret));
    let edit_page = get(&browser, &app, &format!("/admin/services/{client_id}")).await;
    assert!(!edit_page.body.contains(&client_secret));
    assert!(edit_page.body.contains("Ley 19.880"));
    assert!(
        edit_page
            .body
            .contains("https://serviu.example.cl/logo.png")
    );
    let registered = app.journal_of_kind("client.registered").await;
    assert_eq!(
        registered.last().unwrap().actor.as_deref(),
        Some(admin.id.as_str())
    );
    let terms = app.app.wallet.consents().terms(&client_id).await.unwrap();
    assert_eq!(terms.legal_basis.as_deref(), Some("Ley 19.880"));

    // The new service signs María in with the authorization code flow.
    let rp = Rp::discover(
        &app,
        &Registered {
            client_id: client_id.clone(),
            secret: Some(client_secret.clone()),
        },
    )
    .await;
    let (tokens, nonce) = rp.sign_in(&mut Browser::new(&app), &["profile"]).await;
    let claims = rp.id_claims(&tokens, Some(&nonce));
    assert_eq!(claims.audiences()[0].as_str(), client_id);

    // Edited: a new name, level 2 required, no logo; refused input changes nothing.
    let path = format!("/admin/services/{client_id}");
    let mut bad = service_form("Serviu RM", REDIRECT_URI);
    bad.retain(|(k, _)| *k != "logo_uri");
    bad.push(("logo_uri", "http://serviu.example.cl/logo.png"));
    let refused = submit(&browser, &app, &path, &path, &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.error_summary().unwrap().contains("logo"));
    assert_eq!(
        clients.get(&client_id).await.unwrap().unwrap().name,
        "Serviu Metropolitano"
    );
    let mut edit = service_form("Serviu RM", REDIRECT_URI);
    edit.retain(|(k, _)| !["logo_uri", "min_acr", "auth"].contains(k));
    edit.extend([
        ("logo_uri", ""),
        ("min_acr", "urn:clave:loa:2"),
        ("mailbox_by_run", "yes"),
        // Not a field of the edit: the method stays the registered one.
        ("auth", "public"),
    ]);
    let saved = submit(&browser, &app, &path, &path, &edit).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let client = clients.get(&client_id).await.unwrap().unwrap();
    assert_eq!(client.name, "Serviu RM");
    assert_eq!(client.min_acr.as_deref(), Some("urn:clave:loa:2"));
    assert!(!client.public);
    assert_eq!(clients.logo_uri(&client_id).await.unwrap(), None);
    assert!(
        app.app
            .wallet
            .mailbox()
            .may_address_by_run(&client_id)
            .await
            .unwrap()
    );
    let updated = app.journal_of_kind("client.updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0].actor.as_deref(), Some(admin.id.as_str()));
}

#[tokio::test]
async fn the_catalogue_and_the_journal_for_an_administrator() {
    let app = TestApp::new().await;
    let Some((admin, secret)) = staff(&app, ADMIN_RUN, "Administradora", Some("admin")).await
    else {
        return;
    };
    let browser = signed_in(&app, ADMIN_RUN, &secret).await;
    let defined = submit(
        &browser,
        &app,
        "/admin/attributes",
        "/admin/attributes",
        &[
            ("name", "licencia_conducir"),
            ("label_es", "Licencia de conducir"),
            ("label_en", "Driving licence"),
            ("kind", "code"),
            ("codes", "A1 B C"),
            ("scope", "licencia"),
            ("sensitive", "yes"),
        ],
    )
    .await;
    assert_eq!(defined.status, StatusCode::SEE_OTHER, "{}", defined.body);
    let def = app
        .app
        .wallet
        .catalogue()
        .get("licencia_conducir")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(def.codes, ["A1", "B", "C"]);
    assert!(def.sensitive);
    let page = get(&browser, &app, "/admin/attributes?name=licencia_conducir").await;
    assert_eq!(page.field("label_en").as_deref(), Some("Driving licence"));
    let refused = submit(
        &browser,
        &app,
        "/admin/attributes",
        "/admin/attributes",
        &[
            ("name", "Mal Nombre"),
            ("label_es", "x"),
            ("label_en", "x"),
            ("kind", "text"),
            ("scope", "x"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.error_summary().is_some());
    let acted = app.journal_of_kind("admin.attribute_defined").await;
    assert_eq!(acted.len(), 1);
    assert_eq!(acted[0].actor.as_deref(), Some(admin.id.as_str()));

    // The journal: newest first, the chain verified, filtered by kind.
    let journal = get(&browser, &app, "/admin/journal").await;
    assert_eq!(journal.status, StatusCode::OK);
    assert!(
        journal.body.contains("La cadena está íntegra"),
        "{}",
        journal.body
    );
    let newest = journal.body.find("admin.attribute_defined").unwrap();
    let older = journal.body.find("role.granted").unwrap();
    assert!(newest < older, "newest first");
    let filtered = get(&browser, &app, "/admin/journal?kind=role.granted").await;
    assert!(filtered.body.contains("role.granted"));
    assert!(!filtered.body.contains("<code>attribute.defined</code>"));
    // Paging: more than a page of entries gives an "older" link that leads to the rest.
    for n in 0..60 {
        app.app
            .journal
            .append_now(&clave_common::journal::NewEvent::new("test.filler").subject(n.to_string()))
            .await
            .unwrap();
    }
    let first = get(&browser, &app, "/admin/journal?kind=test.filler").await;
    assert_eq!(first.body.matches("<code>test.filler</code>").count(), 50);
    let older = first.body.find("rel=\"next\"").expect("an older link");
    let start = first.body[..older].rfind("href=\"").unwrap() + "href=\"".len();
    let end = start + first.body[start..].find('"').unwrap();
    let href = first.body[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        href.starts_with("/admin/journal?kind=test.filler&before="),
        "{href}"
    );
    let second = get(&browser, &app, &href).await;
    assert_eq!(second.body.matches("<code>test.filler</code>").count(), 10);
}

#[tokio::test]
async fn admin_forms_without_the_browsers_token_change_nothing() {
    let app = TestApp::new().await;
    let Some((_, secret)) = staff(&app, ADMIN_RUN, "Administradora", Some("admin")).await else {
        return;
    };
    let browser = signed_in(&app, ADMIN_RUN, &secret).await;
    let before = app
        .app
        .journal
        .list(Default::default())
        .await
        .unwrap()
        .len();
    for (path, form) in [
        ("/admin/services", service_form("Forjado", REDIRECT_URI)),
        (
            "/admin/institutions",
            vec![("id", "forjada"), ("name", "Forjada")],
        ),
        (
            "/admin/agents/grant",
            vec![("run", ADMIN_RUN), ("role", "agent"), ("office", "x")],
        ),
    ] {
        let response = post(&browser, &app, path, &form).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(app.app.idp.clients().list().await.unwrap().is_empty());
    assert!(app.app.signer.institutions().await.unwrap().is_empty());
    let after = app
        .app
        .journal
        .list(Default::default())
        .await
        .unwrap()
        .len();
    assert_eq!(before, after);
}

/// A service that may ask for tokens to publish to wallets, registered as `clave client add`
/// does.
async fn publisher(app: &TestApp, name: &str) -> Registered {
    register(
        app,
        NewClient {
            name: name.into(),
            scopes: vec!["wallet:publish".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await
}

/// A client_credentials token request with `secret`: the status, and the token if one came.
async fn publish_token(app: &TestApp, client_id: &str, secret: &str) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "wallet:publish"),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    (status, token)
}

/// María's birthdate published with `token`: the status and the answer.
async fn publish_birthdate(app: &TestApp, token: &str) -> (StatusCode, Value) {
    call(
        reqwest::Method::PUT,
        &app.at(&format!(
            "/api/wallet/v1/citizens/{RUN}/attributes/birthdate"
        )),
        token,
        Some(json!({"value": "1985-04-23"})),
    )
    .await
}

#[tokio::test]
async fn an_administrator_rotates_a_services_secret_and_then_removes_the_service() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let Some((admin, secret)) = staff(&app, ADMIN_RUN, "Administradora", Some("admin")).await
    else {
        return;
    };
    let browser = signed_in(&app, ADMIN_RUN, &secret).await;
    let service = publisher(&app, "Fonasa").await;
    let id = service.client_id.as_str();
    let old = service.secret.clone().unwrap();
    let path = format!("/admin/services/{id}");
    let rotate = format!("{path}/rotate-secret");

    let english = get(&browser, &app, &format!("{path}?lang=en")).await;
    assert!(
        english.body.contains("Rotate the secret"),
        "{}",
        english.body
    );
    assert!(english.body.contains("To confirm, type the service"));

    // Without the box ticked: the form says what to fix, the secret still works.
    let refused = submit(&browser, &app, &path, &rotate, &[]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary = refused.error_summary().unwrap();
    assert!(summary.contains("Marca la casilla"), "{summary}");
    assert_eq!(publish_token(&app, id, &old).await.0, StatusCode::OK);
    assert!(
        app.journal_of_kind("client.secret_rotated")
            .await
            .is_empty()
    );

    // Rotated: the new secret shown this once; the old one refused at once.
    let rotated = submit(&browser, &app, &path, &rotate, &[("confirm", "yes")]).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert!(rotated.body.contains("Secreto rotado"));
    assert_eq!(
        code_with_id(&rotated.body, "client-id").as_deref(),
        Some(id)
    );
    let new = code_with_id(&rotated.body, "client-secret").unwrap();
    assert_ne!(new, old);
    assert_eq!(
        publish_token(&app, id, &old).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, token) = publish_token(&app, id, &new).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!get(&browser, &app, &path).await.body.contains(&new));
    let event = app.journal_of_kind("client.secret_rotated").await;
    assert_eq!(event.len(), 1);
    assert_eq!(event[0].actor.as_deref(), Some(admin.id.as_str()));
    assert_eq!(event[0].subject.as_deref(), Some(id));

    // Removing asks for the identifier typed: nothing, or another, changes nothing.
    let remove = format!("{path}/remove");
    for typed in ["", "fonasa", &id[1..]] {
        let refused = submit(&browser, &app, &path, &remove, &[("confirm", typed)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        let summary = refused.error_summary().unwrap();
        assert!(summary.contains("Escribe exactamente"), "{summary}");
    }
    assert!(app.app.idp.clients().get(id).await.unwrap().is_some());
    assert!(
        get(&browser, &app, "/admin/services")
            .await
            .body
            .contains(id)
    );
    assert_eq!(publish_token(&app, id, &new).await.0, StatusCode::OK);
    // Not a source of anything: the token works, the publication is refused.
    assert_eq!(
        publish_birthdate(&app, &token).await.0,
        StatusCode::FORBIDDEN
    );

    // Removed: no more tokens, the one it had revoked, gone from the list.
    let removed = submit(&browser, &app, &path, &remove, &[("confirm", id)]).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    assert_eq!(
        removed.location.as_deref(),
        Some("/admin/services?done=removed")
    );
    assert_ne!(publish_token(&app, id, &new).await.0, StatusCode::OK);
    assert_eq!(
        publish_birthdate(&app, &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let list = get(&browser, &app, "/admin/services?done=removed").await;
    assert!(!list.body.contains(id));
    assert!(list.body.contains("Servicio eliminado"));
    assert_eq!(
        get(&browser, &app, &path).await.status,
        StatusCode::NOT_FOUND
    );
    let event = app.journal_of_kind("client.removed").await;
    assert_eq!(event.len(), 1);
    assert_eq!(event[0].actor.as_deref(), Some(admin.id.as_str()));
    assert_eq!(event[0].subject.as_deref(), Some(id));
}

#[tokio::test]
async fn an_administrator_grants_and_revokes_an_attributes_sources() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let Some((admin, secret)) = staff(&app, ADMIN_RUN, "Administradora", Some("admin")).await
    else {
        return;
    };
    let browser = signed_in(&app, ADMIN_RUN, &secret).await;
    let service = publisher(&app, "Fonasa").await;
    let id = service.client_id.as_str();
    let (_, token) = publish_token(&app, id, service.secret.as_deref().unwrap()).await;
    let (status, body) = publish_birthdate(&app, &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The attribute's edit page offers the registered services.
    let page = "/admin/attributes?name=birthdate";
    let grant = "/admin/attributes/birthdate/sources";
    let revoke = "/admin/attributes/birthdate/sources/revoke";
    let edit = get(&browser, &app, page).await;
    assert!(edit.body.contains("Fuentes autorizadas"), "{}", edit.body);
    assert!(
        edit.body
            .contains(&format!("<option value=\"{id}\">Fonasa"))
    );

    let english = get(&browser, &app, &format!("{page}&lang=en")).await;
    assert!(english.body.contains("Authoritative sources"));
    assert!(
        english
            .body
            .contains("No service is a source of this attribute.")
    );

    // No service chosen, or one that is not registered: what to fix, nothing granted.
    for chosen in ["", "no-registrado"] {
        let refused = submit(&browser, &app, page, grant, &[("client_id", chosen)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{chosen}");
        let summary = refused.error_summary().unwrap();
        assert!(summary.contains("Elige uno de los servicios"), "{summary}");
    }
    assert!(
        app.journal_of_kind("attribute.source_granted")
            .await
            .is_empty()
    );

    // Granted: the service publishes the attribute, and the page lists it with a revoke button.
    let granted = submit(&browser, &app, page, grant, &[("client_id", id)]).await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let (status, body) = publish_birthdate(&app, &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let event = app.journal_of_kind("attribute.source_granted").await;
    assert_eq!(event.len(), 1);
    assert_eq!(event[0].actor.as_deref(), Some(admin.id.as_str()));
    assert_eq!(event[0].data["client_id"], id);
    let shown = get(&browser, &app, granted.location.as_deref().unwrap()).await;
    assert!(shown.body.contains("Fuente agregada"));
    assert!(shown.body.contains(&format!("id=\"source-{id}\">Fonasa")));
    assert!(!shown.body.contains(&format!("<option value=\"{id}\"")));

    // Revoked: refused again; what it published stays.
    let revoked = submit(&browser, &app, page, revoke, &[("client_id", id)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    let (status, body) = publish_birthdate(&app, &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "not_authoritative");
    let event = app.journal_of_kind("attribute.source_revoked").await;
    assert_eq!(event.len(), 1);
    assert_eq!(event[0].actor.as_deref(), Some(admin.id.as_str()));
    let after = get(&browser, &app, page).await;
    assert!(
        after
            .body
            .contains(&format!("<option value=\"{id}\">Fonasa"))
    );

    // A removed service stays a source until revoked, and can be revoked.
    let catalogue = app.app.wallet.catalogue();
    catalogue.grant_source("birthdate", id).await.unwrap();
    app.app.idp.clients().remove(id).await.unwrap();
    let listed = get(&browser, &app, page).await;
    assert!(listed.body.contains(&format!("id=\"source-{id}\">—")));
    let revoked = submit(&browser, &app, page, revoke, &[("client_id", id)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    let def = catalogue.get("birthdate").await.unwrap().unwrap();
    assert!(!def.sources.iter().any(|s| s == id));

    // An attribute not in the catalogue.
    let missing = post_crafted(
        &browser,
        &app,
        page,
        "/admin/attributes/no_such/sources",
        &[("client_id", id)],
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_the_administrator_rotates_removes_and_grants_sources() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let Some((_, supervisor_secret)) =
        staff(&app, SUPERVISOR_RUN, "Supervisora", Some("supervisor")).await
    else {
        return;
    };
    let (boss, boss_secret) = staff(&app, INSTITUTION_ADMIN_RUN, "Jefa", None)
        .await
        .unwrap();
    let signer = &app.app.signer;
    signer
        .create_institution("registro-civil", "Registro Civil", "test")
        .await
        .unwrap();
    signer
        .grant_institution_role("registro-civil", &boss.id, "admin", "test")
        .await
        .unwrap();
    let service = publisher(&app, "Fonasa").await;
    let id = service.client_id.as_str();
    let supervisor = signed_in(&app, SUPERVISOR_RUN, &supervisor_secret).await;
    let boss = signed_in(&app, INSTITUTION_ADMIN_RUN, &boss_secret).await;
    let before = app
        .app
        .journal
        .list(Default::default())
        .await
        .unwrap()
        .len();
    for (browser, from) in [
        (&supervisor, "/admin/agents"),
        (&boss, "/admin/institutions/registro-civil"),
    ] {
        for (path, form) in [
            (format!("/admin/services/{id}"), vec![]),
            (
                format!("/admin/services/{id}/rotate-secret"),
                vec![("confirm", "yes")],
            ),
            (
                format!("/admin/services/{id}/remove"),
                vec![("confirm", id)],
            ),
            (
                "/admin/attributes/birthdate/sources".to_owned(),
                vec![("client_id", id)],
            ),
            (
                "/admin/attributes/birthdate/sources/revoke".to_owned(),
                vec![("client_id", id)],
            ),
        ] {
            let answer = post_crafted(browser, &app, from, &path, &form).await;
            assert_refused(&answer, "Solo los administradores de clave");
        }
    }
    let secret = service.secret.as_deref().unwrap();
    assert_eq!(publish_token(&app, id, secret).await.0, StatusCode::OK);
    let def = app.app.wallet.catalogue().get("birthdate").await.unwrap();
    assert!(!def.unwrap().sources.iter().any(|s| s == id));
    let after = app
        .app
        .journal
        .list(Default::default())
        .await
        .unwrap()
        .len();
    assert_eq!(before, after);
}
