//! Identifiers and random tokens, made in Rust (never by the database).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new time-ordered unique id (UUIDv7), as text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A random token of `bytes` bytes of entropy, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random public identifier (a client id): like [`random_token`], but never beginning with
/// `-` or `_`, so an operator can pass it to a command-line tool without it being read as an
/// option. Redrawing the rare token that does costs well under a bit of its entropy.
pub fn random_identifier(bytes: usize) -> String {
    loop {
        let token = random_token(bytes);
        if token.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return token;
        }
    }
}

/// A uniformly random number below `n` (which must not be zero), from the OS generator.
pub fn random_below(n: u32) -> u32 {
    use rand::Rng;
    rand::rngs::OsRng.gen_range(0..n)
}

/// The SHA-256 of a token, hex encoded: how bearer secrets (session ids, codes, refresh
/// tokens) are stored, so a database dump does not hand them out.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `s` could be one of our ids or tokens (non-empty, at most 64 characters, ASCII
/// letters, digits, `-` and `_`): checked before client input reaches a query, so a stray
/// byte (PostgreSQL refuses NUL in text) is an unknown id rather than a server error.
pub fn is_plausible_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_are_plausible_and_stray_bytes_are_not() {
        assert!(is_plausible_id(&new_id()));
        assert!(is_plausible_id(&random_token(32)));
        assert!(!is_plausible_id(""));
        assert!(!is_plausible_id("abc\0def"));
        assert!(!is_plausible_id("a b"));
        assert!(!is_plausible_id("ñandú"));
        assert!(!is_plausible_id(&"a".repeat(65)));
    }

    #[test]
    fn tokens_are_random_and_urlsafe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn identifiers_never_begin_like_an_option() {
        // One in 32 raw tokens begins with '-' or '_'; among 2,000 identifiers none may.
        for _ in 0..2_000 {
            let id = random_identifier(18);
            assert_eq!(id.len(), 24);
            assert!(id.starts_with(|c: char| c.is_ascii_alphanumeric()), "{id}");
        }
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = new_id();
        let b = new_id();
        assert!(a < b);
    }
}
