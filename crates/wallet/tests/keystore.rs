//! The software keystore: keys usable only after the PIN, sealed at rest, wrong PINs
//! counted on disk and locking the store, a tampered file refused.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::path::PathBuf;

use eid_core::OsRandom;
use eid_crypto::Signer;
use eid_wallet::keystore::{KdfCost, Keystore, KeystoreError, SoftwareKeystore};

/// Cheap Argon2id for tests; the recommended cost is exercised once below.
const TEST_COST: KdfCost = KdfCost {
    m_kib: 64,
    t: 1,
    p: 1,
};

fn path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eid-keystore-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("keystore.json")
}

#[test]
fn keys_sign_only_after_the_pin_and_never_lie_in_the_clear() {
    let file = path("sign");
    let (mut store, unlocked) =
        SoftwareKeystore::create(&file, "246810", 5, KdfCost::RECOMMENDED, Box::new(OsRandom))
            .unwrap();
    let public = store.create_key(&unlocked, "batch-0").unwrap();
    let signature = store.sign(&unlocked, "batch-0", b"device auth").unwrap();
    public.verify(b"device auth", &signature).unwrap();
    // The same through the Signer the credential formats take.
    let signer = store.signer(&unlocked, "batch-0").unwrap();
    public
        .verify(b"kb-jwt", &signer.sign(b"kb-jwt").unwrap())
        .unwrap();
    drop(unlocked);

    // Reopened from disk: the right PIN unlocks, the key is the same.
    let mut again = SoftwareKeystore::open(&file, Box::new(OsRandom)).unwrap();
    assert_eq!(again.public_key("batch-0").unwrap(), public);
    let unlocked = again.unlock("246810").unwrap();
    public
        .verify(b"x", &again.sign(&unlocked, "batch-0", b"x").unwrap())
        .unwrap();
    assert!(matches!(
        again.sign(&unlocked, "batch-9", b"x"),
        Err(KeystoreError::UnknownKey(_))
    ));
    // The file holds no private key in the clear: no PKCS#8 header, no `d`.
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("\"d\""));
    assert!(
        !text.contains("MIGH"),
        "a base64 PKCS#8 P-256 key starts MIGH"
    );
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn wrong_pins_are_counted_on_disk_and_lock_the_store_for_good() {
    let file = path("lock");
    let (store, _) =
        SoftwareKeystore::create(&file, "135790", 3, TEST_COST, Box::new(OsRandom)).unwrap();
    drop(store);
    let mut store = SoftwareKeystore::open(&file, Box::new(OsRandom)).unwrap();
    assert!(matches!(
        store.unlock("000000"),
        Err(KeystoreError::WrongPin { remaining: 2 })
    ));
    // A right PIN resets the count.
    store.unlock("135790").unwrap();
    assert_eq!(store.failures(), 0);
    assert!(matches!(
        store.unlock("000000"),
        Err(KeystoreError::WrongPin { remaining: 2 })
    ));
    // Reopening (a restart, the battery pulled) keeps the count.
    let mut store = SoftwareKeystore::open(&file, Box::new(OsRandom)).unwrap();
    assert_eq!(store.failures(), 1);
    assert!(matches!(
        store.unlock("111111"),
        Err(KeystoreError::WrongPin { remaining: 1 })
    ));
    assert!(matches!(store.unlock("222222"), Err(KeystoreError::Locked)));
    // Locked: even the right PIN is refused, now and after reopening.
    assert!(matches!(store.unlock("135790"), Err(KeystoreError::Locked)));
    let mut store = SoftwareKeystore::open(&file, Box::new(OsRandom)).unwrap();
    assert!(matches!(store.unlock("135790"), Err(KeystoreError::Locked)));
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[test]
fn weak_pins_foreign_unlocks_and_altered_files_are_refused() {
    for pin in ["12345", "1234567890123", "12a456"] {
        let file = path("weak");
        assert!(matches!(
            SoftwareKeystore::create(&file, pin, 5, TEST_COST, Box::new(OsRandom)),
            Err(KeystoreError::WeakPin)
        ));
    }
    let (file_a, file_b) = (path("a"), path("b"));
    let (mut a, unlock_a) =
        SoftwareKeystore::create(&file_a, "111222", 5, TEST_COST, Box::new(OsRandom)).unwrap();
    let (b, unlock_b) =
        SoftwareKeystore::create(&file_b, "111222", 5, TEST_COST, Box::new(OsRandom)).unwrap();
    a.create_key(&unlock_a, "k").unwrap();
    // Another store's unlock does not open this one's keys, even with the same PIN.
    assert!(matches!(
        a.sign(&unlock_b, "k", b"x"),
        Err(KeystoreError::ForeignUnlock)
    ));
    drop((b, unlock_b));
    // A sealed key altered on disk does not open.
    let text = std::fs::read_to_string(&file_a).unwrap();
    let sealed_at = text.find("\"sealed\": \"").unwrap() + 11;
    let mut bytes = text.into_bytes();
    bytes[sealed_at + 20] = if bytes[sealed_at + 20] == b'A' {
        b'B'
    } else {
        b'A'
    };
    std::fs::write(&file_a, &bytes).unwrap();
    let mut altered = SoftwareKeystore::open(&file_a, Box::new(OsRandom)).unwrap();
    let unlocked = altered.unlock("111222").unwrap();
    assert!(matches!(
        altered.sign(&unlocked, "k", b"x"),
        Err(KeystoreError::Corrupt(_))
    ));
    // Not a keystore at all.
    std::fs::write(&file_a, "{}").unwrap();
    assert!(matches!(
        SoftwareKeystore::open(&file_a, Box::new(OsRandom)),
        Err(KeystoreError::Corrupt(_))
    ));
    for f in [file_a, file_b] {
        std::fs::remove_dir_all(f.parent().unwrap()).unwrap();
    }
}
