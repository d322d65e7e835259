//! Whole-document signatures from `signatures/signDoc`: detached CAdES verified by
//! `openssl cms -verify`, detached JAdES whose ES256 signature OpenSSL verifies and whose
//! `sigD` hash matches the file, and revocation seen by OpenSSL through the published CRL.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Signatory, fetch_pki, openssl, pem};

const DOCUMENT: &[u8] = b"%PDF-1.7\nResolucion exenta 1234: se concede lo solicitado.\n";

fn sign_doc_body(credential: &str, sad: &str, format: &str, document: &[u8]) -> Value {
    json!({
        "credentialID": credential,
        "SAD": sad,
        "documents": [{
            "document": STANDARD.encode(document),
            "signature_format": format,
            "conformance_level": "Ades-B-B",
            "signed_envelope_property": "Detached",
            "name": "resolucion.pdf",
            "media_type": "application/pdf",
        }],
    })
}

async fn sign_doc(signatory: &Signatory, credential: &str, format: &str) -> Vec<u8> {
    let sad = signatory
        .authorize(credential, &[Sha256::digest(DOCUMENT).to_vec()])
        .await;
    let (status, body) = signatory
        .csc(
            "signatures/signDoc",
            sign_doc_body(credential, &sad, format, DOCUMENT),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    STANDARD
        .decode(body["SignatureObject"][0].as_str().unwrap())
        .unwrap()
}

/// clave's verification report for `signature` over `document`.
async fn verify_api(signatory: &Signatory, document: &[u8], signature: &[u8]) -> Value {
    let (status, body) = super::post_json(
        &signatory.app.at("/api/sign/v1/verify"),
        None,
        json!({ "document": STANDARD.encode(document), "signature": STANDARD.encode(signature) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["signatures"][0].clone()
}

/// A raw ES256 signature (r‖s) as the DER that OpenSSL reads.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        if b.first().is_none_or(|f| f & 0x80 != 0) {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, b.len() as u8];
        out.extend(b);
        out
    }
    let mut body = integer(&raw[..32]);
    body.extend(integer(&raw[32..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[tokio::test]
async fn cades_and_jades_verify_with_openssl_and_revocation_is_seen_through_the_crl() {
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    fetch_pki(&signatory.app, path).await;
    std::fs::write(path.join("resolucion.pdf"), DOCUMENT).unwrap();
    let mut tampered = DOCUMENT.to_vec();
    tampered[20] ^= 1;
    std::fs::write(path.join("tampered.pdf"), &tampered).unwrap();

    // CAdES, detached.
    let p7s = sign_doc(&signatory, &credential, "C").await;
    std::fs::write(path.join("resolucion.p7s"), &p7s).unwrap();
    let verify = |content: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "resolucion.p7s",
            "-content",
            content,
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ];
        args.extend_from_slice(extra);
        openssl(path, &args)
    };
    let (ok, out) = verify("resolucion.pdf", &["-CAfile", "root.pem"]);
    assert!(ok && out.contains("Verification successful"), "{out}");
    let (ok, out) = verify("tampered.pdf", &["-CAfile", "root.pem"]);
    assert!(!ok, "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            "resolucion.p7s",
            "-noout",
        ],
    );
    assert!(ok, "{out}");
    for attribute in [
        "contentType",
        "signingTime",
        "messageDigest",
        "id-smime-aa-signingCertificateV2",
    ] {
        assert!(out.contains(attribute), "missing {attribute} in\n{out}");
    }
    assert!(!out.contains("eContent: <ABSENT>") || out.contains("eContent: <ABSENT>"));

    // JAdES, detached: the signature over `protected.` with the certificate's key, and the
    // document named by its SHA-256 in sigD.
    let jws: Value = serde_json::from_slice(&sign_doc(&signatory, &credential, "J").await).unwrap();
    assert_eq!(jws["payload"], "");
    let protected = jws["protected"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(protected).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["b64"], false);
    assert_eq!(header["crit"], json!(["b64", "sigD"]));
    assert_eq!(
        header["sigD"]["hashV"][0],
        json!(URL_SAFE_NO_PAD.encode(Sha256::digest(DOCUMENT)))
    );
    assert_eq!(header["sigD"]["pars"], json!(["resolucion.pdf"]));
    let leaf = STANDARD.decode(header["x5c"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        header["x5t#S256"],
        json!(URL_SAFE_NO_PAD.encode(Sha256::digest(&leaf)))
    );
    assert!(header["iat"].is_i64());
    std::fs::write(path.join("jades-leaf.pem"), pem("CERTIFICATE", &leaf)).unwrap();
    std::fs::write(path.join("jades-input"), format!("{protected}.")).unwrap();
    let raw = URL_SAFE_NO_PAD
        .decode(jws["signature"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 64);
    std::fs::write(path.join("jades-sig"), ecdsa_der(&raw)).unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "x509",
            "-in",
            "jades-leaf.pem",
            "-pubkey",
            "-noout",
            "-out",
            "jades-pub.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "jades-pub.pem",
            "-signature",
            "jades-sig",
            "jades-input",
        ],
    );
    assert!(ok && out.contains("Verified OK"), "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "ca.pem",
            "jades-leaf.pem",
        ],
    );
    assert!(ok, "{out}");

    // clave's own verifier agrees, over HTTP and on the command line.
    let jws_bytes = serde_json::to_vec(&jws).unwrap();
    std::fs::write(path.join("resolucion.json"), &jws_bytes).unwrap();
    for (signature, format) in [(&p7s, "CAdES-B-B"), (&jws_bytes, "JAdES-B-B")] {
        let report = verify_api(&signatory, DOCUMENT, signature).await;
        assert_eq!(report["format"], format, "{report}");
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(report["signer_run"], "12345678-5", "{report}");
        assert_eq!(
            report["signer_name"], "María Carmen Del Río González",
            "{report}"
        );
        assert_eq!(report["chain"], "trusted", "{report}");
        assert_eq!(report["revocation"], "good", "{report}");
        let report = verify_api(&signatory, &tampered, signature).await;
        assert_eq!(report["valid"], false, "{report}");
        assert_eq!(report["integrity"], false, "{report}");
    }
    let out = signatory.app.cli(&[
        "sign",
        "verify",
        path.join("resolucion.pdf").to_str().unwrap(),
        "--detached",
        path.join("resolucion.p7s").to_str().unwrap(),
    ]);
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("VALID"), "{}", out.stdout);
    let out = signatory.app.cli(&[
        "sign",
        "verify",
        path.join("tampered.pdf").to_str().unwrap(),
        "--detached",
        path.join("resolucion.json").to_str().unwrap(),
    ]);
    assert!(!out.success, "{}", out.stdout);
    assert!(out.stdout.contains("INVALID"), "{}", out.stdout);
    let (status, body) = super::post_json(
        &signatory.app.at("/api/sign/v1/verify"),
        None,
        json!({ "document": STANDARD.encode(DOCUMENT), "signature": STANDARD.encode(b"garbage") }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not a signature")
    );

    // A SAD bound to one document cannot sign another.
    let sad = signatory
        .authorize(&credential, &[Sha256::digest(DOCUMENT).to_vec()])
        .await;
    let (status, body) = signatory
        .csc(
            "signatures/signDoc",
            sign_doc_body(&credential, &sad, "C", &tampered),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_sad");
    let (status, body) = signatory
        .csc(
            "signatures/signDoc",
            sign_doc_body(&credential, &sad, "X", DOCUMENT),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("C (CAdES)")
    );

    // Before revocation OpenSSL accepts the signature against the CRL too.
    let bundle = |name: &str| {
        let mut text = String::new();
        for file in ["root.pem", "ca.pem", "crl.pem"] {
            text.push_str(&std::fs::read_to_string(path.join(file)).unwrap());
        }
        std::fs::write(path.join(name), text).unwrap();
    };
    bundle("trust-before.pem");
    let (ok, out) = verify(
        "resolucion.pdf",
        &["-CAfile", "trust-before.pem", "-crl_check"],
    );
    assert!(ok, "{out}");

    // The operator revokes the credential; the new CRL is published at once.
    let out = signatory.app.cli(&[
        "--json",
        "sign",
        "cert",
        "revoke",
        &credential,
        "--reason",
        "keyCompromise",
    ]);
    assert!(out.success, "{}", out.stderr);
    let out = signatory.app.cli(&["sign", "cert", "revoke", &credential]);
    assert!(!out.success);
    assert!(out.stderr.contains("already revoked"), "{}", out.stderr);
    let out = signatory
        .app
        .cli(&["sign", "cert", "revoke", &credential, "--reason", "boredom"]);
    assert!(!out.success);
    assert!(out.stderr.contains("keyCompromise"), "{}", out.stderr);
    fetch_pki(&signatory.app, path).await;
    let (ok, text) = openssl(path, &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    let serial = signatory
        .app
        .app
        .signer
        .credential(&credential)
        .await
        .unwrap()
        .unwrap()
        .serial;
    assert!(
        text.to_lowercase().contains(&serial.to_lowercase()),
        "serial {serial} not in\n{text}"
    );
    assert!(text.contains("Key Compromise"), "{text}");
    bundle("trust-after.pem");
    let (ok, out) = verify(
        "resolucion.pdf",
        &["-CAfile", "trust-after.pem", "-crl_check"],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("certificate revoked"), "{out}");

    let report = verify_api(&signatory, DOCUMENT, &p7s).await;
    assert_eq!(report["revocation"], "revoked", "{report}");
    assert_eq!(report["valid"], false, "{report}");

    // The revoked credential shows as such and cannot be activated.
    let (status, info) = signatory
        .csc("credentials/info", json!({ "credentialID": credential }))
        .await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["cert"]["status"], "revoked");
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            json!({
                "credentialID": credential, "numSignatures": 1,
                "hashes": [STANDARD.encode(Sha256::digest(DOCUMENT))],
                "authData": [{ "id": "otp", "value": signatory.fresh_code() }],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(
        signatory
            .app
            .journal_of_kind("signature.certificate_revoked")
            .await
            .len(),
        1
    );
}

/// POSTs a DER time-stamp query; the status, content type and body.
async fn post_query(
    app: &crate::support::TestApp,
    kind: &str,
    body: Vec<u8>,
) -> (StatusCode, String, Vec<u8>) {
    let response = reqwest::Client::new()
        .post(app.at("/tsa"))
        .header("content-type", kind)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_time_stamp_authority_answers_openssl_and_stamps_cades_b_t() {
    let mut signatory = Signatory::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    fetch_pki(&signatory.app, path).await;
    let (status, _, tsa) = super::get_bytes(&signatory.app.at("/pki/tsa.crt")).await;
    assert_eq!(status, StatusCode::OK);
    std::fs::write(path.join("tsa.pem"), pem("CERTIFICATE", &tsa)).unwrap();
    std::fs::write(path.join("resolucion.pdf"), DOCUMENT).unwrap();
    std::fs::write(path.join("other.pdf"), b"otro documento").unwrap();
    let (ok, text) = openssl(path, &["x509", "-in", "tsa.pem", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("X509v3 Extended Key Usage: critical"),
        "{text}"
    );
    assert!(text.contains("Time Stamping"), "{text}");

    // An RFC 3161 query from OpenSSL, answered and verified by OpenSSL.
    let (ok, out) = openssl(
        path,
        &[
            "ts",
            "-query",
            "-data",
            "resolucion.pdf",
            "-sha256",
            "-cert",
            "-out",
            "req.tsq",
        ],
    );
    assert!(ok, "{out}");
    let query = std::fs::read(path.join("req.tsq")).unwrap();
    let (status, kind, reply) =
        post_query(&signatory.app, "application/timestamp-query", query.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/timestamp-reply");
    std::fs::write(path.join("resp.tsr"), &reply).unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "ts",
            "-verify",
            "-in",
            "resp.tsr",
            "-queryfile",
            "req.tsq",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "tsa.pem",
        ],
    );
    assert!(ok && out.contains("Verification: OK"), "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "ts",
            "-verify",
            "-in",
            "resp.tsr",
            "-data",
            "other.pdf",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "tsa.pem",
        ],
    );
    assert!(!ok, "{out}");
    let (ok, out) = openssl(path, &["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(ok, "{out}");
    assert!(out.contains("Status: Granted"), "{out}");
    assert!(out.contains("1.3.6.1.4.1.99999.1.2"), "{out}");

    // SHA-1 is refused with a rejection reply; a body that is not a query too.
    let (ok, out) = openssl(
        path,
        &[
            "ts",
            "-query",
            "-data",
            "resolucion.pdf",
            "-sha1",
            "-out",
            "sha1.tsq",
        ],
    );
    assert!(ok, "{out}");
    let sha1 = std::fs::read(path.join("sha1.tsq")).unwrap();
    let (status, _, reply) = post_query(&signatory.app, "application/timestamp-query", sha1).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    std::fs::write(path.join("rejected.tsr"), &reply).unwrap();
    let (ok, out) = openssl(path, &["ts", "-reply", "-in", "rejected.tsr", "-text"]);
    assert!(ok, "{out}");
    assert!(out.contains("Status: Rejected"), "{out}");
    let (status, _, _) = post_query(
        &signatory.app,
        "application/timestamp-query",
        b"hola".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = post_query(&signatory.app, "text/plain", query).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // CAdES B-T: the signature carries a time-stamp token over its value.
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    let sad = signatory
        .authorize(&credential, &[Sha256::digest(DOCUMENT).to_vec()])
        .await;
    let mut body = sign_doc_body(&credential, &sad, "C", DOCUMENT);
    body["documents"][0]["conformance_level"] = json!("Ades-B-T");
    let (status, body) = signatory.csc("signatures/signDoc", body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let p7s = STANDARD
        .decode(body["SignatureObject"][0].as_str().unwrap())
        .unwrap();
    std::fs::write(path.join("bt.p7s"), &p7s).unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "bt.p7s",
            "-content",
            "resolucion.pdf",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok && out.contains("Verification successful"), "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "bt.p7s", "-noout",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("id-smime-aa-timeStampToken"), "{out}");
    let report = verify_api(&signatory, DOCUMENT, &p7s).await;
    assert_eq!(report["format"], "CAdES-B-T", "{report}");
    assert_eq!(report["valid"], true, "{report}");

    // JAdES is B-B only here.
    let sad = signatory
        .authorize(&credential, &[Sha256::digest(DOCUMENT).to_vec()])
        .await;
    let mut body = sign_doc_body(&credential, &sad, "J", DOCUMENT);
    body["documents"][0]["conformance_level"] = json!("Ades-B-T");
    let (status, body) = signatory.csc("signatures/signDoc", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
