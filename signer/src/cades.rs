//! CAdES baseline B-B, detached: a CMS SignedData (RFC 5652) without the content, whose
//! signed attributes carry the content type, the document's SHA-256, the signing time and
//! the signing certificate (ESS signing-certificate-v2). Built in two steps, because the key
//! signs the attributes' digest: [`signed_attributes`], then [`assemble`].

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use yasna::Tag;
use yasna::models::{ObjectIdentifier, UTCTime};

use crate::der::CertFields;

const OID_SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];
const OID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
const OID_SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const OID_ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_CONTENT_TYPE: &[u64] = &[1, 2, 840, 113549, 1, 9, 3];
const OID_MESSAGE_DIGEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 4];
const OID_SIGNING_TIME: &[u64] = &[1, 2, 840, 113549, 1, 9, 5];
const OID_SIGNING_CERTIFICATE_V2: &[u64] = &[1, 2, 840, 113549, 1, 9, 16, 2, 47];

fn oid(arcs: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(arcs)
}

/// The signed attributes, DER-encoded as a SET OF (tag 0x31): what is hashed and signed.
pub fn signed_attributes(
    document_digest: &[u8],
    signing_time: OffsetDateTime,
    signer_cert: &[u8],
) -> Vec<u8> {
    let cert_hash = Sha256::digest(signer_cert);
    // UTCTime has whole seconds only.
    let signing_time = signing_time.replace_nanosecond(0).unwrap_or(signing_time);
    yasna::construct_der(|w| {
        w.write_set_of(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_CONTENT_TYPE));
                w.next()
                    .write_set_of(|w| w.next().write_oid(&oid(OID_DATA)));
            });
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_SIGNING_TIME));
                w.next().write_set_of(|w| {
                    w.next()
                        .write_utctime(&UTCTime::from_datetime(signing_time));
                });
            });
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_MESSAGE_DIGEST));
                w.next()
                    .write_set_of(|w| w.next().write_bytes(document_digest));
            });
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_SIGNING_CERTIFICATE_V2));
                w.next().write_set_of(|w| {
                    // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash } },
                    // the hash algorithm being the default SHA-256.
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_bytes(&cert_hash);
                            });
                        });
                    });
                });
            });
        });
    })
}

/// The detached CMS (DER) from the signed attributes, the DER ECDSA signature over their
/// SHA-256, the signer's certificate fields and the certificates to include (signer first).
pub fn assemble(
    signed_attributes: &[u8],
    signature: &[u8],
    signer: &CertFields,
    certificates: &[Vec<u8>],
) -> Vec<u8> {
    // In a SignerInfo the attributes are [0] IMPLICIT: the same bytes under another tag.
    let mut implicit = signed_attributes.to_vec();
    if let Some(first) = implicit.first_mut() {
        *first = 0xa0;
    }
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_oid(&oid(OID_SIGNED_DATA));
            w.next().write_tagged(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    w.next().write_u8(1);
                    w.next().write_set_of(|w| {
                        w.next()
                            .write_sequence(|w| w.next().write_oid(&oid(OID_SHA256)));
                    });
                    w.next()
                        .write_sequence(|w| w.next().write_oid(&oid(OID_DATA)));
                    w.next().write_tagged_implicit(Tag::context(0), |w| {
                        w.write_set_of(|w| {
                            for cert in certificates {
                                w.next().write_der(cert);
                            }
                        });
                    });
                    w.next().write_set_of(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_u8(1);
                            w.next().write_sequence(|w| {
                                w.next().write_der(&signer.issuer);
                                w.next().write_bigint_bytes(&signer.serial, true);
                            });
                            w.next()
                                .write_sequence(|w| w.next().write_oid(&oid(OID_SHA256)));
                            w.next().write_der(&implicit);
                            w.next()
                                .write_sequence(|w| w.next().write_oid(&oid(OID_ECDSA_SHA256)));
                            w.next().write_bytes(signature);
                        });
                    });
                });
            });
        });
    })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};
    use time::macros::datetime;

    use super::*;
    use crate::keys::{KeyBackend, SoftwareKey};

    /// A fixed key, time and document give the same attributes and (RFC 6979) the same
    /// signature every time: a change in these bytes is a change in the format.
    #[test]
    fn golden_signed_attributes_and_signature() {
        let document = Sha256::digest(b"Resolucion exenta 1234");
        let at = datetime!(2026-11-26 12:00:00.75 UTC);
        let attributes = signed_attributes(&document, at, b"not really a certificate");
        assert_eq!(attributes[0], 0x31);
        assert_eq!(
            hex::encode(Sha256::digest(&attributes)),
            GOLDEN_ATTRIBUTES_SHA256
        );
        let key = SoftwareKey::from_scalar(&[7u8; 32]);
        let signature = key.sign_digest(&Sha256::digest(&attributes)).unwrap();
        assert_eq!(hex::encode(signature.to_der().as_bytes()), GOLDEN_SIGNATURE);
    }

    const GOLDEN_ATTRIBUTES_SHA256: &str =
        "133da2b0f21c5c197dde290d319d8be87c955ce5459994ddf7ba62cb0e822325";
    const GOLDEN_SIGNATURE: &str = "30440220681a45bffdd72a1654f5cd35cb90c26be61d84067a58394c586ff63bd78b2ec7022011a1b770ee0ebe1602babc9abbacc76a8b22ad1aaee3f5fce1b8168bddeda220";
}
