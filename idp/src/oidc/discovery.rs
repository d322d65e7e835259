//! `/.well-known/openid-configuration`: the provider metadata of OpenID Connect Discovery 1.0,
//! with the fields of RFC 8414 (authorization server metadata), RFC 9126 (PAR), RFC 9207
//! (`iss` in authorization responses), RP-Initiated and Back-Channel Logout.
//!
//! Every value is derived from what the server actually does, so a certified client library
//! configured from this document alone works.

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Idp;
use crate::clients::{KNOWN_GRANTS, KNOWN_SCOPES};
use crate::keys::SigningAlg;
use crate::oidc::error::OAuthError;
use crate::session::{LOA_1, LOA_2, LOA_3};

/// Seconds a client may cache the metadata.
const CACHE_SECS: u32 = 300;

/// The claims clave can release: the protocol claims of its tokens and the idp's own claims
/// about a citizen (names, email, RUN).
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "sid",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "run",
    "rol_unico",
];

/// The metadata document for `issuer`.
pub fn metadata(issuer: &str) -> Value {
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let endpoint = |path: &str| format!("{issuer}{path}");
    let authenticated = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    json!({
        "issuer": issuer,
        "authorization_endpoint": endpoint("/oauth2/authorize"),
        "token_endpoint": endpoint("/oauth2/token"),
        "userinfo_endpoint": endpoint("/oauth2/userinfo"),
        "jwks_uri": endpoint("/oauth2/jwks"),
        "pushed_authorization_request_endpoint": endpoint("/oauth2/par"),
        "end_session_endpoint": endpoint("/oauth2/logout"),
        "introspection_endpoint": endpoint("/oauth2/introspect"),
        "revocation_endpoint": endpoint("/oauth2/revoke"),
        "scopes_supported": KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": KNOWN_GRANTS,
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": authenticated,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claim_types_supported": ["normal"],
        "acr_values_supported": [LOA_1, LOA_2, LOA_3],
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page"],
        "ui_locales_supported": ["es", "en"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": false,
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "frontchannel_logout_session_supported": false,
    })
}

/// `GET /.well-known/openid-configuration`: the static document, with the claims provider's
/// scopes, claims and `authorization_details` types added.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "oidc",
    responses(
        (status = 200, description = "The provider's metadata (OpenID Connect Discovery 1.0 §3, RFC 8414)", body = Object),
        (status = 503, description = "The claims provider is not answering", body = crate::http::docs::OAuthErrorBody),
    )
)]
pub async fn openid_configuration(State(idp): State<Idp>) -> Response {
    let mut doc = metadata(&idp.ctx().config.issuer());
    match idp.ctx().claims.metadata(&idp).await {
        Ok(extra) => {
            for (key, more) in [
                ("scopes_supported", extra.scopes),
                ("claims_supported", extra.claims),
            ] {
                if let Some(list) = doc[key].as_array_mut() {
                    for item in more {
                        let item = Value::String(item);
                        if !list.contains(&item) {
                            list.push(item);
                        }
                    }
                }
            }
            if !extra.authorization_details_types.is_empty() {
                doc["authorization_details_types_supported"] =
                    json!(extra.authorization_details_types);
            }
        }
        Err(error) => {
            tracing::warn!(%error, "the claims provider failed");
            return OAuthError::temporarily_unavailable().into_response();
        }
    }
    let mut response = axum::Json(doc).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={CACHE_SECS}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_from_the_issuer() {
        let doc = metadata("https://id.example");
        assert_eq!(doc["issuer"], "https://id.example");
        assert_eq!(doc["token_endpoint"], "https://id.example/oauth2/token");
        assert_eq!(doc["jwks_uri"], "https://id.example/oauth2/jwks");
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["ES256", "RS256"])
        );
        assert!(
            doc["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("openid"))
        );
    }
}
