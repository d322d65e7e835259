//! Which facts about a citizen a service receives: the idp's own claims, chosen by scope, and
//! the [`ClaimsProvider`] through which other parts of clave (the data wallet) add more.
//!
//! The idp's own claims about the person are released at userinfo, where each read can be
//! checked against the current approval and the session; ID tokens carry the protocol claims
//! (`iss`, `sub`, `aud`, `acr`, …) and, at the code exchange, what the provider releases
//! under the citizen's consent for that login. clave does not support the `claims` request
//! parameter.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value, json};

use crate::Idp;
use crate::accounts::Account;
use crate::authreq::AuthRequest;
use crate::clients::Client;

/// Claims as a JSON object.
pub type Claims = Map<String, Value>;

/// The future a [`ClaimsProvider`] returns.
pub type ClaimsFuture<'a> = Pin<Box<dyn Future<Output = Result<Claims, ClaimsError>> + Send + 'a>>;
/// Any other future a [`ClaimsProvider`] returns.
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// Why a [`ClaimsProvider`] refuses an authorization request.
#[derive(Debug, thiserror::Error)]
pub enum RequestRefusal {
    /// The `authorization_details` are malformed, name something unknown, or ask for data the
    /// client may not ask for; the text says what to fix.
    #[error("{0}")]
    InvalidDetails(String),
    /// The provider could not answer.
    #[error(transparent)]
    Unavailable(#[from] ClaimsError),
}

/// An authorization request as the [`ClaimsProvider`] checks it, before it is stored.
#[derive(Debug, Clone, Copy)]
pub struct RequestCheck<'a> {
    /// The client asking.
    pub client: &'a Client,
    /// The requested scopes.
    pub scopes: &'a [String],
    /// The `authorization_details` parameter as sent (RFC 9396), if any.
    pub authorization_details: Option<&'a str>,
}

/// What a [`ClaimsProvider`] adds to an accepted request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestTerms {
    /// The lowest level of assurance the requested data needs (sensitive attributes), if any.
    pub min_acr: Option<String>,
}

/// What a [`ClaimsProvider`] adds to the discovery document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// Scopes that ask for its data.
    pub scopes: Vec<String>,
    /// Claims it releases.
    pub claims: Vec<String>,
    /// The `authorization_details` types it understands (RFC 9396).
    pub authorization_details_types: Vec<String>,
}

/// Whether the data a request asks for needs the citizen's approval now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentState {
    /// Nothing beyond the idp's own claims is asked for (or there is nothing to release).
    NotNeeded,
    /// A standing consent (its id) already covers what is asked.
    Covered(String),
    /// The citizen must be asked.
    Ask,
}

/// One pending request and the citizen it is for.
#[derive(Debug, Clone, Copy)]
pub struct ConsentQuery<'a> {
    /// The logged-in citizen.
    pub account: &'a Account,
    /// The client asking.
    pub client: &'a Client,
    /// The pending request.
    pub request: &'a AuthRequest,
}

/// Claims for one citizen, one service, under one authorization.
#[derive(Debug, Clone, Copy)]
pub struct ClaimsRequest<'a> {
    /// The citizen.
    pub account: &'a Account,
    /// The service reading the claims.
    pub client: &'a Client,
    /// The scopes of the access token presented.
    pub scopes: &'a [String],
    /// The consent the authorization released data under, if any.
    pub consent_ref: Option<&'a str>,
    /// The level of assurance of the authorization.
    pub acr: Option<&'a str>,
    /// Where the claims go.
    pub channel: Channel,
}

/// Where released claims go, for the citizen's access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Into an ID token, at the code exchange.
    IdToken,
    /// Out of the userinfo endpoint.
    Userinfo,
}

impl Channel {
    /// The name recorded in the access log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdToken => "id_token",
            Self::Userinfo => "userinfo",
        }
    }
}

/// A source of claims beyond the idp's own (names, email, RUN), and the keeper of the
/// consents under which they are released: clave's data wallet.
///
/// The idp consults it at each step of a login: when a request comes in
/// ([`ClaimsProvider::check_request`]), when deciding whether to show the consent page
/// ([`ClaimsProvider::consent_state`]), when the citizen approves
/// ([`ClaimsProvider::record_consent`], inside the idp's transaction), and when it releases
/// claims ([`ClaimsProvider::extra_claims`]). The defaults describe a provider with nothing
/// to release. Dyn-compatible so the server can hold any implementation as
/// `Arc<dyn ClaimsProvider>`.
pub trait ClaimsProvider: Send + Sync + fmt::Debug {
    /// Checks the data a request asks for; refusing `authorization_details` by default.
    fn check_request<'a>(
        &'a self,
        idp: &'a Idp,
        request: RequestCheck<'a>,
    ) -> ProviderFuture<'a, Result<RequestTerms, RequestRefusal>> {
        let _ = idp;
        let result = match request.authorization_details {
            Some(_) => Err(RequestRefusal::InvalidDetails(
                "this server accepts no `authorization_details`".into(),
            )),
            None => Ok(RequestTerms::default()),
        };
        Box::pin(std::future::ready(result))
    }

    /// The scopes that ask for the provider's data, which clients may be registered for.
    fn data_scopes<'a>(
        &'a self,
        _idp: &'a Idp,
    ) -> ProviderFuture<'a, Result<Vec<String>, ClaimsError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// What to publish in the discovery document about the provider's data.
    fn metadata<'a>(
        &'a self,
        _idp: &'a Idp,
    ) -> ProviderFuture<'a, Result<ProviderMetadata, ClaimsError>> {
        Box::pin(std::future::ready(Ok(ProviderMetadata::default())))
    }

    /// Whether the citizen must approve the data `query.request` asks for.
    fn consent_state<'a>(
        &'a self,
        _idp: &'a Idp,
        _query: ConsentQuery<'a>,
    ) -> ProviderFuture<'a, Result<ConsentState, ClaimsError>> {
        Box::pin(std::future::ready(Ok(ConsentState::NotNeeded)))
    }

    /// Records the citizen's approval of `query.request`, keeping of its optional data only
    /// `kept`, in the idp's transaction `conn`. Returns the consent's id, if one was made.
    fn record_consent<'a>(
        &'a self,
        _idp: &'a Idp,
        _conn: &'a mut sqlx::AnyConnection,
        _query: ConsentQuery<'a>,
        _kept: &'a [String],
    ) -> ProviderFuture<'a, Result<Option<String>, ClaimsError>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// The `authorization_details` granted under the consent `consent_ref`, for the token
    /// response (RFC 9396 §7); `None` when there are none.
    fn granted_details<'a>(
        &'a self,
        _idp: &'a Idp,
        _consent_ref: &'a str,
    ) -> ProviderFuture<'a, Result<Option<Value>, ClaimsError>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// The serial number of the citizen's identity card as the identity registry published
    /// it (verified and in force), which proves possession of the card at a first
    /// activation; `None` when no registry vouches for one.
    fn document_serial<'a>(
        &'a self,
        _idp: &'a Idp,
        _account_id: &'a str,
    ) -> ProviderFuture<'a, Result<Option<String>, ClaimsError>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// The extra claims released to `request.client` about `request.account`. They never
    /// override the idp's own claims.
    fn extra_claims<'a>(&'a self, idp: &'a Idp, request: ClaimsRequest<'a>) -> ClaimsFuture<'a>;
}

/// The provider used until another is wired in: it adds nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoExtraClaims;

impl ClaimsProvider for NoExtraClaims {
    fn extra_claims<'a>(&'a self, _idp: &'a Idp, _request: ClaimsRequest<'a>) -> ClaimsFuture<'a> {
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
