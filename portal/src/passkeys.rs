//! Passkeys in the browser: the JSON endpoints that `static/passkey.js` calls for the WebAuthn
//! ceremonies, and the citizen's passkey page ([`manage`]).
//!
//! Each ceremony is two calls: `…/start` returns `{ceremony, publicKey}` for
//! `navigator.credentials.create()`/`get()`, and `…/finish` takes `{ceremony, credential}`:
//! - `/webauthn/register/*`: a logged-in citizen adds a passkey (fresh authentication needed,
//!   see [`clave_idp::factors::is_fresh`]);
//! - `/webauthn/second-factor/*`: after the password, the passkey raises the session's level;
//! - `/webauthn/login/*`: passwordless, with a discoverable passkey (also from the RUN field's
//!   autofill, conditional UI).
//!
//! The finishing calls of a login answer `{redirect}`: where the script sends the browser
//! next (back into the authorization flow, or the portal), never an address from the request.
//! Every call is a POST carrying the page's CSRF token in the `X-CSRF-Token` header (the same
//! double-submitted token as the forms', see [`crate::csrf`]). Errors are JSON
//! `{"error", "error_description"}`; failures are never explained beyond "refused".

pub mod manage;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clave_common::http::{ApiError, ApiJson, ClientAddr};
use clave_idp::IdpError;
use clave_idp::accounts::AccountStatus;
use clave_idp::factors;
use clave_idp::passkey::{PasskeyError, PasskeyUse};
use clave_idp::session::{self, Authentication, ClientMeta, Session};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{PortalState, cookies, csrf};

/// The header carrying the CSRF token on the script's calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The ceremony routes.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/webauthn/register/start", post(register_start))
        .route("/webauthn/register/finish", post(register_finish))
        .route("/webauthn/second-factor/start", post(second_factor_start))
        .route("/webauthn/second-factor/finish", post(second_factor_finish))
        .route("/webauthn/login/start", post(login_start))
        .route("/webauthn/login/finish", post(login_finish))
        .merge(manage::routes())
}

/// The body of a `…/finish` call.
#[derive(Debug, Deserialize)]
struct Finish {
    /// The ceremony id from `…/start`.
    ceremony: String,
    /// The browser's `PublicKeyCredential`, base64url encoded.
    credential: Value,
    /// The citizen's name for a new passkey.
    #[serde(default)]
    name: String,
    /// The pending authorization request to resume after a login.
    #[serde(default)]
    req: Option<String>,
    /// The portal page a step-up outside a login returns to (only `security`).
    #[serde(default)]
    then: Option<String>,
}

fn check_csrf(headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if csrf::is_valid(headers, token) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "invalid_csrf",
            "reload the page: its form token is missing or expired",
        ))
    }
}

fn idp_error(e: &IdpError) -> ApiError {
    match e {
        IdpError::Db(db) => {
            if clave_common::http::is_unavailable(db) {
                ApiError::unavailable()
            } else {
                ApiError::internal(db)
            }
        }
        other => ApiError::internal(other),
    }
}

/// The API error for a passkey failure; refusals say no more than that.
fn passkey_error(e: PasskeyError) -> ApiError {
    match e {
        PasskeyError::CeremonyExpired => ApiError::new(
            StatusCode::BAD_REQUEST,
            "expired",
            "the passkey prompt expired or was already answered; try again",
        ),
        PasskeyError::Malformed(_) => {
            ApiError::invalid_request("the credential is not a WebAuthn response")
        }
        PasskeyError::Refused(reason) => {
            tracing::info!(%reason, "passkey refused");
            ApiError::forbidden("refused", "the passkey was not accepted")
        }
        PasskeyError::UnknownCredential => {
            ApiError::forbidden("refused", "the passkey was not accepted")
        }
        PasskeyError::NoPasskeys => ApiError::not_found("no passkey is registered"),
        PasskeyError::AlreadyRegistered => ApiError::conflict("this passkey is already registered"),
        PasskeyError::NotFound => ApiError::not_found("no such passkey"),
        PasskeyError::InvalidName(text) => ApiError::invalid_request(text),
        PasskeyError::Unavailable(detail) => {
            tracing::warn!(%detail, "WebAuthn unavailable: passkeys need a host name in server.public_url");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "passkeys are not available on this server",
            )
        }
        PasskeyError::Idp(e) => idp_error(&e),
    }
}

/// The browser's active session, or 401.
async fn session_of(state: &PortalState, headers: &HeaderMap) -> Result<Session, ApiError> {
    let found = match cookies::get(headers, session::COOKIE) {
        Some(token) => state
            .idp
            .sessions()
            .from_cookie(token)
            .await
            .map_err(|e| idp_error(&e))?,
        None => None,
    };
    found.ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "login_required", "log in first"))
}

/// Whether `session` may change the account's factors now: it authenticated within the last
/// five minutes and, once the account has a second factor, with one.
pub(crate) async fn may_change_factors(
    state: &PortalState,
    session: &Session,
) -> Result<bool, IdpError> {
    let now = state.idp.ctx().clock.unix();
    if !factors::is_fresh(session, now) {
        return Ok(false);
    }
    let summary = state.idp.factors().summary(&session.account_id).await?;
    let passkeys = state
        .idp
        .passkeys()
        .count(&session.account_id)
        .await
        .map_err(|e| IdpError::Internal(e.to_string()))?;
    let has_second_factor = summary.has_second_factor() || passkeys > 0;
    Ok(!has_second_factor || factors::rank(&session.acr) >= 2)
}

fn reauthentication_required() -> ApiError {
    ApiError::forbidden(
        "reauthentication_required",
        "log in again (with your second factor, if you have one) to change your passkeys",
    )
}

/// A JSON answer that no cache keeps, with cookies to set.
fn json_response(body: Value, set_cookies: Vec<String>) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    for cookie in set_cookies {
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

fn ceremony_json(ceremony: clave_idp::passkey::Ceremony) -> Value {
    let mut body = ceremony.options;
    if let Some(object) = body.as_object_mut() {
        object.insert("ceremony".into(), json!(ceremony.id));
    }
    body
}

async fn register_start(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let session = session_of(&state, &headers).await?;
    if !may_change_factors(&state, &session)
        .await
        .map_err(|e| idp_error(&e))?
    {
        return Err(reauthentication_required());
    }
    let account = state
        .idp
        .accounts()
        .get(&session.account_id)
        .await
        .map_err(|e| idp_error(&e))?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    let ceremony = state
        .idp
        .passkeys()
        .start_registration(&account)
        .await
        .map_err(passkey_error)?;
    Ok(json_response(ceremony_json(ceremony), Vec::new()))
}

async fn register_finish(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Finish>,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let session = session_of(&state, &headers).await?;
    if !may_change_factors(&state, &session)
        .await
        .map_err(|e| idp_error(&e))?
    {
        return Err(reauthentication_required());
    }
    let info = state
        .idp
        .passkeys()
        .finish_registration(
            &session.account_id,
            &body.ceremony,
            &body.credential,
            &body.name,
        )
        .await
        .map_err(passkey_error)?;
    Ok(json_response(json!({ "passkey": info }), Vec::new()))
}

async fn second_factor_start(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let session = session_of(&state, &headers).await?;
    let ceremony = state
        .idp
        .passkeys()
        .start_second_factor(&session.account_id)
        .await
        .map_err(passkey_error)?;
    Ok(json_response(ceremony_json(ceremony), Vec::new()))
}

async fn second_factor_finish(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Finish>,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let session = session_of(&state, &headers).await?;
    let used = state
        .idp
        .passkeys()
        .finish_second_factor(&session.account_id, &body.ceremony, &body.credential)
        .await
        .map_err(passkey_error)?;
    // The passkey joins the password this session already holds.
    let with_password = session.amr.iter().any(|m| m == "pwd");
    let authentication = used.authentication(with_password);
    let (_, token) = state
        .idp
        .sessions()
        .reauthenticate(&session.id, authentication)
        .await
        .map_err(|e| idp_error(&e))?
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "login_required", "log in first"))?;
    let redirect = next_location(&state, body.req.as_deref(), body.then.as_deref()).await?;
    let cookie = session::cookie_header(
        &token,
        state.config.tokens.session_ttl_secs,
        state.config.is_https(),
    );
    Ok(json_response(json!({ "redirect": redirect }), vec![cookie]))
}

async fn login_start(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let ceremony = state
        .idp
        .passkeys()
        .start_passwordless()
        .await
        .map_err(passkey_error)?;
    Ok(json_response(ceremony_json(ceremony), Vec::new()))
}

async fn login_finish(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    ApiJson(body): ApiJson<Finish>,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let used = state
        .idp
        .passkeys()
        .finish_passwordless(&body.ceremony, &body.credential)
        .await
        .map_err(passkey_error)?;
    // A passkey does not open an account an operator has locked.
    let active = state
        .idp
        .accounts()
        .get(&used.account_id)
        .await
        .map_err(|e| idp_error(&e))?
        .is_some_and(|account| account.status == AccountStatus::Active);
    if !active {
        return Err(ApiError::forbidden(
            "refused",
            "the passkey was not accepted",
        ));
    }
    let redirect = next_location(&state, body.req.as_deref(), body.then.as_deref()).await?;
    let token = start_session(&state, &headers, &used, addr)
        .await
        .map_err(|e| idp_error(&e))?;
    let cookie = session::cookie_header(
        &token,
        state.config.tokens.session_ttl_secs,
        state.config.is_https(),
    );
    Ok(json_response(json!({ "redirect": redirect }), vec![cookie]))
}

/// Where the browser goes after a login: back into the pending authorization request, to
/// the security page after a step-up made there, or to the portal's start page. Never an
/// address taken from the request.
async fn next_location(
    state: &PortalState,
    req: Option<&str>,
    then: Option<&str>,
) -> Result<String, ApiError> {
    let Some(req) = req.filter(|r| !r.is_empty()) else {
        return Ok(match then {
            Some("security") => "/me/security",
            Some("passkeys") => "/me/passkeys",
            _ => "/",
        }
        .to_owned());
    };
    let pending = state
        .idp
        .auth_requests()
        .get(req)
        .await
        .map_err(|e| idp_error(&e))?;
    match pending {
        Some(request) => Ok(format!(
            "/oauth2/authorize/resume?req={}",
            url::form_urlencoded::byte_serialize(request.id.as_bytes()).collect::<String>()
        )),
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "expired",
            "the login request expired; go back to the service and start again",
        )),
    }
}

/// Records a passwordless login in this browser's session, as the password login does: the
/// same session re-authenticated if it is this citizen's, else a new one (ending another
/// citizen's). Returns the new cookie token.
async fn start_session(
    state: &PortalState,
    headers: &HeaderMap,
    used: &PasskeyUse,
    addr: std::net::IpAddr,
) -> Result<String, IdpError> {
    let sessions = state.idp.sessions();
    let authentication: Authentication = used.authentication(false);
    let current = match cookies::get(headers, session::COOKIE) {
        Some(token) => sessions.from_cookie(token).await?,
        None => None,
    };
    if let Some(current) = current {
        if current.account_id == used.account_id {
            if let Some((_, token)) = sessions
                .reauthenticate(&current.id, authentication.clone())
                .await?
            {
                return Ok(token);
            }
        } else {
            sessions.end(&current.id, "replaced").await?;
        }
    }
    let meta = ClientMeta {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: Some(addr.to_string()),
    };
    let (_, token) = sessions
        .create(&used.account_id, authentication, meta)
        .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_no_more_than_refused() {
        let origin = passkey_error(PasskeyError::Refused("origin mismatch".into()));
        let unknown = passkey_error(PasskeyError::UnknownCredential);
        for error in [&origin, &unknown] {
            assert_eq!(error.status, StatusCode::FORBIDDEN);
            assert_eq!(error.code, "refused");
            assert!(!error.description.contains("origin"));
        }
        assert_eq!(origin.description, unknown.description);
        let expired = passkey_error(PasskeyError::CeremonyExpired);
        assert_eq!(expired.status, StatusCode::BAD_REQUEST);
        assert_eq!(expired.code, "expired");
        assert_eq!(
            passkey_error(PasskeyError::AlreadyRegistered).status,
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn a_ceremony_is_its_options_with_its_id() {
        let body = ceremony_json(clave_idp::passkey::Ceremony {
            id: "c-1".into(),
            options: json!({"publicKey": {"challenge": "abc"}}),
        });
        assert_eq!(body["ceremony"], "c-1");
        assert_eq!(body["publicKey"]["challenge"], "abc");
    }
}
