//! Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4) and the OAuth 2.0 Authorization
//! Server Metadata (RFC 8414 §2) of an issuer that is its own authorization server.
//!
//! ```text
//! { "credential_issuer": url, "credential_endpoint": url, "nonce_endpoint": url,
//!   "batch_credential_issuance": { "batch_size": uint },
//!   "credential_configurations_supported": { id: {
//!       "format": "mso_mdoc" | "dc+sd-jwt", "doctype" | "vct": tstr, "scope": tstr,
//!       "cryptographic_binding_methods_supported": ["cose_key"] | ["jwk"],
//!       "credential_signing_alg_values_supported": [-7] | ["ES256"],
//!       "proof_types_supported": { "jwt": { "proof_signing_alg_values_supported": ["ES256"],
//!           "key_attestations_required": { "key_storage": [tstr] } } },
//!       "credential_metadata": { "display": [..], "claims": [ { "path": [..] } ] } } } }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The Credential Issuer Metadata, served at `/.well-known/openid-credential-issuer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialIssuerMetadata {
    /// The Credential Issuer Identifier (an `https` URL; `http` on loopback in tests).
    pub credential_issuer: String,
    /// The authorization servers, when not the issuer itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// The Credential Endpoint.
    pub credential_endpoint: String,
    /// The Nonce Endpoint (§7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_endpoint: Option<String>,
    /// How many credentials one request may ask for (one key proof each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_credential_issuance: Option<BatchCredentialIssuance>,
    /// How the issuer presents itself to the citizen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub display: Vec<Display>,
    /// What can be issued, by configuration id.
    pub credential_configurations_supported: BTreeMap<String, CredentialConfiguration>,
}

/// `batch_credential_issuance` (§12.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCredentialIssuance {
    /// The largest number of key proofs (and so credentials) one request may carry; ≥ 2.
    pub batch_size: u32,
}

/// A display entry: a name in a language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    /// The name.
    pub name: String,
    /// A BCP 47 language tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// One entry of `credential_configurations_supported`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialConfiguration {
    /// `mso_mdoc` or `dc+sd-jwt`.
    pub format: String,
    /// The mdoc docType (format `mso_mdoc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctype: Option<String>,
    /// The SD-JWT VC type (format `dc+sd-jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct: Option<String>,
    /// The OAuth scope that asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// How the credential is bound to the holder: `cose_key` (mdoc) or `jwk` (SD-JWT VC).
    pub cryptographic_binding_methods_supported: Vec<String>,
    /// The issuer's signing algorithms: COSE numbers for mdoc (Appendix A.2.2), JOSE names
    /// for SD-JWT VC.
    pub credential_signing_alg_values_supported: Vec<Value>,
    /// The proof types the Credential Endpoint accepts.
    pub proof_types_supported: BTreeMap<String, ProofTypeMetadata>,
    /// Display and claims description (§12.2.4, `credential_metadata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_metadata: Option<CredentialMetadata>,
}

/// One entry of `proof_types_supported`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofTypeMetadata {
    /// The algorithms a proof may be signed with.
    pub proof_signing_alg_values_supported: Vec<String>,
    /// Present when every proof must carry a key attestation, with the storage levels the
    /// issuer accepts (Appendix D.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_attestations_required: Option<KeyAttestationsRequired>,
}

/// `key_attestations_required` (§12.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttestationsRequired {
    /// Accepted `key_storage` values (e.g. `iso_18045_high`), any of which will do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_storage: Vec<String>,
    /// Accepted `user_authentication` values, any of which will do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_authentication: Vec<String>,
}

/// `credential_metadata`: how a wallet shows the credential and its claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialMetadata {
    /// Names of the credential.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub display: Vec<Display>,
    /// The claims, by path (Appendix C).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<ClaimDescription>,
}

/// A claim description: its path (namespace and element for mdoc, claim name for SD-JWT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimDescription {
    /// The path to the claim.
    pub path: Vec<String>,
    /// Whether the issuer always includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandatory: Option<bool>,
    /// Names of the claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub display: Vec<Display>,
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414 §2), served at
/// `/.well-known/oauth-authorization-server`, with the pre-authorized grant's parameter
/// (OpenID4VCI 1.0 §12.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier (here the credential issuer's).
    pub issuer: String,
    /// The Token Endpoint.
    pub token_endpoint: String,
    /// Supported grants: the pre-authorized code.
    pub grant_types_supported: Vec<String>,
    /// Whether a wallet may use the pre-authorized code without client authentication.
    #[serde(rename = "pre-authorized_grant_anonymous_access_supported")]
    pub pre_authorized_grant_anonymous_access_supported: bool,
}
