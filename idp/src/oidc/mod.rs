//! The OpenID Connect provider, one module per endpoint.
//!
//! The token service lives here: discovery and the JWKS, the token endpoint with client
//! authentication and `client_credentials`, minting and validating tokens, introspection and
//! revocation, with the strict parameter parser and the protocol error they share. The browser
//! flow (authorize, PAR, consent, codes, refresh, userinfo, logout, ClaveÚnica compatibility)
//! is in [`flow`].

pub mod discovery;
pub mod error;
pub mod flow;
pub mod introspect;
pub mod jwks;
pub mod params;
pub mod revoke;
pub mod token;
pub mod tokens;

#[cfg(test)]
pub(crate) mod testing;

pub use error::{ErrorCode, OAuthError};
pub use params::Params;
pub use tokens::TokenResponse;
