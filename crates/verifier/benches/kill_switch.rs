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
        .block_on(measure(runs));
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
