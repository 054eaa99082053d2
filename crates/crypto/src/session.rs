//! The primitives of an ISO 18013-5 session and of MAC device authentication: ephemeral
//! ECDH on P-256, HKDF-SHA-256, HMAC-SHA-256 and AES-256-GCM. Secrets live in zeroizing
//! memory and have no `Debug`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::CryptoError;

/// A 32-byte secret (shared secret, derived key), wiped on drop.
pub type Secret = Zeroizing<[u8; 32]>;

/// An ECDH key on P-256: an ephemeral session key, or (for MAC authentication) a static
/// device key's private half. AWS-LC wipes it on drop.
pub struct AgreementKey {
    private: PrivateKey,
    public: [u8; 65],
}

impl AgreementKey {
    /// A fresh ephemeral key.
    pub fn generate() -> Result<Self, CryptoError> {
        let private = PrivateKey::generate(&ECDH_P256).map_err(|_| CryptoError::SigningFailed)?;
        Self::from_private(private)
    }

    /// From the 32-byte private scalar (spec vectors publish theirs).
    pub fn from_scalar(d: &[u8]) -> Result<Self, CryptoError> {
        let private =
            PrivateKey::from_private_key(&ECDH_P256, d).map_err(|_| CryptoError::BadPrivateKey)?;
        Self::from_private(private)
    }

    fn from_private(private: PrivateKey) -> Result<Self, CryptoError> {
        let public = private
            .compute_public_key()
            .map_err(|_| CryptoError::BadPrivateKey)?;
        let public: [u8; 65] = public
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError::BadPrivateKey)?;
        Ok(Self { private, public })
    }

    /// The 32-byte private scalar, to keep the key where another process picks it up
    /// (sealed: an online request's key waits in a store shared by a desk's replicas).
    pub fn scalar(&self) -> Result<Secret, CryptoError> {
        use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
        let bin: EcPrivateKeyBin<'static> = self
            .private
            .as_be_bytes()
            .map_err(|_| CryptoError::BadPrivateKey)?;
        let mut out = Zeroizing::new([0u8; 32]);
        if bin.as_ref().len() != 32 {
            return Err(CryptoError::BadPrivateKey);
        }
        out.copy_from_slice(bin.as_ref());
        Ok(out)
    }

    /// The public point, uncompressed SEC 1.
    pub fn public_point(&self) -> &[u8; 65] {
        &self.public
    }

    /// ECDH with the peer's uncompressed point: the shared secret (the x coordinate).
    pub fn agree(&self, peer_point: &[u8]) -> Result<Secret, CryptoError> {
        let peer = UnparsedPublicKey::new(&ECDH_P256, peer_point);
        agreement::agree(&self.private, peer, CryptoError::BadPublicKey, |z| {
            let mut out = Zeroizing::new([0u8; 32]);
            if z.len() != 32 {
                return Err(CryptoError::BadPublicKey);
            }
            out.copy_from_slice(z);
            Ok(out)
        })
    }
}

/// HKDF-SHA-256 (RFC 5869) to a 32-byte key.
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8]) -> Result<Secret, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, HKDF_SHA256)
        .map_err(|_| CryptoError::SigningFailed)?;
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(&mut out[..])
        .map_err(|_| CryptoError::SigningFailed)?;
    Ok(out)
}

/// HMAC-SHA-256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Checks an HMAC-SHA-256 tag in constant time.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), CryptoError> {
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), data, tag)
        .map_err(|_| CryptoError::BadSignature)
}

/// AES-256-GCM with a 12-byte nonce and no associated data: `ciphertext || tag`.
pub fn aes256gcm_seal(
    key: &[u8; 32],
    nonce: [u8; 12],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    aes256gcm_seal_with(key, nonce, &[], plaintext)
}

/// AES-256-GCM with a 12-byte nonce over `plaintext`, authenticating `aad` too:
/// `ciphertext || tag`.
pub fn aes256gcm_seal_with(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::SigningFailed)?,
    );
    let mut buffer = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buffer,
    )
    .map_err(|_| CryptoError::SigningFailed)?;
    Ok(buffer)
}

/// Opens what [`aes256gcm_seal`] sealed; a wrong key, nonce or any changed byte fails.
pub fn aes256gcm_open(
    key: &[u8; 32],
    nonce: [u8; 12],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    aes256gcm_open_with(key, nonce, &[], sealed)
}

/// Opens what [`aes256gcm_seal_with`] sealed with the same `aad`; a wrong key, nonce, `aad`
/// or any changed byte fails.
pub fn aes256gcm_open_with(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::SigningFailed)?,
    );
    let mut buffer = sealed.to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buffer,
        )
        .map_err(|_| CryptoError::BadSignature)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdh_agrees_both_ways() {
        let (a, b) = (
            AgreementKey::generate().unwrap(),
            AgreementKey::generate().unwrap(),
        );
        assert_eq!(
            *a.agree(b.public_point()).unwrap(),
            *b.agree(a.public_point()).unwrap()
        );
        assert!(a.agree(&[4u8; 65]).is_err());
    }

    #[test]
    fn a_key_made_again_from_its_scalar_is_the_same_key() {
        let key = AgreementKey::generate().unwrap();
        let again = AgreementKey::from_scalar(&key.scalar().unwrap()[..]).unwrap();
        assert_eq!(key.public_point(), again.public_point());
        let peer = AgreementKey::generate().unwrap();
        assert_eq!(
            *key.agree(peer.public_point()).unwrap(),
            *again.agree(peer.public_point()).unwrap()
        );
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = [7u8; 32];
        let nonce = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
        let sealed = aes256gcm_seal(&key, nonce, b"DeviceResponse").unwrap();
        assert_eq!(
            aes256gcm_open(&key, nonce, &sealed).unwrap(),
            b"DeviceResponse"
        );
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(aes256gcm_open(&key, nonce, &bad).is_err());
        let mut other_nonce = nonce;
        other_nonce[11] = 2;
        assert!(aes256gcm_open(&key, other_nonce, &sealed).is_err());
        // Associated data is bound: another one fails, and so does none.
        let bound = aes256gcm_seal_with(&key, nonce, b"segment 1", b"DeviceResponse").unwrap();
        assert_eq!(
            aes256gcm_open_with(&key, nonce, b"segment 1", &bound).unwrap(),
            b"DeviceResponse"
        );
        assert!(aes256gcm_open_with(&key, nonce, b"segment 2", &bound).is_err());
        assert!(aes256gcm_open(&key, nonce, &bound).is_err());
    }

    #[test]
    fn rfc4231_hmac_sha256_case_2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            tag.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        hmac_sha256_verify(b"Jefe", b"what do ya want for nothing?", &tag).unwrap();
        assert!(hmac_sha256_verify(b"Jefe", b"what do ya want for nothing!", &tag).is_err());
    }

    #[test]
    fn rfc5869_hkdf_sha256_case_1() {
        let ikm = [0x0b; 22];
        let salt: Vec<u8> = (0x00..=0x0c).collect();
        let info: Vec<u8> = (0xf0..=0xf9).collect();
        let okm = hkdf_sha256(&ikm, &salt, &info).unwrap();
        // RFC 5869 A.1 OKM (first 32 of 42 bytes).
        assert_eq!(
            okm.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }
}
