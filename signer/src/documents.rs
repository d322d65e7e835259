//! Signing whole documents (CSC `signDoc`): the SAD is bound to the document's SHA-256, and
//! the signature is made in the requested format around it.

use sha2::{Digest, Sha256};

use crate::{Signer, SignerError, cades, der, jades, pades};

/// A signature format for a whole document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CAdES B-B, detached (`.p7s`).
    Cades,
    /// JAdES B-B, detached (flattened JWS JSON).
    Jades,
    /// PAdES, the signature inside the PDF (an incremental update).
    Pades,
}

impl Format {
    /// The format from its CSC `signature_format` letter.
    pub fn from_csc(letter: &str) -> Option<Self> {
        match letter {
            "C" => Some(Self::Cades),
            "J" => Some(Self::Jades),
            "P" => Some(Self::Pades),
            _ => None,
        }
    }

    /// The format from its name in clave's own APIs (`pades`, `cades`, `jades`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "cades" => Some(Self::Cades),
            "jades" => Some(Self::Jades),
            "pades" => Some(Self::Pades),
            _ => None,
        }
    }

    /// Its name in clave's own APIs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cades => "cades",
            Self::Jades => "jades",
            Self::Pades => "pades",
        }
    }

    /// The media type of the signature this format makes.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Cades => "application/pkcs7-signature",
            Self::Jades => "application/jose+json",
            Self::Pades => "application/pdf",
        }
    }
}

/// A document to sign.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// Its bytes.
    pub bytes: &'a [u8],
    /// Its name, as JAdES names it in `sigD`.
    pub name: &'a str,
    /// Its media type.
    pub media_type: &'a str,
}

impl Signer {
    /// Signs `document` with the credential under `sad`, which must be bound to the
    /// document's SHA-256; returns the detached signature, time-stamped (B-T) when asked.
    pub async fn sign_document(
        &self,
        sad: &str,
        account_id: &str,
        credential_id: &str,
        document: Document<'_>,
        format: Format,
        time_stamped: bool,
    ) -> Result<Vec<u8>, SignerError> {
        let digest = Sha256::digest(document.bytes).to_vec();
        let (credential, key) = self
            .consume(
                sad,
                account_id,
                credential_id,
                std::slice::from_ref(&digest),
            )
            .await?;
        let mut chain = self.chain(&credential).await?;
        let now = self.ctx().clock.now();
        match format {
            Format::Pades => {
                // The PDF's own hash was authorized; the signature covers the PDF with its
                // signature field, everything but the signature itself.
                let prepared = pades::prepare(document.bytes, now)?;
                let fields = der::cert_fields(&credential.cert_der)
                    .map_err(|e| SignerError::Internal(format!("stored certificate: {e}")))?;
                // PAdES carries the signing time in the signature dictionary (/M), not as a
                // signed attribute.
                let attributes = cades::signed_attributes_for(
                    cades::OID_DATA,
                    &prepared.digest,
                    None,
                    &credential.cert_der,
                );
                let signature = key.sign(&Sha256::digest(&attributes)).await?;
                let signature = signature.to_der().as_bytes().to_vec();
                let unsigned = if time_stamped {
                    let token = self
                        .signature_time_stamp(&Sha256::digest(&signature))
                        .await?;
                    Some(cades::signature_time_stamp(&token))
                } else {
                    None
                };
                let cms = cades::assemble(
                    &attributes,
                    &signature,
                    &fields,
                    &chain,
                    unsigned.as_deref(),
                );
                pades::embed(prepared, &cms)
            }
            Format::Cades => {
                let fields = der::cert_fields(&credential.cert_der)
                    .map_err(|e| SignerError::Internal(format!("stored certificate: {e}")))?;
                let attributes = cades::signed_attributes(&digest, now, &credential.cert_der);
                let signature = key.sign(&Sha256::digest(&attributes)).await?;
                let signature = signature.to_der().as_bytes().to_vec();
                // B-T: clave's TSA stamps the signature value.
                let unsigned = if time_stamped {
                    let token = self
                        .signature_time_stamp(&Sha256::digest(&signature))
                        .await?;
                    Some(cades::signature_time_stamp(&token))
                } else {
                    None
                };
                Ok(cades::assemble(
                    &attributes,
                    &signature,
                    &fields,
                    &chain,
                    unsigned.as_deref(),
                ))
            }
            Format::Jades if time_stamped => Err(SignerError::Invalid(
                "JAdES is offered at level B-B only".into(),
            )),
            Format::Jades => {
                // The root is the verifier's trust anchor, not part of the header's chain.
                if chain.len() > 2 {
                    chain.truncate(chain.len() - 1);
                }
                let header = jades::protected_header(
                    document.name,
                    document.media_type,
                    &digest,
                    now.unix_timestamp(),
                    &chain,
                );
                let (encoded, input) = jades::signing_input(&header);
                let signature = key.sign(&Sha256::digest(&input)).await?;
                Ok(jades::assemble(&encoded, &signature.to_bytes())
                    .to_string()
                    .into_bytes())
            }
        }
    }
}
