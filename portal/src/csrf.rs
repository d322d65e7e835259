//! Protection of every form against cross-site request forgery, by double submission.
//!
//! A page with a form makes sure the browser holds a random token in the `clave_csrf` cookie
//! (HttpOnly, SameSite=Strict) and puts the same token in a hidden `csrf` field. A POST is
//! accepted only when the field equals the cookie, compared in constant time: another site
//! can make the browser send the cookie but can neither read it nor set it, so it cannot
//! fill in the field. A POST without a match gets [`PageError::FormExpired`] (403), whose page
//! asks the citizen to reload the form.
//!
//! [`PageError::FormExpired`]: crate::error::PageErrorKind::FormExpired

use axum::http::HeaderMap;
use clave_common::id::random_token;
use subtle::ConstantTimeEq;

use crate::cookies;
use crate::error::{PageError, PageErrorKind};
use crate::i18n::Lang;

/// The cookie holding the token.
pub const COOKIE: &str = "clave_csrf";
/// The name of the hidden form field holding the token.
pub const FIELD: &str = "csrf";

/// Tokens are 32 random bytes, URL-safe base64: 43 characters.
const TOKEN_LEN: usize = 43;

/// The token for the forms of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken {
    value: String,
    fresh: bool,
}

impl CsrfToken {
    /// The browser's token if it sent a well-formed one, else a new one (then
    /// [`CsrfToken::set_cookie`] must go out with the page).
    pub fn for_page(headers: &HeaderMap) -> Self {
        match cookies::get(headers, COOKIE).filter(|v| is_well_formed(v)) {
            Some(value) => Self {
                value: value.to_owned(),
                fresh: false,
            },
            None => Self {
                value: random_token(32),
                fresh: true,
            },
        }
    }

    /// The token, for the hidden field.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The `Set-Cookie` value to send with the page, if the browser does not hold it yet.
    pub fn set_cookie(&self, secure: bool) -> Option<String> {
        self.fresh
            .then(|| cookies::set(COOKIE, &self.value, None, "Strict", secure))
    }

    /// A page's token and the `Set-Cookie` values to send with it: what a page with forms
    /// needs, in one call.
    pub fn page(headers: &HeaderMap, secure: bool) -> (String, Vec<String>) {
        let token = Self::for_page(headers);
        let cookies = token.set_cookie(secure).into_iter().collect();
        (token.value, cookies)
    }
}

fn is_well_formed(value: &str) -> bool {
    value.len() == TOKEN_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether the submitted field matches the browser's cookie.
pub fn is_valid(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookies::get(headers, COOKIE), submitted) {
        (Some(cookie), Some(field)) if is_well_formed(cookie) => {
            bool::from(cookie.as_bytes().ct_eq(field.as_bytes()))
        }
        _ => false,
    }
}

/// Refuses a POST whose `csrf` field does not match the cookie, with the "form expired" page
/// in `lang`.
pub fn verify(headers: &HeaderMap, submitted: Option<&str>, lang: Lang) -> Result<(), PageError> {
    if is_valid(headers, submitted) {
        Ok(())
    } else {
        Err(PageError::new(PageErrorKind::FormExpired, lang))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE}={value}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_page_reuses_the_browsers_token_or_mints_one_with_a_strict_cookie() {
        let minted = CsrfToken::for_page(&HeaderMap::new());
        let cookie = minted.set_cookie(true).unwrap();
        assert!(cookie.starts_with(&format!("clave_csrf={}", minted.value())));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));

        let reused = CsrfToken::for_page(&with_cookie(minted.value()));
        assert_eq!(reused.value(), minted.value());
        assert_eq!(reused.set_cookie(false), None);
        // A cookie that is not one of ours is replaced, not trusted.
        assert!(
            CsrfToken::for_page(&with_cookie("short"))
                .set_cookie(false)
                .is_some()
        );
    }

    #[test]
    fn only_a_matching_field_passes() {
        let token = CsrfToken::for_page(&HeaderMap::new());
        let headers = with_cookie(token.value());
        assert!(is_valid(&headers, Some(token.value())));
        assert!(!is_valid(&headers, None));
        assert!(!is_valid(&headers, Some("")));
        assert!(!is_valid(&headers, Some(&random_token(32))));
        assert!(!is_valid(&HeaderMap::new(), Some(token.value())));
        let err = verify(&headers, None, Lang::En).unwrap_err();
        assert_eq!(err.kind, PageErrorKind::FormExpired);
    }
}
