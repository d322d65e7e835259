//! Unit tests of minting and validation, with a fixed clock.

use super::*;
use crate::clients::NewClient;
use crate::oidc::testing::{START, test_idp};

async fn setup() -> (
    Idp,
    std::sync::Arc<clave_common::clock::FixedClock>,
    tempfile::TempDir,
    Client,
) {
    let (idp, clock, dir) = test_idp().await;
    idp.keys().ensure_keys().await.unwrap();
    let client = idp
        .clients()
        .register(NewClient {
            name: "Municipalidad".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        })
        .await
        .unwrap()
        .client;
    (idp, clock, dir, client)
}

/// An account, a session and a grant for it, as the browser flow would make them.
async fn citizen_grant(idp: &Idp, client_id: &str) -> (String, String, String) {
    let pool = idp.ctx().db.pool();
    let account = new_id();
    sqlx::query(
        "INSERT INTO idp_accounts (id, run, given_names, family_names, created_at, updated_at) \
         VALUES ($1, $2, 'María', 'Del Río', $3, $3)",
    )
    .bind(&account)
    .bind(format!("{}-5", &account[..6]))
    .bind(START)
    .execute(pool)
    .await
    .unwrap();
    let session = new_id();
    sqlx::query(
        "INSERT INTO idp_sessions (id, account_id, token_digest, created_at, auth_time, acr, amr, expires_at) \
         VALUES ($1, $2, $3, $4, $4, 'urn:clave:loa:1', '[\"pwd\"]', $5)",
    )
    .bind(&session)
    .bind(&account)
    .bind(new_id())
    .bind(START)
    .bind(START + 3600)
    .execute(pool)
    .await
    .unwrap();
    let grant = new_id();
    sqlx::query(
        "INSERT INTO idp_grants (id, client_id, account_id, session_id, scope, acr, amr, auth_time, created_at) \
         VALUES ($1, $2, $3, $4, 'openid profile', 'urn:clave:loa:1', '[\"pwd\"]', $5, $5)",
    )
    .bind(&grant)
    .bind(client_id)
    .bind(&account)
    .bind(&session)
    .bind(START)
    .execute(pool)
    .await
    .unwrap();
    (account, session, grant)
}

fn user_spec(client: &Client, account: &str, session: &str, grant: &str) -> AccessTokenSpec {
    AccessTokenSpec {
        client_id: client.client_id.clone(),
        subject: client.subject_for_account(account),
        account_id: Some(account.to_owned()),
        scope: "openid profile".into(),
        grant_id: Some(grant.to_owned()),
        session_id: Some(session.to_owned()),
        acr: Some("urn:clave:loa:1".into()),
        amr: Some(vec!["pwd".into()]),
        auth_time: Some(START),
    }
}

fn payload(token: &str) -> Map<String, Value> {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(token: &str) -> Map<String, Value> {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn access_tokens_follow_rfc_9068_and_validate() {
    let (idp, _clock, _dir, client) = setup().await;
    let (account, session, grant) = citizen_grant(&idp, &client.client_id).await;
    let issued = idp
        .tokens()
        .issue_access_token(user_spec(&client, &account, &session, &grant))
        .await
        .unwrap();
    assert_eq!(header(&issued.token)["typ"], "at+jwt");
    assert_eq!(header(&issued.token)["alg"], "ES256");
    let body = payload(&issued.token);
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
        "acr",
        "auth_time",
    ] {
        assert!(body.contains_key(claim), "{claim}");
    }
    // The grant names the session; a shared session id would link pairwise subjects.
    assert!(!body.contains_key("sid"));
    assert_eq!(body["aud"], json!(client.client_id));
    assert_eq!(body["exp"], json!(START + 300));
    // The account id stays out of the token.
    assert!(!issued.token.contains(&account) && !body.values().any(|v| v == &json!(account)));

    let claims = idp
        .tokens()
        .validate_access_token(&issued.token)
        .await
        .unwrap();
    assert_eq!(claims.account_id.as_deref(), Some(account.as_str()));
    assert_eq!(claims.client_id, client.client_id);
    assert_eq!(claims.scopes(), ["openid", "profile"]);
    assert_eq!(claims.jti, issued.jti);
}

#[tokio::test]
async fn validation_refuses_every_stale_or_foreign_token() {
    let (idp, clock, _dir, client) = setup().await;
    let tokens = idp.tokens();
    let (account, session, grant) = citizen_grant(&idp, &client.client_id).await;
    let spec = || user_spec(&client, &account, &session, &grant);
    let refused = |result: Result<AccessTokenClaims, OAuthError>, why: &str| {
        let err = result.unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_token");
        assert!(err.description.contains(why), "{why}: {}", err.description);
    };

    // An ID token is not an access token.
    let id_token = tokens
        .issue_id_token(IdTokenSpec {
            client: &client,
            subject: "s".into(),
            nonce: None,
            acr: "urn:clave:loa:1".into(),
            amr: vec!["pwd".into()],
            auth_time: START,
            session_id: None,
            access_token: None,
            extra_claims: Map::new(),
        })
        .await
        .unwrap();
    refused(
        tokens.validate_access_token(&id_token).await,
        "not an access token",
    );

    // Tampered.
    let good = tokens.issue_access_token(spec()).await.unwrap().token;
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut forged = payload(&good);
    forged.insert("scope".into(), json!("openid run"));
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    refused(
        tokens.validate_access_token(&parts.join(".")).await,
        "signature",
    );
    refused(tokens.validate_access_token("garbage").await, "malformed");

    // Revoked jti.
    let revoked = tokens.issue_access_token(spec()).await.unwrap().token;
    let claims = tokens.validate_access_token(&revoked).await.unwrap();
    tokens.revoke_access_token(&claims, "test").await.unwrap();
    tokens.revoke_access_token(&claims, "test").await.unwrap();
    refused(tokens.validate_access_token(&revoked).await, "revoked");
    assert!(tokens.validate_access_token(&good).await.is_ok());

    // Expired.
    clock.advance(time::Duration::seconds(300));
    refused(tokens.validate_access_token(&good).await, "expired");
    clock.advance(time::Duration::seconds(-300));

    // Ended session.
    sqlx::query("UPDATE idp_sessions SET ended_at = $1 WHERE id = $2")
        .bind(START)
        .bind(&session)
        .execute(idp.ctx().db.pool())
        .await
        .unwrap();
    refused(
        tokens.validate_access_token(&good).await,
        "session has ended",
    );
    sqlx::query("UPDATE idp_sessions SET ended_at = NULL WHERE id = $1")
        .bind(&session)
        .execute(idp.ctx().db.pool())
        .await
        .unwrap();
    assert!(tokens.validate_access_token(&good).await.is_ok());

    // Revoked grant.
    let mut tx = idp.ctx().db.begin().await.unwrap();
    assert!(tokens.revoke_grant(&mut tx, &grant, "test").await.unwrap());
    assert!(!tokens.revoke_grant(&mut tx, &grant, "test").await.unwrap());
    tx.commit().await.unwrap();
    refused(
        tokens.validate_access_token(&good).await,
        "grant has been revoked",
    );

    // Removed client.
    let service = tokens
        .issue_access_token(AccessTokenSpec {
            client_id: client.client_id.clone(),
            subject: client.client_id.clone(),
            scope: String::new(),
            ..AccessTokenSpec::default()
        })
        .await
        .unwrap()
        .token;
    assert!(tokens.validate_access_token(&service).await.is_ok());
    idp.clients().remove(&client.client_id).await.unwrap();
    refused(
        tokens.validate_access_token(&service).await,
        "no longer registered",
    );

    let kinds: Vec<String> = idp
        .ctx()
        .journal
        .list(clave_common::journal::JournalFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "token.revoked").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "grant.revoked").count(), 1);
}

#[tokio::test]
async fn a_citizen_token_needs_a_grant() {
    let (idp, _clock, _dir, client) = setup().await;
    let err = idp
        .tokens()
        .issue_access_token(AccessTokenSpec {
            client_id: client.client_id.clone(),
            subject: "x".into(),
            account_id: Some("a".into()),
            ..AccessTokenSpec::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code.as_str(), "server_error");
}

#[tokio::test]
async fn id_tokens_carry_the_protocol_claims_in_the_client_algorithm() {
    let (idp, clock, _dir, _client) = setup().await;
    let rs_client = idp
        .clients()
        .register(NewClient {
            name: "Legacy".into(),
            redirect_uris: vec!["https://legacy.example/cb".into()],
            id_token_alg: Some(SigningAlg::RS256),
            ..NewClient::default()
        })
        .await
        .unwrap()
        .client;
    let mut extra = Map::new();
    extra.insert("iss".into(), json!("https://evil.example"));
    extra.insert("locale".into(), json!("es"));
    let token = idp
        .tokens()
        .issue_id_token(IdTokenSpec {
            client: &rs_client,
            subject: "pairwise-sub".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            acr: "urn:clave:loa:1".into(),
            amr: vec!["pwd".into()],
            auth_time: START - 10,
            session_id: Some("sid-1".into()),
            access_token: Some("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            extra_claims: extra,
        })
        .await
        .unwrap();
    assert_eq!(header(&token)["alg"], "RS256");
    let body = payload(&token);
    assert_eq!(body["iss"], "https://id.example");
    assert_eq!(body["aud"], json!(rs_client.client_id));
    assert_eq!(body["nonce"], "n-0S6_WzA2Mj");
    // The client's own `sid` for the session, not the session id itself.
    assert_eq!(body["sid"], json!(rs_client.sid_for("sid-1")));
    assert_ne!(body["sid"], "sid-1");
    assert_eq!(body["amr"], json!(["pwd"]));
    assert_eq!(body["auth_time"], json!(START - 10));
    assert_eq!(body["exp"], json!(START + 300));
    assert_eq!(body["locale"], "es");
    // The example of OIDC Core A.3: at_hash of this access token.
    assert_eq!(
        body["at_hash"],
        json!(left_half_hash(
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        ))
    );
    assert_eq!(
        left_half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );

    // As a logout hint it stays usable after it expires.
    clock.advance(time::Duration::hours(2));
    let hint = idp.tokens().validate_id_token_hint(&token).await.unwrap();
    assert_eq!(hint.client_id, rs_client.client_id);
    assert_eq!(hint.sub, "pairwise-sub");
    assert_eq!(hint.session_id, Some(rs_client.sid_for("sid-1")));
    let access = idp
        .tokens()
        .issue_access_token(AccessTokenSpec {
            client_id: rs_client.client_id.clone(),
            subject: rs_client.client_id.clone(),
            ..AccessTokenSpec::default()
        })
        .await
        .unwrap();
    assert!(
        idp.tokens()
            .validate_id_token_hint(&access.token)
            .await
            .is_err()
    );
}
