//! eid-issued mdocs: issue → present → verify for three docTypes, and one test per reader
//! check that changes exactly one thing and asserts the precise error.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

mod flows;
mod re_signed;
mod reader_checks;

use eid_core::OsRandom;
use eid_crypto::x509::{AuthorityPki, TrustedIaca};
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::issue::{ElementValue, IssueRequest, issue};
use eid_mdoc::model::StatusReference;
use eid_mdoc::verify::{VerifiedDocument, verify_document};
use eid_mdoc::{DeviceResponse, IssuerDataCheck, IssuerTrust, MdocError};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
const NS: &str = "cn.eid.resident.1";

struct Setup {
    ds_key: SigningKey,
    ds_der: Vec<u8>,
    roots: Vec<TrustedIaca>,
    device: SigningKey,
}

fn setup() -> Setup {
    let pki = eid_testing::authority(
        "南宁市公安局",
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
    );
    let AuthorityPki { ds_key, ds, .. } = pki;
    Setup {
        roots: vec![TrustedIaca::new(&pki.iaca.0, NOW).unwrap()],
        ds_key,
        ds_der: ds.0,
        device: SigningKey::generate().unwrap(),
    }
}

fn elements() -> Vec<(String, Vec<(String, ElementValue)>)> {
    vec![(
        NS.to_owned(),
        vec![
            ("family_name".into(), ElementValue::Text("Wang".into())),
            ("given_name".into(), ElementValue::Text("Xiuying".into())),
            (
                "birth_date".into(),
                ElementValue::FullDate(date!(1990 - 03 - 07)),
            ),
            ("age_over_18".into(), ElementValue::Bool(true)),
            (
                "resident_region".into(),
                ElementValue::Text("450102".into()),
            ),
            (
                "portrait".into(),
                ElementValue::Bytes(vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]),
            ),
        ],
    )]
}

fn issued(s: &Setup, doc_type: &str, valid_until: OffsetDateTime) -> Vec<u8> {
    let name_spaces = elements();
    issue(
        &IssueRequest {
            doc_type,
            name_spaces: &name_spaces,
            device_key: s.device.verifying_key(),
            valid_from: NOW - Duration::days(1),
            valid_until,
            status: Some(StatusReference {
                idx: 9,
                uri: "https://eid.example.cn/status/3".into(),
            }),
            x5chain: std::slice::from_ref(&s.ds_der),
        },
        &s.ds_key,
        &OsRandom,
    )
    .unwrap()
}

/// A SessionTranscript stand-in: any CBOR the two sides share ([null, null, handover]).
fn transcript(nonce: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = minicbor::Encoder::new(&mut out);
    e.array(3)
        .unwrap()
        .null()
        .unwrap()
        .null()
        .unwrap()
        .array(2)
        .unwrap()
        .str("OpenID4VPHandover")
        .unwrap()
        .bytes(nonce.as_bytes())
        .unwrap();
    out
}

fn check(s: &Setup, now: OffsetDateTime) -> IssuerDataCheck<'_> {
    IssuerDataCheck {
        trust: IssuerTrust::Roots(&s.roots),
        now,
        expected_doc_type: None,
        status: None,
    }
}

fn verify(
    response: &[u8],
    check: &IssuerDataCheck<'_>,
    transcript: &[u8],
) -> Result<VerifiedDocument, MdocError> {
    let response = DeviceResponse::from_cbor(response)?;
    verify_document(&response.documents[0], check, transcript, None)
}
