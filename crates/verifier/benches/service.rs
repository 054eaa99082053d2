//! A desk's offline verification through the service that ships against the library it
//! wraps, per core, in one run: `cargo bench -p eid-verifier --bench service`.
//!
//! Ours: the airport desk's router (`eid_verifier::service::router`, as `eid verifier
//! serve` runs it: routing, the request-id and metrics layers, the blocking-pool hop, the
//! replay memory, the report as JSON) answering `POST /verify/offline` in process — no
//! socket. Baseline: the same `Verifier`'s `verify_offline` called directly. Both verify
//! fresh codes (a desk accepts a code once), made outside the timed part; rounds of 200
//! of one then 200 of the other, 31 times; the ratio is the median of the per-round
//! `library / service` times — the service's rate per core as a share of the library's.
//! Goal (issue 18): ≥ 0.7. Results go in docs/performance.md.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a failure is a failed run"
)]
#![expect(clippy::print_stdout, reason = "the benchmark prints its ratio")]

#[path = "../tests/common/mod.rs"]
#[expect(
    dead_code,
    reason = "the shared world has more than the benchmark uses"
)]
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use common::{IDX, NOW, STATUS_URI, World};
use eid_core::status::StatusListReference;
use eid_core::{FixedClock, OsRandom};
use eid_crypto::Signer;
use eid_mdoc::offline::present_offline;
use eid_trust::Purpose;
use eid_verifier::service::{Service, ServiceConfig, router};
use eid_verifier::{Channel, Check};
use time::Duration;
use tokio::time::Instant;
use tower::ServiceExt;

const ROUND: usize = 200;
const ROUNDS: usize = 31;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let world = World::new();
    let credential = world.airport_credential(&StatusListReference {
        uri: STATUS_URI.into(),
        idx: IDX,
    });
    let library = world.verifier("nanning-airport");
    let service = Service::new(
        world.verifier("nanning-airport"),
        ServiceConfig {
            public_url: "http://127.0.0.1:1".into(),
            trust_roots: vec![world.root.verifying_key().clone()],
            status_lists: Vec::new(),
            status_shards: Vec::new(),
            events: Vec::new(),
            identity: None,
            request_lifetime: Duration::minutes(5),
        },
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    );
    let app = router(service);
    let requested = library.registered_attributes(Purpose::AirportSecurity);
    let check = Check {
        purpose: Purpose::AirportSecurity,
        requested: &requested,
        channel: Channel::OfflineQr,
        now: NOW,
    };
    let codes = |n: usize| -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| present_offline(&credential, &world.device_key, NOW).unwrap())
            .collect()
    };
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut ours, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let batch = codes(ROUND);
        let started = Instant::now();
        for code in &batch {
            let report = library.verify_offline(code, &check);
            assert!(report.accepted, "the library refused: {report:?}");
        }
        let lib = started.elapsed().as_secs_f64() / ROUND as f64;

        let batch = codes(ROUND);
        let started = Instant::now();
        runtime.block_on(async {
            for code in &batch {
                let request = Request::post("/verify/offline?purpose=airport_security")
                    .header("content-type", "application/octet-stream")
                    .body(Body::from(code.clone()))
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap();
                assert!(
                    body.windows(15).any(|w| w == b"\"accepted\":true"),
                    "the service refused: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        });
        let svc = started.elapsed().as_secs_f64() / ROUND as f64;
        ratios.push(lib / svc);
        ours.push(svc);
        baseline.push(lib);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ratio, svc, lib) = (
        median(&mut ratios),
        median(&mut ours),
        median(&mut baseline),
    );
    println!(
        "offline verification: service {:.1} µs, library {:.1} µs per code (medians of {ROUNDS} rounds of {ROUND}); service / library rate per core: {ratio:.2} (goal ≥ 0.7)",
        svc * 1e6,
        lib * 1e6
    );
}
