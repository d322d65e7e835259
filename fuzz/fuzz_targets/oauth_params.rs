//! The OAuth parameter parser shared by the authorize, token, PAR, introspection and revocation
//! endpoints: form bodies and query strings.
#![no_main]

use clave_idp::oidc::params::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        // What parsed survives the round trip through JSON (how pending requests are stored).
        let json = params.to_json();
        let back = Params::from_json(&json).expect("stored parameters read back");
        assert_eq!(back.len(), params.len());
    }
    let _ = Params::from_query(std::str::from_utf8(data).ok());
});
