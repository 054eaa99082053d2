//! Errors of the key proofs and of reading offers.

/// Why a `jwt` key proof or its key attestation was not accepted. Each check has its own
/// variant; the messages name the check, never a key or a claim value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not a compact JWS of JSON objects, or a claim has the wrong type.
    #[error("malformed key proof: {0}")]
    Malformed(&'static str),
    /// The proof's `typ` is not `openid4vci-proof+jwt`.
    #[error("the key proof's typ must be openid4vci-proof+jwt")]
    ProofType,
    /// The proof names no `alg`.
    #[error("the key proof names no alg")]
    MissingAlgorithm,
    /// The proof's `alg` is not allowed.
    #[error("the key proof's alg is not allowed (ES256 only)")]
    Algorithm,
    /// The proof carries no `jwk` header (a `kid` or `x5c` cannot name a wallet key here).
    #[error("the key proof must carry the holder key as a jwk header")]
    MissingKey,
    /// The proof's `jwk` is not a P-256 public key, or carries private parts.
    #[error("the key proof's jwk is not a P-256 public key")]
    BadKey,
    /// The proof's signature does not verify with its `jwk`.
    #[error("the key proof's signature does not verify")]
    Signature,
    /// `aud` is not this credential issuer.
    #[error("the key proof's aud is not this credential issuer")]
    Audience,
    /// `iat` is missing, in the future, or too old.
    #[error("the key proof's iat is missing, in the future or too old")]
    IssuedAt,
    /// The proof carries no `nonce`, though the issuer hands out nonces.
    #[error("the key proof carries no nonce")]
    MissingNonce,
    /// The proof carries no `key_attestation` header, which this issuer requires.
    #[error("the key proof carries no key_attestation from a wallet provider")]
    MissingAttestation,
    /// The key attestation is not a compact JWS of JSON objects, or a claim has the wrong
    /// type.
    #[error("malformed key attestation: {0}")]
    AttestationMalformed(&'static str),
    /// The key attestation's `typ` is not `key-attestation+jwt`.
    #[error("the key attestation's typ must be key-attestation+jwt")]
    AttestationType,
    /// The key attestation's `alg` is missing or not allowed.
    #[error("the key attestation's alg is missing or not allowed (ES256 only)")]
    AttestationAlgorithm,
    /// The key attestation's `iss` is not a wallet provider in the trust list.
    #[error("the key attestation's issuer is not a wallet provider in the trust list")]
    UnknownProvider,
    /// The wallet provider is suspended in the trust list.
    #[error("the wallet provider {0} is suspended in the trust list")]
    ProviderSuspended(String),
    /// No key of the wallet provider verifies the key attestation's signature.
    #[error("the key attestation's signature does not verify with a key of its wallet provider")]
    AttestationSignature,
    /// The key attestation is expired, not yet valid, or has no `iat`.
    #[error("the key attestation is expired, not yet valid, or has no iat")]
    AttestationExpired,
    /// The key attestation names no wallet instance (`sub`).
    #[error("the key attestation names no wallet instance (sub)")]
    MissingWalletInstance,
    /// The key that signed the proof is not among the attestation's `attested_keys`.
    #[error("the key proof's key is not among the attestation's attested_keys")]
    KeyNotAttested,
    /// The attested keys' storage is not at a level this issuer accepts.
    #[error("the attested key storage is not at a level this issuer accepts")]
    KeyStorage,
}

/// Why a credential offer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    /// Not an `openid-credential-offer://` URI with a `credential_offer` parameter.
    #[error("not a credential offer URI: {0}")]
    NotAnOffer(&'static str),
    /// The offer's JSON is not a Credential Offer.
    #[error("the credential offer is malformed: {0}")]
    Malformed(String),
}
