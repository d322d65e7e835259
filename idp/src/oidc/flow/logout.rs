//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/oauth2/logout`.
//!
//! A service sends the browser here with `id_token_hint` (an ID token clave issued; expired
//! ones are fine, since logging out is why the citizen came), and optionally a registered
//! `post_logout_redirect_uri`, `state`, `client_id` and `ui_locales`. When the hint names the
//! browser's current session, the session ends at once; otherwise a third party could log the
//! citizen out with a crafted link, so the portal asks first ([`CONFIRM_PAGE`], which calls
//! [`confirm`]). Ending the session revokes its grants and queues back-channel notices
//! ([`super::backchannel`]).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::{self, HeaderValue};
use axum::response::Response;

use super::authorize::see_other;
use super::current_session;
use super::pages::{self, Lang};
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::oidc::params::Params;
use crate::{Idp, IdpError};

/// The portal's page that asks "¿Cerrar sesión?".
pub const CONFIRM_PAGE: &str = "/logout";
/// The portal's page saying the session is closed, for logouts with nowhere else to go.
pub const SIGNED_OUT_PAGE: &str = "/logout/done";

/// A validated logout request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The service asking, when it said (or its ID token did).
    pub client_id: Option<String>,
    /// The service's name, for the confirmation page.
    pub client_name: Option<String>,
    /// Where to send the browser afterwards (registered for the client).
    pub post_logout_redirect_uri: Option<String>,
    /// The service's `state`, echoed to `post_logout_redirect_uri`.
    pub state: Option<String>,
    /// The service's preferred page languages.
    pub ui_locales: Option<String>,
    /// The ID token the service sent, passed along to the confirmation page.
    pub id_token_hint: Option<String>,
    /// The `sid` of the hint: the session it was issued in, as its client knows it.
    hint_session: Option<String>,
}

impl LogoutRequest {
    /// Whether the `id_token_hint` was issued in session `session_id` (comparing the `sid`
    /// its client knows that session by).
    async fn hints_at(&self, idp: &Idp, session_id: &str) -> Result<bool, IdpError> {
        let (Some(hint_sid), Some(client_id)) = (&self.hint_session, &self.client_id) else {
            return Ok(false);
        };
        Ok(idp
            .clients()
            .get(client_id)
            .await?
            .is_some_and(|client| client.sid_for(session_id) == *hint_sid))
    }

    /// The request's parameters, to carry through the confirmation form and back.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
            ("ui_locales", &self.ui_locales),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect()
    }
}

/// Why a logout request cannot be followed.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// The request is malformed or names a URI not registered; the text says what is wrong.
    #[error("{0}")]
    Invalid(OAuthError),
    /// The server failed.
    #[error(transparent)]
    Failed(#[from] IdpError),
}

/// `GET /oauth2/logout`.
pub async fn logout_get(
    State(idp): State<Idp>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    handle(&idp, &headers, Params::from_query(query.as_deref())).await
}

/// `POST /oauth2/logout` (the parameters as a form body).
pub async fn logout_post(State(idp): State<Idp>, headers: HeaderMap, body: Body) -> Response {
    let params = Params::from_form(&headers, body).await;
    handle(&idp, &headers, params).await
}

async fn handle(idp: &Idp, headers: &HeaderMap, params: Result<Params, OAuthError>) -> Response {
    let ui_locales = params.as_ref().ok().and_then(|p| p.get("ui_locales"));
    let lang = Lang::choose(None, headers, ui_locales);
    let outcome = async {
        let request = validate(idp, &params.map_err(LogoutError::Invalid)?).await?;
        let session = current_session(idp, headers).await?;
        Ok::<_, LogoutError>(match session {
            None => finish(idp, &request, false),
            Some(session) if request.hints_at(idp, &session.id).await? => {
                end_session(idp, &session.id).await?;
                finish(idp, &request, true)
            }
            Some(_) => {
                let query = serde_urlencoded::to_string(request.params()).unwrap_or_default();
                see_other(&format!("{CONFIRM_PAGE}?{query}"))
            }
        })
    };
    match outcome.await {
        Ok(response) => response,
        Err(LogoutError::Invalid(error)) => pages::invalid_request_page(lang, &error),
        Err(LogoutError::Failed(error)) => pages::failure_page(lang, &error),
    }
}

/// The citizen confirmed on the portal's page: ends this browser's session (if it still has
/// one) and answers as the logout request asks. `params` are the request's, as
/// [`LogoutRequest::params`] gave them to the page.
pub async fn confirm(
    idp: &Idp,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, LogoutError> {
    let request = validate(idp, params).await?;
    let ended = match current_session(idp, headers).await? {
        Some(session) => {
            end_session(idp, &session.id).await?;
            true
        }
        None => false,
    };
    Ok(finish(idp, &request, ended))
}

/// Ends session `session_id` as a logout; the session service revokes its grants and queues
/// its back-channel notices in the same commit.
pub async fn end_session(idp: &Idp, session_id: &str) -> Result<(), IdpError> {
    idp.sessions().end(session_id, "logout").await?;
    Ok(())
}

/// Checks a logout request's parameters.
pub async fn validate(idp: &Idp, params: &Params) -> Result<LogoutRequest, LogoutError> {
    let invalid = |text: &str| LogoutError::Invalid(OAuthError::invalid_request(text));
    let mut request = LogoutRequest {
        state: params.get("state").map(str::to_owned),
        ui_locales: params.get("ui_locales").map(str::to_owned),
        ..LogoutRequest::default()
    };
    let mut hinted_client = None;
    if let Some(hint) = params.get("id_token_hint") {
        let verified =
            idp.tokens()
                .validate_id_token_hint(hint)
                .await
                .map_err(|error| match error.code {
                    ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => {
                        LogoutError::Failed(IdpError::Internal(error.description))
                    }
                    _ => LogoutError::Invalid(error),
                })?;
        request.hint_session = verified.session_id;
        request.id_token_hint = Some(hint.to_owned());
        hinted_client = Some(verified.client_id);
    }
    request.client_id = match (params.get("client_id"), hinted_client) {
        (Some(given), Some(hinted)) if given != hinted => {
            return Err(invalid(
                "`client_id` is not the client the `id_token_hint` was issued to",
            ));
        }
        (Some(given), _) => Some(given.to_owned()),
        (None, hinted) => hinted,
    };
    let client = match &request.client_id {
        Some(client_id) => Some(
            idp.clients()
                .get(client_id)
                .await?
                .ok_or_else(|| invalid("the `client_id` is not a client registered here"))?,
        ),
        None => None,
    };
    request.client_name = client.as_ref().map(|c| c.name.clone());
    if let Some(uri) = params.get("post_logout_redirect_uri") {
        let client = client.ok_or_else(|| {
            invalid("`post_logout_redirect_uri` needs `id_token_hint` or `client_id` to say whose it is")
        })?;
        if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
            return Err(invalid(
                "the `post_logout_redirect_uri` is not registered for this client (it must match exactly)",
            ));
        }
        request.post_logout_redirect_uri = Some(uri.to_owned());
    }
    Ok(request)
}

/// Where the browser goes once the logout is done: the service's registered URI with its
/// `state`, or the portal's signed-out page. `clear_cookie` removes the session cookie.
pub fn finish(idp: &Idp, request: &LogoutRequest, clear_cookie: bool) -> Response {
    let target = match &request.post_logout_redirect_uri {
        Some(uri) => match url::Url::parse(uri) {
            Ok(mut url) => {
                if let Some(state) = &request.state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                url.to_string()
            }
            Err(_) => SIGNED_OUT_PAGE.to_owned(),
        },
        None => SIGNED_OUT_PAGE.to_owned(),
    };
    let mut response = see_other(&target);
    if clear_cookie {
        let cookie = crate::session::clear_cookie_header(idp.ctx().config.is_https());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_carry_only_what_was_sent() {
        let request = LogoutRequest {
            client_id: Some("c".into()),
            state: Some("s".into()),
            ..LogoutRequest::default()
        };
        assert_eq!(
            request.params(),
            vec![("client_id", "c".to_owned()), ("state", "s".to_owned())]
        );
    }
}
