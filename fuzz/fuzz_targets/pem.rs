//! PEM files given on the command line and in configuration.
#![no_main]

use eid_crypto::{SigningKey, VerifyingKey, pem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = pem::decode_all("CERTIFICATE", text);
    let _ = VerifyingKey::from_spki_pem(text);
    let _ = SigningKey::from_pkcs8_pem(text);
});
