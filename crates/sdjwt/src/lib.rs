//! SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc).
//!
//! - [`issue()`]: an issuer-signed JWT whose chosen claims are selectively disclosable
//!   (salted disclosures, `_sd` digests in sorted order, optional decoys), `cnf.jwk` binding
//!   it to the holder's key, `status.status_list` and the DS certificate in `x5c`.
//! - [`present()`]: the holder keeps only the disclosures it wants to show and appends a
//!   KB-JWT (`aud`, `nonce`, `iat`, `sd_hash`) signed with its key.
//! - [`verify`]: [`UnverifiedSdJwt::parse`] keeps every part exactly as received;
//!   [`UnverifiedSdJwt::verify`] runs every check and is the only way to a
//!   [`VerifiedSdJwt`]. Digests are computed over the disclosures as received and the
//!   signatures over the JWS segments as received; nothing is re-encoded to be verified.
//!
//! Only the compact serialization is implemented (not the JWS JSON serialization of
//! RFC 9901 §8).

mod disclosure;
mod error;
pub mod issue;
mod jws;
pub mod present;
pub mod verify;

pub use disclosure::Disclosure;
pub use eid_core::status::{CredentialStatus, StatusCheck, StatusListReference};
pub use error::{CHECKS, SdJwtError};
pub use issue::{IssueRequest, issue};
pub use jws::Jws;
pub use present::{KeyBinding, present};
pub use verify::{
    IssuerTrust, KeyBindingCheck, UnverifiedSdJwt, VerifiedSdJwt, VerifyOptions, X5cTrust,
};

/// The `typ` of an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc §3.2.1).
pub const TYP_SD_JWT_VC: &str = "dc+sd-jwt";
/// The `typ` earlier drafts used; accepted on input, never produced.
pub const TYP_SD_JWT_VC_LEGACY: &str = "vc+sd-jwt";
/// The `vct` of eid's resident identity credential. A URN of the project's own until the
/// authority registers its identifier; see `docs/formats.md`.
pub const VCT_RESIDENT_IDENTITY: &str = "urn:eid:cn:resident-identity:1";
/// The `vct` of a resident identity credential held for the resident by a parent or
/// guardian (a delegated credential): a type of its own, so that a verifier that does not
/// know delegation refuses it rather than take the holder for the resident. Its clear claim
/// `delegation` names the relationship (`eid_core::Relationship`).
pub const VCT_DELEGATED: &str = "urn:eid:cn:resident-identity:delegated:1";
/// The `typ` of a KB-JWT (RFC 9901 §4.3).
pub const TYP_KB_JWT: &str = "kb+jwt";
/// Largest SD-JWT accepted, in bytes: far above any real credential, small enough to bound
/// the work a hostile input can cause.
pub const MAX_LEN: usize = 256 * 1024;
/// Deepest nesting of objects and arrays processed.
pub const MAX_DEPTH: usize = 32;
