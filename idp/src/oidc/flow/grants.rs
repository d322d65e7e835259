//! Authorization codes and refresh tokens: issuing a code when the citizen has authorized a
//! client, and redeeming it and its refresh tokens at the token endpoint.
//!
//! Each authorization is one `idp_grants` row, made when the code is issued; every token
//! issued under it hangs from it, so revoking the row (a replayed code, a reused refresh
//! token, a logout) refuses them all at once.
//!
//! Codes and refresh tokens are random and stored only as digests. A code is consumed with one
//! conditional `UPDATE … WHERE used_at IS NULL`; a refresh token is spent by inserting the
//! token that replaces it, which names it as its `parent` under a unique index. Either way
//! whichever node's statement changes a row wins, and every other attempt is a replay. Codes
//! live `tokens.code_ttl_secs`.
//!
//! Refresh tokens are issued to every client registered for the `refresh_token` grant,
//! confidential or public: each use rotates the token, and a second use of any token of a
//! family revokes the whole grant, so a stolen refresh token is good for one race at most.
//! A refresh token never outlives the sign-in session it came from (clave offers no offline
//! access yet), and a logout revokes it with the session.

use std::sync::LazyLock;

use clave_common::id::{new_id, random_token, token_digest};
use clave_common::journal::{self, NewEvent};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use subtle::ConstantTimeEq;

use crate::accounts::Account;
use crate::authreq::AuthRequest;
use crate::claims::{Channel, ClaimsRequest, scope_list};
use crate::clients::{Client, GRANT_REFRESH_TOKEN};
use crate::oidc::error::OAuthError;
use crate::oidc::params::Params;
use crate::oidc::tokens::{AccessTokenSpec, IdTokenSpec, TokenResponse};
use crate::session::Session;
use crate::{Idp, IdpError};

/// Issues a code for `request`, authorized in `session` (releasing data under the claims
/// provider's consent `consent_ref`, if any), and closes the request. `None` when the request
/// was already answered (a double submit, or another node got there first).
pub(crate) async fn issue_code(
    idp: &Idp,
    request: &AuthRequest,
    session: &Session,
    consent_ref: Option<&str>,
) -> Result<Option<String>, IdpError> {
    let ctx = idp.ctx();
    let now = ctx.clock.unix();
    let code = random_token(32);
    let grant_id = new_id();
    let mut tx = ctx.db.begin().await?;
    if !idp.auth_requests().complete(&mut tx, &request.id).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO idp_grants (id, client_id, account_id, session_id, scope, acr, amr, \
         auth_time, created_at, consent_ref) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&grant_id)
    .bind(&request.client_id)
    .bind(&session.account_id)
    .bind(&session.id)
    .bind(&request.scope)
    .bind(&session.acr)
    .bind(serde_json::Value::from(session.amr.clone()).to_string())
    .bind(session.auth_time)
    .bind(now)
    .bind(consent_ref)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO idp_codes (digest, grant_id, redirect_uri, nonce, code_challenge, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token_digest(&code))
    .bind(&grant_id)
    .bind(request.redirect_uri_given.then_some(&request.redirect_uri))
    .bind(&request.nonce)
    .bind(&request.code_challenge)
    .bind(now)
    .bind(now + ctx.config.tokens.code_ttl_secs)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(code))
}

/// An authorization as stored in `idp_grants`, with its session's state.
#[derive(Debug, sqlx::FromRow)]
struct GrantRow {
    grant_id: String,
    client_id: String,
    account_id: Option<String>,
    session_id: Option<String>,
    scope: String,
    acr: String,
    amr: String,
    auth_time: i64,
    consent_ref: Option<String>,
    revoked_at: Option<i64>,
    session_ended_at: Option<i64>,
    session_expires_at: Option<i64>,
}

const GRANT_COLUMNS: &str = "g.id AS grant_id, g.client_id, g.account_id, g.session_id, g.scope, \
     g.acr, g.amr, g.auth_time, g.consent_ref, g.revoked_at, s.ended_at AS session_ended_at, \
     s.expires_at AS session_expires_at";

impl GrantRow {
    /// Whether tokens may still be issued under this grant at `now`.
    fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none()
            && self.session_ended_at.is_none()
            && self.session_expires_at.is_some_and(|at| at > now)
    }

    fn amr(&self) -> Vec<String> {
        serde_json::from_str(&self.amr).unwrap_or_default()
    }
}

#[derive(Debug, sqlx::FromRow)]
struct CodeRow {
    redirect_uri: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    expires_at: i64,
    used_at: Option<i64>,
    #[sqlx(flatten)]
    grant: GrantRow,
}

#[derive(Debug, sqlx::FromRow)]
struct RefreshRow {
    token_digest: String,
    expires_at: i64,
    used_at: Option<i64>,
    #[sqlx(flatten)]
    grant: GrantRow,
}

/// How the grant's citizen is named in the code and refresh lookups, which read the account
/// with the grant so that an exchange makes one read before it writes.
const CITIZEN_PREFIX: &str = "citizen_";

/// Runs a code or refresh lookup (`sql`, with the citizen joined as `a`) for `digest`.
async fn lookup<T: for<'r> sqlx::FromRow<'r, AnyRow>>(
    idp: &Idp,
    sql: &str,
    digest: &str,
) -> Result<Option<(T, Option<Account>)>, OAuthError> {
    let Some(row) = sqlx::query(sql)
        .bind(digest)
        .fetch_optional(idp.ctx().db.pool())
        .await?
    else {
        return Ok(None);
    };
    let account = crate::accounts::from_joined_row(&row, CITIZEN_PREFIX)?;
    Ok(Some((T::from_row(&row)?, account)))
}

/// One message for every unusable code, so a client learns nothing about codes it does not hold.
const BAD_CODE: &str = "the code is invalid, expired, already used or revoked";
/// The same for refresh tokens.
const BAD_REFRESH: &str = "the refresh token is invalid, expired, already used or revoked";

/// `grant_type=authorization_code` for the authenticated `client`.
pub async fn redeem_code(
    idp: &Idp,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code")?;
    let ctx = idp.ctx();
    let now = ctx.clock.unix();
    let digest = token_digest(code);
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT c.redirect_uri, c.nonce, c.code_challenge, c.expires_at, c.used_at, \
             {GRANT_COLUMNS}, {citizen} \
             FROM idp_codes c JOIN idp_grants g ON g.id = c.grant_id \
             LEFT JOIN idp_sessions s ON s.id = g.session_id {account} WHERE c.digest = $1",
            citizen = crate::accounts::joined_columns("a", CITIZEN_PREFIX),
            account = crate::accounts::join_on("a", "g.account_id"),
        )
    });
    let Some((row, account)) = lookup::<CodeRow>(idp, &SQL, &digest).await? else {
        return Err(OAuthError::invalid_grant(BAD_CODE));
    };
    if row.grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(BAD_CODE));
    }
    if row.used_at.is_some() {
        revoke_replayed(idp, &row.grant, "code.replayed").await?;
        return Err(OAuthError::invalid_grant(BAD_CODE));
    }
    if row.expires_at <= now || !row.grant.is_live(now) {
        return Err(OAuthError::invalid_grant(BAD_CODE));
    }
    check_redirect_uri(
        client,
        row.redirect_uri.as_deref(),
        params.get("redirect_uri"),
    )?;
    check_verifier(row.code_challenge.as_deref(), params.get("code_verifier"))?;

    let refresh = client
        .allows_grant(GRANT_REFRESH_TOKEN)
        .then(|| random_token(32));
    let mut tx = ctx.db.begin().await?;
    let consumed =
        sqlx::query("UPDATE idp_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL")
            .bind(now)
            .bind(&digest)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if consumed != 1 {
        // Another request (on any node) redeemed it a moment ago: this one is the replay.
        tx.rollback().await?;
        revoke_replayed(idp, &row.grant, "code.replayed").await?;
        return Err(OAuthError::invalid_grant(BAD_CODE));
    }
    if let Some(account_id) = &row.grant.account_id {
        idp.clients()
            .remember_subject(&mut tx, client, account_id)
            .await?;
    }
    if let Some(token) = &refresh {
        insert_refresh_token(
            &mut tx,
            token,
            None,
            &row.grant,
            now,
            refresh_expiry(idp, &row.grant, now),
        )
        .await?;
    }
    tx.commit().await?;

    respond(
        idp,
        client,
        &row.grant,
        account,
        &row.grant.scope,
        row.nonce.as_deref(),
        refresh,
        Release::IdToken,
    )
    .await
}

/// `grant_type=refresh_token` for the authenticated `client`: rotation with reuse detection.
pub async fn refresh(
    idp: &Idp,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = params.require("refresh_token")?;
    let ctx = idp.ctx();
    let now = ctx.clock.unix();
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT r.token_digest, r.expires_at, n.created_at AS used_at, {GRANT_COLUMNS}, \
             {citizen} \
             FROM idp_refresh_tokens r JOIN idp_grants g ON g.id = r.grant_id \
             LEFT JOIN idp_sessions s ON s.id = g.session_id \
             LEFT JOIN idp_refresh_tokens n ON n.parent = r.token_digest \
             {account} WHERE r.token_digest = $1",
            citizen = crate::accounts::joined_columns("a", CITIZEN_PREFIX),
            account = crate::accounts::join_on("a", "g.account_id"),
        )
    });
    let Some((row, account)) = lookup::<RefreshRow>(idp, &SQL, &token_digest(presented)).await?
    else {
        return Err(OAuthError::invalid_grant(BAD_REFRESH));
    };
    if row.grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(BAD_REFRESH));
    }
    if row.used_at.is_some() {
        revoke_replayed(idp, &row.grant, "refresh.replayed").await?;
        return Err(OAuthError::invalid_grant(BAD_REFRESH));
    }
    if row.expires_at <= now || !row.grant.is_live(now) {
        return Err(OAuthError::invalid_grant(BAD_REFRESH));
    }
    let scope = narrowed_scope(&row.grant.scope, params.get("scope"))?;

    // The new token keeps the grant's whole scope (RFC 6749 §6); only this access token is
    // narrowed. Inserting it spends the presented one: of two racing presentations, the unique
    // index on `parent` lets one through.
    let next = random_token(32);
    let expires_at = refresh_expiry(idp, &row.grant, now);
    let mut conn = ctx.db.pool().acquire().await?;
    let inserted = insert_refresh_token(
        &mut conn,
        &next,
        Some(&row.token_digest),
        &row.grant,
        now,
        expires_at,
    )
    .await?;
    drop(conn);
    if !inserted {
        revoke_replayed(idp, &row.grant, "refresh.replayed").await?;
        return Err(OAuthError::invalid_grant(BAD_REFRESH));
    }

    respond(
        idp,
        client,
        &row.grant,
        account,
        &scope,
        None,
        Some(next),
        Release::Nothing,
    )
    .await
}

/// Whether an exchange's ID token carries the claims the provider releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// At the code exchange: once per login, into the ID token.
    IdToken,
    /// At a refresh: only the protocol claims (userinfo serves the rest).
    Nothing,
}

/// Mints the tokens of a successful code or refresh exchange.
#[allow(clippy::too_many_arguments)]
async fn respond(
    idp: &Idp,
    client: &Client,
    grant: &GrantRow,
    account: Option<Account>,
    scope: &str,
    nonce: Option<&str>,
    refresh_token: Option<String>,
    release: Release,
) -> Result<TokenResponse, OAuthError> {
    if grant.account_id.is_none() {
        return Err(OAuthError::server_error("a browser grant has no account"));
    }
    let account = account
        .ok_or_else(|| OAuthError::invalid_grant("the citizen's account no longer exists"))?;
    let subject = client.subject_for(&account);
    let amr = grant.amr();
    let tokens = idp.tokens();
    let access = tokens
        .issue_access_token(AccessTokenSpec {
            client_id: client.client_id.clone(),
            subject: subject.clone(),
            account_id: Some(account.id.clone()),
            scope: scope.to_owned(),
            grant_id: Some(grant.grant_id.clone()),
            session_id: grant.session_id.clone(),
            acr: Some(grant.acr.clone()),
            amr: Some(amr.clone()),
            auth_time: Some(grant.auth_time),
        })
        .await?;
    let scopes = scope_list(scope);
    let id_token = if scopes.iter().any(|s| s == crate::claims::SCOPE_OPENID) {
        let extra_claims = match release {
            Release::Nothing => serde_json::Map::new(),
            Release::IdToken => idp
                .ctx()
                .claims
                .extra_claims(
                    idp,
                    ClaimsRequest {
                        account: &account,
                        client,
                        scopes: &scopes,
                        consent_ref: grant.consent_ref.as_deref(),
                        acr: Some(&grant.acr),
                        channel: Channel::IdToken,
                    },
                )
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "the claims provider failed");
                    OAuthError::temporarily_unavailable()
                })?,
        };
        Some(
            tokens
                .issue_id_token(IdTokenSpec {
                    client,
                    subject,
                    nonce: nonce.map(str::to_owned),
                    acr: grant.acr.clone(),
                    amr,
                    auth_time: grant.auth_time,
                    session_id: grant.session_id.clone(),
                    access_token: Some(&access.token),
                    extra_claims,
                })
                .await?,
        )
    } else {
        None
    };
    let authorization_details = match &grant.consent_ref {
        Some(consent) => idp
            .ctx()
            .claims
            .granted_details(idp, consent)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "the claims provider failed");
                OAuthError::temporarily_unavailable()
            })?,
        None => None,
    };
    Ok(TokenResponse {
        access_token: access.token,
        token_type: "Bearer".into(),
        expires_in: access.expires_in,
        refresh_token,
        id_token,
        scope: Some(scope.to_owned()),
        authorization_details,
    })
}

/// When a refresh token issued now under `grant` lapses: its own lifetime, capped by the
/// session's.
fn refresh_expiry(idp: &Idp, grant: &GrantRow, now: i64) -> i64 {
    let own = now + idp.ctx().config.tokens.refresh_token_ttl_secs;
    grant
        .session_expires_at
        .map_or(own, |session| own.min(session))
}

/// Stores a refresh token; `false` when `parent` was already spent (another token names it).
async fn insert_refresh_token(
    conn: &mut sqlx::AnyConnection,
    token: &str,
    parent: Option<&str>,
    grant: &GrantRow,
    now: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idp_refresh_tokens (token_digest, grant_id, parent, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (parent) DO NOTHING",
    )
    .bind(token_digest(token))
    .bind(&grant.grant_id)
    .bind(parent)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A code or refresh token was presented a second time: whoever holds it may have stolen it,
/// so everything issued under its grant is revoked, and the event journaled.
async fn revoke_replayed(idp: &Idp, grant: &GrantRow, kind: &str) -> Result<(), OAuthError> {
    let ctx = idp.ctx();
    let mut tx = ctx.db.begin().await?;
    idp.tokens()
        .revoke_grant(&mut tx, &grant.grant_id, kind)
        .await?;
    let mut event = NewEvent::new(kind)
        .actor(grant.client_id.clone())
        .data(json!({ "client_id": grant.client_id, "grant_id": grant.grant_id }));
    if let Some(account_id) = &grant.account_id {
        event = event.subject(account_id.clone());
    }
    journal::append(&mut tx, ctx.clock.now(), &event).await?;
    tx.commit().await?;
    tracing::warn!(grant_id = %grant.grant_id, client_id = %grant.client_id, kind, "replay detected; grant revoked");
    Ok(())
}

/// The `redirect_uri` of the token request must repeat the authorization request's when that
/// named one (RFC 6749 §4.1.3); when it did not, a given one must still be the client's.
fn check_redirect_uri(
    client: &Client,
    requested: Option<&str>,
    given: Option<&str>,
) -> Result<(), OAuthError> {
    match (requested, given) {
        (Some(requested), Some(given)) if requested == given => Ok(()),
        (Some(_), _) => Err(OAuthError::invalid_grant(
            "`redirect_uri` must be identical to the one in the authorization request",
        )),
        (None, Some(given)) if !client.redirect_uris.iter().any(|r| r == given) => Err(
            OAuthError::invalid_grant("`redirect_uri` is not registered for this client"),
        ),
        (None, _) => Ok(()),
    }
}

/// PKCE (RFC 7636) with S256: the verifier's SHA-256, base64url, must equal the challenge.
/// A verifier without a challenge is refused too, so PKCE cannot be stripped by a downgrade.
fn check_verifier(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "`code_verifier` was sent but the authorization request had no `code_challenge`",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "`code_verifier` is required: the authorization request had a `code_challenge`",
        )),
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            let computed = s256(verifier);
            if well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "the `code_verifier` does not match the `code_challenge`",
                ))
            }
        }
    }
}

/// The S256 transformation of a PKCE verifier.
fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The scope of a refreshed access token: the grant's, or a narrower one the client asks for.
fn narrowed_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_owned());
    };
    let granted = scope_list(granted);
    let requested = scope_list(requested);
    if let Some(extra) = requested.iter().find(|s| !granted.contains(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "the scope `{extra}` was not granted; a refresh may narrow the scope, never widen it"
        )));
    }
    if requested.is_empty() {
        return Ok(granted.join(" "));
    }
    Ok(requested.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::flow::testing::{URI, authorized};
    use crate::oidc::testing::{ctx_like, test_idp};

    fn token_params(code: &str) -> Params {
        [("code", code), ("redirect_uri", URI)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn a_code_raced_on_two_nodes_is_redeemed_once_and_the_replay_revokes_it() {
        let (idp, _clock, _dir) = test_idp().await;
        let (client, session, _, request) = authorized(&idp).await;
        let code = issue_code(&idp, &request, &session, None)
            .await
            .unwrap()
            .unwrap();
        // The request itself is answered once.
        assert!(
            issue_code(&idp, &request, &session, None)
                .await
                .unwrap()
                .is_none()
        );

        let other_node = Idp::new(ctx_like(idp.ctx()));
        let params = token_params(&code);
        let (a, b) = tokio::join!(
            redeem_code(&idp, &client, &params),
            redeem_code(&other_node, &client, &params)
        );
        assert_eq!(
            usize::from(a.is_ok()) + usize::from(b.is_ok()),
            1,
            "{a:?} {b:?}"
        );
        let loser = a.as_ref().err().or(b.as_ref().err()).unwrap();
        assert_eq!(loser.code.as_str(), "invalid_grant");
        let winner = a.or(b).unwrap();
        assert!(winner.refresh_token.is_some());
        // The second attempt counts as a replay: what the first got is revoked.
        let refused = idp
            .tokens()
            .validate_access_token(&winner.access_token)
            .await;
        assert!(refused.is_err());
    }

    #[tokio::test]
    async fn a_redeemed_code_lets_the_client_name_the_citizen_by_its_subject() {
        let (idp, _clock, _dir) = test_idp().await;
        let (client, session, _, request) = authorized(&idp).await;
        let subject = client.subject_for_account(&session.account_id);
        let clients = idp.clients();
        assert_eq!(
            clients
                .account_for_subject(&client, &subject)
                .await
                .unwrap(),
            None
        );
        let code = issue_code(&idp, &request, &session, None)
            .await
            .unwrap()
            .unwrap();
        redeem_code(&idp, &client, &token_params(&code))
            .await
            .unwrap();
        assert_eq!(
            clients
                .account_for_subject(&client, &subject)
                .await
                .unwrap(),
            Some(session.account_id.clone())
        );
        assert_eq!(
            clients
                .account_for_subject(&client, "someone")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn an_expired_code_is_refused() {
        let (idp, clock, _dir) = test_idp().await;
        let (client, session, _, request) = authorized(&idp).await;
        let code = issue_code(&idp, &request, &session, None)
            .await
            .unwrap()
            .unwrap();
        clock.advance(time::Duration::seconds(
            idp.ctx().config.tokens.code_ttl_secs,
        ));
        let err = redeem_code(&idp, &client, &token_params(&code))
            .await
            .unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_grant");
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(
            check_verifier(
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                Some(verifier)
            )
            .is_ok()
        );
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl";
        assert!(
            check_verifier(
                Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                Some(wrong)
            )
            .is_err()
        );
        assert!(check_verifier(Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), None).is_err());
        assert!(check_verifier(None, Some(verifier)).is_err());
        assert!(check_verifier(None, None).is_ok());
        // Too short to be a verifier, even if someone found a matching hash.
        assert!(check_verifier(Some(&s256("short")), Some("short")).is_err());
    }

    #[test]
    fn refresh_may_narrow_but_never_widen() {
        assert_eq!(
            narrowed_scope("openid profile run", None).unwrap(),
            "openid profile run"
        );
        assert_eq!(
            narrowed_scope("openid profile run", Some("openid run")).unwrap(),
            "openid run"
        );
        let err = narrowed_scope("openid profile", Some("openid email")).unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_scope");
    }
}
