//! Signing keys behind [`KeyBackend`], which signs a digest the caller computed: what a CSC
//! `signHash`, a CMS signer and a PKCS#11 token all have in common. The software backend
//! keeps P-256 keys as PKCS#8 sealed under the master key, the owner (the credential or CA
//! id) bound as associated data so a sealed key copied to another row does not open. A
//! credential's key may instead live in a PKCS#11 token ([`crate::pkcs11`]); [`ActiveKey`]
//! is either, opened for one use.

use std::sync::Arc;

use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use zeroize::Zeroizing;

use crate::SignerError;

/// Something that can sign a SHA-256 digest with a P-256 key (ECDSA, RFC 6979).
pub trait KeyBackend: Send + Sync {
    /// Signs `digest` (32 bytes) and returns the signature.
    fn sign_digest(&self, digest: &[u8]) -> Result<Signature, SignerError>;
}

/// A P-256 key held in memory while it is used, sealed at rest.
pub struct SoftwareKey {
    key: SigningKey,
}

impl std::fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftwareKey(..)")
    }
}

impl SoftwareKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    /// The key from its PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, SignerError> {
        SigningKey::from_pkcs8_der(der)
            .map(|key| Self { key })
            .map_err(|e| SignerError::Internal(format!("stored key is not P-256 PKCS#8: {e}")))
    }

    /// A fixed key from its scalar, for golden tests.
    #[cfg(test)]
    pub fn from_scalar(scalar: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(scalar.into()).unwrap(),
        }
    }

    /// The key's PKCS#8 DER.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, SignerError> {
        self.key
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|e| SignerError::Internal(format!("cannot encode a key: {e}")))
    }

    /// The key as rcgen signs certificates and CRLs with it.
    pub fn to_rcgen(&self) -> Result<rcgen::KeyPair, SignerError> {
        let der = self.to_pkcs8()?;
        rcgen::KeyPair::try_from(der.as_slice()).map_err(SignerError::from)
    }

    /// Seals the key for `owner`.
    pub fn seal(
        &self,
        master: &clave_common::seal::MasterKeys,
        owner: &str,
    ) -> Result<String, SignerError> {
        Ok(master.seal(owner, &self.to_pkcs8()?)?)
    }

    /// Opens a key sealed for `owner`.
    pub fn open(
        master: &clave_common::seal::MasterKeys,
        owner: &str,
        sealed: &str,
    ) -> Result<Self, SignerError> {
        let der = master.open(owner, sealed)?;
        Self::from_pkcs8(&der)
    }
}

impl KeyBackend for SoftwareKey {
    fn sign_digest(&self, digest: &[u8]) -> Result<Signature, SignerError> {
        if digest.len() != 32 {
            return Err(SignerError::Invalid("a SHA-256 digest is 32 bytes".into()));
        }
        self.key
            .sign_prehash(digest)
            .map_err(|e| SignerError::Internal(format!("signing failed: {e}")))
    }
}

/// A credential's key, ready to sign: in memory, or a reference into a token.
#[derive(Debug)]
pub enum ActiveKey {
    /// A software key, opened from its sealed form.
    Software(SoftwareKey),
    /// A key inside a PKCS#11 token, named by its label.
    Token {
        /// The token.
        token: Arc<crate::pkcs11::Token>,
        /// The key's label (the credential id).
        label: String,
    },
}

impl ActiveKey {
    /// Signs a SHA-256 `digest`; a token is driven from a blocking thread.
    pub async fn sign(&self, digest: &[u8]) -> Result<Signature, SignerError> {
        match self {
            Self::Software(key) => key.sign_digest(digest),
            Self::Token { token, label } => {
                let (token, label, digest) = (token.clone(), label.clone(), digest.to_vec());
                tokio::task::spawn_blocking(move || token.sign(&label, &digest))
                    .await
                    .map_err(|e| SignerError::Internal(format!("token signing stopped: {e}")))?
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha2::Digest;

    use super::*;

    #[test]
    fn a_digest_signature_verifies_and_is_deterministic() {
        let key = SoftwareKey::generate();
        let again = SoftwareKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        let digest = sha2::Sha256::digest(b"documento");
        let sig = key.sign_digest(&digest).unwrap();
        assert_eq!(sig, again.sign_digest(&digest).unwrap());
        key.key
            .verifying_key()
            .verify_prehash(&digest, &sig)
            .unwrap();
        assert!(key.sign_digest(b"short").is_err());
        // rcgen (ring) accepts the same PKCS#8.
        key.to_rcgen().unwrap();
    }
}
