//! ISO/IEC 18013-7 Annex C as outside bytes: the EncryptionInfo a wallet receives (parsed,
//! and written back to the same reading) and the EncryptedResponse a reader receives
//! (parsed and opened with a key of its own, which must fail: nothing here was sealed to it).
#![no_main]

use eid_crypto::hpke::HpkeRecipient;
use eid_mdoc::dcapi::{EncryptionInfo, open_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = EncryptionInfo::parse(data) {
        assert_eq!(EncryptionInfo::parse(&info.encode()).ok(), Some(info));
    }
    if let Ok(recipient) = HpkeRecipient::generate() {
        assert!(open_response(data, &recipient, &[0xf6]).is_err());
    }
});
