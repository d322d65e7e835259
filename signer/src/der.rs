//! The DER this crate writes and reads by hand: certificate extensions rcgen has no helper
//! for, and the few fields of a certificate that a CMS signature names.

use yasna::models::ObjectIdentifier;
use yasna::{ASN1Error, Tag};

/// The Chilean convention (Decreto 181) for the holder's RUT in subjectAltName otherName.
pub const OID_RUT_HOLDER: &[u64] = &[1, 3, 6, 1, 4, 1, 8321, 1];
/// subjectAltName.
pub const OID_SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
/// authorityInfoAccess.
pub const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
/// id-ad-caIssuers.
const OID_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
/// certificatePolicies.
pub const OID_CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
/// id-qt-cps, a CPS pointer qualifier.
const OID_CPS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 2, 1];

/// subjectAltName with one otherName carrying `run` as an IA5String.
pub fn san_run(run: &str) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_tagged_implicit(Tag::context(0), |w| {
                w.write_sequence(|w| {
                    w.next()
                        .write_oid(&ObjectIdentifier::from_slice(OID_RUT_HOLDER));
                    w.next().write_tagged(Tag::context(0), |w| {
                        w.write_ia5_string(run);
                    });
                });
            });
        });
    })
}

/// authorityInfoAccess with one caIssuers URI.
pub fn aia_ca_issuers(uri: &str) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next()
                    .write_oid(&ObjectIdentifier::from_slice(OID_CA_ISSUERS));
                w.next()
                    .write_tagged_implicit(Tag::context(6), |w| w.write_ia5_string(uri));
            });
        });
    })
}

/// certificatePolicies with one policy and its CPS URI.
pub fn certificate_policies(policy: &[u64], cps_uri: &str) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&ObjectIdentifier::from_slice(policy));
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_oid(&ObjectIdentifier::from_slice(OID_CPS));
                        w.next().write_ia5_string(cps_uri);
                    });
                });
            });
        });
    })
}

/// The parts of a certificate a signature refers to, each as its DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFields {
    /// The serial number's big-endian bytes.
    pub serial: Vec<u8>,
    /// The issuer Name.
    pub issuer: Vec<u8>,
    /// The subject Name.
    pub subject: Vec<u8>,
    /// The SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// notBefore and notAfter, in Unix seconds.
    pub validity: (i64, i64),
}

/// Reads the fields of a DER certificate.
pub fn cert_fields(cert: &[u8]) -> Result<CertFields, ASN1Error> {
    let tbs = yasna::parse_der(cert, |r| {
        r.read_sequence(|r| {
            let tbs = r.next().read_der()?;
            r.next().read_der()?;
            r.next().read_der()?;
            Ok(tbs)
        })
    })?;
    yasna::parse_der(&tbs, |r| {
        r.read_sequence(|r| {
            r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_i64()))?;
            let (serial, _) = r.next().read_bigint_bytes()?;
            r.next().read_der()?;
            let issuer = r.next().read_der()?;
            let validity = r.next().read_sequence(|r| {
                let from = read_time(r.next())?;
                let to = read_time(r.next())?;
                Ok((from, to))
            })?;
            let subject = r.next().read_der()?;
            let spki = r.next().read_der()?;
            while r.read_optional(|r| r.read_der())?.is_some() {}
            Ok(CertFields {
                serial,
                issuer,
                subject,
                spki,
                validity,
            })
        })
    })
}

fn read_time(r: yasna::BERReader<'_, '_>) -> Result<i64, ASN1Error> {
    let tag = r.lookahead_tag()?;
    if tag == yasna::tags::TAG_UTCTIME {
        Ok(r.read_utctime()?.datetime().unix_timestamp())
    } else {
        Ok(r.read_generalized_time()?.datetime().unix_timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_run_is_other_name_ia5() {
        let der = san_run("12345678-5");
        // SEQUENCE { [0] { OID 1.3.6.1.4.1.8321.1, [0] { IA5String } } }
        assert_eq!(der[0], 0x30);
        assert_eq!(der[2], 0xa0);
        let text = b"12345678-5";
        assert_eq!(&der[der.len() - text.len()..], text);
        assert_eq!(der[der.len() - text.len() - 2], 0x16);
    }
}
