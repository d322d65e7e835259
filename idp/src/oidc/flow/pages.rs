//! The few pages the browser flow shows itself, in Spanish or English: what went wrong when
//! the client's redirect URI cannot be trusted (so the error must not be sent there), when a
//! sign-in request lapsed or belongs to another browser, and when the server failed.
//!
//! Everything else the citizen sees (login, consent, logout) is the portal's.

use askama::Template;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::IdpError;
use crate::oidc::error::{OAuthError, no_store};

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Spanish, the default.
    Es,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Es => "es",
            Self::En => "en",
        }
    }

    /// The first of the space-separated `ui_locales` clave speaks, if any.
    pub fn from_ui_locales(ui_locales: &str) -> Option<Self> {
        ui_locales.split(' ').find_map(Self::from_tag)
    }

    fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("es") {
            Some(Self::Es)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }

    /// The language for a page, in the portal's order: the language the citizen chose in the
    /// portal (its `clave_lang` cookie), else the client's `ui_locales`, else the browser's
    /// first preference clave speaks, else Spanish.
    pub fn choose(headers: &HeaderMap, ui_locales: Option<&str>) -> Self {
        super::cookie(headers, "clave_lang")
            .and_then(Self::from_tag)
            .or_else(|| ui_locales.and_then(Self::from_ui_locales))
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        v.split(',')
                            .find_map(|item| Self::from_tag(item.split(';').next()?.trim()))
                    })
            })
            .unwrap_or(Self::Es)
    }
}

#[derive(Template)]
#[template(path = "flow_page.html")]
struct FlowPage<'a> {
    lang: &'static str,
    title: &'a str,
    message: &'a str,
    detail_label: &'a str,
    detail: Option<&'a str>,
    advice: &'a str,
}

fn page(
    status: StatusCode,
    lang: Lang,
    title: &str,
    message: &str,
    detail: Option<&str>,
    advice: &str,
) -> Response {
    let detail_label = match lang {
        Lang::Es => "Detalle técnico:",
        Lang::En => "Technical detail:",
    };
    let body = FlowPage {
        lang: lang.tag(),
        title,
        message,
        detail_label,
        detail,
        advice,
    }
    .render()
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot render a flow page");
        String::from("clave")
    });
    let mut response = (status, Html(body)).into_response();
    no_store(response.headers_mut());
    response
}

/// The client sent a request that cannot be answered at its redirect URI (unknown client,
/// unregistered or missing redirect URI, unreadable parameters): a page saying so, and why.
pub fn invalid_request_page(lang: Lang, error: &OAuthError) -> Response {
    let description = error.safe_description();
    let (title, message, advice) = match lang {
        Lang::Es => (
            "No se puede iniciar sesión",
            "El servicio que le envió aquí hizo una solicitud de inicio de sesión que clave no puede aceptar.",
            "Vuelva al servicio e inténtelo de nuevo. Si el problema continúa, avise a quien administra ese servicio.",
        ),
        Lang::En => (
            "Cannot sign in",
            "The service that sent you here made a sign-in request clave cannot accept.",
            "Go back to the service and try again. If the problem continues, tell whoever runs that service.",
        ),
    };
    page(
        StatusCode::BAD_REQUEST,
        lang,
        title,
        message,
        Some(&description),
        advice,
    )
}

/// The sign-in request is unknown, finished, lapsed or was started in another browser.
pub fn request_gone_page(lang: Lang) -> Response {
    let (title, message, advice) = match lang {
        Lang::Es => (
            "Esta solicitud de inicio de sesión ya no es válida",
            "La solicitud expiró, ya se completó o se inició en otro navegador.",
            "Vuelva al servicio donde comenzó e inicie sesión otra vez.",
        ),
        Lang::En => (
            "This sign-in request is no longer valid",
            "The request expired, was already completed, or was started in another browser.",
            "Go back to the service where you started and sign in again.",
        ),
    };
    page(StatusCode::BAD_REQUEST, lang, title, message, None, advice)
}

/// The server failed (the detail is logged, never shown).
pub fn failure_page(lang: Lang, error: &IdpError) -> Response {
    let unavailable = match error {
        IdpError::Db(e) => clave_common::http::is_unavailable(e),
        _ => false,
    };
    if unavailable {
        tracing::warn!(error = %error, "database unavailable during the browser flow");
    } else {
        tracing::error!(error = %error, "internal error during the browser flow");
    }
    let (title, message, advice) = match lang {
        Lang::Es => (
            "Algo salió mal",
            "clave no pudo completar su solicitud. El problema quedó registrado.",
            "Espere un momento e inténtelo de nuevo.",
        ),
        Lang::En => (
            "Something went wrong",
            "clave could not complete your request. The problem has been logged.",
            "Wait a moment and try again.",
        ),
    };
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    page(status, lang, title, message, None, advice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_the_cookie_then_ui_locales_then_the_browser() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::choose(&headers, None), Lang::Es);
        headers.insert(
            header::ACCEPT_LANGUAGE,
            "fr-FR, en-GB;q=0.8".parse().unwrap(),
        );
        assert_eq!(Lang::choose(&headers, None), Lang::En);
        assert_eq!(Lang::choose(&headers, Some("de es-CL")), Lang::Es);
        headers.insert(header::COOKIE, "clave_lang=en".parse().unwrap());
        assert_eq!(Lang::choose(&headers, Some("es")), Lang::En);
    }

    #[tokio::test]
    async fn the_error_page_escapes_the_detail() {
        let error = OAuthError::invalid_request("bad <script>alert(1)</script>");
        let response = invalid_request_page(Lang::En, &error);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(header::LOCATION).is_none());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("alert(1)"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}
