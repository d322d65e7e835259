//! Reading the portal's own form posts and query strings.
//!
//! Pages take the first value of each field and ignore the rest: unlike the OAuth endpoints,
//! a form of ours that repeats a field is no attack on anything, and a page must never fail
//! on it. Values are decoded leniently (invalid UTF-8 becomes U+FFFD).

use axum::http::{HeaderMap, header};

/// The fields of a query string or an `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses urlencoded text.
    pub fn parse(input: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Parses an optional query string.
    pub fn from_query(query: Option<&str>) -> Self {
        query.map(|q| Self::parse(q.as_bytes())).unwrap_or_default()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name`, in order (a group of checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The first value of `name`, if not empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|value| !value.is_empty())
    }
}

/// A signed-in page's form post, checked: the fields and the language they ask for, once the
/// body is declared a urlencoded form and carries the browser's CSRF token. Every portal form
/// handler starts here.
pub fn checked(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Fields, crate::i18n::Lang), crate::error::PageError> {
    use crate::error::{PageError, PageErrorKind};
    let form = Fields::parse(body);
    let lang = crate::i18n::Lang::choose(form.non_empty("lang"), headers, None);
    if !is_form(headers) {
        return Err(PageError::new(PageErrorKind::BadRequest, lang));
    }
    crate::csrf::verify(headers, form.get(crate::csrf::FIELD), lang)?;
    Ok((form, lang))
}

/// Whether a request body is declared as a urlencoded form.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_value_counts_and_encoding_is_undone() {
        let fields = Fields::parse(b"run=12.345.678-5&password=a+b%26c&run=other&empty=");
        assert_eq!(fields.get("run"), Some("12.345.678-5"));
        assert_eq!(fields.get("password"), Some("a b&c"));
        assert_eq!(fields.get("empty"), Some(""));
        assert_eq!(fields.non_empty("empty"), None);
        assert_eq!(fields.get("missing"), None);
        assert_eq!(Fields::from_query(None).get("x"), None);
    }
}
