//! In person, over TCP on loopback: the phone shows its engagement QR, the desk reads it,
//! connects, asks; the phone checks the desk against the trust list, the holder consents,
//! the desk verifies. One accepted exchange, then one test per thing that must refuse it.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use std::net::{TcpListener, TcpStream};

use common::{IDX, NOW, Reader, STATUS_URI, World};
use eid_core::status::CredentialStatus;
use eid_mdoc::engagement::DeviceEngagement;
use eid_mdoc::transport::{Framed, Transport};
use eid_trust::Purpose;
use eid_verifier::in_person::{ReaderIdentity, ReaderSession, present_in_person};
use eid_verifier::{Report, Verifier};
use eid_wallet::in_person::{ConsentRequest, Engagement, RequestRefused, refusal};
use time::Duration;

/// What the phone did with the request.
type PhoneOutcome = Result<ConsentRequest, RequestRefused>;

fn verifier(world: &World, relying_party: &str) -> Verifier {
    world.verifier(relying_party)
}

/// One exchange: the phone (holding `credential`) on a thread behind a TCP listener, the
/// desk `reader` asking for `attributes` for `purpose`.
fn exchange(
    world: &World,
    credential: &[u8],
    verifier: &Verifier,
    reader: &Reader,
    purpose: Purpose,
    attributes: &[&str],
) -> (Report, PhoneOutcome) {
    exchange_with(
        Engagement::new,
        world,
        credential,
        verifier,
        reader,
        purpose,
        attributes,
    )
}

/// [`exchange`], the phone's engagement made by `engage` (given the phone's address).
fn exchange_with(
    engage: fn(Option<&str>) -> Result<Engagement, eid_mdoc::MdocError>,
    world: &World,
    credential: &[u8],
    verifier: &Verifier,
    reader: &Reader,
    purpose: Purpose,
    attributes: &[&str],
) -> (Report, PhoneOutcome) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let engagement = engage(Some(&address)).unwrap();
    let qr = engagement.qr_uri();
    let attributes: Vec<String> = attributes.iter().map(|a| (*a).to_owned()).collect();
    std::thread::scope(|s| {
        let listener = &listener;
        let phone = s.spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut transport = Framed(stream);
            let establishment = transport.receive().unwrap();
            match engagement.receive(&establishment, &world.trust, NOW) {
                Ok(pending) => {
                    let consent = pending.consent.clone();
                    let answer = pending.respond(credential, &world.device_key).unwrap();
                    transport.send(&answer).unwrap();
                    Ok(consent)
                }
                Err(refused) => {
                    transport.send(&refusal()).unwrap();
                    Err(refused)
                }
            }
        });
        let read = DeviceEngagement::from_qr_uri(&qr).unwrap();
        let stream = TcpStream::connect(read.tcp_address.as_deref().unwrap()).unwrap();
        let report = present_in_person(
            &mut Framed(stream),
            &read,
            &ReaderIdentity {
                signer: &reader.key,
                certificate: &reader.certificate,
                relying_party: reader.id,
            },
            verifier,
            purpose,
            &attributes,
            || NOW,
        );
        (report, phone.join().unwrap())
    })
}

#[test]
fn a_nanning_hotel_accepts_in_person() {
    let world = World::new();
    let verifier = verifier(&world, "nanning-hotel");
    let asked = verifier.registered_attributes(Purpose::HotelCheckIn);
    let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
    let (report, phone) = exchange(
        &world,
        &world.credential,
        &verifier,
        &world.hotel,
        Purpose::HotelCheckIn,
        &asked,
    );
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.issuer.as_deref(), Some("cn-4501"));
    assert_eq!(report.wallet_provider.as_deref(), Some("superapp-a"));
    assert_eq!(report.format, Some("mso_mdoc"));
    assert_eq!(report.attributes["family_name"], "韦");
    assert_eq!(report.attributes["birth_date"], "1990-03-07");
    assert_eq!(report.attributes["portrait"], "/9j/");
    // Asked for exactly the registration; the holder saw who asks for what, and why.
    let consent = phone.unwrap();
    assert_eq!(consent.relying_party, "nanning-hotel");
    assert_eq!(consent.purpose, Purpose::HotelCheckIn);
    assert_eq!(consent.region, "450102");
    assert_eq!(consent.attributes, asked);
    let mut disclosed: Vec<&str> = report.attributes.keys().map(String::as_str).collect();
    disclosed.sort_unstable();
    let mut expected = asked.clone();
    expected.sort_unstable();
    assert_eq!(disclosed, expected);
}

#[test]
fn a_hangzhou_hotel_refuses_a_credential_of_the_nanning_pilot() {
    let world = World::new();
    let verifier = verifier(&world, "hangzhou-hotel");
    let (report, phone) = exchange(
        &world,
        &world.credential,
        &verifier,
        &world.hangzhou_hotel,
        Purpose::HotelCheckIn,
        &["family_name", "given_name"],
    );
    assert!(phone.is_ok());
    assert_eq!(report.codes(), ["issuer_not_authorised"]);
    assert!(report.attributes.is_empty(), "a refusal keeps no data");
}

#[test]
fn a_pushed_suspension_refuses_at_once_and_a_pushed_valid_does_not_undo_it() {
    let world = World::new();
    let mut verifier = verifier(&world, "nanning-hotel");
    assert!(
        verifier
            .statuses_mut()
            .apply_push(STATUS_URI, IDX, CredentialStatus::Suspended)
    );
    let ask = ["family_name", "given_name"];
    let run = |verifier: &Verifier| {
        exchange(
            &world,
            &world.credential,
            verifier,
            &world.hotel,
            Purpose::HotelCheckIn,
            &ask,
        )
        .0
    };
    assert_eq!(run(&verifier).codes(), ["status_suspended"]);
    // An unsigned push can make an entry stricter, never admit it again.
    assert!(
        !verifier
            .statuses_mut()
            .apply_push(STATUS_URI, IDX, CredentialStatus::Valid)
    );
    assert_eq!(run(&verifier).codes(), ["status_suspended"]);
    // An older signed list cannot come back either; a newer one (still VALID) is the
    // issuer's word and reinstates.
    assert!(
        verifier
            .store_status_list(
                "cn-4501",
                STATUS_URI,
                &world.status_token(NOW - Duration::minutes(6)),
                NOW
            )
            .is_err()
    );
    verifier
        .store_status_list(
            "cn-4501",
            STATUS_URI,
            &world.status_token(NOW - Duration::minutes(1)),
            NOW,
        )
        .unwrap();
    assert!(run(&verifier).accepted);
}

#[test]
fn without_its_status_list_the_status_is_undetermined() {
    let world = World::new();
    let verifier = Verifier::new(world.trust.clone(), "nanning-hotel", NOW);
    let (report, _) = exchange(
        &world,
        &world.credential,
        &verifier,
        &world.hotel,
        Purpose::HotelCheckIn,
        &["family_name"],
    );
    assert_eq!(report.codes(), ["status_undetermined"]);
}

#[test]
fn a_credential_in_a_suspended_providers_wallet_is_refused() {
    let world = World::new();
    let credential = World::issue(&world.nanning, &world.device_key, "superapp-b");
    let verifier = verifier(&world, "nanning-hotel");
    let (report, _) = exchange(
        &world,
        &credential,
        &verifier,
        &world.hotel,
        Purpose::HotelCheckIn,
        &["family_name"],
    );
    assert_eq!(report.codes(), ["wallet_provider_suspended"]);
}

#[test]
fn a_bar_asking_beyond_its_age_check_is_refused_by_the_phone() {
    let world = World::new();
    let verifier = verifier(&world, "nanning-bar");
    let (report, phone) = exchange(
        &world,
        &world.credential,
        &verifier,
        &world.bar,
        Purpose::AgeCheck,
        &["age_over_18", "document_number"],
    );
    assert_eq!(
        phone.unwrap_err(),
        RequestRefused::BeyondPurpose {
            relying_party: "南宁酒吧".into(),
            purpose: Purpose::AgeCheck,
            attribute: "document_number".into(),
        }
    );
    assert_eq!(report.codes(), ["holder_declined"]);
    // Within its registration, the same bar is answered.
    let (report, phone) = exchange(
        &world,
        &world.credential,
        &verifier,
        &world.bar,
        Purpose::AgeCheck,
        &["age_over_18"],
    );
    assert!(phone.is_ok());
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.attributes.len(), 1);
}

#[test]
fn a_desk_naming_a_purpose_it_is_not_registered_for_is_refused() {
    let world = World::new();
    let verifier = verifier(&world, "nanning-hotel");
    let (_, phone) = exchange(
        &world,
        &world.credential,
        &verifier,
        &world.hotel,
        Purpose::AgeCheck,
        &["age_over_18"],
    );
    assert_eq!(
        phone.unwrap_err(),
        RequestRefused::PurposeNotRegistered {
            relying_party: "南宁民族大道酒店".into(),
            purpose: Purpose::AgeCheck,
        }
    );
}

#[test]
fn a_desk_with_an_unregistered_certificate_is_refused() {
    let world = World::new();
    let verifier = verifier(&world, "nanning-hotel");
    let mut stranger = World::new().hotel;
    stranger.id = "nanning-hotel";
    let (report, phone) = exchange(
        &world,
        &world.credential,
        &verifier,
        &stranger,
        Purpose::HotelCheckIn,
        &["family_name"],
    );
    assert_eq!(phone.unwrap_err(), RequestRefused::UnknownReader);
    assert_eq!(report.codes(), ["holder_declined"]);
}

/// The hotel's registered certificate with a key that is not its own.
fn impostor(world: &World) -> Reader {
    Reader {
        id: "nanning-hotel",
        key: eid_crypto::SigningKey::generate().unwrap(),
        certificate: world.hotel.certificate.clone(),
    }
}

#[test]
fn a_desk_signing_with_another_key_than_its_certificates_is_refused() {
    let world = World::new();
    let verifier = verifier(&world, "nanning-hotel");
    let impostor = impostor(&world);
    let (_, phone) = exchange(
        &world,
        &world.credential,
        &verifier,
        &impostor,
        Purpose::HotelCheckIn,
        &["family_name"],
    );
    assert_eq!(phone.unwrap_err(), RequestRefused::ReaderSignature);
}

/// A phone of the second edition (engagement 1.1, ReaderAuthAllSupport) gets one signature
/// over the whole request; it accepts the hotel's and refuses an impostor's, as the first
/// edition's phone does per document.
#[test]
fn a_second_edition_phone_checks_one_signature_over_the_whole_request() {
    let world = World::new();
    let verifier = verifier(&world, "nanning-hotel");
    let (report, phone) = exchange_with(
        Engagement::second_edition,
        &world,
        &world.credential,
        &verifier,
        &world.hotel,
        Purpose::HotelCheckIn,
        &["family_name"],
    );
    assert!(report.accepted, "{:?}", report.codes());
    assert_eq!(phone.unwrap().relying_party, "nanning-hotel");
    let impostor = impostor(&world);
    let (report, phone) = exchange_with(
        Engagement::second_edition,
        &world,
        &world.credential,
        &verifier,
        &impostor,
        Purpose::HotelCheckIn,
        &["family_name"],
    );
    assert_eq!(phone.unwrap_err(), RequestRefused::ReaderSignature);
    assert_eq!(report.codes(), ["holder_declined"]);
}

#[test]
fn a_recorded_response_does_not_open_in_another_session() {
    let world = World::new();
    let verifier = verifier(&world, "nanning-hotel");
    let reader = ReaderIdentity {
        signer: &world.hotel.key,
        certificate: &world.hotel.certificate,
        relying_party: world.hotel.id,
    };
    let ask = vec!["family_name".to_owned()];
    // A first session, recorded by a relay.
    let engagement = Engagement::new(None).unwrap();
    let read = DeviceEngagement::from_qr_uri(&engagement.qr_uri()).unwrap();
    let (_, establishment) =
        ReaderSession::start(&read, &reader, Purpose::HotelCheckIn, &ask, false).unwrap();
    let recorded = engagement
        .receive(&establishment, &world.trust, NOW)
        .unwrap()
        .respond(&world.credential, &world.device_key)
        .unwrap();
    // Replayed into a new session, from the same (screenshotted) QR code.
    let (later, _) =
        ReaderSession::start(&read, &reader, Purpose::HotelCheckIn, &ask, false).unwrap();
    let report = later.finish(&verifier, &recorded, NOW);
    assert_eq!(report.codes(), ["presentation_not_verified"]);
}

#[test]
fn a_new_trust_list_widening_the_scope_lets_the_hangzhou_hotel_accept() {
    let world = World::new();
    let mut verifier = verifier(&world, "hangzhou-hotel");
    let ask = ["family_name", "given_name"];
    let run = |verifier: &Verifier| {
        exchange(
            &world,
            &world.credential,
            verifier,
            &world.hangzhou_hotel,
            Purpose::HotelCheckIn,
            &ask,
        )
        .0
    };
    assert_eq!(run(&verifier).codes(), ["issuer_not_authorised"]);
    // Version 2: the national authorisation, without reissuing anything.
    let (_, v2) = world.next_trust_list(|draft| {
        eid_trust::edit::set_scope(
            draft,
            "cn-4501",
            eid_trust::AcceptanceScope {
                region: eid_core::region::Scope::parse("nation").unwrap(),
                purposes: Purpose::ALL.to_vec(),
                valid_from: NOW - Duration::days(1),
                valid_until: None,
            },
            false,
        )
        .unwrap();
    });
    assert_eq!(v2.list().version, 2);
    verifier.replace_trust(v2, NOW);
    let report = run(&verifier);
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.trust_list_version, 2);
}

/// The desk's face check on an accepted report, where the purpose requires a match (the
/// hotel's, once the trust list says so) and where it does not (before). Each outcome that
/// must refuse does, with its own reason, and takes the attributes with it.
#[test]
fn a_required_face_match_refuses_a_mismatch_or_no_match_and_only_reports_otherwise() {
    use eid_verifier::{FaceCheck, Presence};
    let world = World::new();
    let mut verifier = verifier(&world, "nanning-hotel");
    let asked = verifier.registered_attributes(Purpose::HotelCheckIn);
    let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
    let accepted = |verifier: &Verifier| {
        let (report, _) = exchange(
            &world,
            &world.credential,
            verifier,
            &world.hotel,
            Purpose::HotelCheckIn,
            &asked,
        );
        assert!(report.accepted, "{:?}", report.reasons);
        report
    };
    let close = FaceCheck::Compared {
        distance: 0.31,
        threshold: 0.6,
        live: None,
    };
    let far = FaceCheck::Compared {
        distance: 0.84,
        threshold: 0.6,
        live: None,
    };
    // The same face, and the head turn asked: passed, or not.
    let turned = FaceCheck::Compared {
        distance: 0.31,
        threshold: 0.6,
        live: Some(Ok(())),
    };
    let still = FaceCheck::Compared {
        distance: 0.31,
        threshold: 0.6,
        live: Some(Err("the head did not turn".into())),
    };
    let none = FaceCheck::NotCompared("no photograph was taken".into());
    // Not required (the default catalogue): reported, never refused.
    let report = verifier.with_face_check(accepted(&verifier), far.clone());
    assert!(report.accepted);
    assert_eq!(
        report.presence,
        Some(Presence {
            matched: false,
            score: 0.84,
            threshold: 0.6,
            live: None,
        })
    );
    // Not required: a failed head turn is reported, not refused.
    let report = verifier.with_face_check(accepted(&verifier), still.clone());
    assert!(report.accepted);
    assert_eq!(report.presence.and_then(|p| p.live), Some(false));
    let report = verifier.with_face_check(accepted(&verifier), none.clone());
    assert!(report.accepted && report.presence.is_none());
    // Version 2 requires a match for hotel check-in.
    let (_, v2) = world.requiring_face_match(Purpose::HotelCheckIn);
    verifier.replace_trust(v2, NOW);
    let report = verifier.with_face_check(accepted(&verifier), close);
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.presence.map(|p| p.matched), Some(true));
    assert_eq!(report.attributes["family_name"], "韦");
    // At the threshold: still the same person.
    let at = FaceCheck::Compared {
        distance: 0.6,
        threshold: 0.6,
        live: None,
    };
    assert!(verifier.with_face_check(accepted(&verifier), at).accepted);
    // Required: the head turn passed is accepted and said; failed, refused with its own
    // reason, the faces' match still reported.
    let report = verifier.with_face_check(accepted(&verifier), turned);
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.presence.and_then(|p| p.live), Some(true));
    let report = verifier.with_face_check(accepted(&verifier), still);
    assert_eq!(report.codes(), ["face_not_live"]);
    assert!(report.attributes.is_empty());
    assert!(
        report.reasons[0].message.contains("did not turn"),
        "{report:?}"
    );
    assert_eq!(
        report.presence.map(|p| (p.matched, p.live)),
        Some((true, Some(false)))
    );
    let report = verifier.with_face_check(accepted(&verifier), far);
    assert_eq!(report.codes(), ["face_mismatch"]);
    assert!(report.attributes.is_empty());
    assert_eq!(report.presence.map(|p| p.matched), Some(false));
    assert!(report.reasons[0].message.contains("0.84"), "{report:?}");
    let report = verifier.with_face_check(accepted(&verifier), none.clone());
    assert_eq!(report.codes(), ["face_not_checked"]);
    assert!(report.attributes.is_empty() && report.presence.is_none());
    assert!(
        report.reasons[0]
            .message
            .contains("no photograph was taken")
    );
    // A refused report stays as it was.
    let mut suspended = verifier;
    suspended
        .statuses_mut()
        .apply_push(STATUS_URI, IDX, CredentialStatus::Suspended);
    let (refused, _) = exchange(
        &world,
        &world.credential,
        &suspended,
        &world.hotel,
        Purpose::HotelCheckIn,
        &asked,
    );
    assert_eq!(
        suspended.with_face_check(refused, none).codes(),
        ["status_suspended"]
    );
}
