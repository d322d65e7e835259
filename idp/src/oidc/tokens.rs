//! Minting and validating tokens.
//!
//! Access tokens are JWTs in the RFC 9068 profile (`typ: at+jwt`), signed ES256, carrying
//! `iss, sub, aud, exp, iat, jti, client_id, scope` and, when a citizen is behind them, `sid`,
//! `acr`, `amr`, `auth_time` and the id of the grant they were issued under. They are
//! self-contained, so issuing one writes nothing; they are refused before they expire when
//! their `jti` is on the revoked list, their grant is revoked, their session has ended or
//! their client was removed. The account id never appears in a token: it is read from the
//! grant when a token is validated, so a pairwise `sub` stays unlinkable.
//!
//! ID tokens carry the protocol claims (`iss, sub, aud, exp, iat, auth_time, nonce, acr, amr,
//! at_hash, sid`) and are signed with the algorithm the client registered.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::error::{OAuthError, no_store};
use crate::accounts::Account;
use crate::clients::Client;
use crate::keys::{KeyError, SignatureRejection, SigningAlg};
use crate::{Ctx, Idp};

/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The `typ` header of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";
/// Seconds of clock difference tolerated on `iat`.
const LEEWAY_SECS: i64 = 30;

/// A successful token endpoint response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A refresh token, when the grant gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An ID token, when the scope holds `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The granted scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// What the citizen granted through `authorization_details` (RFC 9396 §7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Value>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, axum::Json(self)).into_response();
        no_store(response.headers_mut());
        response
    }
}

/// What an access token is issued for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessTokenSpec {
    /// The client it is issued to (also its audience).
    pub client_id: String,
    /// Its `sub`: the citizen's subject as this client knows it, or the client id for
    /// `client_credentials`.
    pub subject: String,
    /// The citizen's account, when there is one; then `grant_id` must be set too, since the
    /// account is found again through the grant and never written into the token.
    pub account_id: Option<String>,
    /// The granted scope, space separated.
    pub scope: String,
    /// The grant it hangs from.
    pub grant_id: Option<String>,
    /// The browser session behind it.
    pub session_id: Option<String>,
    /// The level of assurance of the citizen's authentication.
    pub acr: Option<String>,
    /// The authentication methods.
    pub amr: Option<Vec<String>>,
    /// When the citizen authenticated.
    pub auth_time: Option<i64>,
}

/// A freshly minted access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// Seconds it lives.
    pub expires_in: i64,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// Its id.
    pub jti: String,
}

/// What an ID token is issued for.
#[derive(Debug, Clone)]
pub struct IdTokenSpec<'a> {
    /// The client (its id is the audience; its registration chooses the algorithm).
    pub client: &'a Client,
    /// The citizen's subject as this client knows it.
    pub subject: String,
    /// The `nonce` of the authorization request.
    pub nonce: Option<String>,
    /// The level of assurance reached.
    pub acr: String,
    /// The authentication methods.
    pub amr: Vec<String>,
    /// When the citizen authenticated.
    pub auth_time: i64,
    /// The session (`sid`).
    pub session_id: Option<String>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// More claims; they never replace the protocol claims.
    pub extra_claims: Map<String, Value>,
}

/// The claims of a valid access token, and the account behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The subject.
    pub sub: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The granted scope, space separated.
    pub scope: String,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Token id.
    pub jti: String,
    /// The grant it hangs from.
    pub grant_id: Option<String>,
    /// The browser session behind the grant (from the database, not the token).
    pub session_id: Option<String>,
    /// Level of assurance.
    pub acr: Option<String>,
    /// Authentication methods.
    pub amr: Option<Vec<String>>,
    /// When the citizen authenticated.
    pub auth_time: Option<i64>,
    /// The citizen's account, read from the grant (never from the token).
    #[serde(skip)]
    pub account_id: Option<String>,
    /// The consent the grant releases data under, read from the grant.
    #[serde(skip)]
    pub consent_ref: Option<String>,
}

impl AccessTokenClaims {
    /// The granted scopes.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope.split(' ').filter(|s| !s.is_empty()).collect()
    }
}

/// The claims of a signed ID token offered as a hint (logout), checked for signature and
/// issuer but not for expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    /// The subject.
    pub sub: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The `sid` the token names: the session as its client knows it.
    pub session_id: Option<String>,
    /// When it was issued.
    pub iat: i64,
    /// When it expired or expires.
    pub exp: i64,
}

impl Idp {
    /// Minting and validating tokens.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { idp: self }
    }
}

/// The token service; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    idp: &'a Idp,
}

fn key_failure(err: KeyError) -> OAuthError {
    match err {
        KeyError::Db(e) => OAuthError::from(e),
        other => OAuthError::server_error(other),
    }
}

fn signature_failure(err: SignatureRejection) -> OAuthError {
    match err {
        SignatureRejection::Keys(e) => key_failure(e),
        other => OAuthError::invalid_token(other.to_string()),
    }
}

/// The left half of the SHA-256 of a token, base64url: `at_hash` for ES256 and RS256.
pub fn left_half_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn audience_contains(claims: &Map<String, Value>, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

/// What the database says about an access token: whether its `jti` was revoked, and the
/// state of its client, grant and session (the grant columns are empty for a token without
/// one, or whose grant is gone).
#[derive(sqlx::FromRow)]
struct TokenState {
    revoked_jtis: i64,
    client_removed_at: Option<i64>,
    grant_id: Option<String>,
    grant_client_id: Option<String>,
    account_id: Option<String>,
    session_id: Option<String>,
    consent_ref: Option<String>,
    grant_revoked_at: Option<i64>,
    session_found: Option<String>,
    session_ended_at: Option<i64>,
}

/// The columns of [`TokenState`], over the client `c` and [`TOKEN_JOINS`]; `$1` is the
/// token's `jti`.
const TOKEN_STATE: &str = "(SELECT COUNT(*) FROM idp_revoked_tokens WHERE jti = $1) AS revoked_jtis, \
     c.removed_at AS client_removed_at, g.id AS grant_id, g.client_id AS grant_client_id, \
     g.account_id, g.session_id, g.consent_ref, g.revoked_at AS grant_revoked_at, \
     s.id AS session_found, s.ended_at AS session_ended_at";

/// The token's grant (`$2`) and its session, joined to the client `c`.
const TOKEN_JOINS: &str =
    "LEFT JOIN idp_grants g ON g.id = $2 LEFT JOIN idp_sessions s ON s.id = g.session_id";

/// How the holder's account columns are named in [`Tokens::validate_with_holder`]'s row.
const HOLDER_PREFIX: &str = "holder_";

fn client_gone() -> OAuthError {
    OAuthError::invalid_token("the access token's client is no longer registered")
}

/// Refuses `claims` unless the database's `row` ([`TOKEN_STATE`]) shows its `jti`, grant,
/// session and client all still standing; fills in what the grant says.
fn check_state(
    mut claims: AccessTokenClaims,
    row: &AnyRow,
) -> Result<AccessTokenClaims, OAuthError> {
    let state = TokenState::from_row(row)?;
    if state.revoked_jtis > 0 {
        return Err(OAuthError::invalid_token(
            "the access token has been revoked",
        ));
    }
    if claims.grant_id.is_some() {
        if state.grant_id.is_none()
            || state.grant_client_id.as_deref() != Some(claims.client_id.as_str())
        {
            return Err(OAuthError::invalid_token(
                "the access token's grant does not exist",
            ));
        }
        if state.grant_revoked_at.is_some() {
            return Err(OAuthError::invalid_token(
                "the access token's grant has been revoked",
            ));
        }
        claims.account_id = state.account_id;
        claims.session_id = state.session_id;
        claims.consent_ref = state.consent_ref;
        if claims.session_id.is_some()
            && (state.session_found.is_none() || state.session_ended_at.is_some())
        {
            return Err(OAuthError::invalid_token("the citizen's session has ended"));
        }
    }
    if state.client_removed_at.is_some() {
        return Err(client_gone());
    }
    Ok(claims)
}

impl Tokens<'_> {
    fn ctx(&self) -> &Ctx {
        self.idp.ctx()
    }

    /// Mints an access token (no database write).
    pub async fn issue_access_token(
        &self,
        spec: AccessTokenSpec,
    ) -> Result<IssuedToken, OAuthError> {
        if spec.account_id.is_some() && spec.grant_id.is_none() {
            return Err(OAuthError::server_error(
                "a citizen-bound access token was requested without a grant",
            ));
        }
        let now = self.ctx().clock.unix();
        let ttl = self.ctx().config.tokens.access_token_ttl_secs;
        let jti = new_id();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.ctx().config.issuer()));
        claims.insert("sub".into(), json!(spec.subject));
        claims.insert("aud".into(), json!(spec.client_id));
        claims.insert("exp".into(), json!(now + ttl));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(jti));
        claims.insert("client_id".into(), json!(spec.client_id));
        claims.insert("scope".into(), json!(spec.scope));
        if let Some(grant) = &spec.grant_id {
            claims.insert("grant_id".into(), json!(grant));
        }
        // No `sid` here: the token's grant names the session, and a shared session id would
        // let services link their pairwise subjects.
        if let Some(acr) = &spec.acr {
            claims.insert("acr".into(), json!(acr));
        }
        if let Some(amr) = &spec.amr {
            claims.insert("amr".into(), json!(amr));
        }
        if let Some(auth_time) = spec.auth_time {
            claims.insert("auth_time".into(), json!(auth_time));
        }
        let token = self
            .idp
            .keys()
            .sign(SigningAlg::ES256, ACCESS_TOKEN_TYP, &claims)
            .await
            .map_err(key_failure)?;
        Ok(IssuedToken {
            token,
            expires_in: ttl,
            expires_at: now + ttl,
            jti,
        })
    }

    /// Mints an ID token for `spec.client`, signed with the algorithm it registered.
    pub async fn issue_id_token(&self, spec: IdTokenSpec<'_>) -> Result<String, OAuthError> {
        let now = self.ctx().clock.unix();
        let mut claims = spec.extra_claims;
        let mut set = |name: &str, value: Value| {
            claims.insert(name.to_owned(), value);
        };
        set("iss", json!(self.ctx().config.issuer()));
        set("sub", json!(spec.subject));
        set("aud", json!(spec.client.client_id));
        set(
            "exp",
            json!(now + self.ctx().config.tokens.id_token_ttl_secs),
        );
        set("iat", json!(now));
        set("auth_time", json!(spec.auth_time));
        set("acr", json!(spec.acr));
        set("amr", json!(spec.amr));
        if let Some(nonce) = spec.nonce {
            set("nonce", json!(nonce));
        }
        if let Some(sid) = spec.session_id {
            set("sid", json!(spec.client.sid_for(&sid)));
        }
        if let Some(access_token) = spec.access_token {
            set("at_hash", json!(left_half_hash(access_token)));
        }
        self.idp
            .keys()
            .sign(spec.client.id_token_alg, ID_TOKEN_TYP, &claims)
            .await
            .map_err(key_failure)
    }

    /// Signs any other JWT clave issues (a back-channel logout token, for example).
    pub async fn sign_jwt(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<String, OAuthError> {
        self.idp
            .keys()
            .sign(alg, typ, claims)
            .await
            .map_err(key_failure)
    }

    /// Checks an access token: signature by a published key, `typ: at+jwt` (so an ID token is
    /// refused), issuer, expiry, and that neither the token, its grant, its session nor its
    /// client has been revoked, ended or removed. Every refusal is `invalid_token`.
    pub async fn validate_access_token(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims, OAuthError> {
        let claims = self.unexpired_access_token(token).await?;
        self.still_valid(claims).await
    }

    /// Signature, type, issuer and claim shapes of an access token; expiry and revocation
    /// are not checked.
    async fn verified_access_token(&self, token: &str) -> Result<AccessTokenClaims, OAuthError> {
        let verified = self
            .idp
            .keys()
            .verify(token)
            .await
            .map_err(signature_failure)?;
        let typ_ok = verified.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(OAuthError::invalid_token(
                "this is not an access token (typ must be at+jwt)",
            ));
        }
        let c = &verified.claims;
        let malformed = || OAuthError::invalid_token("the access token lacks a required claim");
        let iss = string_claim(c, "iss").ok_or_else(malformed)?;
        if iss != self.ctx().config.issuer() {
            return Err(OAuthError::invalid_token(
                "the access token was issued by someone else",
            ));
        }
        let client_id = string_claim(c, "client_id").ok_or_else(malformed)?;
        if !audience_contains(c, &client_id) {
            return Err(OAuthError::invalid_token(
                "the access token's audience does not match its client",
            ));
        }
        Ok(AccessTokenClaims {
            iss,
            sub: string_claim(c, "sub").ok_or_else(malformed)?,
            scope: string_claim(c, "scope").unwrap_or_default(),
            exp: c.get("exp").and_then(Value::as_i64).ok_or_else(malformed)?,
            iat: c.get("iat").and_then(Value::as_i64).ok_or_else(malformed)?,
            jti: string_claim(c, "jti").ok_or_else(malformed)?,
            grant_id: string_claim(c, "grant_id"),
            // Filled from the grant by the database checks; tokens carry no session id.
            session_id: None,
            acr: string_claim(c, "acr"),
            amr: c
                .get("amr")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            auth_time: c.get("auth_time").and_then(Value::as_i64),
            account_id: None,
            consent_ref: None,
            client_id,
        })
    }

    /// [`Self::validate_access_token`] for a request that also needs the citizen behind the
    /// token and its client (userinfo): all three read in the same query. The account is
    /// `None` for a token no citizen stands behind.
    pub(crate) async fn validate_with_holder(
        &self,
        token: &str,
    ) -> Result<(AccessTokenClaims, Option<Account>, Client), OAuthError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {TOKEN_STATE}, c.*, {holder} \
                 FROM (SELECT {client}, removed_at FROM idp_clients WHERE client_id = $3) c \
                 {TOKEN_JOINS} {account}",
                holder = crate::accounts::joined_columns("a", HOLDER_PREFIX),
                account = crate::accounts::join_on("a", "g.account_id"),
                client = crate::clients::SELECT_COLUMNS,
            )
        });
        let claims = self.unexpired_access_token(token).await?;
        let row = self.state_query(&SQL, &claims).await?;
        let Some(row) = row else {
            return Err(client_gone());
        };
        let claims = check_state(claims, &row)?;
        let account = crate::accounts::from_joined_row(&row, HOLDER_PREFIX)?;
        let client = self.idp.clients().in_joined_row(&row).await?;
        Ok((claims, account, client))
    }

    /// Signature, type, issuer and claim shapes of an access token, its expiry and issue time.
    async fn unexpired_access_token(&self, token: &str) -> Result<AccessTokenClaims, OAuthError> {
        let claims = self.verified_access_token(token).await?;
        let now = self.ctx().clock.unix();
        if claims.exp <= now {
            return Err(OAuthError::invalid_token("the access token has expired"));
        }
        if claims.iat > now + LEEWAY_SECS {
            return Err(OAuthError::invalid_token(
                "the access token is issued in the future",
            ));
        }
        Ok(claims)
    }

    /// The database checks: revoked jti, revoked grant, ended session, removed client, all
    /// read in one query, since every bearer request pays for them.
    async fn still_valid(
        &self,
        claims: AccessTokenClaims,
    ) -> Result<AccessTokenClaims, OAuthError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT {TOKEN_STATE} FROM idp_clients c {TOKEN_JOINS} WHERE c.client_id = $3")
        });
        match self.state_query(&SQL, &claims).await? {
            Some(row) => check_state(claims, &row),
            None => Err(client_gone()),
        }
    }

    /// Runs a query built on [`TOKEN_STATE`] and [`TOKEN_JOINS`] for `claims`.
    async fn state_query(
        &self,
        sql: &str,
        claims: &AccessTokenClaims,
    ) -> Result<Option<AnyRow>, OAuthError> {
        Ok(sqlx::query(sql)
            .bind(&claims.jti)
            .bind(claims.grant_id.as_deref())
            .bind(&claims.client_id)
            .fetch_optional(self.ctx().db.pool())
            .await?)
    }

    /// The claims of an access token whose signature and issuer check out, even if expired
    /// or revoked; for revocation, which must accept any token it once issued.
    pub(crate) async fn access_token_even_if_stale(
        &self,
        token: &str,
    ) -> Option<AccessTokenClaims> {
        self.verified_access_token(token).await.ok()
    }

    /// Checks an ID token offered as `id_token_hint`: a signature by a published key and
    /// clave as issuer. Expiry is not checked (OIDC RP-Initiated Logout §2 allows expired
    /// hints); any other kind of token is refused.
    pub async fn validate_id_token_hint(&self, token: &str) -> Result<IdTokenHint, OAuthError> {
        let invalid = |text: &str| OAuthError::invalid_request(format!("id_token_hint: {text}"));
        let verified = match self.idp.keys().verify(token).await {
            Ok(verified) => verified,
            Err(SignatureRejection::Keys(e)) => return Err(key_failure(e)),
            Err(other) => return Err(invalid(&other.to_string())),
        };
        // Only an ID token will do: not an access token, a logout token or anything else
        // clave signs.
        if verified
            .typ
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case(ID_TOKEN_TYP))
        {
            return Err(invalid("only an ID token can be a hint"));
        }
        let c = &verified.claims;
        if string_claim(c, "iss").as_deref() != Some(self.ctx().config.issuer().as_str()) {
            return Err(invalid("the token was issued by someone else"));
        }
        let client_id = match c.get("aud") {
            Some(Value::String(aud)) => aud.clone(),
            Some(Value::Array(list)) if list.len() == 1 => list[0]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid("malformed aud"))?,
            _ => return Err(invalid("the token must have exactly one audience")),
        };
        Ok(IdTokenHint {
            sub: string_claim(c, "sub").ok_or_else(|| invalid("no sub"))?,
            client_id,
            session_id: string_claim(c, "sid"),
            iat: c.get("iat").and_then(Value::as_i64).unwrap_or(0),
            exp: c.get("exp").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// Puts an access token's `jti` on the revoked list until it would have expired;
    /// journaled as `token.revoked`. Idempotent.
    pub async fn revoke_access_token(
        &self,
        claims: &AccessTokenClaims,
        reason: &str,
    ) -> Result<(), OAuthError> {
        let now = self.ctx().clock.unix();
        let mut tx = self.ctx().db.begin().await?;
        // Rows past their expiry are useless: sweep a few on the way.
        sqlx::query("DELETE FROM idp_revoked_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idp_revoked_tokens (jti, client_id, revoked_at, expires_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(&claims.jti)
        .bind(&claims.client_id)
        .bind(now)
        .bind(claims.exp)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            journal::append(
                &mut tx,
                self.ctx().clock.now(),
                &NewEvent::new("token.revoked")
                    .actor(claims.client_id.clone())
                    .subject(claims.client_id.clone())
                    .data(
                        json!({"jti": claims.jti, "grant_id": claims.grant_id, "reason": reason}),
                    ),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Revokes every grant that released data under the consent `consent_ref` (see
    /// [`crate::claims::ClaimsProvider`]), in the caller's transaction. Returns how many were
    /// still active.
    pub async fn revoke_grants_under_consent(
        &self,
        conn: &mut sqlx::AnyConnection,
        consent_ref: &str,
        reason: &str,
    ) -> Result<usize, sqlx::Error> {
        let grants: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM idp_grants WHERE consent_ref = $1 AND revoked_at IS NULL",
        )
        .bind(consent_ref)
        .fetch_all(&mut *conn)
        .await?;
        let mut revoked = 0;
        for (grant_id,) in grants {
            if self.revoke_grant(conn, &grant_id, reason).await? {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Revokes a grant: every access and refresh token issued under it is refused from now
    /// on. Run inside the caller's transaction; journaled there as `grant.revoked`. Returns
    /// whether the grant was active until now.
    pub async fn revoke_grant(
        &self,
        conn: &mut sqlx::AnyConnection,
        grant_id: &str,
        reason: &str,
    ) -> Result<bool, sqlx::Error> {
        let now = self.ctx().clock.unix();
        let revoked = sqlx::query(
            "UPDATE idp_grants SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(grant_id)
        .execute(&mut *conn)
        .await?;
        if revoked.rows_affected() == 0 {
            return Ok(false);
        }
        let (client_id, account_id): (String, Option<String>) =
            sqlx::query_as("SELECT client_id, account_id FROM idp_grants WHERE id = $1")
                .bind(grant_id)
                .fetch_one(&mut *conn)
                .await?;
        let mut event = NewEvent::new("grant.revoked")
            .actor(client_id.clone())
            .data(json!({"grant_id": grant_id, "client_id": client_id, "reason": reason}));
        if let Some(account_id) = account_id {
            event = event.subject(account_id);
        }
        journal::append(conn, self.ctx().clock.now(), &event).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
