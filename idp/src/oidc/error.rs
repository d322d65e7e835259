//! The OAuth 2.0 / OpenID Connect error: an RFC 6749 §5.2 (or OIDC Core §3.1.2.6) `error` code
//! with a description that tells the client developer what to fix.
//!
//! At the token, introspection and revocation endpoints it is a JSON body with the status the
//! RFCs call for (400; 401 with `WWW-Authenticate` for client and bearer-token failures). At the
//! authorization endpoint, once the redirect URI is trusted, it travels back to the client in
//! the authorization response ([`OAuthError::into_redirect`]). Internal detail never goes out:
//! [`OAuthError::server_error`] logs it and sends a fixed sentence.

use std::fmt;

use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// The `error` codes clave sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A parameter is missing, repeated, malformed or not allowed.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The code, refresh token or other grant is invalid, expired, used or revoked.
    InvalidGrant,
    /// The client may not use this grant type or feature.
    UnauthorizedClient,
    /// The grant type is not one clave supports.
    UnsupportedGrantType,
    /// The response type is not one clave supports.
    UnsupportedResponseType,
    /// The scope is unknown, malformed or beyond what the client may ask.
    InvalidScope,
    /// The citizen or the server refused the request.
    AccessDenied,
    /// The server failed; the detail is in its log.
    ServerError,
    /// The server is overloaded or a dependency is down; retry later.
    TemporarilyUnavailable,
    /// `prompt=none` but the citizen must log in.
    LoginRequired,
    /// `prompt=none` but the citizen must approve.
    ConsentRequired,
    /// `prompt=none` but the citizen must interact.
    InteractionRequired,
    /// The `request_uri` is unknown, expired or used.
    InvalidRequestUri,
    /// The `request` parameter (request objects) is not supported.
    RequestNotSupported,
    /// A `request_uri` not obtained from the PAR endpoint.
    RequestUriNotSupported,
    /// The bearer token is invalid, expired or revoked (RFC 6750).
    InvalidToken,
    /// The bearer token lacks the scope the resource needs (RFC 6750).
    InsufficientScope,
    /// The `authorization_details` are malformed or ask for what may not be asked (RFC 9396).
    InvalidAuthorizationDetails,
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
        }
    }

    /// The HTTP status of a direct (JSON) error response with this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which authentication challenge a 401 carries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    /// The client used HTTP Basic (RFC 6749 §5.2 requires the challenge then).
    Basic,
    /// A bearer token was refused (RFC 6750 §3).
    Bearer,
    /// No credentials were sent at all: the challenge names no error (RFC 6750 §3.1).
    BearerMissing,
}

/// An OAuth 2.0 / OpenID Connect protocol error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The `error` code.
    pub code: ErrorCode,
    /// The `error_description`: what is wrong, for the client's developer.
    pub description: String,
    challenge: Option<Challenge>,
    issuer: Option<String>,
}

/// The longest description sent; longer ones (which could echo hostile input) are cut.
const MAX_DESCRIPTION: usize = 300;

impl OAuthError {
    /// An error with any code.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            challenge: None,
            issuer: None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` (401).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `unauthorized_client`.
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }

    /// `unsupported_grant_type`.
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedGrantType, description)
    }

    /// `invalid_scope`.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    /// `access_denied`.
    pub fn access_denied(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::AccessDenied, description)
    }

    /// `invalid_token` (401 with a `Bearer` challenge).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, description).with_bearer_challenge()
    }

    /// 401 for a request to a protected resource that carried no access token at all.
    pub fn token_missing(description: impl Into<String>) -> Self {
        let mut error = Self::new(ErrorCode::InvalidToken, description);
        error.challenge = Some(Challenge::BearerMissing);
        error
    }

    /// `temporarily_unavailable` (503): the database or another dependency is not answering.
    pub fn temporarily_unavailable() -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the service is temporarily unavailable; retry shortly",
        )
    }

    /// `server_error` (500), logging `detail`, which is never sent.
    pub fn server_error(detail: impl fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error at an OAuth endpoint");
        Self::new(
            ErrorCode::ServerError,
            "an internal error occurred; it has been logged",
        )
    }

    /// Marks the error as answering an HTTP Basic attempt: the 401 then carries
    /// `WWW-Authenticate: Basic`.
    pub fn with_basic_challenge(mut self) -> Self {
        self.challenge = Some(Challenge::Basic);
        self
    }

    /// Marks the error as refusing a bearer token: the response carries
    /// `WWW-Authenticate: Bearer error="…"`.
    pub fn with_bearer_challenge(mut self) -> Self {
        self.challenge = Some(Challenge::Bearer);
        self
    }

    /// Adds the issuer to the authorization response (`iss`, RFC 9207). Every error sent
    /// through [`OAuthError::into_redirect`] should carry it: discovery promises it.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The HTTP status of the direct response.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The description as it may be sent: the RFC 6749 character set, bounded length.
    pub fn safe_description(&self) -> String {
        let mut text: String = self
            .description
            .chars()
            .map(|c| match c {
                '"' => '\'',
                '\\' => '/',
                ' '..='~' => c,
                _ => '?',
            })
            .take(MAX_DESCRIPTION)
            .collect();
        if self.description.chars().count() > MAX_DESCRIPTION {
            text.push_str("...");
        }
        text
    }

    /// The error as the parameters of an authorization response: `error`,
    /// `error_description`, then `state` and `iss` when known.
    pub fn response_params(&self, state: Option<&str>) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("error", self.code.as_str().to_owned()),
            ("error_description", self.safe_description()),
        ];
        if let Some(state) = state {
            params.push(("state", state.to_owned()));
        }
        if let Some(issuer) = &self.issuer {
            params.push(("iss", issuer.clone()));
        }
        params
    }

    /// The error sent back to the client's (already trusted) redirect URI, in the
    /// `response_mode` of the request (`query`, or `form_post`). Call
    /// [`OAuthError::with_issuer`] first.
    pub fn into_redirect(
        self,
        redirect_uri: &str,
        state: Option<&str>,
        response_mode: &str,
    ) -> Response {
        let params = self.response_params(state);
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        authorization_response(redirect_uri, &borrowed, response_mode)
    }
}

/// The path of the portal's script that submits a `form_post` response form; the form also
/// has a visible button, so it works without scripts.
pub const FORM_POST_SCRIPT: &str = "/static/form-post.js";

/// An authorization response (success or error) delivered to `redirect_uri`: a 303 redirect
/// with the parameters added to its query for `query`, or a page with a self-submitting form
/// for `form_post` (OAuth 2.0 Form Post Response Mode).
pub fn authorization_response(
    redirect_uri: &str,
    params: &[(&str, &str)],
    response_mode: &str,
) -> Response {
    if response_mode == "form_post" {
        return form_post_page(redirect_uri, params);
    }
    let target = match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
            }
            url.to_string()
        }
        // The URI was validated at registration; a broken one is our fault, not the client's.
        Err(e) => {
            return OAuthError::server_error(format!(
                "registered redirect URI does not parse: {e}"
            ))
            .into_response();
        }
    };
    let mut response = Redirect::to(&target).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    no_store(response.headers_mut());
    response
}

fn form_post_page(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut fields = String::new();
    for (name, value) in params {
        fields.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape_html(name),
            escape_html(value)
        ));
    }
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"es\">\n<head><meta charset=\"utf-8\">\
         <title>Volviendo al servicio</title>\
         <script src=\"{FORM_POST_SCRIPT}\" defer></script></head>\n<body>\n\
         <form method=\"post\" action=\"{}\" id=\"form-post\">\n{fields}\
         <button type=\"submit\">Continuar / Continue</button>\n</form>\n</body>\n</html>\n",
        escape_html(redirect_uri)
    );
    let mut response = Html(page).into_response();
    no_store(response.headers_mut());
    // The form posts to the client's origin, and only there.
    let target = url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".into());
    let policy = format!(
        "default-src 'none'; script-src 'self'; form-action {target}; base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Escapes text for an HTML attribute or element.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Marks a response as never to be stored (RFC 6749 §5.1): tokens and errors alike.
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let description = self.safe_description();
        let body = ErrorBody {
            error: self.code.as_str(),
            error_description: &description,
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        let challenge = match self.challenge {
            Some(Challenge::Basic) => Some("Basic realm=\"clave\", charset=\"UTF-8\"".to_owned()),
            Some(Challenge::Bearer) => Some(format!(
                "Bearer realm=\"clave\", error=\"{}\", error_description=\"{description}\"",
                self.code.as_str()
            )),
            Some(Challenge::BearerMissing) => Some("Bearer realm=\"clave\"".to_owned()),
            None => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(err: sqlx::Error) -> Self {
        if clave_common::http::is_unstorable_text(&err) {
            Self::invalid_request(
                "the request contains a character that cannot be stored (such as NUL)",
            )
        } else if clave_common::http::is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Self::temporarily_unavailable()
        } else {
            Self::server_error(err)
        }
    }
}

impl From<crate::IdpError> for OAuthError {
    /// A failure of an idp service while answering a protocol request: the database being
    /// away is `temporarily_unavailable`, anything else a logged `server_error`.
    fn from(err: crate::IdpError) -> Self {
        match err {
            crate::IdpError::Db(e) => Self::from(e),
            other => Self::server_error(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(
            OAuthError::invalid_request("x").status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            OAuthError::invalid_grant("x").status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            OAuthError::invalid_client("x").status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            OAuthError::invalid_token("x").status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            OAuthError::new(ErrorCode::InsufficientScope, "x").status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn a_request_without_a_token_gets_a_challenge_without_an_error_code() {
        let response = OAuthError::token_missing("send a token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"clave\""
        );
    }

    #[test]
    fn basic_failures_carry_a_basic_challenge() {
        let response = OAuthError::invalid_client("wrong secret")
            .with_basic_challenge()
            .into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let plain = OAuthError::invalid_client("x").into_response();
        assert!(plain.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn descriptions_are_cut_and_cleaned() {
        let hostile = format!("bad \"value\" \u{1F600}\n{}", "x".repeat(1000));
        let text = OAuthError::invalid_request(hostile).safe_description();
        assert!(text.len() <= MAX_DESCRIPTION + 3);
        assert!(
            text.chars()
                .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
        );
    }

    #[test]
    fn redirects_carry_error_state_and_issuer() {
        let response = OAuthError::access_denied("the citizen said no")
            .with_issuer("https://id.example")
            .into_redirect("https://rp.example/cb?x=1", Some("s t"), "query");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        let url = url::Url::parse(location).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("x".into(), "1".into()));
        assert!(pairs.contains(&("error".into(), "access_denied".into())));
        assert!(pairs.contains(&("state".into(), "s t".into())));
        assert!(pairs.contains(&("iss".into(), "https://id.example".into())));
    }

    #[tokio::test]
    async fn form_post_escapes_values() {
        let response = authorization_response(
            "https://rp.example/cb",
            &[("state", "\"><script>")],
            "form_post",
        );
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            policy.contains("form-action https://rp.example;"),
            "{policy}"
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            page.contains("value=\"&quot;&gt;&lt;script&gt;\""),
            "{page}"
        );
        assert!(!page.contains("\"><script>"));
        assert!(page.contains("action=\"https://rp.example/cb\""));
    }
}
