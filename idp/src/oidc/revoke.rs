//! `POST /oauth2/revoke` (RFC 7009): a client withdraws a token it holds.
//!
//! An access token's `jti` goes on the revoked list until the token would have expired; a
//! refresh token revokes its whole grant, and with it every access token issued under it.
//! Either takes effect at once on every node. Unknown tokens, and tokens of other clients,
//! get the same empty 200 with no effect (§2.2), so the endpoint tells nobody anything.
//! Public clients may revoke their own tokens by sending their `client_id`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clave_common::id::token_digest;

use super::error::{OAuthError, no_store};
use super::introspect::looks_like_jwt;
use super::params::Params;
use crate::Idp;
use crate::clients::Client;

/// `POST /oauth2/revoke`.
#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "oidc",
    request_body(content = crate::http::docs::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or unknown (the same empty answer)"),
        (status = 400, description = "A malformed request", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "The client failed to authenticate (`invalid_client`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn revoke(State(idp): State<Idp>, headers: HeaderMap, body: Body) -> Response {
    match withdraw(&idp, &headers, body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn withdraw(idp: &Idp, headers: &HeaderMap, body: Body) -> Result<(), OAuthError> {
    let params = Params::from_form(headers, body).await?;
    let client = idp.clients().authenticate(headers, &params).await?;
    let token = params.require("token")?;
    // `token_type_hint` only orders the search (§2.1); the token's shape settles it.
    if looks_like_jwt(token) {
        revoke_access_token(idp, &client, token).await
    } else {
        revoke_refresh_token(idp, &client, token).await
    }
}

async fn revoke_access_token(idp: &Idp, client: &Client, token: &str) -> Result<(), OAuthError> {
    let tokens = idp.tokens();
    let Some(claims) = tokens.access_token_even_if_stale(token).await else {
        return Ok(());
    };
    if claims.client_id != client.client_id || claims.exp <= idp.ctx().clock.unix() {
        return Ok(());
    }
    tokens
        .revoke_access_token(&claims, "revoked_by_client")
        .await
}

async fn revoke_refresh_token(idp: &Idp, client: &Client, token: &str) -> Result<(), OAuthError> {
    let ctx = idp.ctx();
    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT g.id, g.client_id FROM idp_refresh_tokens r JOIN idp_grants g ON g.id = r.grant_id \
         WHERE r.token_digest = $1",
    )
    .bind(token_digest(token))
    .fetch_optional(ctx.db.pool())
    .await?;
    let Some((grant_id, owner)) = found else {
        return Ok(());
    };
    if owner != client.client_id {
        return Ok(());
    }
    let mut tx = ctx.db.begin().await?;
    idp.tokens()
        .revoke_grant(&mut tx, &grant_id, "refresh_token_revoked")
        .await?;
    tx.commit().await?;
    Ok(())
}
