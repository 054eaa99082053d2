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
use eid_crypto::Signer;
use eid_mdoc::issue::{ElementValue, IssueRequest};
use eid_oid4vc::vp::parse_invocation;
use eid_trust::{Purpose, VerifiedTrustList};
use eid_verifier::openid4vp::{OnlineRequest, OnlineTerms};
use eid_verifier::{Report, Verifier};
use eid_wallet::online::{Held, receive};
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

/// The bank's request, the phone's answer with `held`, and the bank's verdict.
fn bank_verifies(world: &World, verifier: &Verifier, held: Held<'_>) -> Report {
    let made: OnlineRequest = verifier
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
        .unwrap();
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    let pending = receive(&client_id, &made.request_object, &world.trust, NOW).unwrap();
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

/// The world's list with the bank's purpose accepting delegated credentials.
fn allowing(world: &World) -> VerifiedTrustList {
    let mut draft = world.draft.clone();
    eid_trust::edit::set_delegation(&mut draft, Purpose::BankAccountOpening, true).unwrap();
    World::sign(&world.root, &draft)
}

#[test]
fn a_credential_held_by_her_parent_is_shown_as_such_where_the_purpose_allows_it() {
    let world = World::new();
    let verifier = world.verifier_under(&allowing(&world), BANK);
    let parent_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    let guardian_sd_jwt = sd_jwt(&world, eid_sdjwt::VCT_DELEGATED, Some("guardian"));
    for (held, relationship) in [
        (Held::Mdoc(&parent_mdoc), Relationship::Parent),
        (Held::SdJwt(&guardian_sd_jwt), Relationship::Guardian),
    ] {
        let report = bank_verifies(&world, &verifier, held);
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(report.delegated, Some(relationship));
        // Hers, the resident's: the relationship is no attribute of hers.
        assert_eq!(report.attributes["family_name"], "韦");
        assert!(!report.attributes.contains_key("delegation"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["delegated"], relationship.as_str());
    }
    // Her own says nothing of delegation.
    let own = bank_verifies(&world, &verifier, Held::Mdoc(&world.credential));
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
    let verifier = world.verifier(BANK);
    let parent_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_DELEGATED, Some("parent"));
    let parent_sd_jwt = sd_jwt(&world, eid_sdjwt::VCT_DELEGATED, Some("parent"));
    for held in [Held::Mdoc(&parent_mdoc), Held::SdJwt(&parent_sd_jwt)] {
        let report = bank_verifies(&world, &verifier, held);
        assert_eq!(report.codes(), ["delegation_not_allowed"]);
        assert!(report.attributes.is_empty());
    }
}

#[test]
fn a_delegated_credential_that_does_not_say_by_whom_is_refused() {
    let world = World::new();
    let verifier = world.verifier_under(&allowing(&world), BANK);
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
        let report = bank_verifies(&world, &verifier, held);
        assert_eq!(report.codes(), ["delegation_undisclosed"]);
    }
}

#[test]
fn a_relationship_in_her_own_credential_or_another_type_is_refused() {
    let world = World::new();
    let verifier = world.verifier_under(&allowing(&world), BANK);
    // Her own type naming a relationship is not taken for a delegated one: the element is
    // one no purpose allows.
    let own_mdoc = mdoc(&world, eid_mdoc::DOCTYPE_RESIDENT_IDENTITY, Some("parent"));
    let report = bank_verifies(&world, &verifier, Held::Mdoc(&own_mdoc));
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
    let report = bank_verifies(&world, &verifier, Held::SdJwt(&own_sd_jwt));
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0].message.contains("names a holder"),
        "{:?}",
        report.reasons
    );
    // A type the desk does not know.
    let other_mdoc = mdoc(&world, "cn.eid.resident.other.1", Some("parent"));
    let report = bank_verifies(&world, &verifier, Held::Mdoc(&other_mdoc));
    assert_eq!(report.codes(), ["no_document"]);
    let other_sd_jwt = sd_jwt(
        &world,
        "urn:eid:cn:resident-identity:other:1",
        Some("parent"),
    );
    let report = bank_verifies(&world, &verifier, Held::SdJwt(&other_sd_jwt));
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0].message.contains("neither"),
        "{:?}",
        report.reasons
    );
}
