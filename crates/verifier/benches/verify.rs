//! A relying party's verification of one presentation, whole, against the bare cryptography
//! it cannot avoid, in one run: `cargo bench -p eid-verifier --bench verify`.
//!
//! What ships: credentials issued as the authority issues them (the DS certificate and its
//! IACA in `x5c` / `x5chain`, a status list entry), verified by an [`eid_verifier::Verifier`]
//! under a trust list, with its status list held — the format's checks with the DS chain
//! from the verifier's `DocumentSignerCache`, then status and the acceptance policy, down
//! to the report. The bank (online, purpose bank account opening) asks for 4 attributes:
//!
//! - SD-JWT VC: 4 of 12 claims disclosed with key binding, against two bare ES256 verifies
//!   (AWS-LC from the raw public key; issuer, KB-JWT) plus the SHA-256 digests the verifier
//!   must compute (each disclosure, `sd_hash`);
//! - mdoc: a DeviceResponse disclosing the 4 and the wallet provider, against two bare
//!   ES256 verifies (issuer, device) plus the 5 item digests.
//!
//! The format crates' benches (`eid-sdjwt`, `eid-mdoc`) measure the format alone, cached and
//! with the DS chain checked every time. Goal: ≥ 0.85. Results go in docs/performance.md.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a failure is a failed run"
)]
#![expect(clippy::print_stdout, reason = "the benchmark prints its ratios")]

#[path = "../tests/common/mod.rs"]
#[expect(
    dead_code,
    reason = "the shared world has more than the benchmark uses"
)]
mod common;

use std::hint::black_box;
use std::time::Duration as StdDuration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use common::{IDX, NOW, STATUS_URI, World};
use criterion::Criterion;
use eid_core::status::StatusListReference;
use eid_crypto::{CryptoRandom, Signer, sha256};
use eid_mdoc::DeviceResponse;
use eid_mdoc::cose::to_be_signed;
use eid_trust::Purpose;
use eid_verifier::{Channel, Check};
use serde_json::{Map, Value, json};
use time::Duration;

const BANK: &str = "nanning-bank";
const AUDIENCE: &str = "x509_hash:nanning-bank";
const NONCE: &str = "n-7Qx2";
const ASKED: [&str; 4] = ["family_name", "given_name", "birth_date", "document_number"];

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

/// A bare ES256 verify: AWS-LC from the raw public key, message and signature.
fn bare_verify(point: &[u8], message: &[u8], signature: &[u8]) {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        .verify(message, signature)
        .unwrap();
}

fn status() -> StatusListReference {
    StatusListReference {
        idx: IDX,
        uri: STATUS_URI.into(),
    }
}

/// Nanning's SD-JWT VC as the authority issues it (12 claims, 4 decoys).
fn sd_jwt(world: &World) -> String {
    let claims: Map<String, Value> = serde_json::from_value(json!({
        "family_name": "韦", "given_name": "小兰", "birth_date": "1990-03-07", "sex": 2,
        "ethnicity": "壮", "address": "广西南宁市青秀区民族大道1号",
        "resident_region": "450103", "document_number": "450103199003070024",
        "issuing_authority": "南宁市公安局", "age_over_18": true, "age_in_years": 36,
        "age_birth_year": 1990, "wallet_provider": "superapp-a",
    }))
    .unwrap();
    eid_sdjwt::issue(
        &eid_sdjwt::IssueRequest {
            claims: &claims,
            vct: eid_sdjwt::VCT_RESIDENT_IDENTITY,
            issuer: Some("https://nanning.eid.example"),
            holder_key: world.device_key.verifying_key(),
            issued_at: NOW - Duration::days(1),
            expires_at: Some(NOW + Duration::days(90)),
            status: Some(status()),
            x5c: &[world.nanning.ds.0.clone(), world.nanning.iaca.0.clone()],
            decoys: 4,
        },
        &world.nanning.ds_key,
        &CryptoRandom,
    )
    .unwrap()
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .measurement_time(StdDuration::from_secs(3))
        .warm_up_time(StdDuration::from_secs(1));
    let world = World::new();
    let verifier = world.verifier(BANK);
    let requested: Vec<String> = ASKED.map(str::to_owned).to_vec();
    let check = Check {
        purpose: Purpose::BankAccountOpening,
        requested: &requested,
        channel: Channel::Online,
        now: NOW,
    };
    let (ds_point, device_point) = (
        *world.nanning.ds_key.verifying_key().sec1(),
        *world.device_key.verifying_key().sec1(),
    );

    // SD-JWT VC.
    let presentation = eid_sdjwt::present(
        &sd_jwt(&world),
        &ASKED,
        Some(&eid_sdjwt::KeyBinding {
            signer: &world.device_key,
            audience: AUDIENCE,
            nonce: NONCE,
            issued_at: NOW,
        }),
    )
    .unwrap();
    let verify_sd_jwt = || {
        let report = verifier.verify_sd_jwt(black_box(&presentation), AUDIENCE, NONCE, &check);
        assert!(report.accepted, "{:?}", report.reasons);
        black_box(report);
    };
    verify_sd_jwt();
    let parts: Vec<&str> = presentation.split('~').collect();
    let split = |jws: &str| {
        let (input, sig) = jws.rsplit_once('.').unwrap();
        (input.to_owned(), eid_crypto::b64url_decode(sig).unwrap())
    };
    let (jwt_input, jwt_sig) = split(parts[0]);
    let (kb_input, kb_sig) = split(parts[parts.len() - 1]);
    let disclosures: Vec<&str> = parts[1..parts.len() - 1].to_vec();
    let sd_hash_input = &presentation[..presentation.rfind('~').unwrap() + 1];
    let (sd_ns, sd_base_ns, sd_ratio) = paired(
        &mut c,
        ("verifier/verify_sd_jwt_shipped", &mut || verify_sd_jwt()),
        ("verifier/sd_jwt_baseline_2_es256_and_digests", &mut || {
            bare_verify(&ds_point, jwt_input.as_bytes(), &jwt_sig);
            bare_verify(&device_point, kb_input.as_bytes(), &kb_sig);
            for d in &disclosures {
                black_box(sha256(d.as_bytes()));
            }
            black_box(sha256(sd_hash_input.as_bytes()));
        }),
    );

    // mdoc.
    let issued = World::issue_with_chain(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        status(),
        &[world.nanning.ds.0.clone(), world.nanning.iaca.0.clone()],
    );
    let transcript = eid_mdoc::session::oid4vp_session_transcript(
        AUDIENCE,
        NONCE,
        None,
        "https://bank.example/vp/response",
    );
    let mut disclose = ASKED.to_vec();
    disclose.push(eid_mdoc::ELEMENT_WALLET_PROVIDER);
    let response =
        eid_mdoc::present::present(&issued, &disclose, &world.device_key, &transcript).unwrap();
    let verify_mdoc = || {
        let report = verifier.verify_mdoc(black_box(&response), &transcript, &check);
        assert!(report.accepted, "{:?}", report.reasons);
        black_box(report);
    };
    verify_mdoc();
    let parsed = DeviceResponse::from_cbor(&response).unwrap();
    let doc = &parsed.documents[0];
    let auth = &doc.issuer_signed.issuer_auth;
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
        std::process::exit(2)
    };
    let device_tbs = to_be_signed("Signature1", &device_sig.protected, &device_payload);
    let items: Vec<Vec<u8>> = doc
        .issuer_signed
        .name_spaces
        .iter()
        .flat_map(|(_, items)| items.iter().map(|i| i.bytes.clone()))
        .collect();
    assert_eq!(items.len(), 5);
    let (mdoc_ns, mdoc_base_ns, mdoc_ratio) = paired(
        &mut c,
        ("verifier/verify_mdoc_shipped", &mut || verify_mdoc()),
        ("verifier/mdoc_baseline_2_es256_and_digests", &mut || {
            bare_verify(&ds_point, &issuer_tbs, &auth.signature);
            bare_verify(&device_point, &device_tbs, &device_sig.signature);
            for item in &items {
                black_box(sha256(item));
            }
        }),
    );
    // Both formats' presentations checked the one DS chain once.
    assert_eq!(verifier.document_signers().chains_checked(), 1);
    println!(
        "\nverifier ratios (baseline / ours, median of 31 alternating rounds; 1.0 = no overhead; DS chain from the verifier's cache, status and policy included): SD-JWT VC {sd_ratio:.2} ({:.1} µs vs {:.1} µs), mdoc {mdoc_ratio:.2} ({:.1} µs vs {:.1} µs)",
        sd_ns / 1000.0,
        sd_base_ns / 1000.0,
        mdoc_ns / 1000.0,
        mdoc_base_ns / 1000.0,
    );
    c.final_summary();
}
