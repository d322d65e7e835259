//! Officials' certificates on the ministro-de-fe model, played through the officials'
//! console in the portal: an institution's operator asks, its ministro de fe approves with a
//! fresh code, the certificate comes from the institution's own CA (checked by OpenSSL), the
//! official signs a service's request as an official, and the ministro de fe revokes. Staff
//! of one institution cannot act on another, an operator cannot approve, and nobody
//! approves their own certificate.

use clave_common::Run;
use clave_idp::accounts::{Account, NewCitizen};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{fetch_pki, get_bytes, openssl, pem};
use crate::callers::{cookie_client, post_crafted, submit};
use crate::mailbox::{call, service_token};
use crate::second_factor::{enrolled, oathtool, portal_login_with_totp_as};
use crate::support::TestApp;
use crate::support::accounts::get;
use crate::support::rp::{PASSWORD, RUN, citizen, register, web_client};

const STAFF_PASSWORD: &str = "registro civil e identificacion";
const OPERATOR_RUN: &str = "11.111.111-1";
const MINISTRO_RUN: &str = "22.222.222-2";
const OTHER_MINISTRO_RUN: &str = "33.333.333-3";

async fn person(app: &TestApp, run: &str, given: &str) -> Account {
    app.app
        .idp
        .accounts()
        .create(NewCitizen {
            run: Run::parse(run).unwrap(),
            given_names: given.into(),
            family_names: "Funcionaria".into(),
            email: None,
            password: Some(STAFF_PASSWORD.into()),
        })
        .await
        .unwrap()
}

fn cli_ok(app: &TestApp, args: &[&str]) {
    let out = app.cli(args);
    assert!(out.success, "{args:?}: {}{}", out.stdout, out.stderr);
}

/// A fresh code for `secret`: the clock moves a step first, so it was never used.
fn fresh(app: &TestApp, secret: &str) -> String {
    app.advance(time::Duration::seconds(30));
    oathtool(secret, app.app.idp.ctx().clock.unix()).unwrap()
}

#[tokio::test]
async fn a_ministro_de_fe_certifies_an_official_who_then_signs_for_the_institution() {
    let app = TestApp::with_config(|c| c.tokens.access_token_ttl_secs = 3600).await;
    let app = &app;
    cli_ok(
        app,
        &[
            "sign",
            "institution",
            "add",
            "registro-civil",
            "--name",
            "Servicio de Registro Civil",
        ],
    );
    cli_ok(
        app,
        &[
            "sign",
            "institution",
            "add",
            "sii",
            "--name",
            "Servicio de Impuestos Internos",
        ],
    );
    for (id, why) in [
        ("root", "reserved"),
        ("sii", "already"),
        ("Mal Nombre", "lowercase"),
    ] {
        let out = app.cli(&["sign", "institution", "add", id, "--name", "Otra"]);
        assert!(
            !out.success && out.stderr.contains(why),
            "{id}: {}",
            out.stderr
        );
    }
    // The institution's CA is published under the root, with its own CRL.
    let (status, _, _) = get_bytes(&app.at("/pki/registro-civil.crt")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get_bytes(&app.at("/pki/crl/registro-civil.crl")).await;
    assert_eq!(status, StatusCode::OK);

    let official = citizen(app).await;
    let operator = person(app, OPERATOR_RUN, "Olga").await;
    let ministro = person(app, MINISTRO_RUN, "Marta").await;
    let other_ministro = person(app, OTHER_MINISTRO_RUN, "Sergio").await;
    let Some(official_secret) = enrolled(app, &official).await else {
        return;
    };
    let operator_secret = enrolled(app, &operator).await.unwrap();
    let ministro_secret = enrolled(app, &ministro).await.unwrap();
    let other_secret = enrolled(app, &other_ministro).await.unwrap();
    for (run, institution, role) in [
        (OPERATOR_RUN, "registro-civil", "operator"),
        (MINISTRO_RUN, "registro-civil", "ministro_de_fe"),
        (OTHER_MINISTRO_RUN, "sii", "ministro_de_fe"),
    ] {
        cli_ok(
            app,
            &[
                "sign",
                "institution",
                "grant",
                institution,
                "--run",
                run,
                "--role",
                role,
            ],
        );
    }
    let out = app.cli(&[
        "sign",
        "institution",
        "grant",
        "sii",
        "--run",
        RUN,
        "--role",
        "king",
    ]);
    assert!(
        !out.success && out.stderr.contains("unknown role"),
        "{}",
        out.stderr
    );

    // A citizen with no role and no certificate has no console; the console needs level 2.
    let maria = cookie_client();
    crate::support::accounts::log_in(&maria, app, "", RUN, PASSWORD).await;
    assert_eq!(
        get(&maria, app, "/official").await.status,
        StatusCode::FORBIDDEN
    );

    // The operator asks for María's certificate.
    let op = cookie_client();
    let ask_for = |institution: &'static str, title: &'static str| {
        let op = &op;
        async move {
            submit(
                op,
                app,
                "/official",
                "/official/requests",
                &[("institution", institution), ("run", RUN), ("title", title)],
            )
            .await
        }
    };
    portal_login_with_totp_as(app, &op, OPERATOR_RUN, STAFF_PASSWORD, &operator_secret).await;
    let console = get(&op, app, "/official").await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.body);
    assert!(console.body.contains("Servicio de Registro Civil"));
    assert!(!console.body.contains("Servicio de Impuestos Internos"));
    let asked = ask_for("registro-civil", "Oficial Civil").await;
    assert_eq!(
        asked.location.as_deref(),
        Some("/official?done=requested"),
        "{}",
        asked.body
    );
    // Again, while it waits: refused with the reason.
    let again = ask_for("registro-civil", "Oficial Civil").await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.body.contains("Ya hay una solicitud pendiente"),
        "{}",
        again.body
    );
    // Not for another institution.
    let foreign = ask_for("sii", "Fiscalizadora").await;
    assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        foreign.body.contains("No tienes la función necesaria"),
        "{}",
        foreign.body
    );
    assert!(
        app.app
            .signer
            .certificate_requests("sii", false)
            .await
            .unwrap()
            .is_empty()
    );
    let request = app
        .app
        .signer
        .certificate_requests("registro-civil", true)
        .await
        .unwrap()
        .remove(0);
    let decide_path = format!("/official/requests/{}", request.id);

    // Approval without the ministro de fe: the operator, and another institution's ministro.
    let code = fresh(app, &operator_secret);
    let by_operator = post_crafted(
        &op,
        app,
        "/me/sessions",
        &decide_path,
        &[("action", "approve"), ("otp", &code)],
    )
    .await;
    assert_eq!(by_operator.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(by_operator.body.contains("No tienes la función necesaria"));
    let other = cookie_client();
    portal_login_with_totp_as(
        app,
        &other,
        OTHER_MINISTRO_RUN,
        STAFF_PASSWORD,
        &other_secret,
    )
    .await;
    let code = fresh(app, &other_secret);
    let by_other = post_crafted(
        &other,
        app,
        "/me/sessions",
        &decide_path,
        &[("action", "approve"), ("otp", &code)],
    )
    .await;
    assert_eq!(by_other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.app
            .signer
            .credentials_of(&official.id)
            .await
            .unwrap()
            .is_empty()
    );

    // The ministro de fe sees it, a wrong code changes nothing, the right one approves.
    let min = cookie_client();
    portal_login_with_totp_as(app, &min, MINISTRO_RUN, STAFF_PASSWORD, &ministro_secret).await;
    let console = get(&min, app, "/official").await;
    assert!(
        console.body.contains(&format!("action=\"{decide_path}\"")),
        "{}",
        console.body
    );
    let wrong = submit(
        &min,
        app,
        "/official",
        &decide_path,
        &[("action", "approve"), ("otp", "000000")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("El código no es válido"));
    let code = fresh(app, &ministro_secret);
    let approved = submit(
        &min,
        app,
        "/official",
        &decide_path,
        &[("action", "approve"), ("otp", &code)],
    )
    .await;
    assert_eq!(
        approved.location.as_deref(),
        Some("/official?done=approved"),
        "{}",
        approved.body
    );
    let twice = post_crafted(
        &min,
        app,
        "/me/sessions",
        &decide_path,
        &[
            ("action", "approve"),
            ("otp", &fresh(app, &ministro_secret)),
        ],
    )
    .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The certificate comes from the institution's CA and names the institution and post.
    let credential = app
        .app
        .signer
        .official_credential(&official.id, "registro-civil")
        .await
        .unwrap()
        .expect("the approval issued a certificate");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    fetch_pki(app, path).await;
    let (_, _, ca) = get_bytes(&app.at("/pki/registro-civil.crt")).await;
    std::fs::write(path.join("institution.pem"), pem("CERTIFICATE", &ca)).unwrap();
    std::fs::write(
        path.join("leaf.pem"),
        pem("CERTIFICATE", &credential.cert_der),
    )
    .unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "institution.pem",
            "leaf.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-subject",
            "-issuer",
            "-nameopt",
            "utf8,sep_comma_plus,-esc_msb",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("O=Servicio de Registro Civil"), "{out}");
    assert!(out.contains("title=Oficial Civil"), "{out}");
    assert!(
        out.contains("issuer=C=CL,O=clave,CN=clave CA Servicio de Registro Civil"),
        "{out}"
    );
    // The ministro de fe decides on nobody's own certificate.
    let own = app
        .app
        .signer
        .request_official_certificate(&operator, "registro-civil", &ministro, "Ministra de fe")
        .await
        .unwrap();
    let refused = app
        .app
        .signer
        .decide_certificate_request(
            &ministro,
            &own.id,
            true,
            &fresh(app, &ministro_secret),
            "",
            std::net::Ipv4Addr::LOCALHOST.into(),
        )
        .await;
    assert!(
        matches!(refused, Err(clave_signer::SignerError::Forbidden(_))),
        "{refused:?}"
    );

    // A service asks María to sign as an official; she signs in her console's signing page.
    let mut service = web_client("Dirección del Trabajo");
    service.scopes.push("sign:request".into());
    service.grants = vec!["client_credentials".into()];
    let service = register(app, service).await;
    let token = service_token(app, &service, "sign:request").await;
    let ask = |institution: &str| {
        json!({
            "signer": { "run": RUN },
            "purpose": "Firma del certificado de nacimiento",
            "format": "cades",
            "level": "B-B",
            "institution": institution,
            "documents": [{ "name": "certificado.txt", "media_type": "text/plain",
                            "content": "Q2VydGlmaWNhZG8gZGUgbmFjaW1pZW50bw==" }],
        })
    };
    let (status, _, body) = call(
        Method::POST,
        &app.at("/api/sign/v1/requests"),
        &token,
        Some(ask("sii")),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, body) = call(
        Method::POST,
        &app.at("/api/sign/v1/requests"),
        &token,
        Some(ask("registro-civil")),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["institution"], "registro-civil");
    let request_id = body["id"].as_str().unwrap().to_owned();
    let maria = cookie_client();
    portal_login_with_totp_as(app, &maria, RUN, PASSWORD, &official_secret).await;
    let console = get(&maria, app, "/official").await;
    assert_eq!(console.status, StatusCode::OK, "{}", console.body);
    assert!(
        console
            .body
            .contains("<strong id=\"pending-signatures\">1</strong>"),
        "{}",
        console.body
    );
    assert!(console.body.contains(&credential.serial));
    let page = get(&maria, app, &format!("/me/sign/{request_id}")).await;
    assert!(
        page.body.contains("Servicio de Registro Civil"),
        "{}",
        page.body
    );
    let code = fresh(app, &official_secret);
    let signed = submit(
        &maria,
        app,
        &format!("/me/sign/{request_id}"),
        &format!("/me/sign/{request_id}"),
        &[("action", "sign"), ("otp", &code)],
    )
    .await;
    assert_eq!(
        signed.location.as_deref(),
        Some("/me/sign?done=signed"),
        "{}",
        signed.body
    );
    let (_, _, state) = call(
        Method::GET,
        &app.at(&format!("/api/sign/v1/requests/{request_id}")),
        &token,
        None,
        &[],
    )
    .await;
    assert_eq!(state["status"], "signed", "{state}");
    use base64::Engine;
    let p7s = base64::engine::general_purpose::STANDARD
        .decode(state["documents"][0]["signed"]["content"].as_str().unwrap())
        .unwrap();
    std::fs::write(path.join("doc.p7s"), p7s).unwrap();
    std::fs::write(path.join("doc.txt"), "Certificado de nacimiento").unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "doc.p7s",
            "-content",
            "doc.txt",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
            "-signer",
            "signer.pem",
        ],
    );
    assert!(ok, "{out}");
    let signer_cert = std::fs::read_to_string(path.join("signer.pem")).unwrap();
    assert_eq!(
        signer_cert.trim(),
        pem("CERTIFICATE", &credential.cert_der).trim(),
        "the signature is made with the official's certificate"
    );

    // Revocation: not by another institution's ministro; by this one, onto the CRL.
    let revoke_path = format!("/official/credentials/{}", credential.id);
    let foreign = post_crafted(&other, app, "/me/sessions", &revoke_path, &[]).await;
    assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
    let revoked = submit(
        &min,
        app,
        "/official",
        &revoke_path,
        &[("reason", "affiliationChanged")],
    )
    .await;
    assert_eq!(
        revoked.location.as_deref(),
        Some("/official?done=revoked"),
        "{}",
        revoked.body
    );
    let (_, _, crl) = get_bytes(&app.at("/pki/crl/registro-civil.crl")).await;
    std::fs::write(path.join("institution-crl.pem"), pem("X509 CRL", &crl)).unwrap();
    let (ok, out) = openssl(
        path,
        &["crl", "-in", "institution-crl.pem", "-noout", "-text"],
    );
    assert!(ok, "{out}");
    assert!(
        out.to_lowercase()
            .contains(&credential.serial.to_lowercase()),
        "{out}"
    );
    for kind in [
        "institution.created",
        "institution.role_granted",
        "certificate_request.created",
        "certificate_request.approved",
        "signature.certificate_issued",
        "signature.certificate_revoked",
    ] {
        assert!(!app.journal_of_kind(kind).await.is_empty(), "{kind}");
    }
}
