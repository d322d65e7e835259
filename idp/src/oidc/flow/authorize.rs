//! `/oauth2/authorize` (GET and POST) and `/oauth2/authorize/resume`: taking an
//! authorization request in, deciding whether the citizen must log in or approve, and
//! answering with a single-use code.
//!
//! The request is validated ([`super::validate`]), stored and bound to the browser; the login
//! and consent pages send the browser back to `/oauth2/authorize/resume?req=<id>`, which runs
//! the same decision again with the session the browser now has.

use axum::body::Body;
use axum::extract::{Query, RawQuery, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages::{self, Lang};
use super::validate::{Refusal, ReturnTo, validate};
use super::{browser_cookie, consent, current_session, grants, session_cookie_digest};
use crate::authreq::{AuthRequest, BROWSER_COOKIE, Prompt};
use crate::claims::{ConsentQuery, ConsentState};
use crate::factors::LevelNeed;
use crate::oidc::error::{ErrorCode, OAuthError, no_store};
use crate::oidc::params::Params;
use crate::session::Session;
use crate::{Idp, IdpError};

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
    let lang = Lang::choose(None, headers, ui_locales.as_deref());
    // `Params` already refuses NUL and other undecodable input.
    let params = match params {
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
    let fallback = Lang::choose(None, &headers, None);
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
    let lang = Lang::choose(None, &headers, request.ui_locales.as_deref());
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
    /// The citizen must add a second factor to the session (step-up).
    SecondFactor,
    /// The client was removed since the request came in: its redirect URI is no longer
    /// trusted, so the browser is told on a page instead.
    ClientGone,
    /// Everything is in place: issue a code for this session, releasing data under the
    /// consent named, if any.
    Issue(Box<Session>, Option<String>),
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
        Ok(Step::SecondFactor) if silent => back.error(
            idp,
            OAuthError::new(
                ErrorCode::InteractionRequired,
                "the citizen must use a second factor, and prompt=none forbids asking",
            ),
        ),
        Ok(Step::SecondFactor) => see_other(&format!("/login/second-factor?req={}", request.id)),
        Ok(Step::ClientGone) => {
            if let Err(e) = close_unanswered(idp, request).await {
                return pages::failure_page(lang, &e);
            }
            pages::invalid_request_page(
                lang,
                &OAuthError::unauthorized_client("the service is no longer registered"),
            )
        }
        Ok(Step::Issue(session, consent)) => {
            match grants::issue_code(idp, request, &session, consent.as_deref()).await {
                Ok(Some(code)) => back.code(idp, &code),
                // Another tab or node answered this request already.
                Ok(None) => pages::request_gone_page(lang),
                Err(error) => pages::failure_page(lang, &error),
            }
        }
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
        return Ok(Step::ClientGone);
    };
    let now = idp.ctx().clock.unix();
    let fresh = request.prior_session_digest.as_deref() != cookie_digest
        && session.auth_time >= request.created_at;
    let has = level(&session.acr);
    let summary = idp.factors().summary(&session.account_id).await?;
    let need = level_need(client.min_acr.as_deref(), request, &summary);
    if !fresh {
        // The client expects someone else (`id_token_hint`): that citizen must log in.
        if request
            .hint_subject
            .as_deref()
            .is_some_and(|sub| sub != client.subject_for_account(&session.account_id))
        {
            return Ok(Step::Login);
        }
        // `max_age=0` asks for a login now, like `prompt=login` (OIDC Core §3.1.2.1).
        let too_old = request
            .max_age
            .is_some_and(|max_age| max_age == 0 || now.saturating_sub(session.auth_time) > max_age);
        if request.prompts(Prompt::Login) || too_old {
            return Ok(Step::Login);
        }
    }
    // The password holds (or was just typed): ask only for the missing factor. A level the
    // client merely wished for (`acr_values`) and the citizen cannot reach is let go, and the
    // ID token says what was reached; a required one leads to the page that explains how to
    // get it (see `clave_idp::factors`).
    if need.step_up_to(has, summary.reachable()).is_some() {
        return Ok(Step::SecondFactor);
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
    if request.consented_at.is_some() {
        return Ok(Step::Issue(Box::new(session), request.consent_ref.clone()));
    }
    let Some(account) = idp.accounts().get(&session.account_id).await? else {
        return Ok(Step::Login);
    };
    let state = idp
        .ctx()
        .claims
        .consent_state(
            idp,
            ConsentQuery {
                account: &account,
                client: &client,
                request,
            },
        )
        .await
        .map_err(|e| IdpError::Internal(format!("the claims provider failed: {e}")))?;
    match state {
        ConsentState::Ask => Ok(Step::Consent),
        ConsentState::Covered(consent) => Ok(Step::Issue(Box::new(session), Some(consent))),
        ConsentState::NotNeeded => Ok(Step::Issue(Box::new(session), None)),
    }
}

/// The levels `request` wants and requires of a citizen with factors `summary`: the client's
/// registered minimum `client_min_acr`, the level the requested data needs, and the
/// request's `acr_values`.
pub fn level_need(
    client_min_acr: Option<&str>,
    request: &AuthRequest,
    summary: &crate::factors::FactorSummary,
) -> LevelNeed {
    LevelNeed::of(
        stronger(client_min_acr, request.min_acr.as_deref()),
        request.acr_values.as_deref(),
        summary,
    )
}

/// The stronger of two required levels of assurance.
fn stronger<'a>(a: Option<&'a str>, b: Option<&'a str>) -> Option<&'a str> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if level(b) > level(a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The rank of an authentication level: 1 password, 2 password and a second factor, 3 a
/// passkey; 0 for a value clave does not know.
pub fn level(acr: &str) -> u8 {
    crate::factors::rank(acr)
}

/// Ends request `request_id` of this browser with `access_denied` for the service: the
/// citizen could not reach the level it requires and chose to go back. `None` when the
/// request is gone (answered, lapsed, or another browser's).
pub async fn give_up_step_up(
    idp: &Idp,
    request_id: &str,
    headers: &HeaderMap,
) -> Result<Option<Response>, IdpError> {
    let Some(request) = idp
        .auth_requests()
        .get_for_browser(request_id, browser_cookie(headers))
        .await?
    else {
        return Ok(None);
    };
    close_unanswered(idp, &request).await?;
    Ok(Some(ReturnTo::from(&request).error(
        idp,
        OAuthError::access_denied(
            "the citizen has no second factor of the level this client requires",
        ),
    )))
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::flow::testing::authorized;
    use crate::oidc::testing::test_idp;
    use crate::session::Authentication;
    use crate::session::{LOA_1, LOA_2, LOA_3};
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
        assert!(matches!(step, Step::Issue(..)), "{step:?}");
        request.prompt = vec![Prompt::Consent];
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(matches!(step, Step::Consent), "{step:?}");
        request.prompt = Vec::new();
        request.max_age = Some(0);
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(is_login(&step), "{step:?}");
        request.max_age = Some(60);
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(matches!(step, Step::Issue(..)), "{step:?}");
        clock.advance(time::Duration::seconds(61));
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(is_login(&step), "{step:?}");
        // A higher level is a wish the citizen cannot meet without a second factor: the code
        // comes at the level reached. Once there is a factor, it is asked for (step-up).
        request.max_age = None;
        request.acr_values = Some(LOA_2.into());
        let step = next_step(&idp, &request, Some(session.clone()), Some(&digest))
            .await
            .unwrap();
        assert!(matches!(step, Step::Issue(..)), "{step:?}");
        idp.recovery_codes()
            .generate(&session.account_id)
            .await
            .unwrap();
        let step = next_step(&idp, &request, Some(session), Some(&digest))
            .await
            .unwrap();
        assert!(matches!(step, Step::SecondFactor), "{step:?}");
    }

    #[test]
    fn levels_rank_password_below_second_factor_below_passkey() {
        assert!(level(LOA_1) < level(LOA_2));
        assert!(level(LOA_2) < level(LOA_3));
        assert_eq!(level("urn:other"), 0);
    }

    #[test]
    fn binding_values_must_look_generated() {
        assert!(is_binding_value(&clave_common::id::random_token(32)));
        assert!(!is_binding_value("short"));
        assert!(!is_binding_value(&"a;".repeat(22)[..43]));
    }
}
