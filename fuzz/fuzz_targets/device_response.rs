//! DeviceResponse CBOR as a reader receives it: decoded, every document's issuer data
//! verified (profile-only DS check, Annex D time). Never a panic.
#![no_main]

use eid_mdoc::verify::verify_issuer_data;
use eid_mdoc::{DeviceResponse, IssuerDataCheck, IssuerTrust};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let Ok(response) = DeviceResponse::from_cbor(data) else { return };
    let check = IssuerDataCheck {
        trust: IssuerTrust::DangerousProfileOnly,
        now: datetime!(2021-01-01 0:00 UTC),
        expected_doc_type: None,
        status: None,
    };
    for doc in &response.documents {
        let _ = verify_issuer_data(&doc.doc_type, &doc.issuer_signed, &check);
    }
});
