//! SD-JWT VC issue and verify against their bare cryptographic baselines, in one run:
//! `cargo bench -p eid-sdjwt --bench sdjwt`.
//!
//! - verify: a presentation with key binding and 4 of 12 claims disclosed, issued as the
//!   authority issues (the DS certificate and its IACA in `x5c`, a status reference, 4
//!   decoys), against the baseline of two bare ES256 verifies (AWS-LC from the raw public
//!   key; issuer, KB-JWT) plus the SHA-256 digests the verifier must compute (each
//!   disclosure, `sd_hash`);
//! - issue: a 12-claim credential, against the baseline of one ES256 sign.
//!
//! The DS chain check is a third signature verify, not in the baseline. A verifier checks
//! each DS certificate once (`DocumentSignerCache`, as `eid_verifier::Verifier` does): the
//! shipped figure; the run prints the ratio with the chain checked every time beside it.
//! Goals: verify ≥ 0.85 (shipped), issue ≥ 0.8. Results go in docs/performance.md.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a failure is a failed run"
)]
#![expect(clippy::print_stdout, reason = "the benchmark prints its ratios")]

use std::time::Duration as StdDuration;

use std::hint::black_box;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use criterion::Criterion;
use eid_crypto::x509::{AuthorityPki, DocumentSignerCache};
use eid_crypto::{CryptoRandom, Signer, SigningKey, VerifyingKey, sha256};
use eid_sdjwt::{
    IssueRequest, IssuerTrust, KeyBinding, KeyBindingCheck, StatusListReference, UnverifiedSdJwt,
    VerifyOptions, X5cTrust,
};
use serde_json::{Map, Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

fn claims() -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("family_name", json!("王")),
        ("given_name", json!("秀英")),
        ("birth_date", json!("1990-03-07")),
        ("sex", json!(2)),
        ("ethnicity", json!("壮")),
        ("address", json!("广西壮族自治区南宁市兴宁区民族大道100号")),
        ("resident_region", json!("450102")),
        ("issuing_authority", json!("南宁市公安局兴宁分局")),
        ("age_over_18", json!(true)),
        ("age_over_60", json!(false)),
        ("age_in_years", json!(36)),
        ("age_birth_year", json!(1990)),
    ] {
        m.insert(k.into(), v);
    }
    m
}

/// As the authority issues (`eid_authority`'s issuance): its DS certificate chain (DS, IACA)
/// in `x5c`, a status list entry, 4 decoys.
fn issue(
    issuer: &SigningKey,
    x5c: &[Vec<u8>],
    holder: &VerifyingKey,
    claims: &Map<String, Value>,
) -> String {
    eid_sdjwt::issue(
        &IssueRequest {
            claims,
            vct: eid_sdjwt::VCT_RESIDENT_IDENTITY,
            issuer: Some("https://eid.example.cn/4501"),
            holder_key: holder,
            issued_at: NOW - Duration::days(1),
            expires_at: Some(NOW + Duration::days(30)),
            status: Some(StatusListReference {
                idx: 4711,
                uri: "https://eid.example.cn/4501/status/3".into(),
            }),
            x5c,
            decoys: 4,
        },
        issuer,
        &CryptoRandom,
    )
    .unwrap()
}

/// Runs `ours` and `baseline` through criterion for the full statistics, then times them
/// in alternation — 200 calls of one, 200 of the other, 31 times — and returns the median
/// time of each and the median of the per-round ratios `baseline / ours`. Alternating keeps
/// both sides in the same seconds of a shared, noisy machine.
fn paired(
    c: &mut Criterion,
    (ours_name, ours): (&str, &mut dyn FnMut()),
    (base_name, baseline): (&str, &mut dyn FnMut()),
) -> (f64, f64, f64) {
    c.bench_function(ours_name, |b| b.iter(&mut *ours));
    c.bench_function(base_name, |b| b.iter(&mut *baseline));
    let time = |f: &mut dyn FnMut()| {
        #[expect(clippy::disallowed_methods, reason = "benchmark timing")]
        let start = std::time::Instant::now();
        for _ in 0..200 {
            f();
        }
        start.elapsed().as_nanos() as f64 / 200.0
    };
    let (mut o, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..31 {
        let (x, y) = (time(ours), time(baseline));
        o.push(x);
        b.push(y);
        r.push(y / x);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(o), median(b), median(r))
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .measurement_time(StdDuration::from_secs(3))
        .warm_up_time(StdDuration::from_secs(1));
    let pki = AuthorityPki::generate(
        "Nanning PSB",
        "CN",
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
        &CryptoRandom,
    )
    .unwrap();
    let roots = [pki.trusted_root(NOW).unwrap()];
    let issuer = &pki.ds_key;
    let x5c = [pki.ds.0.clone(), pki.iaca.0.clone()];
    let holder = SigningKey::generate().unwrap();
    let claims = claims();
    let issued = issue(issuer, &x5c, holder.verifying_key(), &claims);
    let presentation = eid_sdjwt::present(
        &issued,
        &[
            "age_over_18",
            "resident_region",
            "family_name",
            "given_name",
        ],
        Some(&KeyBinding {
            signer: &holder,
            audience: "hotel",
            nonce: "n",
            issued_at: NOW,
        }),
    )
    .unwrap();
    let check = KeyBindingCheck {
        audience: "hotel",
        nonce: "n",
        max_age: Duration::minutes(5),
    };
    // As a verifier runs: the DS chain checked once per certificate, then from its cache
    // (the capacity `eid_verifier::Verifier` gives it).
    let cache = DocumentSignerCache::new(roots.to_vec(), 1024);
    let options = VerifyOptions {
        trust: IssuerTrust {
            x5c: X5cTrust::Cached(&cache),
            keys: &[],
        },
        now: NOW,
        leeway: Duration::ZERO,
        sd_jwt_vc: true,
        expected_vct: &[],
        key_binding: Some(&check),
        status: None,
    };
    let chain_each_time = VerifyOptions {
        trust: IssuerTrust {
            x5c: X5cTrust::Roots(&roots),
            keys: &[],
        },
        ..options
    };
    let verify_once = |options: &VerifyOptions<'_>| {
        let v = UnverifiedSdJwt::parse(black_box(&presentation))
            .unwrap()
            .verify(options)
            .unwrap();
        black_box(v);
    };
    verify_once(&options);
    verify_once(&chain_each_time);
    assert_eq!(cache.chains_checked(), 1);

    // Baseline inputs: the same two signatures and digests, verified bare.
    let parts: Vec<&str> = presentation.split('~').collect();
    let (jwt, kb) = (parts[0], parts[parts.len() - 1]);
    let split = |jws: &str| {
        let (input, sig) = jws.rsplit_once('.').unwrap();
        (input.to_owned(), eid_crypto::b64url_decode(sig).unwrap())
    };
    let (jwt_input, jwt_sig) = split(jwt);
    let (kb_input, kb_sig) = split(kb);
    let disclosures: Vec<&str> = parts[1..parts.len() - 1].to_vec();
    let sd_hash_input = &presentation[..presentation.rfind('~').unwrap() + 1];
    let (issuer_point, holder_point) = (
        *issuer.verifying_key().sec1(),
        *holder.verifying_key().sec1(),
    );
    // A bare ES256 verify: AWS-LC from the raw public key, message and signature (the
    // operation PARTS.md measures at ≈ 40 µs).
    let bare_verify = |point: &[u8], message: &[u8], signature: &[u8]| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(message, signature)
            .unwrap();
    };

    let mut verify_base = || {
        bare_verify(&issuer_point, jwt_input.as_bytes(), &jwt_sig);
        bare_verify(&holder_point, kb_input.as_bytes(), &kb_sig);
        for d in &disclosures {
            black_box(sha256(d.as_bytes()));
        }
        black_box(sha256(sd_hash_input.as_bytes()));
    };
    let (verify_ns, base_ns, verify_ratio) = paired(
        &mut c,
        ("sdjwt/verify_presentation_ds_cached", &mut || {
            verify_once(&options)
        }),
        (
            "sdjwt/verify_baseline_2_es256_and_digests",
            &mut verify_base,
        ),
    );
    let (chain_ns, _, chain_ratio) = paired(
        &mut c,
        ("sdjwt/verify_presentation_ds_chain_each_time", &mut || {
            verify_once(&chain_each_time)
        }),
        ("sdjwt/verify_baseline_again", &mut verify_base),
    );
    let (issue_ns, sign_ns, issue_ratio) = paired(
        &mut c,
        ("sdjwt/issue_12_claims", &mut || {
            black_box(issue(issuer, &x5c, holder.verifying_key(), &claims));
        }),
        ("sdjwt/issue_baseline_1_es256_sign", &mut || {
            black_box(issuer.sign(jwt_input.as_bytes()).unwrap());
        }),
    );
    println!(
        "\nSD-JWT VC ratios (baseline / ours, median of 31 alternating rounds; 1.0 = no overhead): verify {verify_ratio:.2} ({:.1} µs vs {:.1} µs; DS chain cached), verify with the DS chain checked each time {chain_ratio:.2} ({:.1} µs), issue {issue_ratio:.2} ({:.1} µs vs {:.1} µs)",
        verify_ns / 1000.0,
        base_ns / 1000.0,
        chain_ns / 1000.0,
        issue_ns / 1000.0,
        sign_ns / 1000.0,
    );
    c.final_summary();
}
