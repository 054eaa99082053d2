//! JWKs as they arrive in `cnf`, `jwk` headers and issuer metadata.
#![no_main]

use eid_crypto::Jwk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(jwk) = serde_json::from_slice::<Jwk>(data) {
        if let Ok(key) = jwk.verifying_key() {
            assert_eq!(key.to_jwk().thumbprint(), jwk.thumbprint());
        }
    }
});
