//! Registering and editing a service with everything citizens see of it: the client
//! registration (the identity provider's), its consent terms (purpose, legal basis, where
//! consent events go) and whether it may address mailbox notices by RUN. The command line
//! (`clave client add`) and the administration pages both come here.
//!
//! Every part is checked before anything is stored, so refused input leaves nothing half
//! registered or half changed.

use clave_common::journal::NewEvent;
use clave_idp::clients::{Client, NewClient, RegisteredClient};
use serde_json::json;

use crate::consent::ClientTerms;
use crate::{Wallet, WalletError};

/// What a service is besides its client registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceTerms {
    /// What the consent page tells citizens.
    pub terms: ClientTerms,
    /// Whether the service may address mailbox notices by RUN.
    pub mailbox_by_run: bool,
    /// The logo shown beside the service's name (an https URL).
    pub logo_uri: Option<String>,
}

impl Wallet {
    /// Registers a service (journaled as done by `actor`, when an account acts) with its
    /// terms. Returns the registration with its secret, shown this once.
    pub async fn register_service(
        &self,
        new: NewClient,
        extra: &ServiceTerms,
        actor: Option<&str>,
    ) -> Result<RegisteredClient, WalletError> {
        extra.terms.check()?;
        let registered = self
            .idp()
            .clients()
            .register_by(new, actor, extra.logo_uri.as_deref())
            .await?;
        self.apply_terms(&registered.client.client_id, extra, actor, true)
            .await?;
        Ok(registered)
    }

    /// Replaces a service's registration and terms; journaled as done by `actor`.
    pub async fn update_service(
        &self,
        client_id: &str,
        edit: NewClient,
        extra: &ServiceTerms,
        actor: &str,
    ) -> Result<Client, WalletError> {
        extra.terms.check()?;
        let client = self
            .idp()
            .clients()
            .update(client_id, edit, extra.logo_uri.as_deref(), actor)
            .await?;
        self.apply_terms(client_id, extra, Some(actor), false)
            .await?;
        Ok(client)
    }

    /// A service's terms as stored.
    pub async fn service_terms(&self, client_id: &str) -> Result<ServiceTerms, WalletError> {
        Ok(ServiceTerms {
            terms: self.consents().terms(client_id).await?,
            mailbox_by_run: self
                .mailbox()
                .may_address_by_run(client_id)
                .await
                .map_err(|e| WalletError::Internal(e.to_string()))?,
            logo_uri: self.idp().clients().logo_uri(client_id).await?,
        })
    }

    /// Stores the terms of a service just registered (`fresh`: nothing to store when they
    /// are the defaults) or edited, and journals who set them.
    async fn apply_terms(
        &self,
        client_id: &str,
        extra: &ServiceTerms,
        actor: Option<&str>,
        fresh: bool,
    ) -> Result<(), WalletError> {
        let mailbox = self.mailbox();
        if !fresh || extra.mailbox_by_run {
            mailbox
                .set_by_run(client_id, extra.mailbox_by_run)
                .await
                .map_err(|e| WalletError::Internal(e.to_string()))?;
        }
        if !fresh || extra.terms != ClientTerms::default() {
            self.consents().set_terms(client_id, &extra.terms).await?;
            if let Some(actor) = actor {
                let event = NewEvent::new("client.terms_set")
                    .actor(actor)
                    .subject(client_id)
                    .data(json!({ "terms": extra.terms }));
                self.idp().ctx().journal.append_now(&event).await?;
            }
        }
        Ok(())
    }
}
