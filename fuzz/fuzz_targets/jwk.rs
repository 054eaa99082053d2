//! JWKs as they arrive in `cnf`, `jwk` headers and issuer metadata.
#![no_main]

use eid_crypto::{Algorithm, Jwk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(jwk) = serde_json::from_slice::<Jwk>(data) {
        if let Ok(key) = jwk.verifying_key() {
            assert_eq!(key.to_jwk().thumbprint(), jwk.thumbprint());
        }
        // A trust list's keys of an issuer it names as SM2.
        if let Ok(key) = jwk.verifying_key_allowing(&[Algorithm::Es256, Algorithm::Sm2Sm3]) {
            assert_eq!(key.to_jwk().thumbprint(), jwk.thumbprint());
        }
    }
});
