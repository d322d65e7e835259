//! Signing pending requests together: one activation (a code, or a passkey through
//! [`super::passkey`]) bound to the SHA-256 of every document, each signed in its request's
//! format, and every request recorded signed, or none.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::journal::{self, NewEvent};
use clave_idp::accounts::Account;
use serde_json::json;

use super::{PORTAL_CLIENT, SignRequest, invalid};
use crate::activation::{ActivationRequest, Factor};
use crate::credentials::Credential;
use crate::documents::Document;
use crate::{MULTISIGN, Signer, SignerError};

impl Signer {
    /// Signs the pending requests `ids` of `account` with one activation: the second factor
    /// `otp` (with the signing `pin` when the credential has one) authorizes exactly the
    /// SHA-256 of every document, each is signed in its request's format, and every request
    /// is recorded signed, or none is.
    pub async fn sign_requests(
        &self,
        account: &Account,
        ids: &[String],
        otp: &str,
        pin: Option<&str>,
        addr: IpAddr,
    ) -> Result<(), SignerError> {
        let batch = self.prepare_batch(account, ids).await?;
        self.sign_batch(account, batch, Factor::Otp(otp), pin, addr)
            .await
    }

    /// The pending requests `ids` of `account` that one activation signs together: the
    /// hashes of all their documents and the credential that signs them.
    pub(crate) async fn prepare_batch(
        &self,
        account: &Account,
        ids: &[String],
    ) -> Result<Batch, SignerError> {
        if ids.is_empty() {
            return Err(invalid("choose at least one request to sign"));
        }
        let mut requests = Vec::with_capacity(ids.len());
        for id in ids {
            let request = self.request_for_signer(&account.id, id).await?;
            if request.status != "pending" {
                return Err(SignerError::Conflict(format!(
                    "the request is {} and can no longer be signed",
                    request.status
                )));
            }
            if requests.iter().any(|r: &SignRequest| r.id == request.id) {
                continue;
            }
            requests.push(request);
        }
        let mut hashes = Vec::new();
        for request in &requests {
            for doc in &request.documents {
                let hash = hex::decode(&doc.sha256)
                    .map_err(|_| SignerError::Internal("a stored hash is not hex".into()))?;
                if hashes.contains(&hash) {
                    return Err(invalid(
                        "two of the chosen requests hold the same document; sign them one at a time",
                    ));
                }
                hashes.push(hash);
            }
        }
        if hashes.len() as i64 > MULTISIGN {
            return Err(invalid(format!(
                "one activation covers at most {MULTISIGN} documents; choose fewer requests"
            )));
        }
        // One activation is bound to one credential: the signer's own, or their certificate
        // as an official of one institution.
        let institution = requests[0].institution_id.clone();
        if requests.iter().any(|r| r.institution_id != institution) {
            return Err(invalid(
                "requests to sign as an official and in your own name (or for two institutions) are signed separately",
            ));
        }
        let credential = match &institution {
            Some(id) => {
                self.official_credential(&account.id, id)
                    .await?
                    .ok_or_else(|| {
                        SignerError::Conflict(
                    "your certificate as an official of this institution is no longer valid".into(),
                )
                    })?
            }
            None => self.citizen_credential(account).await?.ok_or_else(|| {
                SignerError::SecondFactor(
                    "signing needs an authenticator app: enrol one in your security settings first"
                        .into(),
                )
            })?,
        };
        Ok(Batch {
            requests,
            hashes,
            credential,
        })
    }

    /// Activates `batch` with `factor` (and the signing `pin`), signs every document and
    /// records every request signed, or none.
    pub(crate) async fn sign_batch(
        &self,
        account: &Account,
        batch: Batch,
        factor: Factor<'_>,
        pin: Option<&str>,
        addr: IpAddr,
    ) -> Result<(), SignerError> {
        let Batch {
            requests,
            hashes,
            credential,
        } = batch;
        let activation = self
            .authorize(ActivationRequest {
                account,
                client_id: PORTAL_CLIENT,
                credential_id: &credential.id,
                num_signatures: hashes.len() as i64,
                hashes,
                factor,
                pin,
                addr,
            })
            .await?;
        let mut outputs = Vec::new();
        for request in &requests {
            for doc in &request.documents {
                let bytes = self
                    .request_document(request, doc.position, false)
                    .await?
                    .ok_or_else(|| SignerError::Internal("a request's document is gone".into()))?;
                let signed = self
                    .sign_document(
                        &activation.sad,
                        &account.id,
                        &credential.id,
                        Document {
                            bytes: &bytes,
                            name: &doc.name,
                            media_type: &doc.media_type,
                        },
                        request.format,
                        request.time_stamped,
                    )
                    .await?;
                outputs.push((request.id.clone(), doc.position, signed));
            }
        }
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let mut tx = ctx.db.begin().await?;
        for request in &requests {
            let decided = sqlx::query(
                "UPDATE signer_requests SET status = 'signed', decided_at = $2, credential_id = $3, \
                 callback_status = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, \
                 callback_next_at = $2 WHERE id = $1 AND status = 'pending' AND expires_at > $2",
            )
            .bind(&request.id)
            .bind(now)
            .bind(&credential.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if decided != 1 {
                return Err(SignerError::Conflict(
                    "a request was decided or expired meanwhile; nothing was recorded".into(),
                ));
            }
            let event = NewEvent::new("signature_request.signed")
                .actor(account.id.clone())
                .subject(account.id.clone())
                .data(json!({
                    "request_id": request.id,
                    "client_id": request.client_id,
                    "credential_id": credential.id,
                    "format": request.format.name(),
                    "level": request.level(),
                    "documents": request.documents.iter().map(|d| d.sha256.clone()).collect::<Vec<_>>(),
                }));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
        }
        for (request_id, position, signed) in &outputs {
            sqlx::query(
                "UPDATE signer_request_documents SET signed = $3 WHERE request_id = $1 AND position = $2",
            )
            .bind(request_id)
            .bind(position)
            .bind(STANDARD.encode(signed))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Pending requests that one activation signs together.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The requests, each once.
    pub requests: Vec<SignRequest>,
    /// The SHA-256 of every document, in order.
    pub hashes: Vec<Vec<u8>>,
    /// The credential that signs them.
    pub credential: Credential,
}
