//! A bank's page asks through the W3C Digital Credentials API with ISO/IEC 18013-7 Annex C
//! (`org-iso-mdoc`): the verifier makes the request for the page's origin, the wallet
//! library answers it as a native app would (the request, the data and the origin its
//! platform hands it), the verifier opens and verifies the answer. One accepted exchange,
//! then one test per check that must refuse it.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use common::{NOW, Reader, World};
use eid_trust::Purpose;
use eid_verifier::dc_api::MdocDcApiRequest;
use eid_verifier::in_person::ReaderIdentity;
use eid_wallet::dc_api::{DigitalCredentialRequest, receive};
use eid_wallet::in_person::RequestRefused;
use serde_json::Value;

const BANK: &str = "https://bank.example";

fn ask(reader: &Reader, purpose: Purpose, origin: &str) -> (MdocDcApiRequest, Value) {
    MdocDcApiRequest::new(
        &ReaderIdentity {
            signer: &reader.key,
            certificate: &reader.certificate,
        },
        purpose,
        &["family_name".to_owned(), "document_number".to_owned()],
        true,
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
        .respond(&world.credential, &world.device_key)
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
        .respond(&world.credential, &world.device_key)
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
        .respond(&world.credential, &world.device_key)
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
        refused("openid4vp-v1-unsigned", &entry["data"]),
        RequestRefused::UnsupportedProtocol(p) if p == "openid4vp-v1-unsigned"
    ));
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
