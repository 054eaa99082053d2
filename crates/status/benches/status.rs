//! Status list sizes and speeds: the compressed size of a 2^20-entry list with 0.1 % and 1 %
//! of entries set (1 and 2 bits; the draft's table gives 2.2 KB and 13.7 KB for 1 bit),
//! compressing and inflating such a list, applying a delta of 100 000 changes, and what
//! that means for 1.4 billion residents holding a batch of credentials each.
//! Results go in docs/performance.md.

#![expect(clippy::unwrap_used, reason = "benchmark setup")]
#![expect(clippy::print_stdout, reason = "the benchmark prints its sizes")]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use eid_status::list::DEFAULT_MAX_INFLATED;
use eid_status::{Bits, Delta, StatusList};

const ENTRIES: u64 = 1 << 20;

/// splitmix64: a fixed, seeded choice of entries, so that every run measures the same list.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A list with `share` (in 1/1000ths) of its entries set to non-VALID, at random places.
fn list(bits: Bits, per_mille: u64, seed: u64) -> StatusList {
    let mut list = StatusList::new(bits, ENTRIES).unwrap();
    let mut rng = Mix(seed);
    let mut set = 0;
    while set < ENTRIES * per_mille / 1000 {
        let i = rng.next() % ENTRIES;
        if list.get(i).unwrap() == 0 {
            // 2 bits: a quarter suspended, the rest invalid.
            let value = if bits == Bits::TWO && rng.next().is_multiple_of(4) {
                2
            } else {
                1
            };
            list.set(i, value).unwrap();
            set += 1;
        }
    }
    list
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    println!("\ncompressed size of a 2^20-entry list (zlib level 9):");
    let mut sizes = Vec::new();
    for bits in [Bits::ONE, Bits::TWO] {
        for per_mille in [1, 10] {
            let size = list(bits, per_mille, 7).compress().len();
            println!(
                "  {} bit, {:>4.1} % set: {size:>6} bytes",
                bits.get(),
                per_mille as f64 / 10.0
            );
            sizes.push((bits, per_mille, size));
        }
    }

    let two_bit = list(Bits::TWO, 10, 7);
    let lst = two_bit.compress();
    c.bench_function("status/compress_2p20_2bit_1pct", |b| {
        b.iter(|| black_box(two_bit.compress()))
    });
    c.bench_function("status/inflate_2p20_2bit_1pct", |b| {
        b.iter(|| black_box(StatusList::decompress(Bits::TWO, &lst, DEFAULT_MAX_INFLATED).unwrap()))
    });

    // A delta of 100 000 changes to a 2^20-entry, 2-bit list.
    let old = list(Bits::TWO, 10, 7);
    let mut new = old.clone();
    let mut rng = Mix(99);
    let mut changed = 0;
    while changed < 100_000 {
        let i = rng.next() % ENTRIES;
        let value = (old.get(i).unwrap() + 1 + (rng.next() % 2) as u8) % 3;
        if new.get(i).unwrap() == old.get(i).unwrap() {
            new.set(i, value).unwrap();
            changed += 1;
        }
    }
    let delta = Delta::between(
        "https://eid.example.cn/status/4501/0",
        (1, &old),
        (2, &new),
        i64::MAX,
    )
    .unwrap();
    let encoded = delta.encode().unwrap();
    println!(
        "delta of {} changes: {} bytes encoded (the whole list after them: {} bytes)",
        delta.changes.len(),
        encoded.len(),
        new.compress().len()
    );
    c.bench_function("status/delta_apply_100k", |b| {
        b.iter_batched_ref(
            || old.clone(),
            |copy| black_box(delta.apply(copy, 1).unwrap()),
            criterion::BatchSize::LargeInput,
        )
    });
    c.bench_function("status/delta_decode_and_apply_100k", |b| {
        b.iter_batched_ref(
            || old.clone(),
            |copy| black_box(Delta::decode(&encoded).unwrap().apply(copy, 1).unwrap()),
            criterion::BatchSize::LargeInput,
        )
    });

    // The nation: 1.4 billion residents, each holding a batch of credential instances,
    // every instance with its own 2-bit entry; shards of 2^20 entries filled to 3/4 (the
    // allocator's limit), 1 % of entries not VALID.
    let per_shard = ENTRIES * 3 / 4;
    let (_, _, two_bit_1pct) = sizes
        .iter()
        .copied()
        .find(|(b, p, _)| *b == Bits::TWO && *p == 10)
        .unwrap();
    for batch in [1u64, 4, 10] {
        let entries = 1_400_000_000 * batch;
        let shards = entries.div_ceil(per_shard);
        println!(
            "nation, batch of {batch:>2}: {entries} entries in {shards} shards of 2^20, {:.0} MB compressed in all ({:.1} KB each)",
            (shards * two_bit_1pct as u64) as f64 / 1e6,
            two_bit_1pct as f64 / 1e3
        );
    }
    c.final_summary();
}
