//! The phone's offline QR: a compact credential held only when bound to the wallet's key,
//! and codes signed by the PIN-unlocked key that a desk's check accepts.

use eid_core::OsRandom;
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::issue::ElementValue;
use eid_mdoc::offline::{
    CompactCredentialRequest, OfflineCheck, OfflineError, OfflineIssuerKey, issue_compact, key_id,
    verify_offline,
};
use eid_wallet::keystore::{KdfCost, Keystore, SoftwareKeystore};
use eid_wallet::offline::{OfflineCredential, REFRESH};
use time::Duration;
use time::macros::datetime;

#[test]
fn the_wallet_holds_its_own_compact_credential_and_shows_codes_a_desk_accepts() {
    let now = datetime!(2026-11-23 10:00 UTC);
    let dir = std::env::temp_dir().join(format!("eid-wallet-offline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cost = KdfCost {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    let (mut store, unlocked) = SoftwareKeystore::create(
        &dir.join("keystore.json"),
        "246810",
        5,
        cost,
        Box::new(OsRandom),
    )
    .unwrap();
    let device = store.create_key(&unlocked, "device").unwrap();
    let issuer = SigningKey::generate().unwrap();
    let issue = |key: &eid_crypto::VerifyingKey| {
        issue_compact(
            &CompactCredentialRequest {
                purpose: "age_check",
                provider: "superapp-a",
                attributes: &[("age_over_18".to_owned(), ElementValue::Bool(true))],
                device_key: key,
                issued_at: now - Duration::days(1),
                expires_at: now + Duration::days(30),
                status: None,
            },
            &issuer,
            issuer.verifying_key(),
        )
        .unwrap()
    };
    // Another phone's credential is refused on arrival.
    let other = SigningKey::generate().unwrap();
    assert_eq!(
        OfflineCredential::new(&issue(other.verifying_key()), &device).unwrap_err(),
        OfflineError::NotTheDeviceKey
    );
    let held = OfflineCredential::new(&issue(&device), &device).unwrap();
    assert_eq!(held.purpose(), "age_check");
    assert_eq!(held.attribute_names(), ["age_over_18"]);
    assert_eq!(held.expires_at(), now + Duration::days(30));

    let signer = store.signer(&unlocked, "device").unwrap();
    let keys = [OfflineIssuerKey {
        issuer: "cn-4501".into(),
        kid: key_id(issuer.verifying_key()).unwrap(),
        key: issuer.verifying_key().clone(),
    }];
    let check = |at| OfflineCheck {
        keys: &keys,
        purpose: "age_check",
        now: at,
    };
    let first = held.code(&signer, now).unwrap();
    let refreshed = held.code(&signer, now + REFRESH).unwrap();
    assert_ne!(first, refreshed);
    // A code scanned just before the refresh is still good half a minute later.
    verify_offline(&first, &check(now + REFRESH + REFRESH)).unwrap();
    verify_offline(&refreshed, &check(now + REFRESH)).unwrap();
    assert!(matches!(
        verify_offline(&first, &check(now + REFRESH * 3)),
        Err(OfflineError::TooOld { .. })
    ));
}
