//! The portal's languages and its message catalogue: Spanish first, English too.
//!
//! Every sentence a page shows lives in [`Texts`], one instance per language, so a page never
//! carries strings of its own and a translation is checked by the compiler for completeness.
//!
//! How a page picks its language is [`clave_common::lang`]'s; the switch's `lang` parameter is
//! the explicit choice there.

use clave_common::run::RunError;

use crate::cookies;

pub use clave_common::lang::{LANG_COOKIE, Lang};

/// What the portal adds to a [`Lang`]: its message catalogue, its wording of RUN errors, and
/// the cookie that remembers a choice.
pub trait Localized {
    /// The `Set-Cookie` value remembering this language, when the citizen chose it explicitly.
    fn remember(self, secure: bool) -> String;
    /// The catalogue of this language.
    fn texts(self) -> &'static Texts;
    /// Why a RUN was refused, in this language.
    fn run_error(self, error: &RunError) -> &'static str;
}

impl Localized for Lang {
    /// The `Set-Cookie` value remembering this language, when the citizen chose it explicitly.
    fn remember(self, secure: bool) -> String {
        cookies::set(
            LANG_COOKIE,
            self.tag(),
            Some(365 * 24 * 3600),
            "Lax",
            secure,
        )
    }

    /// The catalogue of this language.
    fn texts(self) -> &'static Texts {
        match self {
            Self::Es => &ES,
            Self::En => &EN,
        }
    }

    /// Why a RUN was refused, in this language. Neither language names the expected check
    /// digit: that would help someone guessing RUNs.
    fn run_error(self, error: &RunError) -> &'static str {
        match self {
            Self::Es => error.message_es(),
            Self::En => match error {
                RunError::Empty => "Enter your RUN.",
                RunError::InvalidCharacter { .. } => {
                    "A RUN can only have digits, dots, one hyphen and the letter K."
                }
                RunError::MisplacedK => "K can only be the check digit, after the hyphen.",
                RunError::MisplacedHyphen => {
                    "The hyphen goes right before the check digit, for example 12345678-5."
                }
                RunError::MisplacedDot => {
                    "Dots split the number into groups of three digits, for example 12.345.678-5."
                }
                RunError::TooShort => "The number before the check digit is missing.",
                RunError::TooLong => "The RUN's number has more than eight digits.",
                RunError::LeadingZero => "The RUN's number cannot start with 0.",
                RunError::WrongCheckDigit { .. } => "The check digit does not match the RUN.",
            },
        }
    }
}

/// Every sentence the portal's own pages show, in one language.
#[derive(Debug)]
pub struct Texts {
    /// The name of the service, in the header and page titles.
    pub site_name: &'static str,
    /// The skip link to the main content.
    pub skip_to_content: &'static str,
    /// The accessible name of the language switch.
    pub language: &'static str,
    /// The footer line.
    pub footer: &'static str,
    /// The heading of an error summary.
    pub error_summary_title: &'static str,

    /// The login page's heading.
    pub login_title: &'static str,
    /// Before the name of the service the citizen is logging in to.
    pub login_for_service: &'static str,
    /// The RUN field's label.
    pub run_label: &'static str,
    /// The hint under the RUN field.
    pub run_hint: &'static str,
    /// The password field's label.
    pub password_label: &'static str,
    /// The submit button.
    pub login_submit: &'static str,
    /// A wrong password or an unknown RUN: the same words for both.
    pub bad_credentials: &'static str,
    /// Added to [`Texts::bad_credentials`] during a lockout.
    pub too_many_attempts: &'static str,
    /// The password is right but the account is blocked.
    pub account_locked: &'static str,
    /// The login page's link to the unlock page.
    pub unlock_link: &'static str,
    /// The login page's way to the activation page, for a citizen with a front-desk code.
    pub activate_link: &'static str,
    /// The password field was left empty.
    pub password_missing: &'static str,

    /// The home page's heading.
    pub home_title: &'static str,
    /// Before the citizen's name on the home page.
    pub home_greeting: &'static str,
    /// The home page without a session.
    pub home_logged_out: &'static str,
    /// The link to log in.
    pub home_login_link: &'static str,

    /// Title of the page after a form whose CSRF token was missing or wrong.
    pub form_expired_title: &'static str,
    /// What to do about it.
    pub form_expired_body: &'static str,
    /// Title of the page for a login request that lapsed or is unknown.
    pub request_expired_title: &'static str,
    /// What to do about it.
    pub request_expired_body: &'static str,
    /// Title of the page refused to the signed-in account.
    pub forbidden_title: &'static str,
    /// Why, and what to do.
    pub forbidden_body: &'static str,
    /// Title of the not-found page.
    pub not_found_title: &'static str,
    /// What to do about it.
    pub not_found_body: &'static str,
    /// Title of the page for a request the portal cannot read.
    pub bad_request_title: &'static str,
    /// What to do about it.
    pub bad_request_body: &'static str,
    /// Title of the page when a dependency does not answer.
    pub unavailable_title: &'static str,
    /// What to do about it.
    pub unavailable_body: &'static str,
    /// Title of the page after an internal failure.
    pub internal_title: &'static str,
    /// What to do about it.
    pub internal_body: &'static str,
    /// The link back to the start.
    pub back_home: &'static str,
}

/// Spanish.
pub static ES: Texts = Texts {
    site_name: "Clave",
    skip_to_content: "Saltar al contenido",
    language: "Idioma",
    footer: "Clave: tu identidad digital para trámites del Estado y servicios en línea.",
    error_summary_title: "Hay un problema",

    login_title: "Ingresa con tu Clave",
    login_for_service: "para continuar en",
    run_label: "RUN",
    run_hint: "Por ejemplo: 12.345.678-5",
    password_label: "Contraseña",
    login_submit: "Ingresar",
    bad_credentials: "El RUN o la contraseña no son correctos.",
    too_many_attempts: "Hubo demasiados intentos fallidos. Espera unos minutos antes de volver a intentarlo.",
    account_locked: "Tu cuenta está bloqueada. Si la bloqueaste tú, desbloquéala con un código de recuperación; si no, comunícate con la mesa de ayuda.",
    unlock_link: "Desbloquear mi cuenta",
    activate_link: "Activar mi cuenta con un código de activación",
    password_missing: "Ingresa tu contraseña.",

    home_title: "Tu Clave",
    home_greeting: "Hola,",
    home_logged_out: "No has iniciado sesión.",
    home_login_link: "Ingresar",

    form_expired_title: "El formulario expiró",
    form_expired_body: "Por seguridad, este formulario ya no es válido. Vuelve atrás, recarga la página e inténtalo de nuevo.",
    request_expired_title: "La solicitud de ingreso expiró",
    request_expired_body: "Vuelve al servicio donde estabas e inicia el ingreso otra vez.",
    forbidden_title: "No tienes acceso a esta página",
    forbidden_body: "Esta página es para agentes de atención con su segundo factor. Si eres agente, ingresa con tu segundo factor; si no, vuelve al inicio.",
    not_found_title: "Página no encontrada",
    not_found_body: "La dirección no corresponde a ninguna página. Revisa que esté bien escrita.",
    bad_request_title: "No pudimos leer la solicitud",
    bad_request_body: "Vuelve atrás e inténtalo de nuevo.",
    unavailable_title: "Servicio no disponible",
    unavailable_body: "El servicio no está disponible en este momento. Inténtalo de nuevo en unos minutos.",
    internal_title: "Algo salió mal",
    internal_body: "Ocurrió un error de nuestra parte y quedó registrado. Inténtalo de nuevo más tarde.",
    back_home: "Ir al inicio",
};

/// English.
pub static EN: Texts = Texts {
    site_name: "Clave",
    skip_to_content: "Skip to content",
    language: "Language",
    footer: "Clave: your digital identity for public services and online services.",
    error_summary_title: "There is a problem",

    login_title: "Log in with your Clave",
    login_for_service: "to continue to",
    run_label: "RUN",
    run_hint: "For example: 12.345.678-5",
    password_label: "Password",
    login_submit: "Log in",
    bad_credentials: "The RUN or the password is not correct.",
    too_many_attempts: "There were too many failed attempts. Wait a few minutes before trying again.",
    account_locked: "Your account is locked. If you locked it, unlock it with a recovery code; otherwise contact the help desk.",
    unlock_link: "Unlock my account",
    activate_link: "Activate my account with an activation code",
    password_missing: "Enter your password.",

    home_title: "Your Clave",
    home_greeting: "Hello,",
    home_logged_out: "You are not logged in.",
    home_login_link: "Log in",

    form_expired_title: "The form has expired",
    form_expired_body: "For your security this form is no longer valid. Go back, reload the page and try again.",
    request_expired_title: "The login request has expired",
    request_expired_body: "Go back to the service you came from and start logging in again.",
    forbidden_title: "You cannot use this page",
    forbidden_body: "This page is for service agents signed in with their second factor. If you are an agent, sign in with your second factor; otherwise go back to the start page.",
    not_found_title: "Page not found",
    not_found_body: "No page has this address. Check that it is spelled correctly.",
    bad_request_title: "We could not read the request",
    bad_request_body: "Go back and try again.",
    unavailable_title: "Service unavailable",
    unavailable_body: "The service is not available right now. Try again in a few minutes.",
    internal_title: "Something went wrong",
    internal_body: "An error occurred on our side and has been logged. Try again later.",
    back_home: "Go to the start page",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_errors_never_name_the_expected_check_digit() {
        let err = RunError::WrongCheckDigit { expected: '7' };
        for lang in [Lang::Es, Lang::En] {
            assert!(!lang.run_error(&err).contains('7'));
        }
        assert_eq!(Lang::En.run_error(&RunError::Empty), "Enter your RUN.");
    }
}
