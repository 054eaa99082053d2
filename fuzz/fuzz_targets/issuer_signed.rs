//! IssuerSigned CBOR (what an issuer delivers to a wallet) and the MSO inside it.
#![no_main]

use eid_mdoc::{IssuerSigned, MobileSecurityObject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(issuer_signed) = IssuerSigned::from_cbor(data) else { return };
    if let Some(payload) = &issuer_signed.issuer_auth.payload {
        if let Ok(mso) = MobileSecurityObject::from_payload(payload) {
            let _ = mso.device_key();
        }
    }
});
