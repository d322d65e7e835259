//! Certificate revocation lists: one series per CA, numbered upwards, issued on every
//! revocation and by a worker well before the current one lapses. Every CRL is kept.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

use crate::{CRL_REFRESH_MARGIN_SECS, CRL_VALIDITY_SECS, Signer, SignerError};

/// An issued CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    /// The CA that issued it.
    pub ca_id: String,
    /// Its CRL number.
    pub number: i64,
    /// thisUpdate (Unix seconds).
    pub this_update: i64,
    /// nextUpdate (Unix seconds).
    pub next_update: i64,
    /// The CRL, DER.
    pub der: Vec<u8>,
}

/// The reasons a credential may be revoked for, by their RFC 5280 names.
pub const REASONS: &[&str] = &[
    "unspecified",
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
];

fn reason_code(name: &str) -> Option<RevocationReason> {
    Some(match name {
        "unspecified" => RevocationReason::Unspecified,
        "keyCompromise" => RevocationReason::KeyCompromise,
        "affiliationChanged" => RevocationReason::AffiliationChanged,
        "superseded" => RevocationReason::Superseded,
        "cessationOfOperation" => RevocationReason::CessationOfOperation,
        "privilegeWithdrawn" => RevocationReason::PrivilegeWithdrawn,
        _ => return None,
    })
}

/// Whether `name` is a revocation reason clave accepts.
pub fn is_reason(name: &str) -> bool {
    reason_code(name).is_some()
}

fn at(unix: i64) -> Result<OffsetDateTime, SignerError> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|_| SignerError::Internal(format!("time {unix} out of range")))
}

impl Signer {
    /// Issues the next CRL of `ca_id`, listing every certificate it revoked.
    pub async fn issue_crl(&self, ca_id: &str) -> Result<Crl, SignerError> {
        let ctx = self.ctx();
        let (_, issuer) = self.issuer(ca_id).await?;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        // Taking the next number first serialises issuers of the same CA.
        sqlx::query("UPDATE signer_cas SET crl_number = crl_number + 1 WHERE id = $1")
            .bind(ca_id)
            .execute(&mut *tx)
            .await?;
        let (number,): (i64,) = sqlx::query_as("SELECT crl_number FROM signer_cas WHERE id = $1")
            .bind(ca_id)
            .fetch_one(&mut *tx)
            .await?;
        let revoked: Vec<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT serial, revoked_at, revocation_reason FROM signer_credentials \
             WHERE ca_id = $1 AND status = 'revoked' ORDER BY revoked_at",
        )
        .bind(ca_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut revoked_certs = Vec::with_capacity(revoked.len());
        for (serial, revoked_at, reason) in revoked {
            let bytes = hex::decode(&serial)
                .map_err(|_| SignerError::Internal(format!("corrupt serial {serial}")))?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: at(revoked_at)?,
                reason_code: reason.as_deref().and_then(reason_code),
                invalidity_date: None,
            });
        }
        let this_update = now.unix_timestamp();
        let next_update = this_update + CRL_VALIDITY_SECS;
        let params = CertificateRevocationListParams {
            this_update: at(this_update)?,
            next_update: at(next_update)?,
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let der = params.signed_by(&issuer)?.der().to_vec();
        sqlx::query(
            "INSERT INTO signer_crls (ca_id, number, this_update, next_update, der) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(ca_id)
        .bind(number)
        .bind(this_update)
        .bind(next_update)
        .bind(STANDARD.encode(&der))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Crl {
            ca_id: ca_id.to_owned(),
            number,
            this_update,
            next_update,
            der,
        })
    }

    /// The newest CRL of `ca_id`.
    pub async fn current_crl(&self, ca_id: &str) -> Result<Option<Crl>, SignerError> {
        let row: Option<(i64, i64, i64, String)> = sqlx::query_as(
            "SELECT number, this_update, next_update, der FROM signer_crls \
             WHERE ca_id = $1 ORDER BY number DESC LIMIT 1",
        )
        .bind(ca_id)
        .fetch_optional(self.ctx().db.pool())
        .await?;
        row.map(|(number, this_update, next_update, der)| {
            Ok(Crl {
                ca_id: ca_id.to_owned(),
                number,
                this_update,
                next_update,
                der: STANDARD
                    .decode(der)
                    .map_err(|_| SignerError::Internal("corrupt CRL".into()))?,
            })
        })
        .transpose()
    }

    /// Issues a new CRL for every CA whose current one lapses within the refresh margin;
    /// returns how many were issued.
    pub async fn refresh_crls(&self) -> Result<usize, SignerError> {
        let now = self.ctx().clock.unix();
        let mut issued = 0;
        for ca in self.cas().await? {
            let due = match self.current_crl(&ca.id).await? {
                None => true,
                Some(crl) => crl.next_update - now < CRL_REFRESH_MARGIN_SECS,
            };
            if due {
                self.issue_crl(&ca.id).await?;
                issued += 1;
            }
        }
        Ok(issued)
    }
}

/// Keeps every CA's CRL fresh until `stop` turns true, looking every ten minutes.
pub async fn run_crl_worker(signer: Signer, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(600));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                match signer.refresh_crls().await {
                    Ok(0) => {}
                    Ok(issued) => tracing::info!(issued, "issued CRLs"),
                    Err(error) => tracing::warn!(%error, "CRL refresh failed"),
                }
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
}
