//! `/activate`: a citizen sets their password with the activation code a front desk handed
//! them, or (for a first password) with the serial number of their identity card (see
//! [`clave_idp::activation`]), then is invited to add a second factor.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_common::Run;
use clave_common::http::ClientAddr;
use clave_idp::activation::ActivationError;

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::PageError;
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render};

/// `GET`/`POST /activate`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/activate", get(show).post(activate))
}

/// The page's sentences in one language.
#[derive(Debug)]
pub struct ActivationTexts {
    /// Heading.
    pub title: &'static str,
    /// Under it.
    pub intro: &'static str,
    /// Labels.
    pub run_label: &'static str,
    /// .
    pub code_label: &'static str,
    /// .
    pub code_hint: &'static str,
    /// .
    pub password_label: &'static str,
    /// .
    pub password_hint: &'static str,
    /// .
    pub again_label: &'static str,
    /// The button.
    pub submit: &'static str,
    /// The section for a front-desk code.
    pub code_title: &'static str,
    /// The section for the identity card.
    pub document_title: &'static str,
    /// Under it.
    pub document_intro: &'static str,
    /// The serial's label.
    pub serial_label: &'static str,
    /// Where to find the serial.
    pub serial_hint: &'static str,
    /// Failures.
    pub bad_run: &'static str,
    /// .
    pub refused: &'static str,
    /// .
    pub refused_document: &'static str,
    /// .
    pub mismatch: &'static str,
    /// .
    pub throttled: &'static str,
    /// Success.
    pub done_title: &'static str,
    /// .
    pub done_body: &'static str,
    /// The login link.
    pub login: &'static str,
}

/// Spanish.
pub static ES: ActivationTexts = ActivationTexts {
    title: "Activar mi cuenta",
    intro: "Elige tu contraseña con el código de activación que te entregaron en una oficina de atención o, si nunca has tenido contraseña, con tu cédula de identidad.",
    run_label: "RUN",
    code_label: "Código de activación",
    code_hint: "16 letras y números, por ejemplo ABCD-EFGH-JKLM-NPQR.",
    password_label: "Nueva contraseña",
    password_hint: "Una frase larga es fácil de recordar y difícil de adivinar.",
    again_label: "Repite la contraseña",
    submit: "Activar",
    code_title: "Con un código de una oficina de atención",
    document_title: "Con tu cédula de identidad",
    document_intro: "Solo para una primera contraseña. Si ya tuviste una y la olvidaste, usa un código de recuperación o pide un código de activación en una oficina.",
    serial_label: "Número de documento",
    serial_hint: "Está impreso en tu cédula, junto a «Número documento» (por ejemplo 100.123.456).",
    bad_run: "El RUN no es válido. Escríbelo con su dígito verificador, por ejemplo 12.345.678-5.",
    refused: "El RUN o el código de activación no son correctos, o el código venció. Pide uno nuevo en una oficina de atención.",
    refused_document: "El RUN o el número de documento no son correctos, o la cuenta ya tiene contraseña. Revisa el número en tu cédula, o pide un código de activación en una oficina de atención.",
    mismatch: "Las contraseñas no coinciden.",
    throttled: "Demasiados intentos fallidos. Espera unos minutos antes de intentarlo de nuevo.",
    done_title: "Tu cuenta está activa",
    done_body: "Ya puedes ingresar con tu RUN y tu contraseña. Te recomendamos agregar un segundo factor en Seguridad.",
    login: "Ingresar",
};

/// English.
pub static EN: ActivationTexts = ActivationTexts {
    title: "Activate my account",
    intro: "Choose your password with the activation code a service office gave you or, if you have never had a password, with your identity card.",
    run_label: "RUN",
    code_label: "Activation code",
    code_hint: "16 letters and digits, for example ABCD-EFGH-JKLM-NPQR.",
    password_label: "New password",
    password_hint: "A long phrase is easy to remember and hard to guess.",
    again_label: "Repeat the password",
    submit: "Activate",
    code_title: "With a code from a service office",
    document_title: "With your identity card",
    document_intro: "For a first password only. If you had one and forgot it, use a recovery code or ask a service office for an activation code.",
    serial_label: "Document number",
    serial_hint: "It is printed on your card, next to “Número documento” (for example 100.123.456).",
    bad_run: "The RUN is not valid. Type it with its check digit, for example 12.345.678-5.",
    refused: "The RUN or the activation code is wrong, or the code expired. Ask a service office for a new one.",
    refused_document: "The RUN or the document number is wrong, or the account already has a password. Check the number on your card, or ask a service office for an activation code.",
    mismatch: "The passwords do not match.",
    throttled: "Too many failed attempts. Wait a few minutes before trying again.",
    done_title: "Your account is active",
    done_body: "You can now sign in with your RUN and password. We recommend adding a second factor under Security.",
    login: "Sign in",
};

/// The two proofs, as the forms name them.
const CODE: &str = "code";
const DOCUMENT: &str = "document";

fn texts(lang: Lang) -> &'static ActivationTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "activate.html")]
struct ActivatePage {
    chrome: Chrome,
    t: &'static ActivationTexts,
    run: String,
    /// Which form the run and the error belong to: `code` or `document`.
    proof: &'static str,
    error: Option<String>,
    done: bool,
    csrf: String,
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let page = ActivatePage {
        chrome: Chrome::with_switch(lang, "/activate", &[]),
        t: texts(lang),
        run: String::new(),
        proof: CODE,
        error: None,
        done: false,
        csrf,
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn activate(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let t = texts(lang);
    let typed = form.get("run").unwrap_or_default().trim().to_owned();
    let proof = if form.get("proof") == Some(DOCUMENT) {
        DOCUMENT
    } else {
        CODE
    };
    let answer = |status: StatusCode, error: Option<String>, done: bool| {
        let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
        let page = ActivatePage {
            chrome: Chrome::new(lang),
            t,
            run: typed.clone(),
            proof,
            error,
            done,
            csrf,
        };
        render(&page, lang, status, cookies)
    };
    let Ok(run) = Run::parse(&typed) else {
        return answer(StatusCode::BAD_REQUEST, Some(t.bad_run.to_owned()), false);
    };
    let password = form.get("password").unwrap_or_default();
    if form.get("password_again").unwrap_or_default() != password {
        return answer(StatusCode::BAD_REQUEST, Some(t.mismatch.to_owned()), false);
    }
    let accounts = state.idp.accounts();
    let (activated, refused) = if proof == DOCUMENT {
        let serial = form.get("serial").unwrap_or_default();
        (
            accounts
                .activate_with_document(&run, serial, password, addr)
                .await,
            t.refused_document,
        )
    } else {
        let code = form.get("code").unwrap_or_default();
        (
            accounts.activate(&run, code, password, addr).await,
            t.refused,
        )
    };
    match activated {
        Ok(_) => answer(StatusCode::OK, None, true),
        Err(ActivationError::Refused) => {
            answer(StatusCode::BAD_REQUEST, Some(refused.to_owned()), false)
        }
        Err(ActivationError::LockedOut { .. }) => answer(
            StatusCode::TOO_MANY_REQUESTS,
            Some(t.throttled.to_owned()),
            false,
        ),
        Err(ActivationError::Policy(violation)) => answer(
            StatusCode::BAD_REQUEST,
            Some(violation.message(lang.tag())),
            false,
        ),
        Err(ActivationError::Internal(e)) => Err(PageError::from_idp(lang, &e)),
    }
}
