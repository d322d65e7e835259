//! Bearer tokens at clave's own JSON APIs (the wallet, the mailbox, signing): one place that
//! reads `Authorization: Bearer …`, validates the access token, requires a scope and says in
//! the answer what the caller must fix.

use axum::http::{HeaderMap, header};
use clave_common::http::ApiError;

use crate::clients::Client;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::{Idp, IdpError};

/// Who a valid bearer token stands for.
#[derive(Debug, Clone)]
pub struct Bearer {
    /// The client the token was issued to.
    pub client: Client,
    /// The citizen, for a token from a citizen's login; none for a service's own token.
    pub account_id: Option<String>,
    /// The level the citizen authenticated at, for a citizen's token.
    pub acr: Option<String>,
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e.code {
            ErrorCode::InvalidToken => ApiError::invalid_token(e.description),
            ErrorCode::TemporarilyUnavailable => ApiError::unavailable(),
            ErrorCode::ServerError => ApiError::internal(e.description),
            _ => ApiError::invalid_request(e.description),
        }
    }
}

/// The API error for an idp failure behind a bearer check.
fn failure(e: IdpError) -> ApiError {
    match e {
        IdpError::Db(e) => ApiError::from(e),
        other => ApiError::internal(other),
    }
}

impl Idp {
    /// Validates the request's bearer token and requires `scope` in it.
    pub async fn bearer(&self, headers: &HeaderMap, scope: &str) -> Result<Bearer, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                let mut e = ApiError::invalid_token(format!(
                    "an access token with the scope `{scope}` is required: send `Authorization: Bearer <token>`"
                ));
                e.challenge = Some("Bearer".into());
                e
            })?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::invalid_token(
                "the Authorization header must be `Bearer <access token>`",
            ));
        }
        let claims = self.tokens().validate_access_token(token.trim()).await?;
        if !claims.scopes().contains(&scope) {
            let mut e = ApiError::forbidden(
                "insufficient_scope",
                format!("this API needs an access token with the scope `{scope}`"),
            );
            e.challenge = Some(format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
            ));
            return Err(e);
        }
        let client = self
            .clients()
            .get(&claims.client_id)
            .await
            .map_err(failure)?
            .ok_or_else(|| ApiError::invalid_token("the token's client is no longer registered"))?;
        Ok(Bearer {
            client,
            account_id: claims.account_id,
            acr: claims.acr,
        })
    }

    /// A service calling for itself: a client-credentials token with `scope`, not a
    /// citizen's.
    pub async fn service_bearer(
        &self,
        headers: &HeaderMap,
        scope: &str,
    ) -> Result<Client, ApiError> {
        let bearer = self.bearer(headers, scope).await?;
        if bearer.account_id.is_some() {
            return Err(ApiError::forbidden(
                "invalid_token",
                "this API is for services: use a client_credentials token, not a citizen's",
            ));
        }
        Ok(bearer.client)
    }
}
