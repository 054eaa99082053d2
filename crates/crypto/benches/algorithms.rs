//! SM2 with SM3 against ES256, sign and verify, in one run: `cargo bench -p eid-crypto
//! --bench algorithms`. Both through what ships — [`SigningKey`] and [`VerifyingKey`], as
//! the authority signs and verifiers check (ES256 on AWS-LC, SM2 on RustCrypto's `sm2`) —
//! over a 300-byte message. The two are timed in turns (a
//! batch of one, a batch of the other, 21 rounds) so that both share the same seconds of a
//! noisy machine; the medians and the median per-round ratio are printed.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a failure is a failed run"
)]
#![expect(clippy::print_stdout, reason = "the benchmark prints its figures")]

use std::hint::black_box;

use eid_crypto::{Algorithm, Signer, SigningKey};

/// Nanoseconds per call of `f`, over `calls` calls.
fn per_call(calls: u32, f: &mut dyn FnMut()) -> f64 {
    #[expect(clippy::disallowed_methods, reason = "benchmark timing")]
    let started = std::time::Instant::now();
    for _ in 0..calls {
        f();
    }
    started.elapsed().as_nanos() as f64 / f64::from(calls)
}

/// The median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Times `sm2` and `es256` in turns: (SM2 ns, ES256 ns, median of SM2 / ES256 per round).
fn in_turns(sm2: &mut dyn FnMut(), es256: &mut dyn FnMut()) -> (f64, f64, f64) {
    let mut rounds = Vec::new();
    for _ in 0..21 {
        let a = per_call(100, sm2);
        let b = per_call(100, es256);
        rounds.push((a, b));
    }
    (
        median(rounds.iter().map(|r| r.0).collect()),
        median(rounds.iter().map(|r| r.1).collect()),
        median(rounds.iter().map(|r| r.0 / r.1).collect()),
    )
}

fn main() {
    let message = [0x5au8; 300];
    let sm2 = SigningKey::generate_for(Algorithm::Sm2Sm3).unwrap();
    let es256 = SigningKey::generate().unwrap();
    let (sm2_signature, es256_signature) =
        (sm2.sign(&message).unwrap(), es256.sign(&message).unwrap());
    let sign = in_turns(
        &mut || {
            black_box(sm2.sign(black_box(&message)).unwrap());
        },
        &mut || {
            black_box(es256.sign(black_box(&message)).unwrap());
        },
    );
    let verify = in_turns(
        &mut || {
            sm2.verifying_key()
                .verify(black_box(&message), black_box(&sm2_signature))
                .unwrap();
        },
        &mut || {
            es256
                .verifying_key()
                .verify(black_box(&message), black_box(&es256_signature))
                .unwrap();
        },
    );
    println!("SM2 with SM3 against ES256, 300-byte message, one thread, one run:");
    for (what, (sm2_ns, es256_ns, ratio)) in [("sign", sign), ("verify", verify)] {
        println!(
            "  {what:6}  SM2 {:7.1} µs ({:6.0}/s)   ES256 {:6.1} µs ({:6.0}/s)   SM2 costs {ratio:.2}× ES256",
            sm2_ns / 1000.0,
            1e9 / sm2_ns,
            es256_ns / 1000.0,
            1e9 / es256_ns
        );
    }
}
