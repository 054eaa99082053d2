//! The credential status a verifier learns from an IETF Token Status List, as both formats
//! reference it (`status.status_list {idx, uri}` in an SD-JWT VC and in an mdoc's MSO), and
//! the hook through which verification asks for it. The lists themselves live in the
//! status crate.

use serde::{Deserialize, Serialize};

/// A credential's entry in a status list (draft-ietf-oauth-status-list §6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatusListReference {
    /// Index in the list.
    pub idx: u64,
    /// Where the list is published.
    pub uri: String,
}

/// A credential's status as a status list gives it (2 bits per entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialStatus {
    /// 0x00.
    Valid,
    /// 0x01: revoked for good.
    Invalid,
    /// 0x02: suspended, may be reinstated.
    Suspended,
}

/// The hook through which verification learns a credential's status.
pub trait StatusCheck {
    /// The status of the referenced entry, or why it cannot be established (a message
    /// without personal data: the list could not be fetched, is stale, …).
    fn status(&self, reference: &StatusListReference) -> Result<CredentialStatus, String>;
}
