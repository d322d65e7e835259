//! The session a signed-in page may use.
//!
//! A citizen who chose "always ask for my second factor" holds a level-1 session for the
//! moment between typing the password and the second factor; that session may finish the
//! second-factor step and nothing else. Every page for a signed-in citizen asks here.

use axum::http::HeaderMap;
use clave_idp::factors;
use clave_idp::session::{self, Session};
use clave_idp::{Idp, IdpError};

use crate::cookies;
use crate::error::PageError;
use crate::i18n::Lang;

/// The browser's session, if it has one at the level its citizen demands of every sign-in.
pub(crate) async fn session(idp: &Idp, headers: &HeaderMap) -> Result<Option<Session>, IdpError> {
    let Some(token) = cookies::get(headers, session::COOKIE) else {
        return Ok(None);
    };
    let Some(session) = idp.sessions().from_cookie(token).await? else {
        return Ok(None);
    };
    let own_minimum = idp
        .factors()
        .summary(&session.account_id)
        .await?
        .own_minimum();
    Ok((factors::rank(&session.acr) >= own_minimum).then_some(session))
}

/// [`session`] for a page: a failure becomes the error page in `lang`.
pub(crate) async fn page_session(
    idp: &Idp,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Option<Session>, PageError> {
    session(idp, headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))
}
