//! Compact JWS (RFC 7515 §7.1), kept exactly as received.

use eid_crypto::{Algorithm, Signer, b64url, b64url_decode};
use serde_json::{Map, Value};

use crate::SdJwtError;

/// A compact JWS whose segments are kept as received: the signature is checked over
/// `header.payload` exactly as those bytes arrived. Its `Debug` form shows the header only.
#[derive(Clone)]
pub struct Jws {
    signing_input: String,
    header: Map<String, Value>,
    payload: Map<String, Value>,
    signature: Vec<u8>,
}

impl std::fmt::Debug for Jws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jws")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Jws {
    /// Splits and decodes a compact JWS; header and payload must be JSON objects.
    pub fn parse(compact: &str) -> Result<Self, SdJwtError> {
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SdJwtError::Malformed("a JWS has three dot-separated parts"));
        };
        let header = json_object(h).ok_or(SdJwtError::Malformed(
            "the JWS header is not base64url JSON",
        ))?;
        let payload = json_object(p).ok_or(SdJwtError::Malformed(
            "the JWS payload is not base64url JSON",
        ))?;
        // RFC 7515 §4.1.11: eid understands no extension, so any `crit` is refused.
        if header.contains_key("crit") {
            return Err(SdJwtError::Malformed(
                "the JWS header has crit extensions, which are not supported",
            ));
        }
        let signature = b64url_decode(s)
            .map_err(|_| SdJwtError::Malformed("the JWS signature is not base64url"))?;
        Ok(Self {
            signing_input: format!("{h}.{p}"),
            header,
            payload,
            signature,
        })
    }

    /// Signs `header` and `payload` (serialised once, here) with `signer`.
    pub fn sign(
        header: &Map<String, Value>,
        payload: &Map<String, Value>,
        signer: &dyn Signer,
    ) -> Result<String, SdJwtError> {
        let h = b64url(&serde_json::to_vec(header).map_err(|_| SdJwtError::Malformed("header"))?);
        let p = b64url(&serde_json::to_vec(payload).map_err(|_| SdJwtError::Malformed("payload"))?);
        let input = format!("{h}.{p}");
        let sig = signer.sign(input.as_bytes()).map_err(SdJwtError::Crypto)?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }

    /// The protected header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The payload.
    pub fn payload(&self) -> &Map<String, Value> {
        &self.payload
    }

    /// The header's `alg`, checked against the allow-list; a missing `alg` is its own error.
    pub fn algorithm(&self) -> Result<Algorithm, SdJwtError> {
        match self.header.get("alg") {
            None => Err(SdJwtError::MissingAlgorithm),
            Some(Value::String(alg)) => Algorithm::from_jose(alg).map_err(SdJwtError::Algorithm),
            Some(_) => Err(SdJwtError::Malformed("alg is not a string")),
        }
    }

    /// The header's `typ`, if it is a string.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// Verifies the signature over the segments as received, with `key`'s algorithm compared
    /// to the header's. An `alg` outside the allow-list is reported as such; a missing one
    /// (or one that is not a string, which names none) as `MissingAlgorithm`.
    pub fn verify(&self, key: &eid_crypto::VerifyingKey) -> Result<(), eid_crypto::CryptoError> {
        let alg = match self.algorithm() {
            Ok(alg) => alg,
            Err(SdJwtError::Algorithm(e)) => return Err(e),
            Err(_) => return Err(eid_crypto::CryptoError::MissingAlgorithm),
        };
        key.verify_as(alg, self.signing_input.as_bytes(), &self.signature)
    }
}

fn json_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = b64url_decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}
