//! `/oauth2/jwks`: the public halves of every published signing key (active and retired),
//! each with `kid`, `alg` and `use: sig`.
//!
//! Read from the database on every request rather than from a node's cache: a client that
//! meets a new kid fetches this document at once, and whichever node answers must already
//! list the key another node has just started signing with. The short `max-age` keeps caches
//! from hiding a rotation for long.

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use crate::Idp;
use crate::keys::KeyError;

/// Seconds a client or proxy may cache the key set.
pub const CACHE_SECS: u32 = 60;

/// `GET /oauth2/jwks`.
#[utoipa::path(
    get,
    path = "/oauth2/jwks",
    tag = "oidc",
    responses(
        (status = 200, description = "The public keys that sign ID tokens and access tokens", body = crate::http::docs::Jwks),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    )
)]
pub async fn jwks(State(idp): State<Idp>) -> Response {
    match idp.keys().jwks().await {
        Ok(set) => {
            let mut response = axum::Json(set).into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={CACHE_SECS}")) {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            response
        }
        Err(KeyError::Db(e)) => OAuthError::from(e).into_response(),
        Err(other) => OAuthError::server_error(other).into_response(),
    }
}
