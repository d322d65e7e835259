//! Which facts about a citizen a service receives: the idp's own claims, chosen by scope, and
//! the [`ClaimsProvider`] through which other parts of clave (the data wallet) add more.
//!
//! ID tokens carry only the protocol claims (`iss`, `sub`, `aud`, `acr`, …); everything about
//! the person is released at userinfo, where each read can be checked against the current
//! approval and the session. clave does not support the `claims` request parameter, so a
//! client cannot ask for personal claims inside the ID token.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value, json};

use crate::accounts::Account;
use crate::clients::Client;

/// Claims as a JSON object.
pub type Claims = Map<String, Value>;

/// The future a [`ClaimsProvider`] returns.
pub type ClaimsFuture<'a> = Pin<Box<dyn Future<Output = Result<Claims, ClaimsError>> + Send + 'a>>;

/// The scope that releases the citizen's names.
pub const SCOPE_PROFILE: &str = "profile";
/// ClaveÚnica's name for [`SCOPE_PROFILE`], accepted as an alias.
pub const SCOPE_NAME: &str = "name";
/// The scope that releases the email address.
pub const SCOPE_EMAIL: &str = "email";
/// The scope that releases the RUN; it always needs the citizen's explicit approval.
pub const SCOPE_RUN: &str = "run";
/// The scope every OpenID Connect request carries.
pub const SCOPE_OPENID: &str = "openid";

/// Why extra claims could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    /// The source of the claims did not answer; the caller may retry later.
    #[error("the claims source is unavailable: {0}")]
    Unavailable(String),
}

/// What a [`ClaimsProvider`] is asked about: one citizen, one service, the granted scopes.
#[derive(Debug, Clone, Copy)]
pub struct ClaimsRequest<'a> {
    /// The citizen.
    pub account: &'a Account,
    /// The service reading the claims.
    pub client: &'a Client,
    /// The scopes of the access token presented.
    pub scopes: &'a [String],
}

/// A source of claims beyond the idp's own (names, email, RUN).
///
/// Dyn-compatible so the server can hold any implementation as `Arc<dyn ClaimsProvider>`.
pub trait ClaimsProvider: Send + Sync + fmt::Debug {
    /// The extra claims released to `request.client` about `request.account`. They never
    /// override the idp's own claims.
    fn extra_claims<'a>(&'a self, request: ClaimsRequest<'a>) -> ClaimsFuture<'a>;
}

/// The provider used until another is wired in: it adds nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoExtraClaims;

impl ClaimsProvider for NoExtraClaims {
    fn extra_claims<'a>(&'a self, _request: ClaimsRequest<'a>) -> ClaimsFuture<'a> {
        Box::pin(std::future::ready(Ok(Claims::new())))
    }
}

/// Splits a space-separated scope string into its distinct scopes, in order.
pub fn scope_list(scope: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|known| known == s) {
            scopes.push(s.to_owned());
        }
    }
    scopes
}

/// Whether `scopes` releases the citizen's names (`profile`, or ClaveÚnica's `name`).
pub fn releases_names(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == SCOPE_PROFILE || s == SCOPE_NAME)
}

/// The idp's own claims about `account` under `scopes` (without `sub`).
///
/// `profile` gives `given_name`, `family_name` and `name`; `email` gives `email` and
/// `email_verified` when the account has an address; `run` gives the RUN in its canonical
/// form and, structured as ClaveÚnica does, as `rol_unico` (`numero`, `DV`, `tipo`).
pub fn standard_claims(account: &Account, scopes: &[String]) -> Claims {
    let mut claims = Claims::new();
    if releases_names(scopes) {
        claims.insert("given_name".into(), json!(account.given_names));
        claims.insert("family_name".into(), json!(account.family_names));
        claims.insert(
            "name".into(),
            json!(format!("{} {}", account.given_names, account.family_names).trim()),
        );
    }
    if scopes.iter().any(|s| s == SCOPE_EMAIL)
        && let Some(email) = &account.email
    {
        claims.insert("email".into(), json!(email));
        claims.insert("email_verified".into(), json!(account.email_verified));
    }
    if scopes.iter().any(|s| s == SCOPE_RUN) {
        claims.insert("run".into(), json!(account.run.canonical()));
        claims.insert("rol_unico".into(), rol_unico(&account.run));
    }
    claims
}

/// The RUN in ClaveÚnica's structured shape: `{"numero": 12345678, "DV": "5", "tipo": "RUN"}`.
pub fn rol_unico(run: &clave_common::Run) -> Value {
    json!({
        "numero": run.number(),
        "DV": run.check_digit().to_string(),
        "tipo": "RUN",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_drop_repeats_and_blanks() {
        assert_eq!(
            scope_list("openid  profile openid run"),
            vec!["openid", "profile", "run"]
        );
        assert!(scope_list("").is_empty());
    }

    #[test]
    fn the_claveunica_name_scope_releases_names() {
        assert!(releases_names(&scope_list("openid name")));
        assert!(releases_names(&scope_list("openid profile")));
        assert!(!releases_names(&scope_list("openid run email")));
    }

    #[test]
    fn rol_unico_keeps_the_check_digit_as_text() {
        let run = clave_common::Run::parse("12.345.678-5").unwrap();
        assert_eq!(
            rol_unico(&run),
            json!({"numero": 12_345_678, "DV": "5", "tipo": "RUN"})
        );
    }
}
