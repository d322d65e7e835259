//! The idp's HTTP surface: the token service's endpoints merged with the browser flow's.

use axum::Router;
use axum::routing::{get, post};

use crate::Idp;
use crate::oidc::{discovery, flow, introspect, jwks, revoke, token};

/// Every OpenID Connect and OAuth endpoint, ready to merge into the server's router.
pub fn router(idp: Idp) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/oauth2/jwks", get(jwks::jwks))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/introspect", post(introspect::introspect))
        .route("/oauth2/revoke", post(revoke::revoke))
        .merge(flow::routes())
        .with_state(idp)
}
