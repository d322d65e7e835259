//! The languages clave speaks to people, Spanish first, and how a page picks one.
//!
//! The language of a page is, in order: an explicit choice (the portal's language switch), the
//! `clave_lang` cookie (the citizen's earlier choice), the `ui_locales` of the pending
//! authorization request (the service's hint), and otherwise Spanish. The browser's
//! `Accept-Language` is not consulted: clave is Spanish first, and a browser installed in
//! English does not make its owner prefer English.

use axum::http::HeaderMap;

use crate::http::cookie;

/// The cookie remembering the language the citizen chose.
pub const LANG_COOKIE: &str = "clave_lang";

/// A language clave speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Spanish, the default.
    #[default]
    Es,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and links.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Es => "es",
            Self::En => "en",
        }
    }

    /// The other language, offered by the switch.
    pub fn other(self) -> Self {
        match self {
            Self::Es => Self::En,
            Self::En => Self::Es,
        }
    }

    /// The language's name in itself, for the switch ("Español", "English").
    pub fn own_name(self) -> &'static str {
        match self {
            Self::Es => "Español",
            Self::En => "English",
        }
    }

    /// The language a tag such as `en`, `en-GB` or `es_CL` names, if clave speaks it.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("es") {
            Some(Self::Es)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }

    /// The first of space-separated `ui_locales` clave speaks.
    pub fn from_ui_locales(ui_locales: &str) -> Option<Self> {
        ui_locales.split_whitespace().find_map(Self::from_tag)
    }

    /// The language for a page (see the module documentation for the order).
    pub fn choose(explicit: Option<&str>, headers: &HeaderMap, ui_locales: Option<&str>) -> Self {
        explicit
            .and_then(Self::from_tag)
            .or_else(|| cookie(headers, LANG_COOKIE).and_then(Self::from_tag))
            .or_else(|| ui_locales.and_then(Self::from_ui_locales))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn spanish_is_the_default_whatever_the_browser_says() {
        assert_eq!(Lang::choose(None, &HeaderMap::new(), None), Lang::Es);
        assert_eq!(
            Lang::choose(Some("fr"), &HeaderMap::new(), Some("de")),
            Lang::Es
        );
        let browser_en = headers(&[("accept-language", "en-US,en;q=0.9")]);
        assert_eq!(Lang::choose(None, &browser_en, None), Lang::Es);
    }

    #[test]
    fn the_explicit_choice_wins_then_the_cookie_then_ui_locales() {
        let browser_en = headers(&[("accept-language", "en-US,en;q=0.9")]);
        assert_eq!(Lang::choose(None, &browser_en, Some("fr en-GB")), Lang::En);
        let cookie_en = headers(&[("cookie", "clave_lang=en"), ("accept-language", "es")]);
        assert_eq!(Lang::choose(None, &cookie_en, Some("es")), Lang::En);
        assert_eq!(Lang::choose(Some("es"), &cookie_en, Some("en")), Lang::Es);
        assert_eq!(Lang::from_tag("es_CL"), Some(Lang::Es));
        assert_eq!(Lang::Es.other().own_name(), "English");
    }
}
