//! `/oauth2/authorize` (GET and POST) and `/oauth2/authorize/resume`: validating an
//! authorization request, deciding whether the citizen must log in or approve, and answering
//! with a single-use code.
//!
//! Until the client and its redirect URI are known to match, nothing is sent to that URI: a
//! page explains the problem instead (an open redirector would otherwise be one request away).
//! After that, every error goes back to the client with `error`, `error_description`, `state`
//! and `iss` (RFC 9207).
//!
//! The validated request is stored and bound to the browser; the login and consent pages send
//! the browser back to `/oauth2/authorize/resume?req=<id>`, which runs the same decision again
//! with the session the browser now has.

use axum::body::Body;
use axum::extract::{Query, RawQuery, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages::{self, Lang};
use super::{browser_cookie, consent, current_session, grants, refuse_nul, session_cookie_digest};
use crate::authreq::{AUTH_REQUEST_TTL_SECS, AuthRequest, BROWSER_COOKIE, Prompt, ResponseMode};
use crate::claims::{SCOPE_NAME, SCOPE_OPENID, SCOPE_PROFILE, scope_list};
use crate::clients::{Client, GRANT_AUTHORIZATION_CODE};
use crate::oidc::error::{ErrorCode, OAuthError, authorization_response, no_store};
use crate::oidc::params::Params;
use crate::session::{LOA_1, LOA_2, LOA_3, Session};
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
    fn code(&self, idp: &Idp, code: &str) -> Response {
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
    fn into_response(self, idp: &Idp, lang: Lang) -> Response {
        match self {
            Self::Page(error) => pages::invalid_request_page(lang, &error),
            Self::Redirect(to, error) => to.error(idp, error),
            Self::Failed(error) => pages::failure_page(lang, &error),
        }
    }
}

/// `GET /oauth2/authorize`.
pub async fn authorize_get(
    State(idp): State<Idp>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::from_query(query.as_deref());
    authorize(&idp, &headers, params).await
}

/// `POST /oauth2/authorize` (the parameters as a form body).
pub async fn authorize_post(State(idp): State<Idp>, headers: HeaderMap, body: Body) -> Response {
    let params = Params::from_form(&headers, body).await;
    authorize(&idp, &headers, params).await
}

async fn authorize(idp: &Idp, headers: &HeaderMap, params: Result<Params, OAuthError>) -> Response {
    let ui_locales = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("ui_locales"))
        .map(str::to_owned);
    let lang = Lang::choose(headers, ui_locales.as_deref());
    let params = match params.and_then(|p| refuse_nul(&p).map(|()| p)) {
        Ok(params) => params,
        Err(error) => return pages::invalid_request_page(lang, &error),
    };
    let session = match current_session(idp, headers).await {
        Ok(session) => session,
        Err(error) => return pages::failure_page(lang, &error),
    };
    let prior = session.as_ref().and(session_cookie_digest(headers));
    let request = match accept(idp, params, prior).await {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(idp, lang),
    };
    let (binding, set_cookie) = browser_binding(idp, headers);
    if let Err(error) = idp.auth_requests().store(&request, &binding).await {
        return pages::failure_page(lang, &error);
    }
    let mut response = proceed(idp, headers, &request, session, lang).await;
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The `req` parameter of the resume endpoint.
#[derive(Debug, Deserialize)]
pub struct ResumeQuery {
    req: Option<String>,
}

/// `GET /oauth2/authorize/resume?req=<id>`: continues a stored request after the login or
/// consent page, in the browser that started it.
pub async fn resume(
    State(idp): State<Idp>,
    headers: HeaderMap,
    query: Result<Query<ResumeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let fallback = Lang::choose(&headers, None);
    let Some(id) = query.ok().and_then(|Query(q)| q.req) else {
        return pages::request_gone_page(fallback);
    };
    let request = match idp
        .auth_requests()
        .get_for_browser(&id, browser_cookie(&headers))
        .await
    {
        Ok(Some(request)) => request,
        Ok(None) => return pages::request_gone_page(fallback),
        Err(error) => return pages::failure_page(fallback, &error),
    };
    let lang = Lang::choose(&headers, request.ui_locales.as_deref());
    let session = match current_session(&idp, &headers).await {
        Ok(session) => session,
        Err(error) => return pages::failure_page(lang, &error),
    };
    proceed(&idp, &headers, &request, session, lang).await
}

/// What a stored request needs next.
#[derive(Debug)]
pub(crate) enum Step {
    /// The citizen must (again) type the password.
    Login,
    /// The citizen must approve the scopes.
    Consent,
    /// The request cannot be granted.
    Refuse(OAuthError),
    /// Everything is in place: issue a code for this session.
    Issue(Session),
}

/// Takes the next step of a stored request and answers the browser.
async fn proceed(
    idp: &Idp,
    headers: &HeaderMap,
    request: &AuthRequest,
    session: Option<Session>,
    lang: Lang,
) -> Response {
    let back = ReturnTo::from(request);
    let silent = request.prompts(Prompt::None);
    let cookie_digest = session_cookie_digest(headers);
    match next_step(idp, request, session, cookie_digest.as_deref()).await {
        Ok(Step::Login) if silent => back.error(
            idp,
            OAuthError::new(
                ErrorCode::LoginRequired,
                "the citizen must log in, and prompt=none forbids showing the login page",
            ),
        ),
        Ok(Step::Login) => see_other(&format!("/login?req={}", request.id)),
        Ok(Step::Consent) if silent => back.error(
            idp,
            OAuthError::new(
                ErrorCode::ConsentRequired,
                "the citizen has not approved these scopes, and prompt=none forbids asking",
            ),
        ),
        Ok(Step::Consent) => see_other(&format!("/consent?req={}", request.id)),
        Ok(Step::Refuse(error)) => {
            if let Err(e) = close_unanswered(idp, request).await {
                return pages::failure_page(lang, &e);
            }
            back.error(idp, error)
        }
        Ok(Step::Issue(session)) => match grants::issue_code(idp, request, &session).await {
            Ok(Some(code)) => back.code(idp, &code),
            // Another tab or node answered this request already.
            Ok(None) => pages::request_gone_page(lang),
            Err(error) => pages::failure_page(lang, &error),
        },
        Err(error) => pages::failure_page(lang, &error),
    }
}

async fn close_unanswered(idp: &Idp, request: &AuthRequest) -> Result<(), IdpError> {
    let mut conn = idp.ctx().db.pool().acquire().await?;
    idp.auth_requests().complete(&mut conn, &request.id).await?;
    Ok(())
}

/// Decides what `request` needs, given the browser's `session` and the digest of its session
/// cookie.
///
/// A login counts as fresh when the session cookie changed since the request came (a new
/// session, or a re-authentication, which replaces the token) at or after the request's time:
/// that satisfies `prompt=login`, `max_age` and step-up even within the same second.
pub(crate) async fn next_step(
    idp: &Idp,
    request: &AuthRequest,
    session: Option<Session>,
    cookie_digest: Option<&str>,
) -> Result<Step, IdpError> {
    let Some(session) = session else {
        return Ok(Step::Login);
    };
    let Some(client) = idp.clients().get(&request.client_id).await? else {
        return Ok(Step::Refuse(OAuthError::unauthorized_client(
            "the client is no longer registered",
        )));
    };
    let now = idp.ctx().clock.unix();
    let fresh = request.prior_session_digest.as_deref() != cookie_digest
        && session.auth_time >= request.created_at;
    let has = level(&session.acr);
    let demanded = client.min_acr.as_deref().map_or(0, level);
    let wanted = requested_level(request.acr_values.as_deref()).max(demanded);
    if !fresh {
        let too_old = request
            .max_age
            .is_some_and(|max_age| now.saturating_sub(session.auth_time) > max_age);
        if request.prompts(Prompt::Login) || too_old || has < wanted {
            return Ok(Step::Login);
        }
    } else if has < demanded {
        // `acr_values` is a wish (the ID token tells the client what it got); the client's
        // registered minimum is a requirement.
        return Ok(Step::Refuse(OAuthError::access_denied(
            "this client requires a stronger authentication level than the citizen could use",
        )));
    }
    let scopes = request.scopes();
    let approved = idp
        .scope_approvals()
        .approved(&session.account_id, &client.client_id)
        .await?;
    let asked_again = request.prompts(Prompt::Consent) && request.consented_at.is_none();
    if asked_again || !consent::covers(&approved, &scopes) {
        return Ok(Step::Consent);
    }
    Ok(Step::Issue(session))
}

/// The rank of an authentication level: 1 password, 2 password and a second factor, 3 a
/// passkey; 0 for a value clave does not know.
pub fn level(acr: &str) -> u8 {
    match acr {
        a if a == LOA_1 => 1,
        a if a == LOA_2 => 2,
        a if a == LOA_3 => 3,
        _ => 0,
    }
}

/// The level `acr_values` asks for: any listed level satisfies it, so the lowest known one.
fn requested_level(acr_values: Option<&str>) -> u8 {
    acr_values
        .into_iter()
        .flat_map(|v| v.split(' '))
        .map(level)
        .filter(|l| *l > 0)
        .min()
        .unwrap_or(0)
}

/// A 303 to one of clave's own pages.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(response.headers_mut());
    response
}

/// The browser's binding value, and the cookie to set when the browser had none.
fn browser_binding(idp: &Idp, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(existing) = browser_cookie(headers).filter(|v| is_binding_value(v)) {
        return (existing.to_owned(), None);
    }
    let value = clave_common::id::random_token(32);
    let secure = if idp.ctx().config.is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{BROWSER_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}");
    (value, HeaderValue::from_str(&cookie).ok())
}

/// Whether a cookie value looks like one clave made (so a planted value is replaced).
fn is_binding_value(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Resolves a pushed request, then validates the request and prepares it for storage.
async fn accept(
    idp: &Idp,
    params: Params,
    prior_session_digest: Option<String>,
) -> Result<AuthRequest, Refusal> {
    let (params, pushed) = if params.has("request_uri") {
        let client_id = params.get("client_id").ok_or_else(|| {
            Refusal::Page(OAuthError::invalid_request(
                "`client_id` is required with `request_uri`",
            ))
        })?;
        let request_uri = params.get("request_uri").unwrap_or_default();
        let pushed = super::par::take(idp, request_uri, client_id)
            .await
            .map_err(|e| match e {
                super::par::TakeError::Refused(error) => Refusal::Page(error),
                super::par::TakeError::Failed(error) => Refusal::Failed(error),
            })?;
        (pushed, true)
    } else {
        (params, false)
    };
    let mut request = validate(idp, &params, pushed).await?;
    request.prior_session_digest = prior_session_digest;
    Ok(request)
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
        consented_at: None,
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
    use crate::oidc::flow::testing::authorized;
    use crate::oidc::testing::test_idp;
    use crate::session::Authentication;
    use clave_common::id::token_digest;

    fn is_login(step: &Step) -> bool {
        matches!(step, Step::Login)
    }

    #[tokio::test]
    async fn a_login_counts_once_the_session_cookie_changed() {
        let (idp, _clock, _dir) = test_idp().await;
        let (_, session, cookie, mut request) = authorized(&idp).await;
        let digest = token_digest(&cookie);
        request.prompt = vec![Prompt::Login];
        request.prior_session_digest = Some(digest.clone());
        assert!(is_login(
            &next_step(&idp, &request, None, None).await.unwrap()
        ));
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(is_login(&step), "{step:?}");
        // Typing the password again replaces the cookie, within the same second.
        let (again, new_cookie) = idp
            .sessions()
            .reauthenticate(&session.id, Authentication::password())
            .await
            .unwrap()
            .unwrap();
        let step = next_step(
            &idp,
            &request,
            Some(again),
            Some(&token_digest(&new_cookie)),
        )
        .await
        .unwrap();
        // Logged in; nothing approved yet.
        assert!(matches!(step, Step::Consent), "{step:?}");
    }

    #[tokio::test]
    async fn max_age_and_approvals_decide_between_login_consent_and_a_code() {
        let (idp, clock, _dir) = test_idp().await;
        let (client, session, cookie, mut request) = authorized(&idp).await;
        let digest = token_digest(&cookie);
        request.prior_session_digest = Some(digest.clone());
        let mut conn = idp.ctx().db.pool().acquire().await.unwrap();
        idp.scope_approvals()
            .add(
                &mut conn,
                &session.account_id,
                &client.client_id,
                &request.scopes(),
            )
            .await
            .unwrap();
        drop(conn);
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(matches!(step, Step::Issue(_)), "{step:?}");
        request.prompt = vec![Prompt::Consent];
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(matches!(step, Step::Consent), "{step:?}");
        request.prompt = Vec::new();
        request.max_age = Some(60);
        clock.advance(time::Duration::seconds(61));
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(is_login(&step), "{step:?}");
        // A higher level than a password gives sends the citizen to log in (to step up).
        request.max_age = None;
        request.acr_values = Some(LOA_2.into());
        let step = next_step(&idp, &request, Some(session), Some(&digest))
            .await
            .unwrap();
        assert!(is_login(&step), "{step:?}");
    }

    #[test]
    fn levels_rank_password_below_second_factor_below_passkey() {
        assert!(level(LOA_1) < level(LOA_2));
        assert!(level(LOA_2) < level(LOA_3));
        assert_eq!(level("urn:other"), 0);
        assert_eq!(requested_level(None), 0);
        let both = format!("{LOA_3} {LOA_2}");
        assert_eq!(requested_level(Some(&both)), 2);
        assert_eq!(requested_level(Some("urn:unknown")), 0);
    }

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

    #[test]
    fn binding_values_must_look_generated() {
        assert!(is_binding_value(&clave_common::id::random_token(32)));
        assert!(!is_binding_value("short"));
        assert!(!is_binding_value(&"a;".repeat(22)[..43]));
    }
}
