//! Signing keys inside a PKCS#11 token (an HSM; SoftHSMv2 in tests). A credential's P-256
//! key pair is generated in the token as a token object, sensitive and never extractable,
//! labelled with the credential id; the database keeps only that reference. Signing sends
//! the digest to the token (`CKM_ECDSA`), which answers the raw `r‖s`.
//!
//! Every call here blocks: callers run them on blocking threads. A module is loaded and
//! initialized once per process (PKCS#11 allows one `C_Initialize` per library), and each
//! token keeps one logged-in session behind a mutex: a token serializes its operations
//! anyway, and one session avoids a login per signature.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use clave_common::config::SigningConfig;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use p256::ecdsa::Signature;

use crate::SignerError;

/// CKA_EC_PARAMS for P-256: the DER of the named curve's OID (prime256v1).
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A token that holds signing keys, with its one logged-in session.
pub struct Token {
    module: Pkcs11,
    slot: Slot,
    label: String,
    pin: String,
    session: Mutex<Session>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("label", &self.label)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

type Tokens = Mutex<HashMap<(PathBuf, String), Arc<Token>>>;

fn modules() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    MODULES.get_or_init(Mutex::default)
}

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(Mutex::default)
}

fn unavailable(what: impl std::fmt::Display) -> SignerError {
    SignerError::Unavailable(format!("PKCS#11: {what}"))
}

/// The module at `path`, loaded and initialized once per process.
fn module(path: &Path) -> Result<Pkcs11, SignerError> {
    let mut loaded = modules().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(module) = loaded.get(path) {
        return Ok(module.clone());
    }
    let module = Pkcs11::new(path).map_err(|e| {
        unavailable(format!(
            "the module {} cannot be loaded: {e}",
            path.display()
        ))
    })?;
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Something else in the process initialized it first; it is usable all the same.
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(unavailable(format!(
                "the module {} does not initialize: {e}",
                path.display()
            )));
        }
    }
    loaded.insert(path.to_path_buf(), module.clone());
    Ok(module)
}

/// The configured token, opened and logged in on first use. Blocking.
pub fn open(config: &SigningConfig) -> Result<Arc<Token>, SignerError> {
    let path = config.pkcs11_module.clone().ok_or_else(|| {
        unavailable("signing.pkcs11_module is not set, yet a key lives in a token")
    })?;
    let label = config.pkcs11_token_label.trim().to_owned();
    let mut open = tokens().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(token) = open.get(&(path.clone(), label.clone())) {
        return Ok(token.clone());
    }
    let pin = config.pkcs11_user_pin().map_err(unavailable)?;
    let module = module(&path)?;
    let slots = module
        .get_slots_with_initialized_token()
        .map_err(|e| unavailable(format!("cannot list the module's slots: {e}")))?;
    let mut found = None;
    for slot in slots {
        let info = module
            .get_token_info(slot)
            .map_err(|e| unavailable(format!("cannot read a token's information: {e}")))?;
        if info.label().trim() == label {
            found = Some(slot);
            break;
        }
    }
    let slot = found.ok_or_else(|| {
        unavailable(format!(
            "no initialized token labelled {label:?} in {}",
            path.display()
        ))
    })?;
    let session = login(&module, slot, &pin)?;
    let token = Arc::new(Token {
        module,
        slot,
        label: label.clone(),
        pin,
        session: Mutex::new(session),
    });
    open.insert((path, label), token.clone());
    Ok(token)
}

fn login(module: &Pkcs11, slot: Slot, pin: &str) -> Result<Session, SignerError> {
    let session = module
        .open_rw_session(slot)
        .map_err(|e| unavailable(format!("cannot open a session: {e}")))?;
    match session.login(UserType::User, Some(&AuthPin::from(pin.to_owned()))) {
        // Login state belongs to the application, not the session: another session of
        // this process logged in already.
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(Pkcs11Error::Pkcs11(RvError::PinIncorrect, _)) => Err(unavailable(
            "the token refused the configured user PIN (signing.pkcs11_pin)",
        )),
        Err(e) => Err(unavailable(format!("cannot log in to the token: {e}"))),
    }
}

/// The public point from CKA_EC_POINT: tokens give the DER OCTET STRING around it.
fn uncompressed_point(raw: &[u8]) -> Result<Vec<u8>, SignerError> {
    let point = match raw {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        [0x04, ..] if raw.len() == 65 => raw,
        _ => {
            return Err(SignerError::Internal(
                "the token's public key is not an uncompressed P-256 point".into(),
            ));
        }
    };
    Ok(point.to_vec())
}

impl Token {
    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Runs `op` on the session; if the token forgot it (restarted, logged out), logs in
    /// again once and retries.
    fn with_session<T>(
        &self,
        op: impl Fn(&Session) -> Result<T, Pkcs11Error>,
    ) -> Result<T, SignerError> {
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        match op(&session) {
            Err(Pkcs11Error::Pkcs11(
                RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::TokenNotPresent,
                _,
            )) => {
                *session = login(&self.module, self.slot, &self.pin)?;
                op(&session).map_err(|e| unavailable(format!("the token failed: {e}")))
            }
            other => other.map_err(|e| unavailable(format!("the token failed: {e}"))),
        }
    }

    /// Generates a P-256 key pair for `id` inside the token (a token object, sensitive,
    /// never extractable, labelled and identified by `id`); returns the public point.
    pub fn generate(&self, id: &str) -> Result<Vec<u8>, SignerError> {
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P256_PARAMS.to_vec()),
            Attribute::Verify(true),
            Attribute::Label(id.as_bytes().to_vec()),
            Attribute::Id(id.as_bytes().to_vec()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(id.as_bytes().to_vec()),
            Attribute::Id(id.as_bytes().to_vec()),
        ];
        let raw = self.with_session(|session| {
            let (public_key, _) =
                session.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)?;
            let attributes = session.get_attributes(public_key, &[AttributeType::EcPoint])?;
            Ok(attributes.into_iter().find_map(|a| match a {
                Attribute::EcPoint(point) => Some(point),
                _ => None,
            }))
        })?;
        let raw = raw.ok_or_else(|| {
            SignerError::Internal("the token did not give the new key's public point".into())
        })?;
        uncompressed_point(&raw)
    }

    fn private_key(session: &Session, id: &str) -> Result<Option<ObjectHandle>, Pkcs11Error> {
        Ok(session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(id.as_bytes().to_vec()),
            ])?
            .into_iter()
            .next())
    }

    /// Signs a SHA-256 `digest` with `id`'s private key inside the token.
    pub fn sign(&self, id: &str, digest: &[u8]) -> Result<Signature, SignerError> {
        if digest.len() != 32 {
            return Err(SignerError::Invalid("a SHA-256 digest is 32 bytes".into()));
        }
        let raw = self.with_session(|session| match Self::private_key(session, id)? {
            Some(key) => session.sign(&Mechanism::Ecdsa, key, digest).map(Some),
            None => Ok(None),
        })?;
        let raw = raw.ok_or_else(|| {
            SignerError::Internal(format!(
                "the token {:?} holds no key labelled {id}",
                self.label
            ))
        })?;
        // CKM_ECDSA answers r‖s, 32 bytes each for P-256.
        Signature::from_slice(&raw)
            .map_err(|e| SignerError::Internal(format!("the token's signature is malformed: {e}")))
    }

    /// Destroys both halves of `id`'s key pair (a credential that was never stored).
    pub fn destroy(&self, id: &str) -> Result<(), SignerError> {
        self.with_session(|session| {
            for object in session.find_objects(&[Attribute::Label(id.as_bytes().to_vec())])? {
                session.destroy_object(object)?;
            }
            Ok(())
        })
    }
}

/// Opens the configured token and says which one it is, for `clave check-config`.
/// Blocking.
pub fn probe(config: &SigningConfig) -> Result<String, SignerError> {
    let token = open(config)?;
    let info = token
        .module
        .get_token_info(token.slot)
        .map_err(|e| unavailable(format!("cannot read the token's information: {e}")))?;
    Ok(format!(
        "PKCS#11 token {:?} ({} {}), logged in",
        token.label,
        info.manufacturer_id().trim(),
        info.model().trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_point_comes_out_of_its_octet_string() {
        let mut point = vec![0x04];
        point.extend([7u8; 64]);
        let mut wrapped = vec![0x04, 0x41];
        wrapped.extend(&point);
        assert_eq!(uncompressed_point(&wrapped).unwrap(), point);
        assert_eq!(uncompressed_point(&point).unwrap(), point);
        assert!(uncompressed_point(&point[..33]).is_err());
    }

    #[test]
    fn a_missing_module_is_named_in_the_error() {
        let config = SigningConfig {
            pkcs11_module: Some(PathBuf::from("/nonexistent/libpkcs11.so")),
            pkcs11_token_label: "clave".into(),
            pkcs11_pin: Some(clave_common::config::Secret::new("1234")),
            ..SigningConfig::default()
        };
        let error = open(&config).unwrap_err().to_string();
        assert!(
            error.contains("/nonexistent/libpkcs11.so cannot be loaded"),
            "{error}"
        );
    }
}
