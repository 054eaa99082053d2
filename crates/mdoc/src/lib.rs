//! ISO/IEC 18013-5:2021 mdoc (with the MSO `status` of the draft second edition).
//!
//! This first part holds the data model of what a reader receives — `DeviceResponse`,
//! `Document`, `IssuerSigned` with its tag-24 items, the `MobileSecurityObject`, COSE_Sign1
//! and COSE_Mac0 — and the reader-side verification of the issuer's data over the bytes
//! received: the document signer's chain to a trusted IACA, the issuer signature, every
//! disclosed element's digest, the docType and the validity window; session keys and
//! encryption (§9.1.1) and the reader's check of device authentication by signature or MAC
//! (§9.1.3); issuance, device engagement (QR), requests with reader authentication, and the
//! holder's DeviceResponse (`docs/formats.md`).

mod cbor;
pub mod cose;
pub mod dcapi;
pub mod engagement;
mod error;
pub mod issue;
pub mod model;
pub mod offline;
pub mod present;
pub mod request;
pub mod session;
pub mod transport;
pub mod verify;

pub use error::{CHECKS, MdocError};
pub use model::{DeviceResponse, Document, IssuerSigned, IssuerSignedItem, MobileSecurityObject};
pub use verify::{IssuerDataCheck, IssuerTrust, VerifiedIssuerData, verify_issuer_data};

/// Largest CBOR input accepted, in bytes (a DeviceResponse with a portrait is a few KiB).
pub const MAX_LEN: usize = 1024 * 1024;
/// Deepest nesting accepted in an element value.
pub const MAX_DEPTH: usize = 16;
/// The docType of eid's resident identity card. A reverse-domain name of the project's own
/// until the authority registers one; see `docs/formats.md`.
pub const DOCTYPE_RESIDENT_IDENTITY: &str = "cn.eid.resident.1";
/// The docType of a resident identity card held for the resident by a parent or guardian
/// (a delegated credential): a type of its own, so that a reader that does not know
/// delegation refuses it rather than take the holder for the resident. Its elements are the
/// resident's, in the namespace [`DOCTYPE_RESIDENT_IDENTITY`]; [`ELEMENT_DELEGATION`] names the
/// relationship.
pub const DOCTYPE_DELEGATED: &str = "cn.eid.resident.delegated.1";
/// eid's namespace for facts about the holding wallet rather than the resident (next to
/// the resident namespace in the same document); see `docs/formats.md`.
pub const NAMESPACE_WALLET: &str = "cn.eid.wallet.1";
/// The element of [`NAMESPACE_WALLET`] naming the wallet provider (its trust-list id).
pub const ELEMENT_WALLET_PROVIDER: &str = "provider";
/// The element of [`NAMESPACE_WALLET`] naming, in a delegated credential, the holder's
/// relationship to the resident (`eid_core::Relationship`).
pub const ELEMENT_DELEGATION: &str = "delegation";
/// ISO 18013-5's mobile driving licence.
pub const DOCTYPE_MDL: &str = "org.iso.18013.5.1.mDL";
/// The EU person identification data.
pub const DOCTYPE_EU_PID: &str = "eu.europa.ec.eudi.pid.1";
