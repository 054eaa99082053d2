//! Online, over OpenID4VP 1.0: the Nanning bank's website makes a signed request by
//! reference, the phone checks it against the trust list and answers, encrypted, in either
//! format; the bank verifies the answer against its request. Then one test per thing the
//! phone or the bank must refuse.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use common::{IDX, NOW, Reader, STATUS_URI, World};
use eid_core::OsRandom;
use eid_core::status::CredentialStatus;
use eid_crypto::Signer;
use eid_oid4vc::vp::{AuthorizationRequest, VpError, parse_invocation, sign_request};
use eid_sdjwt::Jws;
use eid_trust::Purpose;
use eid_verifier::openid4vp::{OnlineRequest, OnlineTerms};
use eid_verifier::{Channel, Report, Verifier};
use eid_wallet::in_person::RequestRefused;
use eid_wallet::online::{Held, OnlineResponse, receive};
use serde_json::Value;
use time::Duration;

const BANK: &str = "nanning-bank";

fn request(verifier: &Verifier, reader: &Reader, purpose: Purpose) -> OnlineRequest {
    verifier
        .online_request(
            &OnlineTerms {
                purpose,
                attributes: None,
                intent_to_retain: true,
                signer: &reader.key,
                certificate: &reader.certificate,
                request_base: "https://bank.example/vp/request",
                response_uri: "https://bank.example/vp/response",
                lifetime: Duration::minutes(5),
            },
            NOW,
            &OsRandom,
        )
        .unwrap()
}

/// The `response` form field of the wallet's POST.
fn jwe(answer: &OnlineResponse) -> String {
    url::form_urlencoded::parse(answer.body.as_bytes())
        .find(|(k, _)| k == "response")
        .unwrap()
        .1
        .into_owned()
}

/// The phone's whole side: invocation → request object → checks → answer with `held`.
fn phone(world: &World, made: &OnlineRequest, held: Held<'_>) -> OnlineResponse {
    let (client_id, request_uri) = parse_invocation(&made.invocation).unwrap();
    assert_eq!(request_uri, made.request_uri);
    let pending = receive(&client_id, &made.request_object, &world.trust, NOW).unwrap();
    pending
        .respond(held, &world.device_key, &OsRandom, NOW)
        .unwrap()
}

fn bank_verifies(
    world: &World,
    verifier: &Verifier,
    made: &OnlineRequest,
    held: Held<'_>,
) -> Report {
    let answer = phone(world, made, held);
    assert_eq!(answer.response_uri, "https://bank.example/vp/response");
    verifier.verify_online(&made.session, &jwe(&answer), NOW)
}

#[test]
fn the_bank_opens_an_account_with_the_mdoc_online() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let made = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    // What the phone shows the holder before anything is shared.
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    let pending = receive(&client_id, &made.request_object, &world.trust, NOW).unwrap();
    assert_eq!(pending.consent.relying_party, BANK);
    assert_eq!(pending.consent.purpose, Purpose::BankAccountOpening);
    assert!(pending.consent.intends_to_retain);
    assert!(
        pending
            .consent
            .attributes
            .contains(&"document_number".to_owned())
    );

    let report = bank_verifies(&world, &verifier, &made, Held::Mdoc(&world.credential));
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.channel, Channel::Online);
    assert_eq!(report.format, Some("mso_mdoc"));
    assert_eq!(report.attributes["document_number"], "450103199003070024");
    assert_eq!(report.wallet_provider.as_deref(), Some("superapp-a"));
}

#[test]
fn the_bank_opens_an_account_with_the_sd_jwt_vc_online() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let made = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let credential = world.sd_jwt();
    let report = bank_verifies(&world, &verifier, &made, Held::SdJwt(&credential));
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.format, Some("dc+sd-jwt"));
    assert_eq!(report.attributes["family_name"], "韦");
    // Asked-for attributes the credential lacks (a portrait) are simply not there.
    assert!(report.attributes.get("portrait").is_none());
}

/// A lost phone: the pushed suspension reaches the bank, the next answer is refused.
#[test]
fn a_suspended_credential_is_refused_online() {
    let world = World::new();
    let mut verifier = world.verifier(BANK);
    verifier
        .statuses_mut()
        .apply_push(STATUS_URI, IDX, CredentialStatus::Suspended);
    let made = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let report = bank_verifies(&world, &verifier, &made, Held::Mdoc(&world.credential));
    assert_eq!(report.codes(), ["status_suspended"]);
    assert!(report.attributes.is_empty());
}

/// The request object, altered and re-signed by `signer` with `certificate` in `x5c`.
fn altered(
    made: &OnlineRequest,
    change: impl FnOnce(&mut AuthorizationRequest),
    signer: &dyn Signer,
    certificate: &[u8],
) -> String {
    let jws = Jws::parse(&made.request_object).unwrap();
    let mut request: AuthorizationRequest =
        serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
    change(&mut request);
    sign_request(&request, signer, certificate).unwrap()
}

fn phone_refuses(world: &World, made: &OnlineRequest, request_object: &str) -> RequestRefused {
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    receive(&client_id, request_object, &world.trust, NOW).unwrap_err()
}

#[test]
fn the_phone_refuses_requests_that_fail_their_own_checks() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let made = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let bank = &world.bank;
    // A changed payload byte: the signature.
    let mut parts: Vec<String> = made.request_object.split('.').map(str::to_owned).collect();
    let payload = eid_crypto::b64url_decode(&parts[1]).unwrap();
    let text = String::from_utf8(payload)
        .unwrap()
        .replace("vp_token", "vp_tokeN");
    parts[1] = eid_crypto::b64url(text.as_bytes());
    assert!(matches!(
        phone_refuses(&world, &made, &parts.join(".")),
        RequestRefused::Online(VpError::Signature)
    ));
    let mut parts: Vec<String> = made.request_object.split('.').map(str::to_owned).collect();
    let mut signature = eid_crypto::b64url_decode(&parts[2]).unwrap();
    signature[5] ^= 1;
    parts[2] = eid_crypto::b64url(&signature);
    assert_eq!(
        phone_refuses(&world, &made, &parts.join(".")),
        RequestRefused::Online(VpError::Signature)
    );
    // Signed by another relying party's key with the bank's certificate and client id.
    let forged = altered(&made, |_| {}, &world.hotel.key, &bank.certificate);
    assert_eq!(
        phone_refuses(&world, &made, &forged),
        RequestRefused::Online(VpError::Signature)
    );
    // The hotel's certificate under the bank's client id: the x509_hash does not match.
    let swapped = altered(&made, |_| {}, &world.hotel.key, &world.hotel.certificate);
    assert_eq!(
        phone_refuses(&world, &made, &swapped),
        RequestRefused::Online(VpError::ClientIdMismatch)
    );
    // A request object for another client id than the invocation's.
    let other = altered(
        &made,
        |r| r.client_id = eid_oid4vc::vp::x509_hash_client_id(&world.hotel.certificate),
        &world.hotel.key,
        &world.hotel.certificate,
    );
    assert_eq!(
        phone_refuses(&world, &made, &other),
        RequestRefused::Online(VpError::InvocationMismatch)
    );
    // Expired; unencrypted direct_post; another client id prefix.
    let expired = altered(
        &made,
        |r| r.exp = Some(NOW.unix_timestamp() - 1),
        &bank.key,
        &bank.certificate,
    );
    assert_eq!(
        phone_refuses(&world, &made, &expired),
        RequestRefused::Online(VpError::Expired)
    );
    // No exp at all (eid's profile requires one), and another aud.
    let endless = altered(&made, |r| r.exp = None, &bank.key, &bank.certificate);
    assert_eq!(
        phone_refuses(&world, &made, &endless),
        RequestRefused::Online(VpError::Expired)
    );
    let elsewhere = altered(
        &made,
        |r| r.aud = Some("https://wallet.example".into()),
        &bank.key,
        &bank.certificate,
    );
    assert!(matches!(
        phone_refuses(&world, &made, &elsewhere),
        RequestRefused::Online(VpError::Malformed(m)) if m.contains("aud")
    ));
    let plain = altered(
        &made,
        |r| r.response_mode = "direct_post".into(),
        &bank.key,
        &bank.certificate,
    );
    assert!(matches!(
        phone_refuses(&world, &made, &plain),
        RequestRefused::Online(VpError::Unsupported(_))
    ));
    // A request object whose typ is not oauth-authz-req+jwt.
    let jws = Jws::parse(&made.request_object).unwrap();
    let mut header = jws.header().clone();
    header.insert("typ".into(), "JWT".into());
    let untyped = Jws::sign(&header, jws.payload(), &bank.key).unwrap();
    assert_eq!(
        phone_refuses(&world, &made, &untyped),
        RequestRefused::Online(VpError::RequestType)
    );
}

#[test]
fn the_phone_refuses_what_the_registration_does_not_allow() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let made = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let bank = &world.bank;
    // Beyond the bank's registration: the age of the holder in years.
    let greedy = altered(
        &made,
        |r| {
            r.dcql_query = eid_oid4vc::vp::DcqlQuery::resident_identity(
                &["family_name".into(), "age_in_years".into()],
                false,
                false,
            )
        },
        &bank.key,
        &bank.certificate,
    );
    assert!(matches!(
        phone_refuses(&world, &made, &greedy),
        RequestRefused::BeyondPurpose { attribute, .. } if attribute == "age_in_years"
    ));
    // A purpose the bank is not registered for, and no purpose at all.
    let hotel = altered(
        &made,
        |r| r.verifier_info = vec![AuthorizationRequest::purpose_info("hotel_check_in")],
        &bank.key,
        &bank.certificate,
    );
    assert!(matches!(
        phone_refuses(&world, &made, &hotel),
        RequestRefused::PurposeNotRegistered {
            purpose: Purpose::HotelCheckIn,
            ..
        }
    ));
    let none = altered(
        &made,
        |r| r.verifier_info.clear(),
        &bank.key,
        &bank.certificate,
    );
    assert_eq!(
        phone_refuses(&world, &made, &none),
        RequestRefused::NoPurpose
    );
    // Another credential type.
    let other = altered(
        &made,
        |r| {
            r.dcql_query.credentials[0]
                .meta
                .insert("doctype_value".into(), "org.iso.18013.5.1.mDL".into());
        },
        &bank.key,
        &bank.certificate,
    );
    assert_eq!(
        phone_refuses(&world, &made, &other),
        RequestRefused::NotForResidentIdentity
    );
    // A website whose certificate is in no registration.
    let stranger = World::new();
    let unknown = altered(
        &made,
        |r| r.client_id = eid_oid4vc::vp::x509_hash_client_id(&stranger.bank.certificate),
        &stranger.bank.key,
        &stranger.bank.certificate,
    );
    let client_id = eid_oid4vc::vp::x509_hash_client_id(&stranger.bank.certificate);
    assert_eq!(
        receive(&client_id, &unknown, &world.trust, NOW).unwrap_err(),
        RequestRefused::UnknownReader
    );
}

#[test]
fn the_bank_refuses_answers_that_do_not_belong_to_its_request() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let first = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let second = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let answer = jwe(&phone(&world, &first, Held::Mdoc(&world.credential)));
    // Sent to the other request: its key does not open it.
    assert_eq!(
        verifier
            .verify_online(&second.session, &answer, NOW)
            .codes(),
        ["presentation_not_verified"]
    );
    // Too late.
    assert_eq!(
        verifier
            .verify_online(&first.session, &answer, NOW + Duration::minutes(5))
            .codes(),
        ["request_expired"]
    );
    // A relay re-encrypting the first answer's presentation for the second request (with
    // its state): the device signature is over the first request's nonce.
    let opened_by_relay = {
        let request_of = |made: &OnlineRequest| {
            let jws = Jws::parse(&made.request_object).unwrap();
            let request: AuthorizationRequest =
                serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
            request
        };
        let second_request = request_of(&second);
        // The relay cannot open the first answer; it replays a presentation it obtained
        // for the first request in clear (as a hacked wallet would hand it over).
        let presentation = {
            let transcript = eid_mdoc::session::oid4vp_session_transcript(
                &first.session.client_id,
                &first.session.nonce,
                Some(
                    &request_of(&first)
                        .encryption_key()
                        .unwrap()
                        .thumbprint_sha256()
                        .unwrap(),
                ),
                &first.session.response_uri,
            );
            let all = ["family_name", "given_name", "document_number"];
            eid_crypto::b64url(
                &eid_mdoc::present::present(
                    &world.credential,
                    &all,
                    &world.device_key,
                    &transcript,
                )
                .unwrap(),
            )
        };
        let payload = eid_oid4vc::vp::ResponsePayload {
            vp_token: [("mdoc".to_owned(), vec![presentation])].into(),
            state: second_request.state.clone(),
        };
        eid_crypto::jwe::encrypt(
            &eid_crypto::jwe::Recipient {
                key: second_request.encryption_key().unwrap(),
                enc: eid_crypto::jwe::Enc::A128Gcm,
                apu: b"",
                apv: b"",
            },
            &serde_json::to_vec(&payload).unwrap(),
            &OsRandom,
        )
        .unwrap()
    };
    let report = verifier.verify_online(&second.session, &opened_by_relay, NOW);
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0].message.contains("device signature"),
        "{}",
        report.reasons[0].message
    );
    // An answer whose state is another request's.
    let wrong_state = {
        let jws = Jws::parse(&first.request_object).unwrap();
        let request: AuthorizationRequest =
            serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
        let payload = eid_oid4vc::vp::ResponsePayload {
            vp_token: Default::default(),
            state: Some("not-the-state".into()),
        };
        eid_crypto::jwe::encrypt(
            &eid_crypto::jwe::Recipient {
                key: request.encryption_key().unwrap(),
                enc: eid_crypto::jwe::Enc::A256Gcm,
                apu: b"",
                apv: b"",
            },
            &serde_json::to_vec(&payload).unwrap(),
            &OsRandom,
        )
        .unwrap()
    };
    assert_eq!(
        verifier
            .verify_online(&first.session, &wrong_state, NOW)
            .codes(),
        ["state_mismatch"]
    );
}

/// The holder says no: the phone sends `access_denied`, encrypted like an answer, and the
/// bank's report says the holder declined (so its page stops waiting), with nothing shared.
#[test]
fn a_holder_who_declines_is_reported_as_declined() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let made = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    let pending = receive(&client_id, &made.request_object, &world.trust, NOW).unwrap();
    let answer = pending.decline(&OsRandom).unwrap();
    assert_eq!(answer.response_uri, "https://bank.example/vp/response");
    let report = verifier.verify_online(&made.session, &jwe(&answer), NOW);
    assert!(!report.accepted);
    assert_eq!(report.codes(), ["holder_declined"]);
    assert!(report.attributes.is_empty());
    // The same, sent by another request's key: it does not open.
    let other = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    assert_eq!(
        verifier
            .verify_online(&other.session, &jwe(&answer), NOW)
            .codes(),
        ["presentation_not_verified"]
    );
}

/// A wallet's error response in the clear (`error`, `state` form fields), one check at a
/// time: the state, the time, the code's form; a code other than `access_denied` is named.
#[test]
fn a_wallet_error_response_is_checked_against_its_request() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let made = request(&verifier, &world.bank, Purpose::BankAccountOpening);
    let state = made.session.state.clone();
    let codes = |error: &str, state: Option<&str>, at| {
        verifier
            .wallet_error(&made.session, error, state, at)
            .codes()
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes("access_denied", Some(&state), NOW),
        ["holder_declined"]
    );
    assert_eq!(
        codes("access_denied", Some("another"), NOW),
        ["state_mismatch"]
    );
    assert_eq!(codes("access_denied", None, NOW), ["state_mismatch"]);
    assert_eq!(
        codes("access_denied", Some(&state), NOW + Duration::minutes(5)),
        ["request_expired"]
    );
    assert_eq!(
        codes("Access Denied<script>", Some(&state), NOW),
        ["presentation_not_verified"]
    );
    let report =
        verifier.wallet_error(&made.session, "vp_formats_not_supported", Some(&state), NOW);
    assert_eq!(report.codes(), ["wallet_refused"]);
    assert!(
        report.reasons[0]
            .message
            .contains("vp_formats_not_supported")
    );
}

/// The request names, as the issuer algorithms it takes, what the trust list's issuers sign
/// with: ES256 alone, then SM2 with SM3 too once an SM2 issuer is listed; holders' keys stay
/// ES256.
#[test]
fn the_request_advertises_the_issuers_algorithms_of_the_trust_list() {
    let world = World::new();
    let formats = |verifier: &Verifier| {
        let made = request(verifier, &world.bank, Purpose::BankAccountOpening);
        let jws = Jws::parse(&made.request_object).unwrap();
        jws.payload()["client_metadata"]["vp_formats_supported"].clone()
    };
    let es256 = formats(&world.verifier(BANK));
    assert_eq!(
        es256["mso_mdoc"]["issuerauth_alg_values"],
        serde_json::json!([-7])
    );
    assert_eq!(
        es256["dc+sd-jwt"]["sd-jwt_alg_values"],
        serde_json::json!(["ES256"])
    );
    let sm2 = eid_crypto::x509::AuthorityPki::generate_for(
        eid_crypto::Algorithm::Sm2Sm3,
        "杭州市公安局",
        "CN",
        "https://hangzhou.eid.example",
        NOW - Duration::days(1),
        (3650, 365),
        &OsRandom,
    )
    .unwrap();
    let (_, with_sm2) = world.next_trust_list(|draft| {
        eid_trust::edit::add_issuer(
            draft,
            "cn-3301",
            "杭州市公安局",
            std::slice::from_ref(&sm2.iaca.0),
            Vec::new(),
            NOW,
            false,
        )
        .unwrap();
    });
    let both = formats(&Verifier::new(with_sm2, BANK, NOW));
    assert_eq!(
        both["mso_mdoc"],
        serde_json::json!({"issuerauth_alg_values": [-7, -65537], "deviceauth_alg_values": [-7]})
    );
    assert_eq!(
        both["dc+sd-jwt"],
        serde_json::json!({"sd-jwt_alg_values": ["ES256", "SM2SM3"], "kb-jwt_alg_values": ["ES256"]})
    );
}
