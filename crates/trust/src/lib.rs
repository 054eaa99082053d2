//! The national trust list and the acceptance policy: the answer to the pilot-city problem.
//!
//! The first e-ID cards were accepted only in the city whose police bureau issued them. Here
//! acceptance is a signed, versioned decision of the national root:
//!
//! - [`model`]: the list — issuing authorities with their IACA roots, status list keys and
//!   **acceptance scopes** (region × purposes × time), wallet providers with their state,
//!   relying parties with their region and per-purpose attributes, and the purposes
//!   catalogue;
//! - [`edit`]: checked changes to a draft list (what the `eid trust` commands do);
//! - [`signed`]: the list as a JWS signed by the national root, read only through
//!   signature, type, time and consistency checks, replaced only by a newer version;
//! - [`policy`]: accept or reject a verified presentation, with every reason.
//!
//! A pilot becomes national by a new list version that widens an issuer's scope; an issuer
//! or a wallet provider is cut off by a version that narrows or suspends it. No credential
//! is reissued either way.

pub mod edit;
mod error;
pub mod model;
pub mod policy;
pub mod signed;

pub use error::TrustError;
pub use model::{
    AcceptanceScope, PSEUDONYM, Purpose, TrustList, attribute_of_item, pseudonym_item, request_item,
};
pub use policy::{Decision, Presentation, Registration, Rejection, StatusFinding, decide};
pub use signed::VerifiedTrustList;
