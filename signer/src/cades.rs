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
/// id-data, the content type of a signed document.
pub const OID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
const OID_SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const OID_ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_CONTENT_TYPE: &[u64] = &[1, 2, 840, 113549, 1, 9, 3];
const OID_MESSAGE_DIGEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 4];
const OID_SIGNING_TIME: &[u64] = &[1, 2, 840, 113549, 1, 9, 5];
const OID_SIGNING_CERTIFICATE_V2: &[u64] = &[1, 2, 840, 113549, 1, 9, 16, 2, 47];
const OID_SIGNATURE_TIME_STAMP: &[u64] = &[1, 2, 840, 113549, 1, 9, 16, 2, 14];

fn oid(arcs: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(arcs)
}

/// The signed attributes, DER-encoded as a SET OF (tag 0x31): what is hashed and signed.
pub fn signed_attributes(
    document_digest: &[u8],
    signing_time: OffsetDateTime,
    signer_cert: &[u8],
) -> Vec<u8> {
    signed_attributes_for(OID_DATA, document_digest, Some(signing_time), signer_cert)
}

/// Signed attributes for content of type `content_type` with SHA-256 `digest`.
pub fn signed_attributes_for(
    content_type: &[u64],
    digest: &[u8],
    signing_time: Option<OffsetDateTime>,
    signer_cert: &[u8],
) -> Vec<u8> {
    let cert_hash = Sha256::digest(signer_cert);
    // UTCTime has whole seconds only.
    let signing_time = signing_time.map(|t| t.replace_nanosecond(0).unwrap_or(t));
    yasna::construct_der(|w| {
        w.write_set_of(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_CONTENT_TYPE));
                w.next()
                    .write_set_of(|w| w.next().write_oid(&oid(content_type)));
            });
            if let Some(signing_time) = signing_time {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&oid(OID_SIGNING_TIME));
                    w.next().write_set_of(|w| {
                        w.next()
                            .write_utctime(&UTCTime::from_datetime(signing_time));
                    });
                });
            }
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_MESSAGE_DIGEST));
                w.next().write_set_of(|w| w.next().write_bytes(digest));
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

/// The unsigned attributes of a B-T signature: the time-stamp token over the signature.
pub fn signature_time_stamp(token: &[u8]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_set_of(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_SIGNATURE_TIME_STAMP));
                w.next().write_set_of(|w| w.next().write_der(token));
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
    unsigned_attributes: Option<&[u8]>,
) -> Vec<u8> {
    signed_data(
        OID_DATA,
        None,
        signed_attributes,
        signature,
        signer,
        certificates,
        unsigned_attributes,
    )
}

/// A CMS ContentInfo with SignedData: `content` is encapsulated when given (a time-stamp
/// token's TSTInfo), detached otherwise; `unsigned_attributes` is a DER SET OF Attribute.
pub fn signed_data(
    content_type: &[u64],
    content: Option<&[u8]>,
    signed_attributes: &[u8],
    signature: &[u8],
    signer: &CertFields,
    certificates: &[Vec<u8>],
    unsigned_attributes: Option<&[u8]>,
) -> Vec<u8> {
    // In a SignerInfo the attributes are [0] and [1] IMPLICIT: the same bytes, other tags.
    let retag = |der: &[u8], tag: u8| {
        let mut out = der.to_vec();
        if let Some(first) = out.first_mut() {
            *first = tag;
        }
        out
    };
    let implicit = retag(signed_attributes, 0xa0);
    let unsigned = unsigned_attributes.map(|u| retag(u, 0xa1));
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_oid(&oid(OID_SIGNED_DATA));
            w.next().write_tagged(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    // RFC 5652 §5.1: version 3 for content other than id-data.
                    w.next()
                        .write_u8(if content_type == OID_DATA { 1 } else { 3 });
                    w.next().write_set_of(|w| {
                        w.next()
                            .write_sequence(|w| w.next().write_oid(&oid(OID_SHA256)));
                    });
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&oid(content_type));
                        if let Some(content) = content {
                            w.next()
                                .write_tagged(Tag::context(0), |w| w.write_bytes(content));
                        }
                    });
                    if !certificates.is_empty() {
                        w.next().write_tagged_implicit(Tag::context(0), |w| {
                            w.write_set_of(|w| {
                                for cert in certificates {
                                    w.next().write_der(cert);
                                }
                            });
                        });
                    }
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
                            if let Some(unsigned) = &unsigned {
                                w.next().write_der(unsigned);
                            }
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
