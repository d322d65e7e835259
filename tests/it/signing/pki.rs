//! The PKI as outsiders see it: CA certificates and CRLs fetched over HTTP and checked by
//! OpenSSL, and a signer's certificate profile read back by OpenSSL.

use reqwest::StatusCode;
use serde_json::json;

use super::{Signatory, fetch_pki, get_bytes, openssl, pem};
use crate::support::TestApp;

#[tokio::test]
async fn the_pki_publishes_a_root_an_issuing_ca_and_signed_crls() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (status, kind, _) = get_bytes(&app.at("/pki/root.crt")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/pkix-cert");
    let (_, kind, _) = get_bytes(&app.at("/pki/crl/ciudadanos.crl")).await;
    assert_eq!(kind, "application/pkix-crl");
    fetch_pki(&app, dir.path()).await;

    let (ok, out) = openssl(dir.path(), &["verify", "-CAfile", "root.pem", "ca.pem"]);
    assert!(ok, "{out}");
    let (ok, out) = openssl(dir.path(), &["x509", "-in", "ca.pem", "-noout", "-text"]);
    assert!(ok, "{out}");
    assert!(out.contains("CA:TRUE, pathlen:0"), "{out}");
    assert!(out.contains("Certificate Sign, CRL Sign"), "{out}");
    assert!(out.contains("/pki/crl/root.crl"), "{out}");
    let (ok, out) = openssl(dir.path(), &["x509", "-in", "root.pem", "-noout", "-text"]);
    assert!(ok && out.contains("CA:TRUE, pathlen:1"), "{out}");
    // Each CRL is signed by its CA, as OpenSSL checks it.
    let (ok, out) = openssl(
        dir.path(),
        &[
            "crl", "-in", "crl.pem", "-CAfile", "ca.pem", "-noout", "-text",
        ],
    );
    assert!(ok && out.contains("verify OK"), "{out}");
    assert!(out.contains("No Revoked Certificates"), "{out}");
    let (ok, out) = openssl(
        dir.path(),
        &[
            "crl",
            "-in",
            "root-crl.pem",
            "-CAfile",
            "root.pem",
            "-noout",
        ],
    );
    assert!(ok && out.contains("verify OK"), "{out}");

    for path in [
        "/pki/nadie.crt",
        "/pki/root.txt",
        "/pki/crl/nadie.crl",
        "/pki/crl/root",
    ] {
        let response = reqwest::get(app.at(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}");
    }

    // A new CRL from the command line has the next number, and the old one is kept.
    let before = app
        .app
        .signer
        .current_crl("ciudadanos")
        .await
        .unwrap()
        .unwrap();
    let out = app.cli(&["--json", "sign", "crl", "ciudadanos"]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.json()["number"], json!(before.number + 1));
    let (_, _, der) = get_bytes(&app.at("/pki/crl/ciudadanos.crl")).await;
    assert_ne!(der, before.der);
    // The worker's round issues nothing while the CRLs are fresh, and a new CRL for every CA
    // once a day has passed.
    assert_eq!(app.app.signer.refresh_crls().await.unwrap(), 0);
    app.advance(time::Duration::days(1) + time::Duration::minutes(1));
    assert_eq!(app.app.signer.refresh_crls().await.unwrap(), 2);
    assert_eq!(app.app.signer.refresh_crls().await.unwrap(), 0);
    let out = app.cli(&["--json", "sign", "ca", "show"]);
    assert!(out.success, "{}", out.stderr);
    let cas = out.json()["cas"].as_array().unwrap().clone();
    assert_eq!(cas.len(), 2);
    assert_eq!(cas[1]["parent"], "root");
    let out = app.cli(&["sign", "ca", "show", "--pem", "root"]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        std::fs::read_to_string(dir.path().join("root.pem")).unwrap()
    );
    let out = app.cli(&["sign", "crl", "nadie"]);
    assert!(!out.success);
    assert!(
        out.stderr.contains("no certificate authority"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_signers_certificate_names_them_by_run_and_chains_to_the_root() {
    let mut signatory = Signatory::new().await;
    // Without an authenticator there is nothing to activate a signature with: no credential.
    let (status, body) = signatory.csc("credentials/list", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["credentialIDs"], json!([]));
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    let (status, info) = signatory
        .csc(
            "credentials/info",
            json!({ "credentialID": credential, "certificates": "chain", "certInfo": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["SCAL"], "2");
    assert_eq!(info["cert"]["status"], "valid");
    assert_eq!(info["key"]["status"], "enabled");
    let chain = info["cert"]["certificates"].as_array().unwrap();
    assert_eq!(chain.len(), 3);
    let dir = tempfile::tempdir().unwrap();
    use base64::Engine;
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(chain[0].as_str().unwrap())
        .unwrap();
    std::fs::write(dir.path().join("leaf.pem"), pem("CERTIFICATE", &leaf)).unwrap();
    fetch_pki(&signatory.app, dir.path()).await;
    let (ok, out) = openssl(
        dir.path(),
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "ca.pem",
            "leaf.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, text) = openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-text",
            "-nameopt",
            "utf8,sep_comma_plus,-esc_msb",
        ],
    );
    assert!(ok, "{text}");
    for expected in [
        "C=CL",
        "CN=María Carmen Del Río González",
        "serialNumber=12345678-5",
        "X509v3 Key Usage: critical",
        "Digital Signature, Non Repudiation",
        "1.3.6.1.4.1.8321.1",
        "12345678-5",
        "/pki/crl/ciudadanos.crl",
        "CA Issuers - URI:",
        "/pki/ciudadanos.crt",
        "X509v3 Certificate Policies",
        "ASN1 OID: prime256v1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("CA:TRUE"), "{text}");
    // Listing again gives the same credential, not a second one.
    assert_eq!(signatory.credential().await, credential);

    // Someone else's credential is not visible.
    let (status, body) = signatory
        .csc("credentials/info", json!({ "credentialID": "not-mine" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_description"], "Invalid parameter credentialID");
    let (status, body) = signatory
        .csc(
            "credentials/info",
            json!({ "credentialID": credential, "certificates": "all" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn an_official_certificate_names_the_institution_and_position() {
    let mut signatory = Signatory::new().await;
    let app = &signatory.app;
    let out = app.cli(&[
        "sign",
        "institution",
        "add",
        "registro-civil",
        "--name",
        "Servicio de Registro Civil",
    ]);
    assert!(out.success, "{}", out.stderr);
    // Without an authenticator app the operator is told why nothing was issued.
    let out = app.cli(&[
        "sign",
        "cert",
        "issue",
        "12.345.678-5",
        "--institution",
        "registro-civil",
        "--title",
        "Oficial Civil",
    ]);
    assert!(!out.success);
    assert!(out.stderr.contains("authenticator"), "{}", out.stderr);
    let out = app.cli(&["sign", "cert", "issue", "1-9"]);
    assert!(!out.success);
    assert!(out.stderr.contains("no citizen"), "{}", out.stderr);
    let out = app.cli(&["sign", "cert", "issue", "12.345.678-0"]);
    assert!(!out.success);
    assert!(out.stderr.contains("not a valid RUN"), "{}", out.stderr);
    if signatory.enrol().await.is_none() {
        return;
    }
    let app = &signatory.app;
    let out = app.cli(&[
        "--json",
        "sign",
        "cert",
        "issue",
        "12.345.678-5",
        "--institution",
        "registro-civil",
        "--title",
        "Oficial Civil",
    ]);
    assert!(out.success, "{}", out.stderr);
    let id = out.json()["credential_id"].as_str().unwrap().to_owned();
    let credential = app.app.signer.credential(&id).await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leaf.pem"),
        pem("CERTIFICATE", &credential.cert_der),
    )
    .unwrap();
    let (ok, text) = openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-subject",
            "-nameopt",
            "utf8,sep_comma_plus,-esc_msb",
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("O=Servicio de Registro Civil"), "{text}");
    assert!(text.contains("title=Oficial Civil"), "{text}");
    assert!(text.contains("serialNumber=12345678-5"), "{text}");
    // It comes from the institution's CA; a second valid one from the same CA is refused.
    assert_eq!(credential.ca_id, "registro-civil");
    let out = app.cli(&[
        "sign",
        "cert",
        "issue",
        "12.345.678-5",
        "--institution",
        "registro-civil",
        "--title",
        "Oficial Civil",
    ]);
    assert!(!out.success);
    assert!(
        out.stderr.contains("already has a valid certificate"),
        "{}",
        out.stderr
    );
    let out = app.cli(&["--json", "sign", "cert", "list", "--run", "12.345.678-5"]);
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.json()["credentials"][0]["id"], json!(id));
    assert_eq!(
        app.journal_of_kind("signature.certificate_issued")
            .await
            .len(),
        1
    );
}
