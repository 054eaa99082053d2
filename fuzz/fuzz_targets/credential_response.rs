//! A Credential Response as an issuer (or whoever answers in its place) sends it to the
//! wallet: read for each format, each credential checked bound to the key asked. Never a
//! panic.
#![no_main]

use std::sync::OnceLock;

use eid_crypto::{Signer, SigningKey, VerifyingKey};
use eid_wallet::enrolment::accept;
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static [VerifyingKey] {
    static KEYS: OnceLock<Vec<VerifyingKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..2)
            .map(|_| SigningKey::generate().expect("a key").verifying_key().clone())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for format in ["mso_mdoc", "dc+sd-jwt", "eid_compact_cwt"] {
        for n in 1..=2 {
            let _ = accept(format, data, &keys()[..n]);
        }
    }
});
