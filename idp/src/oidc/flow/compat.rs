//! Drop-in compatibility with today's ClaveÚnica integration.
//!
//! Services integrated with ClaveÚnica call three endpoints with trailing slashes:
//! `/openid/authorize/`, `/openid/token/` and `/openid/userinfo/`, asking for the scopes
//! `openid run name`. clave serves the same paths:
//!
//! - `/openid/authorize/` is `/oauth2/authorize` (the same validation, login and consent);
//!   `name` is accepted as another name for `profile`.
//! - `/openid/token/` is `/oauth2/token` (the same client authentication and grants).
//! - `/openid/userinfo/` takes the access token as a bearer (POST, as ClaveÚnica documents;
//!   GET works too) and answers in ClaveÚnica's shape:
//!
//! ```json
//! {"sub": "…",
//!  "RolUnico": {"numero": 12345678, "DV": "5", "tipo": "RUN"},
//!  "name": {"nombres": ["María", "Carmen"], "apellidos": ["Del Río", "González"]}}
//! ```
//!
//! `RolUnico` comes with the `run` scope and `name` with `name` (or `profile`); family names
//! are split into surnames that keep their particles ([`super::names`]).
//!
//! To move, a service registers with clave (`clave client add` with its current redirect URI
//! and `--scope openid --scope run --scope name`), puts the new client id and secret in its
//! configuration, and replaces the ClaveÚnica base URL (`https://accounts.claveunica.gob.cl`)
//! with clave's public URL. Nothing else changes: paths, parameters, and response shapes are
//! the ones it already uses. ID tokens are signed with the keys published at
//! `/oauth2/jwks`, which a service that verifies them finds through discovery.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::authorize;
use super::names::{split_family_names, split_given_names};
use super::userinfo::{bearer, bearer_from_post, holder};
use crate::Idp;
use crate::claims::{SCOPE_RUN, releases_names, rol_unico};
use crate::oidc::error::{OAuthError, no_store};

/// The ClaveÚnica-compatible routes.
pub fn routes() -> Router<Idp> {
    Router::new()
        .route(
            "/openid/authorize/",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/openid/token/", post(token))
        .route("/openid/userinfo/", get(userinfo).post(userinfo))
}

/// `POST /openid/token/`: the token endpoint under ClaveÚnica's path.
#[utoipa::path(
    post,
    path = "/openid/token/",
    tag = "claveunica",
    request_body(content = crate::http::docs::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = crate::http::docs::TokenAnswer),
        (status = 400, description = "A malformed request, or a bad grant", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "The client failed to authenticate (`invalid_client`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn token(state: State<Idp>, headers: HeaderMap, body: Body) -> Response {
    crate::oidc::token::token(state, headers, body).await
}

/// `POST /openid/userinfo/` (and GET): the citizen in ClaveÚnica's shape.
#[utoipa::path(
    method(get, post),
    path = "/openid/userinfo/",
    tag = "claveunica",
    responses(
        (status = 200, description = "The citizen in ClaveÚnica's shape", body = crate::http::docs::CompatUserinfo),
        (status = 400, description = "A malformed request (a token in the URL, two tokens)", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "No valid access token (`invalid_token`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn userinfo(
    State(idp): State<Idp>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let answer = async {
        let token = if method == Method::POST {
            bearer_from_post(&headers, query.as_deref(), body).await?
        } else {
            bearer(&headers, query.as_deref(), None)?
        };
        let holder = holder(&idp, &token).await?;
        let mut body = Map::new();
        body.insert("sub".into(), Value::String(holder.subject));
        if holder.scopes.iter().any(|s| s == SCOPE_RUN) {
            body.insert("RolUnico".into(), rol_unico(&holder.account.run));
        }
        if releases_names(&holder.scopes) {
            body.insert(
                "name".into(),
                json!({
                    "nombres": split_given_names(&holder.account.given_names),
                    "apellidos": split_family_names(&holder.account.family_names),
                }),
            );
        }
        Ok::<_, OAuthError>(body)
    };
    match answer.await {
        Ok(body) => {
            let mut response = Json(body).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}
