//! Signing PINs: once a signer sets one, `credentials/info` says so, an activation needs the
//! PIN as well as a fresh code (a missing or wrong PIN is refused and counted), the key
//! stored in the database no longer opens with the master key alone, the PIN can be
//! changed, and signatures made under it verify with OpenSSL.

use std::net::{IpAddr, Ipv4Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_signer::keys::SoftwareKey;
use clave_signer::pin::PinChange;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Signatory, openssl, pem};

const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PIN: &str = "482915";

fn authorize_body(credential: &str, hash: &[u8], code: &str, pin: Option<&str>) -> Value {
    let mut auth = vec![json!({ "id": "otp", "value": code })];
    if let Some(pin) = pin {
        auth.push(json!({ "id": "PIN", "value": pin }));
    }
    json!({
        "credentialID": credential,
        "numSignatures": 1,
        "hashes": [STANDARD.encode(hash)],
        "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
        "authData": auth,
    })
}

async fn sealed_key(signatory: &Signatory, credential: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT sealed_key, pin_salt FROM signer_credentials WHERE id = $1")
        .bind(credential)
        .fetch_one(signatory.app.app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signing_pin_is_needed_with_the_code_and_the_database_alone_cannot_sign() {
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    let (_, info) = signatory
        .csc("credentials/info", json!({ "credentialID": credential }))
        .await;
    assert_eq!(info["PIN"]["presence"], "false", "{info}");
    assert_eq!(info["auth"]["expression"], "OTP", "{info}");

    // Before a PIN, the stored key opens with the master key: the check below is meaningful.
    let app = &signatory.app.app;
    let owner = clave_signer::credentials::key_owner(&credential);
    let (before, salt) = sealed_key(&signatory, &credential).await;
    assert!(salt.is_none());
    SoftwareKey::open(&app.master, &owner, &before).unwrap();

    let account = signatory.account.clone();
    let change = |current: Option<&'static str>, new: Option<&'static str>| PinChange {
        account: &account,
        credential_id: &credential,
        current,
        new,
        addr: ADDR,
    };
    // A PIN must be 6 to 12 digits.
    let refused = app
        .signer
        .set_signing_pin(change(None, Some("12ab56")))
        .await;
    assert!(refused.is_err());
    app.signer
        .set_signing_pin(change(None, Some(PIN)))
        .await
        .unwrap();

    let (_, info) = signatory
        .csc("credentials/info", json!({ "credentialID": credential }))
        .await;
    assert_eq!(info["PIN"]["presence"], "true", "{info}");
    assert_eq!(info["PIN"]["format"], "N", "{info}");
    assert_eq!(info["authMode"], "explicit", "{info}");
    assert_eq!(info["auth"]["expression"], "PIN AND OTP", "{info}");

    // The database's copy no longer opens with the master key alone; with the PIN it does.
    let (after, salt) = sealed_key(&signatory, &credential).await;
    assert!(after.starts_with("pin:"), "{after}");
    assert!(SoftwareKey::open(&app.master, &owner, &after).is_err());
    let salt = salt.unwrap();
    let wrong = clave_signer::pin::derive(&app.config.passwords, "000000", &salt).unwrap();
    assert!(
        clave_signer::pin::unwrap(&wrong, &owner, &after)
            .unwrap()
            .is_none()
    );
    let right = clave_signer::pin::derive(&app.config.passwords, PIN, &salt).unwrap();
    let inner = clave_signer::pin::unwrap(&right, &owner, &after)
        .unwrap()
        .unwrap();
    SoftwareKey::open(&app.master, &owner, std::str::from_utf8(&inner).unwrap()).unwrap();

    // Without the PIN, or with a wrong one, there is no SAD; the wrong one is counted.
    let document = b"Declaracion jurada de domicilio".to_vec();
    let hash = Sha256::digest(&document).to_vec();
    let code = signatory.fresh_code();
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            authorize_body(&credential, &hash, &code, None),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_pin", "{body}");
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            authorize_body(&credential, &hash, &code, Some("111111")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_pin", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("wrong"),
        "{body}"
    );
    let failures = signatory.app.journal_of_kind("second_factor.failed").await;
    assert!(
        failures.iter().any(|e| e.data["method"] == "signing_pin"),
        "a wrong PIN counts toward the throttle"
    );
    // The code was not spent by the refused attempts: it still authorizes, with the PIN (as
    // the CSC v1 `PIN` field here).
    let mut body = authorize_body(&credential, &hash, &code, None);
    body["PIN"] = json!(PIN);
    let (status, body) = signatory.csc("credentials/authorize", body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sad = body["SAD"].as_str().unwrap().to_owned();
    let (status, body) = signatory
        .csc(
            "signatures/signHash",
            json!({
                "credentialID": credential,
                "SAD": sad,
                "hashes": [STANDARD.encode(&hash)],
                "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
                "signAlgo": "1.2.840.10045.4.3.2",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signature = STANDARD
        .decode(body["signatures"][0].as_str().unwrap())
        .unwrap();
    let (_, info) = signatory
        .csc("credentials/info", json!({ "credentialID": credential }))
        .await;
    let leaf = STANDARD
        .decode(info["cert"]["certificates"][0].as_str().unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("leaf.pem"), pem("CERTIFICATE", &leaf)).unwrap();
    std::fs::write(path.join("doc"), &document).unwrap();
    std::fs::write(path.join("sig"), &signature).unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "x509", "-in", "leaf.pem", "-pubkey", "-noout", "-out", "pub.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        path,
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
    // The activation row keeps no key that opens without the SAD.
    let (wrapped,): (Option<String>,) = sqlx::query_as(
        "SELECT wrapped_key FROM signer_activations WHERE credential_id = $1 \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(&credential)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    let wrapped = wrapped.unwrap();
    assert!(SoftwareKey::open(&app.master, &owner, &wrapped).is_err());

    // Changing the PIN needs the current one; afterwards only the new one activates.
    let refused = app
        .signer
        .set_signing_pin(change(Some("999999"), Some("135790")))
        .await;
    assert!(
        matches!(refused, Err(clave_signer::SignerError::Pin(_))),
        "{refused:?}"
    );
    app.signer
        .set_signing_pin(change(Some(PIN), Some("135790")))
        .await
        .unwrap();
    let (rewrapped, new_salt) = sealed_key(&signatory, &credential).await;
    assert_ne!(rewrapped, after);
    assert_ne!(new_salt.as_deref(), Some(salt.as_str()), "a new salt");
    let other = Sha256::digest(b"otro documento").to_vec();
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            authorize_body(&credential, &other, &signatory.fresh_code(), Some(PIN)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_pin");
    let (status, body) = signatory
        .csc(
            "credentials/authorize",
            authorize_body(&credential, &other, &signatory.fresh_code(), Some("135790")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Journaled, never with the PIN.
    for kind in ["signature.pin_set", "signature.pin_changed"] {
        let events = signatory.app.journal_of_kind(kind).await;
        assert_eq!(events.len(), 1, "{kind}");
        let text = events[0].data.to_string();
        assert!(!text.contains(PIN) && !text.contains("135790"), "{text}");
        assert_eq!(events[0].data["credential_id"], credential.as_str());
    }
}

#[tokio::test]
async fn the_portal_sets_the_pin_and_asks_for_it_when_signing() {
    use clave_signer::requests::{NewDocument, NewRequest, SignerRef};

    use crate::support::accounts::{get, log_in, post};
    use crate::support::rp::{PASSWORD, RUN, register, web_client};

    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let app = &signatory.app;
    let http = app.http();
    let done = log_in(&http, app, "", RUN, PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let page = get(&http, app, "/me/sign").await;
    assert!(page.body.contains("id=\"signing-pin\""), "{}", page.body);
    let csrf = page.field("csrf").unwrap();

    // A confirmation that differs is refused and points at the field.
    let refused = post(
        &http,
        app,
        "/me/sign/pin",
        &[
            ("csrf", csrf.as_str()),
            ("action", "save"),
            ("new_pin", PIN),
            ("confirm_pin", "482916"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.error_summary().unwrap().contains("#confirm_pin"),
        "{}",
        refused.body
    );
    let saved = post(
        &http,
        app,
        "/me/sign/pin",
        &[
            ("csrf", csrf.as_str()),
            ("action", "save"),
            ("new_pin", PIN),
            ("confirm_pin", PIN),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/me/sign?done=pin-saved"));
    let credentials = app
        .app
        .signer
        .credentials_of(&signatory.account.id)
        .await
        .unwrap();
    assert!(credentials[0].pin_protected);

    // A request to sign: its page asks for the PIN, and only the right one signs.
    let service = register(app, web_client("Servicio de Impuestos Internos")).await;
    let client = app
        .app
        .idp
        .clients()
        .get(&service.client_id)
        .await
        .unwrap()
        .unwrap();
    let request = app
        .app
        .signer
        .create_request(
            &client,
            NewRequest {
                signer: SignerRef::Run(RUN.into()),
                purpose: "Declaración de renta".into(),
                format: "cades".into(),
                level: Some("B-B".into()),
                documents: vec![NewDocument {
                    name: "renta.txt".into(),
                    media_type: Some("text/plain".into()),
                    content: STANDARD.encode(b"Formulario 22"),
                }],
                expires_in: None,
                callback_url: None,
                institution: None,
            },
        )
        .await
        .unwrap();
    let path = format!("/me/sign/{}", request.id);
    let page = get(&http, app, &path).await;
    assert!(page.body.contains("name=\"pin\""), "{}", page.body);
    let code = signatory.fresh_code();
    let wrong = post(
        &http,
        app,
        &path,
        &[
            ("csrf", csrf.as_str()),
            ("action", "sign"),
            ("otp", code.as_str()),
            ("pin", "111111"),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("El PIN de firma no es correcto."),
        "{}",
        wrong.body
    );
    let signed = post(
        &http,
        app,
        &path,
        &[
            ("csrf", csrf.as_str()),
            ("action", "sign"),
            ("otp", code.as_str()),
            ("pin", PIN),
        ],
    )
    .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let request = app.app.signer.request(&request.id).await.unwrap().unwrap();
    assert_eq!(request.status, "signed");

    // Removing the PIN needs the current one.
    let remove = |current: &'static str| {
        let csrf = csrf.clone();
        let http = http.clone();
        async move {
            post(
                &http,
                app,
                "/me/sign/pin",
                &[
                    ("csrf", csrf.as_str()),
                    ("action", "remove"),
                    ("current_pin", current),
                ],
            )
            .await
        }
    };
    assert_eq!(
        remove("000000").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let removed = remove(PIN).await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    let credentials = app
        .app
        .signer
        .credentials_of(&signatory.account.id)
        .await
        .unwrap();
    assert!(!credentials[0].pin_protected);
    assert_eq!(app.journal_of_kind("signature.pin_removed").await.len(), 1);
}
