//! `/logout`: "¿Cerrar sesión?", and `/logout/done`: "you have logged out".
//!
//! `/oauth2/logout` sends the browser here when it cannot tell that the citizen really wants
//! to log out (no `id_token_hint` for the current session: anyone could have sent the link).
//! The page carries the logout request's parameters through the form; on confirmation the
//! idp ([`clave_idp::oidc::flow::logout::confirm`]) validates them again, ends the session and
//! answers the browser (back to the service, or to `/logout/done`).

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_idp::oidc::Params;
use clave_idp::oidc::flow::current_session;
use clave_idp::oidc::flow::logout::{self, LogoutError, LogoutRequest};

use crate::PortalState;
use crate::csrf::{self, CsrfToken};
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// `GET` and `POST /logout`, `GET /logout/done`.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/logout", get(show).post(submit))
        .route("/logout/done", get(done))
}

/// The logout pages' sentences in one language.
#[derive(Debug)]
pub struct LogoutTexts {
    /// The confirmation page's heading.
    pub title: &'static str,
    /// What logging out does.
    pub explanation: &'static str,
    /// Before the name of the service that asked.
    pub requested_by: &'static str,
    /// The confirm button.
    pub confirm: &'static str,
    /// The cancel button.
    pub cancel: &'static str,
    /// The heading after logging out.
    pub done_title: &'static str,
    /// The text after logging out.
    pub done_body: &'static str,
}

/// Spanish.
pub static ES: LogoutTexts = LogoutTexts {
    title: "¿Cerrar sesión?",
    explanation: "Se cerrará tu sesión de Clave en este navegador y en los servicios en que ingresaste con ella.",
    requested_by: "Lo solicita",
    confirm: "Cerrar sesión",
    cancel: "No, seguir conectado",
    done_title: "Cerraste tu sesión",
    done_body: "Tu sesión de Clave terminó en este navegador. Para usar un servicio otra vez, vuelve a ingresar.",
};

/// English.
pub static EN: LogoutTexts = LogoutTexts {
    title: "Log out?",
    explanation: "Your Clave session will end in this browser and in the services you logged in to with it.",
    requested_by: "Requested by",
    confirm: "Log out",
    cancel: "No, stay logged in",
    done_title: "You have logged out",
    done_body: "Your Clave session has ended in this browser. To use a service again, log in again.",
};

fn texts(lang: Lang) -> &'static LogoutTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    chrome: Chrome,
    t: &'static LogoutTexts,
    /// The name of the service that asked, if known.
    service: Option<String>,
    /// The logout request's parameters, carried as hidden fields.
    params: Vec<(&'static str, String)>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "logout_done.html")]
struct LoggedOutPage {
    chrome: Chrome,
    t: &'static LogoutTexts,
}

fn page_error(error: LogoutError, lang: Lang) -> PageError {
    match error {
        LogoutError::Invalid(e) => {
            tracing::info!(error = %e, "logout request refused");
            PageError::new(PageErrorKind::BadRequest, lang)
        }
        LogoutError::Failed(e) => PageError::from_idp(lang, &e),
    }
}

/// The logout request's parameters, parsed as strictly as `/oauth2/logout` does.
async fn logout_request(
    state: &PortalState,
    params: &Params,
    lang: Lang,
) -> Result<LogoutRequest, PageError> {
    logout::validate(&state.idp, params)
        .await
        .map_err(|e| page_error(e, lang))
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let fields = Fields::from_query(query.as_deref());
    let explicit = fields.non_empty("lang");
    let fallback = Lang::choose(explicit, &headers, None);
    let params = Params::from_query(query.as_deref())
        .map_err(|_| PageError::new(PageErrorKind::BadRequest, fallback))?;
    let request = logout_request(&state, &params, fallback).await?;
    let lang = Lang::choose(explicit, &headers, request.ui_locales.as_deref());
    let session = current_session(&state.idp, &headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    if session.is_none() {
        // Nothing to end: carry on as the service asked.
        return Ok(logout::finish(&state.idp, &request, false));
    }
    let secure = state.config.is_https();
    let csrf = CsrfToken::for_page(&headers);
    let mut cookies: Vec<String> = csrf.set_cookie(secure).into_iter().collect();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(secure));
    }
    let page = LogoutPage {
        chrome: Chrome::new(lang),
        t: texts(lang),
        service: request.client_name.clone(),
        params: request.params(),
        csrf: csrf.value().to_owned(),
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn submit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let fields = Fields::parse(&body);
    let lang = Lang::choose(fields.non_empty("lang"), &headers, None);
    if !form::is_form(&headers) {
        return Err(PageError::new(PageErrorKind::BadRequest, lang));
    }
    csrf::verify(&headers, fields.get(csrf::FIELD), lang)?;
    match fields.get("decision") {
        Some("logout") => {}
        Some("cancel") => return Ok(see_other("/", Vec::new())),
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    }
    // The request's own parameters, without the page's.
    let params: Params = Params::parse(&body)
        .map_err(|_| PageError::new(PageErrorKind::BadRequest, lang))?
        .iter()
        .filter(|(name, _)| !matches!(*name, "csrf" | "decision" | "lang"))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    logout::confirm(&state.idp, &headers, &params)
        .await
        .map_err(|e| page_error(e, lang))
}

async fn done(headers: HeaderMap, RawQuery(query): RawQuery) -> Result<Response, PageError> {
    let fields = Fields::from_query(query.as_deref());
    let lang = Lang::choose(fields.non_empty("lang"), &headers, None);
    let page = LoggedOutPage {
        chrome: Chrome::with_switch(lang, "/logout/done", &[]),
        t: texts(lang),
    };
    render(&page, lang, StatusCode::OK, Vec::new())
}
