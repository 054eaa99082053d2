//! SM2 certificates: made, read back, checked by OpenSSL, and refused wherever the chain
//! mixes algorithms or the caller did not allow SM2.

use eid_core::OsRandom;
use time::macros::datetime;

use super::create::{SM2_WITH_SM3, relabel};
use super::*;
use crate::{Algorithm, Signer, SigningKey};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

/// ecdsa-with-SHA256's AlgorithmIdentifier.
const ECDSA_WITH_SHA256: [u8; 12] = [
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];

fn pki(algorithm: Algorithm) -> AuthorityPki {
    AuthorityPki::generate_for(
        algorithm,
        "南宁市公安局",
        "CN",
        "https://eid.example.cn/authority/4501",
        START,
        (3650, 365),
        &OsRandom,
    )
    .unwrap()
}

fn x509(der: &[u8]) -> x509_parser::certificate::X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(rest.is_empty());
    cert
}

#[test]
fn an_sm2_chain_is_labelled_sm2_and_validates_where_sm2_is_allowed() {
    let pki = pki(Algorithm::Sm2Sm3);
    for der in [&pki.iaca.0, &pki.ds.0] {
        let cert = x509(der);
        assert_eq!(
            cert.signature_algorithm.algorithm.to_id_string(),
            "1.2.156.10197.1.501"
        );
        assert_eq!(
            cert.tbs_certificate.signature.algorithm.to_id_string(),
            "1.2.156.10197.1.501"
        );
        assert!(cert.signature_algorithm.parameters.is_none());
        let curve = cert
            .tbs_certificate
            .subject_pki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .map(|oid| oid.to_id_string());
        assert_eq!(curve.as_deref(), Some("1.2.156.10197.1.301"));
    }
    let root = TrustedIaca::new_allowing(&pki.iaca.0, NOW, &[Algorithm::Sm2Sm3]).unwrap();
    assert_eq!(root.algorithm(), Algorithm::Sm2Sm3);
    assert_eq!(root.key(), pki.iaca_key.verifying_key());
    let ds = verify_document_signer(&pki.ds.0, &[root], NOW).unwrap();
    assert_eq!(&ds.key, pki.ds_key.verifying_key());
    // The issuer reads its own DS whatever its algorithm.
    let (key, not_before, _) = document_signer_terms(&pki.ds.0).unwrap();
    assert_eq!((&key, not_before), (pki.ds_key.verifying_key(), START));
    assert!(TrustedIaca::as_of_first_day(&pki.iaca.0).is_ok());
}

#[test]
fn sm2_is_refused_where_the_caller_allows_p256_only() {
    let sm2 = pki(Algorithm::Sm2Sm3);
    assert_eq!(
        TrustedIaca::new(&sm2.iaca.0, NOW).err(),
        Some(CertificateError::SignatureAlgorithm)
    );
    assert_eq!(
        check_document_signer_profile(&sm2.ds.0, NOW).err(),
        Some(CertificateError::SignatureAlgorithm)
    );
    // And P-256 where the list names SM2.
    let p256 = pki(Algorithm::Es256);
    assert_eq!(
        TrustedIaca::new_allowing(&p256.iaca.0, NOW, &[Algorithm::Sm2Sm3]).err(),
        Some(CertificateError::SignatureAlgorithm)
    );
    // An SM2 key whose certificate says ecdsa-with-SHA256 (signed with SM2 all the same):
    // refused as a P-256 root for its key, as an SM2 root for its label, and by its owner
    // for the two disagreeing.
    let mislabelled = relabel(
        &sm2.iaca.0,
        &ECDSA_WITH_SHA256,
        &sm2.iaca_key.verifying_key().to_spki_der(),
        &sm2.iaca_key,
    )
    .unwrap();
    assert_eq!(
        TrustedIaca::new(&mislabelled.0, NOW).err(),
        Some(CertificateError::PublicKey)
    );
    assert_eq!(
        TrustedIaca::new_allowing(&mislabelled.0, NOW, &[Algorithm::Sm2Sm3]).err(),
        Some(CertificateError::SignatureAlgorithm)
    );
    assert_eq!(
        TrustedIaca::as_of_first_day(&mislabelled.0).err(),
        Some(CertificateError::AlgorithmMismatch("IACA"))
    );
}

#[test]
fn a_chain_of_two_algorithms_is_neither_made_nor_accepted() {
    let sm2 = pki(Algorithm::Sm2Sm3);
    let p256 = pki(Algorithm::Es256);
    let subject = Subject {
        country: "CN".into(),
        state: None,
        organization: "南宁市公安局".into(),
        common_name: "DS".into(),
    };
    let terms = CertificateTerms {
        not_before: START,
        not_after: START + Duration::days(365),
        issuer_alt_name_uri: "https://eid.example.cn/authority/4501".into(),
        crl_uri: "https://eid.example.cn/authority/4501/iaca.crl".into(),
    };
    for (key, iaca, iaca_key) in [
        (&p256.ds_key, &sm2.iaca, &sm2.iaca_key),
        (&sm2.ds_key, &p256.iaca, &p256.iaca_key),
    ] {
        assert!(matches!(
            create_document_signer(
                &subject,
                &terms,
                key.verifying_key(),
                iaca,
                iaca_key,
                &OsRandom
            ),
            Err(CryptoError::CertificateBuild(_))
        ));
    }
    let root = TrustedIaca::new_allowing(&sm2.iaca.0, NOW, &[Algorithm::Sm2Sm3]).unwrap();
    // The SM2 root signs (with SM2) a DS certificate for a P-256 key.
    let p256_key = relabel(
        &sm2.ds.0,
        &SM2_WITH_SM3,
        &p256.ds_key.verifying_key().to_spki_der(),
        &sm2.iaca_key,
    )
    .unwrap();
    assert_eq!(
        verify_document_signer(&p256_key.0, std::slice::from_ref(&root), NOW).err(),
        Some(CertificateError::AlgorithmMismatch("DS"))
    );
    // A P-256 root signs (with ECDSA) a DS certificate for an SM2 key.
    let p256_root = TrustedIaca::new(&p256.iaca.0, NOW).unwrap();
    let sm2_key = relabel(
        &p256.ds.0,
        &ECDSA_WITH_SHA256,
        &sm2.ds_key.verifying_key().to_spki_der(),
        &p256.iaca_key,
    )
    .unwrap();
    assert_eq!(
        verify_document_signer(&sm2_key.0, std::slice::from_ref(&p256_root), NOW).err(),
        Some(CertificateError::AlgorithmMismatch("DS"))
    );
    // ecdsa-with-SHA256 with NULL parameters (RFC 5758 §3.2: absent) is refused too.
    let es256_null = relabel(
        &p256.ds.0,
        &[
            0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00,
        ],
        &p256.ds_key.verifying_key().to_spki_der(),
        &p256.iaca_key,
    )
    .unwrap();
    assert_eq!(
        verify_document_signer(&es256_null.0, &[p256_root], NOW).err(),
        Some(CertificateError::SignatureAlgorithm)
    );
    // The SM2 root signs (with SM2) its SM2 DS, labelled ecdsa-with-SHA256.
    let p256_label = relabel(
        &sm2.ds.0,
        &ECDSA_WITH_SHA256,
        &sm2.ds_key.verifying_key().to_spki_der(),
        &sm2.iaca_key,
    )
    .unwrap();
    assert_eq!(
        verify_document_signer(&p256_label.0, std::slice::from_ref(&root), NOW).err(),
        Some(CertificateError::AlgorithmMismatch("DS"))
    );
    // Relabelled the same way as made, it is accepted: only the mismatch was refused.
    let same = relabel(
        &sm2.ds.0,
        &SM2_WITH_SM3,
        &sm2.ds_key.verifying_key().to_spki_der(),
        &sm2.iaca_key,
    )
    .unwrap();
    assert!(verify_document_signer(&same.0, std::slice::from_ref(&root), NOW).is_ok());
    // SM2 with SM3 with NULL parameters: eid writes none, and reads none.
    let with_null = relabel(
        &sm2.ds.0,
        &[
            0x30, 0x0c, 0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75, 0x05, 0x00,
        ],
        &sm2.ds_key.verifying_key().to_spki_der(),
        &sm2.iaca_key,
    )
    .unwrap();
    assert_eq!(
        verify_document_signer(&with_null.0, &[root], NOW).err(),
        Some(CertificateError::SignatureAlgorithm)
    );
    // Outer and inner algorithm identifiers must agree.
    let mut outer_p256 = sm2.ds.0.clone();
    let at = outer_p256
        .windows(12)
        .rposition(|w| w == SM2_WITH_SM3)
        .unwrap();
    outer_p256[at..at + 12].copy_from_slice(&ECDSA_WITH_SHA256);
    assert_eq!(
        document_signer_terms(&outer_p256).err(),
        Some(CertificateError::SignatureAlgorithm)
    );
}

#[test]
fn a_reader_certificate_is_not_made_for_an_sm2_key() {
    let key = SigningKey::generate_for(Algorithm::Sm2Sm3).unwrap();
    let subject = Subject {
        country: "CN".into(),
        state: None,
        organization: "Hotel".into(),
        common_name: "front desk".into(),
    };
    let terms = CertificateTerms {
        not_before: START,
        not_after: START + Duration::days(365),
        issuer_alt_name_uri: "https://hotel.example.cn".into(),
        crl_uri: "https://hotel.example.cn/crl".into(),
    };
    assert!(matches!(
        create_reader_certificate(&subject, &terms, &key, &OsRandom),
        Err(CryptoError::CertificateBuild(_))
    ));
    assert_eq!(key.algorithm(), Algorithm::Sm2Sm3);
}

/// OpenSSL 3 (Debian's `openssl`, an independent SM2 implementation) verifies the DS's
/// signature under the SM2 root, given the distinguishing identifier GM/T 0009 and GB/T
/// 35276 make the default, and refuses the chain when a byte of the DS's signed part is
/// changed. OpenSSL leaves the identifier to its callers and uses an empty one when none is
/// given (openssl/openssl#23162, "won't fix"), so without `-vfyopt` it refuses eid's chain,
/// as it refuses any made with the standard's default.
#[test]
fn openssl_verifies_an_sm2_chain() {
    let pki = pki(Algorithm::Sm2Sm3);
    let dir = std::env::temp_dir().join(format!("eid-sm2-openssl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, der: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, crate::pem::encode("CERTIFICATE", der)).unwrap();
        path
    };
    let root = write("iaca.pem", &pki.iaca.0);
    let verify = |ds: &std::path::Path, distid: &str| {
        std::process::Command::new("openssl")
            .args(["verify", "-attime", &NOW.unix_timestamp().to_string()])
            .args(["-vfyopt", &format!("distid:{distid}")])
            .arg("-CAfile")
            .arg(&root)
            .arg(ds)
            .output()
            .map_err(|e| format!("openssl is needed for this test: {e}"))
            .unwrap()
    };
    let ds = write("ds.pem", &pki.ds.0);
    let good = verify(&ds, crate::shangmi::DISTID);
    assert!(
        good.status.success(),
        "{}{}",
        String::from_utf8_lossy(&good.stdout),
        String::from_utf8_lossy(&good.stderr)
    );
    // Change the DS subject's common name (inside the signed part).
    let mut forged = pki.ds.0.clone();
    let at = forged.windows(2).position(|w| w == b"DS").unwrap();
    forged[at] = b'X';
    let bad = verify(&write("forged.pem", &forged), crate::shangmi::DISTID);
    assert!(!bad.status.success());
    // Another identifier gives another hash Z: the signature is bound to the default.
    assert!(!verify(&ds, "8765432187654321").status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}
