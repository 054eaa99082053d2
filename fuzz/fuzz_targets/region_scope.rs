//! Region scopes and codes as they arrive in trust lists and on the command line.
#![no_main]

use eid_core::{RegionCode, Scope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (scope, code) = text.split_once(' ').unwrap_or((text, "450102"));
    if let (Ok(scope), Ok(code)) = (Scope::parse(scope), RegionCode::parse(code)) {
        let _ = scope.contains(code);
        assert_eq!(Scope::parse(&scope.to_string()), Ok(scope));
    }
});
