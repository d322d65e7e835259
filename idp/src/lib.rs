//! clave-idp owns authentication: citizen accounts and passwords, login throttling, browser
//! sessions, registered clients, signing keys, and the OpenID Connect provider (authorize,
//! token, userinfo, introspection, revocation, logout). It knows nothing of the wallet: the
//! claims it releases beyond the basics come through the [`claims::ClaimsProvider`] trait.

use std::sync::Arc;

use clave_common::journal::Journal;
use clave_common::seal::MasterKeys;
use clave_common::{Config, Db, SharedClock};

pub mod accounts;
pub mod activation;
pub mod authreq;
pub mod bearer;
pub mod claims;
pub mod clients;
pub mod emergency;
pub mod error;
pub mod factors;
pub mod history;
pub mod http;
pub mod keys;
pub mod oidc;
pub mod passkey;
pub mod password;
pub mod push;
pub mod recovery;
pub mod roles;
pub mod session;
pub mod throttle;
pub mod totp;

pub use error::IdpError;

/// What every idp service needs; built once at start.
#[derive(Debug)]
pub struct Ctx {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// The clock.
    pub clock: SharedClock,
    /// Keys that seal secrets at rest and make keyed digests.
    pub master: Arc<MasterKeys>,
    /// The journal every security event goes to.
    pub journal: Journal,
    /// Limits how many password hashes run at once, so logins cannot starve the machine, and
    /// keeps their working memory.
    pub hash_slots: Arc<password::HashSlots>,
    /// Where claims beyond the idp's own come from (the wallet, once wired in).
    pub claims: Arc<dyn claims::ClaimsProvider>,
}

/// The identity provider: a cheap handle to every idp service.
#[derive(Debug, Clone)]
pub struct Idp {
    ctx: Arc<Ctx>,
    /// This node's short-lived cache of the signing keys (see [`keys`]).
    keys: Arc<keys::KeyCache>,
}

impl Idp {
    /// Wraps a context.
    pub fn new(ctx: Ctx) -> Self {
        Self {
            ctx: Arc::new(ctx),
            keys: Arc::default(),
        }
    }

    /// The shared context.
    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }
}
