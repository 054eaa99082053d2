//! Issue → present → verify: items of every length, three docTypes, in person with a deviceMac.

use eid_core::OsRandom;
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::issue::{ElementValue, IssueRequest, issue};
use eid_mdoc::present::present;
use eid_mdoc::{DeviceResponse, MdocError};
use time::Duration;

use crate::{NOW, NS, check, elements, issued, setup, transcript, verify};

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
