//! What the authority pushes: every status change of every credential instance, the
//! moment it is stored, and notices to a citizen's wallets.
//!
//! Events go to Server-Sent Events subscribers — status changes on the public listener
//! (`GET /events`, event type `status`), wallet notices on the admin listener (`GET
//! /admin/events/wallets`, event type `wallet_notice`: they tie a wallet instance to the
//! moment its entries change, so only the providers' integration sees them). They come from
//! the store's outbox through the relay ([`crate::outbox`]), through NATS JetStream when it
//! is configured. A status event names one list
//! entry (`uri`, `idx`) and its new status: the same facts the next status list carries,
//! no credential id and no personal data.

use serde::{Deserialize, Serialize};

/// One pushed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A status list entry changed.
    Status {
        /// The status list URI.
        uri: String,
        /// The entry.
        idx: u64,
        /// `VALID`, `INVALID` or `SUSPENDED`.
        status: String,
        /// When (Unix seconds).
        at: i64,
    },
    /// Something a wallet instance should tell its holder (a new enrolment of the same
    /// identity elsewhere: was it you?).
    WalletNotice {
        /// The wallet provider.
        provider: String,
        /// The wallet instance.
        wallet_instance: String,
        /// `new_enrolment`, `credentials_suspended`, `credentials_revoked`, …
        notice: String,
        /// When (Unix seconds).
        at: i64,
    },
}

impl Event {
    /// The SSE event type and the NATS subject suffix.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::WalletNotice { .. } => "wallet_notice",
        }
    }
}
