//! A software authenticator for tests (this crate's, and other crates' through the `testing`
//! feature): one P-256 credential that answers WebAuthn options as a browser
//! and a security key together would (`none` attestation), with knobs to lie about the
//! origin, the challenge, the counter and user verification.

// Test support only (compiled for tests and the `testing` feature): a malformed option is a
// broken test, so it panics with the reason rather than returning errors nobody handles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One credential on a pretend authenticator.
pub struct SoftKey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    pub counter: u32,
    pub user_handle: Vec<u8>,
    pub rp_id: String,
    pub origin: String,
    pub user_verified: bool,
}

impl SoftKey {
    pub fn new(rp_id: &str, origin: &str) -> Self {
        let mut credential_id = vec![0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), credential_id.as_mut_slice());
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id,
            counter: 0,
            user_handle: Vec::new(),
            rp_id: rp_id.to_owned(),
            origin: origin.to_owned(),
            user_verified: true,
        }
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut flags = 0x01; // user present
        if self.user_verified {
            flags |= 0x04;
        }
        if attested {
            flags |= 0x40;
        }
        flags
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// Answers `navigator.credentials.create()` options.
    pub fn register(&mut self, options: &Value) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .unwrap()
            .to_owned();
        self.register_with_challenge(options, &challenge)
    }

    /// Answers creation options, but signs over `challenge` instead of the one asked.
    pub fn register_with_challenge(&mut self, options: &Value, challenge: &str) -> Value {
        let user_id = options["publicKey"]["user"]["id"].as_str().unwrap();
        self.user_handle = URL_SAFE_NO_PAD.decode(user_id).unwrap();
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut cose = Vec::new();
        map(&mut cose, 5);
        uint(&mut cose, 1);
        uint(&mut cose, 2); // kty: EC2
        uint(&mut cose, 3);
        negative(&mut cose, -7); // alg: ES256
        negative(&mut cose, -1);
        uint(&mut cose, 1); // crv: P-256
        negative(&mut cose, -2);
        bytes(&mut cose, point.x().unwrap());
        negative(&mut cose, -3);
        bytes(&mut cose, point.y().unwrap());

        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);

        let mut attestation = Vec::new();
        map(&mut attestation, 3);
        text(&mut attestation, "fmt");
        text(&mut attestation, "none");
        text(&mut attestation, "attStmt");
        map(&mut attestation, 0);
        text(&mut attestation, "authData");
        bytes(&mut attestation, &auth_data);

        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(self.client_data("webauthn.create", challenge)),
            },
            "extensions": {},
        })
    }

    /// Answers `navigator.credentials.get()` options, counting one more use.
    pub fn assert(&mut self, options: &Value) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .unwrap()
            .to_owned();
        self.counter += 1;
        self.assert_with(&challenge, self.counter)
    }

    /// An assertion over `challenge` with `counter`, whatever was asked.
    pub fn assert_with(&self, challenge: &str, counter: u32) -> Value {
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(false));
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
                "userHandle": URL_SAFE_NO_PAD.encode(&self.user_handle),
            },
            "extensions": {},
        })
    }
}

fn head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
    }
}

fn uint(out: &mut Vec<u8>, value: u64) {
    head(out, 0, value);
}

fn negative(out: &mut Vec<u8>, value: i64) {
    head(out, 1, (-1 - value) as u64);
}

fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    head(out, 2, value.len() as u64);
    out.extend_from_slice(value);
}

fn text(out: &mut Vec<u8>, value: &str) {
    head(out, 3, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

fn map(out: &mut Vec<u8>, entries: u64) {
    head(out, 5, entries);
}
