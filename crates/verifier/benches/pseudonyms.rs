//! What a pairwise pseudonym costs, in one run: `cargo bench -p eid-verifier --bench
//! pseudonyms`.
//!
//! - **Per presentation**: the bank's verification of an SD-JWT VC presentation through the
//!   shipped [`Verifier::verify_sd_jwt`] (signature, digests, key binding, status, policy),
//!   disclosing the name and number, against the same with the bank's pseudonym too (sealed
//!   to the bank's key, opened by it), from a credential carrying 16 relying parties'
//!   pseudonyms. Timed in turns (a batch of one, a
//!   batch of the other, 21 rounds); the medians and the median per-round ratio.
//! - **Per credential at issuance**: one pseudonym sealed to its relying party
//!   (`eid_crypto::pseudonym::{pseudonym, seal_to}`, what the authority computes for each
//!   relying party registered for one) against the one ES256 signature every credential
//!   instance costs; and the credential's size with 0, 16 and 256 relying parties'
//!   pseudonyms.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a failure is a failed run"
)]
#![expect(clippy::print_stdout, reason = "the benchmark prints its figures")]

#[path = "../tests/common/mod.rs"]
#[expect(
    dead_code,
    reason = "the tests' world has more than the benchmark uses"
)]
mod common;

use std::hint::black_box;

use common::{NOW, World};
use eid_core::region::RegionCode;
use eid_crypto::hpke::HpkeRecipient;
use eid_crypto::{Signer, SigningKey, b64url, pseudonym};
use eid_sdjwt::KeyBinding;
use eid_trust::edit::{add_relying_party, set_pseudonym_key};
use eid_trust::{PSEUDONYM, Purpose, pseudonym_item};
use eid_verifier::{Channel, Check};
use serde_json::Value;

const BANK: &str = "nanning-bank";
const ROOT: [u8; 32] = [7; 32];
const SUBJECT: &[u8; 8] = b"17digits";

/// Her pseudonym for `rp`, sealed to `key`'s public half, as a credential carries it.
fn sealed(rp: &str, key: &HpkeRecipient) -> Vec<u8> {
    let value = pseudonym::pseudonym(&ROOT, rp, SUBJECT).unwrap();
    pseudonym::seal_to(key.public_point(), rp, &value).unwrap()
}

/// Nanoseconds per call of `f`, over `calls` calls.
fn per_call(calls: u32, f: &mut dyn FnMut()) -> f64 {
    #[expect(clippy::disallowed_methods, reason = "benchmark timing")]
    let started = std::time::Instant::now();
    for _ in 0..calls {
        f();
    }
    started.elapsed().as_nanos() as f64 / f64::from(calls)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Times `a` and `b` in turns: (a ns, b ns, median of a / b per round).
fn in_turns(calls: u32, a: &mut dyn FnMut(), b: &mut dyn FnMut()) -> (f64, f64, f64) {
    let mut rounds = Vec::new();
    for _ in 0..21 {
        rounds.push((per_call(calls, a), per_call(calls, b)));
    }
    (
        median(rounds.iter().map(|r| r.0).collect()),
        median(rounds.iter().map(|r| r.1).collect()),
        median(rounds.iter().map(|r| r.0 / r.1).collect()),
    )
}

/// Her SD-JWT VC with the pseudonyms of `BANK` (sealed to `bank`) and of `others - 1` more
/// relying parties (sealed to a key of each).
fn credential(world: &World, bank: &HpkeRecipient, others: usize) -> String {
    let mut claims = eid_testing::her_claims("superapp-a");
    let parties = (0..others).map(|n| {
        if n == 0 {
            BANK.to_owned()
        } else {
            format!("rp-{n}")
        }
    });
    for rp in parties {
        let value = if rp == BANK {
            sealed(&rp, bank)
        } else {
            sealed(&rp, &HpkeRecipient::generate().unwrap())
        };
        claims.insert(pseudonym_item(&rp), Value::from(b64url(&value)));
    }
    world.sd_jwt_with(&claims)
}

fn main() {
    let world = World::new();
    let bank_key = SigningKey::generate().unwrap();
    let bank = HpkeRecipient::from_pkcs8_pem(&bank_key.to_pkcs8_pem().unwrap()).unwrap();
    let (_, trust) = world.next_trust_list(|draft| {
        add_relying_party(
            draft,
            BANK,
            BANK,
            RegionCode::parse("450102").unwrap(),
            &[(
                Purpose::BankAccountOpening,
                Some(
                    ["family_name", "document_number", PSEUDONYM]
                        .map(str::to_owned)
                        .to_vec(),
                ),
            )],
            Some(&world.bank.certificate),
            true,
        )
        .unwrap();
        set_pseudonym_key(draft, BANK, bank_key.verifying_key().to_jwk()).unwrap();
    });
    let verifier = world.verifier_under(&trust, BANK).with_pseudonym_key(
        HpkeRecipient::from_pkcs8_pem(&bank_key.to_pkcs8_pem().unwrap()).unwrap(),
    );
    let issued = credential(&world, &bank, 16);
    let present = |disclose: &[&str]| {
        eid_sdjwt::present(
            &issued,
            disclose,
            Some(&KeyBinding {
                signer: &world.device_key,
                audience: "x509_hash:bank",
                nonce: "n-1",
                issued_at: NOW,
            }),
        )
        .unwrap()
    };
    let own = pseudonym_item(BANK);
    let without = present(&["family_name", "document_number"]);
    let with = present(&["family_name", "document_number", &own]);
    let check = |requested: &'static [&'static str]| {
        requested
            .iter()
            .map(|a| (*a).to_owned())
            .collect::<Vec<_>>()
    };
    let (asked_without, asked_with) = (
        check(&["family_name", "document_number"]),
        check(&["family_name", "document_number", PSEUDONYM]),
    );
    let verify = |presentation: &str, requested: &[String]| {
        let report = verifier.verify_sd_jwt(
            presentation,
            "x509_hash:bank",
            "n-1",
            &Check {
                purpose: Purpose::BankAccountOpening,
                requested,
                channel: Channel::Online,
                now: NOW,
            },
        );
        assert!(report.accepted, "{:?}", report.reasons);
        report
    };
    assert_eq!(
        verify(&with, &asked_with).attributes[PSEUDONYM],
        b64url(&pseudonym::pseudonym(&ROOT, BANK, SUBJECT).unwrap())
    );
    let (a, b, ratio) = in_turns(
        50,
        &mut || {
            black_box(verify(black_box(&with), &asked_with));
        },
        &mut || {
            black_box(verify(black_box(&without), &asked_without));
        },
    );
    println!(
        "presentation verified by the bank (SD-JWT VC, Verifier::verify_sd_jwt): with its pseudonym {:.1} µs, without {:.1} µs, ratio {ratio:.3}",
        a / 1e3,
        b / 1e3
    );
    println!(
        "presentation size: with its pseudonym {} bytes, without {} bytes",
        with.len(),
        without.len()
    );

    let es256 = SigningKey::generate().unwrap();
    let message = [0x5au8; 300];
    let (a, b, ratio) = in_turns(
        200,
        &mut || {
            black_box(sealed(black_box("nanning-bank"), &bank));
        },
        &mut || {
            black_box(es256.sign(black_box(&message)).unwrap());
        },
    );
    println!(
        "issuance: one relying party's pseudonym, sealed to it, {:.2} µs, one ES256 signature {:.2} µs, ratio {ratio:.3}",
        a / 1e3,
        b / 1e3
    );
    for parties in [0, 16, 256] {
        println!(
            "credential (SD-JWT VC, all disclosures) with {parties:>3} relying parties' pseudonyms: {} bytes",
            credential(&world, &bank, parties).len()
        );
    }
}
