//! The trust list from outside: the signed JWS read against a fixed root key, and its JSON
//! content (reached after a valid signature) parsed and checked for consistency. The first
//! byte picks which. Never a panic.
#![no_main]

use eid_crypto::{Algorithm, VerifyingKey};
use eid_trust::{TrustList, VerifiedTrustList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    let now = time::macros::datetime!(2026-11-23 12:00 UTC);
    if which % 2 == 0 {
        let Ok(text) = std::str::from_utf8(data) else { return };
        // The P-256 generator point as the national root key.
        let g = [
            0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63,
            0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39,
            0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e,
            0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e,
            0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
        ];
        let Ok(key) = VerifyingKey::from_sec1(Algorithm::Es256, &g) else { return };
        let _ = VerifiedTrustList::read(text, &[key], now, None);
    } else if let Ok(list) = serde_json::from_slice::<TrustList>(data) {
        let _ = eid_trust::signed::check_consistent(&list);
        let verified = VerifiedTrustList::dangerous_unsigned(list);
        let _ = verified.roots(now);
        for issuer in &verified.list().issuers {
            let _ = verified.issuer_status_trust(&issuer.id, now);
        }
    }
});
