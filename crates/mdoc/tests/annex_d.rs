//! ISO/IEC 18013-5:2021 Annex D known-answer tests from `testdata/iso18013-5/annex-d`
//! (PROVENANCE.md there), with time pinned to 2021-01-01. The vectors are in the repository. The Annex's IACA is not published, so the document signer is checked against
//! the Annex B profile without its chain (`IssuerTrust::DangerousProfileOnly`).

#![expect(
    clippy::panic,
    reason = "a spec vector missing from the repository fails the test"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::PathBuf;

use eid_mdoc::verify::verify_issuer_data;
use eid_mdoc::{DeviceResponse, IssuerDataCheck, IssuerTrust, MdocError};
use time::OffsetDateTime;
use time::macros::datetime;

const PINNED: OffsetDateTime = datetime!(2021-01-01 0:00 UTC);

fn vector(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/iso18013-5/annex-d")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(hex::decode(text.trim()).unwrap()),
        Err(_) => {
            panic!(
                "{} is missing: the spec vectors are part of the repository (testdata/)",
                path.display()
            );
        }
    }
}

fn check(now: OffsetDateTime) -> IssuerDataCheck<'static> {
    IssuerDataCheck {
        trust: IssuerTrust::DangerousProfileOnly,
        now,
        expected_doc_type: None,
        status: None,
    }
}

fn verify(
    bytes: &[u8],
    check: &IssuerDataCheck<'_>,
) -> Result<eid_mdoc::VerifiedIssuerData, MdocError> {
    let response = DeviceResponse::from_cbor(bytes)?;
    let doc = &response.documents[0];
    verify_issuer_data(&doc.doc_type, &doc.issuer_signed, check)
}

#[test]
fn annex_d_device_response_issuer_data_verifies() {
    let Some(bytes) = vector("device_response.hex") else {
        return;
    };
    let response = DeviceResponse::from_cbor(&bytes).unwrap();
    assert_eq!(
        (
            response.version.as_str(),
            response.status,
            response.documents.len()
        ),
        ("1.0", 0, 1)
    );
    let doc = &response.documents[0];
    assert_eq!(doc.doc_type, "org.iso.18013.5.1.mDL");
    let v = verify_issuer_data(&doc.doc_type, &doc.issuer_signed, &check(PINNED)).unwrap();
    assert_eq!(v.elements.len(), 6);
    let ids: Vec<&str> = v.elements.iter().map(|(_, id, _)| id.as_str()).collect();
    assert!(
        ids.contains(&"family_name") && ids.contains(&"portrait"),
        "{ids:?}"
    );
    assert_eq!(
        v.mso.validity.valid_from,
        datetime!(2020-10-01 13:30:02 UTC)
    );
    assert_eq!(
        v.mso.validity.valid_until,
        datetime!(2021-10-01 13:30:02 UTC)
    );
    // The MSO's device key is Annex D's static device key.
    let keys: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/iso18013-5/annex-d/keys.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let x = hex::decode(keys["static_device_key"]["x_hex"].as_str().unwrap()).unwrap();
    assert_eq!(&v.device_key.sec1()[1..33], &x[..]);
}

#[test]
fn annex_d_breaking_each_issuer_check() {
    let Some(bytes) = vector("device_response.hex") else {
        return;
    };

    // One byte of a disclosed element: "Doe" (family_name) becomes "Dof".
    let doe = b"\x63Doe";
    let at = bytes.windows(doe.len()).position(|w| w == doe).unwrap();
    let mut altered = bytes.clone();
    altered[at + 3] = b'f';
    assert_eq!(
        verify(&altered, &check(PINNED)).err(),
        Some(MdocError::DigestMismatch {
            namespace: "org.iso.18013.5.1".into(),
            element: "family_name".into()
        })
    );

    // The validity window. Annex D's DS certificate expires (2021-10-01T00:00Z) before its
    // MSO (13:30:02 that day), so past the MSO's end the certificate check refuses first;
    // the MSO's own `Expired` is broken with eid-issued documents, whose DS outlives them.
    assert!(matches!(
        verify(&bytes, &check(datetime!(2021-10-01 13:30:03 UTC))).err(),
        Some(MdocError::IssuerCertificate(
            eid_crypto::x509::CertificateError::OutsideValidity { .. }
        ))
    ));
    assert_eq!(
        verify(&bytes, &check(datetime!(2021-09-30 23:00 UTC))).err(),
        None
    );
    let before = datetime!(2020-10-01 13:30:01 UTC);
    assert_eq!(
        verify(&bytes, &check(before)).err(),
        Some(MdocError::NotYetValid)
    );

    // The docType the verifier asked for.
    let mut other = check(PINNED);
    other.expected_doc_type = Some("cn.eid.resident.1");
    assert_eq!(
        verify(&bytes, &other).err(),
        Some(MdocError::DocTypeMismatch)
    );

    // Without a trusted root, the chain check refuses.
    let mut chained = check(PINNED);
    chained.trust = IssuerTrust::Roots(&[]);
    assert_eq!(
        verify(&bytes, &chained).err(),
        Some(MdocError::IssuerCertificate(
            eid_crypto::x509::CertificateError::UntrustedIssuer
        ))
    );

    // One bit of the issuer signature.
    let response = DeviceResponse::from_cbor(&bytes).unwrap();
    let sig = &response.documents[0].issuer_signed.issuer_auth.signature;
    let at = bytes
        .windows(sig.len())
        .position(|w| w == &sig[..])
        .unwrap();
    let mut forged = bytes.clone();
    forged[at + 7] ^= 1;
    assert_eq!(
        verify(&forged, &check(PINNED)).err(),
        Some(MdocError::IssuerSignature)
    );

    // Trailing bytes.
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        DeviceResponse::from_cbor(&trailing).err(),
        Some(MdocError::TrailingData)
    );
    // Truncation anywhere is an error, never a panic.
    for cut in (0..bytes.len()).step_by(97) {
        assert!(DeviceResponse::from_cbor(&bytes[..cut]).is_err());
    }
}

fn keys() -> Option<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/iso18013-5/annex-d/keys.json");
    std::fs::read(path)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap())
}

fn derived(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/iso18013-5/annex-d/derived_values.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    hex::decode(v[name].as_str().unwrap()).unwrap()
}

fn scalar(keys: &serde_json::Value, who: &str) -> Vec<u8> {
    hex::decode(keys[who]["d_hex"].as_str().unwrap()).unwrap()
}

fn point(keys: &serde_json::Value, who: &str) -> Vec<u8> {
    let x = hex::decode(keys[who]["x_hex"].as_str().unwrap()).unwrap();
    let y = hex::decode(keys[who]["y_hex"].as_str().unwrap()).unwrap();
    [&[4u8][..], &x, &y].concat()
}

/// The SessionTranscript inside Annex D's SessionTranscriptBytes (#6.24(bstr)).
fn session_transcript() -> Option<Vec<u8>> {
    let bytes = vector("session_transcript_bytes.hex")?;
    let mut d = minicbor::Decoder::new(&bytes);
    d.tag().unwrap();
    Some(d.bytes().unwrap().to_vec())
}

#[test]
fn annex_d_session_keys_decrypt_the_request_and_the_response() {
    use eid_crypto::session::AgreementKey;
    use eid_mdoc::session::{SessionKeys, decrypt, session_data, session_establishment};
    let (Some(keys), Some(transcript)) = (keys(), session_transcript()) else {
        return;
    };
    let (Some(establishment), Some(data)) = (
        vector("session_establishment.hex"),
        vector("session_data.hex"),
    ) else {
        return;
    };
    // The reader side: its ephemeral key and the device's EDeviceKey.
    let reader = AgreementKey::from_scalar(&scalar(&keys, "ephemeral_reader_key")).unwrap();
    let reader_keys =
        SessionKeys::derive(&reader, &point(&keys, "ephemeral_device_key"), &transcript).unwrap();
    assert_eq!(&reader_keys.sk_reader[..], &derived("sk_reader_hex")[..]);
    assert_eq!(&reader_keys.sk_device[..], &derived("sk_device_hex")[..]);
    // The device side derives the same keys.
    let device = AgreementKey::from_scalar(&scalar(&keys, "ephemeral_device_key")).unwrap();
    let device_keys =
        SessionKeys::derive(&device, &point(&keys, "ephemeral_reader_key"), &transcript).unwrap();
    assert_eq!(&device_keys.sk_reader[..], &reader_keys.sk_reader[..]);

    let (e_reader_key, sealed_request) = session_establishment(&establishment).unwrap();
    assert_eq!(
        &e_reader_key.sec1()[..],
        &point(&keys, "ephemeral_reader_key")[..]
    );
    let request = decrypt(&device_keys.sk_reader, false, 1, &sealed_request).unwrap();
    assert_eq!(request, vector("device_request.hex").unwrap());
    let (sealed_response, status) = session_data(&data).unwrap();
    assert_eq!(status, None);
    let response = decrypt(&reader_keys.sk_device, true, 1, &sealed_response.unwrap()).unwrap();
    assert_eq!(response, vector("device_response.hex").unwrap());
    // Another counter, or the other side's key, does not decrypt.
    assert_eq!(
        decrypt(&device_keys.sk_reader, false, 2, &sealed_request).err(),
        Some(MdocError::SessionDecryption)
    );
    assert_eq!(
        decrypt(&device_keys.sk_device, false, 1, &sealed_request).err(),
        Some(MdocError::SessionDecryption)
    );
}

#[test]
fn annex_d_device_mac_verifies_over_the_transcript() {
    use eid_crypto::session::AgreementKey;
    use eid_mdoc::session::{MacCheck, device_authentication_bytes, verify_device_auth};
    let (Some(keys), Some(transcript), Some(bytes)) =
        (keys(), session_transcript(), vector("device_response.hex"))
    else {
        return;
    };
    let response = DeviceResponse::from_cbor(&bytes).unwrap();
    let doc = &response.documents[0];
    let issuer = verify_issuer_data(&doc.doc_type, &doc.issuer_signed, &check(PINNED)).unwrap();
    assert_eq!(
        device_authentication_bytes(
            &transcript,
            &doc.doc_type,
            &doc.device_signed.name_spaces_bytes
        ),
        derived("device_authentication_bytes_hex")
    );
    let reader = AgreementKey::from_scalar(&scalar(&keys, "ephemeral_reader_key")).unwrap();
    let mac = MacCheck {
        reader_key: &reader,
    };
    verify_device_auth(doc, &issuer.device_key, &transcript, Some(&mac)).unwrap();

    // Another session's transcript: the MAC no longer verifies.
    let mut other = transcript.clone();
    let last = other.len() - 1;
    other[last] ^= 1;
    assert_eq!(
        verify_device_auth(doc, &issuer.device_key, &other, Some(&mac)).err(),
        Some(MdocError::DeviceMac)
    );
    // Another reader key (a replay to another reader).
    let stranger = AgreementKey::generate().unwrap();
    assert_eq!(
        verify_device_auth(
            doc,
            &issuer.device_key,
            &transcript,
            Some(&MacCheck {
                reader_key: &stranger
            })
        )
        .err(),
        Some(MdocError::DeviceMac)
    );
    // Without the reader key a MAC cannot be checked.
    assert_eq!(
        verify_device_auth(doc, &issuer.device_key, &transcript, None).err(),
        Some(MdocError::MissingReaderKey)
    );
}

#[test]
fn openid4vp_b_2_6_1_session_transcript() {
    use eid_mdoc::session::oid4vp_session_transcript;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/openid4vp/session_transcript");
    let Ok(inputs) = std::fs::read(dir.join("redirect_inputs.json")) else {
        panic!(
            "{} is missing: the spec vectors are part of the repository (testdata/)",
            dir.display()
        );
    };
    let inputs: serde_json::Value = serde_json::from_slice(&inputs).unwrap();
    let thumbprint = hex::decode(inputs["jwk_thumbprint_sha256_hex"].as_str().unwrap()).unwrap();
    let transcript = oid4vp_session_transcript(
        inputs["client_id"].as_str().unwrap(),
        inputs["nonce"].as_str().unwrap(),
        Some(&thumbprint),
        inputs["response_uri"].as_str().unwrap(),
    );
    let expected = hex::decode(
        std::fs::read_to_string(dir.join("redirect_session_transcript.hex"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(transcript, expected);
}

#[test]
fn openid4vp_b_2_6_2_dc_api_session_transcript() {
    use eid_mdoc::session::oid4vp_dc_api_session_transcript;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/openid4vp/session_transcript");
    let Ok(inputs) = std::fs::read(dir.join("dc_api_inputs.json")) else {
        panic!(
            "{} is missing: the spec vectors are part of the repository (testdata/)",
            dir.display()
        );
    };
    let inputs: serde_json::Value = serde_json::from_slice(&inputs).unwrap();
    let thumbprint = hex::decode(inputs["jwk_thumbprint_sha256_hex"].as_str().unwrap()).unwrap();
    let origin = inputs["origin"].as_str().unwrap();
    let nonce = inputs["nonce"].as_str().unwrap();
    let transcript = oid4vp_dc_api_session_transcript(origin, nonce, Some(&thumbprint));
    let expected = hex::decode(
        std::fs::read_to_string(dir.join("dc_api_session_transcript.hex"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(transcript, expected);
    // Each input counts: another origin, another nonce, no thumbprint (`dc_api`).
    for other in [
        oid4vp_dc_api_session_transcript("https://example.org", nonce, Some(&thumbprint)),
        oid4vp_dc_api_session_transcript(origin, "another", Some(&thumbprint)),
        oid4vp_dc_api_session_transcript(origin, nonce, None),
    ] {
        assert_ne!(other, expected);
    }
}

#[test]
fn annex_d_device_engagement_and_reader_authentication() {
    use eid_mdoc::engagement::DeviceEngagement;
    use eid_mdoc::request::{DeviceRequest, reader_authentication_bytes};
    let (Some(keys), Some(transcript)) = (keys(), session_transcript()) else {
        return;
    };
    let (Some(engagement), Some(request), Some(reader_cert)) = (
        vector("device_engagement.hex"),
        vector("device_request.hex"),
        vector("reader_cert.der.hex"),
    ) else {
        return;
    };
    // The QR engagement carries EDeviceKey; it round-trips through the mdoc: URI.
    let de = DeviceEngagement::parse(&engagement).unwrap();
    assert_eq!(de.version, "1.0");
    assert_eq!(
        &de.e_device_key.sec1()[..],
        &point(&keys, "ephemeral_device_key")[..]
    );
    assert_eq!(
        DeviceEngagement::from_qr_uri(&DeviceEngagement::qr_uri(&engagement)).unwrap(),
        de
    );
    assert!(DeviceEngagement::from_qr_uri("https://example.com").is_err());

    // The DeviceRequest asks for six mDL elements; its readerAuth verifies with the reader
    // certificate's key over this session's transcript, and not over another.
    let request = DeviceRequest::parse(&request).unwrap();
    let doc = &request.doc_requests[0];
    assert_eq!(doc.items_request.doc_type, "org.iso.18013.5.1.mDL");
    assert_eq!(doc.items_request.name_spaces[0].1.len(), 6);
    assert_eq!(
        reader_authentication_bytes(&transcript, &doc.items_request_bytes),
        derived("reader_authentication_bytes_hex")
    );
    let reader_key = {
        let cert = x509_parser_free_spki(&reader_cert);
        eid_crypto::VerifyingKey::from_spki_der(&cert).unwrap()
    };
    doc.verify_reader_auth(&transcript, &reader_key).unwrap();
    let mut other = transcript.clone();
    let last = other.len() - 1;
    other[last] ^= 1;
    assert_eq!(
        doc.verify_reader_auth(&other, &reader_key).err(),
        Some(MdocError::ReaderSignature)
    );
}

/// The SubjectPublicKeyInfo of a P-256 certificate: the DER after the P-256 SPKI prefix.
fn x509_parser_free_spki(cert: &[u8]) -> Vec<u8> {
    let prefix = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    ];
    let at = cert
        .windows(prefix.len())
        .position(|w| w == prefix)
        .unwrap();
    cert[at..at + 91].to_vec()
}
