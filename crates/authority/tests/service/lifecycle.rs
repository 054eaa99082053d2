//! Lifecycle: lost phone, found phone, re-binding, registry life events — each visible in
//! the served status lists and as pushed events; the proofing refusals; the admin guard.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode, header};
use eid_authority::Event;
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_core::ResidentCard;
use eid_oid4vc::offer::CredentialOffer;
use eid_store::Store;
use serde_json::{Value, json};
use time::macros::date;
use tokio_stream::StreamExt;
use tower::ServiceExt;

use crate::common::*;
use crate::issuance::{ServedLists, fetch_list, verify_mdoc, verify_sd_jwt};

/// Who the tests' changes of credential states are audited as.
const STAMP: eid_store::AuditStamp<'static> = eid_store::AuditStamp {
    actor: "test",
    action: "test",
    detail: "",
};

/// Opens an SSE stream on the public listener.
async fn subscribe(world: &World, path: &str) -> BodyDataStream {
    let response = world
        .public
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    response.into_body().into_data_stream()
}

/// Opens an SSE stream on the admin listener.
async fn subscribe_admin(world: &World, path: &str) -> BodyDataStream {
    let response = world
        .admin
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().into_data_stream()
}

/// The next `n` events of the stream (SSE `data:` lines), waiting at most a second each.
async fn next_events(stream: &mut BodyDataStream, n: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(StdDuration::from_secs(1), stream.next())
            .await
            .expect("an event within a second")
            .unwrap()
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                events.push(serde_json::from_str(data).unwrap());
            }
        }
    }
    events
}

/// Everything `phone` got for `card`, in both formats.
pub async fn issue_to(world: &World, card: &ResidentCard, phone: &Phone) -> Vec<Vec<String>> {
    let (offer, tx_code) = enrol(world, card).await;
    obtain(
        world,
        &offer,
        &tx_code,
        phone,
        &[CONFIG_MDOC, CONFIG_SD_JWT],
    )
    .await
}

async fn lists(world: &World) -> ServedLists {
    ServedLists(vec![(
        world.authority.status_uri(0),
        fetch_list(world, 0, false).await,
    )])
}

/// Verifies every credential of `issued` against the served lists: Ok(()) or the first
/// status error's text.
async fn check_all(world: &World, issued: &[Vec<String>], phone: &Phone) -> Result<(), String> {
    let lists = lists(world).await;
    for (credential, key) in issued[0].iter().zip(&phone.keys) {
        verify_mdoc(world, credential, key, &lists).map_err(|e| e.to_string())?;
    }
    for (credential, key) in issued[1].iter().zip(&phone.keys) {
        verify_sd_jwt(world, credential, key, &lists).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn statuses(events: &[Event]) -> BTreeSet<(u64, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Status { idx, status, .. } => Some((*idx, status.clone())),
            Event::WalletNotice { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn lost_phone_found_phone_and_rebinding_show_in_lists_and_events() {
    lost_found_rebound(&World::new("sqlite::memory:").await).await;
}

/// The admin listener's probes and metrics answer without the token (the load balancer and
/// Prometheus hold none), the routes by template and the changes by action: no identity
/// number, wallet instance or credential id in any label.
#[tokio::test]
async fn probes_and_metrics_answer_without_the_token_and_name_no_one() {
    let world = World::new("memory:").await;
    lost_found_rebound(&world).await;
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    let (status, health) = send(&world.admin, get("/health")).await;
    assert_eq!((status, &health["alive"]), (StatusCode::OK, &json!(true)));
    let (status, ready) = send(&world.admin, get("/ready")).await;
    assert_eq!(
        (status, &ready["ready"]),
        (StatusCode::OK, &json!(true)),
        "{ready}"
    );
    let (status, text) = send(&world.admin, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(
        text.contains("eid_status_changes_total{action=\"suspend\"}"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/admin/wallets/{provider}/{instance}/{action}\""),
        "{text}"
    );
    assert!(text.contains("route=\"/status/{shard}\""), "{text}");
    // The lists served were signed, and the newest held has seen the changes.
    assert!(
        text.contains("eid_status_lists_signed_total{form=\"jwt\"}"),
        "{text}"
    );
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert!(gauge("eid_status_lists_held") >= 1.0, "{text}");
    assert!(gauge("eid_status_list_version_newest") >= 1.0, "{text}");
    // Labels hold templates and codes only: nothing that looks like a number of the
    // registry, and no value the requests carried.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let labels = line.split(['{', '}']).nth(1).unwrap_or_default();
        assert!(
            !labels
                .as_bytes()
                .windows(6)
                .any(|w| w.iter().all(u8::is_ascii_digit)),
            "{line}"
        );
        assert!(!labels.contains("phone"), "{line}");
    }
}

/// Event streams have a cap of their own, below the listener's connections: the next reader
/// gets 503 and the status lists are still served; a reader that goes frees its slot.
#[tokio::test]
async fn event_streams_beyond_the_cap_are_refused_and_the_lists_still_served() {
    let world = World::new("memory:").await;
    let events = || Request::get("/events").body(Body::empty()).unwrap();
    let mut open = Vec::new();
    for _ in 0..eid_authority::MAX_EVENT_STREAMS {
        let response = world.public.clone().oneshot(events()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let (status, refused) = send(&world.public, events()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"], "unavailable");
    // The wallet notices share the cap.
    let (status, _) = send(
        &world.admin,
        Request::get("/admin/events/wallets")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = send(
        &world.public,
        Request::get("/.well-known/openid-credential-issuer")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    drop(open.pop());
    let response = world.public.clone().oneshot(events()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// The lifecycle suites over the in-memory storage (`memory:`), unchanged.
#[tokio::test]
async fn the_lifecycle_in_memory() {
    lost_found_rebound(&World::new("memory:").await).await;
    registry_life_events(&World::new("memory:").await).await;
    proofing_refusals(&World::new("memory:").await).await;
    refresh(&World::new("memory:").await).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn lost_phone_found_phone_and_rebinding_on_postgres() {
    on_postgres("authority_lifecycle", lost_found_rebound).await;
}

async fn lost_found_rebound(world: &World) {
    let card = world.residents[5].clone();
    let phone = Phone::new("wechat", "wechat-phone-A", 3);
    let issued = issue_to(world, &card, &phone).await;
    assert_eq!(check_all(world, &issued, &phone).await, Ok(()));
    let mut events = subscribe(world, "/events").await;

    // Lost phone: every instance of both batches SUSPENDED at once, pushed, and refused.
    let (status, body) = send(
        &world.admin,
        admin_post("/admin/wallets/wechat/wechat-phone-A/suspend", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["instances"], 6);
    let pushed = next_events(&mut events, 6).await;
    assert!(statuses(&pushed).iter().all(|(_, s)| s == "SUSPENDED"));
    assert_eq!(statuses(&pushed).len(), 6);
    let list = fetch_list(world, 0, true).await;
    for (idx, _) in statuses(&pushed) {
        assert_eq!(list.token.list.get(idx).unwrap(), 2, "entry {idx}");
    }
    let refused = check_all(world, &issued, &phone).await.unwrap_err();
    assert!(
        refused.contains("SUSPENDED") || refused.contains("suspended"),
        "{refused}"
    );

    // Found: reinstated, accepted again.
    let (status, _) = send(
        &world.admin,
        admin_post("/admin/wallets/wechat/wechat-phone-A/reinstate", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        statuses(&next_events(&mut events, 6).await)
            .iter()
            .all(|(_, s)| s == "VALID")
    );
    assert_eq!(check_all(world, &issued, &phone).await, Ok(()));

    // A new enrolment of the same identity tells phone A's wallet.
    let mut notices = subscribe_admin(world, "/admin/events/wallets").await;
    let (pending, pending_tx) = enrol(world, &card).await;
    let notice = next_events(&mut notices, 1).await;
    assert!(
        matches!(&notice[0], Event::WalletNotice { wallet_instance, notice, .. }
        if wallet_instance == "wechat-phone-A" && notice == "new_enrolment")
    );

    // Re-bind to a new phone of the other provider: phone A's instances INVALID for good,
    // phone B's valid.
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/rebind",
            json!({"id_number": card.id_number.expose(), "full_name": card.full_name, "officer": "o-1"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"]["instances"], 6);
    // The offer made before the re-binding (the one the notice warned of) is void.
    assert_redeemed_no_more(world, &pending, &pending_tx).await;
    assert!(
        statuses(&next_events(&mut events, 6).await)
            .iter()
            .all(|(_, s)| s == "INVALID")
    );
    let offer = CredentialOffer::from_uri(body["offer"]["offer_uri"].as_str().unwrap()).unwrap();
    let phone_b = Phone::new("alipay", "alipay-phone-B", 3);
    let issued_b = obtain(
        world,
        &offer,
        body["offer"]["tx_code"].as_str().unwrap(),
        &phone_b,
        &[CONFIG_MDOC, CONFIG_SD_JWT],
    )
    .await;
    assert_eq!(check_all(world, &issued_b, &phone_b).await, Ok(()));
    assert!(
        check_all(world, &issued, &phone)
            .await
            .unwrap_err()
            .contains("INVALID")
    );
    // Revocation is final: reinstating phone A changes nothing.
    let (_, body) = send(
        &world.admin,
        admin_post("/admin/wallets/wechat/wechat-phone-A/reinstate", json!({})),
    )
    .await;
    assert_eq!(body["instances"], 0);
    assert!(check_all(world, &issued, &phone).await.is_err());

    // The audit log has every step, and no identity number or name.
    let audit = audit_log(world, 100).await;
    for action in [
        "\"enrol\"",
        "\"issue\"",
        "\"suspend\"",
        "\"reinstate\"",
        "\"revoke\"",
        "\"rebind\"",
    ] {
        assert!(
            audit.contains(action),
            "{action} missing from the audit log"
        );
    }
    assert!(!audit.contains(card.id_number.expose()));
    assert!(!audit.contains(&card.full_name));
}

/// The token endpoint refuses `offer` (voided by a later decision) with `invalid_grant`.
async fn assert_redeemed_no_more(world: &World, offer: &CredentialOffer, tx_code: &str) {
    let (status, refused) = send(
        &world.public,
        form_post(
            "/token",
            &[
                ("grant_type", eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE),
                (
                    "pre-authorized_code",
                    &offer.grants.pre_authorized_code.code,
                ),
                ("tx_code", tx_code),
            ],
        ),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn registry_event(world: &World, card: &ResidentCard, event: Value) -> Value {
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/registry/events",
            json!({"id_number": card.id_number.expose(), "event": event}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn registry_life_events_suspend_revoke_and_offer_reissue() {
    registry_life_events(&World::new("sqlite::memory:").await).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn registry_life_events_suspend_revoke_and_offer_reissue_on_postgres() {
    on_postgres("authority_registry", registry_life_events).await;
}

async fn registry_life_events(world: &World) {
    // Card reported lost: suspended.
    let (lost, died, moved) = (
        &world.residents[6],
        &world.residents[7],
        &world.residents[8],
    );
    let phones: Vec<Phone> = (0..3)
        .map(|i| Phone::new("wechat", &format!("p{i}"), 1))
        .collect();
    let mut issued = Vec::new();
    for (card, phone) in [lost, died, moved].into_iter().zip(&phones) {
        issued.push(issue_to(world, card, phone).await);
    }
    let body = registry_event(world, lost, json!({"kind": "card_reported_lost"})).await;
    assert_eq!(
        (
            body["changed"]["instances"].as_u64(),
            body["reissue_offer"].is_null()
        ),
        (Some(2), true)
    );
    assert!(
        check_all(world, &issued[0], &phones[0])
            .await
            .unwrap_err()
            .contains("SUSPENDED")
    );
    // Death: revoked, no reissue.
    let body = registry_event(world, died, json!({"kind": "death", "date": "2026-11-22"})).await;
    assert_eq!(body["changed"]["instances"], 2);
    assert!(body["reissue_offer"].is_null());
    assert!(
        check_all(world, &issued[1], &phones[1])
            .await
            .unwrap_err()
            .contains("INVALID")
    );
    // A new address: revoked and a reissue offered, whose credentials carry the new region.
    let body = registry_event(
        world,
        moved,
        json!({"kind": "address_changed", "address": "浙江省杭州市西湖区文三路1号", "residence_region": "330106"}),
    )
    .await;
    assert_eq!(body["changed"]["instances"], 2);
    assert!(
        check_all(world, &issued[2], &phones[2])
            .await
            .unwrap_err()
            .contains("INVALID")
    );
    // The same event sent again, as an officer does when the answer was lost: recorded
    // again, nothing more to change, and the reissue offered again — the first offer void.
    let first =
        CredentialOffer::from_uri(body["reissue_offer"]["offer_uri"].as_str().unwrap()).unwrap();
    let first_tx = body["reissue_offer"]["tx_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = registry_event(
        world,
        moved,
        json!({"kind": "address_changed", "address": "浙江省杭州市西湖区文三路1号", "residence_region": "330106"}),
    )
    .await;
    assert_eq!(body["changed"]["instances"], 0);
    assert!(body["reissue_offer"]["offer_uri"].is_string(), "{body}");
    assert_redeemed_no_more(world, &first, &first_tx).await;
    let offer =
        CredentialOffer::from_uri(body["reissue_offer"]["offer_uri"].as_str().unwrap()).unwrap();
    let phone = Phone::new("wechat", "p2", 1);
    let fresh = obtain(
        world,
        &offer,
        body["reissue_offer"]["tx_code"].as_str().unwrap(),
        &phone,
        &[CONFIG_SD_JWT],
    )
    .await;
    let lists = lists(world).await;
    let verified = verify_sd_jwt(world, &fresh[0][0], &phone.keys[0], &lists).unwrap();
    assert!(verified.status_checked);
    // An unknown resident: 404, nothing recorded; a number that breaks its rules (here its
    // check character): 422 `invalid_number`, never taken for an unknown resident.
    let unknown = with_check_digit("11010519491231002");
    let (status, _) = send(
        &world.admin,
        admin_post(
            "/admin/registry/events",
            json!({"id_number": unknown, "event": {"kind": "death", "date": "2026-11-22"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/registry/events",
            json!({"id_number": "110105194912310029", "event": {"kind": "death", "date": "2026-11-22"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "invalid_number", "{body}");
}

/// A valid number from its first 17 characters (GB 11643, ISO 7064 MOD 11-2).
fn with_check_digit(first: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first}{check}")
}

async fn counter(world: &World, number: &str, name: &str) -> (StatusCode, Value) {
    send(
        &world.admin,
        admin_post(
            "/admin/enrolments",
            json!({"id_number": number, "full_name": name, "officer": "o-2"}),
        ),
    )
    .await
}

#[tokio::test]
async fn each_proofing_refusal_has_its_reason_and_failures_are_rate_limited() {
    proofing_refusals(&World::new("sqlite::memory:").await).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn each_proofing_refusal_has_its_reason_and_failures_are_rate_limited_on_postgres() {
    on_postgres("authority_proofing", proofing_refusals).await;
}

async fn proofing_refusals(world: &World) {
    let store: &Store = world.authority.store();
    let card = &world.residents[9];
    let number = card.id_number.expose();
    let refusal = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        body["error"].as_str().unwrap().to_owned()
    };
    // A number that breaks its checksum; one not in the registry; the wrong name.
    let mut bad = number.to_owned();
    let last = if bad.ends_with('0') { "1" } else { "0" };
    bad.replace_range(17.., last);
    assert_eq!(
        refusal(counter(world, &bad, &card.full_name).await),
        "invalid_number"
    );
    assert_eq!(
        refusal(counter(world, &with_check_digit("11010519491231002"), "王秀英").await),
        "not_in_registry"
    );
    assert_eq!(
        refusal(counter(world, number, "某某某").await),
        "name_mismatch"
    );

    // The card's state: lost, expired, the holder deceased — each on its own resident.
    let lost = &world.residents[10];
    store
        .record_event(
            &lost.id_number,
            &eid_store::LifeEvent::CardReportedLost,
            NOW,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(
        refusal(counter(world, lost.id_number.expose(), &lost.full_name).await),
        "card_reported_lost"
    );
    let expired = &world.residents[11];
    store
        .record_event(
            &expired.id_number,
            &eid_store::LifeEvent::CardReplaced {
                issue_date: date!(2006 - 01 - 01),
                expiry: eid_core::CardExpiry::On(date!(2016 - 01 - 01)),
            },
            NOW,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(
        refusal(counter(world, expired.id_number.expose(), &expired.full_name).await),
        "card_expired"
    );
    let dead = &world.residents[12];
    store
        .record_event(
            &dead.id_number,
            &eid_store::LifeEvent::Death {
                date: date!(2026 - 11 - 01),
            },
            NOW,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(
        refusal(counter(world, dead.id_number.expose(), &dead.full_name).await),
        "deceased"
    );

    // Four more wrong names make five failures for this number within the hour: then even
    // the right name is refused for a while.
    for _ in 0..4 {
        refusal(counter(world, number, "某某某").await);
    }
    let (status, body) = counter(world, number, &card.full_name).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another resident is not affected.
    let (status, _) = counter(
        world,
        world.residents[13].id_number.expose(),
        &world.residents[13].full_name,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A number ending in X is one resident whichever case its X is written in: failures
    // written both ways count together.
    let x_number = (0..1000)
        .map(|n| with_check_digit(&format!("11010519800101{n:03}")))
        .find(|n| n.ends_with('X'))
        .unwrap();
    let lower = x_number.to_lowercase();
    for written in [&x_number, &lower].into_iter().cycle().take(5) {
        assert_eq!(
            refusal(counter(world, written, "王秀英").await),
            "not_in_registry"
        );
    }
    let (status, body) = counter(world, &lower, "王秀英").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn the_admin_listener_requires_its_token_and_remote_enrolment_says_why_it_is_off() {
    let world = World::new("sqlite::memory:").await;
    for auth in [
        None,
        Some("Bearer wrong-token-wrong-token"),
        Some("Basic x"),
    ] {
        let mut request =
            Request::post("/admin/enrolments").header(header::CONTENT_TYPE, "application/json");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let (status, body) = send(&world.admin, request.body(Body::from("{}")).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body["error"], "invalid_token");
    }
    // Unknown admin paths are hidden behind the token too.
    let (status, _) = send(
        &world.admin,
        Request::get("/admin/nothing").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = send(
        &world.public,
        Request::post("/enrolment").body(Body::from("{}")).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("counter")
    );
    // The OpenAPI document names every route of both routers.
    let (status, openapi) = send(
        &world.public,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let paths: Vec<&str> = openapi["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/.well-known/openid-credential-issuer",
        "/token",
        "/nonce",
        "/credential",
        "/status/{shard}",
        "/events",
        "/admin/events/wallets",
        "/enrolment",
        "/lost",
        "/refresh",
        "/admin/enrolments",
        "/admin/paper",
        "/admin/delegations",
        "/admin/credentials/{id}/{action}",
        "/admin/wallets/{provider}/{instance}/{action}",
        "/admin/residents/{action}",
        "/admin/rebind",
        "/admin/pseudonyms/resolve",
        "/admin/registry/events",
        "/admin/audit",
        "/health",
        "/ready",
        "/metrics",
    ] {
        assert!(paths.contains(&path), "{path} missing from openapi.json");
    }
}

async fn ask_refresh(world: &World, phone: &Phone) -> (StatusCode, Value) {
    let nonce = nonce(world).await;
    let proof = phone.proofs(world, &nonce).remove(0);
    send(
        &world.public,
        Request::post("/refresh")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "wallet_proof": proof }).to_string()))
            .unwrap(),
    )
    .await
}

/// A refresh: the wallet holding VALID credentials gets a new offer bound to it, without new
/// proofing, and redeems it; a wallet that never enrolled, or whose credentials are
/// suspended (a lost phone), gets nothing; the new offer is for no other wallet.
async fn refresh(world: &World) {
    let card = world.residents[6].clone();
    let phone = Phone::new("wechat", "wechat-phone-R", 2);
    issue_to(world, &card, &phone).await;
    let (status, made) = ask_refresh(world, &phone).await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let offer = CredentialOffer::from_uri(made["offer_uri"].as_str().unwrap()).unwrap();
    let fresh = obtain(
        world,
        &offer,
        made["tx_code"].as_str().unwrap(),
        &phone,
        &[CONFIG_SD_JWT],
    )
    .await;
    assert_eq!(fresh[0].len(), 2);

    let stranger = Phone::new("wechat", "never-enrolled", 1);
    let (status, body) = ask_refresh(world, &stranger).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("no_valid_credentials")
        ),
        "{body}"
    );
    let (status, _) = send(
        &world.admin,
        admin_post("/admin/wallets/wechat/wechat-phone-R/suspend", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ask_refresh(world, &phone).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("no_valid_credentials")
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_wallet_with_valid_credentials_refreshes_and_a_lost_one_cannot() {
    refresh(&World::new("sqlite::memory:").await).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn refresh_on_postgres() {
    on_postgres("authority_refresh", refresh).await;
}
