//! Compact JWS from outside: a client assertion (`private_key_jwt`), a request object and an
//! ID token hint. Inputs without a dot are split in three and base64url-encoded, so that the
//! fuzzer reaches the JSON of the header and the claims.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clave_fuzz::{REDIRECT_URI, encode, harness, refused_cleanly};
use libfuzzer_sys::fuzz_target;

fn compact(data: &[u8]) -> String {
    if data.contains(&b'.') {
        return String::from_utf8_lossy(data).into_owned();
    }
    let a = data.len() / 3;
    let b = 2 * data.len() / 3;
    [&data[..a], &data[a..b], &data[b..]]
        .map(|part| URL_SAFE_NO_PAD.encode(part))
        .join(".")
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    let token = encode(compact(data).as_bytes());
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={token}",
        h.jwt_client_id
    );
    refused_cleanly(
        "client assertion",
        &h.post_form("/oauth2/token", body.into_bytes(), None),
    );
    let authorize = format!(
        "/oauth2/authorize?client_id={}&response_type=code&scope=openid&redirect_uri={}&request={token}",
        h.jwt_client_id,
        encode(REDIRECT_URI.as_bytes())
    );
    if let Some(answer) = h.get(&authorize) {
        refused_cleanly("request object", &answer);
    }
    if let Some(answer) = h.get(&format!("/oauth2/logout?id_token_hint={token}")) {
        refused_cleanly("id_token_hint", &answer);
    }
});
