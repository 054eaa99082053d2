//! The offline single QR: a compact credential per purpose, wrapped in a device-signed
//! presentation that a desk accepts for 60 seconds — it fits QR version 15-M for every
//! purpose, and each of the desk's checks has a test that breaks exactly it.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_crypto::{Signer, SigningKey, VerifyingKey};
use eid_mdoc::issue::ElementValue;
use eid_mdoc::model::StatusReference;
use eid_mdoc::offline::{
    CompactCredential, CompactCredentialRequest, FACE_TEMPLATE, OfflineCheck, OfflineError,
    OfflineIssuerKey, PAPER_MAX_VALIDITY, PORTRAIT_DIGEST, PaperCodeRequest, QR_CAPACITY,
    QR_CAPACITY_PAPER, QR_CAPACITY_WITH_FACE, issue_compact, issue_paper, key_id, present_offline,
    verify_offline,
};
use eid_mdoc::{MdocError, model::element_to_json};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

struct Fixture {
    issuer: SigningKey,
    device: SigningKey,
    keys: Vec<OfflineIssuerKey>,
}

fn fixture() -> Fixture {
    let issuer = SigningKey::generate().unwrap();
    let keys = vec![OfflineIssuerKey {
        issuer: "cn-4501".into(),
        kid: key_id(issuer.verifying_key()).unwrap(),
        key: issuer.verifying_key().clone(),
    }];
    Fixture {
        issuer,
        device: SigningKey::generate().unwrap(),
        keys,
    }
}

fn text(s: &str) -> ElementValue {
    ElementValue::Text(s.into())
}

/// Each purpose's catalogue attributes for a resident with long values: a four-character
/// name, the longest kind of address, a 60 KiB portrait.
fn attributes(purpose: &str) -> Vec<(String, ElementValue)> {
    let all = [
        ("family_name", text("欧阳")),
        ("given_name", text("明月")),
        ("sex", ElementValue::Int(2)),
        ("ethnicity", text("维吾尔族")),
        ("birth_date", ElementValue::FullDate(date!(1990 - 03 - 07))),
        (
            "address",
            text("广西壮族自治区南宁市青秀区民族大道一百三十六号五象花园小区十二栋二单元一零一室"),
        ),
        ("document_number", text("45010219900307002X")),
        ("portrait", ElementValue::Bytes(vec![0xab; 60 << 10])),
        ("issuing_authority", text("南宁市公安局青秀分局")),
        ("issue_date", ElementValue::FullDate(date!(2020 - 01 - 01))),
        ("expiry_date", ElementValue::FullDate(date!(2040 - 01 - 01))),
        ("age_over_18", ElementValue::Bool(true)),
        ("age_in_years", ElementValue::Int(36)),
        ("resident_region", text("450103")),
    ];
    let names: &[&str] = match purpose {
        "hotel_check_in" => &[
            "family_name",
            "given_name",
            "sex",
            "ethnicity",
            "birth_date",
            "address",
            "document_number",
            "portrait",
        ],
        "airport_security" => &["family_name", "given_name", "document_number", "portrait"],
        "rail_ticketing" => &["family_name", "given_name", "document_number"],
        "welfare" => &[
            "family_name",
            "given_name",
            "document_number",
            "birth_date",
            "age_in_years",
            "resident_region",
            "address",
        ],
        "age_check" => &["age_over_18"],
        _ => unreachable!("{purpose}"),
    };
    all.into_iter()
        .filter(|(name, _)| names.contains(name))
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

fn status() -> StatusReference {
    StatusReference {
        idx: 131_071,
        uri: "https://nanning.eid.gov.cn/status/17".into(),
    }
}

fn issue(f: &Fixture, purpose: &str, issued_at: OffsetDateTime) -> CompactCredential {
    CompactCredential::from_cbor(&try_issue(f, purpose, issued_at).unwrap()).unwrap()
}

fn try_issue(
    f: &Fixture,
    purpose: &str,
    issued_at: OffsetDateTime,
) -> Result<Vec<u8>, OfflineError> {
    try_issue_with(f, purpose, issued_at, &[])
}

/// [`try_issue`] with `more` attributes after the purpose's.
fn try_issue_with(
    f: &Fixture,
    purpose: &str,
    issued_at: OffsetDateTime,
    more: &[(String, ElementValue)],
) -> Result<Vec<u8>, OfflineError> {
    let mut attributes = attributes(purpose);
    attributes.extend_from_slice(more);
    let status = status();
    issue_compact(
        &CompactCredentialRequest {
            purpose,
            provider: "wechat",
            attributes: &attributes,
            device_key: f.device.verifying_key(),
            issued_at,
            expires_at: issued_at + Duration::days(365),
            status: Some(&status),
        },
        &f.issuer,
        f.issuer.verifying_key(),
    )
}

fn present(f: &Fixture, credential: &CompactCredential, at: OffsetDateTime) -> Vec<u8> {
    present_offline(credential, &f.device, at).unwrap()
}

fn check<'a>(f: &'a Fixture, purpose: &'a str) -> OfflineCheck<'a> {
    OfflineCheck {
        keys: &f.keys,
        purpose,
        now: NOW,
    }
}

/// Replaces one member of the presentation array (`[1, credential, presented_at, auth]`).
fn with_member(presentation: &[u8], index: usize, value: &[u8]) -> Vec<u8> {
    let mut d = minicbor::Decoder::new(presentation);
    d.array().unwrap();
    let mut members = Vec::new();
    for _ in 0..4 {
        let start = d.position();
        d.skip().unwrap();
        members.push(presentation[start..d.position()].to_vec());
    }
    members[index] = value.to_vec();
    [vec![0x84], members.concat()].concat()
}

fn cbor_uint(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    minicbor::Encoder::new(&mut out).u64(n).unwrap();
    out
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    minicbor::Encoder::new(&mut out).bytes(b).unwrap();
    out
}

#[test]
fn airport_presentation_verifies_with_its_attributes_and_the_portrait_digest() {
    let f = fixture();
    let credential = issue(&f, "airport_security", NOW - Duration::days(1));
    let qr = present(&f, &credential, NOW - Duration::seconds(10));
    let verified = verify_offline(&qr, &check(&f, "airport_security")).unwrap();
    assert_eq!(verified.issuer, "cn-4501");
    assert_eq!(verified.claims.purpose, "airport_security");
    assert_eq!(verified.claims.provider.as_deref(), Some("wechat"));
    assert_eq!(verified.claims.status, Some(status()));
    assert_eq!(verified.presented_at, NOW - Duration::seconds(10));
    let names: Vec<_> = verified.claims.attributes.keys().cloned().collect();
    assert_eq!(
        names,
        [
            "document_number",
            "family_name",
            "given_name",
            PORTRAIT_DIGEST
        ]
    );
    let digest = element_to_json(&verified.claims.attributes[PORTRAIT_DIGEST]).unwrap();
    use base64::Engine;
    assert_eq!(
        digest,
        base64::engine::general_purpose::STANDARD.encode(eid_crypto::sha256(&[0xab; 60 << 10]))
    );
    assert_eq!(
        element_to_json(&verified.claims.attributes["family_name"]).unwrap(),
        "欧阳"
    );
}

/// The scanner purposes' presentations, with long values, fit QR version 15 at level M; a
/// purpose with the whole address does not, and the issuer refuses to make one.
#[test]
fn scanner_purposes_fit_qr_version_15_m_and_the_issuer_refuses_what_does_not() {
    let f = fixture();
    for purpose in ["airport_security", "rail_ticketing", "age_check"] {
        let qr = present(&f, &issue(&f, purpose, NOW), NOW);
        eprintln!("{purpose}: {} bytes", qr.len());
        assert!(
            qr.len() <= QR_CAPACITY,
            "{purpose}: {} bytes > {QR_CAPACITY}",
            qr.len()
        );
        qrcode::QrCode::with_version(&qr, qrcode::Version::Normal(15), qrcode::EcLevel::M)
            .unwrap_or_else(|e| panic!("{purpose}: {e:?}"));
        verify_offline(&qr, &check(&f, purpose)).unwrap();
    }
    for purpose in ["hotel_check_in", "welfare"] {
        assert!(
            matches!(
                try_issue(&f, purpose, NOW),
                Err(OfflineError::TooLargeForQr { bytes, version: 15, capacity: QR_CAPACITY }) if bytes > QR_CAPACITY
            ),
            "{purpose}"
        );
    }
}

/// With the holder's face template (129 bytes, `eid_face::Template`) the scanner purposes'
/// presentations fit QR version 20 at level M, and the template reads back as it went in;
/// a template makes no code larger than that.
#[test]
fn with_a_face_template_scanner_purposes_fit_qr_version_20_m() {
    let f = fixture();
    let template: Vec<u8> = (0..129u8).map(|i| i.wrapping_mul(37)).collect();
    let with_template = |purpose: &str, more: &[(String, ElementValue)]| {
        let mut more = more.to_vec();
        more.insert(
            0,
            (FACE_TEMPLATE.into(), ElementValue::Bytes(template.clone())),
        );
        try_issue_with(&f, purpose, NOW, &more)
    };
    for purpose in ["airport_security", "rail_ticketing"] {
        let credential =
            CompactCredential::from_cbor(&with_template(purpose, &[]).unwrap()).unwrap();
        let qr = present(&f, &credential, NOW);
        eprintln!("{purpose} with a face template: {} bytes", qr.len());
        assert!(
            qr.len() > QR_CAPACITY && qr.len() <= QR_CAPACITY_WITH_FACE,
            "{}",
            qr.len()
        );
        qrcode::QrCode::with_version(&qr, qrcode::Version::Normal(20), qrcode::EcLevel::M)
            .unwrap_or_else(|e| panic!("{purpose}: {e:?}"));
        let verified = verify_offline(&qr, &check(&f, purpose)).unwrap();
        assert_eq!(
            element_to_json(&verified.claims.attributes[FACE_TEMPLATE]).unwrap(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &template)
        );
    }
    // Beyond version 20-M: refused, saying so.
    let long = [("notes".to_owned(), ElementValue::Text("长".repeat(100)))];
    assert!(matches!(
        with_template("airport_security", &long),
        Err(OfflineError::TooLargeForQr { bytes, version: 20, capacity: QR_CAPACITY_WITH_FACE })
            if bytes > QR_CAPACITY_WITH_FACE
    ));
}

#[test]
fn another_format_version_is_refused_as_such() {
    let f = fixture();
    let qr = present(&f, &issue(&f, "airport_security", NOW), NOW);
    let v3 = with_member(&qr, 0, &cbor_uint(3));
    assert_eq!(
        verify_offline(&v3, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::UnsupportedVersion(3)
    );
    // Version 2 is a printed code, of two members.
    let v2 = with_member(&qr, 0, &cbor_uint(2));
    assert_eq!(
        verify_offline(&v2, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::Unreadable(MdocError::Malformed("a printed code has 2 members"))
    );
}

#[test]
fn garbage_truncation_and_trailing_bytes_are_unreadable() {
    let f = fixture();
    let qr = present(&f, &issue(&f, "airport_security", NOW), NOW);
    let c = check(&f, "airport_security");
    for bad in [
        b"https://example.com/not-an-eid-code".to_vec(),
        qr[..qr.len() - 1].to_vec(),
        [qr.clone(), vec![0]].concat(),
        Vec::new(),
    ] {
        assert!(
            matches!(verify_offline(&bad, &c), Err(OfflineError::Unreadable(_))),
            "{bad:02x?}"
        );
    }
    assert_eq!(
        verify_offline(&[qr.clone(), vec![0]].concat(), &c).unwrap_err(),
        OfflineError::Unreadable(MdocError::TrailingData)
    );
}

#[test]
fn a_key_the_trust_list_does_not_list_is_refused() {
    let f = fixture();
    let qr = present(&f, &issue(&f, "airport_security", NOW), NOW);
    let other = fixture();
    assert_eq!(
        verify_offline(&qr, &check(&other, "airport_security")).unwrap_err(),
        OfflineError::UnknownIssuerKey
    );
}

#[test]
fn a_forged_issuer_signature_is_refused() {
    let f = fixture();
    let credential = issue(&f, "airport_security", NOW);
    // The last byte of the credential is the last byte of the issuer's signature.
    let mut forged = credential.bytes.clone();
    *forged.last_mut().unwrap() ^= 1;
    let forged = CompactCredential::from_cbor(&forged).unwrap();
    let qr = present(&f, &forged, NOW);
    assert_eq!(
        verify_offline(&qr, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::IssuerSignature
    );
    // Same kid, another key (a listed kid whose key does not verify).
    let mut lying = fixture();
    lying.keys[0].kid = f.keys[0].kid;
    let qr = present(&f, &credential, NOW);
    assert_eq!(
        verify_offline(&qr, &check(&lying, "airport_security")).unwrap_err(),
        OfflineError::IssuerSignature
    );
}

#[test]
fn a_credential_outside_its_validity_is_refused() {
    let f = fixture();
    let future = issue(&f, "airport_security", NOW + Duration::hours(1));
    let qr = present(&f, &future, NOW);
    assert_eq!(
        verify_offline(&qr, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::NotYetValid
    );
    let old = issue(&f, "airport_security", NOW - Duration::days(366));
    let qr = present(&f, &old, NOW);
    assert_eq!(
        verify_offline(&qr, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::Expired
    );
}

#[test]
fn a_credential_for_another_purpose_is_refused() {
    let f = fixture();
    let qr = present(&f, &issue(&f, "rail_ticketing", NOW), NOW);
    assert_eq!(
        verify_offline(&qr, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::PurposeMismatch {
            presented: "rail_ticketing".into(),
            expected: "airport_security".into()
        }
    );
}

/// A screenshot shown 61 s later, or a code dated ahead of the desk's clock.
#[test]
fn a_stale_or_future_presentation_is_refused() {
    let f = fixture();
    let credential = issue(&f, "airport_security", NOW - Duration::days(1));
    let at_limit = present(&f, &credential, NOW - Duration::seconds(60));
    verify_offline(&at_limit, &check(&f, "airport_security")).unwrap();
    let screenshot = present(&f, &credential, NOW - Duration::seconds(61));
    assert_eq!(
        verify_offline(&screenshot, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::TooOld { seconds: 61 }
    );
    let ahead = present(&f, &credential, NOW + Duration::seconds(6));
    assert_eq!(
        verify_offline(&ahead, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::FromTheFuture { seconds: 6 }
    );
}

/// Re-dating a screenshot breaks the device signature; so does another phone's key.
#[test]
fn a_redated_code_or_another_device_fails_the_device_signature() {
    let f = fixture();
    let credential = issue(&f, "airport_security", NOW - Duration::days(1));
    let old = present(&f, &credential, NOW - Duration::seconds(300));
    let redated = with_member(&old, 2, &cbor_uint(NOW.unix_timestamp() as u64));
    assert_eq!(
        verify_offline(&redated, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::DeviceSignature
    );
    // A thief's phone signing for the credential it copied: the wallet refuses to...
    let thief = SigningKey::generate().unwrap();
    assert_eq!(
        present_offline(&credential, &thief, NOW).unwrap_err(),
        OfflineError::NotTheDeviceKey
    );
    // ...and a desk refuses what a hacked wallet makes anyway.
    let forged = present_offline(
        &credential,
        &Lying {
            key: &thief,
            claims: f.device.verifying_key(),
        },
        NOW,
    )
    .unwrap();
    assert_eq!(
        verify_offline(&forged, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::DeviceSignature
    );
    // The device signature covers the credential: moved under another one, it fails.
    let other = issue(&f, "airport_security", NOW - Duration::days(2));
    let swapped = with_member(&present(&f, &credential, NOW), 1, &cbor_bytes(&other.bytes));
    assert_eq!(
        verify_offline(&swapped, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::DeviceSignature
    );
}

/// A hacked wallet's signer: signs with `key`, claims to be `claims`.
struct Lying<'a> {
    key: &'a SigningKey,
    claims: &'a VerifyingKey,
}

impl Signer for Lying<'_> {
    fn algorithm(&self) -> eid_crypto::Algorithm {
        self.key.algorithm()
    }
    fn verifying_key(&self) -> &VerifyingKey {
        self.claims
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, eid_crypto::CryptoError> {
        self.key.sign(message)
    }
}

#[test]
fn claims_debug_shows_names_not_values() {
    let f = fixture();
    let credential = issue(&f, "airport_security", NOW);
    let debug = format!("{:?}", credential.claims);
    assert!(debug.contains("document_number"), "{debug}");
    assert!(!debug.contains("45010219900307002X"), "{debug}");
    assert!(!debug.contains("欧阳"), "{debug}");
    assert!(credential.claims.device_key.is_some());
}

/// The credential signed again by its issuer under the protected header `protected` (CBOR
/// map entries written by `header`), its claims unchanged.
fn resigned(
    f: &Fixture,
    credential: &CompactCredential,
    header: impl FnOnce(&mut minicbor::Encoder<&mut Vec<u8>>),
) -> CompactCredential {
    let mut protected = Vec::new();
    header(&mut minicbor::Encoder::new(&mut protected));
    let payload = credential.signed.payload.as_deref().unwrap();
    CompactCredential::from_cbor(&signed_by_issuer(f, &protected, payload)).unwrap()
}

/// A COSE_Sign1 (untagged) over `payload` under the header `protected`, by the issuer.
fn signed_by_issuer(f: &Fixture, protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let signature = f
        .issuer
        .sign(&eid_mdoc::cose::to_be_signed(
            "Signature1",
            protected,
            payload,
        ))
        .unwrap();
    let mut bytes = Vec::new();
    minicbor::Encoder::new(&mut bytes)
        .array(4)
        .unwrap()
        .bytes(protected)
        .unwrap()
        .map(0)
        .unwrap()
        .bytes(payload)
        .unwrap()
        .bytes(&signature)
        .unwrap();
    bytes
}

#[test]
fn the_issuer_alg_is_checked() {
    let f = fixture();
    let credential = issue(&f, "airport_security", NOW);
    let kid = f.keys[0].kid;
    let with_alg = |alg: Option<i64>| {
        let credential = resigned(&f, &credential, |e| {
            e.map(1 + u64::from(alg.is_some())).unwrap();
            if let Some(alg) = alg {
                e.i64(1).unwrap().i64(alg).unwrap();
            }
            e.i64(4).unwrap().bytes(&kid).unwrap();
        });
        verify_offline(
            &present(&f, &credential, NOW),
            &check(&f, "airport_security"),
        )
    };
    with_alg(Some(-7)).unwrap();
    assert_eq!(
        with_alg(Some(-35)).unwrap_err(),
        OfflineError::Unreadable(MdocError::Algorithm(
            eid_crypto::CryptoError::UnsupportedAlgorithm("-35".into())
        ))
    );
    assert_eq!(
        with_alg(None).unwrap_err(),
        OfflineError::Unreadable(MdocError::MissingAlgorithm)
    );
}

#[test]
fn a_credential_without_kid_is_refused() {
    let f = fixture();
    let credential = issue(&f, "airport_security", NOW);
    let no_kid = resigned(&f, &credential, |e| {
        e.map(1).unwrap().i64(1).unwrap().i64(-7).unwrap();
    });
    assert_eq!(
        verify_offline(&present(&f, &no_kid, NOW), &check(&f, "airport_security")).unwrap_err(),
        OfflineError::Unreadable(MdocError::Malformed("compact credential without kid"))
    );
}

/// An issuer that signed `exp ≤ iat`: the credential is refused as malformed, whatever the
/// time.
#[test]
fn a_credential_expiring_when_or_before_issued_is_refused() {
    let f = fixture();
    let good = present(&f, &issue(&f, "airport_security", NOW), NOW);
    let attributes = attributes("airport_security");
    for expires_at in [NOW, NOW - Duration::seconds(1)] {
        let bytes = issue_compact(
            &CompactCredentialRequest {
                purpose: "airport_security",
                provider: "wechat",
                attributes: &attributes,
                device_key: f.device.verifying_key(),
                issued_at: NOW,
                expires_at,
                status: None,
            },
            &f.issuer,
            f.issuer.verifying_key(),
        )
        .unwrap();
        let qr = with_member(&good, 1, &cbor_bytes(&bytes));
        assert_eq!(
            verify_offline(&qr, &check(&f, "airport_security")).unwrap_err(),
            OfflineError::Unreadable(MdocError::MalformedValidity),
            "{expires_at}"
        );
    }
}

/// A printed code for `purpose`, valid for `validity` from `issued_at`, with a face
/// template where `face`.
fn try_print(
    f: &Fixture,
    purpose: &str,
    issued_at: OffsetDateTime,
    validity: Duration,
    face: bool,
) -> Result<Vec<u8>, OfflineError> {
    let mut attributes = attributes(purpose);
    if face {
        attributes.push((FACE_TEMPLATE.into(), ElementValue::Bytes(vec![0x7f; 129])));
    }
    let status = status();
    issue_paper(
        &PaperCodeRequest {
            purpose,
            attributes: &attributes,
            issued_at,
            expires_at: issued_at + validity,
            status: Some(&status),
        },
        &f.issuer,
        f.issuer.verifying_key(),
    )
}

fn print(f: &Fixture, purpose: &str, issued_at: OffsetDateTime) -> Vec<u8> {
    try_print(f, purpose, issued_at, Duration::hours(24), true).unwrap()
}

/// A printed code around a credential signed by the issuer over `claims` (a CBOR map).
fn printed_with_claims(
    f: &Fixture,
    claims: impl FnOnce(&mut minicbor::Encoder<&mut Vec<u8>>),
) -> Vec<u8> {
    let mut payload = Vec::new();
    claims(&mut minicbor::Encoder::new(&mut payload));
    let mut protected = Vec::new();
    minicbor::Encoder::new(&mut protected)
        .map(2)
        .unwrap()
        .i64(1)
        .unwrap()
        .i64(-7)
        .unwrap()
        .i64(4)
        .unwrap()
        .bytes(&f.keys[0].kid)
        .unwrap();
    printed(&signed_by_issuer(f, &protected, &payload))
}

/// The version-2 envelope around `credential`.
fn printed(credential: &[u8]) -> Vec<u8> {
    [vec![0x82, 0x02], cbor_bytes(credential)].concat()
}

/// The credential inside a printed code.
fn credential_of(code: &[u8]) -> Vec<u8> {
    let mut d = minicbor::Decoder::new(code);
    d.array().unwrap();
    d.u64().unwrap();
    d.bytes().unwrap().to_vec()
}

#[test]
fn a_printed_code_verifies_bound_to_no_device_and_a_hotels_fits_on_paper() {
    let f = fixture();
    for purpose in ["hotel_check_in", "airport_security", "rail_ticketing"] {
        let code = print(&f, purpose, NOW - Duration::hours(1));
        assert!(
            code.len() <= QR_CAPACITY_PAPER,
            "{purpose}: {} bytes",
            code.len()
        );
        let verified = verify_offline(&code, &check(&f, purpose)).unwrap();
        assert!(verified.printed);
        assert_eq!(verified.issuer, "cn-4501");
        assert_eq!(verified.claims.device_key, None);
        assert_eq!(verified.claims.provider, None);
        assert_eq!(verified.claims.status, Some(status()));
        assert_eq!(verified.presented_at, NOW - Duration::hours(1));
        assert!(verified.claims.attributes.contains_key(FACE_TEMPLATE));
        assert!(verified.claims.attributes.contains_key("document_number"));
    }
    // A phone's code is not printed.
    let qr = present(&f, &issue(&f, "airport_security", NOW), NOW);
    assert!(
        !verify_offline(&qr, &check(&f, "airport_security"))
            .unwrap()
            .printed
    );
}

#[test]
fn the_counter_prints_no_code_valid_beyond_72_hours() {
    let f = fixture();
    try_print(&f, "airport_security", NOW, PAPER_MAX_VALIDITY, true).unwrap();
    // Ending when or before it begins: nothing printed.
    for validity in [Duration::ZERO, Duration::seconds(-1)] {
        assert_eq!(
            try_print(&f, "airport_security", NOW, validity, true).unwrap_err(),
            OfflineError::Unreadable(MdocError::MalformedValidity)
        );
    }
    assert_eq!(
        try_print(&f, "airport_security", NOW, Duration::hours(73), true).unwrap_err(),
        OfflineError::PaperValidityTooLong { hours: 73 }
    );
}

#[test]
fn a_desk_refuses_a_printed_code_valid_beyond_72_hours_whoever_signed_it() {
    let f = fixture();
    let issued = NOW.unix_timestamp().unsigned_abs();
    let with_validity = |seconds: u64| {
        let code = printed_with_claims(&f, |e| {
            e.map(4).unwrap();
            e.i64(6).unwrap().u64(issued).unwrap();
            e.i64(4).unwrap().u64(issued + seconds).unwrap();
            e.str("p").unwrap().str("airport_security").unwrap();
            e.str("a")
                .unwrap()
                .map(1)
                .unwrap()
                .u64(7)
                .unwrap()
                .str("x")
                .unwrap();
        });
        verify_offline(&code, &check(&f, "airport_security"))
    };
    let limit = PAPER_MAX_VALIDITY.whole_seconds().unsigned_abs();
    assert!(with_validity(limit).unwrap().printed);
    assert_eq!(
        with_validity(limit + 1).unwrap_err(),
        OfflineError::PaperValidityTooLong { hours: 73 }
    );
    assert_eq!(
        with_validity(365 * 86_400).unwrap_err(),
        OfflineError::PaperValidityTooLong { hours: 365 * 24 }
    );
}

#[test]
fn a_phones_credential_printed_on_paper_is_refused() {
    let f = fixture();
    let phone = try_issue(&f, "airport_security", NOW).unwrap();
    assert_eq!(
        verify_offline(&printed(&phone), &check(&f, "airport_security")).unwrap_err(),
        OfflineError::DeviceBound
    );
}

#[test]
fn a_printed_credential_in_a_phones_code_is_refused() {
    let f = fixture();
    let qr = present(&f, &issue(&f, "airport_security", NOW), NOW);
    let paper = credential_of(&print(&f, "airport_security", NOW));
    let forged = with_member(&qr, 1, &cbor_bytes(&paper));
    assert_eq!(
        verify_offline(&forged, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::NotBoundToADevice
    );
}

#[test]
fn a_printed_code_passes_the_checks_of_a_phones_code() {
    let f = fixture();
    let code = print(&f, "airport_security", NOW - Duration::hours(1));
    // Another purpose.
    assert!(matches!(
        verify_offline(&code, &check(&f, "rail_ticketing")).unwrap_err(),
        OfflineError::PurposeMismatch { .. }
    ));
    // Expired, and not yet valid.
    let mut later = check(&f, "airport_security");
    later.now = NOW + Duration::hours(23);
    assert_eq!(
        verify_offline(&code, &later).unwrap_err(),
        OfflineError::Expired
    );
    later.now = NOW - Duration::hours(2);
    assert_eq!(
        verify_offline(&code, &later).unwrap_err(),
        OfflineError::NotYetValid
    );
    // Read right after printing by a desk whose clock is behind: 5 s of leeway, no more.
    later.now = NOW - Duration::hours(1) - Duration::seconds(5);
    verify_offline(&code, &later).unwrap();
    later.now = NOW - Duration::hours(1) - Duration::seconds(6);
    assert_eq!(
        verify_offline(&code, &later).unwrap_err(),
        OfflineError::NotYetValid
    );
    // A key the trust list does not list, and a signature altered.
    let other = fixture();
    assert_eq!(
        verify_offline(&code, &check(&other, "airport_security")).unwrap_err(),
        OfflineError::UnknownIssuerKey
    );
    let mut forged = credential_of(&code);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        verify_offline(&printed(&forged), &check(&f, "airport_security")).unwrap_err(),
        OfflineError::IssuerSignature
    );
    // Three members, or trailing bytes.
    let three = [vec![0x83], code[1..].to_vec(), cbor_uint(0)].concat();
    assert_eq!(
        verify_offline(&three, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::Unreadable(MdocError::Malformed("a printed code has 2 members"))
    );
    let trailing = [code.clone(), vec![0]].concat();
    assert_eq!(
        verify_offline(&trailing, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::Unreadable(MdocError::TrailingData)
    );
}

#[test]
fn a_credential_with_a_device_key_and_no_provider_is_unreadable() {
    let f = fixture();
    let point = f.device.verifying_key().compressed();
    let issued = NOW.unix_timestamp().unsigned_abs();
    let code = printed_with_claims(&f, |e| {
        e.map(5).unwrap();
        e.i64(6).unwrap().u64(issued).unwrap();
        e.i64(4).unwrap().u64(issued + 3600).unwrap();
        e.i64(8)
            .unwrap()
            .map(1)
            .unwrap()
            .i64(1)
            .unwrap()
            .map(4)
            .unwrap();
        e.i64(1)
            .unwrap()
            .i64(2)
            .unwrap()
            .i64(-1)
            .unwrap()
            .i64(1)
            .unwrap();
        e.i64(-2).unwrap().bytes(&point[1..]).unwrap();
        e.i64(-3).unwrap().bool(point[0] == 3).unwrap();
        e.str("p").unwrap().str("airport_security").unwrap();
        e.str("a").unwrap().map(0).unwrap();
    });
    assert_eq!(
        verify_offline(&code, &check(&f, "airport_security")).unwrap_err(),
        OfflineError::Unreadable(MdocError::Malformed(
            "a compact credential has both cnf and a provider, or neither"
        ))
    );
}
