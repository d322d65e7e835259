//! clave-portal owns the server-rendered pages: the interactive login and consent of the
//! OpenID Connect flow, and the portal where citizens (and later agents, officials and
//! administrators) manage their identity. Pages are askama templates in `templates/` that
//! extend `base.html`; they call the domain services in process, never over HTTP.
//!
//! Shared by every page: [`i18n`] (Spanish first, English too), [`csrf`] (a token on every
//! form), [`error::PageError`] (failures as pages in the citizen's language) and
//! [`page::Chrome`] (the layout's data). Static files are compiled in ([`assets`]).

use std::sync::Arc;

use axum::Router;
use clave_common::Config;
use clave_idp::Idp;
use clave_signer::Signer;
use clave_wallet::Wallet;

pub mod activation;
pub mod admin;
pub mod assets;
pub mod callers;
pub mod consent;
pub mod cookies;
pub mod csrf;
pub mod dates;
pub mod emergency;
pub mod error;
pub mod form;
pub mod home;
pub mod i18n;
pub mod login;
pub mod logout;
pub mod mailbox;
pub mod official;
pub mod page;
pub mod passkeys;
pub mod second_factor;
pub mod security;
pub mod sessions;
mod signed_in;
pub mod signing;
pub mod wallet;

/// What the portal's handlers need.
#[derive(Debug, Clone)]
pub struct PortalState {
    /// The identity provider.
    pub idp: Idp,
    /// The data wallet.
    pub wallet: Wallet,
    /// The signing service.
    pub signer: Signer,
    /// The configuration in force.
    pub config: Arc<Config>,
}

impl PortalState {
    /// A date and time as the page's reader expects it (see [`dates`]).
    pub fn date_time(&self, lang: i18n::Lang, unix: i64) -> String {
        dates::date_time(lang, &self.config.server.time_zone, unix)
    }

    /// A date as the page's reader expects it.
    pub fn date(&self, lang: i18n::Lang, unix: i64) -> String {
        dates::date(lang, &self.config.server.time_zone, unix)
    }

    /// A time of day in the deployment's zone.
    pub fn time_of_day(&self, unix: i64) -> String {
        dates::time_of_day(&self.config.server.time_zone, unix)
    }
}

/// Every page of the portal.
pub fn router(state: PortalState) -> Router {
    Router::new()
        .merge(home::routes())
        .merge(login::routes())
        .merge(assets::routes())
        // The browser flow's other pages (consent, logout confirmation) merge here.
        .merge(consent::routes())
        .merge(logout::routes())
        .merge(passkeys::routes())
        .merge(second_factor::routes())
        .merge(security::routes())
        .merge(wallet::routes())
        .merge(callers::routes())
        .merge(emergency::routes())
        .merge(activation::routes())
        .merge(mailbox::routes())
        .merge(sessions::routes())
        .merge(signing::routes())
        .merge(official::routes())
        .merge(admin::routes())
        .with_state(state)
}
