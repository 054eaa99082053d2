//! The relying party's side of eid: a hotel desk, an airport gate, a bank's website.
//!
//! A [`Verifier`] holds what verification needs and nothing it must ask for at the moment
//! of a check: the verified trust list (issuers, their roots and acceptance scopes, wallet
//! providers, relying-party registrations), the relying party it verifies for, and a
//! [`StatusCache`] of verified status lists kept fresh by fetching and by pushed changes.
//! Every verification yields a [`Report`]: accepted or not, with every reason — first the
//! cryptographic verification of the format crates (issuer signature chained to a listed
//! issuer, every disclosed digest, validity, device binding over the session or nonce),
//! then the acceptance policy of `eid_trust` (scope, purpose, attributes, provider, status
//! and its age).
//!
//! Channels: in person (ISO 18013-5 over a [`eid_mdoc::transport::Transport`], see
//! [`in_person`]); the offline QR (`Verifier::verify_offline`); online over OpenID4VP
//! ([`openid4vp`]). [`online`] fetches status lists and follows an authority's pushed changes
//! ([`push`] reads them). [`replay`] remembers the offline codes accepted lately, and
//! [`sessions`] keeps the open online requests: in the process, or in Redis for a desk's
//! replicas behind one address.

pub mod dc_api;
pub mod in_person;
pub mod online;
pub mod openid4vp;
pub mod push;
pub mod qr;
mod redis_pool;
pub mod replay;
mod report;
pub mod service;
pub mod sessions;
mod status;
mod verifier;

pub use report::{Channel, FaceCheck, Presence, Reason, Report};
pub use status::StatusCache;
pub use verifier::{Check, Verifier};
