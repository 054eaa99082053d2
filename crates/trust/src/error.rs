//! Why a trust list could not be built, signed or read.

use time::OffsetDateTime;

use crate::model::Purpose;

/// A trust list failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not a trust list JWS.
    #[error("malformed trust list: {0}")]
    Malformed(&'static str),
    /// The JSON content does not fit the trust list's shape.
    #[error("the trust list's content is not valid: {0}")]
    Content(String),
    /// Too large to read.
    #[error("the trust list is larger than the {0}-byte limit")]
    TooLarge(usize),
    /// `typ` is not `eid-trust-list+jwt`.
    #[error("the JWS typ is {0:?}, expected eid-trust-list+jwt")]
    WrongType(Option<String>),
    /// No trusted national root key signed it.
    #[error("the trust list is not signed by a trusted national root key")]
    BadSignature,
    /// An algorithm outside the allow-list.
    #[error("algorithm: {0}")]
    Algorithm(eid_crypto::CryptoError),
    /// Signing failed.
    #[error("signing the trust list failed")]
    Signing,
    /// Issued in the future.
    #[error("the trust list is issued in the future ({0})")]
    IssuedInFuture(OffsetDateTime),
    /// Past `next_update`: a newer list should have been fetched.
    #[error("the trust list is stale: its next update was due {0}")]
    Stale(OffsetDateTime),
    /// An older (or the same) version offered in place of the cached one.
    #[error("trust list version {offered} does not replace the cached version {cached}")]
    Rollback {
        /// The version held.
        cached: u64,
        /// The version offered.
        offered: u64,
    },
    /// Two entries of one kind share an identifier.
    #[error("two {kind} entries have the id {id:?}")]
    Duplicate {
        /// issuer, wallet provider, relying party or purpose.
        kind: &'static str,
        /// The identifier.
        id: String,
    },
    /// An entry the change refers to is not there.
    #[error("there is no {kind} {id:?} in the trust list")]
    NotFound {
        /// issuer, wallet provider or relying party.
        kind: &'static str,
        /// The identifier.
        id: String,
    },
    /// A purpose not in the catalogue.
    #[error("{0:?} is not a purpose in the catalogue")]
    UnknownPurpose(String),
    /// A registration asks for more than its purpose allows.
    #[error("attribute {attribute:?} is not allowed for the purpose {purpose}")]
    AttributeBeyondPurpose {
        /// The attribute.
        attribute: String,
        /// The purpose.
        purpose: Purpose,
    },
    /// A purpose requires a face match, but it (or a registration for it) does not ask for
    /// the portrait to match against.
    #[error("{purpose} requires a face match, but {} does not ask for the portrait", .relying_party.as_deref().map_or_else(|| "its catalogue entry".to_owned(), |rp| format!("the registration of {rp}")))]
    FaceMatchWithoutPortrait {
        /// The purpose.
        purpose: Purpose,
        /// The relying party whose registration lacks it; `None`: the catalogue entry.
        relying_party: Option<String>,
    },
    /// A purpose that accepts printed codes without a face match: a printed code binds to
    /// no device, so only the face ties it to the resident.
    #[error(
        "{purpose} would accept printed codes without a face match: a printed code binds to no device, so a purpose accepts paper only where the face must match"
    )]
    PaperWithoutFaceMatch {
        /// The purpose.
        purpose: Purpose,
    },
    /// A certificate or key that cannot be used.
    #[error("{0}")]
    BadKey(String),
}
