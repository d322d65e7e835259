//! What every page shares: the layout's data ([`Chrome`]) and how a page becomes a response.

use crate::i18n::Localized as _;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::PageError;
use crate::i18n::{Lang, Texts};

/// The data `base.html` needs: the language, its catalogue and the language switch.
///
/// Every page template extends `base.html` and has a field `chrome: Chrome`.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// Its catalogue.
    pub t: &'static Texts,
    /// The link to this page in the other language, if the page can be shown again by a GET.
    pub switch: Option<LangSwitch>,
}

/// The language switch: a link to the same page in the other language.
#[derive(Debug, Clone)]
pub struct LangSwitch {
    /// The link, with `lang=` set.
    pub href: String,
    /// The other language's tag.
    pub tag: &'static str,
    /// The other language's name, in itself.
    pub label: &'static str,
}

impl Chrome {
    /// The layout in `lang`, without a language switch.
    pub fn new(lang: Lang) -> Self {
        Self {
            lang,
            t: lang.texts(),
            switch: None,
        }
    }

    /// The layout in `lang`, with a switch to `path` with `params` in the other language.
    /// `path` is one of the portal's own paths, never one taken from the request.
    pub fn with_switch(lang: Lang, path: &'static str, params: &[(&str, &str)]) -> Self {
        let other = lang.other();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("lang", other.tag());
        Self {
            switch: Some(LangSwitch {
                href: format!("{path}?{}", query.finish()),
                tag: other.tag(),
                label: other.own_name(),
            }),
            ..Self::new(lang)
        }
    }
}

/// An HTML response that no cache keeps (pages carry CSRF tokens and personal data), with
/// `Set-Cookie` values to send.
pub fn html_response(status: StatusCode, html: String, set_cookies: Vec<String>) -> Response {
    let mut response = (status, axum::response::Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in set_cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Renders `page` as a response with `status` and cookies, or the internal-error page.
pub fn render(
    page: &impl Template,
    lang: Lang,
    status: StatusCode,
    set_cookies: Vec<String>,
) -> Result<Response, PageError> {
    let html = page
        .render()
        .map_err(|e| PageError::internal(lang, format!("template failed: {e}")))?;
    Ok(html_response(status, html, set_cookies))
}

/// A `303 See Other` to one of the portal's or the idp's own paths, with cookies to set.
pub fn see_other(location: &str, set_cookies: Vec<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in set_cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}
