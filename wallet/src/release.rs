//! Releasing data: the [`ClaimsProvider`] the idp consults during a login and at userinfo,
//! and the once-only agency API's read. Every release lands in the citizen's access log.

use std::collections::BTreeSet;

use clave_idp::Idp;
use clave_idp::claims::{
    ClaimsError, ClaimsFuture, ClaimsRequest, ConsentQuery, ConsentState, ProviderFuture,
    ProviderMetadata, RequestCheck, RequestRefusal, RequestTerms,
};
use clave_idp::session::LOA_2;
use serde_json::{Map, Value};

use crate::access_log::{Release, record_release};
use crate::consent::{self, Ask, Consent, Mode};
use crate::values::ReleasableValue;
use crate::{Wallet, WalletError};

/// The wallet as the idp's [`ClaimsProvider`](clave_idp::claims::ClaimsProvider).
#[derive(Debug, Default, Clone, Copy)]
pub struct WalletClaims;

fn unavailable(e: WalletError) -> ClaimsError {
    ClaimsError::Unavailable(e.to_string())
}

impl Wallet {
    /// What `request` asks of the wallet.
    pub async fn ask_of(
        &self,
        client: &clave_idp::clients::Client,
        request: &clave_idp::authreq::AuthRequest,
    ) -> Result<Ask, WalletError> {
        let catalogue = self.catalogue().list().await?;
        consent::resolve_ask(
            &catalogue,
            client,
            &request.scopes(),
            request.authorization_details.as_deref(),
            self.idp().ctx().config.wallet.consent_max_secs,
        )
        .map_err(WalletError::Invalid)
    }

    /// The attributes of `ask` the citizen has a value for now.
    pub async fn available(
        &self,
        account_id: &str,
        ask: &Ask,
    ) -> Result<BTreeSet<String>, WalletError> {
        Ok(self
            .values()
            .holding(account_id, &ask.all())
            .await?
            .into_iter()
            .map(|v| v.attribute)
            .collect())
    }

    async fn consent_state(&self, query: ConsentQuery<'_>) -> Result<ConsentState, WalletError> {
        let ask = self.ask_of(query.client, query.request).await?;
        if ask.is_empty() {
            return Ok(ConsentState::NotNeeded);
        }
        let available = self.available(&query.account.id, &ask).await?;
        if available.is_empty() {
            return Ok(ConsentState::NotNeeded);
        }
        if ask.mode == Mode::Ongoing && !query.request.prompts(clave_idp::authreq::Prompt::Consent)
        {
            let needed: Vec<&String> = ask
                .required
                .iter()
                .filter(|a| available.contains(*a))
                .collect();
            let standing = self
                .consents()
                .ongoing(&query.account.id, &query.client.client_id)
                .await?;
            if let Some(covering) = standing
                .iter()
                .find(|c| needed.iter().all(|a| c.attributes.contains(a)))
            {
                return Ok(ConsentState::Covered(covering.id.clone()));
            }
        }
        Ok(ConsentState::Ask)
    }

    async fn record_consent(
        &self,
        conn: &mut sqlx::AnyConnection,
        query: ConsentQuery<'_>,
        kept: &[String],
    ) -> Result<Option<String>, WalletError> {
        let ask = self.ask_of(query.client, query.request).await?;
        let available = self.available(&query.account.id, &ask).await?;
        let attributes = consent::chosen(&ask, kept, &available);
        if attributes.is_empty() {
            return Ok(None);
        }
        let consent = self
            .consents()
            .grant(
                conn,
                &query.account.id,
                query.client,
                &ask,
                attributes,
                query.request,
            )
            .await?;
        Ok(Some(consent.id))
    }

    /// The claims released under `request.consent_ref`, with their provenance, logged.
    async fn release_claims(
        &self,
        request: ClaimsRequest<'_>,
    ) -> Result<Map<String, Value>, WalletError> {
        let Some(consent_id) = request.consent_ref else {
            return Ok(Map::new());
        };
        let now = self.now();
        let Some(consent) = self
            .consents()
            .get(consent_id)
            .await?
            .filter(|c| {
                c.account_id == request.account.id && c.client_id == request.client.client_id
            })
            .filter(|c| c.is_active(now))
        else {
            return Ok(Map::new());
        };
        let level_2 = request
            .acr
            .is_some_and(|acr| clave_idp::factors::rank(acr) >= clave_idp::factors::rank(LOA_2));
        let values: Vec<ReleasableValue> = self
            .values()
            .releasable(&request.account.id)
            .await?
            .into_iter()
            .filter(|v| {
                consent.attributes.contains(&v.value.attribute) && (!v.sensitive || level_2)
            })
            .collect();
        let claims = claims_of(&values);
        let released = released_names(&claims);
        if !released.is_empty() {
            record_release(
                self,
                &Release {
                    account_id: &request.account.id,
                    client_id: &request.client.client_id,
                    client_name: &request.client.name,
                    attributes: &released,
                    purpose: &consent.purpose,
                    consent_ids: std::slice::from_ref(&consent.id),
                    channel: request.channel.as_str(),
                },
            )
            .await?;
        }
        Ok(claims)
    }

    /// The once-only read: the values of `names` that the citizen `account_id` lets
    /// `client` read under active ongoing consents. Refused with
    /// [`ReadError::ConsentRequired`] naming what no consent covers.
    pub async fn agency_read(
        &self,
        client: &clave_idp::clients::Client,
        account_id: &str,
        names: &[String],
    ) -> Result<Map<String, Value>, ReadError> {
        let standing: Vec<Consent> = self
            .consents()
            .ongoing(account_id, &client.client_id)
            .await?;
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !standing.iter().any(|c| c.attributes.contains(n)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(ReadError::ConsentRequired(missing));
        }
        let values: Vec<ReleasableValue> = self
            .values()
            .releasable(account_id)
            .await?
            .into_iter()
            .filter(|v| names.contains(&v.value.attribute))
            .collect();
        let claims = claims_of(&values);
        let released = released_names(&claims);
        if !released.is_empty() {
            let used: Vec<String> = standing
                .iter()
                .filter(|c| c.attributes.iter().any(|a| released.contains(a)))
                .map(|c| c.id.clone())
                .collect();
            let purposes: Vec<&str> = standing
                .iter()
                .filter(|c| used.contains(&c.id))
                .map(|c| c.purpose.as_str())
                .collect();
            record_release(
                self,
                &Release {
                    account_id,
                    client_id: &client.client_id,
                    client_name: &client.name,
                    attributes: &released,
                    purpose: &purposes.join("; "),
                    consent_ids: &used,
                    channel: "agency_api",
                },
            )
            .await?;
        }
        Ok(claims)
    }
}

/// Why an agency read was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No active ongoing consent covers these attributes.
    #[error("no active consent covers: {}", .0.join(", "))]
    ConsentRequired(Vec<String>),
    /// The wallet failed.
    #[error(transparent)]
    Failed(#[from] WalletError),
}

/// Values as claims, with `attribute_provenance`.
fn claims_of(values: &[ReleasableValue]) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut provenance = Map::new();
    for v in values {
        claims.insert(v.value.attribute.clone(), v.value.value.clone());
        provenance.insert(
            v.value.attribute.clone(),
            v.value.provenance(&v.source_name),
        );
    }
    if !provenance.is_empty() {
        claims.insert("attribute_provenance".into(), Value::Object(provenance));
    }
    claims
}

fn released_names(claims: &Map<String, Value>) -> Vec<String> {
    claims
        .keys()
        .filter(|k| *k != "attribute_provenance")
        .cloned()
        .collect()
}

impl clave_idp::claims::ClaimsProvider for WalletClaims {
    fn check_request<'a>(
        &'a self,
        idp: &'a Idp,
        request: RequestCheck<'a>,
    ) -> ProviderFuture<'a, Result<RequestTerms, RequestRefusal>> {
        Box::pin(async move {
            let wallet = Wallet::new(idp.clone());
            let catalogue = wallet
                .catalogue()
                .list()
                .await
                .map_err(|e| RequestRefusal::Unavailable(unavailable(e)))?;
            let ask = consent::resolve_ask(
                &catalogue,
                request.client,
                request.scopes,
                request.authorization_details,
                idp.ctx().config.wallet.consent_max_secs,
            )
            .map_err(RequestRefusal::InvalidDetails)?;
            // Sensitive data is released only at level 2 or more, so asking for it makes the
            // login reach that level (and it is withheld from a token below it).
            let sensitive = ask
                .all()
                .iter()
                .any(|a| catalogue.iter().any(|d| &d.name == a && d.sensitive));
            Ok(RequestTerms {
                min_acr: sensitive.then(|| LOA_2.to_owned()),
            })
        })
    }

    fn data_scopes<'a>(
        &'a self,
        idp: &'a Idp,
    ) -> ProviderFuture<'a, Result<Vec<String>, ClaimsError>> {
        Box::pin(async move {
            Wallet::new(idp.clone())
                .catalogue()
                .scopes()
                .await
                .map_err(unavailable)
        })
    }

    fn metadata<'a>(
        &'a self,
        idp: &'a Idp,
    ) -> ProviderFuture<'a, Result<ProviderMetadata, ClaimsError>> {
        Box::pin(async move {
            let catalogue = Wallet::new(idp.clone())
                .catalogue()
                .list()
                .await
                .map_err(unavailable)?;
            let mut scopes: Vec<String> = Vec::new();
            for def in &catalogue {
                if !scopes.contains(&def.scope) {
                    scopes.push(def.scope.clone());
                }
            }
            let mut claims: Vec<String> = catalogue.into_iter().map(|d| d.name).collect();
            claims.push("attribute_provenance".into());
            Ok(ProviderMetadata {
                scopes,
                claims,
                authorization_details_types: vec![consent::DETAILS_TYPE.to_owned()],
            })
        })
    }

    fn consent_state<'a>(
        &'a self,
        idp: &'a Idp,
        query: ConsentQuery<'a>,
    ) -> ProviderFuture<'a, Result<ConsentState, ClaimsError>> {
        Box::pin(async move {
            Wallet::new(idp.clone())
                .consent_state(query)
                .await
                .map_err(unavailable)
        })
    }

    fn record_consent<'a>(
        &'a self,
        idp: &'a Idp,
        conn: &'a mut sqlx::AnyConnection,
        query: ConsentQuery<'a>,
        kept: &'a [String],
    ) -> ProviderFuture<'a, Result<Option<String>, ClaimsError>> {
        Box::pin(async move {
            Wallet::new(idp.clone())
                .record_consent(conn, query, kept)
                .await
                .map_err(unavailable)
        })
    }

    fn granted_details<'a>(
        &'a self,
        idp: &'a Idp,
        consent_ref: &'a str,
    ) -> ProviderFuture<'a, Result<Option<Value>, ClaimsError>> {
        Box::pin(async move {
            let consent = Wallet::new(idp.clone())
                .consents()
                .get(consent_ref)
                .await
                .map_err(unavailable)?;
            Ok(consent.map(|c| {
                serde_json::json!([{
                    "type": consent::DETAILS_TYPE,
                    "attributes": c.attributes,
                    "purpose": c.purpose,
                    "mode": c.mode,
                    "consent_id": c.id,
                    "expires_at": crate::value::rfc3339(c.expires_at),
                    "consent_receipt": c.receipt,
                }])
            }))
        })
    }

    fn document_serial<'a>(
        &'a self,
        idp: &'a Idp,
        account_id: &'a str,
    ) -> ProviderFuture<'a, Result<Option<String>, ClaimsError>> {
        Box::pin(async move {
            let wallet = Wallet::new(idp.clone());
            let now = wallet.now();
            let values = wallet
                .values()
                .current(account_id)
                .await
                .map_err(unavailable)?;
            // Only what a source vouches for: the attribute is not self-asserted, and an
            // unverified or lapsed value proves nothing.
            Ok(values
                .into_iter()
                .find(|v| {
                    v.attribute == crate::catalogue::DOCUMENT_SERIAL
                        && v.verified
                        && v.holds_at(now)
                })
                .and_then(|v| v.value.as_str().map(str::to_owned)))
        })
    }

    fn extra_claims<'a>(&'a self, idp: &'a Idp, request: ClaimsRequest<'a>) -> ClaimsFuture<'a> {
        Box::pin(async move {
            Wallet::new(idp.clone())
                .release_claims(request)
                .await
                .map_err(unavailable)
        })
    }
}
