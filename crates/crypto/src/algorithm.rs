//! The algorithm allow-list.

use crate::CryptoError;

/// A signature algorithm eid accepts. Bound to a key when the key is made; messages are
/// checked against it, never the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (JOSE `ES256`, COSE -7).
    Es256,
}

impl Algorithm {
    /// The JOSE name (RFC 7518 §3.1).
    pub fn jose_name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
        }
    }

    /// The COSE algorithm identifier (RFC 9053 §2.1).
    pub fn cose_id(self) -> i64 {
        match self {
            Self::Es256 => -7,
        }
    }

    /// The algorithm a JOSE `alg` names, if it is allowed. `none` and everything else are
    /// refused.
    pub fn from_jose(name: &str) -> Result<Self, CryptoError> {
        match name {
            "ES256" => Ok(Self::Es256),
            other => Err(CryptoError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// The algorithm a COSE `alg` identifies, if it is allowed.
    pub fn from_cose(id: i64) -> Result<Self, CryptoError> {
        match id {
            -7 => Ok(Self::Es256),
            other => Err(CryptoError::UnsupportedAlgorithm(other.to_string())),
        }
    }

    /// The length of a signature in the raw `r || s` form JOSE and COSE use.
    pub fn signature_len(self) -> usize {
        match self {
            Self::Es256 => 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_es256_is_allowed() {
        assert_eq!(Algorithm::from_jose("ES256"), Ok(Algorithm::Es256));
        assert_eq!(Algorithm::from_cose(-7), Ok(Algorithm::Es256));
        for name in ["none", "HS256", "RS256", "es256", "ES384", ""] {
            assert_eq!(
                Algorithm::from_jose(name),
                Err(CryptoError::UnsupportedAlgorithm(name.to_owned()))
            );
        }
        assert!(Algorithm::from_cose(-35).is_err());
        assert!(Algorithm::from_cose(5).is_err());
    }
}
