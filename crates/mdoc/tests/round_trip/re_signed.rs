//! issuerAuth, MSO and device authentication checks, each on a document changed once, signed again.

use eid_core::OsRandom;
use eid_crypto::{CryptoError, Signer};
use eid_mdoc::cose::{CoseSign1, Headers, to_be_signed};
use eid_mdoc::issue::{IssueRequest, issue};
use eid_mdoc::present::present;
use eid_mdoc::verify::{VerifiedDocument, verify_document};
use eid_mdoc::{DeviceResponse, MdocError};
use time::Duration;

use crate::{NOW, NS, Setup, check, elements, issued, setup, transcript, verify};

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
