//! Token-endpoint requests (and introspection and revocation, which parse the same way):
//! any form body, with or without the real client's credentials.
#![no_main]

use clave_fuzz::{harness, refused_cleanly};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let basic = (first % 2 == 0).then_some((h.client_id.as_str(), h.secret.as_str()));
    for path in [
        "/oauth2/token",
        "/openid/token/",
        "/oauth2/introspect",
        "/oauth2/revoke",
    ] {
        refused_cleanly(path, &h.post_form(path, body.to_vec(), basic));
    }
});
