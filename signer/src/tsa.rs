//! clave's own RFC 3161 time-stamp authority: a TSA certificate under the root (extended key
//! usage timeStamping, critical), tokens over SHA-256 imprints, served at `POST /tsa` and
//! used for CAdES B-T signature time-stamps.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::journal::{self, NewEvent};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, KeyUsagePurpose,
    SerialNumber,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use yasna::models::{GeneralizedTime, ObjectIdentifier};

use crate::ca::{ROOT, random_serial};
use crate::der::CertFields;
use crate::keys::{KeyBackend, SoftwareKey};
use crate::{Signer, SignerError, cades, der, profile};

/// The TSA's id in URLs (`/pki/tsa.crt`).
pub const TSA: &str = "tsa";
/// The policy under which tokens are issued.
pub const TSA_POLICY_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 99999, 1, 2];
const OID_SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_TIME_STAMPING: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 8];
/// id-ct-TSTInfo.
pub const OID_TST_INFO: &[u64] = &[1, 2, 840, 113549, 1, 9, 16, 1, 4];
const TSA_YEARS: i64 = 10;

fn key_owner() -> String {
    "signer-tsa:tsa".to_owned()
}

/// A parsed time-stamp request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStampRequest {
    /// The SHA-256 imprint to stamp.
    pub imprint: Vec<u8>,
    /// The nonce to echo.
    pub nonce: Option<Vec<u8>>,
    /// Whether the TSA certificate is to be included.
    pub cert_req: bool,
}

/// Reads a DER TimeStampReq; only SHA-256 imprints are accepted.
pub fn parse_request(bytes: &[u8]) -> Result<TimeStampRequest, SignerError> {
    let bad = || SignerError::Invalid("the body is not a DER RFC 3161 TimeStampReq".into());
    let (alg, imprint, rest) = yasna::parse_der(bytes, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            let (alg, imprint) = r.next().read_sequence(|r| {
                let alg = r.next().read_sequence(|r| {
                    let oid = r.next().read_oid()?;
                    r.read_optional(|r| r.read_null())?;
                    Ok(oid)
                })?;
                let imprint = r.next().read_bytes()?;
                Ok((alg, imprint))
            })?;
            let mut rest = Vec::new();
            while let Some(field) = r.read_optional(|r| r.read_der())? {
                rest.push(field);
            }
            Ok((alg, imprint, rest))
        })
    })
    .map_err(|_| bad())?;
    if alg != ObjectIdentifier::from_slice(OID_SHA256) || imprint.len() != 32 {
        return Err(SignerError::Invalid(
            "only SHA-256 message imprints are time-stamped".into(),
        ));
    }
    let mut nonce = None;
    let mut cert_req = false;
    for field in rest {
        match field.first() {
            Some(0x02) => {
                nonce = Some(
                    yasna::parse_der(&field, |r| r.read_bigint_bytes().map(|(b, _)| b))
                        .map_err(|_| bad())?,
                );
            }
            Some(0x01) => {
                cert_req = yasna::parse_der(&field, |r| r.read_bool()).map_err(|_| bad())?;
            }
            Some(0x06) => {
                let policy = yasna::parse_der(&field, |r| r.read_oid()).map_err(|_| bad())?;
                if policy != ObjectIdentifier::from_slice(TSA_POLICY_OID) {
                    return Err(SignerError::Invalid(
                        "the requested time-stamp policy is not offered".into(),
                    ));
                }
            }
            _ => {
                return Err(SignerError::Invalid(
                    "time-stamp request extensions are not supported".into(),
                ));
            }
        }
    }
    Ok(TimeStampRequest {
        imprint,
        nonce,
        cert_req,
    })
}

/// The DER TSTInfo for `imprint` at `at`.
fn tst_info(imprint: &[u8], serial: &[u8], at: OffsetDateTime, nonce: Option<&[u8]>) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1);
            w.next()
                .write_oid(&ObjectIdentifier::from_slice(TSA_POLICY_OID));
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&ObjectIdentifier::from_slice(OID_SHA256));
                });
                w.next().write_bytes(imprint);
            });
            w.next().write_bigint_bytes(serial, true);
            w.next()
                .write_generalized_time(&GeneralizedTime::from_datetime(at));
            if let Some(nonce) = nonce {
                w.next().write_bigint_bytes(nonce, true);
            }
        });
    })
}

/// A granted TimeStampResp around `token`.
pub fn response(token: &[u8]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| w.next().write_u8(0));
            w.next().write_der(token);
        });
    })
}

/// A rejection TimeStampResp (status 2) with a reason text.
pub fn rejection(text: &str) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_u8(2);
                w.next()
                    .write_sequence(|w| w.next().write_utf8_string(text));
            });
        });
    })
}

impl Signer {
    /// Creates the TSA certificate and key if missing.
    pub async fn ensure_tsa(&self) -> Result<(), SignerError> {
        if self.tsa_certificate().await?.is_some() {
            return Ok(());
        }
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let (root, issuer) = self.issuer(ROOT).await?;
        let key = SoftwareKey::generate();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "CL");
        dn.push(DnType::OrganizationName, "clave");
        dn.push(DnType::CommonName, "clave Time-Stamp Authority");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::days(365 * TSA_YEARS);
        params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
        params.use_authority_key_identifier_extension = true;
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec![profile::crl_url(&self.public_url(), &root.id)],
        }];
        let eku = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next()
                    .write_oid(&ObjectIdentifier::from_slice(OID_TIME_STAMPING));
            });
        });
        let mut eku = CustomExtension::from_oid_content(OID_EXT_KEY_USAGE, eku);
        eku.set_criticality(true);
        params.custom_extensions = vec![eku];
        let cert = params.signed_by(&key.to_rcgen()?, &issuer)?;
        let sealed = key.seal(&ctx.master, &key_owner())?;
        let mut tx = ctx.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signer_tsa (id, cert_der, sealed_key, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(TSA)
        .bind(STANDARD.encode(cert.der()))
        .bind(&sealed)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            journal::append(&mut tx, now, &NewEvent::new("pki.tsa_created").subject(TSA)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The TSA's certificate, DER.
    pub async fn tsa_certificate(&self) -> Result<Option<Vec<u8>>, SignerError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT cert_der FROM signer_tsa WHERE id = $1")
                .bind(TSA)
                .fetch_optional(self.ctx().db.pool())
                .await?;
        row.map(|(der,)| {
            STANDARD
                .decode(der)
                .map_err(|_| SignerError::Internal("corrupt TSA certificate".into()))
        })
        .transpose()
    }

    /// A time-stamp token (a CMS SignedData over a TSTInfo) for a SHA-256 `imprint`.
    pub async fn time_stamp(
        &self,
        imprint: &[u8],
        nonce: Option<&[u8]>,
        include_certificate: bool,
    ) -> Result<Vec<u8>, SignerError> {
        if imprint.len() != 32 {
            return Err(SignerError::Invalid("a SHA-256 imprint is 32 bytes".into()));
        }
        let (cert_der, sealed): (String, String) =
            sqlx::query_as("SELECT cert_der, sealed_key FROM signer_tsa WHERE id = $1")
                .bind(TSA)
                .fetch_optional(self.ctx().db.pool())
                .await?
                .ok_or_else(|| SignerError::Internal("the TSA is not set up".into()))?;
        let cert = STANDARD
            .decode(cert_der)
            .map_err(|_| SignerError::Internal("corrupt TSA certificate".into()))?;
        let key = SoftwareKey::open(&self.ctx().master, &key_owner(), &sealed)?;
        let fields: CertFields = der::cert_fields(&cert)
            .map_err(|e| SignerError::Internal(format!("TSA certificate: {e}")))?;
        let now = self.ctx().clock.now();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let info = tst_info(imprint, &random_serial(), now, nonce);
        let attributes =
            cades::signed_attributes_for(OID_TST_INFO, &Sha256::digest(&info), None, &cert);
        let signature = key.sign_digest(&Sha256::digest(&attributes))?;
        let certificates = if include_certificate {
            vec![cert]
        } else {
            Vec::new()
        };
        Ok(cades::signed_data(
            OID_TST_INFO,
            Some(&info),
            &attributes,
            signature.to_der().as_bytes(),
            &fields,
            &certificates,
            None,
        ))
    }
}

/// A DER TimeStampReq for a SHA-256 `imprint` with `nonce`, asking for the TSA's certificate.
fn request_der(imprint: &[u8], nonce: &[u8]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(1);
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next()
                        .write_oid(&ObjectIdentifier::from_slice(OID_SHA256));
                    w.next().write_null();
                });
                w.next().write_bytes(imprint);
            });
            w.next().write_bigint_bytes(nonce, true);
            w.next().write_bool(true);
        });
    })
}

/// The token in a DER TimeStampResp, or why there is none.
fn token_of(reply: &[u8]) -> Result<Vec<u8>, String> {
    let (status, token) = yasna::parse_der(reply, |r| {
        r.read_sequence(|r| {
            let status = r.next().read_sequence(|r| {
                let status = r.next().read_u8()?;
                while r.read_optional(|r| r.read_der())?.is_some() {}
                Ok(status)
            })?;
            let token = r.read_optional(|r| r.read_der())?;
            Ok((status, token))
        })
    })
    .map_err(|_| "the answer is not a DER TimeStampResp".to_owned())?;
    match (status, token) {
        (0 | 1, Some(token)) => Ok(token),
        (0 | 1, None) => Err("the answer grants a time-stamp but carries none".into()),
        (status, _) => Err(format!("the request was refused (PKIStatus {status})")),
    }
}

/// The DER certificate in a PEM text.
fn pem_certificate(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body.trim()).ok().filter(|d| !d.is_empty())
}

impl Signer {
    /// The external TSA's certificate, when one is configured.
    pub fn external_tsa_certificate(&self) -> Result<Option<Vec<u8>>, SignerError> {
        let signing = &self.ctx().config.signing;
        let Some(path) = signing.tsa_certificate.as_ref() else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            SignerError::Internal(format!(
                "cannot read signing.tsa_certificate {}: {e}",
                path.display()
            ))
        })?;
        pem_certificate(&text).map(Some).ok_or_else(|| {
            SignerError::Internal(format!(
                "signing.tsa_certificate {} holds no PEM certificate",
                path.display()
            ))
        })
    }

    /// A signature time-stamp over `imprint` (the SHA-256 of a signature value): from the
    /// external TSA when one is configured, otherwise from clave's own.
    pub(crate) async fn signature_time_stamp(
        &self,
        imprint: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        let signing = &self.ctx().config.signing;
        let Some(url) = signing.external_tsa() else {
            return self.time_stamp(imprint, None, true).await;
        };
        let certificate = self.external_tsa_certificate()?.ok_or_else(|| {
            SignerError::Internal("signing.tsa_url is set without signing.tsa_certificate".into())
        })?;
        let nonce = random_serial();
        let unavailable = |why: String| {
            SignerError::Unavailable(format!("the time-stamp authority {why}; try again later"))
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(
                signing.tsa_timeout_secs.max(1),
            ))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("clave")
            .build()
            .map_err(|e| SignerError::Internal(format!("cannot build the HTTP client: {e}")))?;
        let response = http
            .post(url)
            .header("content-type", "application/timestamp-query")
            .body(request_der(imprint, &nonce))
            .send()
            .await
            .map_err(|e| unavailable(format!("did not answer ({e})")))?;
        let status = response.status();
        let reply = response
            .bytes()
            .await
            .map_err(|e| unavailable(format!("broke off its answer ({e})")))?;
        if !status.is_success() {
            return Err(unavailable(format!("answered HTTP {}", status.as_u16())));
        }
        let token = token_of(&reply).map_err(|why| unavailable(format!("refused: {why}")))?;
        // A token that is not over this signature, or not from the configured TSA, or that
        // does not echo the nonce, is worthless; it never goes into a signature.
        if !crate::verify::check_token(&token, imprint, &certificate, Some(&nonce)) {
            return Err(unavailable(
                "sent a token that does not check against its certificate, this signature or the nonce"
                    .into(),
            ));
        }
        Ok(token)
    }
}
