//! Reading the `Cookie` header and writing `Set-Cookie` values, the few ways the portal needs.

/// The value of a request cookie (one parser for the whole server).
pub use clave_common::http::cookie as get;

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
    use super::*;

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
