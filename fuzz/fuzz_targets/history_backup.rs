//! A history backup as the wallet gets it back from its provider (`eid_wallet::backup`):
//! the stored backup (JSON) opened, a segment among valid ones, a recovery code as typed.
#![no_main]

use std::sync::OnceLock;

use eid_core::OsRandom;
use eid_crypto::b64url;
use eid_wallet::backup::{HistorySecret, RecoveryCode, StoredBackup, make_backup, restore};
use eid_wallet::keystore::KdfCost;
use eid_wallet::store::Presentation;
use libfuzzer_sys::fuzz_target;

const CHEAP: KdfCost = KdfCost {
    m_kib: 8,
    t: 1,
    p: 1,
};
const CODE: &str = "K7QF2-M9XAB-CDEFG-H0011";

fn secret() -> HistorySecret {
    HistorySecret::from_b64url(&b64url(&[7; 32])).unwrap()
}

/// A backup of two entries under [`CODE`] and [`secret`], made once.
fn valid() -> &'static StoredBackup {
    static MADE: OnceLock<StoredBackup> = OnceLock::new();
    MADE.get_or_init(|| {
        let entry = Presentation {
            at: 1_765_000_000,
            channel: "online".into(),
            relying_party: Some("nanning-bank".into()),
            relying_party_name: Some("bank".into()),
            purpose: "bank_account_opening".into(),
            attributes: vec!["age_over_18".into()],
            held_for: None,
        };
        let code = RecoveryCode::parse(CODE).unwrap();
        make_backup(&[entry.clone(), entry], 0, &code, &secret(), CHEAP, &OsRandom)
            .unwrap()
            .stored
    })
}

fuzz_target!(|data: &[u8]| {
    let code = RecoveryCode::parse(CODE).unwrap();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RecoveryCode::parse(text);
    }
    // The provider's whole answer; Argon2id kept cheap (the bounds are a unit test's).
    if let Ok(mut stored) = serde_json::from_slice::<StoredBackup>(data) {
        stored.key.m_kib = stored.key.m_kib.min(64);
        stored.key.t = stored.key.t.min(2);
        stored.key.p = stored.key.p.min(2);
        let _ = restore(&stored, &code, &secret());
    }
    // A segment among valid ones: refused at its place unless it is the one made there.
    let mut stored = valid().clone();
    stored.segments[1] = b64url(data);
    if restore(&stored, &code, &secret()).is_ok() {
        assert_eq!(stored.segments[1], valid().segments[1]);
    }
});
