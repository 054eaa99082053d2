//! Each reader check broken once on a presented document; the status hook; validity out of order.

use eid_core::OsRandom;
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::MdocError;
use eid_mdoc::issue::{IssueRequest, issue};
use eid_mdoc::model::StatusReference;
use eid_mdoc::present::present;
use time::Duration;

use crate::{NOW, NS, check, elements, issued, setup, transcript, verify};

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
