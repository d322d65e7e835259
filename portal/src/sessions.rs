//! `/me/sessions`: where the citizen is signed in (browser, address, when, at which level),
//! with "sign out" for one session and "sign out everywhere else". Each session ended here
//! ends like a logout: its grants die and its services hear of it by back-channel logout.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_idp::factors;

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// `GET`/`POST /me/sessions`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/me/sessions", get(show).post(end))
}

/// The page's sentences in one language.
#[derive(Debug)]
pub struct SessionTexts {
    /// Heading.
    pub title: &'static str,
    /// Under it.
    pub intro: &'static str,
    /// The table's caption.
    pub caption: &'static str,
    /// Columns.
    pub col_device: &'static str,
    /// .
    pub col_address: &'static str,
    /// .
    pub col_since: &'static str,
    /// .
    pub col_level: &'static str,
    /// .
    pub col_action: &'static str,
    /// This browser's session.
    pub this_device: &'static str,
    /// An unknown browser.
    pub unknown_device: &'static str,
    /// Buttons.
    pub sign_out: &'static str,
    /// .
    pub sign_out_others: &'static str,
    /// After ending sessions.
    pub ended: &'static str,
    /// When a session to end was already gone.
    pub gone: &'static str,
}

/// Spanish.
pub static ES: SessionTexts = SessionTexts {
    title: "Mis sesiones",
    intro: "Estos son los navegadores donde tu cuenta tiene una sesión abierta. Si no reconoces alguno, ciérralo y cambia tu contraseña.",
    caption: "Sesiones abiertas",
    col_device: "Navegador",
    col_address: "Dirección IP",
    col_since: "Desde",
    col_level: "Nivel",
    col_action: "Acción",
    this_device: "Este navegador",
    unknown_device: "Navegador desconocido",
    sign_out: "Cerrar esta sesión",
    sign_out_others: "Cerrar todas las demás sesiones",
    ended: "Cerramos las sesiones. Sus servicios fueron avisados.",
    gone: "Esa sesión ya estaba cerrada.",
};

/// English.
pub static EN: SessionTexts = SessionTexts {
    title: "My sessions",
    intro: "These are the browsers where your account is signed in. If you do not recognise one, end it and change your password.",
    caption: "Open sessions",
    col_device: "Browser",
    col_address: "IP address",
    col_since: "Since",
    col_level: "Level",
    col_action: "Action",
    this_device: "This browser",
    unknown_device: "Unknown browser",
    sign_out: "End this session",
    sign_out_others: "End every other session",
    ended: "The sessions were ended. Their services were told.",
    gone: "That session had already ended.",
};

fn texts(lang: Lang) -> &'static SessionTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

struct Row {
    id: String,
    device: String,
    address: String,
    since: String,
    level: u8,
    current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    t: &'static SessionTexts,
    rows: Vec<Row>,
    others: bool,
    notice: Option<&'static str>,
    csrf: String,
}

/// `Firefox 128 on Linux`-like text is more than a page needs: the user agent as sent,
/// shortened.
fn device(user_agent: Option<&str>, t: &SessionTexts) -> String {
    match user_agent.map(str::trim).filter(|ua| !ua.is_empty()) {
        Some(ua) if ua.chars().count() > 80 => {
            format!("{}…", ua.chars().take(80).collect::<String>())
        }
        Some(ua) => ua.to_owned(),
        None => t.unknown_device.to_owned(),
    }
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some(current) = crate::signed_in::session(&state.idp, &headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let sessions = state
        .idp
        .sessions()
        .list_active(&current.account_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let rows: Vec<Row> = sessions
        .iter()
        .map(|s| Row {
            id: s.id.clone(),
            device: device(s.user_agent.as_deref(), t),
            address: s.ip.clone().unwrap_or_default(),
            since: state.date_time(lang, s.created_at),
            level: factors::rank(&s.acr),
            current: s.id == current.id,
        })
        .collect();
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let page = SessionsPage {
        chrome: Chrome::with_switch(lang, "/me/sessions", &[]),
        t,
        others: rows.iter().any(|r| !r.current),
        rows,
        notice: match query.get("done") {
            Some("ended") => Some(t.ended),
            Some("gone") => Some(t.gone),
            _ => None,
        },
        csrf,
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn end(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(current) = crate::signed_in::session(&state.idp, &headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return Ok(see_other("/login", Vec::new()));
    };
    let sessions = state.idp.sessions();
    let mine = sessions
        .list_active(&current.account_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let targets: Vec<&str> = match (form.get("action"), form.non_empty("session")) {
        (Some("others"), _) => mine
            .iter()
            .filter(|s| s.id != current.id)
            .map(|s| s.id.as_str())
            .collect(),
        // Only the citizen's own sessions: another id is as good as gone.
        (Some("one"), Some(id)) => mine
            .iter()
            .filter(|s| s.id == id)
            .map(|s| s.id.as_str())
            .collect(),
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    if targets.is_empty() {
        return Ok(see_other("/me/sessions?done=gone", Vec::new()));
    }
    let mut ended_current = false;
    for id in targets {
        sessions
            .end(id, "ended_by_citizen")
            .await
            .map_err(|e| PageError::from_idp(lang, &e))?;
        ended_current |= id == current.id;
    }
    if ended_current {
        let clear = clave_idp::session::clear_cookie_header(state.config.is_https());
        return Ok(see_other("/login", vec![clear]));
    }
    Ok(see_other("/me/sessions?done=ended", Vec::new()))
}
