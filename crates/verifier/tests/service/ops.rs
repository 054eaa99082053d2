//! The operator's side: the trust list replaced, the two listeners apart, `/ready` and `/metrics`.

use std::sync::Arc;

use eid_core::{FixedClock, OsRandom};
use eid_crypto::Signer;
use eid_http::fetch;
use eid_verifier::Verifier;
use eid_verifier::service::{Service, ServiceConfig};
use serde_json::{Value, json};
use time::Duration;

use crate::common::{NOW, World};
use crate::served;
use crate::{call, call_with, outcome, phone_answers, public_request, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_takes_a_newer_trust_list_and_refuses_an_older_one() {
    let world = World::new();
    let served = served::serve(&world).await;
    let gate = start(&world, &served, "nanning-airport", false).await;
    // Version 2, made from the list in force (version 1).
    let (v2, _) =
        eid_trust::signed::sign(world.trust.list(), &world.root, NOW, Duration::days(7)).unwrap();
    let put = |body: String| {
        let url = format!("{gate}/trust-list");
        async move {
            let (status, body) = call("PUT", &url, body).await;
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let version = |v: &Value| v["trust_list_version"].as_u64().unwrap();
    let health = || async {
        serde_json::from_slice::<Value>(
            &fetch(&format!("{gate}/health"), "application/json")
                .await
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(version(&health().await), 1);
    let (status, body) = put(v2).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(version(&body), 2);
    // Version 1 again (a replayed list): refused, version 2 kept.
    let (v1, _) =
        eid_trust::signed::sign(&world.draft, &world.root, NOW, Duration::days(7)).unwrap();
    let (status, body) = put(v1).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "trust_list_refused");
    assert_eq!(version(&health().await), 2);
}

/// With `--wallet-listen` the two routes a wallet calls listen apart from the requester's:
/// each listener serves its own routes and not the other's (both answer `/health`), and
/// every answer carries the request's id — the caller's when it is sane, else one made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallets_routes_and_the_requesters_listen_apart() {
    use eid_verifier::service::{requester_router, wallet_router};
    let world = World::new();
    let served = served::serve(&world).await;
    let requester = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wallet = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (at, wallet_at) = (
        format!("http://{}", requester.local_addr().unwrap()),
        format!("http://{}", wallet.local_addr().unwrap()),
    );
    let reader = &world.bank;
    let key = eid_crypto::SigningKey::from_pkcs8_der(&reader.key.to_pkcs8_der().unwrap()).unwrap();
    let service = Service::new(
        Verifier::new(world.trust.clone(), "nanning-bank", NOW),
        ServiceConfig {
            public_url: wallet_at.clone(),
            trust_roots: vec![world.root.verifying_key().clone()],
            status_lists: vec![served.reference.uri.clone()],
            status_shards: Vec::new(),
            events: Vec::new(),
            identity: Some((Arc::new(key) as Arc<dyn Signer>, reader.certificate.clone())),
            request_lifetime: Duration::minutes(5),
            face: None,
        },
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    );
    tokio::spawn(axum::serve(requester, requester_router(service.clone())).into_future());
    tokio::spawn(axum::serve(wallet, wallet_router(service)).into_future());
    let (status, body) = call(
        "POST",
        &format!("{at}/vp/requests"),
        json!({"purpose": "bank_account_opening"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let started: Value = serde_json::from_slice(&body).unwrap();
    let request_uri = started["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(&format!("{wallet_at}/vp/request/")));
    let path = request_uri.strip_prefix(&wallet_at).unwrap();
    // The wallet's routes on the wallet listener only.
    let (status, _) = call("GET", request_uri, String::new()).await;
    assert_eq!(status, 200);
    let (status, _) = call("GET", &format!("{at}{path}"), String::new()).await;
    assert_eq!(status, 404);
    let (status, _) = call("POST", &format!("{at}/vp/response"), "error=x".into()).await;
    assert_eq!(status, 404);
    // The requester's on the requester's only.
    for (method, route) in [
        ("POST", "/vp/requests"),
        ("POST", "/dc/requests"),
        ("POST", "/verify/offline?purpose=airport_security"),
        ("POST", "/verify/in-person"),
        ("PUT", "/trust-list"),
        ("GET", "/metrics"),
        ("GET", "/ready"),
    ] {
        let (status, _) = call(method, &format!("{wallet_at}{route}"), "{}".into()).await;
        assert_eq!(status, 404, "{method} {route}");
    }
    for base in [&at, &wallet_at] {
        let (status, id, _) = call_with(
            "GET",
            &format!("{base}/health"),
            String::new(),
            Some("desk-7"),
        )
        .await;
        assert_eq!((status, id.as_deref()), (200, Some("desk-7")));
        // A request id that is not sane is replaced, on an error too.
        let (status, id, body) = call_with(
            "GET",
            &format!("{base}/nothing"),
            String::new(),
            Some("a b"),
        )
        .await;
        assert_eq!(status, 404);
        assert!(id.is_some_and(|id| id.starts_with("req-")));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "not_found");
    }
}

/// `/ready` once the status list is held; `/metrics` counts by route template and by
/// outcome code, never the request's id, its secret handle or anything disclosed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_routes_and_outcomes_never_what_was_asked_or_shown() {
    let world = World::new();
    let served = served::serve(&world).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let (status, _) = call("GET", &format!("{bank}/ready"), String::new()).await;
    assert_eq!(status, 200);
    // A purpose of the catalogue the bank is not registered for: no request is made.
    let (status, body) = call(
        "POST",
        &format!("{bank}/vp/requests"),
        json!({"purpose": "hotel_check_in"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("purpose_not_registered"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (started, object, _) = public_request(&bank).await;
    phone_answers(&world, &served, &object).await;
    assert_eq!(outcome(&bank, &started).await["status"], "accepted");
    let (status, text) = call("GET", &format!("{bank}/metrics"), String::new()).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(
            "eid_http_requests_total{route=\"/vp/request/{id}\",method=\"GET\",status=\"200\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("eid_verifications_total{channel=\"online\",outcome=\"accepted\"} 1\n"),
        "{text}"
    );
    let handle = started["result"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    for secret in [
        started["id"].as_str().unwrap(),
        handle,
        "450103199003070024",
        "韦",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

/// A newer trust list that gives the bank a pseudonym key its desk does not hold is taken
/// (it may carry revocations), and the answer and `/ready` say the desk cannot open the
/// bank's pseudonyms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_list_with_a_pseudonym_key_the_desk_lacks_makes_it_unready() {
    let world = World::new();
    let served = served::serve(&world).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let (status, _) = call("GET", &format!("{bank}/ready"), String::new()).await;
    assert_eq!(status, 200);
    let key = eid_crypto::SigningKey::generate().unwrap();
    let (v2, _) = world.next_trust_list(|draft| {
        eid_trust::edit::add_relying_party(
            draft,
            "nanning-bank",
            "nanning-bank",
            eid_core::region::RegionCode::parse("450103").unwrap(),
            &[(
                eid_trust::Purpose::BankAccountOpening,
                Some(
                    ["family_name", "portrait", eid_trust::PSEUDONYM]
                        .map(str::to_owned)
                        .to_vec(),
                ),
            )],
            Some(&world.bank.certificate),
            true,
        )
        .unwrap();
        eid_trust::edit::set_pseudonym_key(draft, "nanning-bank", key.verifying_key().to_jwk())
            .unwrap();
    });
    let (status, body) = call("PUT", &format!("{bank}/trust-list"), v2).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trust_list_version"], 2);
    assert!(
        body["pseudonym_key"]
            .as_str()
            .is_some_and(|p| p.contains("this desk has none")),
        "{body}"
    );
    let (status, body) = call("GET", &format!("{bank}/ready"), String::new()).await;
    assert_eq!(status, 503);
    assert!(
        String::from_utf8_lossy(&body).contains("pseudonym key"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// `/ready` names every source followed of which no list is held: a desk holding one
/// authority's list only cannot decide on the other's credentials, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_names_each_source_followed_without_a_list() {
    let world = World::new();
    let served = served::serve(&world).await;
    let unpublished = format!("{}/unpublished/", served.base);
    let service = Service::new(
        Verifier::new(world.trust.clone(), "nanning-bank", NOW),
        ServiceConfig {
            public_url: "http://127.0.0.1:1".into(),
            trust_roots: vec![world.root.verifying_key().clone()],
            status_lists: vec![served.reference.uri.clone()],
            status_shards: vec![unpublished.clone()],
            events: Vec::new(),
            identity: None,
            request_lifetime: Duration::minutes(5),
            face: None,
        },
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    );
    assert!(
        service.refresh_status_lists().await,
        "a source is said missing"
    );
    assert_eq!(service.status_lists_missing(), [format!("{unpublished}0")]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        axum::serve(listener, eid_verifier::service::router(service.clone())).into_future(),
    );
    let (status, body) = call("GET", &format!("{base}/ready"), String::new()).await;
    assert_eq!(status, 503);
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("no status list is held yet from") && body.contains("/unpublished/0"),
        "{body}"
    );
    assert!(!body.contains(&served.reference.uri), "{body}");
}
