//! Certificate profiles: the deployment's certificate authorities and the signers' leaf
//! certificates (ETSI EN 319 412 natural-person profile with the Chilean RUN conventions).

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, DnValue, IsCa, KeyUsagePurpose, SerialNumber,
};
use time::OffsetDateTime;

use crate::der;

/// serialNumber (2.5.4.5), which holds the signer's RUN.
const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
/// title (2.5.4.12), an official's position.
const OID_TITLE: &[u64] = &[2, 5, 4, 12];
/// The deployment's certificate policy for natural persons signing remotely. An arc under
/// clave's own prefix; an operator with a registered arc changes it before issuing.
pub const POLICY_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 99999, 1, 1];

/// Whom a leaf certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The full name, as the certificate's common name.
    pub name: String,
    /// The RUN in its compact form, `12345678-5`.
    pub run: String,
    /// For an official: the institution and the position held there.
    pub official: Option<Official>,
}

/// What an official's certificate adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Official {
    /// The institution (O).
    pub institution: String,
    /// The position (title).
    pub title: String,
}

/// The distinguished name of a certificate authority called `common_name`. An issuer is
/// rebuilt from this alone, so it must never change for a stored CA.
pub fn ca_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("CL"));
    dn.push(DnType::OrganizationName, "clave");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// The parameters of a CA certificate; `path_len` 1 for the root, 0 for issuing CAs.
pub fn ca_params(
    common_name: &str,
    path_len: u8,
    now: OffsetDateTime,
    years: i64,
    serial: &[u8],
    crl_url: Option<String>,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(365 * years);
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.use_authority_key_identifier_extension = path_len == 0;
    if let Some(url) = crl_url {
        params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![url] }];
    }
    params
}

/// The parameters rebuilding an issuer for a stored CA (name and key usages are what rcgen
/// takes from it).
pub fn issuer_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_name(common_name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// The parameters of a signer's certificate.
pub fn leaf_params(
    holder: &Holder,
    now: OffsetDateTime,
    days: i64,
    serial: &[u8],
    base_url: &str,
    ca_id: &str,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, printable("CL"));
    if let Some(official) = &holder.official {
        dn.push(DnType::OrganizationName, official.institution.as_str());
        dn.push(
            DnType::CustomDnType(OID_TITLE.to_vec()),
            official.title.as_str(),
        );
    }
    dn.push(DnType::CommonName, holder.name.as_str());
    dn.push(
        DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
        printable(&holder.run),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(days);
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.use_authority_key_identifier_extension = true;
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![crl_url(base_url, ca_id)],
    }];
    params.custom_extensions = vec![
        CustomExtension::from_oid_content(der::OID_SUBJECT_ALT_NAME, der::san_run(&holder.run)),
        CustomExtension::from_oid_content(
            der::OID_AUTHORITY_INFO_ACCESS,
            der::aia_ca_issuers(&ca_cert_url(base_url, ca_id)),
        ),
        CustomExtension::from_oid_content(
            der::OID_CERTIFICATE_POLICIES,
            der::certificate_policies(POLICY_OID, &format!("{base_url}/pki/cps")),
        ),
    ];
    params
}

/// `text` as a PrintableString when it fits that alphabet (country codes and RUNs do).
fn printable(text: &str) -> DnValue {
    match PrintableString::try_from(text) {
        Ok(p) => DnValue::PrintableString(p),
        Err(_) => DnValue::Utf8String(text.to_owned()),
    }
}

/// Where a CA's certificate is published.
pub fn ca_cert_url(base_url: &str, ca_id: &str) -> String {
    format!("{base_url}/pki/{ca_id}.crt")
}

/// Where a CA's current CRL is published.
pub fn crl_url(base_url: &str, ca_id: &str) -> String {
    format!("{base_url}/pki/crl/{ca_id}.crl")
}
