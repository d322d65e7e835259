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
    t: &'static HomeTexts,
    /// What needs the citizen's attention, as links.
    attention: Vec<(&'static str, String)>,
    /// Whether the account is an agent's (a link to the console).
    agent: bool,
    /// Whether the account is an official's or an institution's staff (a link to theirs).
    official: bool,
    /// Whether the account administers services, agents or an institution (a link to
    /// `/admin`).
    admin: bool,
}

/// The start page's sentences in one language.
#[derive(Debug)]
pub struct HomeTexts {
    /// The attention list's heading.
    pub attention: &'static str,
    /// Caller verifications waiting for an answer.
    pub callers_waiting: &'static str,
    /// Signature requests waiting for the signer.
    pub signatures_pending: &'static str,
    /// Permissions that end within [`EXPIRING_DAYS`].
    pub consents_expiring: &'static str,
    /// The navigation's label.
    pub nav_label: &'static str,
    /// Links.
    pub data: &'static str,
    /// .
    pub permissions: &'static str,
    /// .
    pub activity: &'static str,
    /// .
    pub security: &'static str,
    /// .
    pub sessions: &'static str,
    /// .
    pub verify_call: &'static str,
    /// .
    pub sign: &'static str,
    /// .
    pub agent: &'static str,
    /// .
    pub official: &'static str,
    /// The link to the administration pages.
    pub admin: &'static str,
    /// The way out: without it a citizen at a shared computer could not end the session.
    pub sign_out: &'static str,
}

/// Spanish.
pub static ES: HomeTexts = HomeTexts {
    attention: "Requiere tu atención",
    callers_waiting: "Un agente espera que apruebes la verificación de una llamada",
    signatures_pending: "Documentos esperan tu firma",
    consents_expiring: "Permisos que vencen en los próximos 30 días",
    nav_label: "Tu cuenta",
    data: "Mis datos",
    permissions: "Mis permisos",
    activity: "Mi actividad",
    security: "Mi seguridad",
    sessions: "Mis sesiones",
    verify_call: "Verificar una llamada",
    sign: "Documentos para firmar",
    agent: "Consola de atención",
    official: "Consola de funcionarios",
    admin: "Administración",
    sign_out: "Cerrar sesión",
};

/// English.
pub static EN: HomeTexts = HomeTexts {
    attention: "Needs your attention",
    callers_waiting: "An agent is waiting for you to approve a call verification",
    signatures_pending: "Documents are waiting for your signature",
    consents_expiring: "Permissions ending within 30 days",
    nav_label: "Your account",
    data: "My data",
    permissions: "My permissions",
    activity: "My activity",
    security: "My security",
    sessions: "My sessions",
    verify_call: "Verify a call",
    sign: "Documents to sign",
    agent: "Service desk console",
    official: "Officials' console",
    admin: "Administration",
    sign_out: "Log out",
};

/// Permissions ending within this many days are listed as needing attention.
pub const EXPIRING_DAYS: i64 = 30;

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
    let t = match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    };
    let mut attention = Vec::new();
    let mut agent = false;
    let mut official = false;
    if let Some(session) = &session {
        let waiting = state
            .wallet
            .callers()
            .waiting(&session.account_id)
            .await
            .map_err(|e| PageError::internal(lang, e))?
            .len();
        if waiting > 0 {
            attention.push((t.callers_waiting, "/me/verify-call".to_owned()));
        }
        let to_sign = state
            .signer
            .pending_count(&session.account_id)
            .await
            .map_err(|e| PageError::internal(lang, e))?;
        if to_sign > 0 {
            attention.push((t.signatures_pending, "/me/sign".to_owned()));
        }
        let now = state.idp.ctx().clock.unix();
        let expiring = state
            .wallet
            .consents()
            .of_citizen(&session.account_id)
            .await
            .map_err(|e| PageError::internal(lang, e))?
            .iter()
            .filter(|c| c.is_active(now) && c.expires_at - now < EXPIRING_DAYS * 86_400)
            .count();
        if expiring > 0 {
            attention.push((t.consents_expiring, "/me/permissions".to_owned()));
        }
        agent = state
            .idp
            .accounts()
            .staff(&session.account_id, clave_idp::roles::AGENT)
            .await
            .map_err(|e| PageError::from_idp(lang, &e))?
            .is_some();
        official = state
            .signer
            .is_official_or_staff(&session.account_id)
            .await
            .map_err(|e| PageError::internal(lang, e))?;
    }
    let account = match session {
        Some(session) => state
            .idp
            .accounts()
            .get(&session.account_id)
            .await
            .map_err(|e| PageError::from_idp(lang, &e))?,
        None => None,
    };
    let admin = match &account {
        Some(account) => crate::admin::administers_something(&state, account)
            .await
            .map_err(|e| PageError::internal(lang, e))?,
        None => false,
    };
    let name = account.map(|account| account.given_names);
    let mut cookies = Vec::new();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(state.config.is_https()));
    }
    let page = HomePage {
        chrome: Chrome::with_switch(lang, "/", &[]),
        name,
        mailbox,
        t,
        attention,
        agent,
        official,
        admin,
    };
    render(&page, lang, StatusCode::OK, cookies)
}
