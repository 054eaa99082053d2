//! The signed list's own checks, each broken once, and the edits that build it, each
//! refusing a bad change and leaving the list as it was.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

mod common;

use common::{NOW, list, names};
use eid_core::region::{RegionCode, Scope};
use eid_crypto::{Signer, SigningKey};
use eid_trust::edit::{add_relying_party, set_offline_keys, set_pseudonym_key, set_scope};
use eid_trust::signed::sign;
use eid_trust::{AcceptanceScope, Purpose, TrustError, TrustList, VerifiedTrustList};
use time::{Duration, OffsetDateTime};

fn signed(list: &TrustList, root: &SigningKey, now: OffsetDateTime) -> String {
    sign(list, root, now, Duration::days(1)).unwrap().0
}

#[test]
fn the_signed_list_reads_back_and_each_of_its_checks_breaks() {
    let root = SigningKey::generate().unwrap();
    let keys = [root.verifying_key().clone()];
    let jws = signed(&list(), &root, NOW);
    let read = VerifiedTrustList::read(&jws, &keys, NOW, None).unwrap();
    assert_eq!(read.list().version, 1);
    assert_eq!(read.list().relying_parties, list().relying_parties);

    // Signature: another root.
    let other = [SigningKey::generate().unwrap().verifying_key().clone()];
    assert_eq!(
        VerifiedTrustList::read(&jws, &other, NOW, None).err(),
        Some(TrustError::BadSignature)
    );
    // Type: the same payload signed as a plain JWT.
    let parsed = eid_sdjwt::Jws::parse(&jws).unwrap();
    let mut header = parsed.header().clone();
    header.insert("typ".into(), "JWT".into());
    let retyped = eid_sdjwt::Jws::sign(&header, parsed.payload(), &root).unwrap();
    assert_eq!(
        VerifiedTrustList::read(&retyped, &keys, NOW, None).err(),
        Some(TrustError::WrongType(Some("JWT".into())))
    );
    // Times.
    assert_eq!(
        VerifiedTrustList::read(&jws, &keys, NOW + Duration::days(1), None).err(),
        Some(TrustError::Stale(NOW + Duration::days(1)))
    );
    assert_eq!(
        VerifiedTrustList::read(&jws, &keys, NOW - Duration::seconds(1), None).err(),
        Some(TrustError::IssuedInFuture(NOW))
    );
    // Rollback: version 1 does not replace version 2.
    let (_, as_signed) = sign(&list(), &root, NOW, Duration::days(1)).unwrap();
    let v2 = VerifiedTrustList::read(&signed(&as_signed, &root, NOW), &keys, NOW, None).unwrap();
    assert_eq!(v2.list().version, 2);
    assert_eq!(
        VerifiedTrustList::read(&jws, &keys, NOW, Some(&v2)).err(),
        Some(TrustError::Rollback {
            cached: 2,
            offered: 1
        })
    );
    // Nor does the same version again.
    assert_eq!(
        VerifiedTrustList::read(&signed(&as_signed, &root, NOW), &keys, NOW, Some(&v2)).err(),
        Some(TrustError::Rollback {
            cached: 2,
            offered: 2
        })
    );
    assert!(
        VerifiedTrustList::read(&signed(&as_signed, &root, NOW), &keys, NOW, Some(&read)).is_ok()
    );
    // Size.
    assert_eq!(
        VerifiedTrustList::read(&"e".repeat(33 << 20), &keys, NOW, None).err(),
        Some(TrustError::TooLarge(32 << 20))
    );
    // Content: a registration beyond its purpose, signed anyway by a careless tool.
    let mut payload = parsed.payload().clone();
    payload["relying_parties"][0]["purposes"]["hotel_check_in"] =
        serde_json::json!(["family_name", "ethnicity", "salary"]);
    let widened = eid_sdjwt::Jws::sign(parsed.header(), &payload, &root).unwrap();
    assert_eq!(
        VerifiedTrustList::read(&widened, &keys, NOW, None).err(),
        Some(TrustError::AttributeBeyondPurpose {
            attribute: "salary".into(),
            purpose: Purpose::HotelCheckIn
        })
    );
    // A face match required where no portrait is asked for: by a catalogue entry (welfare's),
    // or by a registration (the first relying party's hotel check-in, narrowed to names).
    let requiring = |payload: &mut serde_json::Map<String, serde_json::Value>, purpose: &str| {
        let entry = payload["purposes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["purpose"] == purpose)
            .unwrap();
        entry["face_match_required"] = true.into();
    };
    let read_signed = |payload: &serde_json::Map<String, serde_json::Value>| {
        VerifiedTrustList::read(
            &eid_sdjwt::Jws::sign(parsed.header(), payload, &root).unwrap(),
            &keys,
            NOW,
            None,
        )
    };
    let mut welfare = parsed.payload().clone();
    requiring(&mut welfare, "welfare");
    assert_eq!(
        read_signed(&welfare).err(),
        Some(TrustError::FaceMatchWithoutPortrait {
            purpose: Purpose::Welfare,
            relying_party: None
        })
    );
    let mut hotel = parsed.payload().clone();
    requiring(&mut hotel, "hotel_check_in");
    let party = hotel["relying_parties"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hotel["relying_parties"][0]["purposes"]["hotel_check_in"] =
        serde_json::json!(["family_name", "given_name"]);
    let refused = read_signed(&hotel).err();
    assert_eq!(
        refused,
        Some(TrustError::FaceMatchWithoutPortrait {
            purpose: Purpose::HotelCheckIn,
            relying_party: Some(party.clone())
        })
    );
    assert_eq!(
        refused.unwrap().to_string(),
        format!(
            "hotel_check_in requires a face match, but the registration of {party} does not ask for the portrait"
        )
    );
    hotel["relying_parties"][0]["purposes"]["hotel_check_in"] =
        serde_json::json!(["family_name", "portrait"]);
    let read = read_signed(&hotel).unwrap();
    assert!(
        read.list()
            .purpose(Purpose::HotelCheckIn)
            .unwrap()
            .face_match_required
    );
    // Paper accepted where the face need not match: refused, as the edit refuses it.
    let mut paper = parsed.payload().clone();
    let welfare = paper["purposes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["purpose"] == "welfare")
        .unwrap();
    welfare["paper_allowed"] = true.into();
    assert_eq!(
        read_signed(&paper).err(),
        Some(TrustError::PaperWithoutFaceMatch {
            purpose: Purpose::Welfare
        })
    );
    let mut draft = list();
    assert_eq!(
        eid_trust::edit::set_paper(&mut draft, Purpose::Welfare, true).err(),
        Some(TrustError::PaperWithoutFaceMatch {
            purpose: Purpose::Welfare
        })
    );
    eid_trust::edit::set_paper(&mut draft, Purpose::AirportSecurity, true).unwrap();
    assert_eq!(
        eid_trust::edit::set_face_match(&mut draft, Purpose::AirportSecurity, false).err(),
        Some(TrustError::PaperWithoutFaceMatch {
            purpose: Purpose::AirportSecurity
        })
    );
    eid_trust::edit::set_paper(&mut draft, Purpose::AirportSecurity, false).unwrap();
    // The printed code's provider id is no wallet provider's, in an edit or a signed list.
    let mut reserved = parsed.payload().clone();
    reserved["wallet_providers"][0]["id"] = "paper".into();
    assert!(
        matches!(read_signed(&reserved).err(), Some(TrustError::Content(why)) if why.contains("reserved for the printed code")),
    );
    let mut provider = draft.wallet_providers[0].clone();
    provider.id = "paper".into();
    assert!(matches!(
        eid_trust::edit::add_provider(&mut draft, provider, false).err(),
        Some(TrustError::Content(why)) if why.contains("reserved for the printed code")
    ));
    eid_trust::edit::set_face_match(&mut draft, Purpose::AirportSecurity, false).unwrap();
    // Two issuers with one id.
    let mut twice = parsed.payload().clone();
    let issuers = twice["issuers"].as_array().unwrap().clone();
    twice["issuers"] = serde_json::Value::Array([issuers.clone(), issuers].concat());
    assert_eq!(
        VerifiedTrustList::read(
            &eid_sdjwt::Jws::sign(parsed.header(), &twice, &root).unwrap(),
            &keys,
            NOW,
            None
        )
        .err(),
        Some(TrustError::Duplicate {
            kind: "issuer",
            id: "cn-4501".into()
        })
    );
    // An algorithm outside the allow-list in the header.
    let mut hs = parsed.header().clone();
    hs.insert("alg".into(), "HS256".into());
    let forged = format!(
        "{}.{}.{}",
        eid_crypto::b64url(&serde_json::to_vec(&hs).unwrap()),
        jws.split('.').nth(1).unwrap(),
        jws.split('.').nth(2).unwrap()
    );
    assert!(matches!(
        VerifiedTrustList::read(&forged, &keys, NOW, None).err(),
        Some(TrustError::Algorithm(_))
    ));
    // And a region that is not a code.
    payload["relying_parties"][0]["region"] = "hotel street".into();
    let bad = eid_sdjwt::Jws::sign(parsed.header(), &payload, &root).unwrap();
    assert!(matches!(
        VerifiedTrustList::read(&bad, &keys, NOW, None).err(),
        Some(TrustError::Content(_))
    ));
    assert_eq!(root.algorithm(), eid_crypto::Algorithm::Es256);
}

#[test]
fn edits_refuse_bad_changes_and_leave_the_list_as_it_was() {
    let mut list = list();
    let before = list.clone();
    assert_eq!(
        add_relying_party(
            &mut list,
            "bank",
            "银行",
            RegionCode::parse("450102").unwrap(),
            &[(
                Purpose::AgeCheck,
                Some(names(&["age_over_18", "birth_date"]))
            )],
            None,
            false,
        ),
        Err(TrustError::AttributeBeyondPurpose {
            attribute: "birth_date".into(),
            purpose: Purpose::AgeCheck
        })
    );
    // The default catalogue requires a face match at airport security: a registration
    // narrowed to names cannot be made.
    assert_eq!(
        add_relying_party(
            &mut list,
            "gate",
            "机场",
            RegionCode::parse("450122").unwrap(),
            &[(
                Purpose::AirportSecurity,
                Some(names(&["family_name", "given_name"]))
            )],
            None,
            false,
        ),
        Err(TrustError::FaceMatchWithoutPortrait {
            purpose: Purpose::AirportSecurity,
            relying_party: Some("gate".into())
        })
    );
    assert!(matches!(
        add_relying_party(
            &mut list,
            "hotel",
            "again",
            RegionCode::parse("450102").unwrap(),
            &[(Purpose::HotelCheckIn, None)],
            None,
            false
        ),
        Err(TrustError::Duplicate { .. })
    ));
    assert!(matches!(
        set_scope(
            &mut list,
            "cn-9999",
            AcceptanceScope {
                region: Scope::Nation,
                purposes: vec![Purpose::Welfare],
                valid_from: NOW,
                valid_until: None
            },
            false
        ),
        Err(TrustError::NotFound { .. })
    ));
    assert_eq!(list, before);
}

/// An issuer's offline-QR keys: set, listed with the issuer, and refused when they are not
/// P-256 keys or the issuer is unknown (the list unchanged).
#[test]
fn offline_keys_are_checked_and_listed_with_their_issuer() {
    let mut list = list();
    let key = SigningKey::generate().unwrap();
    let issuer = list.issuers[0].id.clone();
    set_offline_keys(&mut list, &issuer, vec![key.verifying_key().to_jwk()]).unwrap();
    let listed = VerifiedTrustList::dangerous_unsigned(list.clone()).offline_keys();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, issuer);
    assert_eq!(listed[0].1.sec1(), key.verifying_key().sec1());
    let before = list.clone();
    let mut bad = key.verifying_key().to_jwk();
    bad.crv = "P-384".into();
    assert!(matches!(
        set_offline_keys(&mut list, &issuer, vec![bad]),
        Err(TrustError::BadKey(_))
    ));
    assert!(matches!(
        set_offline_keys(&mut list, "cn-9999", Vec::new()),
        Err(TrustError::NotFound { .. })
    ));
    assert_eq!(list, before);
}

#[test]
fn web_origins_are_origins_when_set_and_when_read() {
    let mut list = list();
    let id = list.relying_parties[0].id.clone();
    for bad in [
        "https://bank.example/",
        "https://bank.example/login",
        "bank.example",
        "ftp://bank.example",
        "https://Bank.example",
        "https://bank.example?x",
        "https://",
        "https://bank.example:443",
        "https://bank.example:",
        "https://:8443",
        "https://[::1",
        "https://bank.example:99999",
        "http://bank.example",
        "http://127.0.0.1:80",
    ] {
        assert!(
            matches!(
                eid_trust::edit::set_web_origins(&mut list, &id, &[bad.to_owned()]),
                Err(TrustError::Content(_))
            ),
            "{bad}"
        );
    }
    assert!(list.relying_parties[0].web_origins.is_empty());
    let good = [
        "https://bank.example".to_owned(),
        "https://bank.example:8443".to_owned(),
        "https://xn--fiqs8s.example".to_owned(),
        "http://127.0.0.1:8400".to_owned(),
        "http://localhost:8400".to_owned(),
        "http://[::1]:8400".to_owned(),
    ];
    eid_trust::edit::set_web_origins(&mut list, &id, &good).unwrap();
    assert_eq!(list.relying_parties[0].web_origins, good);
    // An origin is one party's.
    let other = list.relying_parties[1].id.clone();
    assert!(matches!(
        eid_trust::edit::set_web_origins(&mut list, &other, &good[..1]),
        Err(TrustError::Content(_))
    ));
    assert!(list.relying_parties[1].web_origins.is_empty());
    assert!(matches!(
        eid_trust::edit::set_web_origins(&mut list, "nobody", &good),
        Err(TrustError::Content(_))
    ));
    // A list signed with a path for an origin is not read.
    let root = SigningKey::generate().unwrap();
    let parsed = eid_sdjwt::Jws::parse(&signed(&list, &root, NOW)).unwrap();
    let mut claims = parsed.payload().clone();
    claims["relying_parties"][0]["web_origins"] = serde_json::json!(["https://bank.example/x"]);
    let bad = eid_sdjwt::Jws::sign(parsed.header(), &claims, &root).unwrap();
    assert!(matches!(
        VerifiedTrustList::read(&bad, &[root.verifying_key().clone()], NOW, None).err(),
        Some(TrustError::Content(_))
    ));
}

/// A pseudonym is registered by name only (a registration of the full set leaves it out),
/// for a purpose whose catalogue lists it, by a relying party whose id can name an item of
/// every credential, and by at most so many relying parties; a refusal changes nothing.
#[test]
fn a_pseudonym_is_registered_by_name_within_its_bounds() {
    use eid_trust::model::MAX_PSEUDONYM_RELYING_PARTIES;
    use eid_trust::{PSEUDONYM, attribute_of_item, pseudonym_item, request_item};
    let mut list = list();
    let code = RegionCode::parse("450102").unwrap();
    let register = |list: &mut TrustList, id: &str, attributes: Option<Vec<String>>| {
        add_relying_party(
            list,
            id,
            id,
            code,
            &[(Purpose::BankAccountOpening, attributes)],
            None,
            false,
        )
    };
    register(&mut list, "bank-full", None).unwrap();
    assert!(!list.relying_party("bank-full").unwrap().has_pseudonym());
    register(&mut list, "bank-a", Some(names(&["portrait", PSEUDONYM]))).unwrap();
    assert_eq!(
        list.pseudonym_relying_parties().collect::<Vec<_>>(),
        ["bank-a"]
    );
    // Not for a purpose whose catalogue leaves it out.
    let refused = add_relying_party(
        &mut list,
        "hotel-p",
        "hotel-p",
        code,
        &[(Purpose::HotelCheckIn, Some(names(&["portrait", PSEUDONYM])))],
        None,
        false,
    );
    assert!(matches!(
        refused,
        Err(TrustError::AttributeBeyondPurpose { attribute, .. }) if attribute == PSEUDONYM
    ));
    // Not under an id that cannot name an item.
    let before = list.clone();
    for id in ["Bank A", "bank/a", "", &"b".repeat(65)] {
        let refused = register(&mut list, id, Some(names(&["portrait", PSEUDONYM])));
        assert!(
            matches!(&refused, Err(TrustError::Content(m)) if m.contains("cannot have a pseudonym")),
            "{id:?}: {refused:?}"
        );
    }
    assert_eq!(list, before);
    // Not beyond the bound.
    for n in 1..MAX_PSEUDONYM_RELYING_PARTIES {
        register(
            &mut list,
            &format!("bank-{n}"),
            Some(names(&["portrait", PSEUDONYM])),
        )
        .unwrap();
    }
    // Each has the key its pseudonyms are sealed to.
    let sealing = SigningKey::generate().unwrap().verifying_key().to_jwk();
    let ids: Vec<String> = list
        .pseudonym_relying_parties()
        .map(str::to_owned)
        .collect();
    for id in &ids {
        set_pseudonym_key(&mut list, id, sealing.clone()).unwrap();
    }
    let full = list.clone();
    let refused = register(
        &mut list,
        "bank-one-more",
        Some(names(&["portrait", PSEUDONYM])),
    );
    assert!(
        matches!(&refused, Err(TrustError::Content(m)) if m.contains("the most a list holds")),
        "{refused:?}"
    );
    assert_eq!(list, full);
    // Replacing one that has one is no new one.
    add_relying_party(
        &mut list,
        "bank-a",
        "bank-a",
        code,
        &[(
            Purpose::BankAccountOpening,
            Some(names(&["portrait", PSEUDONYM])),
        )],
        None,
        true,
    )
    .unwrap();
    assert_eq!(full.relying_party("bank-a"), list.relying_party("bank-a"));

    // The pseudonym key: a P-256 public key, of a relying party the list has.
    let sm2 = SigningKey::generate_for(eid_crypto::Algorithm::Sm2Sm3)
        .unwrap()
        .verifying_key()
        .to_jwk();
    for (id, key) in [("bank-a", sm2), ("bank-nobody", sealing.clone())] {
        let refused = set_pseudonym_key(&mut list, id, key);
        assert!(
            matches!(refused, Err(TrustError::Content(_))),
            "{refused:?}"
        );
    }
    assert_eq!(list, full);

    // A relying party's own item is its pseudonym; another's is itself.
    assert_eq!(pseudonym_item("bank-a"), "pseudonym:bank-a");
    assert_eq!(request_item(PSEUDONYM, "bank-a"), "pseudonym:bank-a");
    assert_eq!(request_item("portrait", "bank-a"), "portrait");
    assert_eq!(attribute_of_item("pseudonym:bank-a", "bank-a"), PSEUDONYM);
    assert_eq!(
        attribute_of_item("pseudonym:bank-b", "bank-a"),
        "pseudonym:bank-b"
    );
    assert_eq!(
        attribute_of_item("pseudonymx:bank-a", "bank-a"),
        "pseudonymx:bank-a"
    );
    assert_eq!(attribute_of_item("portrait", "bank-a"), "portrait");
    // The bare name is no item, and stands for nothing a purpose allows.
    assert_eq!(attribute_of_item(PSEUDONYM, "bank-a"), "pseudonym:");

    // What a hand-edited list would hold is refused when signed or read: a catalogue
    // listing an item, an id that cannot name one, one certificate for two parties.
    let root = SigningKey::generate().unwrap();
    let refused = |change: &dyn Fn(&mut TrustList)| {
        let mut edited = full.clone();
        change(&mut edited);
        match sign(&edited, &root, NOW, Duration::days(1)) {
            Err(TrustError::Content(message)) => message,
            other => format!("not refused: {:?}", other.map(|_| ())),
        }
    };
    assert!(sign(&full, &root, NOW, Duration::days(1)).is_ok());
    // A relying party with a pseudonym and no key to seal it to; a key off the curve.
    let message = refused(&|l| {
        l.relying_parties
            .iter_mut()
            .find(|rp| rp.id == "bank-a")
            .unwrap()
            .pseudonym_key = None;
    });
    assert!(
        message.contains("bank-a is registered for a pseudonym but has no pseudonym key"),
        "{message}"
    );
    let message = refused(&|l| {
        let rp = l
            .relying_parties
            .iter_mut()
            .find(|rp| rp.id == "bank-7")
            .unwrap();
        rp.pseudonym_key.as_mut().unwrap().x = eid_crypto::b64url(&[1; 32]);
    });
    assert!(
        message.contains("bank-7: its pseudonym key is not a P-256 public key"),
        "{message}"
    );
    let message = refused(&|l| {
        l.purposes[3].attributes.push("pseudonym:bank-a".into());
    });
    assert!(message.contains("lists a pseudonym item"), "{message}");
    let message = refused(&|l| {
        l.relying_parties
            .iter_mut()
            .find(|rp| rp.id == "bank-a")
            .unwrap()
            .id = "Bank A".into();
    });
    assert!(message.contains("cannot have a pseudonym"), "{message}");
    let message = refused(&|l| {
        for rp in &mut l.relying_parties {
            rp.certificate = Some("MIIB".into());
        }
    });
    assert!(message.contains("one reader certificate"), "{message}");
    // And when registering: a certificate another relying party has is refused.
    let mut list = full.clone();
    for id in ["bank-1", "bank-2"] {
        let refused = add_relying_party(
            &mut list,
            id,
            id,
            code,
            &[(Purpose::BankAccountOpening, None)],
            Some(b"the same certificate"),
            true,
        );
        if id == "bank-1" {
            refused.unwrap();
        } else {
            assert!(
                matches!(&refused, Err(TrustError::Content(m)) if m.contains("registered for bank-1 already")),
                "{refused:?}"
            );
        }
    }
}
