//! An offline QR code's bytes, as a desk's scanner reads them: the presentation, and a
//! compact credential alone.
#![no_main]

use std::sync::OnceLock;

use eid_crypto::{Signer, SigningKey};
use eid_mdoc::offline::{
    CompactCredential, OfflineCheck, OfflineIssuerKey, key_id, verify_offline,
};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn keys() -> &'static [OfflineIssuerKey] {
    static KEYS: OnceLock<Vec<OfflineIssuerKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::generate().expect("a key");
        vec![OfflineIssuerKey {
            issuer: "cn-4501".into(),
            kid: key_id(key.verifying_key()).expect("a kid"),
            key: key.verifying_key().clone(),
        }]
    })
}

fuzz_target!(|data: &[u8]| {
    let check = OfflineCheck {
        keys: keys(),
        purpose: "airport_security",
        now: OffsetDateTime::from_unix_timestamp(1_795_428_000).expect("a time"),
    };
    let _ = verify_offline(data, &check);
    if let Ok(credential) = CompactCredential::from_cbor(data) {
        assert_eq!(CompactCredential::from_cbor(&credential.bytes).ok(), Some(credential));
    }
});
