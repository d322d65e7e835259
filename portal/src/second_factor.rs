//! `/login/second-factor`: the step after the password, or the step-up of a session that
//! has only the password, when a service, the citizen's "always ask" setting, or the security
//! or passkey page needs more.
//!
//! Reached from the authorization endpoint with `?req=<id>`, or from the portal with
//! `?then=security`, `passkeys`, `mailbox`, `agent` or `admin` (only the portal's own destinations are accepted,
//! never an address from the request); a portal step-up of a session older than five minutes
//! goes to the security page for the password first. The page asks for a code from the
//! authenticator app in a field named `code`, with a link to use a recovery code instead; the
//! passkey option is a partial (`partials/passkey_option.html`). When only a passkey can do —
//! level 3 is needed, or the citizen's only second factors are passkeys — the page offers the
//! passkey alone and refuses codes. On success the session is re-authenticated at level 2
//! (its token replaced) and the browser goes back to the authorization endpoint or the portal.
//!
//! A citizen whose service requires a level they cannot reach is told so, shown how to set up
//! a second factor, and offered to go back to the service (which then gets `access_denied`).

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_common::http::ClientAddr;
use clave_idp::accounts::Account;
use clave_idp::authreq::AuthRequest;
use clave_idp::factors::{FactorSummary, SecondFactorError, acr_of, is_fresh, rank};
use clave_idp::oidc::flow::{authorize, browser_cookie};
use clave_idp::session::{self, Authentication, Session};

use crate::PortalState;
use crate::cookies;
use crate::csrf::{self, CsrfToken};
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// `GET` and `POST /login/second-factor`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/login/second-factor", get(show).post(submit))
}

/// The sentences of the second-factor and security pages in one language.
#[derive(Debug)]
pub struct FactorTexts {
    /// The second-factor page's heading.
    pub title: &'static str,
    /// Under the heading.
    pub lede: &'static str,
    /// The TOTP code's label.
    pub code_label: &'static str,
    /// Under the TOTP code's label.
    pub code_hint: &'static str,
    /// The recovery code's label.
    pub recovery_label: &'static str,
    /// Under the recovery code's label.
    pub recovery_hint: &'static str,
    /// The continue button.
    pub submit: &'static str,
    /// The link to use a recovery code.
    pub use_recovery: &'static str,
    /// The link back to the app code.
    pub use_totp: &'static str,
    /// A wrong or expired code.
    pub code_wrong: &'static str,
    /// A code used before.
    pub code_reused: &'static str,
    /// Too many attempts.
    pub too_many: &'static str,
    /// The stuck page's heading.
    pub stuck_title: &'static str,
    /// What the stuck page says.
    pub stuck_body: &'static str,
    /// The link to set up a factor.
    pub stuck_enrol: &'static str,
    /// The button back to the service.
    pub stuck_back: &'static str,
    /// What to do when every factor is lost.
    pub lost_all: &'static str,
    /// The security page's link to the sessions page.
    pub sessions_link: &'static str,
    /// The security page's heading.
    pub security_title: &'static str,
    /// The authenticator section's heading.
    pub totp_heading: &'static str,
    /// An active authenticator.
    pub totp_active: &'static str,
    /// No authenticator.
    pub totp_none: &'static str,
    /// The enrolment button.
    pub totp_begin: &'static str,
    /// Enrolment instructions.
    pub totp_scan: &'static str,
    /// Before the key in text.
    pub totp_key: &'static str,
    /// The `otpauth://` link.
    pub totp_link: &'static str,
    /// The confirm button.
    pub totp_confirm: &'static str,
    /// The remove button.
    pub totp_remove: &'static str,
    /// Confirmation after enrolment.
    pub totp_enrolled: &'static str,
    /// Confirmation after removal.
    pub totp_removed: &'static str,
    /// The recovery section's heading.
    pub recovery_heading: &'static str,
    /// Before the number of codes left.
    pub recovery_left: &'static str,
    /// The generate button.
    pub recovery_generate: &'static str,
    /// Above freshly made codes.
    pub recovery_shown_once: &'static str,
    /// The "always ask" section's heading.
    pub always_heading: &'static str,
    /// The "always ask" setting's words.
    pub always_label: &'static str,
    /// Turn it on.
    pub always_on: &'static str,
    /// Turn it off.
    pub always_off: &'static str,
    /// It is on.
    pub always_is_on: &'static str,
    /// It is off.
    pub always_is_off: &'static str,
    /// Changes need a recent login.
    pub confirm_first: &'static str,
    /// The password field on the security page.
    pub password_label: &'static str,
    /// The button confirming the password.
    pub confirm_button: &'static str,
    /// Changes need the second factor first.
    pub step_up_first: &'static str,
    /// The link to the step-up.
    pub step_up_link: &'static str,
    /// The last factor cannot go while "always ask" is on.
    pub last_factor: &'static str,
    /// "Always ask" without a factor.
    pub need_factor: &'static str,
    /// The password is wrong.
    pub password_wrong: &'static str,
    /// Only a passkey will do (the level asked for, or the only factor the citizen has).
    pub passkey_needed: &'static str,
}

/// Spanish.
pub static ES: FactorTexts = FactorTexts {
    title: "Segundo factor",
    lede: "Para continuar, confirma que eres tú con tu segundo factor.",
    code_label: "Código de tu aplicación de autenticación",
    code_hint: "Los 6 dígitos que muestra la aplicación ahora.",
    recovery_label: "Código de recuperación",
    recovery_hint: "Uno de los 10 códigos que guardaste. Cada uno sirve una sola vez.",
    submit: "Continuar",
    use_recovery: "Usar un código de recuperación",
    use_totp: "Usar la aplicación de autenticación",
    code_wrong: "El código no es correcto o ya venció.",
    code_reused: "Ese código ya se usó. Espera el siguiente.",
    too_many: "Demasiados intentos. Inténtalo más tarde.",
    stuck_title: "Este servicio necesita un segundo factor",
    stuck_body: "El servicio exige un nivel de seguridad más alto que el que permiten los factores configurados en tu cuenta. Configura un segundo factor (o una llave de acceso) y vuelve a intentarlo.",
    stuck_enrol: "Configurar un segundo factor",
    stuck_back: "Volver al servicio sin ingresar",
    lost_all: "Si perdiste todos tus segundos factores, la recuperación de la cuenta no se hace en línea: acude a una oficina de atención con tu cédula de identidad.",
    sessions_link: "Ver dónde tienes sesiones abiertas y cerrarlas",
    security_title: "Seguridad de tu cuenta",
    totp_heading: "Aplicación de autenticación",
    totp_active: "Tienes una aplicación de autenticación activa.",
    totp_none: "No tienes una aplicación de autenticación.",
    totp_begin: "Configurar una aplicación de autenticación",
    totp_scan: "Escanea el código QR con tu aplicación de autenticación, o ingresa la clave a mano. Luego escribe el código que muestra.",
    totp_key: "Clave:",
    totp_link: "Abrir en la aplicación de autenticación de este teléfono",
    totp_confirm: "Activar",
    totp_remove: "Quitar la aplicación de autenticación",
    totp_enrolled: "La aplicación de autenticación quedó activa.",
    totp_removed: "La aplicación de autenticación fue quitada.",
    recovery_heading: "Códigos de recuperación",
    recovery_left: "Códigos sin usar:",
    recovery_generate: "Generar códigos nuevos",
    recovery_shown_once: "Guarda estos códigos en un lugar seguro. No se volverán a mostrar, y los anteriores ya no sirven.",
    always_heading: "Pedir siempre el segundo factor",
    always_label: "Pedir mi segundo factor cada vez que ingrese, aunque el servicio no lo exija.",
    always_on: "Activar",
    always_off: "Desactivar",
    always_is_on: "Activado.",
    always_is_off: "Desactivado.",
    confirm_first: "Para cambiar tus factores, confirma tu contraseña (tu último ingreso fue hace más de 5 minutos).",
    password_label: "Contraseña",
    confirm_button: "Confirmar",
    step_up_first: "Para cambiar tus factores, primero confirma tu segundo factor.",
    step_up_link: "Confirmar con mi segundo factor",
    last_factor: "No puedes quitar tu último segundo factor mientras esté activado «pedir siempre».",
    need_factor: "Configura un segundo factor antes de pedirlo siempre.",
    password_wrong: "La contraseña no es correcta.",
    passkey_needed: "Para continuar necesitas tu llave de acceso: un código de la aplicación o de recuperación no basta aquí.",
};

/// English.
pub static EN: FactorTexts = FactorTexts {
    title: "Second factor",
    lede: "To continue, confirm that it is you with your second factor.",
    code_label: "Code from your authenticator app",
    code_hint: "The 6 digits the app shows now.",
    recovery_label: "Recovery code",
    recovery_hint: "One of the 10 codes you saved. Each works once.",
    submit: "Continue",
    use_recovery: "Use a recovery code",
    use_totp: "Use the authenticator app",
    code_wrong: "The code is wrong or has expired.",
    code_reused: "That code was already used. Wait for the next one.",
    too_many: "Too many attempts. Try again later.",
    stuck_title: "This service needs a second factor",
    stuck_body: "The service requires a higher level of security than the factors set up in your account allow. Set up a second factor (or a passkey) and try again.",
    stuck_enrol: "Set up a second factor",
    stuck_back: "Go back to the service without logging in",
    lost_all: "If you lost all your second factors, the account is not recovered online: visit a service office with your identity card.",
    sessions_link: "See where you are signed in and end sessions",
    security_title: "Your account's security",
    totp_heading: "Authenticator app",
    totp_active: "You have an active authenticator app.",
    totp_none: "You have no authenticator app.",
    totp_begin: "Set up an authenticator app",
    totp_scan: "Scan the QR code with your authenticator app, or type the key by hand. Then type the code it shows.",
    totp_key: "Key:",
    totp_link: "Open in this phone's authenticator app",
    totp_confirm: "Activate",
    totp_remove: "Remove the authenticator app",
    totp_enrolled: "The authenticator app is now active.",
    totp_removed: "The authenticator app was removed.",
    recovery_heading: "Recovery codes",
    recovery_left: "Unused codes:",
    recovery_generate: "Make new codes",
    recovery_shown_once: "Keep these codes somewhere safe. They will not be shown again, and the earlier ones no longer work.",
    always_heading: "Always ask for my second factor",
    always_label: "Ask for my second factor every time I log in, even when the service does not require it.",
    always_on: "Turn on",
    always_off: "Turn off",
    always_is_on: "On.",
    always_is_off: "Off.",
    confirm_first: "To change your factors, confirm your password (you last logged in more than 5 minutes ago).",
    password_label: "Password",
    confirm_button: "Confirm",
    step_up_first: "To change your factors, first confirm your second factor.",
    step_up_link: "Confirm with my second factor",
    last_factor: "You cannot remove your last second factor while \"always ask\" is on.",
    need_factor: "Set up a second factor before asking for it every time.",
    password_wrong: "The password is wrong.",
    passkey_needed: "To continue you need your passkey: a code from the app or a recovery code is not enough here.",
};

/// The catalogue in `lang`.
pub fn texts(lang: Lang) -> &'static FactorTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

/// Which second factor the page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Totp,
    Recovery,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    t: &'static FactorTexts,
    req: Option<String>,
    then: Option<&'static str>,
    csrf: String,
    /// Whether the recovery-code form is shown (else the app code).
    recovery: bool,
    /// Whether the other method can be offered.
    other_method: bool,
    /// The link to the other method.
    other_href: String,
    /// Whether the citizen has passkeys (the passkey option is offered).
    passkeys: bool,
    /// Whether only a passkey can do (no code form).
    passkey_only: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "second_factor_stuck.html")]
struct StuckPage {
    chrome: Chrome,
    t: &'static FactorTexts,
    req: String,
    csrf: String,
}

/// The portal destinations a step-up outside a login may return to.
fn destination(then: Option<&str>) -> Option<&'static str> {
    match then {
        Some("security") => Some("security"),
        Some("passkeys") => Some("passkeys"),
        Some("mailbox") => Some("mailbox"),
        Some("agent") => Some("agent"),
        Some("admin") => Some("admin"),
        _ => None,
    }
}

fn destination_path(then: Option<&'static str>) -> &'static str {
    match then {
        Some("security") => "/me/security",
        Some("passkeys") => "/me/passkeys",
        Some("mailbox") => "/me/mailbox",
        Some("agent") => "/agent",
        Some("admin") => "/admin",
        _ => "/",
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// What the page works with: the session, its citizen, their factors and the request.
struct Context {
    session: Session,
    account: Account,
    summary: FactorSummary,
    request: Option<AuthRequest>,
    /// The level to reach, or `None` when the session already has what is needed.
    target: Option<u8>,
}

/// Loads the page's context, or the response that replaces the page (to the login when
/// there is no session, onwards when nothing is missing).
async fn context(
    state: &PortalState,
    headers: &HeaderMap,
    req: Option<&str>,
    then: Option<&'static str>,
    lang: Lang,
) -> Result<Result<Context, Response>, PageError> {
    let idp = &state.idp;
    let fail = |e: clave_idp::IdpError| PageError::from_idp(lang, &e);
    let request = match req {
        Some(id) => match idp
            .auth_requests()
            .get_for_browser(id, browser_cookie(headers))
            .await
            .map_err(fail)?
        {
            Some(request) => Some(request),
            None => return Err(PageError::new(PageErrorKind::RequestExpired, lang)),
        },
        None => None,
    };
    let session = match cookies::get(headers, session::COOKIE) {
        Some(token) => idp.sessions().from_cookie(token).await.map_err(fail)?,
        None => None,
    };
    let Some(session) = session else {
        let to_login = match &request {
            Some(request) => format!("/login?req={}", encode(&request.id)),
            None => "/login".to_owned(),
        };
        return Ok(Err(see_other(&to_login, Vec::new())));
    };
    let account = idp
        .accounts()
        .get(&session.account_id)
        .await
        .map_err(fail)?
        .ok_or(PageError::new(PageErrorKind::NotFound, lang))?;
    // The factor pages' changes need a recent password (see `clave_idp::factors`): a stale
    // session goes to the security page to type it first, so a code alone never makes a
    // session fresh.
    if request.is_none()
        && matches!(then, Some("security" | "passkeys"))
        && !is_fresh(&session, idp.ctx().clock.unix())
    {
        return Ok(Err(see_other("/me/security", Vec::new())));
    }
    let summary = idp.factors().summary(&account.id).await.map_err(fail)?;
    let has = rank(&session.acr);
    let target = match &request {
        Some(request) => {
            let client = idp.clients().get(&request.client_id).await.map_err(fail)?;
            let min_acr = client.and_then(|c| c.min_acr);
            clave_idp::oidc::flow::authorize::level_need(min_acr.as_deref(), request, &summary)
                .step_up_to(has, summary.reachable())
        }
        // The portal asks for the second factor whenever the citizen has one and the session
        // lacks it.
        None => (has < 2 && summary.has_second_factor()).then_some(2),
    };
    if target.is_none() {
        return Ok(Err(onwards(request.as_ref(), then, Vec::new())));
    }
    Ok(Ok(Context {
        session,
        account,
        summary,
        request,
        target,
    }))
}

/// Where the browser goes once the session has what is needed.
fn onwards(
    request: Option<&AuthRequest>,
    then: Option<&'static str>,
    cookies: Vec<String>,
) -> Response {
    match request {
        Some(request) => see_other(
            &format!("/oauth2/authorize/resume?req={}", encode(&request.id)),
            cookies,
        ),
        None => see_other(destination_path(then), cookies),
    }
}

fn page(
    lang: Lang,
    ctx: &Context,
    csrf: &CsrfToken,
    method: Method,
    then: Option<&'static str>,
    error: Option<String>,
) -> SecondFactorPage {
    let req = ctx.request.as_ref().map(|r| r.id.clone());
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(id) = &req {
        params.push(("req", id));
    }
    if let Some(then) = then {
        params.push(("then", then));
    }
    let other = match method {
        Method::Totp => "recovery",
        Method::Recovery => "totp",
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &params {
        query.append_pair(name, value);
    }
    query.append_pair("method", other);
    query.append_pair("lang", lang.tag());
    let other_method = match method {
        Method::Totp => ctx.summary.recovery_codes_left > 0,
        Method::Recovery => ctx.summary.totp,
    };
    SecondFactorPage {
        chrome: Chrome::with_switch(lang, "/login/second-factor", &params),
        t: texts(lang),
        req,
        then,
        csrf: csrf.value().to_owned(),
        recovery: method == Method::Recovery,
        other_method,
        other_href: format!("/login/second-factor?{}", query.finish()),
        passkeys: ctx.summary.passkeys > 0,
        passkey_only: passkey_only(ctx),
        error,
    }
}

/// Whether only a passkey can reach what is needed: level 3 asked for (codes give level 2,
/// so taking one would loop and burn a single-use recovery code), or a citizen whose only
/// second factors are passkeys.
fn passkey_only(ctx: &Context) -> bool {
    ctx.target.is_some_and(|t| t >= 3)
        || (!ctx.summary.totp && ctx.summary.recovery_codes_left == 0)
}

/// The method to show: the one asked for if the citizen has it, else the app, else codes.
fn method_for(asked: Option<&str>, summary: &FactorSummary) -> Method {
    match asked {
        Some("recovery") if summary.recovery_codes_left > 0 => Method::Recovery,
        _ if summary.totp => Method::Totp,
        _ if summary.recovery_codes_left > 0 => Method::Recovery,
        _ => Method::Totp,
    }
}

fn stuck(
    lang: Lang,
    request: &AuthRequest,
    csrf: &CsrfToken,
    cookies: Vec<String>,
) -> Result<Response, PageError> {
    let page = StuckPage {
        chrome: Chrome::with_switch(lang, "/login/second-factor", &[("req", &request.id)]),
        t: texts(lang),
        req: request.id.clone(),
        csrf: csrf.value().to_owned(),
    };
    render(&page, lang, StatusCode::FORBIDDEN, cookies)
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let explicit = query.non_empty("lang");
    let then = destination(query.non_empty("then"));
    let fallback = Lang::choose(explicit, &headers, None);
    let ctx = match context(&state, &headers, query.non_empty("req"), then, fallback).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    let lang = Lang::choose(
        explicit,
        &headers,
        ctx.request.as_ref().and_then(|r| r.ui_locales.as_deref()),
    );
    let secure = state.config.is_https();
    let csrf = CsrfToken::for_page(&headers);
    let mut cookies: Vec<String> = csrf.set_cookie(secure).into_iter().collect();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(secure));
    }
    if let Some(request) = &ctx.request
        && ctx.target.is_some_and(|t| t > ctx.summary.reachable())
    {
        return stuck(lang, request, &csrf, cookies);
    }
    let method = method_for(query.non_empty("method"), &ctx.summary);
    let page = page(lang, &ctx, &csrf, method, then, None);
    render(&page, lang, StatusCode::OK, cookies)
}

async fn submit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Fields::parse(&body);
    let explicit = form.non_empty("lang");
    let lang = Lang::choose(explicit, &headers, None);
    if !form::is_form(&headers) {
        return Err(PageError::new(PageErrorKind::BadRequest, lang));
    }
    csrf::verify(&headers, form.get(csrf::FIELD), lang)?;
    let then = destination(form.non_empty("then"));
    if form.get("action") == Some("give_up") {
        let Some(req) = form.non_empty("req") else {
            return Err(PageError::new(PageErrorKind::RequestExpired, lang));
        };
        return match authorize::give_up_step_up(&state.idp, req, &headers).await {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(PageError::new(PageErrorKind::RequestExpired, lang)),
            Err(e) => Err(PageError::from_idp(lang, &e)),
        };
    }
    let ctx = match context(&state, &headers, form.non_empty("req"), then, lang).await? {
        Ok(ctx) => ctx,
        Err(response) => return Ok(response),
    };
    let csrf = CsrfToken::for_page(&headers);
    let t = texts(lang);
    let method = method_for(form.get("method"), &ctx.summary);
    if passkey_only(&ctx) {
        // Refused before any code is checked: a recovery code is not spent on a step that
        // cannot succeed.
        let page = page(
            lang,
            &ctx,
            &csrf,
            method,
            then,
            Some(t.passkey_needed.to_owned()),
        );
        return render(&page, lang, StatusCode::BAD_REQUEST, Vec::new());
    }
    let code = form.get("code").unwrap_or_default();
    let outcome = match method {
        Method::Totp => state.idp.totps().verify(&ctx.account, code, addr).await,
        Method::Recovery => {
            state
                .idp
                .recovery_codes()
                .redeem(&ctx.account, code, addr)
                .await
        }
    };
    let (status, message) = match outcome {
        Ok(()) => return elevate(&state, &ctx, then, lang).await,
        Err(SecondFactorError::Invalid | SecondFactorError::NotEnrolled) => {
            (StatusCode::BAD_REQUEST, t.code_wrong)
        }
        Err(SecondFactorError::Reused) => (StatusCode::BAD_REQUEST, t.code_reused),
        Err(SecondFactorError::LockedOut { .. }) => (StatusCode::TOO_MANY_REQUESTS, t.too_many),
        Err(SecondFactorError::Internal(e)) => return Err(PageError::from_idp(lang, &e)),
    };
    let page = page(lang, &ctx, &csrf, method, then, Some(message.to_owned()));
    render(&page, lang, status, Vec::new())
}

/// Raises the session to level 2 with the methods used so far plus `otp` and `mfa`, and
/// sends the browser onwards with the new cookie.
async fn elevate(
    state: &PortalState,
    ctx: &Context,
    then: Option<&'static str>,
    lang: Lang,
) -> Result<Response, PageError> {
    let mut amr = ctx.session.amr.clone();
    for method in ["otp", "mfa"] {
        if !amr.iter().any(|m| m == method) {
            amr.push(method.to_owned());
        }
    }
    let authentication = Authentication {
        acr: acr_of(rank(&ctx.session.acr).max(2)).to_owned(),
        amr,
    };
    let token = match state
        .idp
        .sessions()
        .reauthenticate(&ctx.session.id, authentication)
        .await
    {
        Ok(Some((_, token))) => token,
        Ok(None) => return Ok(see_other("/login", Vec::new())),
        Err(e) => return Err(PageError::from_idp(lang, &e)),
    };
    let cookie = session::cookie_header(
        &token,
        state.config.tokens.session_ttl_secs,
        state.config.is_https(),
    );
    Ok(onwards(ctx.request.as_ref(), then, vec![cookie]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_portals_own_destinations_are_followed() {
        assert_eq!(destination(Some("security")), Some("security"));
        assert_eq!(destination(Some("https://evil.example")), None);
        assert_eq!(destination_path(None), "/");
        assert_eq!(destination_path(Some("security")), "/me/security");
        assert_eq!(destination(Some("passkeys")), Some("passkeys"));
        assert_eq!(destination_path(Some("passkeys")), "/me/passkeys");
    }

    #[test]
    fn the_app_is_asked_first_and_codes_when_asked_or_alone() {
        let both = FactorSummary {
            totp: true,
            recovery_codes_left: 3,
            ..FactorSummary::default()
        };
        assert_eq!(method_for(None, &both), Method::Totp);
        assert_eq!(method_for(Some("recovery"), &both), Method::Recovery);
        let codes_only = FactorSummary {
            recovery_codes_left: 3,
            ..FactorSummary::default()
        };
        assert_eq!(method_for(None, &codes_only), Method::Recovery);
        let app_only = FactorSummary {
            totp: true,
            ..FactorSummary::default()
        };
        assert_eq!(method_for(Some("recovery"), &app_only), Method::Totp);
    }
}
