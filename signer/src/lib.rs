//! clave-signer owns advanced electronic signature: the deployment's certificate
//! authorities and their revocation lists, the signers' credentials (a certificate and a key
//! that never leaves the server), signature activation bound to the exact hashes being
//! signed, an RFC 3161 time-stamp authority, the CAdES and JAdES formats, their verification,
//! and the Cloud Signature Consortium API v2.

use std::sync::Arc;

use clave_idp::{Ctx, Idp};

pub mod activation;
pub mod ca;
pub mod cades;
pub mod credentials;
pub mod crl;
mod der;
pub mod documents;
pub mod error;
pub mod http;
pub mod institutions;
pub mod jades;
pub mod keys;
pub mod pades;
pub mod pin;
pub mod pkcs11;
pub mod profile;
pub mod requests;
pub mod tsa;
pub mod verify;

pub use error::SignerError;

/// The OAuth scope of the signing API (a citizen's or an official's token).
pub const SCOPE_SIGN: &str = "sign";

/// How long signature activation data lives, in seconds.
pub const SAD_TTL_SECS: i64 = 300;
/// The most signatures one activation may cover.
pub const MULTISIGN: i64 = 100;
/// How long a signer's certificate is valid, in days.
pub const CERT_VALIDITY_DAYS: i64 = 730;
/// How long a CRL is good for, in seconds; a worker issues the next one well before.
pub const CRL_VALIDITY_SECS: i64 = 7 * 24 * 3600;
/// A CRL is reissued once less than this is left of it.
pub const CRL_REFRESH_MARGIN_SECS: i64 = 6 * 24 * 3600;

/// The signing service: a cheap handle over the idp's context, whose accounts sign.
#[derive(Debug, Clone)]
pub struct Signer {
    idp: Idp,
}

impl Signer {
    /// Wraps the identity provider whose accounts are the signers.
    pub fn new(idp: Idp) -> Self {
        Self { idp }
    }

    /// The identity provider.
    pub fn idp(&self) -> &Idp {
        &self.idp
    }

    fn ctx(&self) -> &Arc<Ctx> {
        self.idp.ctx()
    }

    /// The public base URL, without a trailing slash, that certificates point back to.
    pub fn public_url(&self) -> String {
        self.ctx()
            .config
            .server
            .public_url
            .trim_end_matches('/')
            .to_owned()
    }
}
