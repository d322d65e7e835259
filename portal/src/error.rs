//! Page errors: what went wrong, as a page in the citizen's language.
//!
//! A [`PageError`] names a kind of failure the citizen can act on; the page says what happened
//! and what to do, never internal detail. Internal detail is logged where the error is made.

use crate::i18n::Localized as _;
use std::fmt::Display;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clave_idp::IdpError;

use crate::i18n::Lang;
use crate::page::{Chrome, html_response};

/// What kind of failure a page reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageErrorKind {
    /// A form came back without a valid CSRF token (403).
    FormExpired,
    /// The login or consent request lapsed, was completed, or never existed (400).
    RequestExpired,
    /// The signed-in account may not use this page (403): staff pages for others.
    Forbidden,
    /// No such page (404).
    NotFound,
    /// The request could not be read (400).
    BadRequest,
    /// The database or another dependency is not answering (503).
    Unavailable,
    /// Something failed on our side (500).
    Internal,
}

impl PageErrorKind {
    /// The HTTP status of the page.
    pub fn status(self) -> StatusCode {
        match self {
            Self::FormExpired => StatusCode::FORBIDDEN,
            Self::RequestExpired | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failure shown to the citizen as a page in their language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageError {
    /// What failed.
    pub kind: PageErrorKind,
    /// The language of the page.
    pub lang: Lang,
}

impl PageError {
    /// An error page of `kind` in `lang`.
    pub fn new(kind: PageErrorKind, lang: Lang) -> Self {
        Self { kind, lang }
    }

    /// An internal failure: `detail` is logged, the page says only that something failed.
    pub fn internal(lang: Lang, detail: impl Display) -> Self {
        tracing::error!(error = %detail, "page failed");
        Self::new(PageErrorKind::Internal, lang)
    }

    /// The page for an idp failure that the handler did not expect.
    pub fn from_idp(lang: Lang, err: &IdpError) -> Self {
        match err {
            IdpError::Db(db) if clave_common::http::is_unavailable(db) => {
                tracing::warn!(error = %db, "database unavailable");
                Self::new(PageErrorKind::Unavailable, lang)
            }
            IdpError::NotFound(_) => Self::new(PageErrorKind::NotFound, lang),
            other => Self::internal(lang, other),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    title: &'static str,
    body: &'static str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let t = self.lang.texts();
        let (title, body) = match self.kind {
            PageErrorKind::FormExpired => (t.form_expired_title, t.form_expired_body),
            PageErrorKind::RequestExpired => (t.request_expired_title, t.request_expired_body),
            PageErrorKind::Forbidden => (t.forbidden_title, t.forbidden_body),
            PageErrorKind::NotFound => (t.not_found_title, t.not_found_body),
            PageErrorKind::BadRequest => (t.bad_request_title, t.bad_request_body),
            PageErrorKind::Unavailable => (t.unavailable_title, t.unavailable_body),
            PageErrorKind::Internal => (t.internal_title, t.internal_body),
        };
        let page = ErrorPage {
            chrome: Chrome::new(self.lang),
            title,
            body,
        };
        let html = page.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "error page failed to render");
            format!("<!doctype html><title>{title}</title><h1>{title}</h1><p>{body}</p>")
        });
        html_response(self.kind.status(), html, Vec::new())
    }
}
