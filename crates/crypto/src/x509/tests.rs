use eid_core::OsRandom;
use time::macros::datetime;

use rcgen::{CertificateParams, CustomExtension, IsCa, KeyUsagePurpose};

use super::create::{
    RcgenSigner, SubjectKey, common_params, mdoc_extended_key_usage,
    subject_key_identifier_extension,
};
use super::*;
use crate::{Signer, SigningKey};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

fn subject(country: &str, cn: &str) -> Subject {
    Subject {
        country: country.into(),
        state: Some("广西壮族自治区".into()),
        organization: "南宁市公安局".into(),
        common_name: cn.into(),
    }
}

fn terms(days: i64) -> CertificateTerms {
    CertificateTerms {
        not_before: datetime!(2026-01-01 0:00 UTC),
        not_after: datetime!(2026-01-01 0:00 UTC) + Duration::days(days),
        issuer_alt_name_uri: "https://eid.example.cn/authority/4501".into(),
        crl_uri: "https://eid.example.cn/authority/4501/iaca.crl".into(),
    }
}

struct Pki {
    iaca_key: SigningKey,
    iaca: CertificateDer,
    ds_key: SigningKey,
    ds: CertificateDer,
}

#[test]
fn a_reader_certificate_has_its_own_profile() {
    let key = SigningKey::generate().unwrap();
    let cert = create_reader_certificate(
        &subject("CN", "Nanning Hotel front desk"),
        &terms(365),
        &key,
        &OsRandom,
    )
    .unwrap();
    let checked = check_reader_certificate(&cert.0, NOW).unwrap();
    assert_eq!(checked.sec1(), key.verifying_key().sec1());
    // Outside its validity.
    assert!(matches!(
        check_reader_certificate(&cert.0, NOW + Duration::days(400)),
        Err(CertificateError::OutsideValidity { role: "reader", .. })
    ));
    // A document signer's certificate is not a reader's.
    let pki = pki();
    assert_eq!(
        check_reader_certificate(&pki.ds.0, NOW).err(),
        Some(CertificateError::ReaderExtendedKeyUsage)
    );
    // An IACA's ten years are too long for a reader.
    assert_eq!(
        check_reader_certificate(&pki.iaca.0, NOW).err(),
        Some(CertificateError::ValidityTooLong("reader"))
    );
    assert!(create_reader_certificate(&subject("CN", "x"), &terms(500), &key, &OsRandom).is_err());
}

fn pki() -> Pki {
    let iaca_key = SigningKey::generate().unwrap();
    let iaca = create_iaca(
        &subject("CN", "Nanning IACA"),
        &terms(3650),
        &iaca_key,
        &OsRandom,
    )
    .unwrap();
    let ds_key = SigningKey::generate().unwrap();
    let ds = create_document_signer(
        &subject("CN", "Nanning DS 1"),
        &terms(400),
        ds_key.verifying_key(),
        &iaca,
        &iaca_key,
        &OsRandom,
    )
    .unwrap();
    Pki {
        iaca_key,
        iaca,
        ds_key,
        ds,
    }
}

#[test]
fn a_created_chain_validates() {
    let p = pki();
    let root = TrustedIaca::new(&p.iaca.0, NOW).unwrap();
    assert_eq!(root.key(), p.iaca_key.verifying_key());
    let ds = verify_document_signer(&p.ds.0, &[root], NOW).unwrap();
    assert_eq!(&ds.key, p.ds_key.verifying_key());
    assert_eq!(ds.iaca_index, 0);
    assert_eq!(ds.common_name.as_deref(), Some("Nanning DS 1"));
    // PEM round trip.
    TrustedIaca::from_pem(&p.iaca.to_pem(), NOW).unwrap();
    // A renewed root with the same name listed first: the key that verifies decides.
    let renewed_key = SigningKey::generate().unwrap();
    let renewed = create_iaca(
        &subject("CN", "Nanning IACA"),
        &terms(3650),
        &renewed_key,
        &OsRandom,
    )
    .unwrap();
    let roots = [
        TrustedIaca::new(&renewed.0, NOW).unwrap(),
        TrustedIaca::new(&p.iaca.0, NOW).unwrap(),
    ];
    assert_eq!(
        verify_document_signer(&p.ds.0, &roots, NOW)
            .unwrap()
            .iaca_index,
        1
    );
}

#[test]
fn breaking_each_check() {
    let p = pki();
    let root = TrustedIaca::new(&p.iaca.0, NOW).unwrap();
    let roots = [root];

    // Validity: after the DS expires; before the IACA starts.
    let late = datetime!(2027-03-01 0:00 UTC);
    assert!(matches!(
        verify_document_signer(&p.ds.0, &roots, late),
        Err(CertificateError::OutsideValidity { role: "DS", .. })
    ));
    assert!(matches!(
        TrustedIaca::new(&p.iaca.0, datetime!(2025-12-31 0:00 UTC)),
        Err(CertificateError::OutsideValidity { role: "IACA", .. })
    ));

    // An IACA with the same name but another key signed the DS: the signature fails.
    let impostor_key = SigningKey::generate().unwrap();
    let impostor = create_iaca(
        &subject("CN", "Nanning IACA"),
        &terms(3650),
        &impostor_key,
        &OsRandom,
    )
    .unwrap();
    let forged = create_document_signer(
        &subject("CN", "Nanning DS 1"),
        &terms(400),
        p.ds_key.verifying_key(),
        &impostor,
        &impostor_key,
        &OsRandom,
    )
    .unwrap();
    assert_eq!(
        verify_document_signer(&forged.0, &roots, NOW).err(),
        Some(CertificateError::Signature("DS"))
    );

    // A root that is not trusted.
    let other_key = SigningKey::generate().unwrap();
    let other = create_iaca(
        &subject("CN", "Hangzhou IACA"),
        &terms(3650),
        &other_key,
        &OsRandom,
    )
    .unwrap();
    let other_root = TrustedIaca::new(&other.0, NOW).unwrap();
    assert_eq!(
        verify_document_signer(&p.ds.0, &[other_root], NOW).err(),
        Some(CertificateError::UntrustedIssuer)
    );

    // The DS names another country than its IACA.
    let foreign = create_document_signer(
        &subject("US", "Nanning DS 2"),
        &terms(400),
        p.ds_key.verifying_key(),
        &p.iaca,
        &p.iaca_key,
        &OsRandom,
    )
    .unwrap();
    assert_eq!(
        verify_document_signer(&foreign.0, &roots, NOW).err(),
        Some(CertificateError::Country)
    );

    // An IACA is a CA, not a document signer (checked on one valid for less than 457
    // days, so that only that rule fails).
    let short_key = SigningKey::generate().unwrap();
    let short = create_iaca(
        &subject("CN", "Nanning IACA"),
        &terms(400),
        &short_key,
        &OsRandom,
    )
    .unwrap();
    let short_root = [TrustedIaca::new(&short.0, NOW).unwrap()];
    assert_eq!(
        verify_document_signer(&short.0, &short_root, NOW).err(),
        Some(CertificateError::BasicConstraints("DS"))
    );
    // A ten-year IACA is refused as a DS for its validity before anything else.
    assert_eq!(
        verify_document_signer(&p.iaca.0, &roots, NOW).err(),
        Some(CertificateError::ValidityTooLong("DS"))
    );

    // A DS certificate is not a root.
    assert_eq!(
        TrustedIaca::new(&p.ds.0, NOW).err(),
        Some(CertificateError::BasicConstraints("IACA"))
    );

    // Trailing bytes, and a flipped byte in the signed part.
    let mut trailing = p.ds.0.clone();
    trailing.push(0);
    assert_eq!(
        verify_document_signer(&trailing, &roots, NOW).err(),
        Some(CertificateError::Malformed)
    );
    let mut flipped = p.ds.0.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    assert!(verify_document_signer(&flipped, &roots, NOW).is_err());
}

/// A DS certificate built from `p`'s IACA with parameters `change` alters.
fn custom_ds(p: &Pki, change: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
    let mut params = common_params(&subject("CN", "custom"), &terms(400), &OsRandom).unwrap();
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.use_authority_key_identifier_extension = true;
    change(&mut params);
    params
        .custom_extensions
        .push(subject_key_identifier_extension(p.ds_key.verifying_key()));
    let ca = rustls_pki_types::CertificateDer::from(p.iaca.0.as_slice());
    let issuer = rcgen::Issuer::from_ca_cert_der(
        &ca,
        RcgenSigner {
            signer: &p.iaca_key,
        },
    )
    .unwrap();
    params
        .signed_by(&SubjectKey(p.ds_key.verifying_key()), &issuer)
        .unwrap()
        .der()
        .to_vec()
}

#[test]
fn document_signer_extensions_are_checked() {
    let p = pki();
    let roots = [TrustedIaca::new(&p.iaca.0, NOW).unwrap()];
    let mdl_eku = |params: &mut CertificateParams| {
        params.custom_extensions.push(mdoc_extended_key_usage(2));
    };
    // The reference: with the mdlDS EKU it validates.
    let good = custom_ds(&p, mdl_eku);
    verify_document_signer(&good, &roots, NOW).unwrap();
    // Without it.
    assert_eq!(
        verify_document_signer(&custom_ds(&p, |_| {}), &roots, NOW).err(),
        Some(CertificateError::MissingExtension {
            role: "DS",
            extension: "extKeyUsage"
        })
    );
    // With another EKU (TLS server authentication).
    let tls = custom_ds(&p, |params| {
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    });
    assert!(matches!(
        verify_document_signer(&tls, &roots, NOW),
        Err(CertificateError::ExtendedKeyUsage)
    ));
    // Certificate signing instead of digital signature.
    let signs_certs = custom_ds(&p, |params| {
        mdl_eku(params);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    });
    assert_eq!(
        verify_document_signer(&signs_certs, &roots, NOW).err(),
        Some(CertificateError::KeyUsage("DS"))
    );
    // No authority key identifier.
    let no_aki = custom_ds(&p, |params| {
        mdl_eku(params);
        params.use_authority_key_identifier_extension = false;
    });
    assert_eq!(
        verify_document_signer(&no_aki, &roots, NOW).err(),
        Some(CertificateError::MissingExtension {
            role: "DS",
            extension: "authorityKeyIdentifier"
        })
    );
    // No CRL distribution point.
    let no_crl = custom_ds(&p, |params| {
        mdl_eku(params);
        params.crl_distribution_points.clear();
    });
    assert_eq!(
        verify_document_signer(&no_crl, &roots, NOW).err(),
        Some(CertificateError::MissingExtension {
            role: "DS",
            extension: "cRLDistributionPoints"
        })
    );
    // No issuer alternative name.
    let no_ian = custom_ds(&p, |params| {
        params.custom_extensions.clear();
        mdl_eku(params);
    });
    assert_eq!(
        verify_document_signer(&no_ian, &roots, NOW).err(),
        Some(CertificateError::MissingExtension {
            role: "DS",
            extension: "issuerAltName"
        })
    );
}

#[test]
fn a_root_that_expires_after_loading_stops_being_trusted() {
    let p = pki();
    // A 30-day root with a 60-day DS: loaded while valid, then used after its end, when
    // the DS alone would still be within its validity.
    let short_key = SigningKey::generate().unwrap();
    let short = create_iaca(
        &subject("CN", "Short IACA"),
        &terms(30),
        &short_key,
        &OsRandom,
    )
    .unwrap();
    let ds = create_document_signer(
        &subject("CN", "Short DS"),
        &terms(60),
        p.ds_key.verifying_key(),
        &short,
        &short_key,
        &OsRandom,
    )
    .unwrap();
    let loaded = TrustedIaca::new(&short.0, datetime!(2026-01-15 0:00 UTC)).unwrap();
    let later = datetime!(2026-02-15 0:00 UTC);
    assert!(matches!(
        verify_document_signer(&ds.0, &[loaded], later).err(),
        Some(CertificateError::OutsideValidity { role: "IACA", .. })
    ));
}

#[test]
fn extra_key_usage_and_unknown_critical_extensions_are_refused() {
    let p = pki();
    let roots = [TrustedIaca::new(&p.iaca.0, NOW).unwrap()];
    let with_eku = |params: &mut CertificateParams| {
        params.custom_extensions.push(mdoc_extended_key_usage(2));
    };
    let crl_too = custom_ds(&p, |params| {
        with_eku(params);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    });
    assert_eq!(
        verify_document_signer(&crl_too, &roots, NOW).err(),
        Some(CertificateError::KeyUsage("DS"))
    );
    let unknown = custom_ds(&p, |params| {
        with_eku(params);
        let mut ext =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
        ext.set_criticality(true);
        params.custom_extensions.push(ext);
    });
    assert_eq!(
        verify_document_signer(&unknown, &roots, NOW).err(),
        Some(CertificateError::UnknownCriticalExtension("DS"))
    );
}

#[test]
fn the_document_signer_cache_rechecks_validity_and_never_trusts_other_bytes() {
    let p = pki();
    let cache = DocumentSignerCache::new(vec![TrustedIaca::new(&p.iaca.0, NOW).unwrap()], 4);
    assert_eq!(
        &cache.verify(&p.ds.0, NOW).unwrap().key,
        p.ds_key.verifying_key()
    );
    assert_eq!(cache.chains_checked(), 1);
    // A hit: same answer without checking the chain again, and the DS validity is
    // still enforced.
    assert_eq!(
        &cache.verify(&p.ds.0, NOW).unwrap().key,
        p.ds_key.verifying_key()
    );
    assert_eq!(cache.chains_checked(), 1);
    assert!(matches!(
        cache.verify(&p.ds.0, datetime!(2027-06-01 0:00 UTC)).err(),
        Some(CertificateError::OutsideValidity { role: "DS", .. })
    ));
    assert_eq!(cache.chains_checked(), 1, "refused from the cache");
    // Other bytes are verified in full: a flipped byte is not a hit.
    let mut flipped = p.ds.0.clone();
    let at = flipped.len() - 5;
    flipped[at] ^= 1;
    assert!(cache.verify(&flipped, NOW).is_err());
    assert_eq!(cache.chains_checked(), 2);
    // Another authority's DS is not trusted, cached or not: a refusal is not cached.
    let other = pki();
    assert!(cache.verify(&other.ds.0, NOW).is_err());
    assert!(cache.verify(&other.ds.0, NOW).is_err());
    assert_eq!(cache.chains_checked(), 4);
}

#[test]
fn the_document_signer_cache_stays_within_its_capacity() {
    let p = pki();
    let second = create_document_signer(
        &subject("CN", "Nanning DS 2"),
        &terms(400),
        p.ds_key.verifying_key(),
        &p.iaca,
        &p.iaca_key,
        &OsRandom,
    )
    .unwrap();
    let cache = DocumentSignerCache::new(vec![TrustedIaca::new(&p.iaca.0, NOW).unwrap()], 1);
    // Room for one: the second signer pushes the first out, which then costs a full
    // check again.
    for ds in [&p.ds.0, &second.0, &p.ds.0] {
        cache.verify(ds, NOW).unwrap();
    }
    assert_eq!(cache.chains_checked(), 3);
    cache.verify(&p.ds.0, NOW).unwrap();
    assert_eq!(cache.chains_checked(), 3);
    assert_eq!(cache.entries.lock().unwrap().len(), 1);
}

#[test]
fn validity_limits_are_enforced_when_creating() {
    let key = SigningKey::generate().unwrap();
    assert!(create_iaca(&subject("CN", "x"), &terms(21 * 366), &key, &OsRandom).is_err());
    let p = pki();
    assert!(
        create_document_signer(
            &subject("CN", "x"),
            &terms(458),
            key.verifying_key(),
            &p.iaca,
            &p.iaca_key,
            &OsRandom
        )
        .is_err()
    );
    assert!(create_iaca(&subject("China", "x"), &terms(10), &key, &OsRandom).is_err());
}

#[test]
fn iso_18013_5_annex_d_document_signer_meets_the_profile() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/iso18013-5/annex-d/ds_cert.pem");
    let Ok(text) = std::fs::read_to_string(&path) else {
        panic!(
            "{} is missing: the spec vectors are part of the repository (testdata/)",
            path.display()
        );
    };
    let der = crate::pem::decode("CERTIFICATE", &text).unwrap();
    check_document_signer_profile(&der, datetime!(2021-01-01 0:00 UTC)).unwrap();
    assert!(matches!(
        check_document_signer_profile(&der, datetime!(2021-10-02 0:00 UTC)),
        Err(CertificateError::OutsideValidity { role: "DS", .. })
    ));
}
