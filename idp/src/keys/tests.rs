//! Unit tests of the key service, with a fixed clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::JwsHeader;
use serde_json::Map;

use super::*;
use crate::oidc::testing::test_idp;

#[test]
fn thumbprints_follow_rfc_7638() {
    // The example key of RFC 7638 section 3.1.
    let jwk = Jwk::from_bytes(
        br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
    )
    .unwrap();
    assert_eq!(
        thumbprint(&jwk).unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[tokio::test]
async fn keys_are_made_once_and_sign_and_verify() {
    let (idp, _clock, _dir) = test_idp().await;
    let keys = idp.keys();
    assert_eq!(keys.create_missing().await.unwrap().len(), 2);
    assert!(keys.create_missing().await.unwrap().is_empty());
    let listed = keys.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|k| k.state == KeyState::Active));
    let mut claims = Map::new();
    claims.insert("sub".into(), json!("x"));
    for alg in SigningAlg::ALL {
        let token = keys.sign(alg, "JWT", &claims).await.unwrap();
        let verified = keys.verify(&token).await.unwrap();
        assert_eq!(verified.claims["sub"], "x");
        assert_eq!(verified.typ.as_deref(), Some("JWT"));
        let kid = listed.iter().find(|k| k.alg == alg).unwrap().kid.clone();
        assert_eq!(verified.kid, kid);
    }
    let jwks = keys.jwks().await.unwrap();
    let published = jwks["keys"].as_array().unwrap();
    assert_eq!(published.len(), 2);
    for jwk in published {
        assert_eq!(jwk["use"], "sig");
        assert!(
            jwk.get("d").is_none(),
            "no private parameter may be published"
        );
        assert!(jwk["kid"].is_string() && jwk["alg"].is_string());
    }
}

#[tokio::test]
async fn rotation_retires_then_removes() {
    let (idp, clock, _dir) = test_idp().await;
    let keys = idp.keys();
    keys.ensure_keys().await.unwrap();
    let mut claims = Map::new();
    claims.insert("n".into(), json!(1));
    // With an expiry far ahead, so this node remembers the checked signatures: remembering
    // must not outlive the key.
    claims.insert("exp".into(), json!(idp.ctx().clock.unix() + 86_400));
    let old_token = keys.sign(SigningAlg::ES256, "JWT", &claims).await.unwrap();
    let old_kid = keys.verify(&old_token).await.unwrap().kid;

    let created = keys.rotate().await.unwrap();
    assert_eq!(created.len(), 2);
    let new_token = keys.sign(SigningAlg::ES256, "JWT", &claims).await.unwrap();
    let new_kid = keys.verify(&new_token).await.unwrap().kid;
    assert_ne!(new_kid, old_kid);
    assert!(created.iter().any(|k| k.kid == new_kid));

    let listed = keys.list().await.unwrap();
    let old = listed.iter().find(|k| k.kid == old_kid).unwrap();
    assert_eq!(old.state, KeyState::Retired);
    let grace = idp.ctx().config.tokens.key_retire_grace_secs;
    assert_eq!(old.published_until, Some(old.retired_at.unwrap() + grace));
    assert_eq!(
        keys.jwks().await.unwrap()["keys"].as_array().unwrap().len(),
        4
    );
    // Still verifies during the grace period.
    assert!(keys.verify(&old_token).await.is_ok());

    clock.advance(time::Duration::seconds(grace));
    assert!(matches!(
        keys.verify(&old_token).await,
        Err(SignatureRejection::UnknownKey)
    ));
    assert!(keys.verify(&new_token).await.is_ok());
    let listed = keys.list().await.unwrap();
    assert_eq!(
        listed.iter().find(|k| k.kid == old_kid).unwrap().state,
        KeyState::Removed
    );
    assert_eq!(
        keys.jwks().await.unwrap()["keys"].as_array().unwrap().len(),
        2
    );

    // The next rotation erases the removed keys' private halves.
    keys.rotate().await.unwrap();
    let (private,): (String,) =
        sqlx::query_as("SELECT private_key FROM idp_signing_keys WHERE kid = $1")
            .bind(&old_kid)
            .fetch_one(idp.ctx().db.pool())
            .await
            .unwrap();
    assert!(private.is_empty());
    let rotated = idp
        .ctx()
        .journal
        .list(clave_common::journal::JournalFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "keys.rotated")
        .count();
    assert_eq!(rotated, 2);
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_refused() {
    let (idp, _clock, _dir) = test_idp().await;
    let keys = idp.keys();
    keys.ensure_keys().await.unwrap();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!("a"));
    claims.insert("exp".into(), json!(idp.ctx().clock.unix() + 600));
    let token = keys.sign(SigningAlg::ES256, "JWT", &claims).await.unwrap();
    // Checked once and remembered; tampering with any part still fails.
    assert_eq!(keys.verify(&token).await.unwrap().claims["sub"], "a");
    assert_eq!(keys.verify(&token).await.unwrap().claims["sub"], "a");
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"b"}"#);
    parts[1] = &forged;
    assert!(matches!(
        keys.verify(&parts.join(".")).await,
        Err(SignatureRejection::BadSignature)
    ));
    let mut signature = parts[2].to_owned().into_bytes();
    signature[3] = if signature[3] == b'A' { b'B' } else { b'A' };
    let bad_signature = format!(
        "{}.{}.{}",
        parts[0],
        token.split('.').nth(1).unwrap(),
        String::from_utf8(signature).unwrap()
    );
    assert!(matches!(
        keys.verify(&bad_signature).await,
        Err(SignatureRejection::BadSignature)
    ));
    // A key clave never published.
    let pair = josekit::jws::ES256.generate_key_pair().unwrap();
    let signer = josekit::jws::ES256
        .signer_from_der(pair.to_der_private_key())
        .unwrap();
    let mut header = JwsHeader::new();
    header.set_key_id("not-ours");
    let foreign = josekit::jws::serialize_compact(b"{}", &header, &signer).unwrap();
    assert!(matches!(
        keys.verify(&foreign).await,
        Err(SignatureRejection::UnknownKey)
    ));
    for junk in ["", "a.b", "a.b.c.d", "!!.x.y", "e30.e30.e30"] {
        assert!(keys.verify(junk).await.is_err(), "{junk}");
    }
}

#[tokio::test]
async fn a_key_made_by_another_node_verifies_at_once() {
    let (idp, _clock, _dir) = test_idp().await;
    idp.keys().ensure_keys().await.unwrap();
    // A second handle on the same database, like a second node, with its own cache.
    let other = Idp::new(crate::oidc::testing::ctx_like(idp.ctx()));
    let mut claims = Map::new();
    claims.insert("sub".into(), json!("a"));
    // Warm this node's cache, then rotate on the other node.
    idp.keys()
        .sign(SigningAlg::ES256, "JWT", &claims)
        .await
        .unwrap();
    other.keys().rotate().await.unwrap();
    let token = other
        .keys()
        .sign(SigningAlg::ES256, "JWT", &claims)
        .await
        .unwrap();
    assert!(idp.keys().verify(&token).await.is_ok());
    // The pairwise secret is shared too.
    assert_eq!(
        idp.keys().pairwise_subject("s", "a").await.unwrap(),
        other.keys().pairwise_subject("s", "a").await.unwrap()
    );
}
