//! `/oauth2/userinfo` (GET and POST): the claims about the citizen that the access token's
//! scopes release, plus whatever the [`crate::claims::ClaimsProvider`] adds.
//!
//! The bearer token comes in the `Authorization` header, or for POST as the `access_token`
//! form field (RFC 6750 §2.1–2.2), never in the URL, where logs and `Referer` headers would
//! keep it. Each call validates the token afresh, so a revoked or logged-out token is refused
//! at once.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::Idp;
use crate::accounts::Account;
use crate::claims::{Channel, Claims, ClaimsRequest, SCOPE_OPENID, scope_list, standard_claims};
use crate::clients::Client;
use crate::oidc::error::{ErrorCode, OAuthError, no_store};
use crate::oidc::params::{Params, is_form};

/// `GET /oauth2/userinfo`.
#[utoipa::path(
    get,
    path = "/oauth2/userinfo",
    tag = "oidc",
    responses(
        (status = 200, description = "The claims the token's scopes and the citizen's consent release (OpenID Connect Core §5.3)", body = Object),
        (status = 400, description = "A malformed request (a token in the URL, two tokens)", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "No valid access token (`invalid_token`)", body = crate::http::docs::OAuthErrorBody),
        (status = 403, description = "The token lacks the `openid` scope (`insufficient_scope`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn userinfo_get(
    State(idp): State<Idp>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(async {
        let token = bearer(&headers, query.as_deref(), None)?;
        oidc_claims(&idp, &token).await
    })
    .await
}

/// `POST /oauth2/userinfo`.
#[utoipa::path(
    post,
    path = "/oauth2/userinfo",
    tag = "oidc",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "Empty, or `access_token` instead of the Authorization header (RFC 6750 §2.2)"),
    responses(
        (status = 200, description = "The claims the token's scopes and the citizen's consent release (OpenID Connect Core §5.3)", body = Object),
        (status = 400, description = "A malformed request (a token in the URL, two tokens)", body = crate::http::docs::OAuthErrorBody),
        (status = 401, description = "No valid access token (`invalid_token`)", body = crate::http::docs::OAuthErrorBody),
        (status = 403, description = "The token lacks the `openid` scope (`insufficient_scope`)", body = crate::http::docs::OAuthErrorBody),
        (status = 503, description = "The database is not answering", body = crate::http::docs::OAuthErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn userinfo_post(
    State(idp): State<Idp>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    answer(async {
        let token = bearer_from_post(&headers, query.as_deref(), body).await?;
        oidc_claims(&idp, &token).await
    })
    .await
}

async fn answer(claims: impl Future<Output = Result<Claims, OAuthError>>) -> Response {
    match claims.await {
        Ok(claims) => {
            let mut response = Json(claims).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => error.into_response(),
    }
}

/// The bearer token of a POST: the header, or the `access_token` form field.
pub(crate) async fn bearer_from_post(
    headers: &HeaderMap,
    query: Option<&str>,
    body: Body,
) -> Result<String, OAuthError> {
    let form = if is_form(headers) {
        Some(Params::from_form(headers, body).await?)
    } else {
        None
    };
    bearer(headers, query, form.as_ref())
}

/// The access token of a request, from exactly one place.
pub(crate) fn bearer(
    headers: &HeaderMap,
    query: Option<&str>,
    form: Option<&Params>,
) -> Result<String, OAuthError> {
    let in_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("access_token"))
    });
    if in_query {
        return Err(OAuthError::invalid_request(
            "send the access token in the Authorization header, never in the URL",
        ));
    }
    let from_header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().unwrap_or_default();
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            let token = token.trim();
            if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
                return Err(OAuthError::invalid_token(
                    "the Authorization header must be `Bearer <access token>`",
                ));
            }
            Some(token.to_owned())
        }
    };
    let from_form = form.and_then(|f| f.get("access_token")).map(str::to_owned);
    match (from_header, from_form) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "send the access token once: in the Authorization header or the form, not both",
        )),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(OAuthError::token_missing(
            "an access token is required: send `Authorization: Bearer <token>`",
        )),
    }
}

/// Who and what a valid access token stands for.
pub(crate) struct Holder {
    /// The `sub` the client knows the citizen by.
    pub(crate) subject: String,
    /// The citizen.
    pub(crate) account: Account,
    /// The client the token was issued to.
    pub(crate) client: Client,
    /// The token's scopes.
    pub(crate) scopes: Vec<String>,
    /// The consent its grant releases data under.
    pub(crate) consent_ref: Option<String>,
    /// The level of assurance of its grant.
    pub(crate) acr: Option<String>,
}

/// Validates a citizen's access token that carries `openid` and finds what it stands for.
pub(crate) async fn holder(idp: &Idp, token: &str) -> Result<Holder, OAuthError> {
    let (claims, account, client) = idp.tokens().validate_with_holder(token).await?;
    let scopes = scope_list(&claims.scope);
    if !scopes.iter().any(|s| s == SCOPE_OPENID) {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "userinfo needs an access token with the `openid` scope",
        )
        .with_bearer_challenge());
    }
    let account = account.ok_or_else(|| {
        OAuthError::invalid_token("the access token does not stand for a citizen")
    })?;
    Ok(Holder {
        subject: claims.sub,
        account,
        client,
        scopes,
        consent_ref: claims.consent_ref,
        acr: claims.acr,
    })
}

async fn oidc_claims(idp: &Idp, token: &str) -> Result<Claims, OAuthError> {
    let holder = holder(idp, token).await?;
    let mut claims = Claims::new();
    claims.insert("sub".into(), holder.subject.clone().into());
    claims.extend(standard_claims(&holder.account, &holder.scopes));
    let extra = idp
        .ctx()
        .claims
        .extra_claims(
            idp,
            ClaimsRequest {
                account: &holder.account,
                client: &holder.client,
                scopes: &holder.scopes,
                consent_ref: holder.consent_ref.as_deref(),
                acr: holder.acr.as_deref(),
                channel: Channel::Userinfo,
            },
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "the claims provider failed");
            OAuthError::temporarily_unavailable()
        })?;
    for (name, value) in extra {
        claims.entry(name).or_insert(value);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{ClaimsFuture, ClaimsProvider};
    use crate::oidc::flow::testing::authorized;
    use crate::oidc::testing::{ctx_like, test_idp};
    use axum::http::HeaderValue;
    use serde_json::json;

    /// A provider like the wallet's: one claim of its own, and one that tries to replace `sub`.
    #[derive(Debug)]
    struct Wallet;

    impl ClaimsProvider for Wallet {
        fn extra_claims<'a>(
            &'a self,
            _idp: &'a Idp,
            request: ClaimsRequest<'a>,
        ) -> ClaimsFuture<'a> {
            let mut claims = Claims::new();
            claims.insert(
                "health_tier".into(),
                json!(format!("A for {}", request.client.name)),
            );
            claims.insert("sub".into(), json!("someone else"));
            Box::pin(std::future::ready(Ok(claims)))
        }
    }

    #[tokio::test]
    async fn claims_follow_the_scopes_and_providers_only_add() {
        let (idp, _clock, _dir) = test_idp().await;
        let (client, session, _, request) = authorized(&idp).await;
        let code = crate::oidc::flow::grants::issue_code(&idp, &request, &session, None)
            .await
            .unwrap()
            .unwrap();
        let params: Params = [
            ("code", code.as_str()),
            ("redirect_uri", crate::oidc::flow::testing::URI),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let tokens = crate::oidc::flow::grants::redeem_code(&idp, &client, &params)
            .await
            .unwrap();
        let plain = oidc_claims(&idp, &tokens.access_token).await.unwrap();
        assert_eq!(plain["given_name"], "María");
        assert_eq!(plain["name"], "María Soto");
        // Not granted: neither the RUN nor the email.
        assert!(plain.get("run").is_none() && plain.get("email").is_none());
        assert!(plain.get("health_tier").is_none());

        let mut ctx = ctx_like(idp.ctx());
        ctx.claims = std::sync::Arc::new(Wallet);
        let with_wallet = Idp::new(ctx);
        let claims = oidc_claims(&with_wallet, &tokens.access_token)
            .await
            .unwrap();
        assert_eq!(claims["health_tier"], "A for Servicio");
        assert_eq!(claims["sub"], plain["sub"]);
    }

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_token_comes_from_one_place_and_never_the_url() {
        assert_eq!(bearer(&with_auth("Bearer abc"), None, None).unwrap(), "abc");
        assert_eq!(
            bearer(&with_auth("bearer  abc "), None, None).unwrap(),
            "abc"
        );
        let err = bearer(&with_auth("Basic abc"), None, None).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidToken);
        let err = bearer(&HeaderMap::new(), Some("access_token=abc"), None).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let form = Params::parse(b"access_token=xyz").unwrap();
        assert_eq!(bearer(&HeaderMap::new(), None, Some(&form)).unwrap(), "xyz");
        let err = bearer(&with_auth("Bearer abc"), None, Some(&form)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        let err = bearer(&HeaderMap::new(), None, None).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidToken);
    }
}
