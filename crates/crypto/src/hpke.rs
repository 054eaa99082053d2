//! HPKE (RFC 9180) in base mode with DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-128-GCM:
//! the suite ISO/IEC 18013-7 Annex C encrypts a DeviceResponse with, to the key the reader
//! put in its request. The implementation is rustls's (`crypto::aws_lc_rs::hpke`, on the
//! aws-lc eid already uses); this module only fixes the suite and names the keys. RFC 9180
//! A.3.1's vector is checked in the tests below.

use rustls::crypto::aws_lc_rs::hpke::DH_KEM_P256_HKDF_SHA256_AES_128;
use rustls::crypto::hpke::{EncapsulatedSecret, Hpke, HpkePrivateKey, HpkePublicKey};

use crate::CryptoError;

/// A recipient's key pair: the reader makes one per request, and only it can open what is
/// sealed to its public point.
pub struct HpkeRecipient {
    public: [u8; 65],
    private: HpkePrivateKey,
}

impl std::fmt::Debug for HpkeRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpkeRecipient")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl HpkeRecipient {
    /// A fresh key pair.
    pub fn generate() -> Result<Self, CryptoError> {
        let (public, private) = DH_KEM_P256_HKDF_SHA256_AES_128
            .generate_key_pair()
            .map_err(|_| CryptoError::Hpke)?;
        let public = public
            .0
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadPublicKey)?;
        Ok(Self { public, private })
    }

    /// A key pair from its private scalar (32 bytes, big-endian) and its public point (an
    /// uncompressed SEC 1 point); whether they belong together shows when a message opens.
    pub fn from_parts(scalar: &[u8], public: &[u8]) -> Result<Self, CryptoError> {
        if scalar.len() != 32 {
            return Err(CryptoError::BadPrivateKey);
        }
        let public = public.try_into().map_err(|_| CryptoError::BadPublicKey)?;
        Ok(Self {
            public,
            private: HpkePrivateKey::from(scalar.to_vec()),
        })
    }

    /// A key pair from a P-256 private key in a `PRIVATE KEY` PEM (PKCS#8), as `eid keys
    /// generate` writes it: a relying party's long-lived key for what is sealed to it.
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, CryptoError> {
        use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
        use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
        let der = zeroize::Zeroizing::new(crate::pem::decode("PRIVATE KEY", text)?);
        let private = PrivateKey::from_private_key_der(&ECDH_P256, &der)
            .map_err(|_| CryptoError::BadPrivateKey)?;
        let public = private
            .compute_public_key()
            .map_err(|_| CryptoError::BadPrivateKey)?;
        let scalar: EcPrivateKeyBin<'static> = private
            .as_be_bytes()
            .map_err(|_| CryptoError::BadPrivateKey)?;
        Self::from_parts(scalar.as_ref(), public.as_ref())
    }

    /// The public point (uncompressed SEC 1) to seal to.
    pub fn public_point(&self) -> &[u8; 65] {
        &self.public
    }

    /// The private scalar (32 bytes, big-endian), for a request kept where every replica of
    /// a desk finds it (sealed: see `eid_verifier::sessions`); [`Self::from_parts`] takes it
    /// back.
    pub fn scalar(&self) -> &[u8] {
        self.private.secret_bytes()
    }

    /// Opens `ciphertext` sealed to this key with the encapsulated key `enc`, under `info`
    /// and `aad`.
    pub fn open(
        &self,
        enc: &[u8],
        info: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        DH_KEM_P256_HKDF_SHA256_AES_128
            .open(
                &EncapsulatedSecret(enc.to_vec()),
                info,
                aad,
                ciphertext,
                &self.private,
            )
            .map_err(|_| CryptoError::Hpke)
    }
}

/// Seals `plaintext` to the recipient's public point (uncompressed SEC 1) under `info` and
/// `aad`: the encapsulated key and the ciphertext.
pub fn seal(
    recipient: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    // Checked here, so that a bad point is said to be one.
    crate::VerifyingKey::from_sec1(crate::Algorithm::Es256, recipient)?;
    let (enc, ciphertext) = DH_KEM_P256_HKDF_SHA256_AES_128
        .seal(info, aad, plaintext, &HpkePublicKey(recipient.to_vec()))
        .map_err(|_| CryptoError::Hpke)?;
    Ok((enc.0, ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A relying party's key as `eid keys generate` writes it (PKCS#8 PEM) opens what is
    /// sealed to its public point; a key of another kind is refused.
    #[test]
    fn a_pkcs8_key_opens_what_is_sealed_to_its_point() {
        use crate::Signer;
        let key = crate::SigningKey::generate().unwrap();
        let recipient = HpkeRecipient::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(recipient.public_point(), key.verifying_key().sec1());
        let (enc, ciphertext) = seal(recipient.public_point(), b"info", b"aad", b"hello").unwrap();
        assert_eq!(
            recipient.open(&enc, b"info", b"aad", &ciphertext).unwrap(),
            b"hello"
        );
        let sm2 = crate::SigningKey::generate_for(crate::Algorithm::Sm2Sm3).unwrap();
        assert!(HpkeRecipient::from_pkcs8_pem(&sm2.to_pkcs8_pem().unwrap()).is_err());
        assert!(HpkeRecipient::from_pkcs8_pem("not a key").is_err());
    }

    /// RFC 9180 Appendix A.3.1: DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base
    /// mode, the first encryption (sequence number 0).
    #[test]
    fn rfc_9180_a_3_1_opens() {
        let recipient = HpkeRecipient::from_parts(
            &hex("f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2"),
            &hex(
                "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a826a779b4c
                 f969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0",
            ),
        )
        .unwrap();
        let enc = hex(
            "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b6
             1a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
        );
        let info = hex("4f6465206f6e2061204772656369616e2055726e");
        let aad = hex("436f756e742d30");
        let ct = hex(
            "5ad590bb8baa577f8619db35a36311226a896e7342a6d836d8b7bcd2f20b6c7f9076ac232e
             3ab2523f39513434",
        );
        assert_eq!(
            recipient.open(&enc, &info, &aad, &ct).unwrap(),
            b"Beauty is truth, truth beauty"
        );
        // Each input changed: it does not open.
        let mut flipped = ct.clone();
        flipped[0] ^= 1;
        assert!(recipient.open(&enc, &info, &aad, &flipped).is_err());
        assert!(recipient.open(&enc, b"another info", &aad, &ct).is_err());
        assert!(recipient.open(&enc, &info, b"Count-1", &ct).is_err());
        let other = HpkeRecipient::generate().unwrap();
        assert!(other.open(&enc, &info, &aad, &ct).is_err());
    }

    #[test]
    fn what_is_sealed_to_a_key_opens_with_it_alone() {
        let recipient = HpkeRecipient::generate().unwrap();
        let (enc, ct) = seal(recipient.public_point(), b"info", b"", b"a DeviceResponse").unwrap();
        assert_eq!(enc.len(), 65);
        assert_eq!(
            recipient.open(&enc, b"info", b"", &ct).unwrap(),
            b"a DeviceResponse"
        );
        assert!(matches!(
            HpkeRecipient::generate()
                .unwrap()
                .open(&enc, b"info", b"", &ct),
            Err(CryptoError::Hpke)
        ));
        assert!(matches!(
            seal(&[4; 65], b"info", b"", b"x"),
            Err(CryptoError::BadPublicKey)
        ));
    }
}
