//! Request parameters of the OAuth endpoints, parsed strictly.
//!
//! RFC 6749 §3.1 says parameters must not repeat, and that a parameter sent without a value is
//! the same as one not sent. A lenient parser that keeps the first or last of two `redirect_uri`
//! values lets an attacker pick which one a later check sees, so [`Params`] refuses repeats,
//! names the parameter at fault, caps how many and how large the parameters may be, and
//! refuses percent-encodings that are malformed or do not decode to UTF-8.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, header};

use super::error::OAuthError;

/// The most parameters one request may carry.
pub const MAX_PARAMS: usize = 64;
/// The longest value one parameter may have, in bytes after decoding (a signed client
/// assertion or a PAR request fits easily).
pub const MAX_VALUE_BYTES: usize = 16 * 1024;
/// The largest form body an OAuth endpoint reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest parameter name.
const MAX_NAME_BYTES: usize = 128;

/// The parameters of one request: each name at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses an `application/x-www-form-urlencoded` string: a query string (without `?`) or a
    /// form body.
    pub fn parse(encoded: &[u8]) -> Result<Self, OAuthError> {
        let mut values = BTreeMap::new();
        for pair in encoded.split(|&b| b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode(raw_name).map_err(|problem| {
                OAuthError::invalid_request(format!("a parameter name {problem}"))
            })?;
            if name.is_empty() {
                return Err(OAuthError::invalid_request(
                    "a parameter has no name (`=value` without a name before it)",
                ));
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(OAuthError::invalid_request(format!(
                    "a parameter name is longer than {MAX_NAME_BYTES} bytes"
                )));
            }
            let value = decode(raw_value).map_err(|problem| {
                OAuthError::invalid_request(format!("the value of `{name}` {problem}"))
            })?;
            if value.len() > MAX_VALUE_BYTES {
                return Err(OAuthError::invalid_request(format!(
                    "the value of `{name}` is longer than {MAX_VALUE_BYTES} bytes"
                )));
            }
            if values.contains_key(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter `{name}` is repeated; send each parameter once (RFC 6749 section 3.1)"
                )));
            }
            if values.len() == MAX_PARAMS {
                return Err(OAuthError::invalid_request(format!(
                    "the request has more than {MAX_PARAMS} parameters"
                )));
            }
            values.insert(name, value);
        }
        Ok(Self { values })
    }

    /// Parses the query string of a request (absent means no parameters).
    pub fn from_query(query: Option<&str>) -> Result<Self, OAuthError> {
        match query {
            Some(query) => Self::parse(query.as_bytes()),
            None => Ok(Self::default()),
        }
    }

    /// Reads and parses a form body, which must be sent as
    /// `application/x-www-form-urlencoded` and be at most [`MAX_BODY_BYTES`] long.
    pub async fn from_form(headers: &HeaderMap, body: Body) -> Result<Self, OAuthError> {
        if !is_form(headers) {
            return Err(OAuthError::invalid_request(
                "send the parameters in the body as application/x-www-form-urlencoded",
            ));
        }
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                OAuthError::invalid_request(format!(
                    "the request body is larger than {MAX_BODY_BYTES} bytes, or was cut off"
                ))
            })?;
        Self::parse(&bytes)
    }

    /// The value of `name`; `None` when absent or sent empty (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, or `invalid_request` naming it when it is missing.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("the `{name}` parameter is required"))
        })
    }

    /// Whether `name` was sent with a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every parameter sent with a value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many parameters were sent with a value.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no parameter was sent with a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets a parameter, replacing any value it had (for requests assembled in process, such
    /// as a pushed authorization request being resumed).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// The parameters as a JSON object of strings (for storing a pushed request).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
                .collect(),
        )
    }

    /// Parameters from a JSON object of strings, as [`Params::to_json`] writes them.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let object = value.as_object()?;
        let mut values = BTreeMap::new();
        for (k, v) in object {
            values.insert(k.clone(), v.as_str()?.to_owned());
        }
        Some(Self { values })
    }
}

impl FromIterator<(String, String)> for Params {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self {
            values: iter.into_iter().collect(),
        }
    }
}

/// Whether the request declares a form body (parameters such as `charset` allowed).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Decodes one form-urlencoded component (as in HTTP Basic credentials, RFC 6749 §2.3.1).
pub(crate) fn decode_component(raw: &str) -> Result<String, &'static str> {
    decode(raw.as_bytes())
}

/// Decodes one form-urlencoded component: `+` is a space, `%XX` a byte; the bytes must be
/// UTF-8. Says what is wrong otherwise.
fn decode(raw: &[u8]) -> Result<String, &'static str> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let high = raw.get(i + 1).and_then(|b| hex_digit(*b));
                let low = raw.get(i + 2).and_then(|b| hex_digit(*b));
                match (high, low) {
                    (Some(high), Some(low)) => bytes.push(high << 4 | low),
                    _ => {
                        return Err(
                            "has a malformed percent-encoding (use %XX with two hex digits)",
                        );
                    }
                }
                i += 2;
            }
            other => bytes.push(other),
        }
        i += 1;
    }
    let text = String::from_utf8(bytes).map_err(|_| "is not valid UTF-8")?;
    // No parameter has a use for NUL, and PostgreSQL cannot store it in text.
    if text.contains('\0') {
        return Err("contains a NUL character (%00), which no parameter may hold");
    }
    Ok(text)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_form_encoding() {
        let params =
            Params::parse(b"grant_type=client_credentials&scope=a+b%20c&empty=&flag").unwrap();
        assert_eq!(params.get("grant_type"), Some("client_credentials"));
        assert_eq!(params.get("scope"), Some("a b c"));
        // Sent without a value is the same as not sent.
        assert_eq!(params.get("empty"), None);
        assert_eq!(params.get("flag"), None);
        assert_eq!(params.len(), 2);
        assert_eq!(params.get("%C3%B1"), None);
        let accented = Params::parse("name=Mar%C3%ADa".as_bytes()).unwrap();
        assert_eq!(accented.get("name"), Some("María"));
    }

    #[test]
    fn duplicates_are_refused_naming_the_parameter() {
        let err = Params::parse(b"redirect_uri=a&scope=x&redirect_uri=b").unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_request");
        assert!(
            err.description.contains("`redirect_uri`"),
            "{}",
            err.description
        );
        // Even an empty repeat is a repeat.
        assert!(Params::parse(b"state=&state=x").is_err());
        // Encoded names are compared after decoding.
        assert!(Params::parse(b"scope=a&sc%6Fpe=b").is_err());
    }

    #[test]
    fn nul_characters_are_refused() {
        let err = Params::parse(b"client_id=%00").unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_request");
        assert!(err.description.contains("NUL"), "{}", err.description);
        assert!(Params::parse(b"st%00ate=x").is_err());
    }

    #[test]
    fn malformed_and_oversized_input_is_refused() {
        for (input, needle) in [
            (&b"a=%zz"[..], "percent"),
            (b"a=%4", "percent"),
            (b"a=%ff%fe", "UTF-8"),
            (b"=x", "no name"),
        ] {
            let err = Params::parse(input).unwrap_err();
            assert!(
                err.description.contains(needle),
                "{input:?}: {}",
                err.description
            );
        }
        let long = format!("a={}", "x".repeat(MAX_VALUE_BYTES + 1));
        assert!(
            Params::parse(long.as_bytes())
                .unwrap_err()
                .description
                .contains("longer")
        );
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert!(
            Params::parse(many.join("&").as_bytes())
                .unwrap_err()
                .description
                .contains("more than")
        );
        let ok: Vec<String> = (0..MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Params::parse(ok.join("&").as_bytes()).unwrap().len(),
            MAX_PARAMS
        );
    }

    #[test]
    fn require_names_what_is_missing() {
        let params = Params::parse(b"a=1").unwrap();
        assert_eq!(params.require("a").unwrap(), "1");
        let err = params.require("grant_type").unwrap_err();
        assert!(err.description.contains("`grant_type`"));
    }

    #[test]
    fn the_content_type_must_be_a_form() {
        let mut headers = HeaderMap::new();
        assert!(!is_form(&headers));
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!is_form(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert!(is_form(&headers));
    }

    #[tokio::test]
    async fn bodies_over_the_cap_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let body = Body::from(format!("a={}", "x".repeat(MAX_BODY_BYTES)));
        let err = Params::from_form(&headers, body).await.unwrap_err();
        assert!(err.description.contains("larger"));
        let ok = Params::from_form(&headers, Body::from("a=1"))
            .await
            .unwrap();
        assert_eq!(ok.get("a"), Some("1"));
    }

    #[test]
    fn json_round_trip() {
        let params = Params::parse(b"client_id=c&scope=openid+run").unwrap();
        assert_eq!(Params::from_json(&params.to_json()), Some(params));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(params) = Params::parse(&input) {
                prop_assert!(params.len() <= MAX_PARAMS);
            }
        }

        #[test]
        fn encoded_pairs_round_trip(pairs in proptest::collection::btree_map("[a-z_]{1,12}", "[^\\x00]{0,40}", 0..10)) {
            let encoded: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter())
                .finish();
            let params = Params::parse(encoded.as_bytes()).unwrap();
            for (k, v) in &pairs {
                prop_assert_eq!(params.get(k), if v.is_empty() { None } else { Some(v.as_str()) });
            }
        }
    }
}
