//! Registry lookups by number against a populated store: `EID_BENCH_DATABASE_URL` names it
//! (for example the PostgreSQL database `eid registry import` filled with 1 M residents);
//! without it the benchmark says so and measures nothing. Figures in docs/performance.md.

#![expect(clippy::unwrap_used, reason = "benchmark setup")]
#![expect(clippy::print_stdout, reason = "the benchmark says what it measured")]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use eid_core::ResidentIdNumber;
use eid_store::Store;

fn main() {
    let Ok(url) = std::env::var("EID_BENCH_DATABASE_URL") else {
        println!("EID_BENCH_DATABASE_URL is not set: nothing to measure");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(Store::connect(&url)).unwrap();
    let count = runtime.block_on(store.resident_count()).unwrap();
    let sample: Vec<ResidentIdNumber> = runtime
        .block_on(store.sample_numbers(1000))
        .unwrap()
        .iter()
        .map(|n| ResidentIdNumber::parse_structure(n).unwrap())
        .collect();
    println!(
        "{} store with {count} residents; looking up {} numbers in turn",
        store.backend_name(),
        sample.len()
    );
    // The tail, which criterion's mean does not show: each of 10,000 lookups timed alone.
    let mut times = percentiles(&runtime, &store, &sample);
    times.sort_unstable();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "lookup by number, 10,000 timed one by one: p50 {:?}, p99 {:?}, p99.9 {:?}",
        at(0.5),
        at(0.99),
        at(0.999)
    );
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    let mut i = 0;
    c.bench_function("store/lookup_by_number", |b| {
        b.iter(|| {
            i = (i + 1) % sample.len();
            black_box(runtime.block_on(store.resident(&sample[i])).unwrap())
        })
    });
    let missing = ResidentIdNumber::parse_structure("11010519491231002X").unwrap();
    c.bench_function("store/lookup_missing_number", |b| {
        b.iter(|| black_box(runtime.block_on(store.resident(&missing)).unwrap()))
    });
    c.final_summary();
}

#[expect(
    clippy::disallowed_methods,
    reason = "a benchmark times each lookup with the monotonic clock"
)]
fn percentiles(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    sample: &[ResidentIdNumber],
) -> Vec<Duration> {
    (0..10_000)
        .map(|i| {
            let started = std::time::Instant::now();
            black_box(
                runtime
                    .block_on(store.resident(&sample[i % sample.len()]))
                    .unwrap(),
            );
            started.elapsed()
        })
        .collect()
}
