//! RFC 9901 and SD-JWT VC examples from `testdata/sd-jwt` (PROVENANCE.md there):
//! every compact example verifies at the time its sidecar pins, with its key binding, and
//! processes to the payload the spec prints. The vectors are in the repository (`testdata/`, PROVENANCE.md there).

#![expect(
    clippy::panic,
    reason = "a spec vector missing from the repository fails the test"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::PathBuf;

use eid_crypto::{Jwk, VerifyingKey};
use eid_sdjwt::{
    IssuerTrust, KeyBindingCheck, SdJwtError, UnverifiedSdJwt, VerifyOptions, X5cTrust,
};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

fn folder() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sd-jwt");
    if dir.is_dir() {
        Some(dir)
    } else {
        panic!(
            "{} is missing: the spec vectors are part of the repository (testdata/)",
            dir.display()
        );
    }
}

fn key(dir: &std::path::Path, name: &str) -> VerifyingKey {
    let text = std::fs::read_to_string(dir.join("keys").join(name)).unwrap();
    serde_json::from_str::<Jwk>(&text)
        .unwrap()
        .verifying_key()
        .unwrap()
}

struct Example {
    name: String,
    compact: String,
    sidecar: Value,
}

fn examples(dir: &std::path::Path) -> Vec<Example> {
    let mut out = Vec::new();
    for sub in ["rfc9901", "sd-jwt-vc"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".txt") else {
                continue;
            };
            let sidecar_path = path.with_file_name(format!("{stem}.json"));
            let Ok(sidecar) = std::fs::read_to_string(&sidecar_path) else {
                continue;
            };
            let sidecar: Value = serde_json::from_str(&sidecar).unwrap();
            if sidecar["serialization"] != "compact" {
                continue;
            }
            let compact: String = std::fs::read_to_string(&path)
                .unwrap()
                .split_whitespace()
                .collect();
            out.push(Example {
                name: format!("{sub}/{name}"),
                compact,
                sidecar,
            });
        }
    }
    out
}

fn pinned(sidecar: &Value) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(sidecar["verification_time"]["pin_unix"].as_i64().unwrap())
        .unwrap()
}

#[test]
fn rfc9901_and_sd_jwt_vc_examples_verify_and_process_as_printed() {
    let Some(dir) = folder() else { return };
    let issuer = [key(&dir, "issuer.public.jwk.json")];
    let examples = examples(&dir);
    assert!(
        examples.len() >= 10,
        "found only {} examples",
        examples.len()
    );
    for ex in &examples {
        let kb = &ex.sidecar["key_binding"];
        let check = kb.is_object().then(|| KeyBindingCheck {
            audience: kb["expected_aud"].as_str().unwrap(),
            nonce: kb["expected_nonce"].as_str().unwrap(),
            max_age: Duration::minutes(5),
        });
        let is_vc = ex.sidecar["issuer_jwt_header"]["typ"] == "dc+sd-jwt";
        let options = VerifyOptions {
            trust: IssuerTrust {
                x5c: X5cTrust::Roots(&[]),
                keys: &issuer,
            },
            now: pinned(&ex.sidecar),
            leeway: Duration::ZERO,
            sd_jwt_vc: is_vc,
            expected_vct: &[],
            key_binding: check.as_ref(),
            status: None,
        };
        let verified = UnverifiedSdJwt::parse(&ex.compact)
            .and_then(|sd| sd.verify(&options))
            .unwrap_or_else(|e| panic!("{}: {e}", ex.name));
        assert_eq!(verified.key_bound, check.is_some(), "{}", ex.name);
        let expected = ex.sidecar["expected_processed_payload"]
            .as_object()
            .unwrap();
        assert_eq!(&verified.claims, expected, "{}", ex.name);
        if check.is_some() {
            assert_eq!(
                verified.holder_key.as_ref(),
                Some(&key(&dir, "holder.public.jwk.json")),
                "{}",
                ex.name
            );
        }
    }
}

#[test]
fn spec_example_with_another_nonce_audience_or_time_is_refused() {
    let Some(dir) = folder() else { return };
    let issuer = [key(&dir, "issuer.public.jwk.json")];
    let path = dir.join("rfc9901/a3_presentation_kb.txt");
    let compact: String = std::fs::read_to_string(&path)
        .unwrap()
        .split_whitespace()
        .collect();
    let sidecar: Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
            .unwrap();
    let run = |aud: &str, nonce: &str, now: OffsetDateTime| {
        let check = KeyBindingCheck {
            audience: aud,
            nonce,
            max_age: Duration::minutes(5),
        };
        let options = VerifyOptions {
            trust: IssuerTrust {
                x5c: X5cTrust::Roots(&[]),
                keys: &issuer,
            },
            now,
            leeway: Duration::ZERO,
            sd_jwt_vc: true,
            expected_vct: &["urn:eudi:pid:de:1"],
            key_binding: Some(&check),
            status: None,
        };
        UnverifiedSdJwt::parse(&compact)
            .unwrap()
            .verify(&options)
            .map(|_| ())
    };
    let now = pinned(&sidecar);
    let (aud, nonce) = ("https://verifier.example.org", "1234567890");
    run(aud, nonce, now).unwrap();
    assert_eq!(
        run("https://other.example", nonce, now),
        Err(SdJwtError::WrongAudience)
    );
    assert_eq!(run(aud, "1234567891", now), Err(SdJwtError::WrongNonce));
    assert_eq!(
        run(aud, nonce, now + Duration::hours(1)),
        Err(SdJwtError::KeyBindingTime)
    );
    // exp is 1883000000 (2029-09-01T23:33:20Z).
    let after_exp = OffsetDateTime::from_unix_timestamp(1_883_000_000).unwrap();
    assert_eq!(run(aud, nonce, after_exp), Err(SdJwtError::Expired));
}
