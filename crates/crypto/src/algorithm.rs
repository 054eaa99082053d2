//! The algorithm allow-list.

use crate::CryptoError;

/// A signature algorithm eid accepts. Bound to a key when the key is made; messages are
/// checked against it, never the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (JOSE `ES256`, COSE -7).
    Es256,
    /// SM2 signatures with SM3 (GB/T 32918.2, GB/T 32905), the distinguishing identifier
    /// [`crate::shangmi::DISTID`]. Registered in neither JOSE nor COSE: eid's private
    /// identifiers are JOSE [`SM2_JOSE`] and COSE [`SM2_COSE`] (`docs/crypto.md`).
    Sm2Sm3,
}

/// The JOSE `alg` name eid gives SM2 with SM3: unregistered (IANA's JOSE registry has no
/// SM2 entry, and the 2021 draft-dang-webauthn-sm2 left its values to IANA), a name no
/// registered algorithm uses.
pub const SM2_JOSE: &str = "SM2SM3";

/// The COSE `alg` value eid gives SM2 with SM3: the first of the private-use values
/// (below −65536, RFC 9053 §11.1), since none is registered.
pub const SM2_COSE: i64 = -65537;

impl Algorithm {
    /// The JOSE name (RFC 7518 §3.1).
    pub fn jose_name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Sm2Sm3 => SM2_JOSE,
        }
    }

    /// The COSE algorithm identifier (RFC 9053 §2.1).
    pub fn cose_id(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::Sm2Sm3 => SM2_COSE,
        }
    }

    /// The algorithm a JOSE `alg` names, if it is allowed. `none` and everything else are
    /// refused. (Which of the allowed a message may use is its key's: an SM2 key is only
    /// ever made from what a trust list or certificate vouches for as SM2.)
    pub fn from_jose(name: &str) -> Result<Self, CryptoError> {
        match name {
            "ES256" => Ok(Self::Es256),
            SM2_JOSE => Ok(Self::Sm2Sm3),
            other => Err(CryptoError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    /// The algorithm a COSE `alg` identifies, if it is allowed.
    pub fn from_cose(id: i64) -> Result<Self, CryptoError> {
        match id {
            -7 => Ok(Self::Es256),
            SM2_COSE => Ok(Self::Sm2Sm3),
            other => Err(CryptoError::UnsupportedAlgorithm(other.to_string())),
        }
    }

    /// The length of a signature in the raw `r || s` form JOSE and COSE use.
    pub fn signature_len(self) -> usize {
        match self {
            Self::Es256 | Self::Sm2Sm3 => 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_es256_and_sm2_are_allowed() {
        assert_eq!(Algorithm::from_jose("ES256"), Ok(Algorithm::Es256));
        assert_eq!(Algorithm::from_cose(-7), Ok(Algorithm::Es256));
        assert_eq!(Algorithm::from_jose("SM2SM3"), Ok(Algorithm::Sm2Sm3));
        assert_eq!(Algorithm::from_cose(-65537), Ok(Algorithm::Sm2Sm3));
        for algorithm in [Algorithm::Es256, Algorithm::Sm2Sm3] {
            assert_eq!(Algorithm::from_jose(algorithm.jose_name()), Ok(algorithm));
            assert_eq!(Algorithm::from_cose(algorithm.cose_id()), Ok(algorithm));
        }
        for name in [
            "none", "HS256", "RS256", "es256", "ES384", "", "SM2", "sm2sm3",
        ] {
            assert_eq!(
                Algorithm::from_jose(name),
                Err(CryptoError::UnsupportedAlgorithm(name.to_owned()))
            );
        }
        assert!(Algorithm::from_cose(-35).is_err());
        assert!(Algorithm::from_cose(5).is_err());
        assert!(Algorithm::from_cose(-65536).is_err());
        assert!(Algorithm::from_cose(-65538).is_err());
    }
}
