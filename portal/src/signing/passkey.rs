//! Signing with a passkey instead of a code: the JSON calls `static/sign-passkey.js` makes
//! from `/me/sign` and `/me/sign/{id}`. `…/start` takes the chosen requests and answers the
//! WebAuthn request options with the id of the pending activation the signer keeps for
//! exactly those documents; `…/finish` takes that id with the authenticator's assertion (and
//! the signing PIN, when there is one), signs, and answers where to go next. Both carry the
//! page's CSRF token in the `X-CSRF-Token` header, as the other passkey calls do.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clave_common::http::{ApiError, ApiJson, ClientAddr};
use clave_idp::accounts::Account;
use clave_signer::SignerError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::PortalState;
use crate::csrf;
use crate::passkeys::CSRF_HEADER;

/// The body of `…/start`. Every field has a default, so a malformed body is judged by its
/// CSRF token first.
#[derive(Debug, Deserialize)]
pub(crate) struct Start {
    /// The requests to sign together.
    #[serde(default)]
    requests: Vec<String>,
}

/// The body of `…/finish`.
#[derive(Debug, Deserialize)]
pub(crate) struct Finish {
    /// The pending activation from `…/start`.
    #[serde(default)]
    pending: String,
    /// The browser's `PublicKeyCredential`, base64url encoded.
    #[serde(default)]
    credential: Value,
    /// The signing PIN, when the signer has one.
    #[serde(default)]
    pin: Option<String>,
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

fn signer_error(e: SignerError) -> ApiError {
    match e {
        SignerError::NotFound(text) => ApiError::not_found(text),
        SignerError::Invalid(text) => ApiError::invalid_request(text),
        SignerError::Forbidden(text) => ApiError::forbidden("access_denied", text),
        SignerError::Conflict(text) => ApiError::conflict(text),
        SignerError::InvalidSad(text) => ApiError::new(StatusCode::BAD_REQUEST, "expired", text),
        SignerError::SecondFactor(text) => ApiError::forbidden("refused", text),
        SignerError::Pin(text) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_pin", text),
        SignerError::Unavailable(text) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            text,
        ),
        SignerError::Db(e) if clave_common::http::is_unavailable(&e) => ApiError::unavailable(),
        other => ApiError::internal(other),
    }
}

/// The signed-in signer, or 401.
async fn signer_of(state: &PortalState, headers: &HeaderMap) -> Result<Account, ApiError> {
    let login_required =
        || ApiError::new(StatusCode::UNAUTHORIZED, "login_required", "log in first");
    let session = crate::signed_in::session(&state.idp, headers)
        .await
        .map_err(|e| signer_error(e.into()))?
        .ok_or_else(login_required)?;
    state
        .idp
        .accounts()
        .get(&session.account_id)
        .await
        .map_err(|e| signer_error(e.into()))?
        .ok_or_else(login_required)
}

fn no_store(body: Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /me/sign/passkey/start`.
pub(crate) async fn start(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Start>,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let account = signer_of(&state, &headers).await?;
    let begun = state
        .signer
        .start_passkey_signing(&account, &body.requests)
        .await
        .map_err(signer_error)?;
    let mut answer = begun.options;
    if let Some(object) = answer.as_object_mut() {
        object.insert("pending".into(), json!(begun.pending));
    }
    Ok(no_store(answer))
}

/// `POST /me/sign/passkey/finish`.
pub(crate) async fn finish(
    State(state): State<PortalState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Finish>,
) -> Result<Response, ApiError> {
    check_csrf(&headers)?;
    let account = signer_of(&state, &headers).await?;
    let pin = body.pin.as_deref().map(str::trim).filter(|p| !p.is_empty());
    state
        .signer
        .finish_passkey_signing(&account, &body.pending, &body.credential, pin, addr)
        .await
        .map_err(signer_error)?;
    Ok(no_store(json!({ "redirect": "/me/sign?done=signed" })))
}
