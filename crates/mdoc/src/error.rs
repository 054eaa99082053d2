//! Why an mdoc was refused: one variant per check.

use eid_crypto::CryptoError;
use eid_crypto::x509::CertificateError;

/// Why an mdoc structure or its verification failed. Element identifiers and namespaces
/// may be named; element values never are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MdocError {
    /// Not the CBOR structure ISO 18013-5 defines.
    #[error("malformed CBOR: {0}")]
    Malformed(&'static str),
    /// Bytes after the structure.
    #[error("trailing bytes after the CBOR structure")]
    TrailingData,
    /// Larger or deeper than accepted.
    #[error("the CBOR input is larger or deeper than accepted")]
    TooLarge,
    /// The COSE protected header has no `alg`.
    #[error("the COSE protected header names no alg")]
    MissingAlgorithm,
    /// The algorithm is not allowed, or not the key's.
    #[error("algorithm: {0}")]
    Algorithm(CryptoError),
    /// issuerAuth carries no x5chain.
    #[error("issuerAuth carries no document-signer certificate (x5chain)")]
    MissingCertificate,
    /// The document signer does not chain to a trusted IACA.
    #[error("the document signer is not trusted: {0}")]
    IssuerCertificate(CertificateError),
    /// The issuer signature over the MSO does not verify.
    #[error("the issuer signature (issuerAuth) does not verify")]
    IssuerSignature,
    /// The MSO names a digest algorithm other than SHA-256.
    #[error("digest algorithm {0:?} is not supported (only SHA-256)")]
    UnsupportedDigestAlgorithm(String),
    /// The MSO has no digest for a disclosed element.
    #[error("the MSO has no digest for {namespace}/{element}")]
    MissingDigest {
        /// Its namespace.
        namespace: String,
        /// Its identifier.
        element: String,
    },
    /// A disclosed element's digest differs from the MSO's.
    #[error("the digest of {namespace}/{element} does not match the MSO")]
    DigestMismatch {
        /// Its namespace.
        namespace: String,
        /// Its identifier.
        element: String,
    },
    /// The document's docType differs from the MSO's or from the one expected.
    #[error("the docType does not match")]
    DocTypeMismatch,
    /// validityInfo is not ordered `signed ≤ validFrom < validUntil`.
    #[error("the MSO's validityInfo is not ordered signed <= validFrom < validUntil")]
    MalformedValidity,
    /// The device authentication names no or another algorithm.
    #[error("device authentication algorithm: {0}")]
    DeviceAlgorithm(String),
    /// Before validFrom.
    #[error("the MSO is not valid yet")]
    NotYetValid,
    /// After validUntil.
    #[error("the MSO has expired")]
    Expired,
    /// The device signature over DeviceAuthenticationBytes does not verify.
    #[error(
        "the device signature does not verify (another session, or not the device the credential is bound to)"
    )]
    DeviceSignature,
    /// The device MAC over DeviceAuthenticationBytes does not verify.
    #[error(
        "the device MAC does not verify (another session, or not the device the credential is bound to)"
    )]
    DeviceMac,
    /// A MAC-authenticated document came without the reader key needed to check it.
    #[error("the document is MAC-authenticated; checking it needs the reader's ephemeral key")]
    MissingReaderKey,
    /// A session message does not decrypt with the session key and counter.
    #[error("a session message does not decrypt")]
    SessionDecryption,
    /// A DocRequest carries no readerAuth where one is required.
    #[error("the request is not signed by the reader (no readerAuth)")]
    MissingReaderAuth,
    /// The reader's signature over ReaderAuthenticationBytes does not verify.
    #[error("the reader's signature over the request does not verify")]
    ReaderSignature,
    /// The holder asked to disclose an element the credential does not have.
    #[error("the credential has no data element {0:?}")]
    NotDisclosable(String),
    /// The credential's status is not valid.
    #[error("the credential's status is {0}")]
    Status(&'static str),
    /// The status could not be established.
    #[error("the credential's status could not be checked: {0}")]
    StatusUnavailable(String),
    /// The MSO's deviceKey is not a usable P-256 COSE_Key.
    #[error("the MSO's deviceKey is not a usable P-256 COSE_Key")]
    MalformedDeviceKey,
}

/// The checks of reader-side verification in the order they run, as reports name them.
pub const CHECKS: [&str; 9] = [
    "format",
    "issuer_trust",
    "issuer_signature",
    "digests",
    "doc_type",
    "validity",
    "device_key",
    "status",
    "device_auth",
];

impl MdocError {
    /// Which of [`CHECKS`] refused.
    pub fn check(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::TrailingData | Self::TooLarge | Self::NotDisclosable(_) => {
                "format"
            }
            Self::MissingCertificate | Self::IssuerCertificate(_) => "issuer_trust",
            Self::MissingAlgorithm | Self::Algorithm(_) | Self::IssuerSignature => {
                "issuer_signature"
            }
            Self::UnsupportedDigestAlgorithm(_)
            | Self::MissingDigest { .. }
            | Self::DigestMismatch { .. } => "digests",
            Self::DocTypeMismatch => "doc_type",
            Self::NotYetValid | Self::Expired | Self::MalformedValidity => "validity",
            Self::MalformedDeviceKey => "device_key",
            Self::DeviceSignature
            | Self::DeviceMac
            | Self::MissingReaderKey
            | Self::SessionDecryption => "device_auth",
            Self::DeviceAlgorithm(_) => "device_auth",
            Self::Status(_) | Self::StatusUnavailable(_) => "status",
            Self::MissingReaderAuth | Self::ReaderSignature => "reader_auth",
        }
    }
}
