//! X.509 certificates per ISO/IEC 18013-5:2021 Annex B: the issuing authority's root (IACA,
//! B.1.2), its document-signer certificates (DS, B.1.4) and relying parties' mdoc reader
//! authentication certificates (B.1.7), created with any [`Signer`] and validated to a set of
//! trusted roots.
//!
//! What is created (each row has a test in `tests/annex_b.rs` that reads the certificate
//! back with x509-parser):
//!
//! | | IACA (B.1.2) | DS (B.1.4) | reader (B.1.7) |
//! |---|---|---|---|
//! | version, signature | v3, ecdsa-with-SHA256 | same | same |
//! | key | P-256 | P-256 | P-256 |
//! | serial | 16 random bytes, positive | same | same |
//! | subjectKeyIdentifier | non-critical, SHA-1 of the key | same | same |
//! | authorityKeyIdentifier | — | non-critical, the IACA's SKI | non-critical, its own SKI (self-signed) |
//! | basicConstraints | critical, CA, pathLen 0 | — | — |
//! | keyUsage | critical, keyCertSign + cRLSign | critical, digitalSignature | critical, digitalSignature |
//! | extKeyUsage | — | critical, 1.0.18013.5.1.2 | critical, 1.0.18013.5.1.6 |
//! | issuerAltName | non-critical, URI | same | same |
//! | cRLDistributionPoints | non-critical, one URI | same | same |
//! | B.1.1's forbidden extensions | none | none | none |
//!
//! "SHA-1 of the key" is RFC 5280 §4.2.1.2 method 1, the identifier Annex B asks for: the
//! SHA-1 of the subjectPublicKey BIT STRING's value (tag, length and unused-bits octet
//! excluded), for P-256 the 65-byte uncompressed point.
//!
//! What is enforced when validating (a certificate that breaks any rule is refused with its
//! own [`CertificateError`]):
//!
//! | | IACA | DS | reader |
//! |---|---|---|---|
//! | version, signature, key | v3, ecdsa-with-SHA256, P-256 | same | same |
//! | basicConstraints | critical, CA, pathLen 0 | absent or not a CA | absent or not a CA |
//! | keyUsage | critical, keyCertSign + cRLSign | critical, digitalSignature | critical, digitalSignature |
//! | extKeyUsage | — | critical, contains 1.0.18013.5.1.2 | critical, contains 1.0.18013.5.1.6 |
//! | issuerAltName, CRL distribution points | present | present | present |
//! | key identifiers | SKI present | SKI present; AKI = the IACA's SKI | SKI present |
//! | country | `C` present | `C` equal to the IACA's | `C` present |
//! | validity | at most 20 years | at most 457 days | at most 457 days |
//! | critical extensions | only known ones | only known ones | only known ones |

use eid_core::Random;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, DnValue, IsCa, KeyIdMethod, KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_SIG_ECDSA_WITH_SHA256, Oid};
use x509_parser::prelude::FromDer;

use crate::keys::raw_to_der;
use crate::{CryptoError, Signer, VerifyingKey};

/// The extended key usage of an mdoc document signer, 1.0.18013.5.1.2 (ISO 18013-5 Annex B).
pub const MDL_DS_EKU: &[u64] = &[1, 0, 18013, 5, 1, 2];
/// The extended key usage of an mdoc reader authentication certificate, 1.0.18013.5.1.6
/// (ISO 18013-5 Annex B.1.7).
pub const MDL_READER_EKU: &[u64] = &[1, 0, 18013, 5, 1, 6];
/// Longest IACA validity Annex B allows.
pub const IACA_MAX_VALIDITY: Duration = Duration::days(20 * 366);
/// Longest DS validity Annex B allows (457 days).
pub const DS_MAX_VALIDITY: Duration = Duration::days(457);

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// Not a DER certificate, or bytes after it.
    #[error("not a DER X.509 certificate")]
    Malformed,
    /// Not version 3.
    #[error("the certificate is not X.509 version 3")]
    NotVersion3,
    /// Signed with an algorithm other than ecdsa-with-SHA256.
    #[error("the certificate is signed with an algorithm other than ecdsa-with-SHA256")]
    SignatureAlgorithm,
    /// The subject key is not a P-256 key.
    #[error("the certificate's key is not a P-256 key")]
    PublicKey,
    /// Outside its validity period.
    #[error("the {role} certificate is not valid at {at} (valid {not_before} to {not_after})")]
    OutsideValidity {
        /// `IACA` or `DS`.
        role: &'static str,
        /// The time checked.
        at: OffsetDateTime,
        /// Start of validity.
        not_before: OffsetDateTime,
        /// End of validity.
        not_after: OffsetDateTime,
    },
    /// Valid for longer than the profile allows.
    #[error("the {0} certificate's validity period is longer than Annex B allows")]
    ValidityTooLong(&'static str),
    /// A required extension is missing or not critical where it must be.
    #[error(
        "the {role} certificate lacks a required {extension} extension (or it is not critical)"
    )]
    MissingExtension {
        /// `IACA` or `DS`.
        role: &'static str,
        /// Which.
        extension: &'static str,
    },
    /// Key usage other than the profile's.
    #[error("the {0} certificate's key usage is not the profile's")]
    KeyUsage(&'static str),
    /// The DS certificate lacks the mdlDS extended key usage.
    #[error("the DS certificate's extended key usage is not 1.0.18013.5.1.2")]
    ExtendedKeyUsage,
    /// The reader certificate lacks the mdoc reader extended key usage.
    #[error("the reader certificate's extended key usage is not 1.0.18013.5.1.6")]
    ReaderExtendedKeyUsage,
    /// A CA where none may be, or not a CA where one must be.
    #[error("the {0} certificate's basic constraints are not the profile's")]
    BasicConstraints(&'static str),
    /// No `C` in the subject, or the DS's differs from the IACA's.
    #[error("the country in the subject is missing or differs from the IACA's")]
    Country,
    /// No trusted IACA has the DS certificate's issuer as subject and key.
    #[error("the document signer was not issued by a trusted IACA")]
    UntrustedIssuer,
    /// The DS's authority key identifier is not the IACA's subject key identifier.
    #[error("the DS certificate's authority key identifier does not match the IACA")]
    AuthorityKeyIdentifier,
    /// The signature does not verify.
    #[error("the {0} certificate's signature does not verify")]
    Signature(&'static str),
    /// A critical extension this profile does not know (RFC 5280 §4.2).
    #[error("the {0} certificate has a critical extension that is not understood")]
    UnknownCriticalExtension(&'static str),
}

/// The subject of an IACA or DS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// ISO 3166 alpha-2 country code (`CN`).
    pub country: String,
    /// Province, optional.
    pub state: Option<String>,
    /// Organisation (`南宁市公安局`).
    pub organization: String,
    /// Common name.
    pub common_name: String,
}

impl Subject {
    fn distinguished_name(&self) -> Result<DistinguishedName, CryptoError> {
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CryptoError::CertificateBuild(
                "the country must be an ISO 3166 alpha-2 code such as CN".into(),
            ));
        }
        let country = rcgen::string::PrintableString::try_from(self.country.clone())
            .map_err(|e| CryptoError::CertificateBuild(e.to_string()))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, DnValue::PrintableString(country));
        if let Some(state) = &self.state {
            dn.push(
                DnType::StateOrProvinceName,
                DnValue::Utf8String(state.clone()),
            );
        }
        dn.push(
            DnType::OrganizationName,
            DnValue::Utf8String(self.organization.clone()),
        );
        dn.push(
            DnType::CommonName,
            DnValue::Utf8String(self.common_name.clone()),
        );
        Ok(dn)
    }
}

/// What both certificate kinds carry besides the subject and key.
#[derive(Debug, Clone)]
pub struct CertificateTerms {
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The issuer alternative name: a URI where the issuing authority can be reached.
    pub issuer_alt_name_uri: String,
    /// Where the IACA's certificate revocation list is published.
    pub crl_uri: String,
}

/// A DER certificate as created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDer(pub Vec<u8>);

impl CertificateDer {
    /// PEM (`CERTIFICATE`).
    pub fn to_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.0)
    }
}

/// Lets rcgen sign through a [`Signer`] (so an HSM can sign certificates too).
struct RcgenSigner<'a> {
    signer: &'a dyn Signer,
}

impl rcgen::PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.signer.verifying_key().sec1()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let raw = self
            .signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        raw_to_der(&raw).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A subject public key for rcgen.
struct SubjectKey<'a>(&'a VerifyingKey);

impl rcgen::PublicKeyData for SubjectKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.sec1()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

fn serial(random: &dyn Random) -> Result<SerialNumber, CryptoError> {
    // 20 octets at most (RFC 5280 §4.1.2.2), positive, at least 63 random bits: 16 bytes.
    let mut bytes = [0u8; 16];
    random
        .fill(&mut bytes)
        .map_err(|_| CryptoError::SigningFailed)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// DER of GeneralNames with one uniformResourceIdentifier ([6] IA5String).
fn general_names_uri(uri: &str) -> Result<Vec<u8>, CryptoError> {
    if !uri.is_ascii() || uri.is_empty() {
        return Err(CryptoError::CertificateBuild(
            "a URI must be non-empty ASCII".into(),
        ));
    }
    let inner = der_tlv(0x86, uri.as_bytes());
    Ok(der_tlv(0x30, &inner))
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The key identifier of `key` as Annex B has it (RFC 5280 §4.2.1.2, method 1): the SHA-1 of
/// the value of the subjectPublicKey BIT STRING, without its tag, length and unused-bits
/// octet; for a P-256 key, of its 65-byte uncompressed point. SHA-1 names the key here; it
/// protects nothing (the signature over the certificate does).
pub fn key_identifier(key: &VerifyingKey) -> [u8; 20] {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, key.sec1());
    let mut out = [0u8; 20];
    out.copy_from_slice(digest.as_ref());
    out
}

/// subjectKeyIdentifier (2.5.29.14), non-critical (RFC 5280 §4.2.1.2): an OCTET STRING with
/// [`key_identifier`]. rcgen writes this extension only together with basicConstraints, which
/// a DS or reader certificate must not carry, so leaves get it from here.
fn subject_key_identifier_extension(key: &VerifyingKey) -> CustomExtension {
    CustomExtension::from_oid_content(&[2, 5, 29, 14], der_tlv(0x04, &key_identifier(key)))
}

/// extKeyUsage (2.5.29.37), critical (Annex B.1.4 and B.1.7): SEQUENCE { OID 1.0.18013.5.1.`last` }.
/// rcgen writes its own as non-critical. OID content: 0x28 is 1.0 (1 × 40 + 0), then 18013
/// in base 128 (0x81 0x8C 0x5D), 5, 1, `last`.
fn mdoc_extended_key_usage(last: u8) -> CustomExtension {
    let mut eku = CustomExtension::from_oid_content(
        &[2, 5, 29, 37],
        der_tlv(
            0x30,
            &der_tlv(0x06, &[0x28, 0x81, 0x8C, 0x5D, 0x05, 0x01, last]),
        ),
    );
    eku.set_criticality(true);
    eku
}

/// What a DS (Annex B.1.4) and a reader certificate (B.1.7) share: no basicConstraints,
/// keyUsage critical with digitalSignature only, the critical extKeyUsage 1.0.18013.5.1.`eku`,
/// subject and authority key identifiers.
fn signing_leaf_params(
    subject: &Subject,
    terms: &CertificateTerms,
    subject_key: &VerifyingKey,
    eku: u8,
    random: &dyn Random,
) -> Result<CertificateParams, CryptoError> {
    let mut params = common_params(subject, terms, random)?;
    // `NoCa` writes no basicConstraints at all: the DS and reader tables have none, and
    // readers such as isomdl refuse a critical one they do not expect.
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // authorityKeyIdentifier, non-critical: rcgen takes the issuer's subjectKeyIdentifier
    // (for a self-signed reader, `key_identifier_method` below, the certificate's own).
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(subject_key).to_vec());
    params
        .custom_extensions
        .push(subject_key_identifier_extension(subject_key));
    params.custom_extensions.push(mdoc_extended_key_usage(eku));
    Ok(params)
}

fn common_params(
    subject: &Subject,
    terms: &CertificateTerms,
    random: &dyn Random,
) -> Result<CertificateParams, CryptoError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject.distinguished_name()?;
    params.not_before = terms.not_before;
    params.not_after = terms.not_after;
    params.serial_number = Some(serial(random)?);
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![terms.crl_uri.clone()],
    }];
    // issuerAltName (2.5.29.18), non-critical.
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[2, 5, 29, 18],
            general_names_uri(&terms.issuer_alt_name_uri)?,
        ));
    Ok(params)
}

fn build_error(e: rcgen::Error) -> CryptoError {
    CryptoError::CertificateBuild(e.to_string())
}

/// Creates a self-signed IACA root certificate (ISO 18013-5 Annex B.1.2) for `signer`'s key.
pub fn create_iaca(
    subject: &Subject,
    terms: &CertificateTerms,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<CertificateDer, CryptoError> {
    if terms.not_after - terms.not_before > IACA_MAX_VALIDITY {
        return Err(CryptoError::CertificateBuild(
            "an IACA is valid for 20 years at most".into(),
        ));
    }
    let mut params = common_params(subject, terms, random)?;
    // basicConstraints critical, CA, pathLenConstraint 0 (Annex B.1.2): the IACA issues
    // leaves only. rcgen writes it critical, with the subjectKeyIdentifier (non-critical),
    // whose value is set here to Annex B's method.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_identifier_method =
        KeyIdMethod::PreSpecified(key_identifier(signer.verifying_key()).to_vec());
    // keyUsage critical (rcgen always writes it so), keyCertSign and cRLSign only.
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = RcgenSigner { signer };
    let cert = params.self_signed(&key).map_err(build_error)?;
    Ok(CertificateDer(cert.der().to_vec()))
}

/// Creates a document-signer certificate (ISO 18013-5 Annex B.1.4) for `subject_key`,
/// issued by the IACA `iaca` whose key is `iaca_signer`.
pub fn create_document_signer(
    subject: &Subject,
    terms: &CertificateTerms,
    subject_key: &VerifyingKey,
    iaca: &CertificateDer,
    iaca_signer: &dyn Signer,
    random: &dyn Random,
) -> Result<CertificateDer, CryptoError> {
    if terms.not_after - terms.not_before > DS_MAX_VALIDITY {
        return Err(CryptoError::CertificateBuild(
            "a DS is valid for 457 days at most".into(),
        ));
    }
    // extKeyUsage 1.0.18013.5.1.2 (mdlDS); the authority key identifier is the IACA's
    // subjectKeyIdentifier as written in its certificate (rcgen reads it from the DER).
    let params = signing_leaf_params(subject, terms, subject_key, 2, random)?;
    let ca_der = rustls_pki_types::CertificateDer::from(iaca.0.as_slice());
    let issuer = rcgen::Issuer::from_ca_cert_der(
        &ca_der,
        RcgenSigner {
            signer: iaca_signer,
        },
    )
    .map_err(build_error)?;
    let cert = params
        .signed_by(&SubjectKey(subject_key), &issuer)
        .map_err(build_error)?;
    Ok(CertificateDer(cert.der().to_vec()))
}

/// Creates a relying party's mdoc reader authentication certificate with the ISO 18013-5
/// Annex B.1.7 extensions (see the module's table), self-signed: eid pins it in the relying
/// party's registration in the signed trust list, which is what vouches for it, where
/// Annex B has a reader CA issue it.
pub fn create_reader_certificate(
    subject: &Subject,
    terms: &CertificateTerms,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<CertificateDer, CryptoError> {
    if terms.not_after - terms.not_before > DS_MAX_VALIDITY {
        return Err(CryptoError::CertificateBuild(
            "a reader certificate is valid for 457 days at most".into(),
        ));
    }
    // extKeyUsage 1.0.18013.5.1.6 (mdoc reader authentication). Annex B.1.7 has a reader
    // CA issue the certificate; this one is its own issuer, so its authority key identifier
    // is its own subject key identifier.
    let params = signing_leaf_params(subject, terms, signer.verifying_key(), 6, random)?;
    let cert = params
        .self_signed(&RcgenSigner { signer })
        .map_err(build_error)?;
    Ok(CertificateDer(cert.der().to_vec()))
}

/// Checks a reader authentication certificate at `now` and returns its key: the common
/// profile (as for a DS: version, algorithm, validity of at most 457 days, extensions),
/// not a CA, digitalSignature only, extended key usage 1.0.18013.5.1.6. Whose certificate
/// it is, is for the caller to establish (eid: byte-equal to the one registered in the
/// trust list).
pub fn check_reader_certificate(
    der: &[u8],
    now: OffsetDateTime,
) -> Result<VerifyingKey, CertificateError> {
    let cert = parse(der)?;
    check_common(&cert, "reader", now, DS_MAX_VALIDITY)?;
    check_signing_leaf(
        &cert,
        "reader",
        MDL_READER_EKU,
        CertificateError::ReaderExtendedKeyUsage,
    )
}

/// An issuing authority's certificates and software keys: an IACA root and one document
/// signer under it, both with the Annex B profile, checked against each other when made.
/// What `eid pki init` writes, and what tests and demos issue with.
pub struct AuthorityPki {
    /// The IACA's key (signs certificates only).
    pub iaca_key: crate::SigningKey,
    /// The IACA root certificate.
    pub iaca: CertificateDer,
    /// The document signer's key (signs MSOs and SD-JWTs).
    pub ds_key: crate::SigningKey,
    /// The document-signer certificate.
    pub ds: CertificateDer,
}

impl AuthorityPki {
    /// Makes a root valid for `iaca_days` and a DS valid for `ds_days`, both from
    /// `not_before`, for `organization` in `country`, reachable at `uri` (issuer alternative
    /// name; the CRL is published at `uri/iaca.crl`).
    pub fn generate(
        organization: &str,
        country: &str,
        uri: &str,
        not_before: OffsetDateTime,
        (iaca_days, ds_days): (i64, i64),
        random: &dyn Random,
    ) -> Result<Self, CryptoError> {
        let terms = |days: i64| CertificateTerms {
            not_before,
            not_after: not_before + Duration::days(days),
            issuer_alt_name_uri: uri.to_owned(),
            crl_uri: format!("{}/iaca.crl", uri.trim_end_matches('/')),
        };
        let subject = |cn: &str| Subject {
            country: country.to_owned(),
            state: None,
            organization: organization.to_owned(),
            common_name: format!("{organization} {cn}"),
        };
        let iaca_key = crate::SigningKey::generate()?;
        let iaca = create_iaca(&subject("IACA"), &terms(iaca_days), &iaca_key, random)?;
        let ds_key = crate::SigningKey::generate()?;
        let ds = create_document_signer(
            &subject("DS"),
            &terms(ds_days),
            ds_key.verifying_key(),
            &iaca,
            &iaca_key,
            random,
        )?;
        let root = TrustedIaca::new(&iaca.0, not_before)
            .map_err(|e| CryptoError::CertificateBuild(e.to_string()))?;
        verify_document_signer(&ds.0, &[root], not_before)
            .map_err(|e| CryptoError::CertificateBuild(e.to_string()))?;
        Ok(Self {
            iaca_key,
            iaca,
            ds_key,
            ds,
        })
    }

    /// The root as a trust anchor, checked at `now`.
    pub fn trusted_root(&self, now: OffsetDateTime) -> Result<TrustedIaca, CertificateError> {
        TrustedIaca::new(&self.iaca.0, now)
    }
}

/// A trusted IACA root, validated once when loaded.
#[derive(Debug, Clone)]
pub struct TrustedIaca {
    der: Vec<u8>,
    key: VerifyingKey,
    subject_raw: Vec<u8>,
    key_identifier: Option<Vec<u8>>,
    country: Option<String>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl TrustedIaca {
    /// Checks `der` against the IACA profile at `now` and keeps it as a trust anchor.
    pub fn new(der: &[u8], now: OffsetDateTime) -> Result<Self, CertificateError> {
        let cert = parse(der)?;
        check_common(&cert, "IACA", now, IACA_MAX_VALIDITY)?;
        let key = public_key(&cert)?;
        match cert.basic_constraints() {
            Ok(Some(bc))
                if bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0) => {}
            _ => return Err(CertificateError::BasicConstraints("IACA")),
        }
        match cert.key_usage() {
            // keyCertSign (bit 5) and cRLSign (bit 6), nothing else.
            Ok(Some(ku)) if ku.critical && ku.value.flags == (1 << 5) | (1 << 6) => {}
            Ok(Some(_)) => return Err(CertificateError::KeyUsage("IACA")),
            _ => {
                return Err(CertificateError::MissingExtension {
                    role: "IACA",
                    extension: "keyUsage",
                });
            }
        }
        if cert.tbs_certificate.issuer.as_raw() != cert.tbs_certificate.subject.as_raw() {
            return Err(CertificateError::Signature("IACA"));
        }
        key.verify_der_signature(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
            .map_err(|_| CertificateError::Signature("IACA"))?;
        Ok(Self {
            der: der.to_vec(),
            key,
            subject_raw: cert.tbs_certificate.subject.as_raw().to_vec(),
            key_identifier: subject_key_identifier(&cert),
            country: country(&cert),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
        })
    }

    /// From a `CERTIFICATE` PEM.
    pub fn from_pem(text: &str, now: OffsetDateTime) -> Result<Self, CertificateError> {
        let der =
            crate::pem::decode("CERTIFICATE", text).map_err(|_| CertificateError::Malformed)?;
        Self::new(&der, now)
    }

    /// The root's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The root's public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// A document signer that chains to a trusted IACA.
#[derive(Debug, Clone)]
pub struct VerifiedDocumentSigner {
    /// The DS certificate's public key, which signs MSOs and SD-JWTs.
    pub key: VerifyingKey,
    /// Which of the trusted roots issued it (index into the slice given).
    pub iaca_index: usize,
    /// The DS subject's common name.
    pub common_name: Option<String>,
    /// Start of the DS certificate's validity.
    pub not_before: OffsetDateTime,
    /// End of the DS certificate's validity.
    pub not_after: OffsetDateTime,
}

/// Checks a DS certificate against the DS profile at `now` (no chain): for certificates
/// whose IACA is not at hand, such as the Annex D example.
pub fn check_document_signer_profile(
    der: &[u8],
    now: OffsetDateTime,
) -> Result<VerifyingKey, CertificateError> {
    let cert = parse(der)?;
    check_ds(&cert, now)
}

fn check_ds(
    cert: &X509Certificate<'_>,
    now: OffsetDateTime,
) -> Result<VerifyingKey, CertificateError> {
    check_common(cert, "DS", now, DS_MAX_VALIDITY)?;
    check_signing_leaf(cert, "DS", MDL_DS_EKU, CertificateError::ExtendedKeyUsage)
}

/// A leaf that signs: not a CA, critical keyUsage digitalSignature only, critical
/// extKeyUsage containing `eku`. Returns its key.
fn check_signing_leaf(
    cert: &X509Certificate<'_>,
    role: &'static str,
    eku: &[u64],
    wrong_eku: CertificateError,
) -> Result<VerifyingKey, CertificateError> {
    let key = public_key(cert)?;
    match cert.basic_constraints() {
        Ok(None) => {}
        Ok(Some(bc)) if !bc.value.ca => {}
        _ => return Err(CertificateError::BasicConstraints(role)),
    }
    match cert.key_usage() {
        // digitalSignature (bit 0), nothing else.
        Ok(Some(ku)) if ku.critical && ku.value.flags == 1 => {}
        Ok(Some(_)) => return Err(CertificateError::KeyUsage(role)),
        _ => {
            return Err(CertificateError::MissingExtension {
                role,
                extension: "keyUsage",
            });
        }
    }
    let wanted = Oid::from(eku).map_err(|_| wrong_eku.clone())?;
    match cert.extended_key_usage() {
        Ok(Some(e)) if e.critical && e.value.other.contains(&wanted) => Ok(key),
        Ok(Some(_)) => Err(wrong_eku),
        _ => Err(CertificateError::MissingExtension {
            role,
            extension: "extKeyUsage",
        }),
    }
}

/// Validates a DS certificate and its chain to one of `roots` at `now`: the DS profile, the
/// issuer name and key identifier, the IACA's signature, and the country.
pub fn verify_document_signer(
    der: &[u8],
    roots: &[TrustedIaca],
    now: OffsetDateTime,
) -> Result<VerifiedDocumentSigner, CertificateError> {
    let cert = parse(der)?;
    let key = check_ds(&cert, now)?;
    // Several trusted roots may share a name (a renewed IACA keeps its subject): the one
    // whose key verifies the signature is the issuer.
    let issuer = cert.tbs_certificate.issuer.as_raw();
    let mut named = roots
        .iter()
        .enumerate()
        .filter(|(_, r)| r.subject_raw == issuer)
        .peekable();
    if named.peek().is_none() {
        return Err(CertificateError::UntrustedIssuer);
    }
    let (iaca_index, root) = named
        .find(|(_, r)| {
            r.key
                .verify_der_signature(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
                .is_ok()
        })
        .ok_or(CertificateError::Signature("DS"))?;
    // The root was valid when loaded; it must still be at the time of this verification.
    if now < root.not_before || now > root.not_after {
        return Err(CertificateError::OutsideValidity {
            role: "IACA",
            at: now,
            not_before: root.not_before,
            not_after: root.not_after,
        });
    }
    let aki = cert
        .tbs_certificate
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    match (&aki, &root.key_identifier) {
        (Some(a), Some(s)) if a == s => {}
        (None, _) => {
            return Err(CertificateError::MissingExtension {
                role: "DS",
                extension: "authorityKeyIdentifier",
            });
        }
        _ => return Err(CertificateError::AuthorityKeyIdentifier),
    }
    if country(&cert).is_none() || country(&cert) != root.country {
        return Err(CertificateError::Country);
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    Ok(VerifiedDocumentSigner {
        key,
        iaca_index,
        common_name,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
    })
}

/// A set of trusted roots with a cache of the document signers verified under them.
///
/// Every presentation carries its DS certificate; checking its chain costs one more
/// signature verify than the presentation itself. The DS certificates of a trust list are
/// few (a handful per issuing authority), so a verifier checks each once. A hit is the same
/// certificate bytes (compared in full, not by a digest of them) under the same root: the
/// cache belongs to one set of roots, which it holds and never changes, so a new trust list
/// means a new cache and nothing checked under the old one is trusted under the new. At each
/// use the validity windows of the DS and of its root are checked again. The cache holds at
/// most `capacity` signers and is emptied when full (a verifier sees a handful; a flood of
/// distinct certificates costs full checks, never memory).
pub struct DocumentSignerCache {
    roots: Vec<TrustedIaca>,
    capacity: usize,
    entries: std::sync::Mutex<std::collections::HashMap<Box<[u8]>, VerifiedDocumentSigner>>,
    /// Chains checked in full (the misses), for tests and monitoring.
    chains_checked: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for DocumentSignerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentSignerCache")
            .field("roots", &self.roots.len())
            .field("capacity", &self.capacity)
            .field("chains_checked", &self.chains_checked())
            .finish_non_exhaustive()
    }
}

impl DocumentSignerCache {
    /// A cache for `roots`, holding at most `capacity` document signers.
    pub fn new(roots: Vec<TrustedIaca>, capacity: usize) -> Self {
        Self {
            roots,
            capacity,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
            chains_checked: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The roots.
    pub fn roots(&self) -> &[TrustedIaca] {
        &self.roots
    }

    /// How many chains were checked in full since the cache was made (the calls that did
    /// not find the certificate cached, whether it then verified or not).
    pub fn chains_checked(&self) -> u64 {
        self.chains_checked
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`verify_document_signer`] against the cache's roots, once per certificate; the
    /// validity of the DS and of its root at every call.
    pub fn verify(
        &self,
        der: &[u8],
        now: OffsetDateTime,
    ) -> Result<VerifiedDocumentSigner, CertificateError> {
        let cached = self
            .entries
            .lock()
            .ok()
            .and_then(|entries| entries.get(der).cloned());
        if let Some(hit) = cached {
            if now < hit.not_before || now > hit.not_after {
                return Err(CertificateError::OutsideValidity {
                    role: "DS",
                    at: now,
                    not_before: hit.not_before,
                    not_after: hit.not_after,
                });
            }
            let root = self
                .roots
                .get(hit.iaca_index)
                .ok_or(CertificateError::UntrustedIssuer)?;
            if now < root.not_before || now > root.not_after {
                return Err(CertificateError::OutsideValidity {
                    role: "IACA",
                    at: now,
                    not_before: root.not_before,
                    not_after: root.not_after,
                });
            }
            return Ok(hit);
        }
        self.chains_checked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let verified = verify_document_signer(der, &self.roots, now)?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(der.into(), verified.clone());
        }
        Ok(verified)
    }
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertificateError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        _ => Err(CertificateError::Malformed),
    }
}

fn check_common(
    cert: &X509Certificate<'_>,
    role: &'static str,
    now: OffsetDateTime,
    max_validity: Duration,
) -> Result<(), CertificateError> {
    if cert.version().0 != 2 {
        return Err(CertificateError::NotVersion3);
    }
    if cert.signature_algorithm.algorithm != OID_SIG_ECDSA_WITH_SHA256
        || cert.tbs_certificate.signature.algorithm != OID_SIG_ECDSA_WITH_SHA256
    {
        return Err(CertificateError::SignatureAlgorithm);
    }
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    if now < not_before || now > not_after {
        return Err(CertificateError::OutsideValidity {
            role,
            at: now,
            not_before,
            not_after,
        });
    }
    if not_after - not_before > max_validity {
        return Err(CertificateError::ValidityTooLong(role));
    }
    let has = |wanted: fn(&ParsedExtension<'_>) -> bool| {
        cert.tbs_certificate
            .extensions()
            .iter()
            .any(|e| wanted(e.parsed_extension()))
    };
    if !has(|e| matches!(e, ParsedExtension::SubjectKeyIdentifier(_))) {
        return Err(CertificateError::MissingExtension {
            role,
            extension: "subjectKeyIdentifier",
        });
    }
    if !has(
        |e| matches!(e, ParsedExtension::IssuerAlternativeName(ian) if !ian.general_names.is_empty() && ian.general_names.iter().all(|n| matches!(n, GeneralName::URI(_) | GeneralName::RFC822Name(_)))),
    ) {
        return Err(CertificateError::MissingExtension {
            role,
            extension: "issuerAltName",
        });
    }
    if !has(|e| matches!(e, ParsedExtension::CRLDistributionPoints(_))) {
        return Err(CertificateError::MissingExtension {
            role,
            extension: "cRLDistributionPoints",
        });
    }
    if country(cert).is_none() {
        return Err(CertificateError::Country);
    }
    if cert.tbs_certificate.extensions().iter().any(|e| {
        e.critical
            && matches!(
                e.parsed_extension(),
                ParsedExtension::UnsupportedExtension { .. }
            )
    }) {
        return Err(CertificateError::UnknownCriticalExtension(role));
    }
    Ok(())
}

fn public_key(cert: &X509Certificate<'_>) -> Result<VerifyingKey, CertificateError> {
    VerifyingKey::from_spki_der(cert.tbs_certificate.subject_pki.raw)
        .map_err(|_| CertificateError::PublicKey)
}

fn subject_key_identifier(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.tbs_certificate
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

fn country(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_country()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use eid_core::OsRandom;
    use time::macros::datetime;

    use super::*;
    use crate::SigningKey;

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
        assert!(
            create_reader_certificate(&subject("CN", "x"), &terms(500), &key, &OsRandom).is_err()
        );
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
}
