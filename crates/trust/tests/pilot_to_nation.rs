//! The pilot-city problem, end to end with real signatures: one SD-JWT VC from the Nanning
//! authority (scope: prefecture 4501), issued once, never reissued.
//!
//! - trust list v1: accepted by a Nanning hotel; rejected by a Hangzhou hotel (3301…) with
//!   the reason naming the issuer, the region and the purpose;
//! - v2 widens Nanning's scope to the nation: the Hangzhou hotel accepts the same credential;
//! - v3 suspends the wallet provider the credential was issued into: rejected again.
//!
//! Every step verifies the credential against the IACA roots of the signed trust list, and
//! its status against a status list token signed by the Nanning document signer.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_core::OsRandom;
use eid_core::region::Scope;
use eid_core::status::CredentialStatus;
use eid_crypto::x509::AuthorityPki;
use eid_crypto::{Algorithm, Signer, SigningKey};
use eid_sdjwt::{
    IssueRequest, IssuerTrust, KeyBinding, KeyBindingCheck, StatusListReference, UnverifiedSdJwt,
    VerifyOptions,
};
use eid_status::{Bits, ReadOptions, SignerRef, StatusList, StatusListToken, TokenTrust};
use eid_trust::edit::{add_provider, set_scope};
use eid_trust::model::{ProviderState, WalletProvider};
use eid_trust::signed::sign;
use eid_trust::{
    AcceptanceScope, Decision, Presentation, Purpose, Registration, Rejection, StatusFinding,
    TrustList, VerifiedTrustList, decide,
};
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
const STATUS_URI: &str = "https://eid.example.cn/status/4501/0";

struct World {
    nanning: AuthorityPki,
    hangzhou: AuthorityPki,
    national_root: SigningKey,
    holder: SigningKey,
    credential: String,
    status_token: String,
}

fn world() -> World {
    world_of(Algorithm::Es256)
}

/// The world with Nanning's keys of `algorithm`.
fn world_of(algorithm: Algorithm) -> World {
    let nanning = AuthorityPki::generate_for(
        algorithm,
        "南宁市公安局",
        "CN",
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
        &OsRandom,
    )
    .unwrap();
    let holder = SigningKey::generate().unwrap();
    let claims = eid_testing::her_claims("superapp-a");
    let credential = eid_sdjwt::issue(
        &IssueRequest {
            claims: &claims,
            vct: eid_sdjwt::VCT_RESIDENT_IDENTITY,
            issuer: Some("https://eid.example.cn/4501"),
            holder_key: holder.verifying_key(),
            issued_at: NOW - Duration::days(30),
            expires_at: Some(NOW + Duration::days(365)),
            status: Some(StatusListReference {
                idx: 4242,
                uri: STATUS_URI.into(),
            }),
            x5c: std::slice::from_ref(&nanning.ds.0),
            decoys: 2,
        },
        &nanning.ds_key,
        &OsRandom,
    )
    .unwrap();
    let status_token = eid_testing::status_token(
        &nanning,
        STATUS_URI,
        &StatusList::new(Bits::TWO, 1 << 17).unwrap(),
        NOW - Duration::minutes(10),
    );
    let hangzhou = eid_testing::authority(
        "杭州市公安局",
        "https://eid.example.cn/3301",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
    );
    World {
        nanning,
        hangzhou,
        national_root: SigningKey::generate().unwrap(),
        holder,
        credential,
        status_token,
    }
}

/// Version 1: Nanning accepted in its prefecture for every purpose; one wallet provider;
/// a hotel in Nanning (兴宁区) and one in Hangzhou (西湖区).
fn draft_v1(w: &World) -> TrustList {
    let mut list = TrustList::new(NOW);
    let since = datetime!(2026-01-01 0:00 UTC);
    eid_testing::accept_issuer(
        &mut list,
        "cn-4501",
        "南宁市公安局",
        &w.nanning,
        "4501",
        since,
    );
    // A second issuer, Hangzhou, accepted in its own prefecture.
    eid_testing::accept_issuer(
        &mut list,
        "cn-3301",
        "杭州市公安局",
        &w.hangzhou,
        "3301",
        since,
    );
    add_provider(
        &mut list,
        WalletProvider {
            id: "superapp-a".into(),
            name: "Super-app A".into(),
            attestation_keys: vec![SigningKey::generate().unwrap().verifying_key().to_jwk()],
            state: ProviderState::Active,
        },
        false,
    )
    .unwrap();
    for (id, name, region) in [
        ("hotel-450102-0001", "南宁民族大道酒店", "450102"),
        ("hotel-330106-0001", "杭州西湖酒店", "330106"),
    ] {
        eid_testing::register(&mut list, id, name, region, Purpose::HotelCheckIn, None);
    }
    list
}

/// Signs `draft`, then reads it back as a verifier holding `cached` does.
fn publish(
    w: &World,
    draft: &TrustList,
    cached: Option<&VerifiedTrustList>,
) -> (TrustList, String, VerifiedTrustList) {
    let (jws, signed) = sign(
        draft,
        &w.national_root,
        NOW - Duration::hours(1),
        Duration::days(1),
    )
    .unwrap();
    let verified = VerifiedTrustList::read(
        &jws,
        &[w.national_root.verifying_key().clone()],
        NOW,
        cached,
    )
    .unwrap();
    (signed, jws, verified)
}

/// A hotel verifies the credential under `trust`: the SD-JWT against the list's roots, the
/// Nanning status list against the credential's own issuer, then the acceptance policy.
fn hotel_checks(w: &World, trust: &VerifiedTrustList, hotel: &str) -> Decision {
    hotel_checks_with_status(w, trust, hotel, &w.status_token)
}

/// The SD-JWT presented to `hotel`, verified against the list's roots, with the roots'
/// owners.
fn verify_presentation(
    w: &World,
    trust: &VerifiedTrustList,
    hotel: &str,
) -> (
    Result<eid_sdjwt::VerifiedSdJwt, eid_sdjwt::SdJwtError>,
    Vec<String>,
) {
    let nonce = format!("nonce-{hotel}");
    let presentation = eid_sdjwt::present(
        &w.credential,
        &DISCLOSED,
        Some(&KeyBinding {
            signer: &w.holder,
            audience: hotel,
            nonce: &nonce,
            issued_at: NOW,
        }),
    )
    .unwrap();
    let (roots, owners) = trust.roots(NOW);
    let verified = UnverifiedSdJwt::parse(&presentation)
        .unwrap()
        .verify(&VerifyOptions {
            trust: IssuerTrust {
                x5c: eid_sdjwt::X5cTrust::Roots(&roots),
                keys: &[],
            },
            now: NOW,
            leeway: Duration::ZERO,
            sd_jwt_vc: true,
            expected_vct: &[eid_sdjwt::VCT_RESIDENT_IDENTITY],
            key_binding: Some(&KeyBindingCheck {
                audience: hotel,
                nonce: &nonce,
                max_age: Duration::minutes(5),
            }),
            status: None,
        });
    (verified, owners)
}

const DISCLOSED: [&str; 7] = [
    "family_name",
    "given_name",
    "sex",
    "ethnicity",
    "birth_date",
    "address",
    "document_number",
];

fn hotel_checks_with_status(
    w: &World,
    trust: &VerifiedTrustList,
    hotel: &str,
    status_token: &str,
) -> Decision {
    let (verified, owners) = verify_presentation(w, trust, hotel);
    let verified = verified.unwrap();
    let issuer = verified.issuer_root.map(|i| owners[i].as_str());
    let reference = verified.status_reference.clone().unwrap();
    // Only the credential's own issuer answers for its status.
    let (status_roots, status_keys) = trust.issuer_status_trust(issuer.unwrap(), NOW);
    let status = match eid_status::read(
        status_token.as_bytes(),
        &ReadOptions::new(
            TokenTrust {
                roots: &status_roots,
                keys: &status_keys,
            },
            NOW,
            &reference.uri,
        ),
    ) {
        Ok(list) => StatusFinding::Checked {
            status: eid_status::list::credential_status(
                list.token.list.get(reference.idx).unwrap(),
            )
            .unwrap(),
            list_issued_at: list.token.issued_at,
        },
        Err(e) => StatusFinding::Undetermined(e.to_string()),
    };
    let requested: Vec<String> = DISCLOSED.iter().map(|s| (*s).to_owned()).collect();
    let exp = verified.claims["exp"].as_i64().unwrap();
    decide(
        &Presentation {
            issuer,
            wallet_provider: verified
                .claims
                .get("wallet_provider")
                .and_then(Value::as_str),
            printed: false,
            delegated: None,
            requested: &requested,
            disclosed: &verified.disclosed,
            valid_from: None,
            valid_until: Some(OffsetDateTime::from_unix_timestamp(exp).unwrap()),
            status,
        },
        Registration {
            relying_party: hotel,
            purpose: Purpose::HotelCheckIn,
        },
        trust,
        NOW,
    )
}

#[test]
fn a_pilot_becomes_national_without_reissuing_and_a_suspended_provider_is_cut_off() {
    let w = world();
    let credential_before = w.credential.clone();

    // Version 1: the pilot.
    let (v1_draft, _, v1) = publish(&w, &draft_v1(&w), None);
    assert_eq!(v1.list().version, 1);
    let nanning = hotel_checks(&w, &v1, "hotel-450102-0001");
    assert!(nanning.accepted, "{:?}", nanning.reasons);
    let hangzhou = hotel_checks(&w, &v1, "hotel-330106-0001");
    assert_eq!(
        hangzhou.reasons,
        [Rejection::IssuerNotAuthorised {
            issuer: "cn-4501".into(),
            region: "330106".into(),
            purpose: Purpose::HotelCheckIn,
            scopes: "4501 for hotel_check_in, airport_security, rail_ticketing, bank_account_opening, welfare, age_check from 2026-01-01".into(),
        }]
    );
    let said = hangzhou.reasons[0].to_string();
    assert!(
        said.contains("cn-4501") && said.contains("330106") && said.contains("hotel_check_in"),
        "{said}"
    );

    // Version 2: the national authorisation widens Nanning's scope to the nation.
    let mut v2_draft = v1_draft.clone();
    set_scope(
        &mut v2_draft,
        "cn-4501",
        AcceptanceScope {
            region: Scope::Nation,
            purposes: Purpose::ALL.to_vec(),
            valid_from: datetime!(2026-11-01 0:00 UTC),
            valid_until: None,
        },
        true,
    )
    .unwrap();
    let (v2_draft, v2_jws, v2) = publish(&w, &v2_draft, Some(&v1));
    assert_eq!(v2.list().version, 2);
    assert!(hotel_checks(&w, &v2, "hotel-330106-0001").accepted);
    assert!(hotel_checks(&w, &v2, "hotel-450102-0001").accepted);

    // Version 3: the wallet provider is suspended after a breach.
    let mut v3_draft = v2_draft.clone();
    let mut provider = v3_draft.wallet_provider("superapp-a").unwrap().clone();
    provider.state = ProviderState::Suspended;
    add_provider(&mut v3_draft, provider, true).unwrap();
    let (_, _, v3) = publish(&w, &v3_draft, Some(&v2));
    for hotel in ["hotel-330106-0001", "hotel-450102-0001"] {
        assert_eq!(
            hotel_checks(&w, &v3, hotel).reasons,
            [Rejection::WalletProviderSuspended {
                provider: "superapp-a".into()
            }],
            "{hotel}"
        );
    }
    // A replayed version 2 does not undo the suspension.
    assert_eq!(
        VerifiedTrustList::read(
            &v2_jws,
            &[w.national_root.verifying_key().clone()],
            NOW,
            Some(&v3)
        )
        .err(),
        Some(eid_trust::TrustError::Rollback {
            cached: 3,
            offered: 2
        })
    );
    // And the credential was never reissued.
    assert_eq!(w.credential, credential_before);
    assert_eq!(
        eid_status::list::credential_status(0),
        Some(CredentialStatus::Valid)
    );
}

/// Hangzhou is a listed issuer too, but its document signer cannot answer for a Nanning
/// credential: a list it signs under Nanning's URI, revoking everything, is not believed.
#[test]
fn another_listed_issuer_cannot_answer_for_a_credential_status() {
    let w = world();
    let (_, _, v1) = publish(&w, &draft_v1(&w), None);
    let mut all_revoked = StatusList::new(Bits::TWO, 1 << 17).unwrap();
    all_revoked.set(4242, 1).unwrap();
    let forged = StatusListToken {
        uri: STATUS_URI.into(),
        issued_at: NOW - Duration::minutes(1),
        expires_at: Some(NOW + Duration::days(1)),
        ttl: Some(300),
        list: all_revoked,
    }
    .sign_jwt(
        &w.hangzhou.ds_key,
        SignerRef::Certificates(std::slice::from_ref(&w.hangzhou.ds.0)),
    )
    .unwrap();
    let decision = hotel_checks_with_status(&w, &v1, "hotel-450102-0001", &forged);
    assert_eq!(
        decision.reasons,
        [Rejection::StatusUndetermined {
            detail: "the status list signer's certificate is not trusted: the document signer was not issued by a trusted IACA".into()
        }]
    );
}

/// An authority that chose SM2 with SM3 (the deployment option): its credential and its
/// status list verify where the trust list names it `SM2SM3`, and nowhere the list says
/// `ES256` — the same roots and keys, listed under the wrong algorithm, are not read.
#[test]
fn an_sm2_authority_is_accepted_where_the_list_names_sm2_and_refused_where_it_says_es256() {
    let w = world_of(Algorithm::Sm2Sm3);
    let header = w.credential.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "SM2SM3");
    let (draft, _, v1) = publish(&w, &draft_v1(&w), None);
    // The roots named the algorithm when the issuer was added; the list says it.
    let json = serde_json::to_value(&draft).unwrap();
    assert_eq!(json["issuers"][0]["algorithm"], "SM2SM3");
    assert_eq!(
        json["issuers"][1].get("algorithm"),
        None,
        "ES256 is the default"
    );
    let decision = hotel_checks(&w, &v1, "hotel-450102-0001");
    assert!(decision.accepted, "{:?}", decision.reasons);

    // The same list, saying ES256 for Nanning.
    let mut es256 = draft.clone();
    es256.issuers[0].algorithm = Algorithm::Es256;
    let (mut es256, _, v2) = publish(&w, &es256, Some(&v1));
    let (roots, owners) = v2.roots(NOW);
    assert_eq!(owners, ["cn-3301"]);
    assert_eq!(roots.len(), 1);
    let (refused, _) = verify_presentation(&w, &v2, "hotel-450102-0001");
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("not issued by a trusted IACA")),
        "{refused:?}"
    );
    let (status_roots, status_keys) = v2.issuer_status_trust("cn-4501", NOW);
    assert!(status_roots.is_empty() && status_keys.is_empty());
    // Its DS key as a status list key: read under SM2SM3, not under ES256.
    let mut keyed = draft.clone();
    keyed.issuers[0].status_list_keys = vec![w.nanning.ds_key.verifying_key().to_jwk()];
    assert_eq!(
        VerifiedTrustList::dangerous_unsigned(keyed.clone())
            .issuer_status_trust("cn-4501", NOW)
            .1
            .len(),
        1
    );
    keyed.issuers[0].algorithm = Algorithm::Es256;
    assert!(
        VerifiedTrustList::dangerous_unsigned(keyed)
            .issuer_status_trust("cn-4501", NOW)
            .1
            .is_empty()
    );
    // Nanning's entry cannot be replaced with roots of the other algorithm.
    let mut replaced = draft.clone();
    let switched = eid_trust::edit::add_issuer(
        &mut replaced,
        "cn-4501",
        "南宁市公安局",
        std::slice::from_ref(&w.hangzhou.iaca.0),
        Vec::new(),
        NOW,
        true,
    );
    assert!(
        switched
            .as_ref()
            .is_err_and(|e| e.to_string().contains("under another id")),
        "{switched:?}"
    );
    assert_eq!(replaced, draft);
    // Nor may an ES256 issuer's entry take SM2 status or offline keys.
    let sm2_key = w.nanning.ds_key.verifying_key().to_jwk();
    assert!(
        eid_trust::edit::set_offline_keys(&mut es256, "cn-3301", vec![sm2_key.clone()]).is_err()
    );
    let mut sm2 = es256.clone();
    sm2.issuers[0].algorithm = Algorithm::Sm2Sm3;
    eid_trust::edit::set_offline_keys(&mut sm2, "cn-4501", vec![sm2_key]).unwrap();
    let (sm2, _, v3) = publish(&w, &sm2, Some(&v2));
    assert_eq!(v3.offline_keys().len(), 1);
    let mut es256 = sm2.clone();
    es256.issuers[0].algorithm = Algorithm::Es256;
    let (_, _, v4) = publish(&w, &es256, Some(&v3));
    assert!(v4.offline_keys().is_empty());
}

/// An issuer's roots are of one algorithm, and its status list keys of theirs.
#[test]
fn an_issuer_of_two_algorithms_is_not_listed() {
    let sm2 = AuthorityPki::generate_for(
        Algorithm::Sm2Sm3,
        "南宁市公安局",
        "CN",
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
        &OsRandom,
    )
    .unwrap();
    let p256 = eid_testing::nanning(NOW);
    let mut list = TrustList::new(NOW);
    let both = [sm2.iaca.0.clone(), p256.iaca.0.clone()];
    let mixed =
        eid_trust::edit::add_issuer(&mut list, "cn-4501", "南宁", &both, Vec::new(), NOW, false);
    assert!(
        mixed
            .as_ref()
            .is_err_and(|e| e.to_string().contains("two algorithms")),
        "{mixed:?}"
    );
    let p256_status_key = p256.ds_key.verifying_key().to_jwk();
    assert!(
        eid_trust::edit::add_issuer(
            &mut list,
            "cn-4501",
            "南宁",
            std::slice::from_ref(&sm2.iaca.0),
            vec![p256_status_key],
            NOW,
            false
        )
        .is_err_and(|e| e.to_string().contains("status list key of cn-4501"))
    );
    assert!(list.issuers.is_empty());
}
