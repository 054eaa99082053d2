//! IETF Token Status List (draft-ietf-oauth-status-list) for eid.
//!
//! - [`list`]: the list — 1, 2, 4 or 8 bits per entry, zlib-compressed, JSON and CBOR
//!   forms, inflation capped.
//! - [`token`]: Status List Tokens, JWT (`statuslist+jwt`) and CWT
//!   (`application/statuslist+cwt`), signed with the issuer's document-signer key and read
//!   back only through signature, type, subject and time checks; the referenced token's
//!   `status` claim.
//! - [`alloc`]: random indices without reuse over shards of at least 2^17 entries, and the
//!   global index → (list URI, index) mapping.
//! - [`delta`]: the changes between two versions of a list, for verifiers that keep a copy.
//!
//! eid uses two bits: VALID (0), INVALID (1, revoked for good), SUSPENDED (2).

pub mod alloc;
pub mod delta;
mod error;
pub mod list;
pub mod token;

pub use alloc::{Allocation, ShardedAllocator};
pub use delta::Delta;
pub use error::StatusError;
pub use list::{Bits, StatusList};
pub use token::{
    ReadOptions, SignedBy, SignerRef, StatusListToken, TokenFormat, TokenTrust, VerifiedStatusList,
    read,
};
