//! The printed code (`POST /admin/paper`): what a counter prints for a resident without a
//! smartphone, what it refuses to print, and how the authority withdraws it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eid_core::status::{CredentialStatus, StatusCheck};
use eid_crypto::{Signer, b64url_decode};
use eid_mdoc::offline::{OfflineCheck, OfflineIssuerKey, VerifiedOffline, key_id, verify_offline};
use eid_trust::{Purpose, VerifiedTrustList};
use serde_json::{Value, json};
use time::Duration;

use crate::common::*;
use crate::issuance::{ServedLists, fetch_list};

/// Lets `purpose` accept printed codes; with `face`, as a signed list must (the face match
/// required), else without it — a list no signer makes and no desk accepts paper under —
/// so that a world without a face model prints one: the tests of what the authority
/// records and refuses run without the models; those with the face template are in
/// `remote.rs`.
pub fn allow_paper(world: &World, purpose: Purpose, face: bool) {
    let mut list = world.authority.trust_list().list().clone();
    let entry = list
        .purposes
        .iter_mut()
        .find(|p| p.purpose == purpose)
        .unwrap();
    entry.paper_allowed = true;
    entry.face_match_required = face;
    world
        .authority
        .set_trust_list(VerifiedTrustList::dangerous_unsigned(list));
}

pub async fn print(world: &World, body: Value) -> (StatusCode, Value) {
    send(&world.admin, admin_post("/admin/paper", body)).await
}

pub fn request(world: &World, n: usize, purpose: &str) -> Value {
    let card = &world.residents[n];
    json!({
        "id_number": card.id_number.expose(),
        "full_name": card.full_name,
        "purpose": purpose,
        "officer": "o-7",
    })
}

/// The code's checks as a desk makes them with the authority's key, at `now`.
pub fn read(world: &World, code: &str, purpose: &str) -> VerifiedOffline {
    let ds = world.pki.ds_key.verifying_key();
    let keys = [OfflineIssuerKey {
        issuer: "cn-4501".into(),
        kid: key_id(ds).unwrap(),
        key: ds.clone(),
    }];
    verify_offline(
        &b64url_decode(code).unwrap(),
        &OfflineCheck {
            keys: &keys,
            purpose,
            now: world.now(),
        },
    )
    .unwrap()
}

async fn status(world: &World, verified: &VerifiedOffline) -> CredentialStatus {
    let reference = verified.claims.status.clone().unwrap();
    let shard: u64 = reference.uri.rsplit('/').next().unwrap().parse().unwrap();
    let lists = ServedLists(vec![(
        reference.uri.clone(),
        fetch_list(world, shard, false).await,
    )]);
    lists
        .status(&eid_core::status::StatusListReference {
            idx: reference.idx,
            uri: reference.uri,
        })
        .unwrap()
}

/// The admin API's newest credentials.
async fn credentials(world: &World) -> Value {
    let (_, listed) = send(
        &world.admin,
        Request::get("/admin/credentials?limit=10")
            .header(
                axum::http::header::AUTHORIZATION,
                format!("Bearer {ADMIN_TOKEN}"),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    listed
}

#[tokio::test]
async fn a_counter_prints_a_code_bound_to_no_phone_that_the_authority_can_withdraw() {
    let world = World::new("sqlite::memory:").await;
    allow_paper(&world, Purpose::AirportSecurity, false);
    let (code, printed) = print(&world, request(&world, 3, "airport_security")).await;
    assert_eq!(code, StatusCode::OK, "{printed}");
    assert_eq!(printed["purpose"], "airport_security");
    assert_eq!(
        printed["expires_at"],
        (world.now() + Duration::hours(24)).unix_timestamp()
    );
    let verified = read(
        &world,
        printed["code"].as_str().unwrap(),
        "airport_security",
    );
    assert!(verified.printed);
    assert_eq!(verified.claims.device_key, None);
    assert_eq!(verified.claims.provider, None);
    let number = world.residents[3].id_number.expose();
    let document =
        eid_mdoc::model::element_to_json(&verified.claims.attributes["document_number"]).unwrap();
    assert_eq!(document, number);
    assert_eq!(status(&world, &verified).await, CredentialStatus::Valid);

    // Audited by its credential, naming no one; listed as held by no wallet.
    let log = audit_log(&world, 5).await;
    assert!(log.contains("print"), "{log}");
    assert!(log.contains("officer:o-7"), "{log}");
    assert!(!log.contains(number), "{log}");
    let listed = credentials(&world).await;
    let id = printed["credential"].as_str().unwrap();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap();
    assert_eq!(row["provider"], "paper", "{row}");
    assert_eq!(
        row["configuration"],
        "resident_identity_paper_airport_security"
    );

    // The hotline's freeze suspends it with her phones' credentials; a revocation ends it.
    let (code, frozen) = send(
        &world.admin,
        admin_post(
            "/admin/residents/suspend",
            json!({"id_number": number, "reason": "hotline"}),
        ),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{frozen}");
    assert!(
        frozen["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == id),
        "{frozen}"
    );
    assert_eq!(status(&world, &verified).await, CredentialStatus::Suspended);
    let (code, revoked) = send(
        &world.admin,
        admin_post(&format!("/admin/credentials/{id}/revoke"), json!({})),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["instances"], 1);
    assert_eq!(status(&world, &verified).await, CredentialStatus::Invalid);

    // 72 hours at most; each printed code its own status entry.
    let mut longest = request(&world, 4, "airport_security");
    longest["hours"] = 72.into();
    let (code, printed) = print(&world, longest).await;
    assert_eq!(code, StatusCode::OK, "{printed}");
    assert_eq!(
        printed["expires_at"],
        (world.now() + Duration::hours(72)).unix_timestamp()
    );
    let other = read(
        &world,
        printed["code"].as_str().unwrap(),
        "airport_security",
    );
    assert_ne!(other.claims.status, verified.claims.status);
    // Each code its own "wallet instance"; one live code per purpose: printing another
    // revokes the one before (a lost paper replaced), not another resident's.
    let listed = credentials(&world).await;
    let row = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let second = printed["credential"].as_str().unwrap().to_owned();
    assert_eq!(row(&second)["wallet_instance"], second.as_str());
    // Another resident's live code, and her own for another purpose, stay as they are.
    allow_paper(&world, Purpose::RailTicketing, false);
    let (_, neighbour) = print(&world, request(&world, 5, "airport_security")).await;
    let neighbour = read(
        &world,
        neighbour["code"].as_str().unwrap(),
        "airport_security",
    );
    let (_, rail) = print(&world, request(&world, 4, "rail_ticketing")).await;
    let rail = read(&world, rail["code"].as_str().unwrap(), "rail_ticketing");
    let mut again = request(&world, 4, "airport_security");
    again["hours"] = 1.into();
    let (code, third) = print(&world, again).await;
    assert_eq!(code, StatusCode::OK, "{third}");
    let newest = read(&world, third["code"].as_str().unwrap(), "airport_security");
    assert_eq!(status(&world, &other).await, CredentialStatus::Invalid);
    assert_eq!(status(&world, &newest).await, CredentialStatus::Valid);
    assert_eq!(status(&world, &neighbour).await, CredentialStatus::Valid);
    assert_eq!(status(&world, &rail).await, CredentialStatus::Valid);
    let log = audit_log(&world, 10).await;
    assert!(log.contains("replaced by a new printed code"), "{log}");
}

#[tokio::test]
async fn a_counter_prints_nothing_for_a_bad_request_and_says_why() {
    let world = World::new("sqlite::memory:").await;
    allow_paper(&world, Purpose::AirportSecurity, false);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = request(&world, 5, "airport_security");
        change(&mut body);
        body
    };
    for (body, status, error, says) in [
        (
            with(&|b| b["hours"] = 73.into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "1 to 72 hours, not 73",
        ),
        (
            with(&|b| b["hours"] = 0.into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "not 0",
        ),
        (
            with(&|b| b["purpose"] = "nightclub".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown purpose \"nightclub\"",
        ),
        (
            with(&|b| b["officer"] = "".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "officer",
        ),
        (
            with(&|b| b["purpose"] = "bank_account_opening".into()),
            StatusCode::FORBIDDEN,
            "paper_not_allowed",
            "does not allow a printed code for bank_account_opening",
        ),
        (
            with(&|b| b["full_name"] = "王五".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name_mismatch",
            "",
        ),
        (
            with(&|b| b["color"] = "red".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unknown field",
        ),
    ] {
        let (code, answer) = print(&world, body.clone()).await;
        assert_eq!(code, status, "{body}: {answer}");
        assert_eq!(answer["error"], error, "{body}: {answer}");
        assert!(
            answer["error_description"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    // Nothing was recorded for her.
    let listed = credentials(&world).await;
    assert_eq!(listed.as_array().unwrap().len(), 0, "{listed}");
    // Where the face must match, an authority without a face model prints none.
    require_face_match(&world, Purpose::AirportSecurity);
    let (code, answer) = print(&world, request(&world, 5, "airport_security")).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{answer}");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .contains("no face model"),
        "{answer}"
    );
}

/// A document signer whose key stops signing when told (an HSM gone away mid-way).
struct Faltering {
    key: eid_crypto::SigningKey,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Signer for Faltering {
    fn algorithm(&self) -> eid_crypto::Algorithm {
        self.key.algorithm()
    }
    fn verifying_key(&self) -> &eid_crypto::VerifyingKey {
        self.key.verifying_key()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, eid_crypto::CryptoError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(eid_crypto::CryptoError::SigningFailed);
        }
        self.key.sign(message)
    }
}

/// What was recorded and then could not be signed is withdrawn, said in the audit log, and
/// the same request goes through once the signer is back: a printed code (its entry
/// revoked) and a credential request (the batch revoked, the token free to retry).
#[tokio::test]
async fn what_the_signer_fails_to_sign_is_withdrawn_and_may_be_asked_again() {
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let world = World::with_signers(
        "sqlite::memory:",
        std::sync::Arc::new(eid_core::FixedClock(NOW)),
        |pki| {
            let key = eid_crypto::SigningKey::from_pkcs8_der_allowing(
                &pki.ds_key.to_pkcs8_der().unwrap(),
                &[pki.ds_key.algorithm()],
            )
            .unwrap();
            eid_authority::DocumentSigners::one(
                std::sync::Arc::new(Faltering {
                    key,
                    failing: failing.clone(),
                }),
                vec![pki.ds.0.clone()],
            )
            .unwrap()
        },
    )
    .await;
    allow_paper(&world, Purpose::AirportSecurity, false);
    let fail = |on: bool| failing.store(on, std::sync::atomic::Ordering::SeqCst);

    fail(true);
    let (code, answer) = print(&world, request(&world, 7, "airport_security")).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    let listed = credentials(&world).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["state"], "invalid", "{listed}");
    assert!(
        audit_log(&world, 5)
            .await
            .contains("recorded but not printed")
    );
    fail(false);
    let (code, printed) = print(&world, request(&world, 7, "airport_security")).await;
    assert_eq!(code, StatusCode::OK, "{printed}");
    // A reprint that fails leaves the code she holds as it was.
    let held = read(
        &world,
        printed["code"].as_str().unwrap(),
        "airport_security",
    );
    fail(true);
    let (code, answer) = print(&world, request(&world, 7, "airport_security")).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    fail(false);
    assert_eq!(status(&world, &held).await, CredentialStatus::Valid);

    let card = world.residents[8].clone();
    let (offer, tx_code) = enrol(&world, &card).await;
    let access = access_token(&world, &offer, &tx_code).await;
    let phone = Phone::new("wechat", "wechat-flaky", 1);
    let configuration = eid_authority::credential::CONFIG_SD_JWT;
    fail(true);
    let (code, answer) = request_credential(&world, &access, configuration, &phone).await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(
        audit_log(&world, 5)
            .await
            .contains("issued but not delivered")
    );
    let withdrawn = world
        .authority
        .store()
        .credentials_of(&card.id_number)
        .await
        .unwrap();
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].state, eid_store::CredentialState::Invalid);
    fail(false);
    let (code, answer) = request_credential(&world, &access, configuration, &phone).await;
    assert_eq!(code, StatusCode::OK, "{answer}");
}

/// A life event ends a printed code like any credential; a resident who held only paper is
/// offered no reissue into a phone she does not have (the counter prints her a new code).
#[tokio::test]
async fn a_new_address_revokes_the_printed_code_and_offers_no_phone_reissue() {
    let world = World::new("sqlite::memory:").await;
    allow_paper(&world, Purpose::AirportSecurity, false);
    let (code, printed) = print(&world, request(&world, 9, "airport_security")).await;
    assert_eq!(code, StatusCode::OK, "{printed}");
    let verified = read(
        &world,
        printed["code"].as_str().unwrap(),
        "airport_security",
    );
    let (code, body) = send(
        &world.admin,
        admin_post(
            "/admin/registry/events",
            json!({
                "id_number": world.residents[9].id_number.expose(),
                "event": {"kind": "address_changed", "address": "浙江省杭州市西湖区文三路1号", "residence_region": "330106"},
            }),
        ),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["changed"]["instances"], 1, "{body}");
    assert!(body["reissue_offer"].is_null(), "{body}");
    assert_eq!(status(&world, &verified).await, CredentialStatus::Invalid);
}
