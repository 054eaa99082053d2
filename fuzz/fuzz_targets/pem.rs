//! PEM files given on the command line and in configuration; DER keys and SEC 1 points of
//! both curves (P-256, SM2).
#![no_main]

use eid_crypto::{Algorithm, SigningKey, VerifyingKey, pem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // SEC 1 points as an SM2 key's (uncompressed, and compressed as the offline QR has them).
    for algorithm in [Algorithm::Es256, Algorithm::Sm2Sm3] {
        let _ = VerifyingKey::from_sec1(algorithm, data);
        let _ = VerifyingKey::from_compressed(algorithm, data);
    }
    let both = [Algorithm::Es256, Algorithm::Sm2Sm3];
    let _ = VerifyingKey::from_spki_der_allowing(data, &both);
    let _ = SigningKey::from_pkcs8_der_allowing(data, &both);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = pem::decode_all("CERTIFICATE", text);
    let _ = VerifyingKey::from_spki_pem(text);
    let _ = SigningKey::from_pkcs8_pem(text);
});
