//! ISO/IEC 18013-5:2021 Annex D known-answer tests from `../shared/testdata/iso18013-5/annex-d`
//! (PROVENANCE.md there), with time pinned to 2021-01-01. Skips, saying so, where the folder
//! is absent. The Annex's IACA is not published, so the document signer is checked against
//! the Annex B profile without its chain (`dangerous_skip_chain`).

#![expect(
    clippy::print_stdout,
    reason = "a test that skips says so on its output"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::PathBuf;

use eid_mdoc::verify::verify_issuer_data;
use eid_mdoc::{DeviceResponse, IssuerDataCheck, MdocError};
use time::OffsetDateTime;
use time::macros::datetime;

const PINNED: OffsetDateTime = datetime!(2021-01-01 0:00 UTC);

fn vector(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/iso18013-5/annex-d")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(hex::decode(text.trim()).unwrap()),
        Err(_) => {
            println!(
                "skipped: {} is absent (spec vectors live beside the project)",
                path.display()
            );
            None
        }
    }
}

fn check(now: OffsetDateTime) -> IssuerDataCheck<'static> {
    IssuerDataCheck {
        roots: &[],
        now,
        expected_doc_type: None,
        dangerous_skip_chain: true,
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
                .join("../../../shared/testdata/iso18013-5/annex-d/keys.json"),
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
    chained.dangerous_skip_chain = false;
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
