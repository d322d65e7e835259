//! The emergency lock in the portal: `/me/lock` (the citizen locks their account: every
//! session ends, every token is revoked, no one can sign in) and `/unlock` (the citizen lifts
//! their own emergency lock with their password and one of their recovery codes). A front
//! desk lifts it at `/agent/unlock` after checking the citizen's identity card in person.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_common::Run;
use clave_common::http::ClientAddr;
use clave_idp::accounts::LoginError;
use clave_idp::emergency::{EMERGENCY, OPERATOR};
use clave_idp::factors::SecondFactorError;
use clave_idp::session;

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::PageError;
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// The lock and unlock pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/me/lock", get(lock_page).post(lock))
        .route("/unlock", get(unlock_page).post(unlock))
}

/// The pages' sentences in one language.
#[derive(Debug)]
pub struct LockTexts {
    /// `/me/lock`'s heading.
    pub lock_title: &'static str,
    /// What the lock does.
    pub lock_intro: &'static str,
    /// How to lift it.
    pub lock_after: &'static str,
    /// The confirmation checkbox.
    pub lock_confirm: &'static str,
    /// The button.
    pub lock_button: &'static str,
    /// When the box was not ticked.
    pub lock_unconfirmed: &'static str,
    /// The page after locking.
    pub locked_title: &'static str,
    /// What happened.
    pub locked_body: &'static str,
    /// `/unlock`'s heading.
    pub unlock_title: &'static str,
    /// Its explanation.
    pub unlock_intro: &'static str,
    /// Field labels.
    pub run_label: &'static str,
    /// .
    pub password_label: &'static str,
    /// .
    pub code_label: &'static str,
    /// The button.
    pub unlock_button: &'static str,
    /// Failures.
    pub bad_run: &'static str,
    /// .
    pub bad_credentials: &'static str,
    /// .
    pub not_locked: &'static str,
    /// .
    pub operator_locked: &'static str,
    /// .
    pub bad_code: &'static str,
    /// .
    pub throttled: &'static str,
    /// After unlocking.
    pub unlocked: &'static str,
    /// The login link.
    pub login: &'static str,
    /// Front desk: lifted.
    pub desk_unlocked: &'static str,
    /// Front desk: the identity check was not confirmed.
    pub desk_unconfirmed: &'static str,
}

/// Spanish.
pub static ES: LockTexts = LockTexts {
    lock_title: "Bloqueo de emergencia",
    lock_intro: "Si crees que alguien más usa tu cuenta, bloquéala ahora: se cerrarán todas tus sesiones, los servicios dejarán de tener acceso y nadie podrá ingresar, ni siquiera tú.",
    lock_after: "Para desbloquearla necesitarás uno de tus códigos de recuperación, o ir a una oficina de atención con tu cédula de identidad.",
    lock_confirm: "Entiendo que nadie podrá ingresar hasta que la desbloquee",
    lock_button: "Bloquear mi cuenta",
    lock_unconfirmed: "Marca la casilla para confirmar el bloqueo.",
    locked_title: "Tu cuenta está bloqueada",
    locked_body: "Cerramos todas tus sesiones y revocamos el acceso de los servicios. Nadie puede ingresar a tu cuenta.",
    unlock_title: "Desbloquear mi cuenta",
    unlock_intro: "Si bloqueaste tu cuenta, desbloquéala con tu contraseña y uno de tus códigos de recuperación. Si no tienes códigos, ve a una oficina de atención con tu cédula de identidad.",
    run_label: "RUN",
    password_label: "Contraseña",
    code_label: "Código de recuperación",
    unlock_button: "Desbloquear",
    bad_run: "El RUN no es válido. Escríbelo con su dígito verificador, por ejemplo 12.345.678-5.",
    bad_credentials: "El RUN o la contraseña no son correctos.",
    not_locked: "Tu cuenta no está bloqueada. Puedes ingresar.",
    operator_locked: "Tu cuenta fue bloqueada por la mesa de ayuda. Comunícate con ella para desbloquearla.",
    bad_code: "El código de recuperación no es válido o ya se usó.",
    throttled: "Demasiados intentos fallidos. Espera unos minutos antes de intentarlo de nuevo.",
    unlocked: "Tu cuenta está desbloqueada. Te recomendamos cambiar tu contraseña al ingresar.",
    login: "Ingresar",
    desk_unlocked: "La cuenta quedó desbloqueada.",
    desk_unconfirmed: "Confirma que verificaste la cédula de identidad en persona.",
};

/// English.
pub static EN: LockTexts = LockTexts {
    lock_title: "Emergency lock",
    lock_intro: "If you think someone else is using your account, lock it now: all your sessions end, services lose their access and no one can sign in, not even you.",
    lock_after: "To unlock it you will need one of your recovery codes, or to visit a service office with your identity card.",
    lock_confirm: "I understand that no one can sign in until I unlock it",
    lock_button: "Lock my account",
    lock_unconfirmed: "Tick the box to confirm the lock.",
    locked_title: "Your account is locked",
    locked_body: "We ended all your sessions and revoked the services' access. No one can sign in to your account.",
    unlock_title: "Unlock my account",
    unlock_intro: "If you locked your account, unlock it with your password and one of your recovery codes. Without codes, visit a service office with your identity card.",
    run_label: "RUN",
    password_label: "Password",
    code_label: "Recovery code",
    unlock_button: "Unlock",
    bad_run: "The RUN is not valid. Type it with its check digit, for example 12.345.678-5.",
    bad_credentials: "The RUN or the password is wrong.",
    not_locked: "Your account is not locked. You can sign in.",
    operator_locked: "The help desk locked your account. Contact them to unlock it.",
    bad_code: "The recovery code is not valid or was already used.",
    throttled: "Too many failed attempts. Wait a few minutes before trying again.",
    unlocked: "Your account is unlocked. We recommend changing your password when you sign in.",
    login: "Sign in",
    desk_unlocked: "The account is unlocked.",
    desk_unconfirmed: "Confirm that you checked the identity card in person.",
};

/// The sentences in `lang`.
pub fn texts(lang: Lang) -> &'static LockTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "lock.html")]
struct LockPage {
    chrome: Chrome,
    t: &'static LockTexts,
    error: Option<&'static str>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "locked.html")]
struct LockedPage {
    chrome: Chrome,
    t: &'static LockTexts,
}

#[derive(Template)]
#[template(path = "unlock.html")]
struct UnlockPage {
    chrome: Chrome,
    t: &'static LockTexts,
    run: String,
    error: Option<&'static str>,
    done: bool,
    csrf: String,
}

async fn lock_page(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    if crate::signed_in::session(&state.idp, &headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .is_none()
    {
        return Ok(see_other("/login", Vec::new()));
    }
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let page = LockPage {
        chrome: Chrome::with_switch(lang, "/me/lock", &[]),
        t: texts(lang),
        error: None,
        csrf,
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn lock(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    // Any signed-in session may lock, even one below the level the citizen demands of
    // sign-ins: locking only takes power away.
    let Some(token) = crate::cookies::get(&headers, session::COOKIE) else {
        return Ok(see_other("/login", Vec::new()));
    };
    let Some(session) = state
        .idp
        .sessions()
        .from_cookie(token)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    if form.get("confirm") != Some("yes") {
        let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
        let page = LockPage {
            chrome: Chrome::new(lang),
            t,
            error: Some(t.lock_unconfirmed),
            csrf,
        };
        return render(&page, lang, StatusCode::BAD_REQUEST, cookies);
    }
    state
        .idp
        .accounts()
        .lock(&session.account_id, EMERGENCY, &session.account_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let page = LockedPage {
        chrome: Chrome::new(lang),
        t,
    };
    let clear = session::clear_cookie_header(state.config.is_https());
    render(&page, lang, StatusCode::OK, vec![clear])
}

async fn unlock_page(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let page = UnlockPage {
        chrome: Chrome::with_switch(lang, "/unlock", &[]),
        t: texts(lang),
        run: String::new(),
        error: None,
        done: false,
        csrf,
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn unlock(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let t = texts(lang);
    let typed = form.get("run").unwrap_or_default().trim().to_owned();
    let answer = |status: StatusCode, error: Option<&'static str>, done: bool| {
        let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
        let page = UnlockPage {
            chrome: Chrome::new(lang),
            t,
            run: typed.clone(),
            error,
            done,
            csrf,
        };
        render(&page, lang, status, cookies)
    };
    let Ok(run) = Run::parse(&typed) else {
        return answer(StatusCode::BAD_REQUEST, Some(t.bad_run), false);
    };
    let password = form.get("password").unwrap_or_default();
    let accounts = state.idp.accounts();
    // The password first, counted by the login's throttle: only a locked account with the
    // right password goes on to its recovery code.
    match accounts.verify_password(&run, password, addr).await {
        Err(LoginError::AccountLocked) => {}
        Ok(_) => return answer(StatusCode::BAD_REQUEST, Some(t.not_locked), false),
        Err(LoginError::InvalidCredentials) => {
            return answer(StatusCode::BAD_REQUEST, Some(t.bad_credentials), false);
        }
        Err(LoginError::LockedOut { .. }) => {
            return answer(StatusCode::TOO_MANY_REQUESTS, Some(t.throttled), false);
        }
        Err(LoginError::Internal(e)) => return Err(PageError::from_idp(lang, &e)),
    }
    let account = accounts
        .find_by_run(&run)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .ok_or_else(|| PageError::internal(lang, "a locked account vanished"))?;
    let reason = accounts
        .lock_reason(&account.id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    if reason.as_deref() == Some(OPERATOR) {
        return answer(StatusCode::FORBIDDEN, Some(t.operator_locked), false);
    }
    let code = form.get("code").unwrap_or_default();
    match state
        .idp
        .recovery_codes()
        .redeem(&account, code, addr)
        .await
    {
        Ok(()) => {}
        Err(SecondFactorError::LockedOut { .. }) => {
            return answer(StatusCode::TOO_MANY_REQUESTS, Some(t.throttled), false);
        }
        Err(SecondFactorError::Internal(e)) => return Err(PageError::from_idp(lang, &e)),
        Err(_) => return answer(StatusCode::BAD_REQUEST, Some(t.bad_code), false),
    }
    accounts
        .unlock(&account.id, &account.id, "recovery_code", false)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    answer(StatusCode::OK, None, true)
}
