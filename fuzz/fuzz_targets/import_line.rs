//! The batch-import line parser: any line is a publication, skipped, or refused with a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Err(reason) = clave_wallet::import::parse_line(&line) {
        assert!(!reason.is_empty());
    }
});
