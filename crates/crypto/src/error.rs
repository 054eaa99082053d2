//! The crypto crate's one error type.

/// Why a cryptographic operation or a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The algorithm is not on the allow-list.
    #[error("signature algorithm {0:?} is not allowed (allowed: ES256)")]
    UnsupportedAlgorithm(String),
    /// A message names no algorithm where one is required.
    #[error("the message names no signature algorithm")]
    MissingAlgorithm,
    /// A message names an algorithm other than the key's.
    #[error("the message says {found} but the key is for {expected}")]
    AlgorithmMismatch {
        /// The key's algorithm.
        expected: &'static str,
        /// What the message said.
        found: String,
    },
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// A public key is malformed or not on the curve.
    #[error("the public key is malformed or not a P-256 point")]
    BadPublicKey,
    /// A private key is malformed or does not match its public key.
    #[error("the private key is malformed or does not match its public key")]
    BadPrivateKey,
    /// A JWK is not an EC P-256 key or lacks a member.
    #[error("the JWK is not a usable EC P-256 key: {0}")]
    BadJwk(&'static str),
    /// Base64url text is malformed.
    #[error("malformed base64url")]
    Base64,
    /// PEM text is malformed or has another label.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// Signing failed in the key's backend.
    #[error("the signing backend failed")]
    SigningFailed,
    /// The PKCS#11 module, token or key could not be used (the message names the step,
    /// never a PIN).
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// An HPKE message does not open (another key, another `info`, altered bytes), or
    /// could not be sealed.
    #[error("the HPKE message does not open with this key and context")]
    Hpke,
    /// A certificate could not be built.
    #[error("could not build the certificate: {0}")]
    CertificateBuild(String),
}
