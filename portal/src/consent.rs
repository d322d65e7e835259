//! `/consent`: the citizen approves (or declines) what a service asks to know.
//!
//! Reached from the authorization endpoint with `?req=<id>` when a service asks for scopes the
//! citizen has not approved for it yet, or sends `prompt=consent`. The page names the service
//! and each piece of information in plain words; the decision goes to the idp
//! ([`clave_idp::oidc::flow::consent`]), which remembers it, journals it and answers the
//! browser: back to the authorization endpoint, or `access_denied` to the service.

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_idp::oidc::flow::consent::{self, ConsentError, ConsentPrompt, Decision};

use crate::PortalState;
use crate::csrf::{self, CsrfToken};
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// `GET` and `POST /consent`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/consent", get(show).post(submit))
}

/// The consent page's sentences in one language.
#[derive(Debug)]
pub struct ConsentTexts {
    /// The page's heading.
    pub title: &'static str,
    /// Before the list: "<service> asks to:".
    pub asks: &'static str,
    /// Before the citizen's name.
    pub signed_in_as: &'static str,
    /// The approve button.
    pub approve: &'static str,
    /// The decline button.
    pub deny: &'static str,
    /// Under the buttons: what declining means.
    pub deny_note: &'static str,
    /// When a service asks for nothing beyond knowing it is the citizen.
    pub identity_only: &'static str,
    /// `profile` / `name`.
    pub names: &'static str,
    /// `email`.
    pub email: &'static str,
    /// `run`.
    pub run: &'static str,
    /// `offline_access`.
    pub offline: &'static str,
    /// Before a scope clave has no words for.
    pub other: &'static str,
}

/// Spanish.
pub static ES: ConsentTexts = ConsentTexts {
    title: "Autoriza el acceso a tus datos",
    asks: "solicita:",
    signed_in_as: "Ingresaste como",
    approve: "Autorizar",
    deny: "No autorizar",
    deny_note: "Si no autorizas, volverás al servicio sin compartir tus datos.",
    identity_only: "Confirmar que eres tú, sin otros datos",
    names: "Conocer tu nombre: nombres y apellidos",
    email: "Conocer tu correo electrónico",
    run: "Conocer tu RUN (tu número de identidad)",
    offline: "Seguir accediendo a estos datos mientras tu sesión esté activa",
    other: "Otro permiso:",
};

/// English.
pub static EN: ConsentTexts = ConsentTexts {
    title: "Allow access to your information",
    asks: "asks to:",
    signed_in_as: "Logged in as",
    approve: "Allow",
    deny: "Do not allow",
    deny_note: "If you do not allow it, you go back to the service without sharing your information.",
    identity_only: "Confirm that it is you, with no other information",
    names: "Know your name: given names and family names",
    email: "Know your email address",
    run: "Know your RUN (your national identity number)",
    offline: "Keep accessing this information while your session lasts",
    other: "Another permission:",
};

fn texts(lang: Lang) -> &'static ConsentTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

/// The plain words for each requested scope (names once, even if asked as both `profile`
/// and `name`).
fn describe(scopes: &[String], t: &'static ConsentTexts) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for scope in scopes {
        let item = match scope.as_str() {
            "profile" | "name" => t.names.to_owned(),
            "email" => t.email.to_owned(),
            "run" => t.run.to_owned(),
            "offline_access" => t.offline.to_owned(),
            other => format!("{} {other}", t.other),
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    if items.is_empty() {
        items.push(t.identity_only.to_owned());
    }
    items
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    chrome: Chrome,
    t: &'static ConsentTexts,
    service: String,
    citizen: String,
    items: Vec<String>,
    req: String,
    csrf: String,
}

fn page_error(error: ConsentError, lang: Lang) -> Result<Response, PageError> {
    match error {
        ConsentError::RequestGone => Err(PageError::new(PageErrorKind::RequestExpired, lang)),
        ConsentError::NotLoggedIn { request_id } => Ok(see_other(
            &format!(
                "/login?req={}",
                url::form_urlencoded::byte_serialize(request_id.as_bytes()).collect::<String>()
            ),
            Vec::new(),
        )),
        ConsentError::Failed(e) => Err(PageError::from_idp(lang, &e)),
    }
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let explicit = query.non_empty("lang");
    let fallback = Lang::choose(explicit, &headers, None);
    let Some(req) = query.non_empty("req") else {
        return Err(PageError::new(PageErrorKind::RequestExpired, fallback));
    };
    let prompt: ConsentPrompt = match consent::prompt(&state.idp, req, &headers).await {
        Ok(prompt) => prompt,
        Err(error) => return page_error(error, fallback),
    };
    let lang = Lang::choose(explicit, &headers, prompt.request.ui_locales.as_deref());
    let secure = state.config.is_https();
    let csrf = CsrfToken::for_page(&headers);
    let mut cookies: Vec<String> = csrf.set_cookie(secure).into_iter().collect();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(secure));
    }
    let t = texts(lang);
    let page = ConsentPage {
        chrome: Chrome::with_switch(lang, "/consent", &[("req", req)]),
        t,
        service: prompt.request.client_name.clone(),
        citizen: prompt.account.full_name(),
        items: describe(&prompt.scopes, t),
        req: prompt.request.id.clone(),
        csrf: csrf.value().to_owned(),
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn submit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Fields::parse(&body);
    let lang = Lang::choose(form.non_empty("lang"), &headers, None);
    if !form::is_form(&headers) {
        return Err(PageError::new(PageErrorKind::BadRequest, lang));
    }
    csrf::verify(&headers, form.get(csrf::FIELD), lang)?;
    let Some(req) = form.non_empty("req") else {
        return Err(PageError::new(PageErrorKind::RequestExpired, lang));
    };
    let decision = match form.get("decision") {
        Some("approve") => Decision::Approve,
        Some("deny") => Decision::Deny,
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    match consent::decide(&state.idp, req, &headers, decision).await {
        Ok(response) => Ok(response),
        Err(error) => page_error(error, lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_scope_is_said_in_plain_words_once() {
        let items = describe(&scopes(&["profile", "name", "run"]), &ES);
        assert_eq!(items, vec![ES.names.to_owned(), ES.run.to_owned()]);
        assert_eq!(describe(&[], &EN), vec![EN.identity_only.to_owned()]);
        assert_eq!(
            describe(&scopes(&["wallet:health"]), &EN),
            vec!["Another permission: wallet:health".to_owned()]
        );
    }
}
