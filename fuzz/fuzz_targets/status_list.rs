//! Everything of a status list that comes from outside: tokens (JWT or CWT, read against a
//! fixed trusted key), the list in JSON and CBOR with a small inflation cap, deltas, and the
//! referenced token's CWT `status` claim. The first byte picks the parser. Never a panic,
//! never more memory than the cap.
#![no_main]

use eid_crypto::{Algorithm, VerifyingKey};
use eid_status::token::reference_from_cwt_claims;
use eid_status::{Delta, ReadOptions, StatusList, TokenTrust, read};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    match which % 5 {
        0 => {
            // The P-256 generator point as the trusted key.
            let g = [
                0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63,
                0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39,
                0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e,
                0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e,
                0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
            ];
            let Ok(key) = VerifyingKey::from_sec1(Algorithm::Es256, &g) else { return };
            let keys = [key];
            let mut options = ReadOptions::dangerous_any_subject(
                TokenTrust { roots: &[], keys: &keys },
                time::macros::datetime!(2026-11-23 12:00 UTC),
            );
            options.max_inflated = 1 << 16;
            let _ = read(data, &options);
        }
        1 => {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data)
                && let Ok(list) = StatusList::from_json(&value, 1 << 16)
            {
                let _ = list.get(list.len().saturating_sub(1));
            }
        }
        2 => {
            let _ = StatusList::decode_cbor(&mut minicbor::Decoder::new(data), 1 << 16);
        }
        3 => {
            if let Ok(delta) = Delta::decode(data) {
                let mut list = StatusList::new(delta.bits, 1 << 12).unwrap_or_else(|_| {
                    StatusList::from_bytes(delta.bits, Vec::new())
                });
                let _ = delta.apply(&mut list, delta.from_version);
                if let Ok(again) = delta.encode() {
                    let _ = Delta::decode(&again);
                }
            }
        }
        _ => {
            let _ = reference_from_cwt_claims(data);
        }
    }
});
