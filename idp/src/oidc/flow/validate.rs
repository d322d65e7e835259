//! Checking an authorization request against the client's registration, and where its answer
//! goes.
//!
//! The client and the redirect URI are checked first: until they match, nothing may be sent
//! to that URI, so those failures are [`Refusal::Page`]s. Every later failure is a
//! [`Refusal::Redirect`] that goes back to the client with `error`, `error_description`,
//! `state` and `iss` (RFC 9207). The same checks serve `/oauth2/authorize` and the PAR
//! endpoint, which answers with their JSON form.

use axum::response::Response;

use super::pages::{self, Lang};
use crate::authreq::{AUTH_REQUEST_TTL_SECS, AuthRequest, Prompt, ResponseMode};
use crate::claims::{
    RequestCheck, RequestRefusal, SCOPE_NAME, SCOPE_OPENID, SCOPE_PROFILE, scope_list,
};
use crate::clients::{Client, GRANT_AUTHORIZATION_CODE};
use crate::oidc::error::{ErrorCode, OAuthError, authorization_response};
use crate::oidc::params::Params;
use crate::{Idp, IdpError};

/// The length of an S256 code challenge: base64url of a SHA-256, without padding.
const S256_CHALLENGE_LEN: usize = 43;

/// Where the answer to an authorization request goes, once its redirect URI is trusted.
#[derive(Debug, Clone)]
pub(crate) struct ReturnTo {
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    pub(crate) response_mode: ResponseMode,
}

impl ReturnTo {
    /// Sends `error` back to the client, with `state` and `iss`.
    pub(crate) fn error(&self, idp: &Idp, error: OAuthError) -> Response {
        error.with_issuer(idp.ctx().config.issuer()).into_redirect(
            &self.redirect_uri,
            self.state.as_deref(),
            self.response_mode.as_str(),
        )
    }

    /// Sends a code back to the client, with `state` and `iss`.
    pub(crate) fn code(&self, idp: &Idp, code: &str) -> Response {
        let issuer = idp.ctx().config.issuer();
        let mut params = vec![("code", code)];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        params.push(("iss", &issuer));
        authorization_response(&self.redirect_uri, &params, self.response_mode.as_str())
    }
}

impl From<&AuthRequest> for ReturnTo {
    fn from(request: &AuthRequest) -> Self {
        Self {
            redirect_uri: request.redirect_uri.clone(),
            state: request.state.clone(),
            response_mode: request.response_mode,
        }
    }
}

/// Why an authorization request was not accepted.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The redirect URI is not trusted (yet): shown to the citizen as a page.
    Page(OAuthError),
    /// Sent back to the client's redirect URI.
    Redirect(ReturnTo, OAuthError),
    /// The server failed.
    Failed(IdpError),
}

impl From<IdpError> for Refusal {
    fn from(error: IdpError) -> Self {
        Self::Failed(error)
    }
}

impl Refusal {
    /// The answer to the browser: the page, or the redirect to the client.
    pub(crate) fn into_response(self, idp: &Idp, lang: Lang) -> Response {
        match self {
            Self::Page(error) => pages::invalid_request_page(lang, &error),
            Self::Redirect(to, error) => to.error(idp, error),
            Self::Failed(error) => pages::failure_page(lang, &error),
        }
    }
}

/// Checks an authorization request against the client's registration. `pushed` says the
/// parameters came from the PAR endpoint (where the client authenticated).
pub(crate) async fn validate(
    idp: &Idp,
    params: &Params,
    pushed: bool,
) -> Result<AuthRequest, Refusal> {
    let client_id = params.get("client_id").ok_or_else(|| {
        Refusal::Page(OAuthError::invalid_request(
            "the `client_id` parameter is required",
        ))
    })?;
    let client = idp.clients().get(client_id).await?.ok_or_else(|| {
        Refusal::Page(OAuthError::invalid_request(
            "the `client_id` is not a client registered here",
        ))
    })?;
    let (redirect_uri, redirect_uri_given) =
        trusted_redirect_uri(&client, params.get("redirect_uri")).map_err(Refusal::Page)?;

    // From here on the redirect URI is trusted and errors go back to the client.
    let state = params.get("state").map(str::to_owned);
    let response_mode = match params.get("response_mode") {
        None => ResponseMode::Query,
        Some(mode) => ResponseMode::parse(mode).ok_or_else(|| {
            Refusal::Redirect(
                ReturnTo {
                    redirect_uri: redirect_uri.clone(),
                    state: state.clone(),
                    response_mode: ResponseMode::Query,
                },
                OAuthError::invalid_request("`response_mode` must be `query` or `form_post`"),
            )
        })?,
    };
    let back = ReturnTo {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        response_mode,
    };
    let refuse = |error: OAuthError| Refusal::Redirect(back.clone(), error);
    let checked = check_parameters(&client, params, pushed).map_err(refuse)?;
    // The hint must be an ID token this server issued to this client; expired is fine
    // (OIDC Core §3.1.2.1).
    let hint_subject = match params.get("id_token_hint") {
        None => None,
        Some(hint) => {
            let hint = idp
                .tokens()
                .validate_id_token_hint(hint)
                .await
                .map_err(refuse)?;
            if hint.client_id != client.client_id {
                return Err(refuse(OAuthError::invalid_request(
                    "the `id_token_hint` was issued to another client",
                )));
            }
            Some(hint.sub)
        }
    };
    let authorization_details = params.get("authorization_details");
    let scopes = scope_list(&checked.scope);
    let terms = idp
        .ctx()
        .claims
        .check_request(
            idp,
            RequestCheck {
                client: &client,
                scopes: &scopes,
                authorization_details,
            },
        )
        .await
        .map_err(|refusal| match refusal {
            RequestRefusal::InvalidDetails(text) => refuse(OAuthError::new(
                ErrorCode::InvalidAuthorizationDetails,
                text,
            )),
            RequestRefusal::Unavailable(e) => {
                tracing::warn!(error = %e, "the claims provider failed");
                refuse(OAuthError::temporarily_unavailable())
            }
        })?;

    let now = idp.ctx().clock.unix();
    Ok(AuthRequest {
        id: clave_common::id::new_id(),
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        redirect_uri,
        redirect_uri_given,
        scope: checked.scope,
        state,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge: checked.code_challenge,
        response_mode,
        prompt: checked.prompt,
        max_age: checked.max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        acr_values: params.get("acr_values").map(str::to_owned),
        ui_locales: params.get("ui_locales").map(str::to_owned),
        prior_session_digest: None,
        authorization_details: authorization_details.map(str::to_owned),
        min_acr: terms.min_acr,
        hint_subject,
        consented_at: None,
        consent_ref: None,
        created_at: now,
        expires_at: now + AUTH_REQUEST_TTL_SECS,
    })
}

/// The redirect URI to answer at, and whether the request named it. Exact string match only;
/// a client with a single registered URI may leave it out.
fn trusted_redirect_uri(
    client: &Client,
    given: Option<&str>,
) -> Result<(String, bool), OAuthError> {
    match given {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => Ok((uri.to_owned(), true)),
        Some(_) => Err(OAuthError::invalid_request(
            "the `redirect_uri` is not registered for this client (it must match exactly)",
        )),
        None => match client.redirect_uris.as_slice() {
            [only] => Ok((only.clone(), false)),
            [] => Err(OAuthError::unauthorized_client(
                "this client has no redirect URI registered, so it cannot use the authorization endpoint",
            )),
            _ => Err(OAuthError::invalid_request(
                "the `redirect_uri` parameter is required: the client has several registered",
            )),
        },
    }
}

/// The parameters that remain once the redirect URI is trusted, checked.
#[derive(Debug, PartialEq, Eq)]
struct CheckedParameters {
    scope: String,
    code_challenge: Option<String>,
    prompt: Vec<Prompt>,
    max_age: Option<i64>,
}

fn check_parameters(
    client: &Client,
    params: &Params,
    pushed: bool,
) -> Result<CheckedParameters, OAuthError> {
    if !client.allows_grant(GRANT_AUTHORIZATION_CODE) {
        return Err(OAuthError::unauthorized_client(
            "this client is not registered for the authorization code grant",
        ));
    }
    if client.require_par && !pushed {
        return Err(OAuthError::invalid_request(
            "this client must push its authorization requests to the PAR endpoint first and send only `client_id` and `request_uri` here",
        ));
    }
    if params.has("request") {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects (the `request` parameter) are not supported; use PAR",
        ));
    }
    match params.get("response_type") {
        None => {
            return Err(OAuthError::invalid_request(
                "the `response_type` parameter is required",
            ));
        }
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only `response_type=code` is supported",
            ));
        }
    }
    let scope = check_scope(client, params.get("scope"))?;
    let code_challenge = check_pkce(client, params)?;
    let prompt = check_prompt(params.get("prompt"))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "`max_age` must be a whole number of seconds, 0 or more",
                    )
                })?,
        ),
    };
    Ok(CheckedParameters {
        scope,
        code_challenge,
        prompt,
        max_age,
    })
}

fn check_scope(client: &Client, scope: Option<&str>) -> Result<String, OAuthError> {
    let scope = scope.ok_or_else(|| {
        OAuthError::invalid_scope("the `scope` parameter is required and must include `openid`")
    })?;
    let scopes = scope_list(scope);
    if !scopes.iter().any(|s| s == SCOPE_OPENID) {
        return Err(OAuthError::invalid_scope(
            "the `scope` must include `openid`",
        ));
    }
    let registered = |s: &str| client.allows_scope(s);
    for s in &scopes {
        // `name` (ClaveÚnica) and `profile` are the same scope under two names.
        let allowed = s == SCOPE_OPENID
            || registered(s)
            || (s == SCOPE_NAME && registered(SCOPE_PROFILE))
            || (s == SCOPE_PROFILE && registered(SCOPE_NAME));
        if !allowed {
            return Err(OAuthError::invalid_scope(format!(
                "the scope `{s}` is not registered for this client"
            )));
        }
    }
    Ok(scopes.join(" "))
}

fn check_pkce(client: &Client, params: &Params) -> Result<Option<String>, OAuthError> {
    let challenge = params.get("code_challenge");
    match (challenge, params.get("code_challenge_method")) {
        (None, None) if client.public => Err(OAuthError::invalid_request(
            "PKCE is required for public clients: send `code_challenge` with `code_challenge_method=S256`",
        )),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "`code_challenge_method` was sent without `code_challenge`",
        )),
        (Some(_), None) => Err(OAuthError::invalid_request(
            "`code_challenge_method=S256` is required: the default, `plain`, is not accepted",
        )),
        (Some(_), Some(method)) if method != "S256" => Err(OAuthError::invalid_request(
            "only `code_challenge_method=S256` is accepted",
        )),
        (Some(challenge), Some(_)) => {
            let well_formed = challenge.len() == S256_CHALLENGE_LEN
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if well_formed {
                Ok(Some(challenge.to_owned()))
            } else {
                Err(OAuthError::invalid_request(
                    "`code_challenge` must be the base64url SHA-256 of the verifier: 43 characters of A-Z a-z 0-9 - _",
                ))
            }
        }
    }
}

fn check_prompt(prompt: Option<&str>) -> Result<Vec<Prompt>, OAuthError> {
    let mut prompts = Vec::new();
    for value in prompt
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        // One account per browser: there is never an account to choose.
        if value == "select_account" {
            continue;
        }
        let parsed = Prompt::parse(value).ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "`prompt` value `{value}` is not supported (use none, login or consent)"
            ))
        })?;
        if !prompts.contains(&parsed) {
            prompts.push(parsed);
        }
    }
    let has_none = prompts.contains(&Prompt::None);
    let others = prompt
        .unwrap_or_default()
        .split(' ')
        .any(|v| !v.is_empty() && v != "none");
    if has_none && others {
        return Err(OAuthError::invalid_request(
            "`prompt=none` cannot be combined with other prompt values",
        ));
    }
    Ok(prompts)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_none_stands_alone() {
        assert_eq!(check_prompt(None).unwrap(), vec![]);
        assert_eq!(
            check_prompt(Some("login consent")).unwrap(),
            vec![Prompt::Login, Prompt::Consent]
        );
        assert_eq!(check_prompt(Some("none")).unwrap(), vec![Prompt::None]);
        assert!(check_prompt(Some("none login")).is_err());
        assert!(check_prompt(Some("none select_account")).is_err());
        assert!(check_prompt(Some("bogus")).is_err());
        assert_eq!(check_prompt(Some("select_account")).unwrap(), vec![]);
    }
}
