//! eid's own endpoints at the authority, beside OpenID4VCI: the bodies a wallet sends and
//! the authority reads, one type each, so the two cannot drift apart.
//!
//! ```text
//! POST /enrolment  RemoteEnrolment  → OfferMade
//! POST /lost       LostReport       → LostTaken
//! POST /refresh    RefreshRequest   → OfferMade
//! ```
//!
//! Images are base64 (standard alphabet) JPEG; `wallet_proof` is an
//! `openid4vci-proof+jwt` key proof (fresh `c_nonce`, `aud` = the authority) carrying the
//! provider's key attestation.

use serde::{Deserialize, Serialize};

/// Remote enrolment: the identity, the card's photographs and a live capture of the face,
/// from an attested wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteEnrolment {
    /// The resident identity number (GB 11643).
    pub id_number: String,
    /// The name as on the card.
    pub full_name: String,
    /// The card's front, base64 JPEG.
    pub card_front: String,
    /// The card's back, base64 JPEG.
    pub card_back: String,
    /// The face, looking at the camera, base64 JPEG.
    pub face: String,
    /// The same face a moment later with the head turned, base64 JPEG.
    pub face_turned: String,
    /// The way the wallet asked the holder to turn: `left` or `right`.
    pub turn: String,
    /// The wallet's key proof with its provider's attestation.
    pub wallet_proof: String,
}

/// A lost phone reported from another wallet, proofed by face as at remote enrolment; with
/// `move`, the holder has moved to the reporting wallet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostReport {
    /// The resident identity number.
    pub id_number: String,
    /// The name as on the card.
    pub full_name: String,
    /// The face, looking at the camera, base64 JPEG.
    pub face: String,
    /// The head turned, base64 JPEG.
    pub face_turned: String,
    /// `left` or `right`.
    pub turn: String,
    /// The reporting wallet's key proof with its provider's attestation.
    pub wallet_proof: String,
    /// The holder has moved to the reporting wallet: the other wallets' credentials are
    /// revoked, not suspended, once that wallet holds hers.
    #[serde(default, rename = "move", skip_serializing_if = "std::ops::Not::not")]
    pub moving: bool,
}

/// What a lost report did: how many other wallets were suspended (a loss) or revoked (a
/// move), and how many credential instances that changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LostTaken {
    /// Wallets suspended (a loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallets_suspended: Option<usize>,
    /// Wallets revoked for good (a move).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallets_revoked: Option<usize>,
    /// A move was completed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moved: bool,
    /// Credential instances changed.
    pub instances: u64,
    /// A completed move only: the authority's history secret for the resident (S_a,
    /// base64url of 32 bytes), which with her recovery code opens her history backup on
    /// this wallet (`eid_wallet::backup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_secret: Option<String>,
}

/// A refresh from a wallet whose credentials are still valid: its key proof only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The wallet's key proof with its provider's attestation.
    pub wallet_proof: String,
}

/// An offer made for a resident, as the officer, the enrolment flow or a refresh hands it on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfferMade {
    /// `openid-credential-offer://…`, for a QR code or a deep link.
    pub offer_uri: String,
    /// The transaction code to give the citizen on another channel.
    pub tx_code: String,
    /// Until when the offer can be redeemed (Unix seconds).
    pub expires_at: i64,
    /// A remote enrolment only (the holder proofed by face): the authority's history
    /// secret for the resident (S_a, base64url of 32 bytes), for her history backup
    /// (`eid_wallet::backup`). Never in an offer handed on by a counter or a refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_secret: Option<String>,
}
