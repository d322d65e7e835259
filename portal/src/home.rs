//! `/`: the portal's start page. For now it greets a logged-in citizen by name and offers the
//! login to everyone else; the citizen's pages (`/me/…`) grow from here.

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;

use crate::PortalState;
use crate::error::PageError;
use crate::form::Fields;
use crate::i18n::Lang;
use crate::page::{Chrome, render};

/// `GET /`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/", get(show))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    /// The citizen's given names, when logged in.
    name: Option<String>,
    /// The link to the mailbox with the unread count, when logged in.
    mailbox: Option<(&'static crate::mailbox::MailboxTexts, i64)>,
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let explicit = query.non_empty("lang");
    let lang = Lang::choose(explicit, &headers, None);
    let session = crate::signed_in::session(&state.idp, &headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let mailbox = match &session {
        Some(session) => Some((
            crate::mailbox::texts(lang),
            state
                .wallet
                .mailbox()
                .unread(&session.account_id)
                .await
                .map_err(|e| PageError::internal(lang, e.to_string()))?,
        )),
        None => None,
    };
    let name = match session {
        Some(session) => state
            .idp
            .accounts()
            .get(&session.account_id)
            .await
            .map_err(|e| PageError::from_idp(lang, &e))?
            .map(|account| account.given_names),
        None => None,
    };
    let mut cookies = Vec::new();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(state.config.is_https()));
    }
    let page = HomePage {
        chrome: Chrome::with_switch(lang, "/", &[]),
        name,
        mailbox,
    };
    render(&page, lang, StatusCode::OK, cookies)
}
