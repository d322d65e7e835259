//! `/me/passkeys`: the citizen's passkeys — list (name, added, last use), rename, delete, and
//! the button that registers a new one (through `static/passkey.js`).
//!
//! Renaming and deleting are plain forms with the CSRF field, so they work without scripts;
//! registering needs WebAuthn, and the page says so where the browser lacks it. Changes need
//! a fresh authentication (see [`super::may_change_factors`]); a stale session gets a page
//! asking to log in again rather than the change.

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use clave_idp::passkey::{PasskeyError, PasskeyInfo};
use clave_idp::session::Session;

use crate::PortalState;
use crate::csrf::{self, CsrfToken};
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// `GET /me/passkeys`, `POST /me/passkeys/{id}/rename`, `POST /me/passkeys/{id}/delete`.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/me/passkeys", get(show))
        .route("/me/passkeys/{id}/rename", post(rename))
        .route("/me/passkeys/{id}/delete", post(delete))
}

/// The passkey page's sentences in one language.
#[derive(Debug)]
pub struct PasskeyTexts {
    /// The heading.
    pub title: &'static str,
    /// What a passkey is.
    pub intro: &'static str,
    /// When there is none yet.
    pub none_yet: &'static str,
    /// Column and label: the name.
    pub name: &'static str,
    /// "Added".
    pub added: &'static str,
    /// "Last used".
    pub last_used: &'static str,
    /// "Never".
    pub never: &'static str,
    /// The rename button.
    pub rename: &'static str,
    /// The delete button.
    pub delete: &'static str,
    /// The label of the new passkey's name.
    pub new_name: &'static str,
    /// The register button.
    pub register: &'static str,
    /// Shown where the browser has no WebAuthn.
    pub unsupported: &'static str,
    /// Shown when a change needs a fresh login.
    pub reauth: &'static str,
    /// The link to log in again.
    pub login_again: &'static str,
    /// Shown after a change.
    pub saved: &'static str,
    /// A name that is too long.
    pub bad_name: &'static str,
    /// Refusing to delete the last second factor while every login asks for one.
    pub last_factor: &'static str,
    /// Messages for the script: working, failed, refused.
    pub working: &'static str,
    /// The ceremony failed or was cancelled.
    pub failed: &'static str,
}

const ES: PasskeyTexts = PasskeyTexts {
    title: "Llaves de acceso",
    intro: "Una llave de acceso (passkey) le permite entrar con la huella, el rostro o el PIN de su dispositivo, sin contraseña y sin riesgo de suplantación.",
    none_yet: "Aún no tiene llaves de acceso.",
    name: "Nombre",
    added: "Agregada",
    last_used: "Último uso",
    never: "Nunca",
    rename: "Cambiar nombre",
    delete: "Eliminar",
    new_name: "Nombre de la nueva llave (por ejemplo, «Teléfono»)",
    register: "Registrar una llave de acceso",
    unsupported: "Este navegador no permite usar llaves de acceso. Puede seguir entrando con su contraseña.",
    reauth: "Por seguridad, vuelva a ingresar (con su segundo factor, si lo tiene) antes de cambiar sus llaves de acceso.",
    login_again: "Ingresar de nuevo",
    saved: "Cambios guardados.",
    bad_name: "El nombre puede tener hasta 60 caracteres.",
    last_factor: "Este es su último segundo factor y usted pidió que se le solicite en cada ingreso: agregue otro antes de eliminarla.",
    working: "Siga las indicaciones de su dispositivo…",
    failed: "No se pudo usar la llave de acceso. Inténtelo de nuevo.",
};

const EN: PasskeyTexts = PasskeyTexts {
    title: "Passkeys",
    intro: "A passkey lets you log in with your device's fingerprint, face or PIN: no password, and no risk of phishing.",
    none_yet: "You have no passkeys yet.",
    name: "Name",
    added: "Added",
    last_used: "Last used",
    never: "Never",
    rename: "Rename",
    delete: "Delete",
    new_name: "Name of the new passkey (for example, “Phone”)",
    register: "Register a passkey",
    unsupported: "This browser cannot use passkeys. You can still log in with your password.",
    reauth: "For your security, log in again (with your second factor, if you have one) before changing your passkeys.",
    login_again: "Log in again",
    saved: "Changes saved.",
    bad_name: "A name can have up to 60 characters.",
    last_factor: "This is your last second factor and you asked to be asked for one at every login: add another before deleting it.",
    working: "Follow your device's prompts…",
    failed: "The passkey could not be used. Please try again.",
};

/// The passkey sentences in `lang`.
pub fn texts(lang: Lang) -> &'static PasskeyTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

/// One passkey as the page shows it.
struct Row {
    id: String,
    name: String,
    added: String,
    last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "passkeys.html")]
struct PasskeysPage {
    chrome: Chrome,
    p: &'static PasskeyTexts,
    csrf: String,
    rows: Vec<Row>,
    /// Whether changes are allowed now (fresh authentication).
    fresh: bool,
    /// A note at the top (saved, or a problem).
    notice: Option<&'static str>,
}

/// A Unix time as the page shows it, in UTC.
fn when(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

fn row(info: PasskeyInfo) -> Row {
    Row {
        id: info.id,
        name: info.name,
        added: when(info.created_at),
        last_used: info.last_used_at.map(when),
    }
}

fn page_error(lang: Lang, e: PasskeyError) -> PageError {
    match e {
        PasskeyError::NotFound => PageError::new(PageErrorKind::NotFound, lang),
        PasskeyError::Idp(e) => PageError::from_idp(lang, &e),
        other => PageError::internal(lang, other),
    }
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let explicit = query.non_empty("lang");
    let lang = Lang::choose(explicit, &headers, None);
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let notice = match query.get("done") {
        Some("saved") => Some(texts(lang).saved),
        Some("reauth") => Some(texts(lang).reauth),
        Some("name") => Some(texts(lang).bad_name),
        Some("last") => Some(texts(lang).last_factor),
        _ => None,
    };
    let secure = state.config.is_https();
    let csrf = CsrfToken::for_page(&headers);
    let mut set_cookies: Vec<String> = csrf.set_cookie(secure).into_iter().collect();
    if explicit.and_then(Lang::from_tag).is_some() {
        set_cookies.push(lang.remember(secure));
    }
    page(&state, &session, lang, &csrf, notice, set_cookies).await
}

async fn page(
    state: &PortalState,
    session: &Session,
    lang: Lang,
    csrf: &CsrfToken,
    notice: Option<&'static str>,
    set_cookies: Vec<String>,
) -> Result<Response, PageError> {
    let rows = state
        .idp
        .passkeys()
        .list(&session.account_id)
        .await
        .map_err(|e| page_error(lang, e))?
        .into_iter()
        .map(row)
        .collect();
    let fresh = super::may_change_factors(state, session)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let view = PasskeysPage {
        chrome: Chrome::with_switch(lang, "/me/passkeys", &[]),
        p: texts(lang),
        csrf: csrf.value().to_owned(),
        rows,
        fresh,
        notice,
    };
    render(&view, lang, StatusCode::OK, set_cookies)
}

/// Checks a management form and returns the session allowed to change passkeys, or where to
/// send the browser instead.
async fn changing(
    state: &PortalState,
    headers: &HeaderMap,
    form: &Fields,
    lang: Lang,
) -> Result<Result<Session, Response>, PageError> {
    if !form::is_form(headers) {
        return Err(PageError::new(PageErrorKind::BadRequest, lang));
    }
    csrf::verify(headers, form.get(csrf::FIELD), lang)?;
    let Some(session) = crate::signed_in::page_session(&state.idp, headers, lang).await? else {
        return Ok(Err(see_other("/login", Vec::new())));
    };
    let allowed = super::may_change_factors(state, &session)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    if !allowed {
        return Ok(Err(see_other("/me/passkeys?done=reauth", Vec::new())));
    }
    Ok(Ok(session))
}

async fn rename(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Fields::parse(&body);
    let lang = Lang::choose(form.non_empty("lang"), &headers, None);
    let session = match changing(&state, &headers, &form, lang).await? {
        Ok(session) => session,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let name = form.get("name").unwrap_or_default();
    match state
        .idp
        .passkeys()
        .rename(&session.account_id, &id, name)
        .await
    {
        Ok(()) => Ok(see_other("/me/passkeys?done=saved", Vec::new())),
        Err(PasskeyError::InvalidName(_)) => Ok(see_other("/me/passkeys?done=name", Vec::new())),
        Err(e) => Err(page_error(lang, e)),
    }
}

async fn delete(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Fields::parse(&body);
    let lang = Lang::choose(form.non_empty("lang"), &headers, None);
    let session = match changing(&state, &headers, &form, lang).await? {
        Ok(session) => session,
        Err(elsewhere) => return Ok(elsewhere),
    };
    // The last second factor stays while the citizen has every login ask for one; the idp
    // checks it in the same transaction as the deletion.
    match state.idp.passkeys().delete(&session.account_id, &id).await {
        Ok(()) => {}
        Err(clave_idp::passkey::PasskeyError::Idp(clave_idp::IdpError::Conflict(_))) => {
            return Ok(see_other("/me/passkeys?done=last", Vec::new()));
        }
        Err(e) => return Err(page_error(lang, e)),
    }
    Ok(see_other("/me/passkeys?done=saved", Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(when(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(when(i64::MAX), "");
    }

    #[test]
    fn both_languages_say_everything() {
        for lang in [Lang::Es, Lang::En] {
            let t = texts(lang);
            for text in [t.title, t.reauth, t.last_factor, t.unsupported, t.failed] {
                assert!(!text.is_empty());
            }
        }
        assert_ne!(texts(Lang::Es).title, texts(Lang::En).title);
    }
}
