//! JSON Web Keys (RFC 7517) for EC P-256 public keys, and RFC 7638 thumbprints.

use serde::{Deserialize, Serialize};

use crate::{Algorithm, CryptoError, VerifyingKey, b64url, b64url_decode, sha256};

/// A public EC JWK. Other members (`kid`, `use`, `alg`) are kept when present; a private
/// `d` is never part of this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`.
    pub kty: String,
    /// Curve: `P-256`.
    pub crv: String,
    /// The x coordinate, base64url.
    pub x: String,
    /// The y coordinate, base64url.
    pub y: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended algorithm; when present it must be `ES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use (`sig`, `enc`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

impl Jwk {
    pub(crate) fn ec_p256(x: &[u8], y: &[u8]) -> Self {
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: b64url(x),
            y: b64url(y),
            kid: None,
            alg: None,
            use_: None,
        }
    }

    pub(crate) fn ec_p256_from_b64(
        kty: &str,
        crv: &str,
        x: &str,
        y: &str,
    ) -> Result<Self, CryptoError> {
        let jwk = Self {
            kty: kty.into(),
            crv: crv.into(),
            x: x.into(),
            y: y.into(),
            kid: None,
            alg: None,
            use_: None,
        };
        jwk.point()?;
        Ok(jwk)
    }

    pub(crate) fn point(&self) -> Result<[u8; 65], CryptoError> {
        if self.kty != "EC" {
            return Err(CryptoError::BadJwk("kty must be EC"));
        }
        if self.crv != "P-256" {
            return Err(CryptoError::BadJwk("crv must be P-256"));
        }
        let x = b64url_decode(&self.x).map_err(|_| CryptoError::BadJwk("x is not base64url"))?;
        let y = b64url_decode(&self.y).map_err(|_| CryptoError::BadJwk("y is not base64url"))?;
        if x.len() != 32 || y.len() != 32 {
            return Err(CryptoError::BadJwk("x and y must be 32 bytes"));
        }
        let mut point = [0u8; 65];
        point[0] = 0x04;
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        Ok(point)
    }

    /// The verifying key, bound to ES256. An `alg` member other than `ES256` is refused.
    pub fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        if let Some(alg) = &self.alg {
            Algorithm::from_jose(alg)?;
        }
        VerifyingKey::from_sec1(Algorithm::Es256, &self.point()?)
    }

    /// The RFC 7638 SHA-256 thumbprint: the hash of the required members in lexicographic
    /// order without whitespace, `{"crv":…,"kty":"EC","x":…,"y":…}`.
    pub fn thumbprint_sha256(&self) -> Result<[u8; 32], CryptoError> {
        // Checking the point also guarantees x and y need no JSON escaping.
        self.point()?;
        let canonical = format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        );
        Ok(sha256(canonical.as_bytes()))
    }

    /// The thumbprint in base64url, or `invalid` for a JWK that is not a P-256 key.
    pub fn thumbprint(&self) -> String {
        self.thumbprint_sha256()
            .map(|t| b64url(&t))
            .unwrap_or_else(|_| "invalid".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Signer, SigningKey};

    #[test]
    fn round_trip_through_json() {
        let key = SigningKey::generate().unwrap();
        let jwk = key.verifying_key().to_jwk();
        let json = serde_json::to_string(&jwk).unwrap();
        assert!(!json.contains("\"d\""));
        let back: Jwk = serde_json::from_str(&json).unwrap();
        assert_eq!(&back.verifying_key().unwrap(), key.verifying_key());
    }

    #[test]
    fn refuses_other_key_types_and_algorithms() {
        let mut jwk = SigningKey::generate().unwrap().verifying_key().to_jwk();
        jwk.alg = Some("HS256".into());
        assert_eq!(
            jwk.verifying_key(),
            Err(CryptoError::UnsupportedAlgorithm("HS256".into()))
        );
        jwk.alg = None;
        jwk.crv = "P-384".into();
        assert_eq!(
            jwk.verifying_key(),
            Err(CryptoError::BadJwk("crv must be P-256"))
        );
        jwk.crv = "P-256".into();
        jwk.x.pop();
        assert!(jwk.verifying_key().is_err());
    }
}
