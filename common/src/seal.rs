//! Secrets at rest: the master keys, sealing with AES-256-GCM, and keyed digests.
//!
//! The master keys never enter the database. They live in a text file (mode 0600) or are given
//! as text through the configuration, one key per line, newest last:
//!
//! ```text
//! # comment lines start with '#'
//! v1:<base64 of 32 random bytes>
//! v2:<base64 of 32 random bytes>
//! ```
//!
//! The last version is the current one: it seals and digests everything new, while older
//! versions stay to open what they sealed until it is rewrapped. Rotation appends a line and
//! never removes one.
//!
//! A master key is used only to derive subkeys, one per use (`clave/seal`, and
//! `clave/digest/<purpose>` for each digest purpose), so no key ever serves two algorithms or
//! two purposes. These labels are part of the stored format and must never change.
//!
//! Sealed values are `v<N>:` followed by the base64 of a random 96-bit nonce and the
//! ciphertext. The owner of a secret (for example `totp:<account id>`) is authenticated as
//! associated data, so a sealed value copied onto another row does not open there. Keyed
//! digests, for random secrets that only need checking (client secrets), are `v<N>:` followed by
//! the hex of an HMAC-SHA256 under a subkey for their purpose.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Bytes in a master key (AES-256).
const KEY_LEN: usize = 32;
/// Bytes in an AES-GCM nonce.
const NONCE_LEN: usize = 12;
/// Bytes in an AES-GCM authentication tag.
const TAG_LEN: usize = 16;
/// Bytes in SHA-256's input block; HMAC keys shorter than this are zero-padded to it.
const SHA256_BLOCK_LEN: usize = 64;

/// The first lines of a newly created key file.
const KEY_FILE_HEADER: &str = "\
# clave master keys. Keep this file private (mode 0600) and back it up: secrets sealed
# under these keys cannot be read without them. One key per line, the newest (current) last.
";

type Key = Zeroizing<[u8; KEY_LEN]>;

/// Where a set of master keys was read from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// A key file.
    File(PathBuf),
    /// Text given directly, e.g. through an environment variable.
    Text,
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "master key file {}", path.display()),
            Self::Text => f.write_str("master key text"),
        }
    }
}

/// What is wrong with one line of a master key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLineProblem {
    /// The line is not `v<N>:<base64>`.
    #[error("expected v<N>:<base64 key>, e.g. v1:…")]
    NotAKey,
    /// The version is not a whole number from 1 up.
    #[error("the version {0:?} is not a whole number from 1 up")]
    BadVersion(String),
    /// The key is not valid base64.
    #[error("the key is not valid base64")]
    BadBase64,
    /// The key does not decode to 32 bytes.
    #[error("the key is {0} bytes long; it must be 32")]
    WrongLength(usize),
    /// The version appears twice.
    #[error("version v{0} appears more than once")]
    DuplicateVersion(u32),
    /// A version comes after a newer one; the newest must be last.
    #[error("version v{version} comes after v{previous}; versions must increase down the file")]
    OutOfOrder {
        /// The version on this line.
        version: u32,
        /// The version on the line before.
        previous: u32,
    },
}

/// Errors from loading master keys or from sealing and opening secrets.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file could not be read, created or appended to.
    #[error("cannot use the master key file {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A line of the master keys is not a valid key.
    #[error("{origin}, line {line}: {problem}")]
    CorruptKeys {
        /// Where the keys came from.
        origin: KeyOrigin,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        problem: KeyLineProblem,
    },
    /// The master keys hold no key at all.
    #[error(
        "{origin} holds no key; restore it from a backup (a new key could not open existing secrets)"
    )]
    NoKeys {
        /// Where the keys came from.
        origin: KeyOrigin,
    },
    /// The value was sealed under a key version these master keys do not hold.
    #[error("the value was sealed under key version v{0}, which the master keys do not hold")]
    UnknownKeyVersion(u32),
    /// The text is not a sealed value at all.
    #[error("not a sealed value (expected v<N>:<base64>)")]
    Malformed,
    /// The sealed value was altered, or belongs to a different owner.
    #[error("the sealed value failed its integrity check: altered, or sealed for another owner")]
    Integrity,
    /// The plaintext is beyond what AES-GCM can seal in one message.
    #[error("the value is too large to seal")]
    TooLarge,
}

/// A versioned set of 256-bit master keys; the newest version is current.
#[derive(Clone)]
pub struct MasterKeys {
    // The current key is held apart from the older ones so that it is always there.
    current: (u32, Key),
    older: BTreeMap<u32, Key>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let versions: Vec<u32> = self.older.keys().copied().chain([self.current.0]).collect();
        f.debug_struct("MasterKeys")
            .field("versions", &versions)
            .field("current", &self.current.0)
            .finish()
    }
}

impl MasterKeys {
    /// Reads the key file at `path`, creating it (mode 0600, with one new key) and its parent
    /// directory when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SealError> {
        match read_key_file(path) {
            Err(SealError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                create_key_file(path)
            }
            other => other.map(|(keys, _)| keys),
        }
    }

    /// Parses master keys given as text (the key file's format; entries may also be separated
    /// by spaces, for one-line environment variables).
    pub fn from_text(text: &str) -> Result<Self, SealError> {
        parse_keys(text, &KeyOrigin::Text)
    }

    /// A set holding one new random key, kept only in memory; for tests and throwaway servers.
    pub fn generate() -> Self {
        Self {
            current: (1, random_key()),
            older: BTreeMap::new(),
        }
    }

    /// Appends a new key version to the key file at `path` and returns the keys it now holds.
    ///
    /// Run one rotation at a time: two at once would both append the same version.
    pub fn rotate_file(path: &Path) -> Result<Self, SealError> {
        let (existing, text) = read_key_file(path)?;
        let io_error = |source| SealError::Io {
            path: path.to_owned(),
            source,
        };
        let version = existing
            .current_version()
            .checked_add(1)
            .ok_or_else(|| io_error(io::Error::other("no key version can follow the last one")))?;
        let mut line = Zeroizing::new(String::new());
        if !text.is_empty() && !text.ends_with('\n') {
            line.push('\n');
        }
        line.push_str(&key_line(version, &random_key()));
        let mut file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_error)?;
        file.write_all(line.as_bytes()).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        tracing::info!(path = %path.display(), version, "added a master key version");
        read_key_file(path).map(|(keys, _)| keys)
    }

    /// The version that seals and digests new values.
    pub fn current_version(&self) -> u32 {
        self.current.0
    }

    /// Encrypts `plaintext` under the current key, bound to `owner` (what the secret belongs
    /// to, e.g. `totp:<account id>`).
    pub fn seal(&self, owner: &str, plaintext: &[u8]) -> Result<String, SealError> {
        let cipher = seal_cipher(&self.current.1);
        let mut nonce = [0_u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SealError::TooLarge)?;
        let mut payload = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(&ciphertext);
        Ok(format!("v{}:{}", self.current.0, STANDARD.encode(payload)))
    }

    /// Decrypts a value sealed for `owner`, under whichever key version sealed it.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let (version, encoded) = split_version(sealed).ok_or(SealError::Malformed)?;
        let cipher = seal_cipher(
            self.key(version)
                .ok_or(SealError::UnknownKeyVersion(version))?,
        );
        let payload = STANDARD.decode(encoded).map_err(|_| SealError::Malformed)?;
        if payload.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = payload.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Integrity)
    }

    /// Whether `sealed` is not under the current key version and should be rewrapped.
    /// Malformed values count, so that rewrapping them surfaces the problem.
    pub fn needs_rewrap(&self, sealed: &str) -> bool {
        split_version(sealed).is_none_or(|(version, _)| version != self.current.0)
    }

    /// Opens `sealed` and seals its plaintext again under the current key version.
    pub fn rewrap(&self, owner: &str, sealed: &str) -> Result<String, SealError> {
        let plaintext = self.open(owner, sealed)?;
        self.seal(owner, &plaintext)
    }

    /// A keyed digest of a random secret for `purpose` (e.g. `client-secret`), under the
    /// current key version: `v<N>:<hex HMAC-SHA256>`.
    pub fn keyed_digest(&self, purpose: &str, data: &[u8]) -> String {
        let (version, master) = &self.current;
        let tag = digest_mac(master, purpose, data).finalize().into_bytes();
        format!("v{version}:{}", hex::encode(tag))
    }

    /// Whether `stored` is the keyed digest of `data` for `purpose`, under the version it
    /// names; compares in constant time.
    pub fn verify_keyed_digest(&self, purpose: &str, data: &[u8], stored: &str) -> bool {
        let Some((version, encoded)) = split_version(stored) else {
            return false;
        };
        let (Some(master), Ok(expected)) = (self.key(version), hex::decode(encoded)) else {
            return false;
        };
        digest_mac(master, purpose, data)
            .verify_slice(&expected)
            .is_ok()
    }

    fn key(&self, version: u32) -> Option<&Key> {
        if version == self.current.0 {
            Some(&self.current.1)
        } else {
            self.older.get(&version)
        }
    }
}

/// The AES-256-GCM cipher for sealing under `master`.
fn seal_cipher(master: &[u8; KEY_LEN]) -> Aes256Gcm {
    let subkey = derive_subkey(master, b"clave/seal");
    Aes256Gcm::new(&(*subkey).into())
}

/// The HMAC for keyed digests of one purpose under `master`, already fed `data`.
fn digest_mac(master: &[u8; KEY_LEN], purpose: &str, data: &[u8]) -> Hmac<Sha256> {
    let subkey = derive_subkey(master, digest_label(purpose).as_bytes());
    keyed_mac(&subkey, data)
}

fn digest_label(purpose: &str) -> String {
    format!("clave/digest/{purpose}")
}

/// HMAC-SHA256 keyed with a 32-byte key, ready for input.
fn keyed_mac(key: &[u8; KEY_LEN], data: &[u8]) -> Hmac<Sha256> {
    // HMAC zero-pads a short key to the hash's block size, so passing the padded block is the
    // same HMAC and makes construction infallible (no length check that could fail).
    let mut block = Zeroizing::new([0_u8; SHA256_BLOCK_LEN]);
    block[..KEY_LEN].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    mac.update(data);
    mac
}

/// A subkey for one use of a master key: HMAC-SHA256(master, label).
fn derive_subkey(master: &[u8; KEY_LEN], label: &[u8]) -> Key {
    Zeroizing::new(keyed_mac(master, label).finalize().into_bytes().into())
}

fn random_key() -> Key {
    let mut key = Zeroizing::new([0_u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
    key
}

fn key_line(version: u32, key: &[u8; KEY_LEN]) -> Zeroizing<String> {
    Zeroizing::new(format!("v{version}:{}\n", STANDARD.encode(key)))
}

/// Splits `v<N>:<rest>` into the version and the rest.
fn split_version(text: &str) -> Option<(u32, &str)> {
    let (version, rest) = text.strip_prefix('v')?.split_once(':')?;
    Some((parse_version(version)?, rest))
}

/// A version number: plain decimal digits (no sign), from 1 up.
fn parse_version(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&v| v >= 1)
}

fn parse_keys(text: &str, origin: &KeyOrigin) -> Result<MasterKeys, SealError> {
    let mut keys = BTreeMap::new();
    let mut previous = None;
    for (index, line) in text.lines().enumerate() {
        let corrupt = |problem| SealError::CorruptKeys {
            origin: origin.clone(),
            line: index + 1,
            problem,
        };
        if line.trim_start().starts_with('#') {
            continue;
        }
        for entry in line.split_whitespace() {
            let (version, key) = parse_key_entry(entry).map_err(corrupt)?;
            if keys.contains_key(&version) {
                return Err(corrupt(KeyLineProblem::DuplicateVersion(version)));
            }
            if let Some(previous) = previous.filter(|&previous| previous > version) {
                return Err(corrupt(KeyLineProblem::OutOfOrder { version, previous }));
            }
            keys.insert(version, key);
            previous = Some(version);
        }
    }
    // Versions increase down the text, so the highest is the last, which is current.
    let current = keys.pop_last().ok_or_else(|| SealError::NoKeys {
        origin: origin.clone(),
    })?;
    Ok(MasterKeys {
        current,
        older: keys,
    })
}

fn parse_key_entry(entry: &str) -> Result<(u32, Key), KeyLineProblem> {
    let (version, encoded) = entry
        .strip_prefix('v')
        .and_then(|rest| rest.split_once(':'))
        .ok_or(KeyLineProblem::NotAKey)?;
    let version =
        parse_version(version).ok_or_else(|| KeyLineProblem::BadVersion(version.to_owned()))?;
    let decoded = Zeroizing::new(
        STANDARD
            .decode(encoded)
            .map_err(|_| KeyLineProblem::BadBase64)?,
    );
    if decoded.len() != KEY_LEN {
        return Err(KeyLineProblem::WrongLength(decoded.len()));
    }
    let mut key = Zeroizing::new([0_u8; KEY_LEN]);
    key.copy_from_slice(&decoded);
    Ok((version, key))
}

/// Reads and parses a key file, returning its text too (for appending to it).
fn read_key_file(path: &Path) -> Result<(MasterKeys, Zeroizing<String>), SealError> {
    let text = fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|source| SealError::Io {
            path: path.to_owned(),
            source,
        })?;
    warn_if_exposed(path);
    let keys = parse_keys(&text, &KeyOrigin::File(path.to_owned()))?;
    Ok((keys, text))
}

fn warn_if_exposed(path: &Path) {
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the master key file is open to other users; restrict it with chmod 600"
            );
        }
    }
}

/// Writes a new key file atomically: the content goes to a private temporary file that is then
/// hard-linked into place, which fails if the file exists. So two processes starting at once
/// never read a half-written file, and the loser reads the winner's keys.
fn create_key_file(path: &Path) -> Result<MasterKeys, SealError> {
    let io_error = |source| SealError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error)?;

    let keys = MasterKeys::generate();
    let mut text = Zeroizing::new(KEY_FILE_HEADER.to_owned());
    text.push_str(&key_line(keys.current.0, &keys.current.1));
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{file_name}.{}.tmp",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| fs::hard_link(&temp, path));
    // The temporary name is only a staging place; a failure to remove it is harmless.
    let _ = fs::remove_file(&temp);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a new master key file; back it up");
            Ok(keys)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read_key_file(path).map(|(keys, _)| keys)
        }
        Err(e) => Err(io_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OWNER: &str = "totp:0190f3a4-0000-7000-8000-000000000001";

    fn key_text(versions: &[u32]) -> String {
        versions
            .iter()
            .map(|&v| key_line(v, &random_key()).to_string())
            .collect()
    }

    fn flip_byte(sealed: &str, index: usize) -> String {
        let (version, encoded) = sealed.split_once(':').unwrap();
        let mut payload = STANDARD.decode(encoded).unwrap();
        payload[index] ^= 0x01;
        format!("{version}:{}", STANDARD.encode(payload))
    }

    #[test]
    fn sealed_values_open_for_their_owner() {
        let keys = MasterKeys::generate();
        let sealed = keys.seal(OWNER, b"JBSWY3DPEHPK3PXP").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert_eq!(
            keys.open(OWNER, &sealed).unwrap().as_slice(),
            b"JBSWY3DPEHPK3PXP"
        );
        // A fresh nonce each time: sealing twice never gives the same text.
        assert_ne!(keys.seal(OWNER, b"JBSWY3DPEHPK3PXP").unwrap(), sealed);
        let empty = keys.seal(OWNER, b"").unwrap();
        assert!(keys.open(OWNER, &empty).unwrap().is_empty());
    }

    #[test]
    fn another_owner_cannot_open() {
        let keys = MasterKeys::generate();
        let sealed = keys.seal(OWNER, b"seed").unwrap();
        assert!(matches!(
            keys.open("totp:someone-else", &sealed),
            Err(SealError::Integrity)
        ));
        assert!(matches!(keys.open("", &sealed), Err(SealError::Integrity)));
    }

    #[test]
    fn any_altered_byte_is_detected() {
        let keys = MasterKeys::generate();
        let sealed = keys.seal(OWNER, b"a private key").unwrap();
        let len = STANDARD.decode(&sealed[3..]).unwrap().len();
        for index in 0..len {
            assert!(
                matches!(
                    keys.open(OWNER, &flip_byte(&sealed, index)),
                    Err(SealError::Integrity)
                ),
                "byte {index}"
            );
        }
    }

    #[test]
    fn other_keys_cannot_open() {
        let sealed = MasterKeys::generate().seal(OWNER, b"seed").unwrap();
        assert!(matches!(
            MasterKeys::generate().open(OWNER, &sealed),
            Err(SealError::Integrity)
        ));
    }

    #[test]
    fn malformed_and_unknown_versions_are_named() {
        let keys = MasterKeys::generate();
        let sealed = keys.seal(OWNER, b"seed").unwrap();
        let relabelled = sealed.replacen("v1:", "v7:", 1);
        assert!(matches!(
            keys.open(OWNER, &relabelled),
            Err(SealError::UnknownKeyVersion(7))
        ));
        for text in [
            "",
            "v1",
            "v1:",
            "v1:!!!",
            "1:abcd",
            "vx:abcd",
            "v1:AAAA",
            &sealed[..20],
        ] {
            assert!(
                matches!(keys.open(OWNER, text), Err(SealError::Malformed)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_new_key_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/data/master.key");
        let created = MasterKeys::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        // No staging file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

        let sealed = created.seal(OWNER, b"seed").unwrap();
        let reloaded = MasterKeys::load_or_create(&path).unwrap();
        assert_eq!(reloaded.current_version(), 1);
        assert_eq!(reloaded.open(OWNER, &sealed).unwrap().as_slice(), b"seed");
    }

    #[test]
    fn a_group_readable_key_file_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        fs::write(&path, key_text(&[1])).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            MasterKeys::load_or_create(&path).unwrap().current_version(),
            1
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_rewraps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let v1 = MasterKeys::load_or_create(&path).unwrap();
        let old = v1.seal(OWNER, b"seed").unwrap();
        let old_digest = v1.keyed_digest("client-secret", b"s3cret");

        let v2 = MasterKeys::rotate_file(&path).unwrap();
        assert_eq!(v2.current_version(), 2);
        assert_eq!(
            MasterKeys::load_or_create(&path).unwrap().current_version(),
            2
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );

        assert_eq!(v2.open(OWNER, &old).unwrap().as_slice(), b"seed");
        assert!(v2.needs_rewrap(&old));
        let rewrapped = v2.rewrap(OWNER, &old).unwrap();
        assert!(rewrapped.starts_with("v2:"));
        assert!(!v2.needs_rewrap(&rewrapped));
        assert_eq!(v2.open(OWNER, &rewrapped).unwrap().as_slice(), b"seed");
        assert!(matches!(
            v2.rewrap("totp:someone-else", &old),
            Err(SealError::Integrity)
        ));

        assert!(v2.verify_keyed_digest("client-secret", b"s3cret", &old_digest));
        assert!(
            v2.keyed_digest("client-secret", b"s3cret")
                .starts_with("v2:")
        );
        assert_eq!(MasterKeys::rotate_file(&path).unwrap().current_version(), 3);
    }

    #[test]
    fn rotation_appends_after_a_last_line_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        fs::write(&path, key_text(&[4]).trim_end()).unwrap();
        assert_eq!(MasterKeys::rotate_file(&path).unwrap().current_version(), 5);
    }

    #[test]
    fn rotating_a_missing_file_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = MasterKeys::rotate_file(&dir.path().join("absent.key")).unwrap_err();
        assert!(matches!(err, SealError::Io { .. }), "{err}");
    }

    #[test]
    fn needs_rewrap_flags_malformed_values() {
        let keys = MasterKeys::generate();
        assert!(keys.needs_rewrap("garbage"));
        assert!(!keys.needs_rewrap(&keys.seal(OWNER, b"x").unwrap()));
    }

    #[test]
    fn corrupt_key_files_name_the_file_and_line() {
        let good = key_line(1, &random_key()).to_string();
        let short = format!("v2:{}\n", STANDARD.encode([7_u8; 16]));
        let cases: Vec<(String, usize, KeyLineProblem)> = vec![
            (format!("{good}garbage\n"), 2, KeyLineProblem::NotAKey),
            (
                format!("# keys\n{good}vx:AAAA\n"),
                3,
                KeyLineProblem::BadVersion("x".into()),
            ),
            (
                format!("{good}v0:AAAA\n"),
                2,
                KeyLineProblem::BadVersion("0".into()),
            ),
            (
                format!("{good}v2:not base64!\n"),
                2,
                KeyLineProblem::BadBase64,
            ),
            (format!("{good}{short}"), 2, KeyLineProblem::WrongLength(16)),
            (
                format!("{good}{good}"),
                2,
                KeyLineProblem::DuplicateVersion(1),
            ),
            (
                format!("{}{good}", key_line(3, &random_key()).as_str()),
                2,
                KeyLineProblem::OutOfOrder {
                    version: 1,
                    previous: 3,
                },
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        for (text, line, problem) in cases {
            fs::write(&path, &text).unwrap();
            let err = MasterKeys::load_or_create(&path).unwrap_err();
            let message = err.to_string();
            match err {
                SealError::CorruptKeys {
                    origin,
                    line: l,
                    problem: p,
                } => {
                    assert_eq!(origin, KeyOrigin::File(path.clone()));
                    assert_eq!((l, p), (line, problem), "{text}");
                }
                other => panic!("unexpected error {other:?} for {text}"),
            }
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains(&format!("line {line}")), "{message}");
        }
    }

    #[test]
    fn an_empty_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        for text in ["", "\n\n", "# only a comment\n"] {
            fs::write(&path, text).unwrap();
            let err = MasterKeys::load_or_create(&path).unwrap_err();
            assert!(matches!(err, SealError::NoKeys { .. }), "{err}");
            assert!(err.to_string().contains("master.key"));
        }
        // The file was left as it was.
        assert_eq!(fs::read_to_string(&path).unwrap(), "# only a comment\n");
    }

    #[test]
    fn keys_can_come_as_text_on_one_line() {
        let one_line = key_text(&[1, 2]).replace('\n', " ");
        let keys = MasterKeys::from_text(&one_line).unwrap();
        assert_eq!(keys.current_version(), 2);
        let with_comments = format!("# rotated yearly\n\n{}", key_text(&[3]));
        assert_eq!(
            MasterKeys::from_text(&with_comments)
                .unwrap()
                .current_version(),
            3
        );
        let err = MasterKeys::from_text("v1:short").unwrap_err();
        assert!(
            err.to_string().starts_with("master key text, line 1:"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_key_material() {
        let text = key_text(&[1, 2]);
        let keys = MasterKeys::from_text(&text).unwrap();
        let shown = format!("{keys:?}");
        assert_eq!(shown, "MasterKeys { versions: [1, 2], current: 2 }");
        for line in text.lines() {
            let encoded = line.split_once(':').unwrap().1;
            assert!(!shown.contains(encoded));
        }
    }

    #[test]
    fn keyed_digests_verify_and_reject() {
        let keys = MasterKeys::generate();
        let digest = keys.keyed_digest("client-secret", b"s3cret");
        assert!(digest.starts_with("v1:"));
        assert_eq!(digest.len(), 3 + 64);
        assert_eq!(digest, keys.keyed_digest("client-secret", b"s3cret"));
        assert!(keys.verify_keyed_digest("client-secret", b"s3cret", &digest));
        assert!(!keys.verify_keyed_digest("client-secret", b"s3creT", &digest));
        assert!(!keys.verify_keyed_digest("recovery-code", b"s3cret", &digest));
        assert!(!keys.verify_keyed_digest(
            "client-secret",
            b"s3cret",
            &digest.replacen("v1", "v2", 1)
        ));
        assert!(!keys.verify_keyed_digest("client-secret", b"s3cret", &digest[..40]));
        assert!(!keys.verify_keyed_digest("client-secret", b"s3cret", "v1:zz"));
        assert!(!keys.verify_keyed_digest("client-secret", b"s3cret", ""));
        let mut altered = digest.clone().into_bytes();
        altered[10] = if altered[10] == b'0' { b'1' } else { b'0' };
        assert!(!keys.verify_keyed_digest(
            "client-secret",
            b"s3cret",
            &String::from_utf8(altered).unwrap()
        ));
        assert!(!MasterKeys::generate().verify_keyed_digest("client-secret", b"s3cret", &digest));
    }

    #[test]
    fn subkeys_differ_from_the_master_key_and_from_each_other() {
        let master = random_key();
        let seal = derive_subkey(&master, b"clave/seal");
        let digest = derive_subkey(&master, digest_label("client-secret").as_bytes());
        assert_ne!(*seal, *master);
        assert_ne!(*digest, *master);
        assert_ne!(*seal, *digest);
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2 uses a 4-byte key; zero-padding it to 32 bytes is the same HMAC.
        let mut key = [0_u8; KEY_LEN];
        key[..4].copy_from_slice(b"Jefe");
        let tag = keyed_mac(&key, b"what do ya want for nothing?")
            .finalize()
            .into_bytes();
        assert_eq!(
            hex::encode(tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    proptest! {
        #[test]
        fn anything_round_trips(owner in ".{0,40}", plaintext in prop::collection::vec(any::<u8>(), 0..256)) {
            let keys = MasterKeys::generate();
            let sealed = keys.seal(&owner, &plaintext).unwrap();
            let opened = keys.open(&owner, &sealed).unwrap();
            prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,80}") {
            let keys = MasterKeys::generate();
            let _ = keys.open(OWNER, &text);
            let _ = keys.needs_rewrap(&text);
            let _ = keys.verify_keyed_digest("p", b"x", &text);
            let _ = MasterKeys::from_text(&text);
        }
    }
}
