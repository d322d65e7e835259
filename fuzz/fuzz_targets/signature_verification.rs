//! What the signature verifier reads from outside: a PDF with PAdES signatures, and a detached
//! CAdES (DER) or JAdES (JSON) signature over a document. The first byte chooses where the
//! input splits into document and signature.
#![no_main]

use clave_fuzz::harness;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let signer = &h.app.signer;
    let _ = h.runtime.block_on(signer.verify_pdf(data));
    if let Some((first, rest)) = data.split_first() {
        let at = usize::from(*first).min(rest.len());
        let (document, signature) = rest.split_at(at);
        let _ = h
            .runtime
            .block_on(signer.verify_detached(document, signature));
    }
});
