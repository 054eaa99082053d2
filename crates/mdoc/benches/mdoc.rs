//! mdoc issue and verify against their bare cryptographic baselines, in one run:
//! `cargo bench -p eid-mdoc --bench mdoc`.
//!
//! - verify: a DeviceResponse disclosing 5 of 15 elements (decode, DS chain, issuer
//!   signature, 5 digests, validity, device signature over the transcript), issued as the
//!   authority issues (the DS certificate and its IACA in `x5chain`, a status reference),
//!   against the baseline of two bare ES256 verifies (AWS-LC from the raw public key) plus
//!   the 5 SHA-256 digests;
//! - issue: a 15-element IssuerSigned, against the baseline of one ES256 sign.
//!
//! The DS chain check is a third signature verify, not in the baseline. A verifier checks
//! each DS certificate once (`DocumentSignerCache`, as `eid_verifier::Verifier` does): the
//! shipped figure; the run prints the ratio with the chain checked every time beside it.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a failure is a failed run"
)]
#![expect(clippy::print_stdout, reason = "the benchmark prints its ratios")]

use std::hint::black_box;
use std::time::Duration as StdDuration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use criterion::Criterion;
use eid_crypto::CryptoRandom;
use eid_crypto::x509::{AuthorityPki, DocumentSignerCache};
use eid_crypto::{Signer, SigningKey, sha256};
use eid_mdoc::cose::to_be_signed;
use eid_mdoc::issue::{ElementValue, IssueRequest};
use eid_mdoc::{DeviceResponse, IssuerDataCheck, IssuerTrust};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

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
    let (ds_key, ds) = (&pki.ds_key, &pki.ds);
    let holder = SigningKey::generate().unwrap();

    let text = |s: &str| ElementValue::Text(s.to_owned());
    let name_spaces = vec![(
        eid_mdoc::DOCTYPE_RESIDENT_IDENTITY.to_owned(),
        vec![
            ("family_name".to_owned(), text("王")),
            ("given_name".to_owned(), text("秀英")),
            (
                "birth_date".to_owned(),
                ElementValue::FullDate(date!(1990 - 03 - 07)),
            ),
            ("sex".to_owned(), ElementValue::Int(2)),
            ("ethnicity".to_owned(), text("壮")),
            (
                "address".to_owned(),
                text("广西壮族自治区南宁市兴宁区民族大道100号"),
            ),
            ("resident_region".to_owned(), text("450102")),
            ("document_number".to_owned(), text("450102199003071244")),
            ("issuing_authority".to_owned(), text("南宁市公安局兴宁分局")),
            (
                "issue_date".to_owned(),
                ElementValue::FullDate(date!(2016 - 05 - 10)),
            ),
            (
                "expiry_date".to_owned(),
                ElementValue::FullDate(date!(2036 - 05 - 10)),
            ),
            ("age_over_18".to_owned(), ElementValue::Bool(true)),
            ("age_over_60".to_owned(), ElementValue::Bool(false)),
            ("age_in_years".to_owned(), ElementValue::Int(36)),
            ("age_birth_year".to_owned(), ElementValue::Int(1990)),
        ],
    )];
    let request = IssueRequest {
        doc_type: eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
        name_spaces: &name_spaces,
        device_key: holder.verifying_key(),
        valid_from: NOW - Duration::days(1),
        valid_until: NOW + Duration::days(30),
        status: Some(eid_core::status::StatusListReference {
            idx: 4711,
            uri: "https://eid.example.cn/4501/status/3".into(),
        }),
        x5chain: &[ds.0.clone(), pki.iaca.0.clone()],
    };
    let issued = eid_mdoc::issue::issue(&request, ds_key, &CryptoRandom).unwrap();
    let transcript = eid_mdoc::session::oid4vp_session_transcript(
        "x509_hash:hotel",
        "n",
        None,
        "https://hotel.example.cn/r",
    );
    let disclose = [
        "family_name",
        "given_name",
        "age_over_18",
        "resident_region",
        "issuing_authority",
    ];
    let response = eid_mdoc::present::present(&issued, &disclose, &holder, &transcript).unwrap();
    let check = IssuerDataCheck {
        trust: IssuerTrust::Roots(&roots),
        now: NOW,
        expected_doc_type: None,
        status: None,
    };
    let verify_once = |check: &IssuerDataCheck<'_>| {
        let parsed = DeviceResponse::from_cbor(black_box(&response)).unwrap();
        black_box(
            eid_mdoc::verify::verify_document(&parsed.documents[0], check, &transcript, None)
                .unwrap(),
        );
    };
    verify_once(&check);

    // Baseline inputs: the same two signatures and five item digests, verified bare.
    let parsed = DeviceResponse::from_cbor(&response).unwrap();
    let doc = parsed.documents[0].clone();
    let auth = doc.issuer_signed.issuer_auth.clone();
    let issuer_tbs = to_be_signed(
        "Signature1",
        &auth.protected,
        auth.payload.as_deref().unwrap(),
    );
    let device_payload = eid_mdoc::session::device_authentication_bytes(
        &transcript,
        &doc.doc_type,
        &doc.device_signed.name_spaces_bytes,
    );
    let eid_mdoc::model::DeviceAuth::Signature(device_sig) = &doc.device_signed.device_auth else {
        unreachable_code()
    };
    let device_tbs = to_be_signed("Signature1", &device_sig.protected, &device_payload);

    let items: Vec<Vec<u8>> = doc
        .issuer_signed
        .name_spaces
        .iter()
        .flat_map(|(_, items)| items.iter().map(|i| i.bytes.clone()))
        .collect();
    let (ds_point, device_point) = (
        *ds_key.verifying_key().sec1(),
        *holder.verifying_key().sec1(),
    );
    // A bare ES256 verify: AWS-LC from the raw public key, message and signature (the
    // operation PARTS.md measures at ≈ 40 µs).
    let bare_verify = |point: &[u8], message: &[u8], signature: &[u8]| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(message, signature)
            .unwrap();
    };

    // As a verifier runs: the DS chain checked once per certificate, then from its cache
    // (the capacity `eid_verifier::Verifier` gives it).
    let cache = DocumentSignerCache::new(roots.to_vec(), 1024);
    let cached = IssuerDataCheck {
        trust: IssuerTrust::Cached(&cache),
        ..check
    };
    let mut verify_base = || {
        bare_verify(&ds_point, &issuer_tbs, &auth.signature);
        bare_verify(&device_point, &device_tbs, &device_sig.signature);
        for item in &items {
            black_box(sha256(item));
        }
    };
    let (cached_ns, base_ns, cached_ratio) = paired(
        &mut c,
        ("mdoc/verify_device_response_ds_cached", &mut || {
            verify_once(&cached)
        }),
        ("mdoc/verify_baseline_2_es256_and_digests", &mut verify_base),
    );
    let (chain_ns, _, chain_ratio) = paired(
        &mut c,
        (
            "mdoc/verify_device_response_ds_chain_each_time",
            &mut || verify_once(&check),
        ),
        ("mdoc/verify_baseline_again", &mut verify_base),
    );
    let (issue_ns, sign_ns, issue_ratio) = paired(
        &mut c,
        ("mdoc/issue_15_elements", &mut || {
            black_box(eid_mdoc::issue::issue(&request, ds_key, &CryptoRandom).unwrap());
        }),
        ("mdoc/issue_baseline_1_es256_sign", &mut || {
            black_box(ds_key.sign(&issuer_tbs).unwrap());
        }),
    );
    println!(
        "\nmdoc ratios (baseline / ours, median of 31 alternating rounds; 1.0 = no overhead): verify {cached_ratio:.2} ({:.1} µs vs {:.1} µs; DS chain cached), verify with the DS chain checked each time {chain_ratio:.2} ({:.1} µs), issue {issue_ratio:.2} ({:.1} µs vs {:.1} µs)",
        cached_ns / 1000.0,
        base_ns / 1000.0,
        chain_ns / 1000.0,
        issue_ns / 1000.0,
        sign_ns / 1000.0,
    );
    c.final_summary();
}

fn unreachable_code() -> ! {
    std::process::exit(2)
}
