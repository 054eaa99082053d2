//! A credential held for the resident by a parent or guardian (a delegated credential): its
//! own signed type in both formats, naming the relationship. A desk shows who holds it, and
//! accepts it only for a purpose whose catalogue allows delegation; a delegated credential
//! that does not say by whom, or a type the desk does not know, is refused. Over OpenID4VP,
//! where the verifier's checks of both formats meet.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use common::{IDX, NOW, STATUS_URI, World};
use eid_core::{OsRandom, Relationship};
use eid_crypto::{Signer, VerifyingKey};
use eid_mdoc::issue::{ElementValue, IssueRequest};
use eid_oid4vc::vp::{
    AuthorizationRequest, QUERY_MDOC, QUERY_MDOC_DELEGATED, QUERY_SD_JWT, ResponsePayload,
    parse_invocation,
};
use eid_sdjwt::Jws;
use eid_trust::{Purpose, VerifiedTrustList};
use eid_verifier::openid4vp::{OnlineRequest, OnlineTerms};
use eid_verifier::{Report, Verifier};
use eid_wallet::in_person::RequestRefused;
use eid_wallet::online::{Held, PendingOnline, RespondError, receive};
use eid_wallet::store::{UsePolicy, WalletStore, Whose};
use eid_wallet::{DeviceKeys, Holder, HolderError};
use serde_json::Value;
use time::Duration;

const BANK: &str = "nanning-bank";

/// Her mdoc of `doc_type`, whose wallet name space also holds `delegation` (if any).
fn mdoc(world: &World, doc_type: &str, delegation: Option<&str>) -> Vec<u8> {
    let mut name_spaces = eid_testing::her_name_spaces("superapp-a", &[0xff, 0xd8, 0xff]);
    if let Some(relationship) = delegation {
        name_spaces[1].1.push((
            eid_mdoc::ELEMENT_DELEGATION.to_owned(),
            ElementValue::Text(relationship.to_owned()),
        ));
    }
    eid_mdoc::issue::issue(
        &IssueRequest {
            doc_type,
            name_spaces: &name_spaces,
            device_key: world.device_key.verifying_key(),
            valid_from: NOW - Duration::days(1),
            valid_until: NOW + Duration::days(90),
            status: Some(eid_testing::entry(STATUS_URI, IDX)),
            x5chain: std::slice::from_ref(&world.nanning.ds.0),
        },
        &world.nanning.ds_key,
        &OsRandom,
    )
    .unwrap()
}

/// Her SD-JWT VC of `vct`, with the clear claim `delegation` (if any).
fn sd_jwt(world: &World, vct: &str, delegation: Option<&str>) -> String {
    let mut claims = eid_testing::her_claims("superapp-a");
    if let Some(relationship) = delegation {
        claims.insert("delegation".into(), Value::from(relationship));
    }
    eid_sdjwt::issue(
        &eid_sdjwt::IssueRequest {
            claims: &claims,
            vct,
            issuer: Some("https://nanning.eid.example"),
            holder_key: world.device_key.verifying_key(),
            issued_at: NOW - Duration::days(1),
            expires_at: Some(NOW + Duration::days(90)),
            status: Some(eid_testing::entry(STATUS_URI, IDX)),
            x5c: std::slice::from_ref(&world.nanning.ds.0),
            decoys: 2,
        },
        &world.nanning.ds_key,
        &OsRandom,
    )
    .unwrap()
}

/// The bank's request under `trust`.
fn bank_asks(world: &World, verifier: &Verifier) -> OnlineRequest {
    verifier
        .online_request(
            &OnlineTerms {
                purpose: Purpose::BankAccountOpening,
                attributes: None,
                intent_to_retain: true,
                signer: &world.bank.key,
                certificate: &world.bank.certificate,
                request_base: "https://bank.example/vp/request",
                response_uri: "https://bank.example/vp/response",
                lifetime: Duration::minutes(5),
            },
            NOW,
            &OsRandom,
        )
        .unwrap()
}

/// The bank's request under `trust` as the phone reads it under the same list.
fn pending(world: &World, trust: &VerifiedTrustList) -> (Verifier, OnlineRequest, PendingOnline) {
    let verifier = world.verifier_under(trust, BANK);
    let made = bank_asks(world, &verifier);
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    let pending = receive(&client_id, &made.request_object, trust, NOW).unwrap();
    (verifier, made, pending)
}

/// The bank's request under `trust`, the phone's answer with `held`, and the bank's
/// verdict.
fn bank_verifies(world: &World, trust: &VerifiedTrustList, held: Held<'_>) -> Report {
    let (verifier, made, pending) = pending(world, trust);
    let answer = pending
        .respond(held, &world.device_key, &OsRandom, NOW)
        .unwrap();
    let jwe = url::form_urlencoded::parse(answer.body.as_bytes())
        .find(|(k, _)| k == "response")
        .unwrap()
        .1
        .into_owned();
    verifier.verify_online(&made.session, &jwe, NOW)
}

/// The bank's verdict on what a wallet sends that answers the bank's request under `trust`
/// with `held` under the query `id`, whatever the request asked: the desk's own checks, not
/// the honest wallet's choice, must refuse what is wrong.
fn bank_verifies_rogue(
    world: &World,
    trust: &VerifiedTrustList,
    held: Held<'_>,
    id: &str,
) -> Report {
    let verifier = world.verifier_under(trust, BANK);
    let made = bank_asks(world, &verifier);
    let jws = Jws::parse(&made.request_object).unwrap();
    let request: AuthorizationRequest =
        serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
    let key = request.encryption_key().unwrap();
    let presentation = match held {
        Held::Mdoc(issuer_signed) => {
            let transcript = eid_mdoc::session::oid4vp_session_transcript(
                &request.client_id,
                &request.nonce,
                Some(&key.thumbprint_sha256().unwrap()),
                &request.response_uri,
            );
            let disclose = [
                "family_name",
                eid_mdoc::ELEMENT_WALLET_PROVIDER,
                eid_mdoc::ELEMENT_DELEGATION,
            ]
            .into_iter()
            .filter(|name| {
                eid_mdoc::IssuerSigned::from_cbor(issuer_signed)
                    .unwrap()
                    .name_spaces
                    .iter()
                    .any(|(_, items)| items.iter().any(|i| i.element_identifier == *name))
            })
            .collect::<Vec<_>>();
            eid_crypto::b64url(
                &eid_mdoc::present::present(
                    issuer_signed,
                    &disclose,
                    &world.device_key,
                    &transcript,
                )
                .unwrap(),
            )
        }
        Held::SdJwt(issued) => eid_sdjwt::present(
            issued,
            &["family_name"],
            Some(&eid_sdjwt::KeyBinding {
                signer: &world.device_key,
                audience: &request.client_id,
                nonce: &request.nonce,
                issued_at: NOW,
            }),
        )
        .unwrap(),
    };
    let payload = ResponsePayload {
        vp_token: [(id.to_owned(), vec![presentation])].into(),
        state: request.state.clone(),
    };
    let jwe = eid_crypto::jwe::encrypt(
        &eid_crypto::jwe::Recipient {
            key,
            enc: request.content_encryption().unwrap(),
            apu: b"",
            apv: b"",
        },
        &serde_json::to_vec(&payload).unwrap(),
        &OsRandom,
    )
    .unwrap();
    verifier.verify_online(&made.session, &jwe, NOW)
}

/// The world's list with the bank's purpose accepting delegated credentials.
fn allowing(world: &World) -> VerifiedTrustList {
    let mut draft = world.draft.clone();
    eid_trust::edit::set_delegation(&mut draft, Purpose::BankAccountOpening, true).unwrap();
    World::sign(&world.root, &draft)
}

#[test]
fn a_credential_held_by_her_parent_is_shown_as_such_where_the_purpose_allows_it() {
    let world = World::new();
    let trust = allowing(&world);
    // The request names the delegated type beside hers, and the phone tells the holder so.
    let (_, made, asked) = pending(&world, &trust);
    assert!(asked.consent.delegation);
    let jws = Jws::parse(&made.request_object).unwrap();
    let dcql = &jws.payload()["dcql_query"];
    assert_eq!(
        dcql["credentials"][1]["meta"]["doctype_value"],
        eid_mdoc::DOCTYPE_DELEGATED
    );
    assert_eq!(
        dcql["credentials"][2]["meta"]["vct_values"],
        serde_json::json!([eid_sdjwt::VCT_RESIDENT_IDENTITY, eid_sdjwt::VCT_DELEGATED])
    );
    let parent_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    let guardian_sd_jwt = sd_jwt(&world, eid_sdjwt::VCT_DELEGATED, Some("guardian"));
    for (held, relationship) in [
        (Held::Mdoc(&parent_mdoc), Relationship::Parent),
        (Held::SdJwt(&guardian_sd_jwt), Relationship::Guardian),
    ] {
        let report = bank_verifies(&world, &trust, held);
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(report.delegated, Some(relationship));
        // Hers, the resident's: the relationship is no attribute of hers.
        assert_eq!(report.attributes["family_name"], "韦");
        assert!(!report.attributes.contains_key("delegation"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["delegated"], relationship.as_str());
    }
    // Her own says nothing of delegation.
    let own = bank_verifies(&world, &trust, Held::Mdoc(&world.credential));
    assert!(own.accepted, "{:?}", own.reasons);
    assert_eq!(own.delegated, None);
    assert!(
        serde_json::to_value(&own)
            .unwrap()
            .get("delegated")
            .is_none()
    );
}

#[test]
fn a_purpose_that_does_not_allow_delegation_refuses_it_in_both_formats() {
    // The default catalogue: a bank opens an account for the person, not for her parent.
    let world = World::new();
    let parent_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    let parent_sd_jwt = sd_jwt(&world, eid_sdjwt::VCT_DELEGATED, Some("parent"));
    // The bank does not ask for it: the phone says so, and will not answer with it.
    let (_, _, asked) = pending(&world, &world.trust);
    assert!(!asked.consent.delegation);
    for held in [Held::Mdoc(&parent_mdoc), Held::SdJwt(&parent_sd_jwt)] {
        assert!(matches!(
            asked.respond(held, &world.device_key, &OsRandom, NOW),
            Err(RespondError::NotAsked(_))
        ));
    }
    // A wallet that sends it anyway, under any query, is refused by the bank.
    for (held, id) in [
        (Held::Mdoc(&parent_mdoc), QUERY_MDOC_DELEGATED),
        (Held::Mdoc(&parent_mdoc), QUERY_MDOC),
        (Held::SdJwt(&parent_sd_jwt), QUERY_SD_JWT),
    ] {
        let report = bank_verifies_rogue(&world, &world.trust, held, id);
        assert_eq!(report.codes(), ["delegation_not_allowed"]);
        assert!(report.attributes.is_empty());
    }
}

#[test]
fn the_phone_refuses_a_request_for_a_delegated_credential_where_the_purpose_does_not_allow_it() {
    // The bank's desk under a list allowing it asks for either; the phone, under the
    // national list that does not, refuses the request before the holder is asked.
    let world = World::new();
    let verifier = world.verifier_under(&allowing(&world), BANK);
    let made = bank_asks(&world, &verifier);
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    assert!(matches!(
        receive(&client_id, &made.request_object, &world.trust, NOW).unwrap_err(),
        RequestRefused::DelegationNotAllowed {
            purpose: Purpose::BankAccountOpening,
            ..
        }
    ));
}

#[test]
fn a_delegated_credential_that_does_not_say_by_whom_is_refused() {
    let world = World::new();
    let trust = allowing(&world);
    let without_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, None);
    let unknown_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("uncle"));
    let without_sd_jwt = sd_jwt(&world, eid_sdjwt::VCT_DELEGATED, None);
    let unknown_sd_jwt = sd_jwt(&world, eid_sdjwt::VCT_DELEGATED, Some("uncle"));
    for held in [
        Held::Mdoc(&without_mdoc),
        Held::Mdoc(&unknown_mdoc),
        Held::SdJwt(&without_sd_jwt),
        Held::SdJwt(&unknown_sd_jwt),
    ] {
        let report = bank_verifies(&world, &trust, held);
        assert_eq!(report.codes(), ["delegation_undisclosed"]);
    }
}

#[test]
fn a_relationship_in_her_own_credential_or_another_type_is_refused() {
    let world = World::new();
    let trust = allowing(&world);
    // Her own type naming a relationship is not taken for a delegated one: the element is
    // one no purpose allows.
    let own_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_RESIDENT_IDENTITY, Some("parent"));
    let report = bank_verifies(&world, &trust, Held::Mdoc(&own_mdoc));
    assert!(!report.accepted);
    assert_eq!(report.delegated, None);
    assert!(
        report
            .codes()
            .contains(&"attribute_disclosed_beyond_purpose"),
        "{:?}",
        report.reasons
    );
    let own_sd_jwt = sd_jwt(&world, eid_sdjwt::VCT_RESIDENT_IDENTITY, Some("parent"));
    let report = bank_verifies(&world, &trust, Held::SdJwt(&own_sd_jwt));
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0].message.contains("naming no holder"),
        "{:?}",
        report.reasons
    );
    // A type the desk does not know (the honest phone answers no request with it).
    let other_mdoc = mdoc(&world, "cn.eid.resident.other.1", Some("parent"));
    let report = bank_verifies_rogue(&world, &trust, Held::Mdoc(&other_mdoc), QUERY_MDOC);
    assert_eq!(report.codes(), ["no_document"]);
    let other_sd_jwt = sd_jwt(
        &world,
        "urn:eid:cn:resident-identity:other:1",
        Some("parent"),
    );
    let report = bank_verifies_rogue(&world, &trust, Held::SdJwt(&other_sd_jwt), QUERY_SD_JWT);
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0].message.contains("not one expected"),
        "{:?}",
        report.reasons
    );
}

/// Keys the wallet must not reach for: the refusal comes first.
struct Untouched;

impl DeviceKeys for Untouched {
    fn instance_keys(&mut self, _: usize) -> Result<Vec<(String, VerifyingKey)>, HolderError> {
        unreachable!("no key is made")
    }
    fn wallet_key(&self) -> Result<(String, VerifyingKey), HolderError> {
        unreachable!("no key is used")
    }
    fn public_key(&self, _: &str) -> Result<VerifyingKey, HolderError> {
        unreachable!("no key is used")
    }
    fn signer(&self, _: &str) -> Result<Box<dyn Signer + '_>, HolderError> {
        unreachable!("nothing is signed")
    }
}

#[tokio::test]
async fn the_phone_does_not_share_a_held_credential_where_the_request_takes_her_own_alone() {
    let world = World::new();
    // The bank, under the national list: her own only.
    let (_, _, asked) = pending(&world, &world.trust);
    let store = WalletStore::open(":memory:", UsePolicy::PerRelyingParty)
        .await
        .unwrap();
    let holding = store
        .add_holding("parent", "https://nanning.eid.example", NOW)
        .await
        .unwrap();
    let held = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    store
        .add(
            Whose::Held(holding),
            eid_oid4vc::FORMAT_MSO_MDOC,
            None,
            "held-key",
            &held,
            NOW + Duration::days(30),
        )
        .await
        .unwrap();
    let refused = Holder::new(store.clone())
        .share_online(&asked, Whose::Held(holding), &Untouched, &OsRandom, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, HolderError::DelegationNotAccepted),
        "{refused}"
    );
    // Nothing was marked shown or recorded: the holder may share her own, or decline.
    assert_eq!(store.list().await.unwrap()[0].uses, 0);
    assert!(store.history().await.unwrap().is_empty());
}

// In person (ISO 18013-5): where the purpose allows it, the desk's request names the
// delegated docType beside her own, asked alike; the phone shows one of either.

/// A request for the purpose's first attribute (the family name, or age over 18 for an age
/// check) and the wallet provider (the relationship too, in a delegated one) for `purpose`,
/// of `doc_type`.
fn items(doc_type: &str, purpose: Purpose) -> eid_mdoc::request::ItemsRequest {
    let mut wallet = vec![(eid_mdoc::ELEMENT_WALLET_PROVIDER.to_owned(), false)];
    if doc_type == eid_mdoc::DOCTYPE_DELEGATED {
        wallet.push((eid_mdoc::ELEMENT_DELEGATION.to_owned(), false));
    }
    eid_mdoc::request::ItemsRequest {
        doc_type: doc_type.to_owned(),
        name_spaces: vec![
            (
                eid_mdoc::DOCTYPE_RESIDENT_IDENTITY.to_owned(),
                vec![(asked(purpose).to_owned(), false)],
            ),
            (eid_mdoc::NAMESPACE_WALLET.to_owned(), wallet),
        ],
        request_info: vec![("purpose".to_owned(), purpose.as_str().to_owned())],
    }
}

/// What the in-person tests ask for `purpose`.
fn asked(purpose: Purpose) -> &'static str {
    if purpose == Purpose::AgeCheck {
        "age_over_18"
    } else {
        "family_name"
    }
}

/// A DeviceRequest of `docs`, each signed (readerAuth) by its reader, or not: what a desk
/// of another make, or a rogue one, may send.
fn device_request(
    docs: &[(eid_mdoc::request::ItemsRequest, Option<&common::Reader>)],
    transcript: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = minicbor::Encoder::new(&mut out);
    e.map(2)
        .unwrap()
        .str("version")
        .unwrap()
        .str("1.0")
        .unwrap();
    e.str("docRequests")
        .unwrap()
        .array(docs.len() as u64)
        .unwrap();
    for (items, reader) in docs {
        let encoded = items.encode();
        // #6.24(bstr .cbor ItemsRequest)
        let mut tagged = Vec::new();
        minicbor::Encoder::new(&mut tagged)
            .tag(minicbor::data::Tag::new(24))
            .unwrap()
            .bytes(&encoded)
            .unwrap();
        e.map(1 + u64::from(reader.is_some()))
            .unwrap()
            .str("itemsRequest")
            .unwrap();
        e.writer_mut().extend_from_slice(&tagged);
        if let Some(reader) = reader {
            let to_sign = eid_mdoc::request::reader_authentication_bytes(transcript, &tagged);
            let chain = [reader.certificate.clone()];
            let auth =
                eid_mdoc::cose::CoseSign1::sign(&reader.key, &to_sign, &chain, true).unwrap();
            e.str("readerAuth").unwrap();
            auth.encode(&mut e).unwrap();
        }
    }
    out
}

/// The phone's reading of `docs` sent over a fresh session: what it would ask the holder.
fn phone_reads(
    world: &World,
    docs: &[(eid_mdoc::request::ItemsRequest, Option<&common::Reader>)],
) -> Result<eid_wallet::in_person::ConsentRequest, RequestRefused> {
    let phone = eid_wallet::in_person::Engagement::new(None).unwrap();
    let read = eid_mdoc::engagement::DeviceEngagement::from_qr_uri(&phone.qr_uri()).unwrap();
    let mut session = eid_mdoc::session::Session::for_reader(&read, None).unwrap();
    let request = device_request(docs, session.transcript());
    let establishment = session.establishment(&request).unwrap();
    phone
        .receive(&establishment, &world.trust, NOW)
        .map(|pending| pending.consent)
}

/// The desk `reader` (of `relying_party`) asks the phone in person for `purpose`, as eid's
/// desk does; the phone answers with `credential`: its report, and what the holder was asked.
fn in_person(
    world: &World,
    reader: &common::Reader,
    purpose: Purpose,
    credential: &[u8],
) -> (
    Report,
    Result<eid_wallet::in_person::ConsentRequest, eid_mdoc::MdocError>,
) {
    let verifier = world.verifier(reader.id);
    let phone = eid_wallet::in_person::Engagement::new(None).unwrap();
    let read = eid_mdoc::engagement::DeviceEngagement::from_qr_uri(&phone.qr_uri()).unwrap();
    let (session, establishment) = eid_verifier::in_person::ReaderSession::start(
        &read,
        &eid_verifier::in_person::ReaderIdentity {
            signer: &reader.key,
            certificate: &reader.certificate,
            relying_party: reader.id,
        },
        purpose,
        &[asked(purpose).to_owned()],
        verifier.delegation_allowed(purpose),
    )
    .unwrap();
    let pending = phone.receive(&establishment, &world.trust, NOW).unwrap();
    let consent = pending.consent.clone();
    match pending.respond(credential, &world.device_key) {
        Ok(answer) => (session.finish(&verifier, &answer, NOW), Ok(consent)),
        Err(e) => (
            session.finish(&verifier, &eid_mdoc::session::session_termination(), NOW),
            Err(e),
        ),
    }
}

#[test]
fn in_person_the_hotel_asks_for_either_and_is_told_who_holds_it() {
    let world = World::new();
    let held = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    let (report, consent) = in_person(&world, &world.hotel, Purpose::HotelCheckIn, &held);
    assert!(consent.unwrap().delegation);
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.delegated, Some(Relationship::Parent));
    assert_eq!(report.attributes["family_name"], "韦");
    let (report, _) = in_person(
        &world,
        &world.hotel,
        Purpose::HotelCheckIn,
        &world.credential,
    );
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.delegated, None);
}

#[test]
fn in_person_a_purpose_that_does_not_allow_it_asks_for_her_own_alone() {
    let world = World::new();
    let held = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    // The bar's age check: the honest phone does not answer with a type not asked for.
    let (report, consent) = in_person(&world, &world.bar, Purpose::AgeCheck, &held);
    assert_eq!(consent.unwrap_err(), eid_mdoc::MdocError::DocTypeMismatch);
    assert_eq!(report.codes(), ["holder_declined"]);
    let (report, consent) = in_person(&world, &world.bar, Purpose::AgeCheck, &world.credential);
    assert!(!consent.unwrap().delegation);
    assert!(report.accepted, "{:?}", report.reasons);
    // A rogue phone's answer with it anyway: the desk refuses it by the signed type.
    let verifier = world.verifier(world.bar.id);
    let key = eid_crypto::session::AgreementKey::generate().unwrap();
    let engagement =
        eid_mdoc::engagement::DeviceEngagement::encode_with_tcp(key.public_point(), None);
    let read = eid_mdoc::engagement::DeviceEngagement::from_qr_uri(
        &eid_mdoc::engagement::DeviceEngagement::qr_uri(&engagement),
    )
    .unwrap();
    let (desk, establishment) = eid_verifier::in_person::ReaderSession::start(
        &read,
        &eid_verifier::in_person::ReaderIdentity {
            signer: &world.bar.key,
            certificate: &world.bar.certificate,
            relying_party: world.bar.id,
        },
        Purpose::AgeCheck,
        &[asked(Purpose::AgeCheck).to_owned()],
        false,
    )
    .unwrap();
    let (mut session, _) =
        eid_mdoc::session::Session::for_device(&engagement, &key, &establishment, None).unwrap();
    let response = eid_mdoc::present::present(
        &held,
        &[
            asked(Purpose::AgeCheck),
            eid_mdoc::ELEMENT_WALLET_PROVIDER,
            eid_mdoc::ELEMENT_DELEGATION,
        ],
        &world.device_key,
        session.transcript(),
    )
    .unwrap();
    let report = desk.finish(&verifier, &session.seal(&response).unwrap(), NOW);
    assert_eq!(report.codes(), ["delegation_not_allowed"]);
}

#[test]
fn in_person_the_phone_refuses_a_request_for_a_held_credential_asked_otherwise() {
    let world = World::new();
    let hotel = Purpose::HotelCheckIn;
    let own = || items(eid_mdoc::DOCTYPE_RESIDENT_IDENTITY, hotel);
    let delegated = || items(eid_mdoc::DOCTYPE_DELEGATED, hotel);
    let signed = Some(&world.hotel);
    // Accepted as eid's desk sends it, in either order.
    assert!(
        phone_reads(&world, &[(own(), signed), (delegated(), signed)])
            .unwrap()
            .delegation
    );
    assert!(
        phone_reads(&world, &[(delegated(), signed), (own(), signed)])
            .unwrap()
            .delegation
    );
    // For a purpose that does not allow one (the bar's age check).
    let bar = Some(&world.bar);
    let age = |doc_type| items(doc_type, Purpose::AgeCheck);
    assert!(matches!(
        phone_reads(
            &world,
            &[
                (age(eid_mdoc::DOCTYPE_RESIDENT_IDENTITY), bar),
                (age(eid_mdoc::DOCTYPE_DELEGATED), bar)
            ]
        ),
        Err(RequestRefused::DelegationNotAllowed {
            purpose: Purpose::AgeCheck,
            ..
        })
    ));
    // Asking more of the held one than of her own.
    let mut more = delegated();
    more.name_spaces[0].1.push(("birth_date".to_owned(), false));
    assert_eq!(
        phone_reads(&world, &[(own(), signed), (more, signed)]),
        Err(RequestRefused::DocumentsDiffer)
    );
    // Keeping what the held one shows, not what her own does.
    let mut kept = delegated();
    kept.name_spaces[0].1[0].1 = true;
    assert_eq!(
        phone_reads(&world, &[(own(), signed), (kept, signed)]),
        Err(RequestRefused::DocumentsDiffer)
    );
    // The held one signed by another relying party's reader, by a key not the hotel's
    // under the hotel's certificate, or not signed.
    let impostor = common::Reader {
        id: world.hotel.id,
        key: eid_crypto::SigningKey::generate().unwrap(),
        certificate: world.hotel.certificate.clone(),
    };
    for other in [&world.bank, &impostor] {
        assert_eq!(
            phone_reads(&world, &[(own(), signed), (delegated(), Some(other))]),
            Err(RequestRefused::ReaderSignature)
        );
    }
    assert_eq!(
        phone_reads(&world, &[(own(), signed), (delegated(), None)]),
        Err(RequestRefused::Anonymous)
    );
    // Two of one type, the held one alone, or a third document.
    for docs in [
        vec![(own(), signed), (own(), signed)],
        vec![(delegated(), signed)],
        vec![
            (own(), signed),
            (delegated(), signed),
            (delegated(), signed),
        ],
        vec![
            (own(), signed),
            (items("org.iso.18013.5.1.mDL", hotel), signed),
        ],
    ] {
        assert_eq!(
            phone_reads(&world, &docs),
            Err(RequestRefused::NotForResidentIdentity)
        );
    }
}

#[test]
fn through_the_digital_credentials_api_the_phone_does_not_answer_with_a_type_not_asked_for() {
    // The bank's org-iso-mdoc request asks for her own alone: the wallet library will not
    // show a credential held for someone else in answer.
    let world = World::new();
    let (_, entry) = eid_verifier::dc_api::MdocDcApiRequest::new(
        &eid_verifier::in_person::ReaderIdentity {
            signer: &world.bank.key,
            certificate: &world.bank.certificate,
            relying_party: world.bank.id,
        },
        Purpose::BankAccountOpening,
        &["family_name".to_owned()],
        false,
        false,
        "https://bank.example",
    )
    .unwrap();
    let pending = eid_wallet::dc_api::receive(
        &eid_wallet::dc_api::DigitalCredentialRequest {
            protocol: entry["protocol"].as_str().unwrap(),
            data: &entry["data"],
            origin: "https://bank.example",
        },
        &world.trust,
        NOW,
    )
    .unwrap();
    assert!(!pending.consent.delegation);
    let held = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    assert!(matches!(
        pending.respond(Held::Mdoc(&held), &world.device_key, &OsRandom, NOW),
        Err(RespondError::Mdoc(eid_mdoc::MdocError::DocTypeMismatch))
    ));
}

#[test]
fn through_the_digital_credentials_api_the_hotel_asks_for_either_and_is_told_who_holds_it() {
    // The hotel's purpose allows delegation: its org-iso-mdoc request asks for the
    // delegated type beside hers, and its report says who holds what it was shown.
    let world = World::new();
    let verifier = world.verifier(world.hotel.id);
    let origin = "https://hotel.example";
    let held = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    for (credential, delegated) in [
        (&held, Some(Relationship::Parent)),
        (&world.credential, None),
    ] {
        let (request, entry) = eid_verifier::dc_api::MdocDcApiRequest::new(
            &eid_verifier::in_person::ReaderIdentity {
                signer: &world.hotel.key,
                certificate: &world.hotel.certificate,
                relying_party: world.hotel.id,
            },
            Purpose::HotelCheckIn,
            &[asked(Purpose::HotelCheckIn).to_owned()],
            false,
            verifier.delegation_allowed(Purpose::HotelCheckIn),
            origin,
        )
        .unwrap();
        let pending = eid_wallet::dc_api::receive(
            &eid_wallet::dc_api::DigitalCredentialRequest {
                protocol: entry["protocol"].as_str().unwrap(),
                data: &entry["data"],
                origin,
            },
            &world.trust,
            NOW,
        )
        .unwrap();
        assert!(pending.consent.delegation);
        assert!(pending.accepts(eid_mdoc::DOCTYPE_DELEGATED));
        let data = pending
            .respond(Held::Mdoc(credential), &world.device_key, &OsRandom, NOW)
            .unwrap();
        let report = request.finish(&verifier, &data, NOW);
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(report.delegated, delegated);
        assert_eq!(report.attributes["family_name"], "韦");
    }
}
