//! The Token Endpoint (OpenID4VCI 1.0 §6, RFC 6749 §5) for the pre-authorized code grant,
//! and the Nonce Endpoint (§7).

use serde::{Deserialize, Serialize};

/// A Token Request (`application/x-www-form-urlencoded`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// Must be the pre-authorized code grant.
    pub grant_type: String,
    /// The code from the offer.
    #[serde(rename = "pre-authorized_code", default)]
    pub pre_authorized_code: Option<String>,
    /// The transaction code, when the offer asked for one.
    #[serde(default)]
    pub tx_code: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    /// Codes are bearer secrets: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .finish_non_exhaustive()
    }
}

/// A successful Token Response (RFC 6749 §5.1).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token for the Credential Endpoint.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Its lifetime in seconds (RECOMMENDED, not required: absent is read as unstated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The Nonce Response (§7.2): a fresh `c_nonce` for the next key proofs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceResponse {
    /// The nonce each key proof must carry.
    pub c_nonce: String,
}

/// An OAuth-style error response (RFC 6749 §5.2; OpenID4VCI 1.0 §8.3.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code (`invalid_grant`, `invalid_proof`, …).
    pub error: String,
    /// What was wrong, for the developer of the wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}
