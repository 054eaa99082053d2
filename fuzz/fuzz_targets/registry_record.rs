//! One line of a registry file (JSON), as `eid registry validate` reads it.
#![no_main]

use eid_core::ResidentCard;
use libfuzzer_sys::fuzz_target;
use time::macros::date;

fuzz_target!(|data: &[u8]| {
    if let Ok(card) = serde_json::from_slice::<ResidentCard>(data) {
        let _ = card.validate(date!(2026 - 11 - 23));
        let _ = format!("{card:?}");
        let again = serde_json::to_vec(&card).unwrap_or_default();
        assert!(serde_json::from_slice::<ResidentCard>(&again).is_ok());
    }
});
