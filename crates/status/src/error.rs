//! Why a status list could not be made, read or trusted.

use eid_crypto::x509::CertificateError;

/// A status-list failure. Messages carry no personal data (a status list has none: only
/// bits, indices and the list's own URI).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The bytes are not a status list token or list of the expected shape.
    #[error("malformed status list: {0}")]
    Malformed(&'static str),
    /// `bits` is not 1, 2, 4 or 8 (draft-ietf-oauth-status-list §4.1).
    #[error("bits must be 1, 2, 4 or 8, not {0}")]
    UnsupportedBits(u64),
    /// The compressed or inflated list is larger than the reader allows.
    #[error("the status list is larger than the {0}-byte limit")]
    TooLarge(usize),
    /// The token's `typ` is not the status-list type of its form.
    #[error("the token's typ is {found:?}, expected {expected}")]
    WrongType {
        /// What the token says.
        found: Option<String>,
        /// What it must say.
        expected: &'static str,
    },
    /// The header names no algorithm.
    #[error("the token's header names no alg")]
    MissingAlgorithm,
    /// The signer's certificate did not validate to a trusted root.
    #[error("the status list signer's certificate is not trusted: {0}")]
    SignerCertificate(CertificateError),
    /// Neither a trusted certificate nor a trusted key signs this token.
    #[error("the status list is not signed by a trusted key")]
    UntrustedSigner,
    /// The signature does not verify.
    #[error("the status list signature does not verify")]
    BadSignature,
    /// An algorithm outside the allow-list or not the key's own.
    #[error("algorithm: {0}")]
    Algorithm(eid_crypto::CryptoError),
    /// `exp` has passed.
    #[error("the status list expired at {0} (unix time)")]
    Expired(i64),
    /// `iat` is in the future.
    #[error("the status list is issued in the future ({0}, unix time)")]
    IssuedInFuture(i64),
    /// `sub` is not the URI the list was fetched from (§5.1: they must be equal).
    #[error("the status list is for {found}, not {expected}")]
    WrongSubject {
        /// The token's `sub`.
        found: String,
        /// The URI the reader expected.
        expected: String,
    },
    /// A list older than the one already held for the same URI (a replayed list would
    /// undo a suspension).
    #[error("the status list was issued at {offered} (unix time), before the one held ({held})")]
    OlderThanHeld {
        /// `iat` of the list held.
        held: i64,
        /// `iat` of the list offered.
        offered: i64,
    },
    /// An index beyond the list's end.
    #[error("index {index} is outside the list of {size} entries")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The list's number of entries.
        size: u64,
    },
    /// A status value that does not fit in the list's bits.
    #[error("status {value} does not fit in {bits} bits")]
    ValueTooWide {
        /// The value.
        value: u8,
        /// The list's bits per entry.
        bits: u8,
    },
    /// Every index of every shard is taken.
    #[error("no free index left in the status lists")]
    Full,
    /// The random source failed.
    #[error("the random source failed")]
    Random,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(eid_crypto::CryptoError),
    /// A delta that does not apply to the list at hand.
    #[error("the delta goes from version {delta_from} but the list is at version {list}")]
    DeltaVersion {
        /// The delta's base version.
        delta_from: u64,
        /// The list's version.
        list: u64,
    },
}
