//! clave-wallet owns the citizen's data: the attribute catalogue and which agencies are
//! authoritative for each attribute, every version of every value with its provenance, the
//! consents under which values are released to services (each with a signed receipt), the
//! release itself (into ID tokens, at userinfo, and through the once-only agency API), and
//! the access log that shows the citizen every release. It also owns the citizen
//! [`mailbox`]: notices from agencies and from clave itself, with proof of notification.
//!
//! The consent ledger and the access log are journal events (`consent.granted`,
//! `consent.revoked`, `consent.expired`, `data.released`), so they share the journal's hash
//! chain and `clave journal verify` catches a tampered row. The idp knows nothing of the
//! wallet: it asks through [`clave_idp::claims::ClaimsProvider`], which [`WalletClaims`]
//! implements.

use clave_common::Db;
use clave_idp::Idp;

pub mod access_log;
pub mod callers;
pub mod catalogue;
pub mod consent;
pub mod corrections;
pub mod email_code;
mod error;
pub mod events;
pub mod http;
pub mod import;
pub mod mailbox;
pub mod publish;
pub mod release;
pub mod services;
pub mod value;
pub mod values;

pub use error::WalletError;
pub use release::WalletClaims;

/// The data wallet: a cheap handle over the idp it serves.
#[derive(Debug, Clone)]
pub struct Wallet {
    idp: Idp,
}

impl Wallet {
    /// A wallet over `idp`'s database, clock, keys and journal.
    pub fn new(idp: Idp) -> Self {
        Self { idp }
    }

    /// The identity provider.
    pub fn idp(&self) -> &Idp {
        &self.idp
    }

    fn db(&self) -> &Db {
        &self.idp.ctx().db
    }

    fn now(&self) -> i64 {
        self.idp.ctx().clock.unix()
    }
}
