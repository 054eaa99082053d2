//! The Credential Endpoint's messages (OpenID4VCI 1.0 §8).
//!
//! ```text
//! request  = { "credential_configuration_id": tstr, "proofs": { "jwt": [ compact JWS ] } }
//! response = { "credentials": [ { "credential": tstr } ], ? "notification_id": tstr }
//! ```
//!
//! An mdoc credential is the base64url of its `IssuerSigned` CBOR (Appendix A.2.4), an
//! SD-JWT VC its compact form ending in `~` (Appendix A.3.4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Credential Request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRequest {
    /// What to issue (a key of `credential_configurations_supported`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_configuration_id: Option<String>,
    /// A credential identifier from the token response's `authorization_details`; eid issues
    /// none, so a request carrying one is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_identifier: Option<String>,
    /// The key proofs, by proof type: exactly one type, one proof per credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proofs: Option<BTreeMap<String, Vec<Value>>>,
    /// Anything else (the removed singular `proof`, encryption parameters), kept so the
    /// endpoint can say precisely what it does not support.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Why a Credential Request's shape is wrong, before any proof is checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestShapeError {
    /// `credential_identifier` was used.
    #[error("credential_identifier is not supported: send credential_configuration_id")]
    CredentialIdentifier,
    /// Neither identifier is there.
    #[error("the request names no credential_configuration_id")]
    MissingConfiguration,
    /// The singular `proof` of earlier drafts.
    #[error("proof (singular) was removed in OpenID4VCI 1.0: send proofs")]
    SingularProof,
    /// `credential_response_encryption` was asked for.
    #[error("credential response encryption is not supported")]
    Encryption,
    /// No proofs, or a proof type other than `jwt`, or more than one type.
    #[error("proofs must have exactly one key, jwt, with at least one proof")]
    ProofTypes,
    /// More proofs than the batch size.
    #[error("{count} proofs exceed the batch size of {batch_size}")]
    TooManyProofs {
        /// How many came.
        count: usize,
        /// The limit.
        batch_size: u32,
    },
    /// A proof is not a string.
    #[error("every jwt proof must be a string")]
    ProofNotString,
}

impl CredentialRequest {
    /// A request for `configuration` with `jwt` key proofs.
    pub fn with_jwt_proofs(configuration: &str, proofs: Vec<String>) -> Self {
        Self {
            credential_configuration_id: Some(configuration.to_owned()),
            credential_identifier: None,
            proofs: Some(BTreeMap::from([(
                "jwt".to_owned(),
                proofs.into_iter().map(Value::String).collect(),
            )])),
            other: BTreeMap::new(),
        }
    }

    /// Checks the request's shape and returns the configuration id and the `jwt` proofs.
    pub fn jwt_proofs(&self, batch_size: u32) -> Result<(&str, Vec<&str>), RequestShapeError> {
        if self.credential_identifier.is_some() {
            return Err(RequestShapeError::CredentialIdentifier);
        }
        if self.other.contains_key("proof") {
            return Err(RequestShapeError::SingularProof);
        }
        if self.other.contains_key("credential_response_encryption") {
            return Err(RequestShapeError::Encryption);
        }
        let configuration = self
            .credential_configuration_id
            .as_deref()
            .ok_or(RequestShapeError::MissingConfiguration)?;
        let proofs = match &self.proofs {
            Some(map) if map.len() == 1 => map.get("jwt").ok_or(RequestShapeError::ProofTypes)?,
            _ => return Err(RequestShapeError::ProofTypes),
        };
        if proofs.is_empty() {
            return Err(RequestShapeError::ProofTypes);
        }
        if proofs.len() > batch_size as usize {
            return Err(RequestShapeError::TooManyProofs {
                count: proofs.len(),
                batch_size,
            });
        }
        let proofs = proofs
            .iter()
            .map(|p| p.as_str().ok_or(RequestShapeError::ProofNotString))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((configuration, proofs))
    }
}

/// A Credential Response with the credentials issued at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialResponse {
    /// One per key proof, in the proofs' order.
    pub credentials: Vec<IssuedCredential>,
    /// Identifies the issuance in later notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
}

/// One issued credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCredential {
    /// base64url `IssuerSigned` (mdoc) or the compact SD-JWT VC.
    pub credential: String,
}

impl std::fmt::Debug for IssuedCredential {
    /// Credentials carry personal data: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredential").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> CredentialRequest {
        serde_json::from_str(json).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn a_batch_request_yields_its_configuration_and_proofs_in_order() {
        let r = request(r#"{"credential_configuration_id":"c","proofs":{"jwt":["a","b","c"]}}"#);
        assert_eq!(r.jwt_proofs(3), Ok(("c", vec!["a", "b", "c"])));
    }

    #[test]
    fn each_shape_error_is_named() {
        for (json, error) in [
            (
                r#"{"credential_identifier":"x","proofs":{"jwt":["a"]}}"#,
                RequestShapeError::CredentialIdentifier,
            ),
            (
                r#"{"credential_configuration_id":"c","proof":{"proof_type":"jwt","jwt":"a"}}"#,
                RequestShapeError::SingularProof,
            ),
            (
                r#"{"credential_configuration_id":"c","proofs":{"jwt":["a"]},"credential_response_encryption":{}}"#,
                RequestShapeError::Encryption,
            ),
            (
                r#"{"proofs":{"jwt":["a"]}}"#,
                RequestShapeError::MissingConfiguration,
            ),
            (
                r#"{"credential_configuration_id":"c"}"#,
                RequestShapeError::ProofTypes,
            ),
            (
                r#"{"credential_configuration_id":"c","proofs":{"ldp_vp":["a"]}}"#,
                RequestShapeError::ProofTypes,
            ),
            (
                r#"{"credential_configuration_id":"c","proofs":{"jwt":[]}}"#,
                RequestShapeError::ProofTypes,
            ),
            (
                r#"{"credential_configuration_id":"c","proofs":{"jwt":["a","b","c","d"]}}"#,
                RequestShapeError::TooManyProofs {
                    count: 4,
                    batch_size: 3,
                },
            ),
            (
                r#"{"credential_configuration_id":"c","proofs":{"jwt":[1]}}"#,
                RequestShapeError::ProofNotString,
            ),
        ] {
            assert_eq!(request(json).jwt_proofs(3), Err(error), "{json}");
        }
    }
}
