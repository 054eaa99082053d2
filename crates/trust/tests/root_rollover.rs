//! The national root key rolled over with a signed hand-over: a list signed by the current
//! root announces the root keys that may sign the next (the current and the next), and a
//! reader holding it takes the next list signed by one of them — and only them, whatever
//! its configuration says. Each check the reader makes has a case that breaks it.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use eid_crypto::{Signer, SigningKey};
use eid_trust::edit::announce_root_keys;
use eid_trust::signed::sign;
use eid_trust::{TrustError, TrustList, VerifiedTrustList};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

/// `draft` as version `version`, signed by `root`.
fn signed(draft: &TrustList, version: u64, root: &SigningKey) -> String {
    let mut draft = draft.clone();
    draft.version = version - 1;
    sign(&draft, root, NOW, Duration::days(7)).unwrap().0
}

#[test]
fn a_reader_follows_the_announced_roots_and_nothing_else() {
    let (old, next, stranger) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let configured = [old.verifying_key().clone()];
    let both = vec![old.verifying_key().to_jwk(), next.verifying_key().to_jwk()];
    let mut draft = TrustList::new(NOW);
    announce_root_keys(&mut draft, both).unwrap();

    // Version 1, signed by the old root, announces the old and the next one.
    let v1 = VerifiedTrustList::read(&signed(&draft, 1, &old), &configured, NOW, None).unwrap();
    assert_eq!(
        v1.next_root_keys(),
        [old.verifying_key().clone(), next.verifying_key().clone()]
    );
    assert_eq!(v1.signed_by(), Some(old.verifying_key()));

    // Version 2, signed by the next root and naming it alone: taken by a reader holding
    // version 1 …
    let mut handed = draft.clone();
    announce_root_keys(&mut handed, vec![next.verifying_key().to_jwk()]).unwrap();
    let v2_jws = signed(&handed, 2, &next);
    let v2 = VerifiedTrustList::read(&v2_jws, &configured, NOW, Some(&v1)).unwrap();
    assert_eq!(v2.signed_by(), Some(next.verifying_key()));
    // … not by a reader holding nothing (it knows only the configured root) …
    assert!(matches!(
        VerifiedTrustList::read(&v2_jws, &configured, NOW, None),
        Err(TrustError::BadSignature)
    ));
    // … nor when signed by a key version 1 did not announce …
    assert!(matches!(
        VerifiedTrustList::read(&signed(&handed, 2, &stranger), &configured, NOW, Some(&v1)),
        Err(TrustError::BadSignature)
    ));
    // … nor by a reader whose list announced nothing: its configured keys decide.
    let quiet = VerifiedTrustList::read(
        &signed(&TrustList::new(NOW), 1, &old),
        &configured,
        NOW,
        None,
    )
    .unwrap();
    assert!(matches!(
        VerifiedTrustList::read(&v2_jws, &configured, NOW, Some(&quiet)),
        Err(TrustError::BadSignature)
    ));

    // Version 3 by the next root again; the old root is retired for readers holding
    // version 2, although their configuration still names it (a stolen old root signing a
    // high version is refused).
    let v3 =
        VerifiedTrustList::read(&signed(&handed, 3, &next), &configured, NOW, Some(&v2)).unwrap();
    assert_eq!(v3.list().version, 3);
    assert!(matches!(
        VerifiedTrustList::read(&signed(&handed, 1 << 40, &old), &configured, NOW, Some(&v3)),
        Err(TrustError::BadSignature)
    ));
    // An older version is still refused, whoever signed it.
    assert!(matches!(
        VerifiedTrustList::read(&signed(&handed, 2, &next), &configured, NOW, Some(&v3)),
        Err(TrustError::Rollback { .. })
    ));
}

#[test]
fn an_announced_key_that_does_not_parse_is_refused_and_changes_nothing() {
    let mut draft = TrustList::new(NOW);
    let good = SigningKey::generate().unwrap().verifying_key().to_jwk();
    announce_root_keys(&mut draft, vec![good.clone()]).unwrap();
    let mut bad = good.clone();
    bad.x = "AAAA".into();
    let error = announce_root_keys(&mut draft, vec![bad.clone()]).unwrap_err();
    assert!(matches!(error, TrustError::BadKey(_)), "{error}");
    assert_eq!(draft.next_root_keys, [good]);
    // A draft edited by hand is refused when signed.
    draft.next_root_keys = vec![bad];
    let root = SigningKey::generate().unwrap();
    assert!(matches!(
        sign(&draft, &root, NOW, Duration::days(7)),
        Err(TrustError::BadKey(_))
    ));
}
