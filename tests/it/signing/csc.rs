//! The CSC API v2 as a signing client uses it: a SAD bound to exact hashes, signHash
//! signatures checked by OpenSSL, and every way a SAD or a code can be misused refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Signatory, openssl, pem, post_json};

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

fn sign_hash_body(credential: &str, sad: &str, hashes: &[&Vec<u8>]) -> Value {
    json!({
        "credentialID": credential,
        "SAD": sad,
        "hashes": hashes.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
        "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
        "signAlgo": ECDSA_SHA256,
    })
}

#[tokio::test]
async fn info_is_public_and_the_api_needs_a_signers_token() {
    let signatory = Signatory::new().await;
    let (status, info) = post_json(&signatory.app.at("/csc/v2/info"), None, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["authType"], json!(["oauth2code"]));
    assert!(
        info["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("signatures/signHash"))
    );
    let list = signatory.app.at("/csc/v2/credentials/list");
    let (status, body) = post_json(&list, None, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_token");
    let (status, body) = post_json(&list, Some("not-a-token"), json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The discovery document offers the scope.
    let (_, discovery) = {
        let r = reqwest::get(signatory.app.at("/.well-known/openid-configuration"))
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("sign"))
    );
    // A malformed body is a 400 that says what is wrong.
    let response = reqwest::Client::new()
        .post(signatory.app.at("/csc/v2/credentials/info"))
        .bearer_auth(&signatory.token)
        .header("content-type", "application/json")
        .body("{\"credentialID\": 7}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn a_sad_signs_exactly_its_hashes_once_and_openssl_verifies_the_signatures() {
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    let documents: Vec<Vec<u8>> = ["acta uno", "acta dos", "acta tres"]
        .iter()
        .map(|d| d.as_bytes().to_vec())
        .collect();
    let hashes: Vec<Vec<u8>> = documents
        .iter()
        .map(|d| Sha256::digest(d).to_vec())
        .collect();
    let sad = signatory.authorize(&credential, &hashes[..2]).await;

    // A hash the SAD is not bound to is refused, and spends nothing.
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body(&credential, &sad, &[&hashes[2]]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_sad");

    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body(&credential, &sad, &[&hashes[0]]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signature = STANDARD
        .decode(body["signatures"][0].as_str().unwrap())
        .unwrap();

    // OpenSSL checks the signature over the document with the certificate's key.
    let (_, info) = signatory
        .csc("credentials/info", json!({ "credentialID": credential }))
        .await;
    let leaf = STANDARD
        .decode(info["cert"]["certificates"][0].as_str().unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leaf.pem"), pem("CERTIFICATE", &leaf)).unwrap();
    std::fs::write(dir.path().join("doc"), &documents[0]).unwrap();
    std::fs::write(dir.path().join("other"), &documents[1]).unwrap();
    std::fs::write(dir.path().join("sig"), &signature).unwrap();
    let (ok, out) = openssl(
        dir.path(),
        &[
            "x509", "-in", "leaf.pem", "-pubkey", "-noout", "-out", "pub.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        dir.path(),
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig",
            "doc",
        ],
    );
    assert!(ok && out.contains("Verified OK"), "{out}");
    let (ok, out) = openssl(
        dir.path(),
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig",
            "other",
        ],
    );
    assert!(!ok, "{out}");

    // The same hash again: already signed.
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body(&credential, &sad, &[&hashes[0]]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_sad");
    // The second bound hash still works, then the count is spent.
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body(&credential, &sad, &[&hashes[1]]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body(&credential, &sad, &[&hashes[1]]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_sad");

    // A SAD made up, or one for a credential that is not the caller's.
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body(&credential, "made-up", &[&hashes[2]]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_sad");
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body("someone-else", &sad, &[&hashes[2]]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_description"], "Invalid parameter credentialID");

    // An expired SAD.
    let sad = signatory.authorize(&credential, &hashes[2..]).await;
    signatory.app.advance(time::Duration::seconds(301));
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            sign_hash_body(&credential, &sad, &[&hashes[2]]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    let activations = signatory.app.journal_of_kind("signature.activated").await;
    assert_eq!(activations.len(), 2);
    assert_eq!(
        activations[0].subject.as_deref(),
        Some(signatory.account.id.as_str())
    );
    assert_eq!(
        signatory
            .app
            .journal_of_kind("signature.created")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn activation_needs_a_fresh_valid_code_and_matching_hashes() {
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    let hash = STANDARD.encode(Sha256::digest(b"contrato"));
    let authorize = |otp: Value, num: Value, hashes: Value| {
        json!({
            "credentialID": credential,
            "numSignatures": num,
            "hashes": hashes,
            "authData": [{ "id": "otp", "value": otp }],
        })
    };
    let code = signatory.fresh_code();
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            authorize(json!(code), json!(1), json!([hash])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expiresIn"], 300);
    // The same code again is a replay.
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            authorize(json!(code), json!(1), json!([hash])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_otp");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{body}"
    );
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            authorize(json!("000000"), json!(1), json!([hash])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_otp");
    // No code at all.
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            json!({ "credentialID": credential, "numSignatures": 1, "hashes": [hash] }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_otp");
    // The count must match the hashes, and hashes must be SHA-256.
    for (num, hashes, fragment) in [
        (json!(2), json!([hash]), "numSignatures"),
        (json!(1), json!(["c2hvcnQ="]), "SHA-256"),
        (json!(0), json!([]), "hashes"),
        (json!(2), json!([hash, hash]), "repeated"),
    ] {
        let (status, body) = signatory
            .csc(
                "credentials/authorize",
                authorize(json!(signatory.fresh_code()), num, hashes),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(fragment),
            "{fragment}: {body}"
        );
    }
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            json!({
                "credentialID": credential, "numSignatures": 1, "hashes": [hash],
                "hashAlgorithmOID": "1.3.14.3.2.26",
                "authData": [{ "id": "otp", "value": signatory.fresh_code() }],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("SHA-256")
    );
}
