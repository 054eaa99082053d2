//! The Chinese commercial algorithms (商用密码) as a deployment option: SM2 signatures
//! (GB/T 32918.2) with the SM3 hash (GB/T 32905), on RustCrypto's `sm2` and `sm3` crates —
//! pure Rust, constant-time by design, and never independently audited (their own README
//! says so; `docs/crypto.md`).
//!
//! - The distinguishing identifier is [`DISTID`], the default of GM/T 0009-2012 and
//!   GB/T 35276-2017:
//!   every signer and verifier of eid uses it, so it is not carried in any message.
//! - Signatures travel as JOSE and COSE carry ES256's: `r || s`, 32 bytes each; X.509 has
//!   them in DER (`SEQUENCE { INTEGER r, INTEGER s }`).
//! - The nonce is derived from the key and the message (RFC 6979's construction with SM3),
//!   not drawn: a verifier cannot tell, and no weak random source can leak the key.

use ::sm2::dsa::signature::{Signer as _, Verifier as _};
use ::sm2::elliptic_curve::sec1::ToSec1Point;
use ::sm2::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use zeroize::Zeroizing;

use crate::CryptoError;

/// The distinguishing identifier (`ID_A`) of every SM2 signature eid makes or checks: the
/// default `1234567812345678` of GM/T 0009-2012 and GB/T 35276-2017.
pub const DISTID: &str = "1234567812345678";

/// SM3 of `data` (GB/T 32905-2016).
pub fn sm3(data: &[u8]) -> [u8; 32] {
    use ::sm3::Digest;
    ::sm3::Sm3::digest(data).into()
}

/// An SM2 public key with the identity hash `Z` of [`DISTID`] (computed once).
pub(crate) type Public = ::sm2::dsa::VerifyingKey;

/// The SM2 key of a SEC 1 point (uncompressed or compressed); checked on the curve.
pub(crate) fn public(point: &[u8]) -> Result<Public, CryptoError> {
    Public::from_sec1_bytes(DISTID, point).map_err(|_| CryptoError::BadPublicKey)
}

/// The uncompressed SEC 1 point of an SM2 key.
pub(crate) fn uncompressed(key: &Public) -> Result<[u8; 65], CryptoError> {
    let point = key.as_affine().to_sec1_point(false);
    point
        .as_bytes()
        .try_into()
        .map_err(|_| CryptoError::BadPublicKey)
}

/// Checks a raw `r || s` signature over `message`.
pub(crate) fn verify(key: &Public, message: &[u8], raw: &[u8]) -> Result<(), CryptoError> {
    let signature =
        ::sm2::dsa::Signature::from_slice(raw).map_err(|_| CryptoError::BadSignature)?;
    key.verify(message, &signature)
        .map_err(|_| CryptoError::BadSignature)
}

/// Checks a DER signature (X.509's form) over `message`.
pub(crate) fn verify_der(key: &Public, message: &[u8], der: &[u8]) -> Result<(), CryptoError> {
    let signature = ::sm2::dsa::Signature::from_der(der).map_err(|_| CryptoError::BadSignature)?;
    key.verify(message, &signature)
        .map_err(|_| CryptoError::BadSignature)
}

/// An SM2 private key held in this process. Not wiped on drop: the `sm2` crate's DSA key
/// has no `Zeroize` (its `SecretKey` has), so the scalar may stay in freed memory until it
/// is reused (`docs/crypto.md`).
pub(crate) struct Private(::sm2::dsa::SigningKey);

impl Private {
    /// A fresh key: 32 bytes from AWS-LC's generator (the operating system's), drawn again
    /// in the rare case they are not a valid scalar.
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        use aws_lc_rs::rand::SecureRandom;
        let random = aws_lc_rs::rand::SystemRandom::new();
        for _ in 0..16 {
            let mut bytes = Zeroizing::new([0u8; 32]);
            random
                .fill(bytes.as_mut())
                .map_err(|_| CryptoError::SigningFailed)?;
            if let Ok(key) = ::sm2::dsa::SigningKey::from_slice(DISTID, bytes.as_ref()) {
                return Ok(Self(key));
            }
        }
        Err(CryptoError::SigningFailed)
    }

    /// From a PKCS#8 `PrivateKeyInfo` (DER) whose curve is SM2 (1.2.156.10197.1.301).
    /// A key that cannot sign is refused here: GB/T 32918.1 allows d up to n − 2 only
    /// (with n − 1, 1 + d has no inverse and every signature fails).
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let secret =
            ::sm2::SecretKey::from_pkcs8_der(der).map_err(|_| CryptoError::BadPrivateKey)?;
        let key = ::sm2::dsa::SigningKey::new(DISTID, &secret)
            .map(Self)
            .map_err(|_| CryptoError::BadPrivateKey)?;
        key.sign(b"eid SM2 key check")
            .map_err(|_| CryptoError::BadPrivateKey)?;
        Ok(key)
    }

    /// The key as PKCS#8 DER.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let secret = ::sm2::SecretKey::from(self.0.as_nonzero_scalar());
        let document = secret
            .to_pkcs8_der()
            .map_err(|_| CryptoError::BadPrivateKey)?;
        Ok(Zeroizing::new(document.as_bytes().to_vec()))
    }

    /// The public half.
    pub(crate) fn public(&self) -> &Public {
        self.0.verifying_key()
    }

    /// A raw `r || s` signature over `message` (SM3 of `Z || message`, hashed here).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let signature: ::sm2::dsa::Signature = self
            .0
            .try_sign(message)
            .map_err(|_| CryptoError::SigningFailed)?;
        Ok(signature.to_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    //! Known answers from the standards (their provenance beside each).

    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        hex::decode(text.replace(' ', "")).unwrap()
    }

    /// GB/T 32905-2016 Appendix A (also GM/T 0004-2012), examples 1 and 2.
    #[test]
    fn sm3_gives_the_standards_digests() {
        assert_eq!(
            sm3(b"abc").to_vec(),
            hex("66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0")
        );
        assert_eq!(
            sm3("abcd".repeat(16).as_bytes()).to_vec(),
            hex("debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732")
        );
    }

    /// The signature example on the recommended curve of GM/T 0003.5-2012 Appendix A,
    /// which GB/T 32918.5-2017 adopts: the private key gives the published public key, and
    /// the published signature of "message digest" under ID 1234567812345678 verifies.
    const EXAMPLE_D: &str =
        "3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8";
    const EXAMPLE_X: &str =
        "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020";
    const EXAMPLE_Y: &str =
        "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13";
    const EXAMPLE_R: &str =
        "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3";
    const EXAMPLE_S: &str =
        "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA";

    #[test]
    fn sm2_verifies_the_standards_signature_and_refuses_it_altered() {
        let private = ::sm2::dsa::SigningKey::from_slice(DISTID, &hex(EXAMPLE_D)).unwrap();
        let point = uncompressed(private.verifying_key()).unwrap();
        assert_eq!(point[1..33].to_vec(), hex(EXAMPLE_X));
        assert_eq!(point[33..].to_vec(), hex(EXAMPLE_Y));
        let key = public(&point).unwrap();
        let signature = [hex(EXAMPLE_R), hex(EXAMPLE_S)].concat();
        verify(&key, b"message digest", &signature).unwrap();
        assert_eq!(
            verify(&key, b"message digesT", &signature),
            Err(CryptoError::BadSignature)
        );
        for at in [0, 31, 32, 63] {
            let mut altered = signature.clone();
            altered[at] ^= 1;
            assert_eq!(
                verify(&key, b"message digest", &altered),
                Err(CryptoError::BadSignature)
            );
        }
        // Another identifier gives another Z: the same signature does not verify.
        let other =
            ::sm2::dsa::VerifyingKey::from_sec1_bytes("ALICE123@YAHOO.COM", &point).unwrap();
        assert_eq!(
            verify(&other, b"message digest", &signature),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn keys_sign_round_trip_through_pkcs8_and_der_and_refuse_other_curves() {
        let key = Private::generate().unwrap();
        let signature = key.sign(b"m").unwrap();
        assert_eq!(signature.len(), 64);
        verify(key.public(), b"m", &signature).unwrap();
        let der = ::sm2::dsa::Signature::from_slice(&signature)
            .unwrap()
            .to_der();
        verify_der(key.public(), b"m", der.as_bytes()).unwrap();
        let back = Private::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
        assert_eq!(
            uncompressed(back.public()).unwrap(),
            uncompressed(key.public()).unwrap()
        );
        // A P-256 key's PKCS#8 is not an SM2 key, nor its point one on SM2's curve.
        let p256 = crate::SigningKey::generate().unwrap();
        assert!(Private::from_pkcs8_der(&p256.to_pkcs8_der().unwrap()).is_err());
        assert!(public(crate::Signer::verifying_key(&p256).sec1()).is_err());
    }
}
