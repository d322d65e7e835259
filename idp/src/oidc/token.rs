//! `POST /oauth2/token`: authenticates the client, then dispatches on `grant_type`.
//!
//! `authorization_code` and `refresh_token` are redeemed by the browser flow
//! ([`crate::oidc::flow::grants`]); `client_credentials` is answered here. That path is meant
//! to be fast (thousands of tokens per second per core): one read of the client, a keyed
//! digest check, and a signature with a key this node already holds — no password hash and no
//! database write, since the access token is a self-contained JWT.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use super::params::Params;
use super::tokens::{AccessTokenSpec, TokenResponse};
use crate::Idp;
use crate::clients::{
    Client, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN,
};

/// The token endpoint handler; the ClaveÚnica-compatible `/openid/token/` uses it too.
#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "oidc",
    request_body(content = crate::http::docs::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = crate::http::docs::TokenAnswer),
        (status = 400, description = "A malformed request, or a bad grant (`invalid_grant`, `unsupported_grant_type`, …)", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "The client failed to authenticate (`invalid_client`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security((), ("client_basic" = []))
)]
pub async fn token(State(idp): State<Idp>, headers: HeaderMap, body: Body) -> Response {
    match exchange(&idp, &headers, body).await {
        Ok(tokens) => tokens.into_response(),
        Err(error) => error.into_response(),
    }
}

/// Parses, authenticates and dispatches one token request.
pub async fn exchange(
    idp: &Idp,
    headers: &HeaderMap,
    body: Body,
) -> Result<TokenResponse, OAuthError> {
    let params = Params::from_form(headers, body).await?;
    let client = idp.clients().authenticate(headers, &params).await?;
    let grant_type = params.require("grant_type")?;
    let allowed = |grant: &str| {
        if client.allows_grant(grant) {
            Ok(())
        } else {
            Err(OAuthError::unauthorized_client(format!(
                "this client is not registered for the {grant} grant"
            )))
        }
    };
    match grant_type {
        GRANT_AUTHORIZATION_CODE => {
            allowed(grant_type)?;
            crate::oidc::flow::grants::redeem_code(idp, &client, &params).await
        }
        GRANT_REFRESH_TOKEN => {
            allowed(grant_type)?;
            crate::oidc::flow::grants::refresh(idp, &client, &params).await
        }
        GRANT_CLIENT_CREDENTIALS => {
            allowed(grant_type)?;
            client_credentials(idp, &client, &params).await
        }
        other => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {other:?} is not supported; use authorization_code, refresh_token or client_credentials"
        ))),
    }
}

/// The scope a `client_credentials` request gets: what it asked for, which must be within
/// its registration; or, when it asked for nothing, everything it is registered for. Scopes
/// that only make sense for a citizen (`openid`, `offline_access`) are refused.
fn service_scope(client: &Client, requested: Option<&str>) -> Result<String, OAuthError> {
    const CITIZEN_ONLY: &[&str] = &["openid", "offline_access"];
    let Some(requested) = requested else {
        let granted: Vec<&str> = client
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !CITIZEN_ONLY.contains(s))
            .collect();
        return Ok(granted.join(" "));
    };
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if CITIZEN_ONLY.contains(&scope) {
            return Err(OAuthError::invalid_scope(format!(
                "the {scope:?} scope needs a citizen; client_credentials has none"
            )));
        }
        if !client.allows_scope(scope) {
            return Err(OAuthError::invalid_scope(format!(
                "this client is not registered for the {scope:?} scope"
            )));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted.join(" "))
}

/// `grant_type=client_credentials` (RFC 6749 §4.4): an access token for the client itself;
/// no refresh token, no ID token.
async fn client_credentials(
    idp: &Idp,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let scope = service_scope(client, params.get("scope"))?;
    let issued = idp
        .tokens()
        .issue_access_token(AccessTokenSpec {
            client_id: client.client_id.clone(),
            subject: client.client_id.clone(),
            scope: scope.clone(),
            ..AccessTokenSpec::default()
        })
        .await?;
    Ok(TokenResponse {
        access_token: issued.token,
        token_type: "Bearer".into(),
        expires_in: issued.expires_in,
        refresh_token: None,
        id_token: None,
        scope: Some(scope),
        authorization_details: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::NewClient;
    use crate::oidc::testing::test_idp;

    #[tokio::test]
    async fn service_scopes_stay_within_the_registration() {
        let (idp, _clock, _dir) = test_idp().await;
        let client = idp
            .clients()
            .register(NewClient {
                name: "Svc".into(),
                redirect_uris: vec!["https://rp.example/cb".into()],
                scopes: vec!["profile".into(), "email".into()],
                grants: vec!["client_credentials".into()],
                ..NewClient::default()
            })
            .await
            .unwrap()
            .client;
        assert_eq!(service_scope(&client, None).unwrap(), "profile email");
        assert_eq!(
            service_scope(&client, Some("email email")).unwrap(),
            "email"
        );
        for bad in ["run", "openid", "profile admin"] {
            assert_eq!(
                service_scope(&client, Some(bad)).unwrap_err().code.as_str(),
                "invalid_scope",
                "{bad}"
            );
        }
    }
}
