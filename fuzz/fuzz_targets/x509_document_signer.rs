//! Document-signer certificates as they arrive in an mdoc's x5chain or an SD-JWT's x5c:
//! any DER, validated against a fixed trusted root. Never a panic.
#![no_main]

use std::sync::LazyLock;

use eid_crypto::x509::{TrustedIaca, check_document_signer_profile, verify_document_signer};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

/// The root of the seed corpus (`corpus/x509_document_signer/iaca.der` is its DER).
static ROOT: LazyLock<Option<TrustedIaca>> = LazyLock::new(|| {
    let der = include_bytes!("../corpus/x509_document_signer/iaca.der");
    TrustedIaca::new(der, datetime!(2026-11-23 12:00 UTC)).ok()
});

fuzz_target!(|data: &[u8]| {
    let now = datetime!(2026-11-23 12:00 UTC);
    let _ = check_document_signer_profile(data, now);
    if let Some(root) = ROOT.as_ref() {
        let _ = verify_document_signer(data, std::slice::from_ref(root), now);
    }
    let _ = TrustedIaca::new(data, now);
});
