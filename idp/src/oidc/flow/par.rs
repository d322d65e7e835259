//! Pushed authorization requests (RFC 9126), `POST /oauth2/par`.
//!
//! The client authenticates and sends the authorization request's parameters straight to
//! clave; they are validated as `/oauth2/authorize` would, stored, and named by a single-use
//! `request_uri` that the browser then carries to the authorization endpoint with only the
//! `client_id`. Nothing of the request travels through the browser, where it could be read
//! or altered, and a client registered with "PAR required" can be refused anything else.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clave_common::id::{random_token, token_digest};
use serde::Serialize;

use super::validate::{Refusal, validate};
use crate::oidc::error::{ErrorCode, OAuthError, no_store};
use crate::oidc::params::Params;
use crate::{Idp, IdpError};

/// The prefix of every `request_uri` clave issues.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Parameters that authenticate the client at the PAR endpoint and are not part of the
/// authorization request, so they are never stored.
const CLIENT_AUTH_PARAMS: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

#[derive(Serialize)]
struct PushedResponse {
    request_uri: String,
    expires_in: i64,
}

/// `POST /oauth2/par`.
#[utoipa::path(
    post,
    path = "/oauth2/par",
    tag = "oidc",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "The parameters of an authorization request (`response_type`, `client_id`, `redirect_uri`, `scope`, `state`, `nonce`, `code_challenge`, …) with the client's authentication"),
    responses(
        (status = 201, description = "The request is stored", body = crate::http::docs::PushedAnswer),
        (status = 400, description = "An invalid authorization request", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "The client failed to authenticate (`invalid_client`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn push(State(idp): State<Idp>, headers: HeaderMap, body: Body) -> Response {
    match push_request(&idp, &headers, body).await {
        Ok(pushed) => {
            let mut response = (StatusCode::CREATED, Json(pushed)).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn push_request(
    idp: &Idp,
    headers: &HeaderMap,
    body: Body,
) -> Result<PushedResponse, OAuthError> {
    let params = Params::from_form(headers, body).await?;
    let client = idp.clients().authenticate(headers, &params).await?;
    if params.has("request_uri") {
        return Err(OAuthError::invalid_request(
            "`request_uri` cannot be pushed; push the authorization parameters themselves",
        ));
    }
    let mut request: Params = params
        .iter()
        .filter(|(name, _)| !CLIENT_AUTH_PARAMS.contains(name))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    request.insert("client_id", client.client_id.clone());
    match validate(idp, &request, true).await {
        Ok(_) => {}
        Err(Refusal::Page(error) | Refusal::Redirect(_, error)) => return Err(error),
        Err(Refusal::Failed(error)) => return Err(OAuthError::from(error)),
    }

    let ctx = idp.ctx();
    let handle = random_token(32);
    let now = ctx.clock.unix();
    let ttl = ctx.config.tokens.par_ttl_secs;
    sqlx::query(
        "INSERT INTO idp_pushed_requests (handle_digest, client_id, params, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_digest(&handle))
    .bind(&client.client_id)
    .bind(request.to_json().to_string())
    .bind(now)
    .bind(now + ttl)
    .execute(ctx.db.pool())
    .await?;
    Ok(PushedResponse {
        request_uri: format!("{REQUEST_URI_PREFIX}{handle}"),
        expires_in: ttl,
    })
}

/// Why a `request_uri` could not be used.
#[derive(Debug)]
pub(crate) enum TakeError {
    /// Unknown, used, lapsed, or pushed by another client.
    Refused(OAuthError),
    /// The server failed.
    Failed(IdpError),
}

/// Consumes the pushed request named by `request_uri` for `client_id`: once only, on any node.
pub(crate) async fn take(
    idp: &Idp,
    request_uri: &str,
    client_id: &str,
) -> Result<Params, TakeError> {
    let refused = || {
        TakeError::Refused(OAuthError::new(
            ErrorCode::InvalidRequestUri,
            "the `request_uri` is unknown, expired, already used, or was pushed by another client",
        ))
    };
    let Some(handle) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
        return Err(TakeError::Refused(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "only a `request_uri` issued by this server's PAR endpoint is accepted",
        )));
    };
    let ctx = idp.ctx();
    let now = ctx.clock.unix();
    let stored: Option<(String,)> = sqlx::query_as(
        "UPDATE idp_pushed_requests SET used_at = $1 \
         WHERE handle_digest = $2 AND client_id = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING params",
    )
    .bind(now)
    .bind(token_digest(handle))
    .bind(client_id)
    .fetch_optional(ctx.db.pool())
    .await
    .map_err(|e| TakeError::Failed(e.into()))?;
    let (text,) = stored.ok_or_else(refused)?;
    serde_json::from_str(&text)
        .ok()
        .and_then(|json| Params::from_json(&json))
        .ok_or_else(|| {
            TakeError::Failed(IdpError::Internal(
                "a stored pushed request does not parse".into(),
            ))
        })
}
