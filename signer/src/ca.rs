//! The deployment's certificate authorities: a root (path length 1) and under it the issuing
//! CA for citizens, "CA Ciudadanos" (path length 0). Created on first start, kept forever;
//! their keys are sealed under the master key like every other key at rest.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::journal::{self, NewEvent};
use rand::RngCore;
use serde_json::json;

use crate::keys::SoftwareKey;
use crate::{Signer, SignerError, profile};

/// The root CA's id.
pub const ROOT: &str = "root";
/// The citizens' issuing CA's id.
pub const CITIZENS: &str = "ciudadanos";

/// Years a root certificate is valid.
const ROOT_YEARS: i64 = 20;
/// Years an issuing CA's certificate is valid.
pub(crate) const ISSUING_YEARS: i64 = 10;

/// A certificate authority of this deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    /// Its id, used in URLs.
    pub id: String,
    /// The CA that certified it (none for the root).
    pub parent_id: Option<String>,
    /// Its common name.
    pub common_name: String,
    /// Its certificate, DER.
    pub cert_der: Vec<u8>,
    /// The number of the last CRL it issued.
    pub crl_number: i64,
    /// When it was created (Unix seconds).
    pub created_at: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct CaRow {
    id: String,
    parent_id: Option<String>,
    common_name: String,
    cert_der: String,
    sealed_key: String,
    crl_number: i64,
    created_at: i64,
}

impl CaRow {
    fn into_ca(self) -> Result<(CertificateAuthority, String), SignerError> {
        let cert_der = STANDARD.decode(&self.cert_der).map_err(|_| {
            SignerError::Internal(format!("CA {} has a corrupt certificate", self.id))
        })?;
        Ok((
            CertificateAuthority {
                id: self.id,
                parent_id: self.parent_id,
                common_name: self.common_name,
                cert_der,
                crl_number: self.crl_number,
                created_at: self.created_at,
            },
            self.sealed_key,
        ))
    }
}

const CA_COLUMNS: &str = "id, parent_id, common_name, cert_der, sealed_key, crl_number, created_at";

/// A random positive serial number of 16 bytes.
pub(crate) fn random_serial() -> Vec<u8> {
    let mut serial = vec![0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut serial);
    // Positive and exactly 16 bytes long.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}

fn key_owner(ca_id: &str) -> String {
    format!("signer-ca:{ca_id}")
}

impl Signer {
    /// Creates the root and the citizens' CA if they do not exist yet, each with a first CRL,
    /// and the time-stamp authority.
    /// Safe on several nodes at once: the first insert wins and the others use it.
    pub async fn ensure_pki(&self) -> Result<(), SignerError> {
        if self.ca(ROOT).await?.is_none() {
            self.create_ca(ROOT, None, "clave Root CA", 1, ROOT_YEARS)
                .await?;
        }
        if self.ca(CITIZENS).await?.is_none() {
            self.create_ca(
                CITIZENS,
                Some(ROOT),
                "clave CA Ciudadanos",
                0,
                ISSUING_YEARS,
            )
            .await?;
        }
        for ca in self.cas().await? {
            if self.current_crl(&ca.id).await?.is_none() {
                self.issue_crl(&ca.id).await?;
            }
        }
        self.ensure_tsa().await
    }

    pub(crate) async fn create_ca(
        &self,
        id: &str,
        parent: Option<&str>,
        common_name: &str,
        path_len: u8,
        years: i64,
    ) -> Result<(), SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let key = SoftwareKey::generate();
        let rc_key = key.to_rcgen()?;
        let base = self.public_url();
        let crl_url = parent.map(|p| profile::crl_url(&base, p));
        let params =
            profile::ca_params(common_name, path_len, now, years, &random_serial(), crl_url);
        let cert = match parent {
            None => params.self_signed(&rc_key)?,
            Some(parent) => {
                let (parent_ca, parent_key) = self.ca_with_key(parent).await?;
                let issuer = rcgen::Issuer::new(
                    profile::issuer_params(&parent_ca.common_name),
                    parent_key.to_rcgen()?,
                );
                params.signed_by(&rc_key, &issuer)?
            }
        };
        let sealed = key.seal(&ctx.master, &key_owner(id))?;
        let mut tx = ctx.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signer_cas (id, parent_id, common_name, cert_der, sealed_key, crl_number, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(parent)
        .bind(common_name)
        .bind(STANDARD.encode(cert.der()))
        .bind(&sealed)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let event = NewEvent::new("pki.ca_created")
                .subject(id)
                .data(json!({ "common_name": common_name, "parent": parent }));
            journal::append(&mut tx, now, &event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The CA with `id`, if there is one.
    pub async fn ca(&self, id: &str) -> Result<Option<CertificateAuthority>, SignerError> {
        let row: Option<CaRow> = sqlx::query_as(&format!(
            "SELECT {CA_COLUMNS} FROM signer_cas WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.ctx().db.pool())
        .await?;
        row.map(|r| r.into_ca().map(|(ca, _)| ca)).transpose()
    }

    /// Every CA, the root first, then by age.
    pub async fn cas(&self) -> Result<Vec<CertificateAuthority>, SignerError> {
        let rows: Vec<CaRow> = sqlx::query_as(&format!(
            "SELECT {CA_COLUMNS} FROM signer_cas ORDER BY parent_id IS NOT NULL, created_at, id"
        ))
        .fetch_all(self.ctx().db.pool())
        .await?;
        rows.into_iter()
            .map(|r| r.into_ca().map(|(ca, _)| ca))
            .collect()
    }

    /// A CA with its opened key.
    pub(crate) async fn ca_with_key(
        &self,
        id: &str,
    ) -> Result<(CertificateAuthority, SoftwareKey), SignerError> {
        let row: CaRow = sqlx::query_as(&format!(
            "SELECT {CA_COLUMNS} FROM signer_cas WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.ctx().db.pool())
        .await?
        .ok_or_else(|| SignerError::NotFound(format!("no certificate authority {id}")))?;
        let (ca, sealed) = row.into_ca()?;
        let key = SoftwareKey::open(&self.ctx().master, &key_owner(id), &sealed)?;
        Ok((ca, key))
    }

    /// The rcgen issuer for a CA.
    pub(crate) async fn issuer(
        &self,
        id: &str,
    ) -> Result<(CertificateAuthority, rcgen::Issuer<'static, rcgen::KeyPair>), SignerError> {
        let (ca, key) = self.ca_with_key(id).await?;
        let issuer = rcgen::Issuer::new(profile::issuer_params(&ca.common_name), key.to_rcgen()?);
        Ok((ca, issuer))
    }

    /// The chain above a CA, starting with it and ending with the root.
    pub async fn ca_chain(&self, id: &str) -> Result<Vec<CertificateAuthority>, SignerError> {
        let mut chain = Vec::new();
        let mut next = Some(id.to_owned());
        while let Some(id) = next {
            let ca = self
                .ca(&id)
                .await?
                .ok_or_else(|| SignerError::NotFound(format!("no certificate authority {id}")))?;
            next = ca.parent_id.clone();
            chain.push(ca);
            if chain.len() > 4 {
                return Err(SignerError::Internal("CA chain loops".into()));
            }
        }
        Ok(chain)
    }
}
