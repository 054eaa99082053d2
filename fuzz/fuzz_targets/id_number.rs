//! Resident identity numbers typed by people: any bytes, parsed, never a panic; what parses
//! prints masked and round-trips.
#![no_main]

use eid_core::ResidentIdNumber;
use libfuzzer_sys::fuzz_target;
use time::macros::date;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(n) = ResidentIdNumber::parse(text, date!(2026 - 11 - 23)) {
        assert!(n.masked().contains("********"));
        assert_eq!(ResidentIdNumber::parse_structure(n.expose()), Ok(n));
        let _ = (n.sex(), n.birth_date(), n.region_code());
    }
});
