//! The RUN parser: any text either parses or is refused, and what parses reads back the same
//! in every written form.
#![no_main]

use clave_common::Run;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(run) = Run::parse(text) {
        assert_eq!(Run::parse(&run.canonical()), Ok(run));
        assert_eq!(Run::parse(&run.compact()), Ok(run));
    }
});
