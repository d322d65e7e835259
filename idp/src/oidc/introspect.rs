//! `POST /oauth2/introspect` (RFC 7662): tells an authenticated client whether a token it
//! holds is active, and what it carries.
//!
//! A client may introspect the tokens issued to it; for anything else — unknown, malformed,
//! expired, revoked, logged out, or another client's token — the answer is only
//! `{"active": false}`, so introspection reveals nothing about tokens the caller does not own.
//! Public clients cannot authenticate and so cannot introspect.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use clave_common::id::token_digest;
use serde_json::{Map, Value, json};

use super::error::{OAuthError, no_store};
use super::params::Params;
use crate::Idp;
use crate::clients::{AuthMethod, Client};

/// `POST /oauth2/introspect`.
#[utoipa::path(
    post,
    path = "/oauth2/introspect",
    tag = "oidc",
    request_body(content = crate::http::docs::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Whether the token is active, and its claims when it is the caller's", body = crate::http::docs::Introspection),
        (status = 400, description = "A malformed request", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "The client failed to authenticate (`invalid_client`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn introspect(State(idp): State<Idp>, headers: HeaderMap, body: Body) -> Response {
    match inspect(&idp, &headers, body).await {
        Ok(answer) => {
            let mut response = axum::Json(answer).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

fn inactive() -> Value {
    json!({ "active": false })
}

/// Whether `token` has the shape of a JWT (an access token) rather than an opaque refresh
/// token.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

async fn inspect(idp: &Idp, headers: &HeaderMap, body: Body) -> Result<Value, OAuthError> {
    let params = Params::from_form(headers, body).await?;
    let client = idp.clients().authenticate(headers, &params).await?;
    if client.token_endpoint_auth_method == AuthMethod::None {
        return Err(OAuthError::invalid_client(
            "public clients cannot use introspection: it needs client authentication",
        ));
    }
    let token = params.require("token")?;
    if looks_like_jwt(token) {
        access_token(idp, &client, token).await
    } else {
        refresh_token(idp, &client, token).await
    }
}

async fn access_token(idp: &Idp, client: &Client, token: &str) -> Result<Value, OAuthError> {
    let claims = match idp.tokens().validate_access_token(token).await {
        Ok(claims) => claims,
        // Refusals are answers, not errors; only a server failure is an error.
        Err(e) if e.status().is_server_error() => return Err(e),
        Err(_) => return Ok(inactive()),
    };
    if claims.client_id != client.client_id {
        return Ok(inactive());
    }
    let mut answer = Map::new();
    answer.insert("active".into(), json!(true));
    answer.insert("token_type".into(), json!("Bearer"));
    answer.insert("scope".into(), json!(claims.scope));
    answer.insert("client_id".into(), json!(claims.client_id));
    answer.insert("sub".into(), json!(claims.sub));
    answer.insert("aud".into(), json!(claims.client_id));
    answer.insert("iss".into(), json!(claims.iss));
    answer.insert("exp".into(), json!(claims.exp));
    answer.insert("iat".into(), json!(claims.iat));
    answer.insert("jti".into(), json!(claims.jti));
    if let Some(acr) = &claims.acr {
        answer.insert("acr".into(), json!(acr));
    }
    if let Some(auth_time) = claims.auth_time {
        answer.insert("auth_time".into(), json!(auth_time));
    }
    Ok(Value::Object(answer))
}

#[derive(sqlx::FromRow)]
struct RefreshState {
    expires_at: i64,
    created_at: i64,
    used_at: Option<i64>,
    client_id: String,
    account_id: Option<String>,
    scope: String,
    revoked_at: Option<i64>,
    session_ended_at: Option<i64>,
}

async fn refresh_token(idp: &Idp, client: &Client, token: &str) -> Result<Value, OAuthError> {
    let row: Option<RefreshState> = sqlx::query_as(
        "SELECT r.expires_at, r.created_at, n.created_at AS used_at, g.client_id, g.account_id, \
                g.scope, g.revoked_at, s.ended_at AS session_ended_at \
         FROM idp_refresh_tokens r \
         JOIN idp_grants g ON g.id = r.grant_id \
         LEFT JOIN idp_sessions s ON s.id = g.session_id \
         LEFT JOIN idp_refresh_tokens n ON n.parent = r.token_digest \
         WHERE r.token_digest = $1",
    )
    .bind(token_digest(token))
    .fetch_optional(idp.ctx().db.pool())
    .await?;
    let now = idp.ctx().clock.unix();
    let Some(row) = row.filter(|r| {
        r.client_id == client.client_id
            && r.used_at.is_none()
            && r.revoked_at.is_none()
            && r.session_ended_at.is_none()
            && r.expires_at > now
    }) else {
        return Ok(inactive());
    };
    let mut answer = Map::new();
    answer.insert("active".into(), json!(true));
    answer.insert("scope".into(), json!(row.scope));
    answer.insert("client_id".into(), json!(row.client_id));
    if let Some(account_id) = &row.account_id {
        answer.insert("sub".into(), json!(client.subject_for_account(account_id)));
    }
    answer.insert("iss".into(), json!(idp.ctx().config.issuer()));
    answer.insert("exp".into(), json!(row.expires_at));
    answer.insert("iat".into(), json!(row.created_at));
    Ok(Value::Object(answer))
}
