//! `/me/security`: the citizen's second factors. Set up an authenticator app (QR code drawn
//! here as SVG, the key in text, and an `otpauth://` link for a phone), confirm it with a
//! code, remove it; make recovery codes (shown once); choose "always ask for my second
//! factor". Passkeys have their own page, linked from here.
//!
//! Every change needs the freshness rule of `clave_idp::factors`: a login within five
//! minutes (else the page asks for the password again, here), and, once the account has a
//! second factor, a session that used one (else the page links to the step-up). The idp
//! journals every change.

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_common::http::ClientAddr;
use clave_idp::IdpError;
use clave_idp::accounts::{Account, LoginError};
use clave_idp::factors::{FactorSummary, SecondFactorError, is_fresh, rank};
use clave_idp::session::{self, Authentication, Session};

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};
use crate::second_factor::{FactorTexts, texts};

/// `GET` and `POST /me/security`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/me/security", get(show).post(submit))
}

/// A pending enrolment as the page shows it.
struct PendingTotp {
    /// The QR code of the URI, as inline SVG.
    qr_svg: String,
    /// The key in groups of four.
    key: String,
    /// The `otpauth://totp/…` URI.
    uri: String,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    t: &'static FactorTexts,
    csrf: String,
    /// A confirmation to show.
    notice: Option<&'static str>,
    /// A problem to show.
    error: Option<&'static str>,
    /// The session is too old for changes: ask for the password.
    needs_password: bool,
    /// The session lacks the second factor the account has: link to the step-up.
    needs_step_up: bool,
    totp_active: bool,
    pending: Option<PendingTotp>,
    recovery_left: i64,
    /// Codes just made, shown this once.
    new_codes: Vec<String>,
    always_ask: bool,
    has_second_factor: bool,
    /// For the passkey section.
    passkey_count: i64,
    /// The emergency lock's sentences, for its link.
    lock: &'static crate::emergency::LockTexts,
}

impl SecurityPage {
    fn may_change(&self) -> bool {
        !self.needs_password && !self.needs_step_up
    }
}

/// The QR code of `text` as an SVG element, drawn here (no outside service sees the key).
fn qr_svg(text: &str) -> Result<String, String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| format!("QR code failed: {e}"))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    // The renderer writes an XML declaration, which has no place inside HTML.
    let start = svg.find("<svg").ok_or("QR code without <svg>")?;
    Ok(svg[start..].replacen("<svg", "<svg role=\"img\" aria-label=\"QR\"", 1))
}

/// What every request of the page starts from.
struct Citizen {
    session: Session,
    account: Account,
    summary: FactorSummary,
}

async fn citizen(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Option<Citizen>, PageError> {
    let idp = &state.idp;
    let fail = |e: IdpError| PageError::from_idp(lang, &e);
    let Some(session) = crate::signed_in::session(idp, headers)
        .await
        .map_err(fail)?
    else {
        return Ok(None);
    };
    let Some(account) = idp
        .accounts()
        .get(&session.account_id)
        .await
        .map_err(fail)?
    else {
        return Ok(None);
    };
    let summary = idp.factors().summary(&account.id).await.map_err(fail)?;
    Ok(Some(Citizen {
        session,
        account,
        summary,
    }))
}

/// Builds the page for `citizen` as things stand.
async fn page(
    state: &PortalState,
    citizen: &Citizen,
    lang: Lang,
    csrf: &CsrfToken,
) -> Result<SecurityPage, PageError> {
    let pending = if citizen.summary.totp {
        None
    } else {
        match state.idp.totps().pending(&citizen.account).await {
            Ok(Some(enrolment)) => Some(PendingTotp {
                qr_svg: qr_svg(&enrolment.uri).map_err(|e| PageError::internal(lang, e))?,
                key: enrolment.grouped_secret(),
                uri: enrolment.uri,
            }),
            Ok(None) => None,
            Err(e) => return Err(PageError::from_idp(lang, &e)),
        }
    };
    let now = state.idp.ctx().clock.unix();
    let summary = &citizen.summary;
    Ok(SecurityPage {
        chrome: Chrome::with_switch(lang, "/me/security", &[]),
        t: texts(lang),
        csrf: csrf.value().to_owned(),
        notice: None,
        error: None,
        needs_password: !is_fresh(&citizen.session, now),
        needs_step_up: summary.has_second_factor() && rank(&citizen.session.acr) < 2,
        totp_active: summary.totp,
        pending,
        recovery_left: summary.recovery_codes_left,
        new_codes: Vec::new(),
        always_ask: summary.always_ask,
        has_second_factor: summary.has_second_factor(),
        passkey_count: summary.passkeys,
        lock: crate::emergency::texts(lang),
    })
}

/// The confirmation a `done` parameter names.
fn notice_for(done: Option<&str>, t: &'static FactorTexts) -> Option<&'static str> {
    match done {
        Some("totp_enrolled") => Some(t.totp_enrolled),
        Some("totp_removed") => Some(t.totp_removed),
        _ => None,
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
    let Some(citizen) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let secure = state.config.is_https();
    let csrf = CsrfToken::for_page(&headers);
    let mut cookies: Vec<String> = csrf.set_cookie(secure).into_iter().collect();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(secure));
    }
    let mut page = page(&state, &citizen, lang, &csrf).await?;
    page.notice = notice_for(query.non_empty("done"), texts(lang));
    render(&page, lang, StatusCode::OK, cookies)
}

async fn submit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(citizen) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let csrf = CsrfToken::for_page(&headers);
    let t = texts(lang);
    let idp = &state.idp;
    let fail = |e: IdpError| PageError::from_idp(lang, &e);
    let mut page = page(&state, &citizen, lang, &csrf).await?;
    let action = form.get("action").unwrap_or_default();

    if action == "reauthenticate" {
        return reauthenticate(&state, &citizen, form.get("password"), addr, page, lang).await;
    }
    if !page.may_change() {
        // The page says why (password again, or the second factor first).
        return render(&page, lang, StatusCode::FORBIDDEN, Vec::new());
    }
    let account = &citizen.account;
    match action {
        "totp_begin" => match idp.totps().begin(account).await {
            Ok(_) | Err(IdpError::Conflict(_)) => Ok(see_other("/me/security", Vec::new())),
            Err(e) => Err(fail(e)),
        },
        "totp_confirm" => {
            let code = form.get("code").unwrap_or_default();
            match idp.totps().confirm(account, code, addr).await {
                Ok(()) => Ok(see_other("/me/security?done=totp_enrolled", Vec::new())),
                Err(SecondFactorError::Internal(e)) => Err(fail(e)),
                Err(SecondFactorError::LockedOut { .. }) => {
                    page.error = Some(t.too_many);
                    render(&page, lang, StatusCode::TOO_MANY_REQUESTS, Vec::new())
                }
                Err(_) => {
                    page.error = Some(t.code_wrong);
                    render(&page, lang, StatusCode::BAD_REQUEST, Vec::new())
                }
            }
        }
        "totp_remove" => match idp.factors().remove_totp(&account.id).await {
            Ok(()) => Ok(see_other("/me/security?done=totp_removed", Vec::new())),
            Err(IdpError::Conflict(_)) => {
                page.error = Some(t.last_factor);
                render(&page, lang, StatusCode::CONFLICT, Vec::new())
            }
            Err(IdpError::NotFound(_)) => Ok(see_other("/me/security", Vec::new())),
            Err(e) => Err(fail(e)),
        },
        "recovery_generate" => {
            let codes = idp
                .recovery_codes()
                .generate(&account.id)
                .await
                .map_err(fail)?;
            page.recovery_left = i64::try_from(codes.len()).unwrap_or_default();
            page.has_second_factor = true;
            page.new_codes = codes;
            render(&page, lang, StatusCode::OK, Vec::new())
        }
        "always_ask" => {
            let on = form.get("value") == Some("on");
            match idp.factors().set_always_ask(&account.id, on).await {
                Ok(()) => Ok(see_other("/me/security", Vec::new())),
                Err(IdpError::Invalid(_)) => {
                    page.error = Some(t.need_factor);
                    render(&page, lang, StatusCode::BAD_REQUEST, Vec::new())
                }
                Err(e) => Err(fail(e)),
            }
        }
        _ => Err(PageError::new(PageErrorKind::BadRequest, lang)),
    }
}

/// The password typed again on this page: the session is re-authenticated at level 1 (a
/// fresh `auth_time`, a new cookie); a citizen with a second factor then confirms it at the
/// step-up, which opens changes for five minutes.
async fn reauthenticate(
    state: &PortalState,
    citizen: &Citizen,
    password: Option<&str>,
    addr: std::net::IpAddr,
    mut page: SecurityPage,
    lang: Lang,
) -> Result<Response, PageError> {
    let t = texts(lang);
    let password = password.unwrap_or_default();
    match state
        .idp
        .accounts()
        .verify_password(&citizen.account.run, password, addr)
        .await
    {
        Ok(_) => {}
        Err(LoginError::Internal(e)) => return Err(PageError::from_idp(lang, &e)),
        Err(LoginError::LockedOut { .. }) => {
            page.error = Some(t.too_many);
            return render(&page, lang, StatusCode::TOO_MANY_REQUESTS, Vec::new());
        }
        Err(_) => {
            page.error = Some(t.password_wrong);
            return render(&page, lang, StatusCode::BAD_REQUEST, Vec::new());
        }
    }
    // The password alone proves level 1 now: keeping the session's old level with a new
    // `auth_time` would let a stale second factor count as fresh. Changes then ask for the
    // second factor again (the step-up), and services see what was actually typed.
    match state
        .idp
        .sessions()
        .reauthenticate(&citizen.session.id, Authentication::password())
        .await
    {
        Ok(Some((_, token))) => {
            let cookie = session::cookie_header(
                &token,
                state.config.tokens.session_ttl_secs,
                state.config.is_https(),
            );
            Ok(see_other("/me/security", vec![cookie]))
        }
        Ok(None) => Ok(see_other("/login", Vec::new())),
        Err(e) => Err(PageError::from_idp(lang, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_inline_svg_without_an_xml_declaration() {
        let svg = qr_svg("otpauth://totp/example.cl:12.345.678-5?secret=GEZDGNBV").unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(!svg.contains("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert_eq!(
            notice_for(Some("totp_enrolled"), &crate::second_factor::EN),
            Some(crate::second_factor::EN.totp_enrolled)
        );
        assert_eq!(
            notice_for(Some("<script>"), &crate::second_factor::EN),
            None
        );
    }
}
