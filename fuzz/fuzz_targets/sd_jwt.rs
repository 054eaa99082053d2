//! Compact SD-JWT (+KB) presentations as a verifier receives them: parsed and verified
//! against a fixed trusted key and time. Never a panic.
#![no_main]

use std::sync::LazyLock;

use eid_crypto::{Jwk, VerifyingKey};
use eid_sdjwt::{IssuerTrust, KeyBindingCheck, UnverifiedSdJwt, VerifyOptions, X5cTrust};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;
use time::Duration;

/// RFC 9901 Appendix A.5's issuer key, which signs the seed corpus's spec examples.
static ISSUER: LazyLock<Option<VerifyingKey>> = LazyLock::new(|| {
    let jwk = r#"{"kty":"EC","crv":"P-256","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;
    serde_json::from_str::<Jwk>(jwk).ok()?.verifying_key().ok()
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(sd) = UnverifiedSdJwt::parse(text) else { return };
    let keys: Vec<VerifyingKey> = ISSUER.iter().cloned().collect();
    let check = KeyBindingCheck {
        audience: "https://verifier.example.org",
        nonce: "1234567890",
        max_age: Duration::minutes(5),
    };
    for key_binding in [None, Some(&check)] {
        let options = VerifyOptions {
            trust: IssuerTrust {
                x5c: X5cTrust::Roots(&[]),
                keys: &keys,
            },
            now: datetime!(2025-05-29 16:41:05 UTC),
            leeway: Duration::ZERO,
            sd_jwt_vc: false,
            expected_vct: &[],
            key_binding,
            status: None,
        };
        let _ = sd.verify(&options);
    }
});
