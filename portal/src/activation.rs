//! `/activate`: a citizen sets their password with the activation code a front desk handed
//! them (see [`clave_idp::activation`]), then is invited to add a second factor.

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
    /// Failures.
    pub bad_run: &'static str,
    /// .
    pub refused: &'static str,
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
    intro: "Con el código de activación que te entregaron en una oficina de atención, elige tu contraseña.",
    run_label: "RUN",
    code_label: "Código de activación",
    code_hint: "16 letras y números, por ejemplo ABCD-EFGH-JKLM-NPQR.",
    password_label: "Nueva contraseña",
    password_hint: "Una frase larga es fácil de recordar y difícil de adivinar.",
    again_label: "Repite la contraseña",
    submit: "Activar",
    bad_run: "El RUN no es válido. Escríbelo con su dígito verificador, por ejemplo 12.345.678-5.",
    refused: "El RUN o el código de activación no son correctos, o el código venció. Pide uno nuevo en una oficina de atención.",
    mismatch: "Las contraseñas no coinciden.",
    throttled: "Demasiados intentos fallidos. Espera unos minutos antes de intentarlo de nuevo.",
    done_title: "Tu cuenta está activa",
    done_body: "Ya puedes ingresar con tu RUN y tu contraseña. Te recomendamos agregar un segundo factor en Seguridad.",
    login: "Ingresar",
};

/// English.
pub static EN: ActivationTexts = ActivationTexts {
    title: "Activate my account",
    intro: "With the activation code a service office gave you, choose your password.",
    run_label: "RUN",
    code_label: "Activation code",
    code_hint: "16 letters and digits, for example ABCD-EFGH-JKLM-NPQR.",
    password_label: "New password",
    password_hint: "A long phrase is easy to remember and hard to guess.",
    again_label: "Repeat the password",
    submit: "Activate",
    bad_run: "The RUN is not valid. Type it with its check digit, for example 12.345.678-5.",
    refused: "The RUN or the activation code is wrong, or the code expired. Ask a service office for a new one.",
    mismatch: "The passwords do not match.",
    throttled: "Too many failed attempts. Wait a few minutes before trying again.",
    done_title: "Your account is active",
    done_body: "You can now sign in with your RUN and password. We recommend adding a second factor under Security.",
    login: "Sign in",
};

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
    let answer = |status: StatusCode, error: Option<String>, done: bool| {
        let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
        let page = ActivatePage {
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
        return answer(StatusCode::BAD_REQUEST, Some(t.bad_run.to_owned()), false);
    };
    let password = form.get("password").unwrap_or_default();
    if form.get("password_again").unwrap_or_default() != password {
        return answer(StatusCode::BAD_REQUEST, Some(t.mismatch.to_owned()), false);
    }
    let code = form.get("code").unwrap_or_default();
    match state
        .idp
        .accounts()
        .activate(&run, code, password, addr)
        .await
    {
        Ok(_) => answer(StatusCode::OK, None, true),
        Err(ActivationError::Refused) => {
            answer(StatusCode::BAD_REQUEST, Some(t.refused.to_owned()), false)
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
