//! The verifier's cache of document signers: an SD-JWT VC's `x5c` chain, like an mdoc's
//! `x5chain`, is checked once per DS certificate under a trust list; the certificates'
//! validity at every use; a replaced trust list trusts nothing the old one cached.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use common::{IDX, NOW, STATUS_URI, World};
use eid_core::OsRandom;
use eid_crypto::Signer;
use eid_trust::Purpose;
use eid_verifier::{Channel, Check, Report, Verifier};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

const BANK: &str = "nanning-bank";
const AUDIENCE: &str = "x509_hash:nanning-bank";
const NONCE: &str = "n-7Qx2";

/// Nanning's SD-JWT VC as the authority issues it: the DS certificate and its IACA in
/// `x5c`, valid for `days`.
fn sd_jwt(world: &World, days: i64) -> String {
    sd_jwt_by(world, &world.nanning, days)
}

/// The same, issued under `pki` (another IACA and DS of Nanning's).
fn sd_jwt_by(world: &World, pki: &eid_crypto::x509::AuthorityPki, days: i64) -> String {
    let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
        "family_name": "韦", "given_name": "小兰", "birth_date": "1990-03-07",
        "document_number": "450103199003070024", "wallet_provider": "superapp-a",
    }))
    .unwrap();
    eid_sdjwt::issue(
        &eid_sdjwt::IssueRequest {
            claims: &claims,
            vct: eid_sdjwt::VCT_RESIDENT_IDENTITY,
            issuer: Some("https://nanning.eid.example"),
            holder_key: world.device_key.verifying_key(),
            issued_at: NOW - Duration::days(1),
            expires_at: Some(NOW + Duration::days(days)),
            status: Some(eid_core::status::StatusListReference {
                idx: IDX,
                uri: STATUS_URI.into(),
            }),
            x5c: &[pki.ds.0.clone(), pki.iaca.0.clone()],
            decoys: 4,
        },
        &pki.ds_key,
        &OsRandom,
    )
    .unwrap()
}

/// The version after `held`, signed by the world's root, listing Nanning with the IACA
/// `roots` (its scopes and offline keys kept), as a verifier holding `held` reads it.
fn relisted(
    world: &World,
    held: &eid_trust::VerifiedTrustList,
    roots: &[Vec<u8>],
) -> eid_trust::VerifiedTrustList {
    let mut draft = held.list().clone();
    eid_trust::edit::add_issuer(
        &mut draft,
        "cn-4501",
        "南宁市公安局",
        roots,
        Vec::new(),
        NOW,
        true,
    )
    .unwrap();
    let (jws, _) = eid_trust::signed::sign(&draft, &world.root, NOW, Duration::days(7)).unwrap();
    eid_trust::VerifiedTrustList::read(&jws, &[world.root.verifying_key().clone()], NOW, Some(held))
        .unwrap()
}

/// The holder's presentation of `credential` to the bank at `at`.
fn presented(world: &World, credential: &str, at: OffsetDateTime) -> String {
    eid_sdjwt::present(
        credential,
        &["family_name", "given_name"],
        Some(&eid_sdjwt::KeyBinding {
            signer: &world.device_key,
            audience: AUDIENCE,
            nonce: NONCE,
            issued_at: at,
        }),
    )
    .unwrap()
}

fn bank_verifies(verifier: &Verifier, presentation: &str, at: OffsetDateTime) -> Report {
    let requested = ["family_name".to_owned(), "given_name".to_owned()];
    verifier.verify_sd_jwt(
        presentation,
        AUDIENCE,
        NONCE,
        &Check {
            purpose: Purpose::BankAccountOpening,
            requested: &requested,
            channel: Channel::Online,
            now: at,
        },
    )
}

#[test]
fn an_sd_jwt_vc_ds_chain_is_checked_once_and_shared_with_mdoc() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    let before = verifier.document_signers().chains_checked();
    let presentation = presented(&world, &sd_jwt(&world, 90), NOW);
    for _ in 0..3 {
        let report = bank_verifies(&verifier, &presentation, NOW);
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(report.issuer.as_deref(), Some("cn-4501"));
    }
    assert_eq!(verifier.document_signers().chains_checked(), before + 1);
    // The mdoc of the same authority carries the same DS certificate: a hit too.
    let transcript = eid_mdoc::session::oid4vp_session_transcript(
        AUDIENCE,
        NONCE,
        None,
        "https://bank.example/vp/response",
    );
    let response = eid_mdoc::present::present(
        &world.credential,
        &[
            "family_name",
            "given_name",
            eid_mdoc::ELEMENT_WALLET_PROVIDER,
        ],
        &world.device_key,
        &transcript,
    )
    .unwrap();
    let report = verifier.verify_mdoc(
        &response,
        &transcript,
        &Check {
            purpose: Purpose::BankAccountOpening,
            requested: &["family_name".to_owned(), "given_name".to_owned()],
            channel: Channel::Online,
            now: NOW,
        },
    );
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(verifier.document_signers().chains_checked(), before + 1);
}

#[test]
fn an_expired_ds_certificate_is_refused_although_its_chain_is_cached() {
    let world = World::new();
    let verifier = world.verifier(BANK);
    // A credential that outlives its DS certificate (365 days from yesterday), so that
    // only the certificate has expired when it is shown again.
    let credential = sd_jwt(&world, 400);
    let report = bank_verifies(&verifier, &presented(&world, &credential, NOW), NOW);
    assert!(report.accepted, "{:?}", report.reasons);
    let checked = verifier.document_signers().chains_checked();
    let later = NOW + Duration::days(370);
    let report = bank_verifies(&verifier, &presented(&world, &credential, later), later);
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0]
            .message
            .contains("the DS certificate is not valid at"),
        "{:?}",
        report.reasons
    );
    assert_eq!(
        verifier.document_signers().chains_checked(),
        checked,
        "refused from the cache"
    );
}

#[test]
fn a_replaced_trust_list_refuses_a_chain_cached_under_the_old_one() {
    let world = World::new();
    let mut verifier = world.verifier(BANK);
    let presentation = presented(&world, &sd_jwt(&world, 90), NOW);
    let report = bank_verifies(&verifier, &presentation, NOW);
    assert!(report.accepted, "{:?}", report.reasons);
    // Version 2: Nanning's IACA replaced by a new one (a compromised root withdrawn); the
    // scope and everything else unchanged.
    let successor = eid_testing::nanning(NOW);
    let v2 = relisted(
        &world,
        verifier.trust(),
        std::slice::from_ref(&successor.iaca.0),
    );
    verifier.replace_trust(v2, NOW);
    let report = bank_verifies(&verifier, &presentation, NOW);
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert_eq!(report.trust_list_version, 2);
    assert_eq!(
        verifier.document_signers().chains_checked(),
        1,
        "checked in full under the new list, and refused"
    );
}

#[test]
fn an_iaca_rolled_over_through_the_trust_list_is_accepted_beside_the_old_then_alone() {
    let world = World::new();
    let successor = eid_testing::nanning(NOW);
    let old = presented(&world, &sd_jwt(&world, 90), NOW);
    let new = presented(&world, &sd_jwt_by(&world, &successor, 90), NOW);
    let mut verifier = world.verifier(BANK);
    // Before the rollover the new root is unknown.
    let report = bank_verifies(&verifier, &new, NOW);
    assert_eq!(report.codes(), ["presentation_not_verified"]);

    // Version 2 lists both roots for Nanning: credentials under either are accepted, as
    // Nanning's, while the old ones run out.
    let roots = [world.nanning.iaca.0.clone(), successor.iaca.0.clone()];
    let both = relisted(&world, verifier.trust(), &roots);
    verifier.replace_trust(both.clone(), NOW);
    for presentation in [&old, &new] {
        let report = bank_verifies(&verifier, presentation, NOW);
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(report.issuer.as_deref(), Some("cn-4501"));
    }

    // Version 3 keeps the new root alone (its status lists signed under it now): the old
    // root's credentials are refused, the new ones accepted.
    let v3 = relisted(&world, &both, std::slice::from_ref(&successor.iaca.0));
    verifier.replace_trust(v3, NOW);
    let token = eid_testing::status_token(&successor, STATUS_URI, &world.status, NOW);
    verifier
        .store_status_list("cn-4501", STATUS_URI, token.as_bytes(), NOW)
        .unwrap();
    assert_eq!(
        bank_verifies(&verifier, &old, NOW).codes(),
        ["presentation_not_verified"]
    );
    let report = bank_verifies(&verifier, &new, NOW);
    assert!(report.accepted, "{:?}", report.reasons);
}
