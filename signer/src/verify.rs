//! Verification of detached CAdES and JAdES signatures over a document: integrity (the
//! document's hash and the signature), the chain up to this deployment's CAs, the signer's
//! revocation status, the signer's name and RUN, and the claimed signing time.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use yasna::Tag;
use yasna::models::ObjectIdentifier;

use crate::der::{self, CertFields};
use crate::{Signer, SignerError, jades};

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `CAdES-B-B`, `CAdES-B-T` or `JAdES-B-B`.
    pub format: String,
    /// Whether every check passed.
    pub valid: bool,
    /// The signer's name (certificate CN).
    pub signer_name: Option<String>,
    /// The signer's RUN (certificate serialNumber).
    pub signer_run: Option<String>,
    /// The signature is over this exact document and the signature value checks.
    pub integrity: bool,
    /// What the signature covers.
    pub coverage: String,
    /// `trusted` when the certificate was issued by one of this deployment's CAs and the
    /// issuer's signature on it checks; `untrusted` otherwise.
    pub chain: String,
    /// `good`, `revoked` or `unknown`.
    pub revocation: String,
    /// The claimed signing time (Unix seconds).
    pub signing_time: Option<i64>,
    /// Anything else worth knowing.
    pub warnings: Vec<String>,
}

fn bad(text: &str) -> SignerError {
    SignerError::Invalid(format!("not a signature clave can read: {text}"))
}

const OID_MESSAGE_DIGEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 4];
const OID_SIGNING_TIME: &[u64] = &[1, 2, 840, 113549, 1, 9, 5];
const OID_SIGNATURE_TIME_STAMP: &[u64] = &[1, 2, 840, 113549, 1, 9, 16, 2, 14];
const OID_COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

/// The parts of a detached CMS a verifier needs.
struct Cms {
    certificates: Vec<Vec<u8>>,
    issuer: Vec<u8>,
    serial: Vec<u8>,
    signed_attributes: Vec<u8>,
    signature: Vec<u8>,
    has_content: bool,
    unsigned_attributes: Option<Vec<u8>>,
    content: Option<Vec<u8>>,
}

fn parse_cms(bytes: &[u8]) -> Result<Cms, yasna::ASN1Error> {
    let invalid = || yasna::ASN1Error::new(yasna::ASN1ErrorKind::Invalid);
    // SignedData's fields after the first three, each as raw DER, told apart by their tags.
    let (content, rest) = yasna::parse_der(bytes, |r| {
        r.read_sequence(|r| {
            r.next().read_oid()?;
            r.next().read_tagged(Tag::context(0), |r| {
                r.read_sequence(|r| {
                    r.next().read_u8()?;
                    r.next().read_der()?;
                    let content = r.next().read_sequence(|r| {
                        r.next().read_oid()?;
                        r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_bytes()))
                    })?;
                    let mut rest = Vec::new();
                    while let Some(field) = r.read_optional(|r| r.read_der())? {
                        rest.push(field);
                    }
                    Ok((content, rest))
                })
            })
        })
    })?;
    let as_set = |der: &[u8]| {
        let mut set = der.to_vec();
        if let Some(first) = set.first_mut() {
            *first = 0x31;
        }
        set
    };
    let mut certificates = Vec::new();
    let mut signer_infos = None;
    for field in &rest {
        match field.first() {
            Some(0xa0) => {
                certificates = yasna::parse_der(&as_set(field), |r| {
                    let mut certs = Vec::new();
                    r.read_set_of(|r| {
                        certs.push(r.read_der()?);
                        Ok(())
                    })?;
                    Ok(certs)
                })?;
            }
            Some(0x31) => signer_infos = Some(field.clone()),
            _ => {}
        }
    }
    let signer_infos = signer_infos.ok_or_else(invalid)?;
    let infos = yasna::parse_der(&signer_infos, |r| {
        let mut infos = Vec::new();
        r.read_set_of(|r| {
            infos.push(r.read_der()?);
            Ok(())
        })?;
        Ok(infos)
    })?;
    let has_content = content.is_some();
    let first = infos.first().ok_or_else(invalid)?;
    let (issuer, serial, signed_attributes, signature, unsigned_attributes) =
        yasna::parse_der(first, |r| {
            r.read_sequence(|r| {
                r.next().read_u8()?;
                let (issuer, serial) = r.next().read_sequence(|r| {
                    let issuer = r.next().read_der()?;
                    let (serial, _) = r.next().read_bigint_bytes()?;
                    Ok((issuer, serial))
                })?;
                r.next().read_der()?;
                let attrs = r.next().read_der()?;
                r.next().read_der()?;
                let signature = r.next().read_bytes()?;
                let unsigned = r.read_optional(|r| r.read_der())?;
                Ok((issuer, serial, attrs, signature, unsigned))
            })
        })?;
    if signed_attributes.first() != Some(&0xa0) {
        return Err(invalid());
    }
    Ok(Cms {
        certificates,
        issuer,
        serial,
        signed_attributes,
        signature,
        has_content,
        unsigned_attributes,
        content,
    })
}

/// Whether `token` (a time-stamp token, CMS SignedData over a TSTInfo) is signed by the TSA
/// with certificate `tsa_cert`, over `imprint`, echoing `nonce` when one was sent.
pub(crate) fn check_token(
    token: &[u8],
    imprint: &[u8],
    tsa_cert: &[u8],
    nonce: Option<&[u8]>,
) -> bool {
    let Ok(tsa) = der::cert_fields(tsa_cert) else {
        return false;
    };
    let Ok(cms) = parse_cms(token) else {
        return false;
    };
    let Some(info) = cms.content else {
        return false;
    };
    // TSTInfo: version, policy, messageImprint, serialNumber, genTime, then optional
    // accuracy, ordering, nonce (the only INTEGER among them), tsa and extensions.
    let stamped = yasna::parse_der(&info, |r| {
        r.read_sequence(|r| {
            r.next().read_u8()?;
            r.next().read_oid()?;
            let imprint = r.next().read_sequence(|r| {
                r.next().read_der()?;
                r.next().read_bytes()
            })?;
            r.next().read_der()?;
            r.next().read_der()?;
            let mut echoed = None;
            while let Some(field) = r.read_optional(|r| r.read_der())? {
                if field.first() == Some(&0x02) && echoed.is_none() {
                    echoed = Some(yasna::parse_der(&field, |r| {
                        r.read_bigint_bytes().map(|(b, _)| b)
                    })?);
                }
            }
            Ok((imprint, echoed))
        })
    });
    let Ok((stamped, echoed)) = stamped else {
        return false;
    };
    let nonce_ok = match nonce {
        None => true,
        Some(sent) => echoed.as_deref() == Some(sent),
    };
    let mut set = cms.signed_attributes.clone();
    if let Some(first) = set.first_mut() {
        *first = 0x31;
    }
    let digest_ok = attributes(&set).ok().is_some_and(|attrs| {
        let oid = ObjectIdentifier::from_slice(OID_MESSAGE_DIGEST);
        attrs.iter().any(|(o, v)| {
            *o == oid
                && yasna::parse_der(v, |r| r.read_bytes())
                    .is_ok_and(|d| d == Sha256::digest(&info).as_slice())
        })
    });
    stamped == imprint
        && nonce_ok
        && digest_ok
        && cms.issuer == tsa.issuer
        && cms.serial == tsa.serial
        && verify_der(&tsa.spki, &Sha256::digest(&set), &cms.signature)
}

/// The signed attributes' values by OID, each the DER of its first value.
fn attributes(set: &[u8]) -> Result<Vec<(ObjectIdentifier, Vec<u8>)>, yasna::ASN1Error> {
    yasna::parse_der(set, |r| {
        let mut out = Vec::new();
        r.read_set_of(|r| {
            let pair = r.read_sequence(|r| {
                let oid = r.next().read_oid()?;
                let mut value = None;
                r.next().read_set_of(|r| {
                    let v = r.read_der()?;
                    value.get_or_insert(v);
                    Ok(())
                })?;
                Ok((oid, value.unwrap_or_default()))
            })?;
            out.push(pair);
            Ok(())
        })?;
        Ok(out)
    })
}

/// The CN and serialNumber of a Name.
fn names(name: &[u8]) -> (Option<String>, Option<String>) {
    let parsed = yasna::parse_der(name, |r| {
        let mut cn = None;
        let mut serial = None;
        r.read_sequence_of(|r| {
            r.read_set_of(|r| {
                r.read_sequence(|r| {
                    let oid = r.next().read_oid()?;
                    let value = r.next().read_der()?;
                    let text = yasna::parse_der(&value, |r| {
                        let tag = r.lookahead_tag()?;
                        if tag == yasna::tags::TAG_PRINTABLESTRING {
                            r.read_printable_string()
                        } else {
                            r.read_utf8string()
                        }
                    })
                    .ok();
                    if oid == ObjectIdentifier::from_slice(OID_COMMON_NAME) {
                        cn = text;
                    } else if oid == ObjectIdentifier::from_slice(OID_SERIAL_NUMBER) {
                        serial = text;
                    }
                    Ok(())
                })
            })
        })?;
        Ok((cn, serial))
    });
    parsed.unwrap_or((None, None))
}

/// Whether `cert` carries a valid signature by the key in `issuer_spki`.
fn signed_by(cert: &[u8], issuer_spki: &[u8]) -> bool {
    let parts = yasna::parse_der(cert, |r| {
        r.read_sequence(|r| {
            let tbs = r.next().read_der()?;
            r.next().read_der()?;
            let (sig, _) = r.next().read_bitvec_bytes()?;
            Ok((tbs, sig))
        })
    });
    let Ok((tbs, sig)) = parts else {
        return false;
    };
    verify_der(issuer_spki, &Sha256::digest(&tbs), &sig)
}

fn verifying_key(spki: &[u8]) -> Option<VerifyingKey> {
    VerifyingKey::from_public_key_der(spki).ok()
}

fn verify_der(spki: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    let (Some(key), Ok(sig)) = (verifying_key(spki), Signature::from_der(sig)) else {
        return false;
    };
    key.verify_prehash(digest, &sig).is_ok()
}

/// Every signature in a PDF: the bytes its `/ByteRange` covers, its CMS, and whether it
/// covers the whole file.
fn pdf_signatures(pdf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, bool)> {
    let marker = b"/ByteRange";
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = pdf[from..].windows(marker.len()).position(|w| w == marker) {
        let name = from + pos;
        from = name + marker.len();
        let Some(open) = pdf[from..].iter().take(4).position(|b| *b == b'[') else {
            continue;
        };
        let start = from + open + 1;
        let Some(close) = pdf[start..].iter().take(64).position(|b| *b == b']') else {
            continue;
        };
        let numbers: Vec<usize> = String::from_utf8_lossy(&pdf[start..start + close])
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [a, b, c, d] = numbers[..] else {
            continue;
        };
        let (Some(first_end), Some(second_end)) = (a.checked_add(b), c.checked_add(d)) else {
            continue;
        };
        if a != 0 || first_end + 2 > c || second_end > pdf.len() {
            continue;
        }
        let hex = &pdf[first_end + 1..c - 1];
        let Some(mut cms) = (0..hex.len() / 2)
            .map(|i| {
                std::str::from_utf8(&hex[2 * i..2 * i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
        else {
            continue;
        };
        // The CMS ends where its DER length says; zeros pad the rest.
        let len = match cms.get(..5) {
            Some([0x30, 0x82, h, l, _]) => 4 + ((*h as usize) << 8 | *l as usize),
            Some([0x30, 0x83, h, m, l]) => {
                5 + ((*h as usize) << 16 | (*m as usize) << 8 | *l as usize)
            }
            _ => continue,
        };
        cms.truncate(len);
        let covered = [&pdf[..first_end], &pdf[c..second_end]].concat();
        found.push((covered, cms, second_end == pdf.len()));
    }
    found
}

impl Signer {
    /// Verifies every signature inside a PDF (PAdES); an error when it has none.
    pub async fn verify_pdf(&self, pdf: &[u8]) -> Result<Vec<Report>, SignerError> {
        let signatures = pdf_signatures(pdf);
        if signatures.is_empty() {
            return Err(SignerError::Invalid(
                "the PDF has no signature clave can read; for a detached signature send it too"
                    .into(),
            ));
        }
        let mut reports = Vec::with_capacity(signatures.len());
        for (covered, cms, whole) in signatures {
            let mut report = self.verify_cades(&covered, &cms).await?;
            report.format = report.format.replace("CAdES", "PAdES");
            if !whole {
                report.coverage =
                    "an earlier revision; the file was changed after this signature".to_owned();
            }
            reports.push(report);
        }
        Ok(reports)
    }

    /// Verifies a detached signature (CAdES `.p7s` DER, or JAdES JSON) over `document`.
    pub async fn verify_detached(
        &self,
        document: &[u8],
        signature: &[u8],
    ) -> Result<Report, SignerError> {
        if signature.first() == Some(&b'{') {
            self.verify_jades(document, signature).await
        } else {
            self.verify_cades(document, signature).await
        }
    }

    async fn verify_cades(&self, document: &[u8], p7s: &[u8]) -> Result<Report, SignerError> {
        let cms = parse_cms(p7s).map_err(|_| bad("neither CMS (DER) nor JAdES JSON"))?;
        let mut warnings = Vec::new();
        if cms.has_content {
            warnings.push("the CMS carries its content: it is not detached".to_owned());
        }
        let mut leaf = None;
        for cert in &cms.certificates {
            if let Ok(fields) = der::cert_fields(cert)
                && fields.issuer == cms.issuer
                && fields.serial == cms.serial
            {
                leaf = Some((cert.clone(), fields));
            }
        }
        let (leaf, fields) = leaf.ok_or_else(|| bad("the signer's certificate is not included"))?;
        let mut set = cms.signed_attributes.clone();
        if let Some(first) = set.first_mut() {
            *first = 0x31;
        }
        let attrs = attributes(&set).map_err(|_| bad("unreadable signed attributes"))?;
        let find = |arcs: &[u64]| {
            let oid = ObjectIdentifier::from_slice(arcs);
            attrs
                .iter()
                .find(|(o, _)| *o == oid)
                .map(|(_, v)| v.clone())
        };
        let digest_ok = find(OID_MESSAGE_DIGEST)
            .and_then(|v| yasna::parse_der(&v, |r| r.read_bytes()).ok())
            .is_some_and(|d| d == Sha256::digest(document).as_slice());
        let signing_time = find(OID_SIGNING_TIME).and_then(|v| {
            yasna::parse_der(&v, |r| r.read_utctime())
                .ok()
                .map(|t| t.datetime().unix_timestamp())
        });
        let signature_ok = verify_der(&fields.spki, &Sha256::digest(&set), &cms.signature);
        let mut format = "CAdES-B-B";
        let mut time_stamp_ok = true;
        if let Some(unsigned) = &cms.unsigned_attributes {
            let mut set = unsigned.clone();
            if let Some(first) = set.first_mut() {
                *first = 0x31;
            }
            let token = attributes(&set)
                .ok()
                .and_then(|attrs| {
                    let oid = ObjectIdentifier::from_slice(OID_SIGNATURE_TIME_STAMP);
                    attrs.into_iter().find(|(o, _)| *o == oid)
                })
                .map(|(_, token)| token);
            if let Some(token) = token {
                format = "CAdES-B-T";
                time_stamp_ok = self
                    .check_time_stamp(&token, &Sha256::digest(&cms.signature))
                    .await?;
                if !time_stamp_ok {
                    warnings.push(
                        "the signature time-stamp does not check against a trusted time-stamp authority"
                            .to_owned(),
                    );
                }
            }
        }
        self.report(
            format,
            &leaf,
            &fields,
            digest_ok && signature_ok && time_stamp_ok,
            signing_time,
            warnings,
        )
        .await
    }

    /// Whether `token` is a time-stamp over `imprint` by clave's TSA, or by the external
    /// TSA the deployment is configured with.
    async fn check_time_stamp(&self, token: &[u8], imprint: &[u8]) -> Result<bool, SignerError> {
        let mut authorities = Vec::new();
        authorities.extend(self.tsa_certificate().await?);
        authorities.extend(self.external_tsa_certificate()?);
        Ok(authorities
            .iter()
            .any(|tsa| check_token(token, imprint, tsa, None)))
    }

    async fn verify_jades(&self, document: &[u8], text: &[u8]) -> Result<Report, SignerError> {
        let jws: Value = serde_json::from_slice(text).map_err(|_| bad("invalid JSON"))?;
        let protected = jws["protected"]
            .as_str()
            .ok_or_else(|| bad("no protected header"))?;
        let header: Value = URL_SAFE_NO_PAD
            .decode(protected)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(|| bad("the protected header is not base64url JSON"))?;
        let leaf = header["x5c"][0]
            .as_str()
            .and_then(|c| STANDARD.decode(c).ok())
            .ok_or_else(|| bad("no x5c certificate"))?;
        let fields = der::cert_fields(&leaf).map_err(|_| bad("unreadable x5c certificate"))?;
        let mut warnings = Vec::new();
        if header["alg"] != "ES256" {
            warnings.push(format!("alg {} is not ES256", header["alg"]));
        }
        if header["sigD"]["mId"] != jades::SIGD_BY_URI_HASH || header["b64"] != false {
            warnings.push("sigD is not ObjectIdByURIHash with b64 false".to_owned());
        }
        let hash_ok = header["sigD"]["hashV"][0].as_str()
            == Some(URL_SAFE_NO_PAD.encode(Sha256::digest(document)).as_str());
        let thumb_ok = header["x5t#S256"].as_str()
            == Some(URL_SAFE_NO_PAD.encode(Sha256::digest(&leaf)).as_str());
        if !thumb_ok {
            warnings.push("x5t#S256 does not match the certificate".to_owned());
        }
        let input = format!("{protected}.");
        let signature_ok = jws["signature"]
            .as_str()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .and_then(|raw| Signature::from_slice(&raw).ok())
            .zip(verifying_key(&fields.spki))
            .is_some_and(|(sig, key)| {
                key.verify_prehash(&Sha256::digest(input.as_bytes()), &sig)
                    .is_ok()
            });
        let ok = hash_ok && thumb_ok && signature_ok && header["alg"] == "ES256";
        self.report(
            "JAdES-B-B",
            &leaf,
            &fields,
            ok,
            header["iat"].as_i64(),
            warnings,
        )
        .await
    }

    async fn report(
        &self,
        format: &str,
        leaf: &[u8],
        fields: &CertFields,
        integrity: bool,
        signing_time: Option<i64>,
        mut warnings: Vec<String>,
    ) -> Result<Report, SignerError> {
        let (signer_name, signer_run) = names(&fields.subject);
        let mut trusted = false;
        for ca in self.cas().await? {
            let Ok(ca_fields) = der::cert_fields(&ca.cert_der) else {
                continue;
            };
            if ca_fields.subject == fields.issuer && signed_by(leaf, &ca_fields.spki) {
                trusted = true;
            }
        }
        let serial = hex::encode(&fields.serial);
        let (known,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM signer_credentials WHERE serial = $1")
                .bind(&serial)
                .fetch_one(self.ctx().db.pool())
                .await?;
        let revoked: Option<(i64,)> = sqlx::query_as(
            "SELECT revoked_at FROM signer_credentials WHERE serial = $1 AND status = 'revoked'",
        )
        .bind(&serial)
        .fetch_optional(self.ctx().db.pool())
        .await?;
        let revocation = match (trusted && known > 0, revoked) {
            (false, _) => "unknown",
            (true, Some(_)) => "revoked",
            (true, None) => "good",
        };
        if let Some(at) = signing_time
            && (at < fields.validity.0 || at > fields.validity.1)
        {
            warnings.push("the signing time is outside the certificate's validity".to_owned());
        }
        Ok(Report {
            format: format.to_owned(),
            valid: integrity && trusted && revocation == "good",
            signer_name,
            signer_run,
            integrity,
            coverage: "whole document".to_owned(),
            chain: if trusted { "trusted" } else { "untrusted" }.to_owned(),
            revocation: revocation.to_owned(),
            signing_time,
            warnings,
        })
    }
}
