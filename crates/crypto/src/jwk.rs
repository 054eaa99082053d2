//! JSON Web Keys (RFC 7517) for EC P-256 public keys (and SM2's, `crv` `SM2`, where asked
//! for), and RFC 7638 thumbprints.

use serde::{Deserialize, Serialize};

use crate::{Algorithm, CryptoError, VerifyingKey, b64url, b64url_decode, sha256};

/// A public EC JWK. Other members (`kid`, `use`, `alg`) are kept when present; a private
/// `d` is never part of this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`.
    pub kty: String,
    /// Curve: `P-256` (or `SM2`, eid's private name: [`Jwk::verifying_key_allowing`]).
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
    /// The `crv` eid writes for SM2 keys: unregistered (no SM2 entry in IANA's JOSE
    /// registry), the name the 2021 draft-dang-webauthn-sm2 proposed.
    pub const SM2_CURVE: &'static str = "SM2";

    pub(crate) fn ec(algorithm: Algorithm, x: &[u8], y: &[u8]) -> Self {
        Self {
            kty: "EC".into(),
            crv: match algorithm {
                Algorithm::Es256 => "P-256",
                Algorithm::Sm2Sm3 => Self::SM2_CURVE,
            }
            .into(),
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
        self.point_of(&[Algorithm::Es256]).map(|(_, point)| point)
    }

    /// The point and the algorithm its `crv` names, of those `allowed`.
    fn point_of(&self, allowed: &[Algorithm]) -> Result<(Algorithm, [u8; 65]), CryptoError> {
        if self.kty != "EC" {
            return Err(CryptoError::BadJwk("kty must be EC"));
        }
        let algorithm = match self.crv.as_str() {
            "P-256" => Some(Algorithm::Es256),
            Self::SM2_CURVE => Some(Algorithm::Sm2Sm3),
            _ => None,
        };
        let Some(algorithm) = algorithm.filter(|a| allowed.contains(a)) else {
            return Err(CryptoError::BadJwk(
                match (
                    allowed.contains(&Algorithm::Es256),
                    allowed.contains(&Algorithm::Sm2Sm3),
                ) {
                    (true, false) => "crv must be P-256",
                    (false, true) => "crv must be SM2",
                    _ => "crv must be P-256 or SM2",
                },
            ));
        };
        let x = b64url_decode(&self.x).map_err(|_| CryptoError::BadJwk("x is not base64url"))?;
        let y = b64url_decode(&self.y).map_err(|_| CryptoError::BadJwk("y is not base64url"))?;
        if x.len() != 32 || y.len() != 32 {
            return Err(CryptoError::BadJwk("x and y must be 32 bytes"));
        }
        let mut point = [0u8; 65];
        point[0] = 0x04;
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        Ok((algorithm, point))
    }

    /// The verifying key, bound to ES256. An `alg` member other than `ES256` is refused.
    pub fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        self.verifying_key_allowing(&[Algorithm::Es256])
    }

    /// The verifying key, bound to the algorithm of its `crv` if that is among `allowed`
    /// (a trust list's keys of an issuer it names as SM2): a P-256 key is ES256, an `SM2`
    /// key SM2 with SM3. An `alg` member naming another algorithm is refused.
    pub fn verifying_key_allowing(
        &self,
        allowed: &[Algorithm],
    ) -> Result<VerifyingKey, CryptoError> {
        let (algorithm, point) = self.point_of(allowed)?;
        if let Some(alg) = &self.alg
            && Algorithm::from_jose(alg)? != algorithm
        {
            return Err(CryptoError::UnsupportedAlgorithm(alg.clone()));
        }
        VerifyingKey::from_sec1(algorithm, &point)
    }

    /// The RFC 7638 SHA-256 thumbprint: the hash of the required members in lexicographic
    /// order without whitespace, `{"crv":…,"kty":"EC","x":…,"y":…}`.
    pub fn thumbprint_sha256(&self) -> Result<[u8; 32], CryptoError> {
        // Checking the point also guarantees x and y need no JSON escaping.
        self.point_of(&[Algorithm::Es256, Algorithm::Sm2Sm3])?;
        let canonical = format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            self.crv, self.kty, self.x, self.y
        );
        Ok(sha256(canonical.as_bytes()))
    }

    /// The thumbprint in base64url, or `invalid` for a JWK that is not a P-256 or SM2 key.
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

    #[test]
    fn sm2_keys_are_read_only_where_sm2_is_allowed() {
        let key = SigningKey::generate_for(Algorithm::Sm2Sm3).unwrap();
        let mut jwk = key.verifying_key().to_jwk();
        assert_eq!(
            jwk.verifying_key(),
            Err(CryptoError::BadJwk("crv must be P-256"))
        );
        let both = [Algorithm::Es256, Algorithm::Sm2Sm3];
        assert_eq!(
            &jwk.verifying_key_allowing(&both).unwrap(),
            key.verifying_key()
        );
        assert_ne!(jwk.thumbprint(), "invalid");
        jwk.alg = Some("SM2SM3".into());
        assert!(jwk.verifying_key_allowing(&both).is_ok());
        jwk.alg = Some("ES256".into());
        assert_eq!(
            jwk.verifying_key_allowing(&both),
            Err(CryptoError::UnsupportedAlgorithm("ES256".into()))
        );
        let p256 = SigningKey::generate().unwrap().verifying_key().to_jwk();
        assert_eq!(
            p256.verifying_key_allowing(&[Algorithm::Sm2Sm3]),
            Err(CryptoError::BadJwk("crv must be SM2"))
        );
    }
}
