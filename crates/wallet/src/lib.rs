//! The holder's wallet, as a super-app embeds it.
//!
//! - [`keystore`]: the [`Keystore`] trait (a phone's secure hardware sits behind it) and the
//!   [`SoftwareKeystore`], which keeps keys encrypted at rest under a key derived from the
//!   holder's PIN (Argon2id), never exports a private key, uses one only after the PIN
//!   unlocks the store, and locks for good after a configurable number of wrong PINs.
//! - [`holder`]: the holder's flows with the authority, one async API for every wallet
//!   (the command line, the hosted wallet, the phone SDK): redeem an offer, remote
//!   enrolment, refresh, report a lost phone or a move, the offline code's credential.
//! - [`enrolment`]: OpenID4VCI 1.0 from the wallet's side — the offer, the token, key
//!   proofs with the provider's attestation, credentials kept only when bound to its keys.
//! - [`in_person`]: the ISO 18013-5 presentation to a desk — engagement QR, the desk's
//!   request checked against its registration in the trust list, consent, the encrypted
//!   response.
//! - [`online`]: OpenID4VP 1.0 — the signed request by reference checked against the
//!   relying party's registration, consent, the encrypted `direct_post.jwt` answer, in
//!   either format.
//! - [`dc_api`]: the W3C Digital Credentials API from a native app — the request its
//!   platform hands it (protocol, data, the page's origin) checked as in person, consent, the
//!   answer sealed to the reader (ISO/IEC 18013-7 Annex C).
//! - [`store`]: the credential store (SQLite) with the use policy of batch instances (once,
//!   or one per relying party: never one instance for two) and the presentation history.
//! - [`backup`]: the presentation history backed up at the provider, end-to-end encrypted
//!   under a key wrapped by the holder's recovery code and the authority's secret for her,
//!   restored on a new phone after she is proofed by face.
//! - [`offline`]: the offline single QR for a desk with only a scanner — a compact
//!   credential per purpose, signed afresh while shown.

pub mod backup;
pub mod dc_api;
pub mod enrolment;
pub mod holder;
pub mod in_person;
pub mod keystore;
pub mod offline;
pub mod online;
mod registration;
pub mod store;

pub use holder::{Attester, DeviceKeys, Holder, HolderError};
pub use keystore::{Keystore, KeystoreError, SoftwareKeystore, Unlocked, UnlockedKeys};
