//! B-T signatures with an external RFC 3161 time-stamp authority: here another deployment's
//! `/tsa`, reached over HTTP by URL and trusted through its configured certificate. The
//! stamp in the signature is shown to be the external authority's (its own deployment's
//! verifier accepts it, and refuses a stamp from the signer's own TSA), and an authority that
//! does not answer makes signing fail with 503 and a reason.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Signatory, pem};
use crate::support::TestApp;

const DOCUMENT: &[u8] = b"Acta de la sesion ordinaria del consejo regional";

/// Signs [`DOCUMENT`] as CAdES B-T through `signDoc`; the status and body.
async fn sign_b_t(signatory: &Signatory) -> (StatusCode, Value) {
    let credential = signatory.credential().await;
    let sad = signatory
        .authorize(&credential, &[Sha256::digest(DOCUMENT).to_vec()])
        .await;
    signatory
        .csc(
            "signatures/signDoc",
            json!({
                "credentialID": credential,
                "SAD": sad,
                "documents": [{
                    "document": STANDARD.encode(DOCUMENT),
                    "signature_format": "C",
                    "conformance_level": "Ades-B-T",
                }],
            }),
        )
        .await
}

fn signature(body: &Value) -> Vec<u8> {
    STANDARD
        .decode(body["SignatureObject"][0].as_str().unwrap())
        .unwrap()
}

fn stamp_warnings(report: &clave_signer::verify::Report) -> Vec<&String> {
    report
        .warnings
        .iter()
        .filter(|w| w.contains("time-stamp"))
        .collect()
}

#[tokio::test]
async fn a_b_t_signature_takes_its_time_stamp_from_the_configured_external_authority() {
    let authority = TestApp::new().await;
    let certificate = authority
        .app
        .signer
        .tsa_certificate()
        .await
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let certificate_path = dir.path().join("tsa.pem");
    std::fs::write(&certificate_path, pem("CERTIFICATE", &certificate)).unwrap();
    let url = authority.at("/tsa");
    let mut signatory = Signatory::with_config(move |c| {
        c.signing.tsa_url = url;
        c.signing.tsa_certificate = Some(certificate_path);
    })
    .await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let (status, body) = sign_b_t(&signatory).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let external = signature(&body);

    // The signer's deployment trusts the configured authority.
    let report = signatory
        .app
        .app
        .signer
        .verify_detached(DOCUMENT, &external)
        .await
        .unwrap();
    assert_eq!(report.format, "CAdES-B-T");
    assert!(report.valid, "{report:?}");
    assert!(report.warnings.is_empty(), "{report:?}");
    // The stamp is the authority's: its own deployment finds its own TSA's stamp (only the
    // signer's chain is foreign to it)...
    let there = authority
        .app
        .signer
        .verify_detached(DOCUMENT, &external)
        .await
        .unwrap();
    assert!(stamp_warnings(&there).is_empty(), "{there:?}");
    // ...while a stamp from a deployment's own TSA does not check there.
    let mut local = Signatory::new().await;
    local.enrol().await.unwrap();
    let (status, body) = sign_b_t(&local).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let there = authority
        .app
        .signer
        .verify_detached(DOCUMENT, &signature(&body))
        .await
        .unwrap();
    assert_eq!(stamp_warnings(&there).len(), 1, "{there:?}");
    assert!(!there.valid);
}

#[tokio::test]
async fn an_external_authority_that_does_not_answer_fails_the_signature_with_503() {
    // A port nobody listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/tsa", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let certificate_path = dir.path().join("tsa.pem");
    // Any certificate will do: the authority never answers.
    let other = TestApp::new().await;
    let certificate = other.app.signer.tsa_certificate().await.unwrap().unwrap();
    std::fs::write(&certificate_path, pem("CERTIFICATE", &certificate)).unwrap();
    let mut signatory = Signatory::with_config(move |c| {
        c.signing.tsa_url = url;
        c.signing.tsa_certificate = Some(certificate_path);
        c.signing.tsa_timeout_secs = 2;
    })
    .await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let (status, body) = sign_b_t(&signatory).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("time-stamp authority did not answer"),
        "{body}"
    );
}
