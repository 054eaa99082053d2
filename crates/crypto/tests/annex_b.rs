//! The certificates eid makes, read back with x509-parser and held to ISO/IEC 18013-5:2021
//! Annex B row by row: the IACA root (B.1.2), the document signer (B.1.4) and the mdoc reader
//! authentication certificate (B.1.7), as `AuthorityPki::generate` (what `eid pki init` and
//! the platform's data folder use) and `create_reader_certificate` make them. One test per
//! row; the key identifiers are recomputed here from the certificate's own subjectPublicKey
//! (RFC 5280 §4.2.1.2 method 1), not taken from `x509::key_identifier`.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap or an unexpected extension is a failed test"
)]

use std::sync::OnceLock;

use eid_core::OsRandom;
use eid_crypto::x509::{
    AuthorityPki, CertificateTerms, Subject, TrustedIaca, check_reader_certificate,
    create_reader_certificate, verify_document_signer,
};
use eid_crypto::{Signer, SigningKey};
use time::OffsetDateTime;
use time::macros::datetime;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension, X509Extension};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256,
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_BASIC_CONSTRAINTS,
    OID_X509_EXT_CRL_DISTRIBUTION_POINTS, OID_X509_EXT_EXTENDED_KEY_USAGE,
    OID_X509_EXT_FRESHEST_CRL, OID_X509_EXT_INHIBIT_ANY_POLICY, OID_X509_EXT_ISSUER_ALT_NAME,
    OID_X509_EXT_KEY_USAGE, OID_X509_EXT_NAME_CONSTRAINTS, OID_X509_EXT_POLICY_CONSTRAINTS,
    OID_X509_EXT_POLICY_MAPPINGS, OID_X509_EXT_SUBJECT_KEY_IDENTIFIER, Oid,
};
use x509_parser::prelude::FromDer;

const NOT_BEFORE: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
const URI: &str = "https://eid.example.cn/4501";

struct Made {
    iaca: Vec<u8>,
    ds: Vec<u8>,
    reader: Vec<u8>,
}

/// One authority's IACA and DS and one reader certificate, made once for all the tests.
fn made() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    MADE.get_or_init(|| {
        let pki =
            AuthorityPki::generate("Nanning PSB", "CN", URI, NOT_BEFORE, (3650, 365), &OsRandom)
                .unwrap();
        let reader_key = SigningKey::generate().unwrap();
        let reader = create_reader_certificate(
            &Subject {
                country: "CN".into(),
                state: None,
                organization: "Nanning Hotel".into(),
                common_name: "Nanning Hotel front desk".into(),
            },
            &CertificateTerms {
                not_before: NOT_BEFORE,
                not_after: NOT_BEFORE + time::Duration::days(365),
                issuer_alt_name_uri: "https://hotel.example.cn".into(),
                crl_uri: "https://hotel.example.cn/reader.crl".into(),
            },
            &reader_key,
            &OsRandom,
        )
        .unwrap();
        assert_eq!(
            check_reader_certificate(&reader.0, NOT_BEFORE)
                .unwrap()
                .sec1(),
            reader_key.verifying_key().sec1()
        );
        Made {
            iaca: pki.iaca.0,
            ds: pki.ds.0,
            reader: reader.0,
        }
    })
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = X509Certificate::from_der(der).unwrap();
    assert!(rest.is_empty());
    cert
}

fn iaca() -> X509Certificate<'static> {
    parse(&made().iaca)
}

fn ds() -> X509Certificate<'static> {
    parse(&made().ds)
}

fn reader() -> X509Certificate<'static> {
    parse(&made().reader)
}

fn all() -> [(&'static str, X509Certificate<'static>); 3] {
    [("IACA", iaca()), ("DS", ds()), ("reader", reader())]
}

/// The one extension with `oid`, asserted present once and with that criticality.
fn extension<'a>(
    cert: &'a X509Certificate<'a>,
    oid: &Oid<'_>,
    critical: bool,
) -> &'a X509Extension<'a> {
    let found: Vec<_> = cert.extensions().iter().filter(|e| &e.oid == oid).collect();
    assert_eq!(found.len(), 1, "{oid} once");
    assert_eq!(found[0].critical, critical, "{oid} critical: {critical}");
    found[0]
}

fn absent(cert: &X509Certificate<'_>, oid: &Oid<'_>) {
    assert!(
        cert.extensions().iter().all(|e| &e.oid != oid),
        "{oid} must be absent"
    );
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value.
fn method_1(cert: &X509Certificate<'_>) -> Vec<u8> {
    let bits = &cert.public_key().subject_public_key.data;
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bits)
        .as_ref()
        .to_vec()
}

fn subject_key_identifier(cert: &X509Certificate<'_>) -> Vec<u8> {
    match extension(cert, &OID_X509_EXT_SUBJECT_KEY_IDENTIFIER, false).parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(k) => k.0.to_vec(),
        other => panic!("subjectKeyIdentifier: {other:?}"),
    }
}

fn authority_key_identifier(cert: &X509Certificate<'_>) -> Vec<u8> {
    match extension(cert, &OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, false).parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(aki) => {
            // keyIdentifier only: no authorityCertIssuer/SerialNumber pair.
            assert!(aki.authority_cert_issuer.is_none());
            assert!(aki.authority_cert_serial.is_none());
            aki.key_identifier.as_ref().unwrap().0.to_vec()
        }
        other => panic!("authorityKeyIdentifier: {other:?}"),
    }
}

fn key_usage_flags(cert: &X509Certificate<'_>) -> u16 {
    match extension(cert, &OID_X509_EXT_KEY_USAGE, true).parsed_extension() {
        ParsedExtension::KeyUsage(ku) => ku.flags,
        other => panic!("keyUsage: {other:?}"),
    }
}

/// digitalSignature is bit 0, keyCertSign bit 5, cRLSign bit 6 (RFC 5280 §4.2.1.3).
const DIGITAL_SIGNATURE: u16 = 1;
const KEY_CERT_SIGN: u16 = 1 << 5;
const CRL_SIGN: u16 = 1 << 6;

fn extended_key_usage(cert: &X509Certificate<'_>) -> Vec<String> {
    match extension(cert, &OID_X509_EXT_EXTENDED_KEY_USAGE, true).parsed_extension() {
        ParsedExtension::ExtendedKeyUsage(eku) => {
            assert!(!eku.any && !eku.server_auth && !eku.client_auth && !eku.code_signing);
            assert!(!eku.email_protection && !eku.time_stamping && !eku.ocsp_signing);
            eku.other.iter().map(|o| o.to_id_string()).collect()
        }
        other => panic!("extKeyUsage: {other:?}"),
    }
}

fn issuer_alt_name_uris(cert: &X509Certificate<'_>) -> Vec<String> {
    match extension(cert, &OID_X509_EXT_ISSUER_ALT_NAME, false).parsed_extension() {
        ParsedExtension::IssuerAlternativeName(ian) => ian
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::URI(uri) => (*uri).to_owned(),
                other => panic!("issuerAltName holds a URI, not {other:?}"),
            })
            .collect(),
        other => panic!("issuerAltName: {other:?}"),
    }
}

/// One distribution point, a fullName URI, no `reasons`, no `cRLIssuer`.
fn crl_distribution_point(cert: &X509Certificate<'_>) -> String {
    match extension(cert, &OID_X509_EXT_CRL_DISTRIBUTION_POINTS, false).parsed_extension() {
        ParsedExtension::CRLDistributionPoints(points) => {
            assert_eq!(points.points.len(), 1);
            let point = &points.points[0];
            assert!(point.reasons.is_none());
            assert!(point.crl_issuer.is_none());
            match &point.distribution_point {
                Some(DistributionPointName::FullName(names)) => match names.as_slice() {
                    [GeneralName::URI(uri)] => (*uri).to_owned(),
                    other => panic!("one URI, not {other:?}"),
                },
                other => panic!("a fullName, not {other:?}"),
            }
        }
        other => panic!("cRLDistributionPoints: {other:?}"),
    }
}

// Rows every table shares.

#[test]
fn version_is_3() {
    for (role, cert) in all() {
        assert_eq!(cert.version().0, 2, "{role}");
    }
}

#[test]
fn signature_is_ecdsa_with_sha256() {
    for (role, cert) in all() {
        assert_eq!(
            cert.signature_algorithm.algorithm, OID_SIG_ECDSA_WITH_SHA256,
            "{role}"
        );
        assert_eq!(
            cert.tbs_certificate.signature.algorithm, OID_SIG_ECDSA_WITH_SHA256,
            "{role}"
        );
    }
}

#[test]
fn subject_public_key_is_p256() {
    for (role, cert) in all() {
        let spki = cert.public_key();
        assert_eq!(
            spki.algorithm.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY,
            "{role}"
        );
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .unwrap()
            .as_oid()
            .unwrap();
        assert_eq!(curve, OID_EC_P256, "{role}");
        assert_eq!(spki.subject_public_key.data.len(), 65, "{role}");
    }
}

#[test]
fn serial_number_is_positive_non_sequential_and_at_most_20_octets() {
    for (role, cert) in all() {
        let raw = cert.raw_serial();
        assert!(raw.len() <= 20, "{role}");
        // Positive: the first octet's top bit is clear; 16 random octets, far more than
        // the 63 bits of entropy asked for.
        assert_eq!(raw[0] & 0x80, 0, "{role}");
        assert_eq!(raw.len(), 16, "{role}");
    }
    assert_ne!(iaca().raw_serial(), ds().raw_serial());
}

#[test]
fn subject_has_a_printable_alpha_2_country_and_a_common_name() {
    for (role, cert) in all() {
        let countries: Vec<_> = cert.subject().iter_country().collect();
        assert_eq!(countries.len(), 1, "{role}");
        assert_eq!(
            countries[0].attr_value().tag(),
            Tag::PrintableString,
            "{role}"
        );
        assert_eq!(countries[0].as_str().unwrap(), "CN", "{role}");
        assert!(cert.subject().iter_common_name().next().is_some(), "{role}");
    }
}

/// B.1.1: these extensions are not used in any Annex B certificate; beyond them, each
/// certificate carries exactly its table's extensions.
#[test]
fn only_the_tables_extensions_and_none_of_the_forbidden() {
    let forbidden = [
        OID_X509_EXT_POLICY_MAPPINGS,
        OID_X509_EXT_NAME_CONSTRAINTS,
        OID_X509_EXT_POLICY_CONSTRAINTS,
        OID_X509_EXT_INHIBIT_ANY_POLICY,
        OID_X509_EXT_FRESHEST_CRL,
    ];
    let table = |role: &str| -> Vec<String> {
        let mut oids = vec![
            OID_X509_EXT_SUBJECT_KEY_IDENTIFIER,
            OID_X509_EXT_KEY_USAGE,
            OID_X509_EXT_ISSUER_ALT_NAME,
            OID_X509_EXT_CRL_DISTRIBUTION_POINTS,
        ];
        match role {
            "IACA" => oids.push(OID_X509_EXT_BASIC_CONSTRAINTS),
            _ => oids.extend([
                OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER,
                OID_X509_EXT_EXTENDED_KEY_USAGE,
            ]),
        }
        let mut ids: Vec<String> = oids.iter().map(Oid::to_id_string).collect();
        ids.sort();
        ids
    };
    for (role, cert) in all() {
        let mut present: Vec<String> = cert
            .extensions()
            .iter()
            .map(|e| e.oid.to_id_string())
            .collect();
        for oid in &forbidden {
            assert!(!present.contains(&oid.to_id_string()), "{role}: {oid}");
        }
        present.sort();
        assert_eq!(present, table(role), "{role}");
    }
}

#[test]
fn eids_own_checks_accept_them() {
    let root = TrustedIaca::new(&made().iaca, NOT_BEFORE).unwrap();
    verify_document_signer(&made().ds, &[root], NOT_BEFORE).unwrap();
    check_reader_certificate(&made().reader, NOT_BEFORE).unwrap();
}

// B.1.2: the IACA root certificate.

#[test]
fn b_1_2_iaca_issuer_is_its_subject() {
    let cert = iaca();
    assert_eq!(cert.issuer().as_raw(), cert.subject().as_raw());
}

#[test]
fn b_1_2_iaca_validity_is_at_most_20_years() {
    let cert = iaca();
    let validity = cert.validity();
    let span = validity.not_after.to_datetime() - validity.not_before.to_datetime();
    assert!(span <= time::Duration::days(20 * 366));
}

#[test]
fn b_1_2_iaca_subject_key_identifier_is_method_1_non_critical() {
    let cert = iaca();
    assert_eq!(subject_key_identifier(&cert), method_1(&cert));
}

#[test]
fn b_1_2_iaca_has_no_authority_key_identifier() {
    // A self-signed root may omit it (RFC 5280 §4.2.1.1); B.1.2 does not ask for it.
    absent(&iaca(), &OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER);
}

#[test]
fn b_1_2_iaca_key_usage_is_critical_key_cert_sign_and_crl_sign() {
    assert_eq!(key_usage_flags(&iaca()), KEY_CERT_SIGN | CRL_SIGN);
}

#[test]
fn b_1_2_iaca_basic_constraints_are_critical_ca_path_len_0() {
    let cert = iaca();
    match extension(&cert, &OID_X509_EXT_BASIC_CONSTRAINTS, true).parsed_extension() {
        ParsedExtension::BasicConstraints(bc) => {
            assert!(bc.ca);
            assert_eq!(bc.path_len_constraint, Some(0));
        }
        other => panic!("basicConstraints: {other:?}"),
    }
}

#[test]
fn b_1_2_iaca_issuer_alt_name_is_a_non_critical_uri() {
    assert_eq!(issuer_alt_name_uris(&iaca()), [URI]);
}

#[test]
fn b_1_2_iaca_crl_distribution_point_is_a_non_critical_uri() {
    assert_eq!(crl_distribution_point(&iaca()), format!("{URI}/iaca.crl"));
}

#[test]
fn b_1_2_iaca_has_no_extended_key_usage() {
    absent(&iaca(), &OID_X509_EXT_EXTENDED_KEY_USAGE);
}

// B.1.4: the document signer certificate.

#[test]
fn b_1_4_ds_issuer_is_the_iaca_and_its_country_the_iacas() {
    let (ds, iaca) = (ds(), iaca());
    assert_eq!(ds.issuer().as_raw(), iaca.subject().as_raw());
    assert_eq!(
        ds.subject().iter_country().next().unwrap().as_slice(),
        iaca.subject().iter_country().next().unwrap().as_slice()
    );
}

#[test]
fn b_1_4_ds_validity_is_at_most_457_days() {
    let cert = ds();
    let validity = cert.validity();
    let span = validity.not_after.to_datetime() - validity.not_before.to_datetime();
    assert!(span <= time::Duration::days(457));
}

#[test]
fn b_1_4_ds_subject_key_identifier_is_method_1_non_critical() {
    let cert = ds();
    assert_eq!(subject_key_identifier(&cert), method_1(&cert));
}

#[test]
fn b_1_4_ds_authority_key_identifier_is_the_iacas_subject_key_identifier() {
    let (ds, iaca) = (ds(), iaca());
    assert_eq!(authority_key_identifier(&ds), subject_key_identifier(&iaca));
    assert_eq!(authority_key_identifier(&ds), method_1(&iaca));
}

#[test]
fn b_1_4_ds_key_usage_is_critical_digital_signature() {
    assert_eq!(key_usage_flags(&ds()), DIGITAL_SIGNATURE);
}

#[test]
fn b_1_4_ds_extended_key_usage_is_critical_mdl_ds() {
    assert_eq!(extended_key_usage(&ds()), ["1.0.18013.5.1.2"]);
}

#[test]
fn b_1_4_ds_has_no_basic_constraints() {
    absent(&ds(), &OID_X509_EXT_BASIC_CONSTRAINTS);
}

#[test]
fn b_1_4_ds_issuer_alt_name_is_a_non_critical_uri() {
    assert_eq!(issuer_alt_name_uris(&ds()), [URI]);
}

#[test]
fn b_1_4_ds_crl_distribution_point_is_a_non_critical_uri() {
    assert_eq!(crl_distribution_point(&ds()), format!("{URI}/iaca.crl"));
}

// B.1.7: the mdoc reader authentication certificate (self-signed: eid pins it in the trust
// list where Annex B has a reader CA issue it).

#[test]
fn b_1_7_reader_validity_is_at_most_457_days() {
    let cert = reader();
    let validity = cert.validity();
    let span = validity.not_after.to_datetime() - validity.not_before.to_datetime();
    assert!(span <= time::Duration::days(457));
}

#[test]
fn b_1_7_reader_subject_key_identifier_is_method_1_non_critical() {
    let cert = reader();
    assert_eq!(subject_key_identifier(&cert), method_1(&cert));
}

#[test]
fn b_1_7_reader_authority_key_identifier_is_its_issuers_its_own() {
    let cert = reader();
    assert_eq!(cert.issuer().as_raw(), cert.subject().as_raw());
    assert_eq!(authority_key_identifier(&cert), method_1(&cert));
}

#[test]
fn b_1_7_reader_key_usage_is_critical_digital_signature() {
    assert_eq!(key_usage_flags(&reader()), DIGITAL_SIGNATURE);
}

#[test]
fn b_1_7_reader_extended_key_usage_is_critical_mdoc_reader() {
    assert_eq!(extended_key_usage(&reader()), ["1.0.18013.5.1.6"]);
}

#[test]
fn b_1_7_reader_has_no_basic_constraints() {
    absent(&reader(), &OID_X509_EXT_BASIC_CONSTRAINTS);
}

#[test]
fn b_1_7_reader_issuer_alt_name_is_a_non_critical_uri() {
    assert_eq!(
        issuer_alt_name_uris(&reader()),
        ["https://hotel.example.cn"]
    );
}

#[test]
fn b_1_7_reader_crl_distribution_point_is_a_non_critical_uri() {
    assert_eq!(
        crl_distribution_point(&reader()),
        "https://hotel.example.cn/reader.crl"
    );
}

#[test]
fn key_identifier_is_method_1_for_any_key() {
    let key = SigningKey::generate().unwrap();
    let expected = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        key.verifying_key().sec1(),
    );
    assert_eq!(
        eid_crypto::x509::key_identifier(key.verifying_key()).as_slice(),
        expected.as_ref()
    );
}
