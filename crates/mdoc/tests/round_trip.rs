//! eid-issued mdocs: issue → present → verify for three docTypes, and one test per reader
//! check that changes exactly one thing and asserts the precise error.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_core::OsRandom;
use eid_crypto::x509::{AuthorityPki, TrustedIaca};
use eid_crypto::{CryptoError, Signer, SigningKey};
use eid_mdoc::cose::{CoseSign1, Headers, to_be_signed};
use eid_mdoc::issue::{ElementValue, IssueRequest, issue};
use eid_mdoc::model::StatusReference;
use eid_mdoc::present::present;
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
    let pki = AuthorityPki::generate(
        "南宁市公安局",
        "CN",
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
        &OsRandom,
    )
    .unwrap();
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

/// Items are written with a one-byte length that is widened in place: items of every
/// head size (under 256 bytes, under 64 KiB, over) verify and keep their values.
#[test]
fn items_of_every_length_verify() {
    let s = setup();
    let sizes = [7usize, 300, 70_000];
    let name_spaces = vec![(
        NS.to_owned(),
        sizes
            .iter()
            .map(|n| (format!("blob_{n}"), ElementValue::Bytes(vec![0xAB; *n])))
            .collect::<Vec<_>>(),
    )];
    let credential = issue(
        &IssueRequest {
            doc_type: NS,
            name_spaces: &name_spaces,
            device_key: s.device.verifying_key(),
            valid_from: NOW - Duration::days(1),
            valid_until: NOW + Duration::days(1),
            status: None,
            x5chain: std::slice::from_ref(&s.ds_der),
        },
        &s.ds_key,
        &OsRandom,
    )
    .unwrap();
    let st = transcript("n");
    let names: Vec<String> = sizes.iter().map(|n| format!("blob_{n}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let response = present(&credential, &names, &s.device, &st).unwrap();
    let v = verify(&response, &check(&s, NOW), &st).unwrap();
    assert_eq!(v.issuer.elements.len(), 3);
    for (_, id, value) in &v.issuer.elements {
        let n: usize = id["blob_".len()..].parse().unwrap();
        let mut expected = Vec::new();
        minicbor::Encoder::new(&mut expected)
            .bytes(&vec![0xAB; n])
            .unwrap();
        assert_eq!(value, &expected, "{id}");
    }
}

#[test]
fn issue_present_verify_for_three_doc_types() {
    let s = setup();
    for doc_type in [
        eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
        eid_mdoc::DOCTYPE_MDL,
        eid_mdoc::DOCTYPE_EU_PID,
    ] {
        let credential = issued(&s, doc_type, NOW + Duration::days(30));
        let st = transcript("n1");
        let response = present(
            &credential,
            &["age_over_18", "resident_region"],
            &s.device,
            &st,
        )
        .unwrap();
        let v = verify(&response, &check(&s, NOW), &st).unwrap();
        let ids: Vec<&str> = v
            .issuer
            .elements
            .iter()
            .map(|(_, id, _)| id.as_str())
            .collect();
        assert_eq!(ids, ["age_over_18", "resident_region"], "{doc_type}");
        assert_eq!(v.issuer.mso.doc_type, doc_type);
        assert_eq!(v.issuer.mso.status.as_ref().map(|s| s.idx), Some(9));
        assert_eq!(
            v.issuer.issuer_certificate.as_deref(),
            Some("南宁市公安局 DS")
        );
        // Salts are at least 16 bytes; the MSO digests all six elements.
        let credential = eid_mdoc::IssuerSigned::from_cbor(&credential).unwrap();
        assert!(
            credential.name_spaces[0]
                .1
                .iter()
                .all(|i| i.random.len() >= 16)
        );
        assert_eq!(v.issuer.mso.value_digests[NS].len(), 6);
    }
    assert_eq!(
        present(
            &issued(&s, NS, NOW + Duration::days(1)),
            &["passport"],
            &s.device,
            &transcript("n")
        )
        .err(),
        Some(MdocError::NotDisclosable("passport".into()))
    );
}

#[test]
fn breaking_each_reader_check() {
    let s = setup();
    let credential = issued(
        &s,
        eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
        NOW + Duration::days(30),
    );
    let st = transcript("n1");
    let response = present(&credential, &["given_name", "age_over_18"], &s.device, &st).unwrap();
    verify(&response, &check(&s, NOW), &st).unwrap();

    // One byte of a disclosed element: "Xiuying" becomes "Xiuyinh".
    let at = response.windows(7).position(|w| w == b"Xiuying").unwrap();
    let mut altered = response.clone();
    altered[at + 6] = b'h';
    assert_eq!(
        verify(&altered, &check(&s, NOW), &st).err(),
        Some(MdocError::DigestMismatch {
            namespace: NS.into(),
            element: "given_name".into()
        })
    );

    // Validity: the MSO expired while the DS certificate is still valid; not yet valid.
    assert_eq!(
        verify(&response, &check(&s, NOW + Duration::days(31)), &st).err(),
        Some(MdocError::Expired)
    );
    assert_eq!(
        verify(&response, &check(&s, NOW - Duration::days(2)), &st).err(),
        Some(MdocError::NotYetValid)
    );

    // Another session transcript (a replay, or another nonce).
    assert_eq!(
        verify(&response, &check(&s, NOW), &transcript("n2")).err(),
        Some(MdocError::DeviceSignature)
    );

    // Presented by a device that does not hold the bound key.
    let thief = SigningKey::generate().unwrap();
    let stolen = present(&credential, &["age_over_18"], &thief, &st).unwrap();
    assert_eq!(
        verify(&stolen, &check(&s, NOW), &st).err(),
        Some(MdocError::DeviceSignature)
    );

    // Another docType than the verifier asked for.
    let mut wants_mdl = check(&s, NOW);
    wants_mdl.expected_doc_type = Some(eid_mdoc::DOCTYPE_MDL);
    assert_eq!(
        verify(&response, &wants_mdl, &st).err(),
        Some(MdocError::DocTypeMismatch)
    );

    // An issuer the verifier does not trust.
    let other = setup();
    assert!(matches!(
        verify(&response, &check(&other, NOW), &st).err(),
        Some(MdocError::IssuerCertificate(_))
    ));

    // A signature by another key under the same certificate.
    let forged_credential = {
        let name_spaces = elements();
        issue(
            &IssueRequest {
                doc_type: eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
                name_spaces: &name_spaces,
                device_key: s.device.verifying_key(),
                valid_from: NOW - Duration::days(1),
                valid_until: NOW + Duration::days(30),
                status: None,
                x5chain: std::slice::from_ref(&s.ds_der),
            },
            &other.ds_key,
            &OsRandom,
        )
        .unwrap()
    };
    let forged = present(&forged_credential, &["age_over_18"], &s.device, &st).unwrap();
    assert_eq!(
        verify(&forged, &check(&s, NOW), &st).err(),
        Some(MdocError::IssuerSignature)
    );

    // Trailing bytes after the response.
    let mut trailing = response.clone();
    trailing.push(0xf6);
    assert_eq!(
        verify(&trailing, &check(&s, NOW), &st).err(),
        Some(MdocError::TrailingData)
    );
}

#[test]
fn engagement_request_and_mac_round_trip() {
    use eid_crypto::session::AgreementKey;
    use eid_mdoc::engagement::DeviceEngagement;
    use eid_mdoc::request::{DeviceRequest, ItemsRequest};
    use eid_mdoc::session::{MacCheck, device_mac, iso_session_transcript, verify_device_auth};

    let s = setup();
    // The phone shows its engagement; the desk reads it and answers with its own key.
    let e_device = AgreementKey::generate().unwrap();
    let engagement = DeviceEngagement::encode(e_device.public_point());
    let qr = DeviceEngagement::qr_uri(&engagement);
    let read = DeviceEngagement::from_qr_uri(&qr).unwrap();
    assert_eq!(read.e_device_key.sec1(), e_device.public_point());
    let e_reader = AgreementKey::generate().unwrap();
    let transcript = iso_session_transcript(&read.bytes, e_reader.public_point(), None);

    // The desk's signed request; the phone checks the reader's signature.
    let reader_key = SigningKey::generate().unwrap();
    let items = ItemsRequest {
        doc_type: eid_mdoc::DOCTYPE_RESIDENT_IDENTITY.into(),
        name_spaces: vec![(
            NS.into(),
            vec![("age_over_18".into(), false), ("given_name".into(), false)],
        )],
        request_info: vec![("purpose".into(), "age_check".into())],
    };
    let request = DeviceRequest::encode(
        std::slice::from_ref(&items),
        Some((&reader_key, &[])),
        &transcript,
    )
    .unwrap();
    let parsed = DeviceRequest::parse(&request).unwrap();
    assert_eq!(parsed.doc_requests[0].items_request, items);
    assert_eq!(
        parsed.doc_requests[0].items_request.info("purpose"),
        Some("age_check")
    );
    parsed.doc_requests[0]
        .verify_reader_auth(&transcript, reader_key.verifying_key())
        .unwrap();
    let impostor = SigningKey::generate().unwrap();
    assert_eq!(
        parsed.doc_requests[0]
            .verify_reader_auth(&transcript, impostor.verifying_key())
            .err(),
        Some(MdocError::ReaderSignature)
    );
    let unsigned =
        DeviceRequest::parse(&DeviceRequest::encode(&[items], None, &transcript).unwrap()).unwrap();
    assert_eq!(
        unsigned.doc_requests[0]
            .verify_reader_auth(&transcript, reader_key.verifying_key())
            .err(),
        Some(MdocError::MissingReaderAuth)
    );

    // MAC device authentication: the device key's ECDH half with EReaderKey.
    let device = AgreementKey::generate().unwrap();
    let device_vk =
        eid_crypto::VerifyingKey::from_sec1(eid_crypto::Algorithm::Es256, device.public_point())
            .unwrap();
    let name_spaces = elements();
    let credential = issue(
        &IssueRequest {
            doc_type: eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
            name_spaces: &name_spaces,
            device_key: &device_vk,
            valid_from: NOW - Duration::days(1),
            valid_until: NOW + Duration::days(30),
            status: None,
            x5chain: std::slice::from_ref(&s.ds_der),
        },
        &s.ds_key,
        &OsRandom,
    )
    .unwrap();
    // A signed response, then its deviceSignature replaced by a deviceMac.
    let signed = present(&credential, &["age_over_18"], &s.device, &transcript).unwrap();
    let mut doc = DeviceResponse::from_cbor(&signed)
        .unwrap()
        .documents
        .remove(0);
    let mac = device_mac(
        &device,
        e_reader.public_point(),
        &transcript,
        &doc.doc_type,
        &doc.device_signed.name_spaces_bytes,
    )
    .unwrap();
    doc.device_signed.device_auth = eid_mdoc::model::DeviceAuth::Mac(mac);
    verify_device_auth(
        &doc,
        &device_vk,
        &transcript,
        Some(&MacCheck {
            reader_key: &e_reader,
        }),
    )
    .unwrap();
    let other_reader = AgreementKey::generate().unwrap();
    assert_eq!(
        verify_device_auth(
            &doc,
            &device_vk,
            &transcript,
            Some(&MacCheck {
                reader_key: &other_reader
            })
        )
        .err(),
        Some(MdocError::DeviceMac)
    );
}

struct FixedStatus(Result<eid_core::status::CredentialStatus, String>);

impl eid_core::status::StatusCheck for FixedStatus {
    fn status(
        &self,
        reference: &StatusReference,
    ) -> Result<eid_core::status::CredentialStatus, String> {
        assert_eq!(reference.idx, 9);
        self.0.clone()
    }
}

#[test]
fn status_hook() {
    use eid_core::status::CredentialStatus;
    let s = setup();
    let credential = issued(
        &s,
        eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
        NOW + Duration::days(30),
    );
    let st = transcript("n1");
    let response = present(&credential, &["age_over_18"], &s.device, &st).unwrap();
    let with = |source: &FixedStatus| {
        let mut c = check(&s, NOW);
        c.status = Some(source);
        verify(&response, &c, &st)
    };
    assert!(
        with(&FixedStatus(Ok(CredentialStatus::Valid)))
            .unwrap()
            .issuer
            .status_checked
    );
    assert!(
        !verify(&response, &check(&s, NOW), &st)
            .unwrap()
            .issuer
            .status_checked
    );
    assert_eq!(
        with(&FixedStatus(Ok(CredentialStatus::Suspended))).err(),
        Some(MdocError::Status("SUSPENDED"))
    );
    assert_eq!(
        with(&FixedStatus(Ok(CredentialStatus::Invalid))).err(),
        Some(MdocError::Status("INVALID (revoked)"))
    );
    assert_eq!(
        with(&FixedStatus(Err("list unreachable".into()))).err(),
        Some(MdocError::StatusUnavailable("list unreachable".into()))
    );
}

#[test]
fn validity_info_must_be_ordered() {
    let s = setup();
    let name_spaces = elements();
    // validUntil before validFrom: refused whatever the time.
    let credential = issue(
        &IssueRequest {
            doc_type: eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
            name_spaces: &name_spaces,
            device_key: s.device.verifying_key(),
            valid_from: NOW,
            valid_until: NOW - Duration::days(1),
            status: None,
            x5chain: std::slice::from_ref(&s.ds_der),
        },
        &s.ds_key,
        &OsRandom,
    )
    .unwrap();
    let st = transcript("n1");
    let response = present(&credential, &["age_over_18"], &s.device, &st).unwrap();
    assert_eq!(
        verify(&response, &check(&s, NOW), &st).err(),
        Some(MdocError::MalformedValidity)
    );
    // Element values stay out of Debug output.
    let parsed = eid_mdoc::IssuerSigned::from_cbor(&credential).unwrap();
    let text = format!("{parsed:?} {:?}", elements());
    assert!(
        !text.contains("Xiuying") && !text.contains("450102"),
        "{text}"
    );
}

/// `bytes` with the one occurrence of `from` replaced by `to`, of the same length (so that
/// every CBOR length around it still holds).
fn replaced(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    assert!(
        bytes[at + 1..].windows(from.len()).all(|w| w != from),
        "{from:02x?} occurs more than once"
    );
    [&bytes[..at], to, &bytes[at + from.len()..]].concat()
}

/// A COSE_Sign1 whose protected header is `{1: alg}` (or empty for `None`), signed by
/// `signer` over `payload` whatever `alg` says, read back from its bytes.
fn sign1_with_alg(
    signer: &dyn Signer,
    alg: Option<i64>,
    payload: &[u8],
    x5chain: &[Vec<u8>],
    detached: bool,
) -> CoseSign1 {
    let mut protected = Vec::new();
    if let Some(alg) = alg {
        minicbor::Encoder::new(&mut protected)
            .map(1)
            .unwrap()
            .i64(1)
            .unwrap()
            .i64(alg)
            .unwrap();
    }
    let signature = signer
        .sign(&to_be_signed("Signature1", &protected, payload))
        .unwrap();
    let built = CoseSign1 {
        protected,
        headers: Headers {
            x5chain: x5chain.to_vec(),
            ..Headers::default()
        },
        payload: (!detached).then(|| payload.to_vec()),
        signature,
    };
    let mut bytes = Vec::new();
    built
        .encode(&mut minicbor::Encoder::new(&mut bytes))
        .unwrap();
    CoseSign1::decode(&mut minicbor::Decoder::new(&bytes)).unwrap()
}

/// The credential (IssuerSigned CBOR) with its issuerAuth replaced by `auth`.
fn with_issuer_auth(credential: &[u8], auth: &CoseSign1) -> Vec<u8> {
    let old = eid_mdoc::IssuerSigned::from_cbor(credential)
        .unwrap()
        .issuer_auth_bytes;
    let mut new = Vec::new();
    auth.encode(&mut minicbor::Encoder::new(&mut new)).unwrap();
    let at = credential
        .windows(old.len())
        .position(|w| w == old)
        .unwrap();
    [&credential[..at], &new, &credential[at + old.len()..]].concat()
}

/// The credential with its MobileSecurityObjectBytes changed by `edit` (keeping lengths)
/// and signed again by the document signer, as the issuer would have.
fn with_mso(s: &Setup, credential: &[u8], edit: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let parsed = eid_mdoc::IssuerSigned::from_cbor(credential).unwrap();
    let payload = edit(parsed.issuer_auth.payload.as_deref().unwrap());
    let auth = sign1_with_alg(
        &s.ds_key,
        Some(-7),
        &payload,
        std::slice::from_ref(&s.ds_der),
        false,
    );
    with_issuer_auth(credential, &auth)
}

/// Presents `age_over_18` of `credential` and verifies the response at NOW.
fn present_and_verify(s: &Setup, credential: &[u8]) -> Result<VerifiedDocument, MdocError> {
    let st = transcript("n1");
    let response = present(credential, &["age_over_18"], &s.device, &st).unwrap();
    verify(&response, &check(s, NOW), &st)
}

#[test]
fn re_signing_the_mso_unchanged_verifies() {
    // The control for the tests below: the helpers alone break nothing.
    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    present_and_verify(&s, &with_mso(&s, &credential, <[u8]>::to_vec)).unwrap();
}

#[test]
fn check_issuer_auth_without_x5chain_is_missing_certificate() {
    let s = setup();
    let name_spaces = elements();
    let credential = issue(
        &IssueRequest {
            doc_type: NS,
            name_spaces: &name_spaces,
            device_key: s.device.verifying_key(),
            valid_from: NOW - Duration::days(1),
            valid_until: NOW + Duration::days(30),
            status: None,
            x5chain: &[],
        },
        &s.ds_key,
        &OsRandom,
    )
    .unwrap();
    assert_eq!(
        present_and_verify(&s, &credential).err(),
        Some(MdocError::MissingCertificate)
    );
}

#[test]
fn check_issuer_auth_without_payload_is_refused() {
    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    let parsed = eid_mdoc::IssuerSigned::from_cbor(&credential).unwrap();
    // The same signature over the same MSO, the payload detached.
    let detached = sign1_with_alg(
        &s.ds_key,
        Some(-7),
        parsed.issuer_auth.payload.as_deref().unwrap(),
        std::slice::from_ref(&s.ds_der),
        true,
    );
    let credential =
        eid_mdoc::IssuerSigned::from_cbor(&with_issuer_auth(&credential, &detached)).unwrap();
    assert_eq!(
        eid_mdoc::verify_issuer_data(NS, &credential, &check(&s, NOW)).err(),
        Some(MdocError::Malformed("issuerAuth without payload"))
    );
}

/// issuerAuth's `alg` is checked where the issuer signature is verified: a header naming
/// another algorithm, or none, over a signature that is otherwise good.
#[test]
fn check_issuer_auth_alg_where_the_issuer_signature_is_verified() {
    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    let payload = eid_mdoc::IssuerSigned::from_cbor(&credential)
        .unwrap()
        .issuer_auth
        .payload
        .unwrap();
    let with_alg = |alg| {
        let auth = sign1_with_alg(
            &s.ds_key,
            alg,
            &payload,
            std::slice::from_ref(&s.ds_der),
            false,
        );
        present_and_verify(&s, &with_issuer_auth(&credential, &auth))
    };
    with_alg(Some(-7)).unwrap();
    assert_eq!(
        with_alg(Some(-35)).err(),
        Some(MdocError::Algorithm(CryptoError::UnsupportedAlgorithm(
            "-35".into()
        )))
    );
    assert_eq!(with_alg(None).err(), Some(MdocError::MissingAlgorithm));
}

#[test]
fn check_digest_algorithm_other_than_sha_256_is_refused() {
    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    let sha512 = with_mso(&s, &credential, |mso| replaced(mso, b"SHA-256", b"SHA-512"));
    assert_eq!(
        present_and_verify(&s, &sha512).err(),
        Some(MdocError::UnsupportedDigestAlgorithm("SHA-512".into()))
    );
}

#[test]
fn check_an_element_without_a_digest_in_the_mso_is_refused() {
    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    let st = transcript("n1");
    let response = present(&credential, &["age_over_18"], &s.device, &st).unwrap();
    let missing = MdocError::MissingDigest {
        namespace: NS.into(),
        element: "age_over_18".into(),
    };
    // The item's digestID (0..5, one byte) becomes 23, which the MSO does not have.
    let at = response
        .windows(9)
        .position(|w| w == b"\x68digestID")
        .unwrap()
        + 9;
    assert!(response[at] < 6);
    let mut other_id = response.clone();
    other_id[at] = 23;
    assert_eq!(verify(&other_id, &check(&s, NOW), &st).err(), Some(missing));
    // The item under a namespace the MSO has no digests for.
    let other_namespace = replaced(
        &response,
        b"\x6anameSpaces\xa1\x71cn.eid.resident.1",
        b"\x6anameSpaces\xa1\x71cn.eid.resident.9",
    );
    assert_eq!(
        verify(&other_namespace, &check(&s, NOW), &st).err(),
        Some(MdocError::MissingDigest {
            namespace: "cn.eid.resident.9".into(),
            element: "age_over_18".into(),
        })
    );
}

#[test]
fn check_the_documents_doc_type_is_the_msos() {
    let s = setup();
    let credential = issued(&s, eid_mdoc::DOCTYPE_MDL, NOW + Duration::days(30));
    let st = transcript("n1");
    let response = present(&credential, &["age_over_18"], &s.device, &st).unwrap();
    verify(&response, &check(&s, NOW), &st).unwrap();
    // The Document names another docType (of the same length); the MSO signs the mDL's.
    let relabelled = replaced(
        &response,
        b"\x67docType\x75org.iso.18013.5.1.mDL\x6cissuerSigned",
        b"\x67docType\x75org.iso.18013.5.2.mDL\x6cissuerSigned",
    );
    assert_eq!(
        verify(&relabelled, &check(&s, NOW), &st).err(),
        Some(MdocError::DocTypeMismatch)
    );
}

#[test]
fn check_signed_after_valid_from_is_malformed_validity() {
    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    // signed = validFrom = 2026-11-22T12:00:00Z; signed one second later.
    let late = with_mso(&s, &credential, |mso| {
        replaced(
            mso,
            b"\x66signed\xc0\x742026-11-22T12:00:00Z",
            b"\x66signed\xc0\x742026-11-22T12:00:01Z",
        )
    });
    assert_eq!(
        present_and_verify(&s, &late).err(),
        Some(MdocError::MalformedValidity)
    );
}

#[test]
fn check_a_malformed_device_key_is_refused() {
    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    // The COSE_Key's crv 1 (P-256) becomes 2 (P-384).
    let p384 = with_mso(&s, &credential, |mso| {
        replaced(
            mso,
            b"\x69deviceKey\xa4\x01\x02\x20\x01",
            b"\x69deviceKey\xa4\x01\x02\x20\x02",
        )
    });
    assert_eq!(
        present_and_verify(&s, &p384).err(),
        Some(MdocError::MalformedDeviceKey)
    );
}

/// The device authentication's algorithm (session.rs): a deviceSignature naming another
/// algorithm or none, a deviceMac naming another MAC or none — each otherwise valid.
#[test]
fn check_device_authentication_algorithm() {
    use eid_crypto::session::{AgreementKey, hkdf_sha256, hmac_sha256};
    use eid_mdoc::cose::CoseMac0;
    use eid_mdoc::model::DeviceAuth;
    use eid_mdoc::session::{MacCheck, device_authentication_bytes, tag24, verify_device_auth};

    let s = setup();
    let credential = issued(&s, NS, NOW + Duration::days(30));
    let st = transcript("n1");
    let response = present(&credential, &["age_over_18"], &s.device, &st).unwrap();
    let document = DeviceResponse::from_cbor(&response)
        .unwrap()
        .documents
        .remove(0);
    let payload = device_authentication_bytes(
        &st,
        &document.doc_type,
        &document.device_signed.name_spaces_bytes,
    );

    let signed_with = |alg| {
        let mut doc = document.clone();
        doc.device_signed.device_auth =
            DeviceAuth::Signature(sign1_with_alg(&s.device, alg, &payload, &[], true));
        verify_document(&doc, &check(&s, NOW), &st, None)
    };
    signed_with(Some(-7)).unwrap();
    assert_eq!(
        signed_with(Some(-35)).err(),
        Some(MdocError::DeviceAlgorithm(
            CryptoError::UnsupportedAlgorithm("-35".into()).to_string()
        ))
    );
    assert_eq!(
        signed_with(None).err(),
        Some(MdocError::DeviceAlgorithm("none named".into()))
    );

    // deviceMac: the device key's ECDH half with the reader's ephemeral key (§9.1.3.5).
    let device = AgreementKey::generate().unwrap();
    let device_vk =
        eid_crypto::VerifyingKey::from_sec1(eid_crypto::Algorithm::Es256, device.public_point())
            .unwrap();
    let reader = AgreementKey::generate().unwrap();
    let emac_key = hkdf_sha256(
        &device.agree(reader.public_point()).unwrap()[..],
        &eid_crypto::sha256(&tag24(&st)),
        b"EMacKey",
    )
    .unwrap();
    let maced_with = |alg: Option<i64>| {
        let mut protected = Vec::new();
        if let Some(alg) = alg {
            minicbor::Encoder::new(&mut protected)
                .map(1)
                .unwrap()
                .i64(1)
                .unwrap()
                .i64(alg)
                .unwrap();
        }
        let mut mac0 = CoseMac0 {
            protected,
            headers: Headers {
                alg,
                ..Headers::default()
            },
            payload: None,
            tag: Vec::new(),
        };
        mac0.tag = hmac_sha256(&emac_key[..], &mac0.to_be_maced(&payload)).to_vec();
        let mut doc = document.clone();
        doc.device_signed.device_auth = DeviceAuth::Mac(mac0);
        verify_device_auth(
            &doc,
            &device_vk,
            &st,
            Some(&MacCheck {
                reader_key: &reader,
            }),
        )
    };
    maced_with(Some(5)).unwrap();
    assert_eq!(
        maced_with(Some(6)).err(),
        Some(MdocError::DeviceAlgorithm(
            "COSE 6 is not HMAC 256/256".into()
        ))
    );
    assert_eq!(
        maced_with(None).err(),
        Some(MdocError::DeviceAlgorithm("none named".into()))
    );
}
