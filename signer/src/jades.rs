//! JAdES baseline B-B (ETSI TS 119 182-1), detached: a flattened JWS whose protected header
//! names the signed document by its SHA-256 (`sigD`, `b64: false`, so the hash is of the raw
//! bytes and the JWS payload is empty), carries the certificate chain (`x5c`), the signing
//! certificate's thumbprint (`x5t#S256`) and the signing time (`iat`). Built in two steps:
//! [`signing_input`], then [`assemble`] with the raw `r‖s` ES256 signature.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The `sigD` mechanism naming documents by URI and hash.
pub const SIGD_BY_URI_HASH: &str = "http://uri.etsi.org/19182/ObjectIdByURIHash";

/// The protected header for signing `document_name` (of `media_type`, with SHA-256
/// `document_digest`) at `iat` with the chain `certificates` (signer first).
pub fn protected_header(
    document_name: &str,
    media_type: &str,
    document_digest: &[u8],
    iat: i64,
    certificates: &[Vec<u8>],
) -> Value {
    let signer = certificates.first().map(Vec::as_slice).unwrap_or_default();
    json!({
        "alg": "ES256",
        "x5t#S256": URL_SAFE_NO_PAD.encode(Sha256::digest(signer)),
        "x5c": certificates.iter().map(|c| STANDARD.encode(c)).collect::<Vec<_>>(),
        "iat": iat,
        "sigD": {
            "mId": SIGD_BY_URI_HASH,
            "pars": [document_name],
            "hashM": "S256",
            "hashV": [URL_SAFE_NO_PAD.encode(document_digest)],
            "ctys": [media_type],
        },
        "b64": false,
        "crit": ["b64", "sigD"],
    })
}

/// The encoded protected header and the JWS signing input (`header.` with an empty payload).
pub fn signing_input(header: &Value) -> (String, Vec<u8>) {
    let encoded = URL_SAFE_NO_PAD.encode(header.to_string());
    let input = format!("{encoded}.").into_bytes();
    (encoded, input)
}

/// The flattened JWS JSON serialization.
pub fn assemble(encoded_header: &str, raw_signature: &[u8]) -> Value {
    json!({
        "protected": encoded_header,
        "payload": "",
        "signature": URL_SAFE_NO_PAD.encode(raw_signature),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_protected_header_and_signing_input() {
        let header = protected_header(
            "resolucion.pdf",
            "application/pdf",
            &Sha256::digest(b"Resolucion exenta 1234"),
            1_795_000_000,
            &[b"leaf".to_vec(), b"ca".to_vec()],
        );
        assert_eq!(header["crit"], json!(["b64", "sigD"]));
        assert_eq!(header["b64"], false);
        assert_eq!(header["x5c"], json!(["bGVhZg==", "Y2E="]));
        let (encoded, input) = signing_input(&header);
        assert_eq!(input, format!("{encoded}.").into_bytes());
        assert_eq!(hex::encode(Sha256::digest(&input)), GOLDEN_INPUT_SHA256);
    }

    const GOLDEN_INPUT_SHA256: &str =
        "b1c004b713e82ebcc1238c9b2c4810822d75249069c69a308f85cafb4c01acc9";
}
