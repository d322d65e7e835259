//! The few pages the browser flow shows itself, in Spanish or English: what went wrong when
//! the client's redirect URI cannot be trusted (so the error must not be sent there), when a
//! sign-in request lapsed or belongs to another browser, and when the server failed.
//!
//! Everything else the citizen sees (login, consent, logout) is the portal's.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::IdpError;
use crate::oidc::error::{OAuthError, no_store};

pub use clave_common::lang::Lang;

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

    #[tokio::test]
    async fn the_error_page_escapes_the_detail() {
        let error = OAuthError::invalid_request("bad <script>alert(1)</script>");
        let response = invalid_request_page(Lang::En, &error);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            response
                .headers()
                .get(axum::http::header::LOCATION)
                .is_none()
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html.contains("alert(1)"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
    }
}
