//! Authorization requests through the whole server: the query of `/oauth2/authorize` and of
//! the compatibility endpoint, and the form body of a POST to it and of a pushed request. Half
//! of the inputs come after a real client id and redirect URI, to get past the first checks.
#![no_main]

use clave_fuzz::{REDIRECT_URI, encode, harness, refused_cleanly};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let prefix = if first % 2 == 0 {
        format!(
            "client_id={}&redirect_uri={}&",
            h.client_id,
            encode(REDIRECT_URI.as_bytes())
        )
    } else {
        String::new()
    };
    let raw = String::from_utf8_lossy(rest);
    let query = format!("{prefix}{raw}");
    for path in ["/oauth2/authorize", "/openid/authorize/"] {
        if let Some(answer) = h.get(&format!("{path}?{query}")) {
            refused_cleanly(path, &answer);
        }
    }
    let mut body = prefix.into_bytes();
    body.extend_from_slice(rest);
    refused_cleanly(
        "POST /oauth2/authorize",
        &h.post_form("/oauth2/authorize", body.clone(), None),
    );
    refused_cleanly(
        "POST /oauth2/par",
        &h.post_form("/oauth2/par", body, Some((&h.client_id, &h.secret))),
    );
});
