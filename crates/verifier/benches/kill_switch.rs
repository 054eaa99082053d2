//! The kill switch, measured: from the hotline's suspension of a lost phone's wallet
//! instance (the request to the authority's admin listener) to the moment a verifier
//! following the authority's pushes holds the entry as SUSPENDED — over many runs, p50 and
//! p99. A real authority (SQLite in memory) and a real HTTP/SSE connection on loopback.
//!
//! `cargo bench -p eid-verifier --bench kill_switch` (runs: `EID_BENCH_RUNS`, default 300).
//! Each run reinstates the entry and refreshes the verifier's list before the next, outside
//! the measured span.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a benchmark program: a failure ends it, it times with Instant, its figures go to stdout"
)]

#[path = "../tests/common/mod.rs"]
#[expect(
    dead_code,
    reason = "the shared world has more than the benchmark uses"
)]
mod common;

use std::sync::{Arc, RwLock};
use std::time::{Duration as StdDuration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{NOW, World};
use eid_authority::{Authority, Settings, admin_router, public_router};
use eid_core::{FixedClock, OsRandom};
use eid_crypto::SigningKey;
use eid_store::{NewCredential, Store};
use eid_trust::{TrustList, VerifiedTrustList};
use eid_verifier::Verifier;
use eid_verifier::online::{Followed, fetch_status_list, follow_pushes};
use time::Duration;
use tower::ServiceExt;

const ADMIN: &str = "admin-token-for-the-benchmark";

fn main() {
    let runs: usize = std::env::var("EID_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(measure(runs));
}

/// Suspends or reinstates the wallet instance; asserts one instance changed.
async fn admin(authority: &Arc<Authority>, action: &str) {
    use http_body_util::BodyExt;
    let response = admin_router(authority.clone())
        .oneshot(
            Request::post(format!("/admin/wallets/superapp-a/phone-1/{action}"))
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let changed: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(changed["instances"], 1, "{action}: {changed}");
}

async fn measure(runs: usize) {
    let world = World::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let store = Store::connect("sqlite::memory:").await.unwrap();
    // A resident whose card is valid: reinstating needs one.
    let mut jsonl = Vec::new();
    eid_registry::generate::Generator::new(7, NOW.date())
        .write_jsonl(20, &mut jsonl, &mut |_| {})
        .unwrap();
    let resident: eid_core::ResidentCard = jsonl
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice::<eid_core::ResidentCard>(line).unwrap())
        .find(|card| card.card_expiry.is_valid_on(NOW.date()))
        .unwrap();
    store
        .import_residents(std::slice::from_ref(&resident), NOW)
        .await
        .unwrap();
    let positions = store
        .record_credential(
            &NewCredential {
                id: "credential-1",
                id_number: resident.id_number.expose(),
                provider: "superapp-a",
                wallet_instance: "phone-1",
                configuration: "resident_identity_mdoc",
                issued_at: (NOW - Duration::days(1)).unix_timestamp(),
                expires_at: (NOW + Duration::days(90)).unix_timestamp(),
            },
            1,
            64,
            &OsRandom,
        )
        .await
        .unwrap();
    let uri = format!("{base}/status/{}", positions[0].0);
    let ds_key = SigningKey::from_pkcs8_der(&world.nanning.ds_key.to_pkcs8_der().unwrap()).unwrap();
    let authority = Arc::new(Authority::new(
        Settings::new(&base, ADMIN, [7; 32]),
        store,
        Arc::new(ds_key),
        vec![world.nanning.ds.0.clone()],
        VerifiedTrustList::dangerous_unsigned(TrustList::new(NOW)),
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    ));
    tokio::spawn(axum::serve(listener, public_router(authority.clone())).into_future());

    let verifier = Arc::new(RwLock::new(Verifier::new(
        world.trust.clone(),
        "nanning-hotel",
        NOW,
    )));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let following = verifier.clone();
    let events = format!("{base}/events");
    tokio::spawn(async move {
        follow_pushes(&events, &following, |f| {
            let _ = tx.send(f);
        })
        .await
    });
    assert_eq!(rx.recv().await, Some(Followed::Connected));

    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        // Outside the span: the entry VALID at the authority and in the verifier's list.
        let token = fetch_status_list(&uri).await.unwrap();
        verifier
            .write()
            .unwrap()
            .store_status_list("cn-4501", &uri, &token, NOW)
            .unwrap();
        let started = Instant::now();
        admin(&authority, "suspend").await;
        loop {
            let followed = tokio::time::timeout(StdDuration::from_secs(5), rx.recv())
                .await
                .expect("the suspension arrived")
                .unwrap();
            if matches!(followed, Followed::Applied(_)) {
                break;
            }
        }
        latencies.push(started.elapsed());
        admin(&authority, "reinstate").await;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "kill switch (suspend request → verifier cache SUSPENDED), {runs} runs: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
