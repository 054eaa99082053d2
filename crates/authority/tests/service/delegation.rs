//! Delegation (`POST /admin/delegations`): a counter registers a parent or guardian to hold
//! a resident's credential in their own wallet. What is issued, to which wallet, who may
//! hold one, and how it ends.

use axum::http::StatusCode;
use eid_authority::credential::{CONFIG_MDOC, delegated_configurations};
use eid_core::Relationship;
use eid_core::identity::{ResidentCard, age_in_years};
use eid_crypto::b64url_decode;
use eid_mdoc::{IssuerDataCheck, IssuerSigned, IssuerTrust, verify_issuer_data};
use eid_oid4vc::offer::CredentialOffer;
use serde_json::{Value, json};

use crate::common::*;
use crate::lifecycle::issue_to as own;

/// The oldest minor and an adult of the world's registry: (child, parent).
fn child_and_parent(world: &World) -> (usize, usize) {
    let today = world.now().date();
    let age = |c: &ResidentCard| age_in_years(c.birth_date, today);
    let child = (0..world.residents.len())
        .filter(|&n| age(&world.residents[n]) < 18)
        .max_by_key(|&n| age(&world.residents[n]))
        .unwrap();
    let parent = world.residents.iter().position(|c| age(c) >= 30).unwrap();
    (child, parent)
}

pub fn delegation(world: &World, resident: usize, holder: usize, relationship: &str) -> Value {
    let (resident, holder) = (&world.residents[resident], &world.residents[holder]);
    json!({
        "id_number": resident.id_number.expose(),
        "full_name": resident.full_name,
        "holder_id_number": holder.id_number.expose(),
        "holder_full_name": holder.full_name,
        "relationship": relationship,
        "officer": "o-9",
    })
}

pub async fn register(world: &World, body: Value) -> (StatusCode, Value) {
    send(&world.admin, admin_post("/admin/delegations", body)).await
}

/// The admin API's newest credentials.
async fn listed(world: &World) -> Vec<Value> {
    let (_, listed) = send(
        &world.admin,
        axum::http::Request::get("/admin/credentials?limit=50")
            .header(
                axum::http::header::AUTHORIZATION,
                format!("Bearer {ADMIN_TOKEN}"),
            )
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    listed.as_array().unwrap().clone()
}

/// The states of the listed credentials held by a parent.
async fn delegated_states(world: &World) -> Vec<String> {
    listed(world)
        .await
        .iter()
        .filter(|c| c["delegation"] == "parent")
        .map(|c| c["state"].as_str().unwrap().to_owned())
        .collect()
}

/// The counter registers `holder` (whose own credentials `phone` holds) to hold
/// `resident`'s as `relationship`; the phone obtains them. Returns them: mdoc, SD-JWT VC.
pub async fn held_by(
    world: &World,
    (resident, holder): (usize, usize),
    relationship: Relationship,
    phone: &Phone,
) -> Vec<Vec<String>> {
    let body = delegation(world, resident, holder, relationship.as_str());
    let (status, made) = register(world, body).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let offer = CredentialOffer::from_uri(made["offer_uri"].as_str().unwrap()).unwrap();
    let configurations = delegated_configurations(relationship);
    assert_eq!(offer.credential_configuration_ids, configurations);
    obtain(
        world,
        &offer,
        made["tx_code"].as_str().unwrap(),
        phone,
        &configurations.each_ref().map(String::as_str),
    )
    .await
}

/// The parent's wallet holds her own and, once the counter registers it, the child's,
/// under the delegated types. Returns (child, parent, the parent's phone).
async fn delegated(world: &World) -> (usize, usize, Phone) {
    let (child, parent) = child_and_parent(world);
    let phone = Phone::new("wechat", "parent-phone", 2);
    own(world, &world.residents[parent], &phone).await;
    let issued = held_by(world, (child, parent), Relationship::Parent, &phone).await;
    // The mdoc: the child's data under the delegated docType, naming the parent.
    let root = world.pki.trusted_root(world.now()).unwrap();
    let mdoc = IssuerSigned::from_cbor(&b64url_decode(&issued[0][0]).unwrap()).unwrap();
    let verified = verify_issuer_data(
        eid_mdoc::DOCTYPE_DELEGATED,
        &mdoc,
        &IssuerDataCheck {
            trust: IssuerTrust::Roots(std::slice::from_ref(&root)),
            now: world.now(),
            expected_doc_type: Some(eid_mdoc::DOCTYPE_DELEGATED),
            status: None,
        },
    )
    .unwrap();
    let element = |name: &str| {
        verified
            .elements
            .iter()
            .find(|(_, id, _)| id == name)
            .map(|(namespace, _, raw)| {
                (
                    namespace.clone(),
                    eid_mdoc::model::element_to_json(raw).unwrap(),
                )
            })
            .unwrap()
    };
    assert_eq!(
        element("delegation"),
        (eid_mdoc::NAMESPACE_WALLET.to_owned(), json!("parent"))
    );
    // A parent's holding ends on her eighteenth birthday at the latest (the cap itself:
    // `credential::tests`).
    let of_age = eid_core::identity::add_years(world.residents[child].birth_date, 18)
        .midnight()
        .assume_utc();
    assert!(verified.mso.validity.valid_until <= of_age);
    assert_eq!(
        element("document_number").1,
        world.residents[child].id_number.expose()
    );
    assert_eq!(element("provider").1, "wechat");
    // The SD-JWT VC: its type, the relationship in the clear.
    let sd_jwt = eid_sdjwt::UnverifiedSdJwt::parse(&issued[1][0]).unwrap();
    let payload = sd_jwt.issuer_jwt().payload();
    assert_eq!(payload["vct"], eid_sdjwt::VCT_DELEGATED);
    assert_eq!(payload["delegation"], "parent");
    (child, parent, phone)
}

#[tokio::test]
async fn a_parent_registered_at_the_counter_receives_the_childs_credential_under_its_own_type() {
    let world = World::new("sqlite::memory:").await;
    let (child, parent, _phone) = delegated(&world).await;
    // The console sees them held by a parent.
    assert_eq!(delegated_states(&world).await, ["valid", "valid"]);
    // The metadata describes the delegated configurations.
    let (_, metadata) = send(
        &world.public,
        axum::http::Request::get("/.well-known/openid-credential-issuer")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    let [mdoc, sd_jwt] = delegated_configurations(Relationship::Guardian);
    let supported = &metadata["credential_configurations_supported"];
    assert_eq!(supported[&mdoc]["doctype"], eid_mdoc::DOCTYPE_DELEGATED);
    assert_eq!(supported[&sd_jwt]["vct"], eid_sdjwt::VCT_DELEGATED);
    // Only the parent's wallet redeems the offer: another phone is refused.
    let (status, made) = register(&world, delegation(&world, child, parent, "parent")).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let offer = CredentialOffer::from_uri(made["offer_uri"].as_str().unwrap()).unwrap();
    let access = access_token(&world, &offer, made["tx_code"].as_str().unwrap()).await;
    let other = Phone::new("wechat", "someone-else", 1);
    let [mdoc, _] = delegated_configurations(Relationship::Parent);
    let (status, body) = request_credential(&world, &access, &mdoc, &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "credential_request_denied");
    // Her own configurations are not under a delegation's token.
    let (status, body) = request_credential(&world, &access, CONFIG_MDOC, &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unknown_credential_configuration");
    // The audit log says who registered it, without a number or a name.
    let audit = audit_log(&world, 50).await;
    assert!(
        audit.contains(r#""action":"delegate","actor":"officer:o-9","at":1795428000,"detail":"held by a parent, resident:"#),
        "{audit}"
    );
    for (n, card) in [child, parent].map(|n| (n, &world.residents[n])) {
        assert!(!audit.contains(card.id_number.expose()), "{n}");
        assert!(!audit.contains(&card.full_name), "{n}");
    }
}

#[tokio::test]
async fn who_may_hold_a_credential_for_someone_else() {
    let world = World::new("sqlite::memory:").await;
    let (child, parent) = child_and_parent(&world);
    let other_adult = world
        .residents
        .iter()
        .enumerate()
        .position(|(n, c)| n != parent && age_in_years(c.birth_date, world.now().date()) >= 18)
        .unwrap();
    // No wallet of the holder's yet.
    let (status, body) = register(&world, delegation(&world, child, parent, "parent")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "holder_has_no_wallet");
    own(
        &world,
        &world.residents[parent],
        &Phone::new("alipay", "p-1", 1),
    )
    .await;
    own(
        &world,
        &world.residents[child],
        &Phone::new("alipay", "c-1", 1),
    )
    .await;
    for (body, code, says) in [
        // A parent of an adult: a guardian is registered instead.
        (
            delegation(&world, other_adult, parent, "parent"),
            "delegation_refused",
            "minor only",
        ),
        // A child holding for her parent.
        (
            delegation(&world, parent, child, "guardian"),
            "delegation_refused",
            "a minor does not hold",
        ),
        // Herself.
        (
            delegation(&world, parent, parent, "guardian"),
            "delegation_refused",
            "for herself",
        ),
    ] {
        let (status, answer) = register(&world, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"], code);
        assert!(
            answer["error_description"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    // The holder's name as not on the card: the registry check refuses.
    let mut misnamed = delegation(&world, child, parent, "parent");
    misnamed["holder_full_name"] = json!("王五");
    let (status, answer) = register(&world, misnamed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"], "name_mismatch");
    // Saying whose: the officer looks at the holder's card again, not the child's.
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .starts_with("the holder: "),
        "{answer}"
    );
    let mut misnamed = delegation(&world, child, parent, "parent");
    misnamed["full_name"] = json!("王五");
    let (_, answer) = register(&world, misnamed).await;
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .starts_with("the resident whose credential is held: "),
        "{answer}"
    );
    // Bad input: an unknown relationship, no officer, a field too many.
    for (change, says) in [
        (json!({"relationship": "uncle"}), "unknown relationship"),
        (json!({"officer": " "}), "officer"),
        (json!({"ward": "x"}), "unknown field"),
    ] {
        let mut body = delegation(&world, child, parent, "parent");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = register(&world, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            answer["error_description"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    // Nothing of these was issued or offered to anyone.
    assert!(delegated_states(&world).await.is_empty());
    // A guardian of an adult is.
    let (status, answer) =
        register(&world, delegation(&world, other_adult, parent, "guardian")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn the_holders_lost_phone_suspends_it_the_residents_revocation_ends_it_her_own_phone_leaves_it()
 {
    let world = World::new("sqlite::memory:").await;
    let (child, parent, phone) = delegated(&world).await;
    // The parent's wallet is still hers alone to refresh: the child's credential in it does
    // not make it two residents'.
    let nonce = nonce(&world).await;
    let proof = phone.proofs(&world, &nonce).remove(0);
    let (status, made) = send(
        &world.public,
        axum::http::Request::post("/refresh")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(
                json!({ "wallet_proof": proof }).to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    // The child's own phone, lost: the registry's hotline suspends her wallet by instance;
    // the parent's holding is untouched.
    let child_phone = Phone::new("alipay", "child-phone", 1);
    own(&world, &world.residents[child], &child_phone).await;
    let (status, body) = send(
        &world.admin,
        admin_post("/admin/wallets/alipay/child-phone/suspend", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(delegated_states(&world).await, ["valid", "valid"]);
    // The parent's phone, lost: everything in it is suspended, the child's credential too.
    let (status, body) = send(
        &world.admin,
        admin_post("/admin/wallets/wechat/parent-phone/suspend", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(delegated_states(&world).await, ["suspended", "suspended"]);
    let (status, body) = send(
        &world.admin,
        admin_post("/admin/wallets/wechat/parent-phone/reinstate", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(delegated_states(&world).await, ["valid", "valid"]);
    // Her freeze (the hotline) suspends it with her own, and her reinstate brings it back.
    for (action, states) in [("suspend", "suspended"), ("reinstate", "valid")] {
        let (status, body) = send(
            &world.admin,
            admin_post(
                &format!("/admin/residents/{action}"),
                json!({"id_number": world.residents[child].id_number.expose()}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(delegated_states(&world).await, [states, states], "{action}");
    }
    // The resident (or the authority) ends it: her revocation reaches it in the parent's
    // wallet.
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/residents/revoke",
            json!({"id_number": world.residents[child].id_number.expose()}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(delegated_states(&world).await, ["invalid", "invalid"]);
    // The parent's own are hers still.
    let parent_number = world.residents[parent].id_number.expose().to_owned();
    let states: Vec<Value> = listed(&world)
        .await
        .into_iter()
        .filter(|c| c["wallet_instance"] == "parent-phone" && c["delegation"].is_null())
        .map(|c| c["state"].clone())
        .collect();
    assert!(
        !states.is_empty() && states.iter().all(|s| s == "valid"),
        "{states:?} ({parent_number})"
    );
}

#[tokio::test]
async fn the_holders_freeze_reaches_what_she_holds_and_her_death_ends_it() {
    let world = World::new("sqlite::memory:").await;
    let (_child, parent, _phone) = delegated(&world).await;
    let holder = world.residents[parent].id_number.expose().to_owned();
    let resident = async |action: &str| {
        let (status, body) = send(
            &world.admin,
            admin_post(
                &format!("/admin/residents/{action}"),
                json!({"id_number": holder, "reason": "account hacked"}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    // Her hotline freeze (her account hacked): what her phone holds for the child is frozen
    // with her own.
    let frozen = resident("suspend").await;
    assert_eq!(delegated_states(&world).await, ["suspended", "suspended"]);
    // Said apart from her own.
    assert_eq!(
        frozen["held_for_others"]["credentials"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{frozen}"
    );
    assert!(
        !frozen["credentials"].as_array().unwrap().is_empty(),
        "{frozen}"
    );
    // Her resident-wide reinstate brings back her own, not what she holds: nothing says why
    // each was suspended (the console reinstates it by id).
    let back = resident("reinstate").await;
    assert_eq!(delegated_states(&world).await, ["suspended", "suspended"]);
    assert_eq!(back.get("held_for_others"), None, "{back}");
    let own_states: Vec<Value> = listed(&world)
        .await
        .into_iter()
        .filter(|c| c["wallet_instance"] == "parent-phone" && c["delegation"].is_null())
        .map(|c| c["state"].clone())
        .collect();
    assert!(
        !own_states.is_empty() && own_states.iter().all(|s| s == "valid"),
        "{own_states:?}"
    );
    // Her death (the registry): what she held for the child ends.
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/registry/events",
            json!({"id_number": holder, "event": {"kind": "death", "date": "2026-11-22"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(delegated_states(&world).await, ["invalid", "invalid"]);
    assert_eq!(
        body["held_for_others"]["credentials"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{body}"
    );
}

/// What she holds is reached through her, not through the phone: another resident's own
/// credentials in that same wallet instance, and that resident's freeze, leave it alone;
/// her death reaches it when her own are already revoked one by one (so the phone is hers
/// no more), and so does the same event sent again.
#[tokio::test]
async fn what_she_holds_is_reached_through_her_not_through_the_phone() {
    let world = World::new("sqlite::memory:").await;
    let (child, parent, phone) = delegated(&world).await;
    let today = world.now().date();
    let other = (0..world.residents.len())
        .find(|&n| {
            n != parent && n != child && age_in_years(world.residents[n].birth_date, today) >= 18
        })
        .unwrap();
    own(&world, &world.residents[other], &phone).await;
    let post = async |path: &str, body: Value| {
        let (status, answer) = send(&world.admin, admin_post(path, body)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    };
    let number = |n: usize| world.residents[n].id_number.expose().to_owned();
    let frozen = post(
        "/admin/residents/suspend",
        json!({"id_number": number(other), "reason": "account hacked"}),
    )
    .await;
    assert_eq!(frozen.get("held_for_others"), None, "{frozen}");
    assert_eq!(delegated_states(&world).await, ["valid", "valid"]);
    // The holder's own, revoked one by one at the console.
    for credential in listed(&world).await {
        let hers = credential["wallet_instance"] == "parent-phone"
            && credential["delegation"].is_null()
            && credential["state"] == "valid";
        if hers {
            post(
                &format!(
                    "/admin/credentials/{}/revoke",
                    credential["id"].as_str().unwrap()
                ),
                json!({"reason": "test"}),
            )
            .await;
        }
    }
    assert_eq!(delegated_states(&world).await, ["valid", "valid"]);
    let death =
        json!({"id_number": number(parent), "event": {"kind": "death", "date": "2026-11-22"}});
    let died = post("/admin/registry/events", death.clone()).await;
    assert_eq!(delegated_states(&world).await, ["invalid", "invalid"]);
    assert_eq!(
        died["held_for_others"]["credentials"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{died}"
    );
    let again = post("/admin/registry/events", death).await;
    assert_eq!(
        again["held_for_others"]["credentials"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "{again}"
    );
}

#[tokio::test]
async fn what_the_holders_wallet_held_goes_with_it_and_a_lost_wallet_receives_none() {
    let world = World::new("sqlite::memory:").await;
    let (child, parent, _phone) = delegated(&world).await;
    // The holder re-bound to a new phone at a counter: the old phone's holding is revoked
    // with the holder's own.
    let holder = &world.residents[parent];
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/rebind",
            json!({"id_number": holder.id_number.expose(), "full_name": holder.full_name,
                   "officer": "o-9"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(delegated_states(&world).await, ["invalid", "invalid"]);
    // Registered again for the holder's new phone, which is then reported lost before the
    // offer is redeemed: a wallet suspended receives nothing.
    let new_phone = Phone::new("alipay", "parent-new-phone", 1);
    let offer = CredentialOffer::from_uri(body["offer"]["offer_uri"].as_str().unwrap()).unwrap();
    obtain(
        &world,
        &offer,
        body["offer"]["tx_code"].as_str().unwrap(),
        &new_phone,
        &[CONFIG_MDOC],
    )
    .await;
    let (status, made) = register(&world, delegation(&world, child, parent, "parent")).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let (status, body) = send(
        &world.admin,
        admin_post("/admin/wallets/alipay/parent-new-phone/suspend", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offer = CredentialOffer::from_uri(made["offer_uri"].as_str().unwrap()).unwrap();
    let access = access_token(&world, &offer, made["tx_code"].as_str().unwrap()).await;
    let [mdoc, _] = delegated_configurations(Relationship::Parent);
    let (status, body) = request_credential(&world, &access, &mdoc, &new_phone).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("reported lost"),
        "{body}"
    );
    // And a holder whose only wallet is suspended is not registered at all.
    let (status, body) = register(&world, delegation(&world, child, parent, "parent")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "holder_has_no_wallet");
}

#[tokio::test]
async fn the_residents_freeze_closes_a_delegation_offer_not_yet_redeemed_and_says_so() {
    // A child who holds nothing yet; her parent's offer waits at the counter.
    let world = World::new("sqlite::memory:").await;
    let (child, parent) = child_and_parent(&world);
    let phone = Phone::new("wechat", "parent-phone", 2);
    own(&world, &world.residents[parent], &phone).await;
    let (status, made) = register(&world, delegation(&world, child, parent, "parent")).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    // Her freeze closes it: said in the answer, not "nothing to change", and audited.
    let (status, frozen) = send(
        &world.admin,
        admin_post(
            "/admin/residents/suspend",
            json!({"id_number": world.residents[child].id_number.expose()}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{frozen}");
    assert_eq!(frozen["pending_voided"], 1, "{frozen}");
    assert_eq!(frozen["credentials"], json!([]), "{frozen}");
    let audit = audit_log(&world, 5).await;
    assert!(
        audit.contains(r#""outcome":"voided""#)
            && audit.contains("1 offers or access tokens voided"),
        "{audit}"
    );
    // Frozen again, nothing is left to close: a resident with nothing, 404.
    let (status, again) = send(
        &world.admin,
        admin_post(
            "/admin/residents/suspend",
            json!({"id_number": world.residents[child].id_number.expose()}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{again}");
}
