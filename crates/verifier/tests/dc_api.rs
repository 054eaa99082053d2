//! A bank's page asks through the W3C Digital Credentials API with ISO/IEC 18013-7 Annex C
//! (`org-iso-mdoc`) and OpenID4VP 1.0 Appendix A (`openid4vp-v1-signed`,
//! `openid4vp-v1-unsigned`): the verifier makes the request for the page's origin, the
//! wallet library answers it as a native app would (the request, the data and the origin
//! its platform hands it), the verifier opens and verifies the answer. Accepted exchanges,
//! then one test per check that must refuse one.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use common::{NOW, Reader, World};
use eid_core::OsRandom;
use eid_oid4vc::vp::VpError;
use eid_trust::Purpose;
use eid_verifier::dc_api::MdocDcApiRequest;
use eid_verifier::in_person::ReaderIdentity;
use eid_verifier::openid4vp::{DcApiTerms, OnlineSession};
use eid_wallet::dc_api::{DigitalCredentialRequest, receive};
use eid_wallet::in_person::RequestRefused;
use eid_wallet::online::Held;
use serde_json::Value;
use time::Duration;

const BANK: &str = "https://bank.example";

fn ask(reader: &Reader, purpose: Purpose, origin: &str) -> (MdocDcApiRequest, Value) {
    MdocDcApiRequest::new(
        &ReaderIdentity {
            signer: &reader.key,
            certificate: &reader.certificate,
            relying_party: reader.id,
        },
        purpose,
        &["family_name".to_owned(), "document_number".to_owned()],
        true,
        false,
        origin,
    )
    .unwrap()
}

/// What the phone's platform hands the wallet for the page at `origin`.
fn handed<'a>(entry: &'a Value, origin: &'a str) -> DigitalCredentialRequest<'a> {
    DigitalCredentialRequest {
        protocol: entry["protocol"].as_str().unwrap(),
        data: &entry["data"],
        origin,
    }
}

#[test]
fn the_bank_opens_an_account_through_the_browser_with_the_mdoc() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (request, entry) = ask(&world.bank, Purpose::BankAccountOpening, BANK);
    assert_eq!(entry["protocol"], "org-iso-mdoc");
    let pending = receive(&handed(&entry, BANK), &world.trust, NOW).unwrap();
    assert_eq!(pending.consent.relying_party, "nanning-bank");
    assert_eq!(pending.consent.purpose, Purpose::BankAccountOpening);
    assert!(pending.consent.intends_to_retain);
    let answer = pending
        .respond(
            Held::Mdoc(&world.credential),
            &world.device_key,
            &OsRandom,
            NOW,
        )
        .unwrap();
    let report = request.finish(&verifier, &answer, NOW);
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.format, Some("mso_mdoc"));
    assert_eq!(report.attributes["document_number"], "450103199003070024");
    assert_eq!(report.wallet_provider.as_deref(), Some("superapp-a"));
}

#[test]
fn another_origin_is_refused_by_the_wallet_and_by_the_verifier() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (request, entry) = ask(&world.bank, Purpose::BankAccountOpening, BANK);
    // A page elsewhere replays the bank's request: the reader signed over the bank's
    // origin, so the wallet refuses it.
    let elsewhere = "https://bank.example.evil";
    assert_eq!(
        receive(&handed(&entry, elsewhere), &world.trust, NOW).unwrap_err(),
        RequestRefused::ReaderSignature
    );
    // A wallet that answered for the other origin anyway: its answer does not open for
    // the bank's.
    let (_, elsewhere_entry) = ask(&world.bank, Purpose::BankAccountOpening, elsewhere);
    let answer = receive(&handed(&elsewhere_entry, elsewhere), &world.trust, NOW)
        .unwrap()
        .respond(
            Held::Mdoc(&world.credential),
            &world.device_key,
            &OsRandom,
            NOW,
        )
        .unwrap();
    let report = request.finish(&verifier, &answer, NOW);
    assert!(!report.accepted);
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0]
            .message
            .contains("another request or another page")
    );
}

#[test]
fn an_answer_to_another_request_or_sealed_to_another_key_is_refused() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (first, first_entry) = ask(&world.bank, Purpose::BankAccountOpening, BANK);
    let (second, _) = ask(&world.bank, Purpose::BankAccountOpening, BANK);
    let answer = receive(&handed(&first_entry, BANK), &world.trust, NOW)
        .unwrap()
        .respond(
            Held::Mdoc(&world.credential),
            &world.device_key,
            &OsRandom,
            NOW,
        )
        .unwrap();
    assert!(first.finish(&verifier, &answer, NOW).accepted);
    // The same answer brought to the other request (another nonce, another key).
    let report = second.finish(&verifier, &answer, NOW);
    assert_eq!(report.codes(), ["presentation_not_verified"]);

    // An answer sealed under the right transcript to another key.
    let transcript = eid_mdoc::dcapi::session_transcript(
        first_entry["data"]["encryptionInfo"].as_str().unwrap(),
        BANK,
    );
    let response = eid_mdoc::present::present(
        &world.credential,
        &["family_name"],
        &world.device_key,
        &transcript,
    )
    .unwrap();
    let stranger = eid_crypto::hpke::HpkeRecipient::generate().unwrap();
    let info = eid_mdoc::dcapi::EncryptionInfo {
        nonce: vec![1; 16],
        recipient_public_key: eid_crypto::VerifyingKey::from_sec1(
            eid_crypto::Algorithm::Es256,
            stranger.public_point(),
        )
        .unwrap(),
    };
    let sealed = eid_mdoc::dcapi::seal_response(&response, &info, &transcript).unwrap();
    let to_stranger = serde_json::json!({ "response": base64_url(&sealed) });
    assert_eq!(
        first.finish(&verifier, &to_stranger, NOW).codes(),
        ["presentation_not_verified"]
    );

    // Sealed right, but device-signed over another origin's transcript: it opens and does
    // not verify.
    let other = eid_mdoc::dcapi::session_transcript(
        first_entry["data"]["encryptionInfo"].as_str().unwrap(),
        "https://bank.example.evil",
    );
    let signed_elsewhere = eid_mdoc::present::present(
        &world.credential,
        &["family_name"],
        &world.device_key,
        &other,
    )
    .unwrap();
    let first_info = eid_mdoc::dcapi::EncryptionInfo::parse(&base64_decode(
        first_entry["data"]["encryptionInfo"].as_str().unwrap(),
    ))
    .unwrap();
    let sealed =
        eid_mdoc::dcapi::seal_response(&signed_elsewhere, &first_info, &transcript).unwrap();
    let report = first.finish(
        &verifier,
        &serde_json::json!({ "response": base64_url(&sealed) }),
        NOW,
    );
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0].message.contains("device"),
        "{}",
        report.reasons[0].message
    );
}

#[test]
fn the_wallet_refuses_what_it_cannot_read_or_what_the_registration_does_not_allow() {
    let world = World::new();
    let (_, entry) = ask(&world.bank, Purpose::BankAccountOpening, BANK);
    let refused = |protocol: &str, data: &Value| {
        receive(
            &DigitalCredentialRequest {
                protocol,
                data,
                origin: BANK,
            },
            &world.trust,
            NOW,
        )
        .unwrap_err()
    };
    assert!(matches!(
        refused("openid4vp-v1-multisigned", &entry["data"]),
        RequestRefused::UnsupportedProtocol(p) if p == "openid4vp-v1-multisigned"
    ));
    // An mdoc request handed over as OpenID4VP is not one.
    for protocol in ["openid4vp-v1-signed", "openid4vp-v1-unsigned"] {
        assert!(matches!(
            refused(protocol, &entry["data"]),
            RequestRefused::Online(VpError::Malformed(_))
        ));
    }
    for data in [
        serde_json::json!({}),
        serde_json::json!({"deviceRequest": "!!", "encryptionInfo": entry["data"]["encryptionInfo"]}),
        serde_json::json!({"deviceRequest": entry["data"]["deviceRequest"], "encryptionInfo": "AAAA"}),
    ] {
        assert!(
            matches!(
                refused("org-iso-mdoc", &data),
                RequestRefused::Unreadable(_)
            ),
            "{data}"
        );
    }
    // The bar is registered for age checks only: asking for a bank's attributes through
    // the browser is refused as in person.
    let (_, bar_entry) = ask(&world.bar, Purpose::AgeCheck, BANK);
    assert!(matches!(
        receive(&handed(&bar_entry, BANK), &world.trust, NOW).unwrap_err(),
        RequestRefused::BeyondPurpose { .. }
    ));
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// An OpenID4VP request through the API from the page at `origin`, signed by the bank's
/// reader key or unsigned.
fn ask_openid4vp(
    verifier: &eid_verifier::Verifier,
    reader: &Reader,
    signed: bool,
    origin: &str,
) -> (OnlineSession, Value) {
    verifier
        .dc_api_request(
            &DcApiTerms {
                purpose: Purpose::BankAccountOpening,
                attributes: None,
                intent_to_retain: false,
                signer: signed.then_some((
                    &reader.key as &dyn eid_crypto::Signer,
                    &reader.certificate[..],
                )),
                origin,
                lifetime: Duration::minutes(5),
            },
            NOW,
            &OsRandom,
        )
        .unwrap()
}

/// The world with the bank's registration listing `origin` as its pages' web origin.
fn with_origin(world: &World, origin: &str) -> eid_trust::VerifiedTrustList {
    world
        .next_trust_list(|draft| {
            eid_trust::edit::set_web_origins(draft, "nanning-bank", &[origin.to_owned()]).unwrap();
        })
        .1
}

fn answer(
    world: &World,
    trust: &eid_trust::VerifiedTrustList,
    entry: &Value,
    origin: &str,
    held: Held<'_>,
) -> Result<Value, RequestRefused> {
    let pending = receive(&handed(entry, origin), trust, NOW)?;
    Ok(pending
        .respond(held, &world.device_key, &OsRandom, NOW)
        .unwrap())
}

#[test]
fn the_bank_opens_an_account_through_the_browser_with_openid4vp_in_either_format() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let sd_jwt = world.sd_jwt();
    for held in [Held::Mdoc(&world.credential), Held::SdJwt(&sd_jwt)] {
        let (session, entry) = ask_openid4vp(&verifier, &world.bank, true, BANK);
        assert_eq!(entry["protocol"], "openid4vp-v1-signed");
        let pending = receive(&handed(&entry, BANK), &world.trust, NOW).unwrap();
        assert_eq!(pending.consent.relying_party, "nanning-bank");
        assert_eq!(pending.consent.purpose, Purpose::BankAccountOpening);
        let data = pending
            .respond(held, &world.device_key, &OsRandom, NOW)
            .unwrap();
        let report = verifier.verify_dc_api(&session, &data, NOW);
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(report.attributes["document_number"], "450103199003070024");
    }
}

#[test]
fn a_signed_request_is_answered_only_from_an_expected_origin() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (_, entry) = ask_openid4vp(&verifier, &world.bank, true, BANK);
    // Replayed by a page elsewhere: the request does not name that origin.
    let elsewhere = "https://bank.example.evil";
    assert_eq!(
        receive(&handed(&entry, elsewhere), &world.trust, NOW).unwrap_err(),
        RequestRefused::Online(VpError::Origin)
    );
    // A wallet that answered anyway, for the page it was on: the presentation is bound to
    // that origin, and the bank's check refuses it — mdoc and SD-JWT alike.
    let sd_jwt = world.sd_jwt();
    for held in [Held::Mdoc(&world.credential), Held::SdJwt(&sd_jwt)] {
        // The control: the same flow for the bank's own page is accepted.
        let (session, entry) = ask_openid4vp(&verifier, &world.bank, true, BANK);
        let straight = answered_elsewhere(&entry, &world, held, BANK);
        assert!(verifier.verify_dc_api(&session, &straight, NOW).accepted);
        let relayed = answered_elsewhere(&entry, &world, held, elsewhere);
        let report = verifier.verify_dc_api(&session, &relayed, NOW);
        assert_eq!(report.codes(), ["presentation_not_verified"], "{held:?}");
    }
}

/// The answer a wallet that does not check `expected_origins` makes to the bank's request
/// `entry` on a page at `origin`, for that page to relay to the bank: sealed to the bank's
/// key, with the bank's nonce, the presentation bound to `origin`.
fn answered_elsewhere(entry: &Value, world: &World, held: Held<'_>, origin: &str) -> Value {
    // Such a wallet is this one given the request with `origin` among the expected ones.
    let jwt = entry["data"]["request"].as_str().unwrap();
    let jws = eid_sdjwt::Jws::parse(jwt).unwrap();
    let mut request: eid_oid4vc::vp::AuthorizationRequest =
        serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
    request.expected_origins.push(origin.to_owned());
    let resigned =
        eid_oid4vc::vp::sign_request(&request, &world.bank.key, &world.bank.certificate).unwrap();
    let entry =
        serde_json::json!({"protocol": "openid4vp-v1-signed", "data": {"request": resigned}});
    answer(world, &world.trust, &entry, origin, held).unwrap()
}

#[test]
fn a_signed_request_without_expected_origins_is_refused() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (_, entry) = ask_openid4vp(&verifier, &world.bank, true, BANK);
    let jws = eid_sdjwt::Jws::parse(entry["data"]["request"].as_str().unwrap()).unwrap();
    let mut request: eid_oid4vc::vp::AuthorizationRequest =
        serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
    request.expected_origins.clear();
    let resigned =
        eid_oid4vc::vp::sign_request(&request, &world.bank.key, &world.bank.certificate).unwrap();
    let entry =
        serde_json::json!({"protocol": "openid4vp-v1-signed", "data": {"request": resigned}});
    assert_eq!(
        receive(&handed(&entry, BANK), &world.trust, NOW).unwrap_err(),
        RequestRefused::Online(VpError::Origin)
    );
}

#[test]
fn an_unsigned_request_is_answered_for_the_one_party_registered_for_the_origin() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (session, entry) = ask_openid4vp(&verifier, &world.bank, false, BANK);
    assert_eq!(entry["protocol"], "openid4vp-v1-unsigned");
    assert!(entry["data"].get("client_id").is_none());
    // Not registered: nothing says who asks.
    assert_eq!(
        receive(&handed(&entry, BANK), &world.trust, NOW).unwrap_err(),
        RequestRefused::UnknownOrigin(BANK.to_owned())
    );
    // Registered for the bank: answered, and accepted.
    let trust = with_origin(&world, BANK);
    let data = answer(&world, &trust, &entry, BANK, Held::Mdoc(&world.credential)).unwrap();
    let report = verifier.verify_dc_api(&session, &data, NOW);
    assert!(report.accepted, "{:?}", report.reasons);
    // A client_id in it names nobody (A.2): the registration of the origin decides, here
    // the bank's, whose registration does not cover a hotel's purpose.
    let mut claims_hotel = entry.clone();
    claims_hotel["data"]["client_id"] = Value::from(eid_oid4vc::vp::x509_hash_client_id(
        &world.hotel.certificate,
    ));
    claims_hotel["data"]["verifier_info"] =
        serde_json::json!([{"format": "eid_purpose", "data": {"purpose": "hotel_check_in"}}]);
    assert!(matches!(
        receive(&handed(&claims_hotel, BANK), &trust, NOW).unwrap_err(),
        RequestRefused::PurposeNotRegistered { .. }
    ));
    // An origin is one party's: the trust list cannot give the bank's to the hotel too.
    let mut draft = world.draft.clone();
    eid_trust::edit::set_web_origins(&mut draft, "nanning-bank", &[BANK.to_owned()]).unwrap();
    assert!(
        eid_trust::edit::set_web_origins(&mut draft, "nanning-hotel", &[BANK.to_owned()]).is_err()
    );
    for rp in &mut draft.relying_parties {
        rp.web_origins = vec![BANK.to_owned()];
    }
    assert!(matches!(
        eid_trust::signed::sign(&draft, &world.root, NOW, Duration::days(7)),
        Err(eid_trust::TrustError::Content(_))
    ));
}

#[test]
fn an_openid4vp_answer_to_another_request_or_with_another_nonce_is_refused() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (first, first_entry) = ask_openid4vp(&verifier, &world.bank, true, BANK);
    let (second, _) = ask_openid4vp(&verifier, &world.bank, true, BANK);
    let data = answer(
        &world,
        &world.trust,
        &first_entry,
        BANK,
        Held::Mdoc(&world.credential),
    )
    .unwrap();
    assert!(verifier.verify_dc_api(&first, &data, NOW).accepted);
    // Brought to the other request: sealed to another key.
    let report = verifier.verify_dc_api(&second, &data, NOW);
    assert_eq!(report.codes(), ["presentation_not_verified"]);

    // The same key but another nonce: the request re-signed with a nonce of the attacker's
    // choosing; the presentation is bound to it, not to the bank's.
    let sd_jwt = world.sd_jwt();
    for held in [Held::Mdoc(&world.credential), Held::SdJwt(&sd_jwt)] {
        let jws = eid_sdjwt::Jws::parse(first_entry["data"]["request"].as_str().unwrap()).unwrap();
        let mut request: eid_oid4vc::vp::AuthorizationRequest =
            serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
        request.nonce = "another-nonce-0123456789".into();
        let resigned =
            eid_oid4vc::vp::sign_request(&request, &world.bank.key, &world.bank.certificate)
                .unwrap();
        let entry =
            serde_json::json!({"protocol": "openid4vp-v1-signed", "data": {"request": resigned}});
        let data = answer(&world, &world.trust, &entry, BANK, held).unwrap();
        let report = verifier.verify_dc_api(&first, &data, NOW);
        assert_eq!(report.codes(), ["presentation_not_verified"], "{held:?}");
    }
}

#[test]
fn a_wallet_error_through_the_page_is_reported_as_such() {
    let world = World::new();
    let verifier = world.verifier("nanning-bank");
    let (session, _) = ask_openid4vp(&verifier, &world.bank, true, BANK);
    let declined = serde_json::json!({"error": "access_denied"});
    assert_eq!(
        verifier.verify_dc_api(&session, &declined, NOW).codes(),
        ["holder_declined"]
    );
    let nothing = serde_json::json!({"vp_token": {}});
    assert_eq!(
        verifier.verify_dc_api(&session, &nothing, NOW).codes(),
        ["presentation_not_verified"]
    );
}
