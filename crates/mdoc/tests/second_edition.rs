//! ISO/IEC 18013-5 second edition structures: DeviceEngagement 1.1 (OriginInfos, key 5;
//! Capabilities, key 6) and DeviceRequest 1.1 (`deviceRequestInfo`, `readerAuthAll`), read
//! and written byte for byte, each rule of the readers broken by a test, and isomdl's 1.1
//! request (`testdata/iso18013-5/second-edition`, PROVENANCE.md) read.

#![expect(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use eid_crypto::session::AgreementKey;
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::MdocError;
use eid_mdoc::engagement::{Capabilities, DeviceEngagement, OriginInfo};
use eid_mdoc::request::{DeviceRequest, DeviceRequestInfo, ItemsRequest, ReaderSignature, UseCase};

/// The P-256 generator as an uncompressed point: a fixed key, for fixed bytes.
const G: [u8; 65] = [
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5,
];

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text.split_whitespace().collect::<String>()).unwrap()
}

/// The Security item for [`G`]: `[1, 24(<<{1: 2, -1: 1, -2: x, -3: y}>>)]`.
fn security() -> Vec<u8> {
    let mut key = hex("a4 01 02 20 01 21 58 20");
    key.extend_from_slice(&G[1..33]);
    key.extend_from_slice(&hex("22 58 20"));
    key.extend_from_slice(&G[33..]);
    let mut out = hex("82 01 d8 18 58");
    out.push(u8::try_from(key.len()).unwrap());
    out.extend_from_slice(&key);
    out
}

#[test]
fn a_1_1_engagement_is_written_byte_for_byte_and_read_back() {
    let written = DeviceEngagement::encode_1_1(
        &G,
        None,
        &[OriginInfo::Domain("https://bank.example".into())],
        Capabilities {
            reader_auth_all: true,
            extended_request: true,
            ..Capabilities::default()
        },
    )
    .unwrap();
    // {0: "1.1", 1: Security, 5: [{"cat": 1, "type": 1, "details": {"domain":
    //  "https://bank.example"}}], 6: {3: true, 4: true}}, written out by hand from the CDDL.
    let mut expected = hex("a4 00 63 31 2e 31 01");
    expected.extend_from_slice(&security());
    expected.extend_from_slice(&hex(
        "05 81 a3 63 636174 01 64 74797065 01 67 64657461696c73 a1 66 646f6d61696e
         74 68747470733a2f2f62616e6b2e6578616d706c65
         06 a2 03 f5 04 f5",
    ));
    assert_eq!(written, expected);
    let read = DeviceEngagement::parse(&written).unwrap();
    assert_eq!(read.version, "1.1");
    assert_eq!(read.bytes, written);
    assert_eq!(read.e_device_key.sec1(), &G[..]);
    assert_eq!(
        read.origin_infos,
        [OriginInfo::Domain("https://bank.example".into())]
    );
    assert!(read.capabilities.reader_auth_all && read.capabilities.extended_request);
    assert!(!read.capabilities.handover_session_establishment);

    // Without origin or capabilities, 1.1 still carries key 5, empty.
    let bare = DeviceEngagement::encode_1_1(&G, None, &[], Capabilities::default()).unwrap();
    let mut expected = hex("a3 00 63 31 2e 31 01");
    expected.extend_from_slice(&security());
    expected.extend_from_slice(&hex("05 80"));
    assert_eq!(bare, expected);
}

/// Reads `{0: version, 1: Security, rest…}` with `extra` map entries and `entries` in all.
fn engagement(version: &str, entries: u8, extra: &str) -> Result<DeviceEngagement, MdocError> {
    let mut bytes = vec![
        0xa0 + entries,
        0x00,
        0x60 + u8::try_from(version.len()).unwrap(),
    ];
    bytes.extend_from_slice(version.as_bytes());
    bytes.push(0x01);
    bytes.extend_from_slice(&security());
    bytes.extend_from_slice(&hex(extra));
    DeviceEngagement::parse(&bytes)
}

#[test]
fn the_engagement_reader_reads_what_the_standard_lets_it_and_refuses_the_rest() {
    // An unknown minor version, RFU and negative keys: read, as a first-edition reader must.
    let later = engagement("1.5", 5, "04 f6 18 18 01 39 01 e6 80").unwrap();
    assert_eq!(later.version, "1.5");
    // An OriginInfo of another type, capabilities 0 and 1 (ISO/IEC 18013-7's MAC keys) and
    // an unknown one: kept as Other, and skipped.
    let other = engagement(
        "1.1",
        4,
        "05 81 a3 63 636174 01 64 74797065 00 67 64657461696c73 a0
         06 a4 00 f5 01 81 01 03 f5 18 63 f4",
    )
    .unwrap();
    assert_eq!(other.origin_infos, [OriginInfo::Other { cat: 1, kind: 0 }]);
    assert!(other.capabilities.reader_auth_all);

    for (version, entries, extra, why) in [
        ("2.0", 2, "", "major version"),
        ("one", 2, "", "major.minor"),
        ("+1.1", 2, "", "major.minor"),
        ("1.0", 3, "05 80", "version 1.1"),
        ("1.0", 4, "05 80 06 a1 03 f5", "version 1.1"),
        ("1.1", 3, "06 a1 03 f5", "without OriginInfos"),
        ("1.1", 4, "05 80 06 a1 03 f4", "true when present"),
        ("1.1", 4, "05 80 06 a1 02 f4", "true when present"),
        ("1.1", 4, "05 80 06 a1 04 01", "true or false"),
        (
            "1.1",
            3,
            "05 81 a2 63 636174 01 64 74797065 01",
            "cat, type and details",
        ),
        (
            "1.1",
            3,
            "05 81 a3 63 636174 01 64 74797065 01 67 64657461696c73 a0",
            "its domain",
        ),
        ("1.1", 3, "05 a0", "OriginInfos"),
    ] {
        match engagement(version, entries, extra) {
            Err(MdocError::Malformed(message)) => {
                assert!(message.contains(why), "{version} {extra}: {message}");
            }
            other => panic!("{version} {extra}: {other:?}"),
        }
    }
    // A domain OriginInfo is all that can be written.
    assert!(
        DeviceEngagement::encode_1_1(
            &G,
            None,
            &[OriginInfo::Other { cat: 1, kind: 0 }],
            Capabilities::default()
        )
        .is_err()
    );
}

fn items(doc_type: &str, element: &str) -> ItemsRequest {
    ItemsRequest {
        doc_type: doc_type.into(),
        name_spaces: vec![("org.iso.23220.1".into(), vec![(element.into(), false)])],
        request_info: vec![("purpose".into(), "bank_account".into())],
    }
}

fn use_cases(sets: Vec<Vec<u64>>) -> DeviceRequestInfo {
    DeviceRequestInfo {
        use_cases: vec![UseCase {
            mandatory: true,
            document_sets: sets,
            purpose_hints: vec![("org.iso.18013.5.1".into(), 7)],
        }],
    }
}

#[test]
fn read_every_part_of_isomdls_1_1_request() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/iso18013-5/second-edition/device_request_v11_isomdl.hex"
    );
    let bytes = hex(&std::fs::read_to_string(path).unwrap());
    let request = DeviceRequest::parse(&bytes).unwrap();
    assert_eq!(request.version, "1.1");
    let [doc] = request.doc_requests.as_slice() else {
        panic!("one DocRequest")
    };
    assert_eq!(doc.items_request.doc_type, "org.iso.18013.5.1.mDL");
    assert_eq!(doc.items_request.name_spaces[0].1.len(), 4);
    assert!(doc.reader_auth.is_none());
    let [all] = request.reader_auth_all.as_slice() else {
        panic!("one readerAuthAll")
    };
    assert_eq!(all.headers.x5chain.len(), 1);
    assert_eq!(all.headers.x5chain[0].len(), 0x17d);
    let (raw, info) = request.device_request_info.as_ref().unwrap();
    assert_eq!(
        raw,
        &hex(
            "d8 18 58 27 a1 68 75736543617365 73 81 a2 69 6d616e6461746f7279 f5
              6c 646f63756d656e7453657473 81 81 00"
        )
    );
    assert_eq!(
        info,
        &DeviceRequestInfo {
            use_cases: vec![UseCase {
                mandatory: true,
                document_sets: vec![vec![0]],
                purpose_hints: Vec::new(),
            }]
        }
    );
    // Its DeviceRequestInfo written again is the same bytes.
    assert_eq!(&eid_mdoc::session::tag24(&info.encode()), raw);
}

#[test]
fn reader_auth_all_signs_every_document_and_the_use_cases_for_one_session() {
    let e_device = AgreementKey::generate().unwrap();
    let engagement = DeviceEngagement::encode(e_device.public_point());
    let e_reader = AgreementKey::generate().unwrap();
    let transcript =
        eid_mdoc::session::iso_session_transcript(&engagement, e_reader.public_point(), None);
    let reader = SigningKey::generate().unwrap();
    let asked = [
        items("org.iso.23220.photoid.1", "family_name"),
        items("cn.gov.mps.eid.1", "family_name"),
    ];
    let info = use_cases(vec![vec![0], vec![1]]);
    let bytes = DeviceRequest::encode_1_1(
        &asked,
        Some(&info),
        ReaderSignature::All(&reader, &[]),
        &transcript,
    )
    .unwrap();
    let request = DeviceRequest::parse(&bytes).unwrap();
    assert_eq!(request.version, "1.1");
    assert_eq!(request.reader_auth_all.len(), 1);
    assert!(
        request
            .doc_requests
            .iter()
            .all(|doc| doc.reader_auth.is_none())
    );
    assert_eq!(request.device_request_info.as_ref().unwrap().1, info);
    request
        .verify_reader_auth_all(&transcript, reader.verifying_key())
        .unwrap();

    // Each check broken: another session, another reader, a document dropped, another
    // document, other use cases.
    let other_reader = AgreementKey::generate().unwrap();
    let other_session =
        eid_mdoc::session::iso_session_transcript(&engagement, other_reader.public_point(), None);
    let impostor = SigningKey::generate().unwrap();
    let refused = |request: &DeviceRequest, transcript: &[u8], key: &SigningKey| {
        request
            .verify_reader_auth_all(transcript, key.verifying_key())
            .err()
    };
    assert_eq!(
        refused(&request, &other_session, &reader),
        Some(MdocError::ReaderSignature)
    );
    assert_eq!(
        refused(&request, &transcript, &impostor),
        Some(MdocError::ReaderSignature)
    );
    let mut fewer = request.clone();
    fewer.doc_requests.pop();
    assert_eq!(
        refused(&fewer, &transcript, &reader),
        Some(MdocError::ReaderSignature)
    );
    let swapped = DeviceRequest::parse(
        &DeviceRequest::encode_1_1(
            &[asked[0].clone(), items("cn.gov.mps.eid.1", "portrait")],
            Some(&info),
            ReaderSignature::None,
            &transcript,
        )
        .unwrap(),
    )
    .unwrap();
    let mut other_document = request.clone();
    other_document.doc_requests = swapped.doc_requests;
    assert_eq!(
        refused(&other_document, &transcript, &reader),
        Some(MdocError::ReaderSignature)
    );
    let mut other_info = request.clone();
    let changed = use_cases(vec![vec![1]]);
    other_info.device_request_info = Some((eid_mdoc::session::tag24(&changed.encode()), changed));
    assert_eq!(
        refused(&other_info, &transcript, &reader),
        Some(MdocError::ReaderSignature)
    );
    let mut no_info = request.clone();
    no_info.device_request_info = None;
    assert_eq!(
        refused(&no_info, &transcript, &reader),
        Some(MdocError::ReaderSignature)
    );

    // Unsigned: nothing to check against.
    let unsigned = DeviceRequest::parse(
        &DeviceRequest::encode_1_1(&asked, None, ReaderSignature::None, &transcript).unwrap(),
    )
    .unwrap();
    assert_eq!(
        refused(&unsigned, &transcript, &reader),
        Some(MdocError::MissingReaderAuth)
    );
    // Per document, in a 1.1 request: each readerAuth as in the first edition.
    let per_document = DeviceRequest::parse(
        &DeviceRequest::encode_1_1(
            &asked,
            None,
            ReaderSignature::PerDocument(&reader, &[]),
            &transcript,
        )
        .unwrap(),
    )
    .unwrap();
    for doc in &per_document.doc_requests {
        doc.verify_reader_auth(&transcript, reader.verifying_key())
            .unwrap();
    }
}

#[test]
fn the_request_reader_refuses_what_the_second_edition_does_not_allow() {
    let transcript = [0xf6];
    let asked = [items("cn.gov.mps.eid.1", "family_name")];
    // A use case naming a document that is not asked for is refused when written…
    assert!(
        DeviceRequest::encode_1_1(
            &asked,
            Some(&use_cases(vec![vec![0, 1]])),
            ReaderSignature::None,
            &transcript
        )
        .is_err()
    );
    // …and when read.
    let good = DeviceRequest::encode_1_1(
        &asked,
        Some(&use_cases(vec![vec![0]])),
        ReaderSignature::None,
        &transcript,
    )
    .unwrap();
    let info = eid_mdoc::session::tag24(&use_cases(vec![vec![0]]).encode());
    let bad_info = eid_mdoc::session::tag24(&use_cases(vec![vec![3]]).encode());
    let swap = |from: &[u8], to: &[u8], bytes: &[u8]| {
        let at = bytes
            .windows(from.len())
            .position(|window| window == from)
            .unwrap();
        [&bytes[..at], to, &bytes[at + from.len()..]].concat()
    };
    let naming_another = swap(&info, &bad_info, &good);
    assert!(matches!(
        DeviceRequest::parse(&naming_another),
        Err(MdocError::Malformed(m)) if m.contains("not in docRequests")
    ));
    // A 1.0 request is read as the first edition reads it: the new keys are not looked at.
    let as_1_0 = swap(b"\x631.1", b"\x631.0", &naming_another);
    let read = DeviceRequest::parse(&as_1_0).unwrap();
    assert_eq!(read.device_request_info, None);
    // Another major version, an empty use case list or document set, an empty readerAuthAll.
    assert!(matches!(
        DeviceRequest::parse(&swap(b"\x631.1", b"\x632.0", &good)),
        Err(MdocError::Malformed(m)) if m.contains("major version")
    ));
    let empty_sets = DeviceRequestInfo {
        use_cases: vec![UseCase {
            mandatory: false,
            document_sets: vec![vec![]],
            purpose_hints: Vec::new(),
        }],
    };
    assert!(matches!(
        DeviceRequestInfo::parse(&empty_sets.encode()),
        Err(MdocError::Malformed(m)) if m.contains("DocumentSet is empty")
    ));
    assert!(matches!(
        DeviceRequestInfo::parse(&hex("a1 68 75736543617365 73 80")),
        Err(MdocError::Malformed(m)) if m.contains("useCases is empty")
    ));
    assert!(matches!(
        DeviceRequestInfo::parse(&hex("a1 68 75736543617365 73 81 a1 69 6d616e6461746f7279 f5")),
        Err(MdocError::Malformed(m)) if m.contains("without documentSets")
    ));
    let reader = SigningKey::generate().unwrap();
    let signed = DeviceRequest::encode_1_1(
        &asked,
        None,
        ReaderSignature::All(&reader, &[]),
        &transcript,
    )
    .unwrap();
    let at = signed
        .windows(14)
        .position(|window| window == b"\x6dreaderAuthAll")
        .unwrap();
    let emptied = [&signed[..at + 14], &[0x80][..]].concat();
    assert!(matches!(
        DeviceRequest::parse(&emptied),
        Err(MdocError::Malformed(m)) if m.contains("readerAuthAll is empty")
    ));
    // Unknown DeviceRequestInfo keys are skipped.
    assert_eq!(
        DeviceRequestInfo::parse(&hex("a1 63 666f6f 01")).unwrap(),
        DeviceRequestInfo::default()
    );
}
