//! Disclosures (RFC 9901 §4.2.1), hashed as received.

use eid_crypto::{b64url, b64url_decode, sha256};
use serde_json::Value;

use crate::SdJwtError;

/// One disclosure: the base64url text as received, its digest, and what it discloses.
/// Its `Debug` form shows the name and digest, never the salt or the value.
#[derive(Clone, PartialEq)]
pub struct Disclosure {
    raw: String,
    digest: String,
    /// The salt.
    pub salt: String,
    /// The claim name (object property) or `None` (array element).
    pub name: Option<String>,
    /// The disclosed value.
    pub value: Value,
}

impl std::fmt::Debug for Disclosure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disclosure")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl Disclosure {
    /// Decodes the disclosure at position `index` of an SD-JWT.
    pub fn parse(raw: &str, index: usize) -> Result<Self, SdJwtError> {
        let bad = SdJwtError::MalformedDisclosure { index };
        let bytes = b64url_decode(raw).map_err(|_| bad.clone())?;
        let Value::Array(items) = serde_json::from_slice(&bytes).map_err(|_| bad.clone())? else {
            return Err(bad);
        };
        // [salt, value] (an array element) or [salt, name, value] (an object property).
        let mut items = items.into_iter();
        let (salt, name, value) = match (items.next(), items.next(), items.next(), items.next()) {
            (Some(Value::String(salt)), Some(value), None, None) => (salt, None, value),
            (Some(Value::String(salt)), Some(Value::String(name)), Some(value), None) => {
                (salt, Some(name), value)
            }
            _ => return Err(bad),
        };
        Ok(Self {
            digest: digest_of(raw),
            raw: raw.to_owned(),
            salt,
            name,
            value,
        })
    }

    /// The base64url text as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// base64url(SHA-256(the disclosure's ASCII text)).
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// base64url(SHA-256(text)), the digest of a disclosure or of a presentation (`sd_hash`).
pub(crate) fn digest_of(text: &str) -> String {
    b64url(&sha256(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9901_section_4_2_1_example_digest() {
        // RFC 9901 §4.2.1/§4.2.3: the disclosure of "family_name": "Möbius" with salt
        // "_26bc4LT-ac6q2KI6cBW5es" (as printed in the RFC).
        let raw = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0";
        let d = Disclosure::parse(raw, 0).unwrap();
        assert_eq!(d.name.as_deref(), Some("family_name"));
        assert_eq!(d.value, Value::String("Möbius".into()));
        assert_eq!(d.digest(), "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0");
    }

    #[test]
    fn malformed_disclosures() {
        for raw in [
            "!!",
            &b64url(b"{}"),
            &b64url(b"[1, \"a\", 2]"),
            &b64url(b"[\"s\"]"),
            &b64url(b"[\"s\", 1, 2]"),
            &b64url(b"[\"s\", \"n\", 1, 2]"),
            &b64url(b"[]"),
        ] {
            assert_eq!(
                Disclosure::parse(raw, 3),
                Err(SdJwtError::MalformedDisclosure { index: 3 }),
                "{raw}"
            );
        }
        // Two items: an array element, whatever the value's type.
        let element = Disclosure::parse(&b64url(b"[\"s\", \"v\"]"), 0).unwrap();
        assert_eq!(
            (element.name, element.value),
            (None, Value::String("v".into()))
        );
    }
}
