//! Why an SD-JWT was refused: one variant per check.

use eid_crypto::CryptoError;
use eid_crypto::x509::CertificateError;

/// Why an SD-JWT or SD-JWT VC was refused. Each check of verification has its own variant,
/// and none carries a claim value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdJwtError {
    /// The compact form is not `JWT~disclosure~…~[KB-JWT]`, or a part is not base64url JSON.
    #[error("malformed SD-JWT: {0}")]
    Malformed(&'static str),
    /// Larger than [`crate::MAX_LEN`] or nested deeper than [`crate::MAX_DEPTH`].
    #[error("the SD-JWT is larger or deeper than accepted")]
    TooLarge,
    /// The issuer-signed JWT's header has no `alg`.
    #[error("the issuer-signed JWT names no alg")]
    MissingAlgorithm,
    /// The algorithm is not allowed, or not the key's.
    #[error("algorithm: {0}")]
    Algorithm(CryptoError),
    /// The `typ` is not the one required.
    #[error("typ is {found:?}, expected {expected}")]
    WrongType {
        /// What was required.
        expected: &'static str,
        /// What the header says.
        found: Option<String>,
    },
    /// The `x5c` chain does not lead to a trusted IACA.
    #[error("the issuer certificate is not trusted: {0}")]
    IssuerCertificate(CertificateError),
    /// Neither an `x5c` chain nor a trusted key identifies the issuer.
    #[error("no trusted issuer key: the JWT has no x5c and no trusted JWK was given")]
    UntrustedIssuer,
    /// The issuer's signature does not verify.
    #[error("the issuer signature does not verify")]
    IssuerSignature,
    /// `_sd_alg` names a hash other than SHA-256.
    #[error("_sd_alg {0:?} is not supported (only sha-256)")]
    UnsupportedSdAlg(String),
    /// A disclosure is not a base64url JSON array of two or three elements.
    #[error("disclosure {index} is malformed")]
    MalformedDisclosure {
        /// 0-based position among the disclosures.
        index: usize,
    },
    /// A disclosure's digest appears nowhere in the payload or in other disclosures.
    #[error("disclosure {index} is not referenced by the issuer-signed JWT")]
    UnreferencedDisclosure {
        /// 0-based position among the disclosures.
        index: usize,
    },
    /// A digest appears more than once (RFC 9901 §7.1 step 3.3, 4).
    #[error("a digest appears more than once")]
    DuplicateDigest,
    /// A disclosed claim name is `_sd` or `...`, or already present in its object.
    #[error("a disclosed claim name is reserved or already present")]
    ClaimNameCollision,
    /// An object property disclosure sits where an array element is, or the other way round.
    #[error("a disclosure's shape does not fit where its digest stands")]
    DisclosureShape,
    /// `_sd` is not an array of digest strings.
    #[error("_sd is not an array of strings")]
    MalformedSd,
    /// `exp` has passed.
    #[error("the credential expired")]
    Expired,
    /// `nbf` (or `iat`) is in the future.
    #[error("the credential is not valid yet")]
    NotYetValid,
    /// A time claim is not a number.
    #[error("{0} is not a NumericDate")]
    BadTime(&'static str),
    /// An SD-JWT VC lacks `vct`.
    #[error("the SD-JWT VC has no vct")]
    MissingVct,
    /// The `vct` is none of those expected.
    #[error("the credential type (vct) is not one expected")]
    WrongVct,
    /// A key binding was required but the presentation has none.
    #[error("the presentation has no key binding JWT")]
    MissingKeyBinding,
    /// The credential has no usable `cnf.jwk`.
    #[error("the credential has no usable cnf.jwk holder key")]
    MissingHolderKey,
    /// The KB-JWT's signature does not verify with `cnf.jwk`.
    #[error("the key binding signature does not verify with the holder key")]
    KeyBindingSignature,
    /// The KB-JWT's `aud` is not this verifier.
    #[error("the key binding JWT is for another audience")]
    WrongAudience,
    /// The KB-JWT's `nonce` is not this transaction's.
    #[error("the key binding JWT carries another nonce")]
    WrongNonce,
    /// The KB-JWT's `iat` is outside the accepted window.
    #[error("the key binding JWT's iat is outside the accepted window")]
    KeyBindingTime,
    /// The KB-JWT's `sd_hash` does not match the presentation.
    #[error("the key binding JWT's sd_hash does not match the presentation")]
    SdHashMismatch,
    /// The status claim is malformed.
    #[error("the status claim is malformed")]
    MalformedStatus,
    /// The credential's status is not valid.
    #[error("the credential's status is {0}")]
    Status(&'static str),
    /// The status could not be established.
    #[error("the credential's status could not be checked: {0}")]
    StatusUnavailable(String),
    /// The holder asked to disclose a claim the credential does not have.
    #[error("the credential has no selectively disclosable claim {0:?}")]
    NotDisclosable(String),
    /// Issuing or presenting failed.
    #[error("{0}")]
    Crypto(CryptoError),
}

/// The checks of verification in the order they run, as reports name them.
pub const CHECKS: [&str; 10] = [
    "format",
    "typ",
    "alg",
    "issuer_trust",
    "issuer_signature",
    "digests",
    "validity",
    "vct",
    "key_binding",
    "status",
];

impl SdJwtError {
    /// Which of [`CHECKS`] refused.
    pub fn check(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::TooLarge | Self::NotDisclosable(_) | Self::Crypto(_) => {
                "format"
            }
            Self::WrongType { expected, .. } if *expected == crate::TYP_KB_JWT => "key_binding",
            Self::WrongType { .. } => "typ",
            Self::MissingAlgorithm | Self::Algorithm(_) => "alg",
            Self::IssuerCertificate(_) | Self::UntrustedIssuer => "issuer_trust",
            Self::IssuerSignature => "issuer_signature",
            Self::UnsupportedSdAlg(_)
            | Self::MalformedDisclosure { .. }
            | Self::UnreferencedDisclosure { .. }
            | Self::DuplicateDigest
            | Self::ClaimNameCollision
            | Self::DisclosureShape
            | Self::MalformedSd => "digests",
            Self::Expired | Self::NotYetValid | Self::BadTime(_) => "validity",
            Self::MissingVct | Self::WrongVct => "vct",
            Self::MissingKeyBinding
            | Self::MissingHolderKey
            | Self::KeyBindingSignature
            | Self::WrongAudience
            | Self::WrongNonce
            | Self::KeyBindingTime
            | Self::SdHashMismatch => "key_binding",
            Self::MalformedStatus | Self::Status(_) | Self::StatusUnavailable(_) => "status",
        }
    }
}
