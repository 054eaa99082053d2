//! Synthetic population throughput: `cargo bench -p eid-registry --bench generate`.
//!
//! Measures records per second written as JSON Lines to a sink (generation, validation of
//! each record, serialisation); the figure goes in docs/performance.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eid_registry::Generator;
use time::macros::date;

fn generate(c: &mut Criterion) {
    const COUNT: u64 = 100_000;
    let mut group = c.benchmark_group("registry");
    group.throughput(Throughput::Elements(COUNT));
    group.sample_size(10);
    group.bench_function("generate_100k_jsonl", |b| {
        b.iter(|| {
            let mut sink = std::io::sink();
            let result =
                Generator::new(7, date!(2026 - 11 - 23)).write_jsonl(COUNT, &mut sink, &mut |_| {});
            assert!(result.is_ok());
        });
    });
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
