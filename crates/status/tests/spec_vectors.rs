//! The Token Status List draft's examples from `testdata/status-list` (PROVENANCE.md
//! there): every list decodes to the statuses the draft assigns, in JSON and CBOR; the signed
//! JWT and CWT verify with the draft's example key at a pinned time; the referenced token's
//! `status` claim reads. The vectors are in the repository (`testdata/`, PROVENANCE.md there).

#![expect(
    clippy::panic,
    reason = "a spec vector missing from the repository fails the test"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::PathBuf;

use eid_core::status::StatusListReference;
use eid_crypto::{Jwk, VerifyingKey};
use eid_status::list::DEFAULT_MAX_INFLATED;
use eid_status::token::reference_from_cwt_claims;
use eid_status::{ReadOptions, StatusList, TokenFormat, TokenTrust, read};
use serde_json::Value;
use time::OffsetDateTime;

fn testdata() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/status-list");
    if dir.is_dir() {
        Some(dir)
    } else {
        panic!(
            "{} is missing: the spec vectors are part of the repository (testdata/)",
            dir.display()
        );
    }
}

fn json(dir: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

fn hex_file(dir: &std::path::Path, name: &str) -> Vec<u8> {
    hex::decode(std::fs::read_to_string(dir.join(name)).unwrap().trim()).unwrap()
}

/// Every index's status against the expected file: a full `statuses` array, or the
/// `nonzero_statuses` map (all others VALID).
fn assert_statuses(list: &StatusList, expected: &Value, what: &str) {
    assert_eq!(
        list.len(),
        expected["size_entries"].as_u64().unwrap(),
        "{what}"
    );
    if let Some(all) = expected["statuses"].as_array() {
        for (i, s) in all.iter().enumerate() {
            assert_eq!(
                u64::from(list.get(i as u64).unwrap()),
                s.as_u64().unwrap(),
                "{what} {i}"
            );
        }
        return;
    }
    let nonzero = expected["nonzero_statuses"].as_object().unwrap();
    let mut seen = 0;
    for i in 0..list.len() {
        let value = list.get(i).unwrap();
        if value != 0 {
            seen += 1;
            assert_eq!(
                Some(u64::from(value)),
                nonzero.get(&i.to_string()).and_then(Value::as_u64),
                "{what} {i}"
            );
        }
    }
    assert_eq!(seen, nonzero.len(), "{what}");
}

#[test]
fn spec_lists_decode_in_json_and_cbor() {
    let Some(dir) = testdata() else { return };
    for name in [
        "status_list_1bit_16",
        "status_list_2bit_12",
        "status_list_1bit_2p20",
        "status_list_2bit_2p20",
        "status_list_4bit_2p20",
        "status_list_8bit_2p20",
    ] {
        let expected = json(&dir, &format!("{name}.expected.json"));
        let from_json =
            StatusList::from_json(&json(&dir, &format!("{name}.json")), DEFAULT_MAX_INFLATED)
                .unwrap();
        let cbor = hex_file(&dir, &format!("{name}.cbor.hex"));
        let from_cbor =
            StatusList::decode_cbor(&mut minicbor::Decoder::new(&cbor), DEFAULT_MAX_INFLATED)
                .unwrap();
        assert_eq!(from_json, from_cbor, "{name}");
        if let Some(bytes) = expected["byte_array_hex"].as_str() {
            assert_eq!(hex::encode(from_json.as_bytes()), bytes, "{name}");
        }
        assert_statuses(&from_json, &expected, name);
        // What eid compresses inflates to the same list.
        let again = StatusList::from_json(&from_json.to_json(), DEFAULT_MAX_INFLATED).unwrap();
        assert_eq!(again, from_json, "{name}");
    }
}

fn example_key(dir: &std::path::Path) -> VerifyingKey {
    let jwk: Jwk = serde_json::from_str(
        &std::fs::read_to_string(dir.join("example_key.public.jwk.json")).unwrap(),
    )
    .unwrap();
    jwk.verifying_key().unwrap()
}

/// Inside the examples' iat..exp window.
fn pinned() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

#[test]
fn spec_jwt_and_cwt_tokens_verify_with_the_example_key() {
    let Some(dir) = testdata() else { return };
    let keys = [example_key(&dir)];
    let options = ReadOptions::new(
        TokenTrust {
            roots: &[],
            keys: &keys,
        },
        pinned(),
        "https://example.com/statuslists/1",
    );
    for (file, format, expected) in [
        (
            "status_list_jwt.txt",
            TokenFormat::Jwt,
            "status_list_jwt.expected.json",
        ),
        (
            "status_list_cwt.hex",
            TokenFormat::Cwt,
            "status_list_cwt.expected.json",
        ),
    ] {
        let bytes = if format == TokenFormat::Jwt {
            std::fs::read(dir.join(file)).unwrap()
        } else {
            hex_file(&dir, file)
        };
        let verified = read(&bytes, &options).unwrap();
        assert_eq!(verified.format, format);
        let token = &verified.token;
        assert_eq!(token.uri, "https://example.com/statuslists/1");
        assert_eq!(token.issued_at.unix_timestamp(), 1_686_920_170);
        assert_eq!(
            token.expires_at.map(|t| t.unix_timestamp()),
            Some(2_291_720_170)
        );
        assert_eq!(token.ttl, Some(43_200));
        let mut expected = json(&dir, expected);
        expected["size_entries"] = 16.into();
        assert_statuses(&token.list, &expected, file);
    }
}

#[test]
fn spec_referenced_token_cwt_status_claim() {
    let Some(dir) = testdata() else { return };
    let bytes = hex_file(&dir, "referenced_token_cwt.hex");
    let cose = eid_mdoc::cose::CoseSign1::decode(&mut minicbor::Decoder::new(&bytes)).unwrap();
    cose.verify(
        &example_key(&dir),
        None,
        eid_mdoc::MdocError::IssuerSignature,
    )
    .unwrap();
    assert_eq!(
        reference_from_cwt_claims(cose.payload.as_deref().unwrap()).unwrap(),
        StatusListReference {
            idx: 0,
            uri: "https://example.com/statuslists/1".into()
        }
    );
}
