//! X.509 certificates per ISO/IEC 18013-5:2021 Annex B: the issuing authority's root (IACA,
//! B.1.2), its document-signer certificates (DS, B.1.4) and relying parties' mdoc reader
//! authentication certificates (B.1.7), created with any [`Signer`](crate::Signer) and validated to a set of
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
//!
//! **SM2.** A deployment that chooses the national algorithms has IACA and DS certificates
//! with SM2 keys (curve sm2p256v1, 1.2.156.10197.1.301) signed with SM2 and SM3
//! (1.2.156.10197.1.501, no parameters; the default distinguishing identifier), otherwise
//! the same profile. rcgen writes only the algorithms it knows, so such a certificate is
//! made with P-256 labels, relabelled and signed again. A chain is of one algorithm: the DS
//! key, its certificate's signature and its root's key. A root is read as SM2 only where
//! the caller allows it ([`TrustedIaca::new_allowing`], from the trust list's issuer entry);
//! reader certificates stay P-256.

use rcgen::{DistinguishedName, DnType, DnValue};
use time::{Duration, OffsetDateTime};

use crate::{CryptoError, VerifyingKey};

mod create;
mod validate;

pub use create::{AuthorityPki, create_document_signer, create_iaca, create_reader_certificate};
pub use validate::{
    DocumentSignerCache, TrustedIaca, VerifiedDocumentSigner, check_document_signer_profile,
    check_reader_certificate, document_signer_terms, verify_document_signer,
};

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
    /// Signed with an algorithm other than ecdsa-with-SHA256 (or, where the caller allows
    /// it, SM2 with SM3), or named differently inside and outside the signed part.
    #[error(
        "the certificate is signed with an algorithm other than the one allowed (ecdsa-with-SHA256, or SM2 with SM3 where the trust list names it)"
    )]
    SignatureAlgorithm,
    /// The subject key is not a P-256 key (or, where the caller allows it, an SM2 key).
    #[error(
        "the certificate's key is not of the algorithm allowed (a P-256 key, or SM2 where the trust list names it)"
    )]
    PublicKey,
    /// The key, the signature and the issuer's key are not all of one algorithm.
    #[error("the {0} certificate's key or signature is not of its issuer's algorithm")]
    AlgorithmMismatch(&'static str),
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

#[cfg(test)]
mod sm2_tests;
#[cfg(test)]
mod tests;
