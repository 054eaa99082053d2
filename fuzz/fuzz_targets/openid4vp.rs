//! What OpenID4VP brings from outside: an invocation URI and a request object (the
//! phone's side, by redirect or through the Digital Credentials API, signed or the
//! unsigned parameters), an encrypted response and what it holds once opened — a
//! presentation or an error response (the relying party's side). Never a panic.
#![no_main]

use std::sync::OnceLock;

use eid_crypto::jwe::{Enc, decrypt};
use eid_crypto::session::AgreementKey;
use eid_crypto::x509::check_reader_certificate;
use eid_oid4vc::vp::{
    ErrorPayload, ResponsePayload, VpError, is_error_code, parse_invocation,
    read_unsigned_request, verify_dc_api_request, verify_request,
};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn key() -> &'static AgreementKey {
    static KEY: OnceLock<AgreementKey> = OnceLock::new();
    KEY.get_or_init(|| AgreementKey::generate().expect("a key"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let now = OffsetDateTime::from_unix_timestamp(1_795_428_000).expect("a time");
    let _ = parse_invocation(text);
    let _ = verify_request(
        text,
        "x509_hash:AAAA",
        |der| check_reader_certificate(der, now).map_err(|_| VpError::Signature),
        now,
    );
    let _ = verify_dc_api_request(
        text,
        "https://bank.example",
        |der| check_reader_certificate(der, now).map_err(|_| VpError::Signature),
        now,
    );
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = read_unsigned_request(&value);
    }
    let _ = decrypt(text, key(), &[Enc::A128Gcm, Enc::A256Gcm]);
    if let Ok(error) = serde_json::from_slice::<ErrorPayload>(data) {
        let _ = is_error_code(&error.error);
    }
    let _ = serde_json::from_slice::<ResponsePayload>(data);
});
