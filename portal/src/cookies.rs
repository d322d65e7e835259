//! Reading the `Cookie` header and writing `Set-Cookie` values, the few ways the portal needs.

use axum::http::{HeaderMap, header};

/// The value of the cookie `name`, if the browser sent a non-empty one.
pub fn get<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value: always `Path=/` and `HttpOnly` (no script of ours reads cookies),
/// `Secure` when served over TLS; without `max_age_secs` it lasts until the browser closes.
pub fn set(
    name: &str,
    value: &str,
    max_age_secs: Option<i64>,
    same_site: &str,
    secure: bool,
) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if let Some(age) = max_age_secs {
        cookie.push_str(&format!("; Max-Age={}", age.max(0)));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name_across_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("clave_csrf_x=no; clave_csrf=yes"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("clave_lang=en"));
        assert_eq!(get(&headers, "clave_csrf"), Some("yes"));
        assert_eq!(get(&headers, "clave_lang"), Some("en"));
        assert_eq!(get(&headers, "missing"), None);
    }

    #[test]
    fn set_cookie_values_carry_the_attributes() {
        assert_eq!(
            set("a", "b", None, "Strict", false),
            "a=b; Path=/; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            set("a", "b", Some(60), "Lax", true),
            "a=b; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
    }
}
