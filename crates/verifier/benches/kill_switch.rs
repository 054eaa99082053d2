//! The kill switch, measured over many runs (p50, p99), against a real authority (SQLite in
//! memory) on loopback:
//!
//! 1. from the hotline's suspension of a lost phone's wallet instance (the request to the
//!    authority's admin listener) to the moment a verifier following the authority's pushes
//!    holds the entry as SUSPENDED;
//! 2. from the same report to the first *refusal* by an airport gate's verifier service
//!    (`eid_verifier::service`, HTTP): the gate keeps scanning fresh offline QR codes of the
//!    phone (`POST /verify/offline`) until one is refused with `status_suspended`.
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
#[path = "../tests/served/mod.rs"]
mod served;

use std::sync::{Arc, RwLock};
use std::time::{Duration as StdDuration, Instant};

use common::{NOW, World};
use eid_verifier::Verifier;
use eid_verifier::online::{Followed, fetch_status_list, follow_pushes};

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
        .block_on(async {
            measure(runs).await;
            measure_service(runs).await;
        });
}

fn percentiles(mut latencies: Vec<StdDuration>) -> (f64, f64, f64) {
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[i].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.99), at(1.0))
}

/// From the report to the gate service's first refusal of a fresh offline code.
async fn measure_service(runs: usize) {
    use eid_crypto::Signer;
    use eid_mdoc::issue::ElementValue;
    use eid_mdoc::offline::{
        CompactCredential, CompactCredentialRequest, issue_compact, present_offline,
    };
    use eid_verifier::service::{Service, ServiceConfig, keep_fresh, router};

    let world = World::new();
    let served = served::serve(&world).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gate = format!("http://{}", listener.local_addr().unwrap());
    let service = Service::new(
        Verifier::new(world.trust.clone(), "nanning-airport", NOW),
        ServiceConfig {
            public_url: gate.clone(),
            trust_roots: vec![world.root.verifying_key().clone()],
            status_lists: vec![served.reference.uri.clone()],
            status_shards: Vec::new(),
            events: vec![format!("{}/events", served.base)],
            identity: None,
            request_lifetime: time::Duration::minutes(5),
            face: None,
        },
        Arc::new(eid_core::FixedClock(NOW)),
        Arc::new(eid_core::OsRandom),
    );
    tokio::spawn(keep_fresh(service.clone()));
    tokio::spawn(axum::serve(listener, router(service.clone())).into_future());
    let bytes = issue_compact(
        &CompactCredentialRequest {
            purpose: "airport_security",
            provider: "superapp-a",
            attributes: &[("family_name".to_owned(), ElementValue::Text("韦".into()))],
            device_key: world.device_key.verifying_key(),
            issued_at: NOW - time::Duration::days(1),
            expires_at: NOW + time::Duration::days(90),
            status: Some(&served.reference),
        },
        &world.nanning.ds_key,
        world.nanning.ds_key.verifying_key(),
    )
    .unwrap();
    let credential = CompactCredential::from_cbor(&bytes).unwrap();
    let url = format!("{gate}/verify/offline?purpose=airport_security");
    let scan = async || -> serde_json::Value {
        let code = present_offline(&credential, &world.device_key, NOW).unwrap();
        serde_json::from_slice(
            &eid_http::post_form(&url, eid_crypto::b64url(&code))
                .await
                .unwrap(),
        )
        .unwrap()
    };
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        // Outside the span: the entry VALID at the authority and in the gate's list, and
        // the gate following the stream (the first run waits for both).
        while service.refresh_status_lists().await || scan().await["accepted"] != true {
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        let started = Instant::now();
        served.wallet_action("suspend").await;
        loop {
            let report = scan().await;
            if report["reasons"][0]["reason"] == "status_suspended" {
                break;
            }
            assert!(started.elapsed() < StdDuration::from_secs(5), "{report}");
        }
        latencies.push(started.elapsed());
        served.wallet_action("reinstate").await;
    }
    let (p50, p99, max) = percentiles(latencies);
    println!(
        "kill switch (suspend request → the gate service refuses a fresh offline code), {runs} runs: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
}

async fn measure(runs: usize) {
    let world = World::new();
    let served = served::serve(&world).await;
    let uri = served.reference.uri.clone();
    let verifier = Arc::new(RwLock::new(Verifier::new(
        world.trust.clone(),
        "nanning-hotel",
        NOW,
    )));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let following = verifier.clone();
    let events = format!("{}/events", served.base);
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
        served.wallet_action("suspend").await;
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
        served.wallet_action("reinstate").await;
    }
    let (p50, p99, max) = percentiles(latencies);
    println!(
        "kill switch (suspend request → verifier cache SUSPENDED), {runs} runs: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
    );
}
