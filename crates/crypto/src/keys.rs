//! Keys: the [`Signer`] trait, the software [`SigningKey`] and [`VerifyingKey`] — P-256 on
//! AWS-LC, and SM2 ([`crate::shangmi`]) where a deployment chooses it.

use std::fmt;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
    KeyPair, ParsedPublicKey,
};
use zeroize::Zeroizing;

use crate::{Algorithm, CryptoError, Jwk, pem};

/// DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480): SEQUENCE { AlgorithmIdentifier {
/// id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }, followed by the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The same for an SM2 key (GB/T 35276): id-ecPublicKey with the curve sm2p256v1
/// (1.2.156.10197.1.301), whose OID is as long as prime256v1's.
const SM2_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d, 0x03, 0x42, 0x00,
];

/// Anything that signs: a software key, or (behind the same trait) a key in an HSM.
///
/// Signatures are in the raw `r || s` form that JOSE and COSE use.
pub trait Signer: Send + Sync {
    /// The algorithm the key is bound to.
    fn algorithm(&self) -> Algorithm;
    /// The public half.
    fn verifying_key(&self) -> &VerifyingKey;
    /// Signs `message` (the signer hashes it).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError>;
}

/// A validated public key with the one algorithm it verifies.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: Algorithm,
    point: [u8; 65],
    public: Public,
    /// The RFC 7638 thumbprint, computed on first use (issuers put it in every `kid`).
    thumbprint: std::sync::OnceLock<String>,
}

/// The parsed key, by algorithm.
#[derive(Clone)]
enum Public {
    P256 {
        fixed: ParsedPublicKey,
        /// Parsed on first use: only certificate checks verify DER signatures, and parsing
        /// a point costs as much as a quarter of a verify.
        asn1: std::sync::OnceLock<ParsedPublicKey>,
    },
    Sm2(Box<crate::shangmi::Public>),
}

impl VerifyingKey {
    /// From an uncompressed SEC 1 point (`04 || x || y`); checks that it is on the curve of
    /// `algorithm` (P-256, or SM2's).
    pub fn from_sec1(algorithm: Algorithm, point: &[u8]) -> Result<Self, CryptoError> {
        let point: [u8; 65] = point.try_into().map_err(|_| CryptoError::BadPublicKey)?;
        if point[0] != 0x04 {
            return Err(CryptoError::BadPublicKey);
        }
        let public = match algorithm {
            Algorithm::Es256 => Public::P256 {
                fixed: ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .map_err(|_| CryptoError::BadPublicKey)?,
                asn1: std::sync::OnceLock::new(),
            },
            Algorithm::Sm2Sm3 => Public::Sm2(Box::new(crate::shangmi::public(&point)?)),
        };
        Ok(Self {
            algorithm,
            point,
            public,
            thumbprint: std::sync::OnceLock::new(),
        })
    }

    /// From a compressed SEC 1 point (`02/03 || x`, 33 bytes), where every byte counts (the
    /// offline QR); checks that it is on the curve of `algorithm`.
    pub fn from_compressed(algorithm: Algorithm, point: &[u8]) -> Result<Self, CryptoError> {
        use aws_lc_rs::encoding::AsDer;
        if point.len() != 33 || !matches!(point[0], 0x02 | 0x03) {
            return Err(CryptoError::BadPublicKey);
        }
        if algorithm == Algorithm::Sm2Sm3 {
            let key = crate::shangmi::public(point)?;
            return Self::from_sec1(algorithm, &crate::shangmi::uncompressed(&key)?);
        }
        let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .map_err(|_| CryptoError::BadPublicKey)?;
        // AWS-LC writes the SubjectPublicKeyInfo with the uncompressed point.
        let der = parsed.as_der().map_err(|_| CryptoError::BadPublicKey)?;
        let uncompressed = der
            .as_ref()
            .strip_prefix(&P256_SPKI_PREFIX[..])
            .ok_or(CryptoError::BadPublicKey)?;
        Self::from_sec1(algorithm, uncompressed)
    }

    /// The compressed SEC 1 point (`02/03 || x`).
    pub fn compressed(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = 0x02 | (self.point[64] & 1);
        out[1..].copy_from_slice(&self.point[1..33]);
        out
    }

    /// From a DER SubjectPublicKeyInfo of a P-256 key.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        Self::from_spki_der_allowing(der, &[Algorithm::Es256])
    }

    /// From a DER SubjectPublicKeyInfo of a P-256 key or an SM2 key (curve sm2p256v1, bound
    /// to [`Algorithm::Sm2Sm3`]), of the algorithms `allowed`: SM2 only where the caller
    /// says it may be.
    pub fn from_spki_der_allowing(der: &[u8], allowed: &[Algorithm]) -> Result<Self, CryptoError> {
        let (algorithm, point) = match der.strip_prefix(&SM2_SPKI_PREFIX[..]) {
            Some(point) => (Algorithm::Sm2Sm3, point),
            None => (
                Algorithm::Es256,
                der.strip_prefix(&P256_SPKI_PREFIX[..])
                    .ok_or(CryptoError::BadPublicKey)?,
            ),
        };
        if !allowed.contains(&algorithm) {
            return Err(CryptoError::UnsupportedAlgorithm(
                algorithm.jose_name().to_owned(),
            ));
        }
        Self::from_sec1(algorithm, point)
    }

    /// From a `PUBLIC KEY` PEM.
    pub fn from_spki_pem(text: &str) -> Result<Self, CryptoError> {
        Self::from_spki_der(&pem::decode("PUBLIC KEY", text)?)
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The uncompressed SEC 1 point.
    pub fn sec1(&self) -> &[u8; 65] {
        &self.point
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let prefix = match self.algorithm {
            Algorithm::Es256 => &P256_SPKI_PREFIX,
            Algorithm::Sm2Sm3 => &SM2_SPKI_PREFIX,
        };
        [&prefix[..], &self.point[..]].concat()
    }

    /// The `PUBLIC KEY` PEM.
    pub fn to_spki_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.to_spki_der())
    }

    /// The public JWK (`kty` EC, `crv` P-256 or, for SM2, `SM2`; `x`, `y`).
    pub fn to_jwk(&self) -> Jwk {
        Jwk::ec(self.algorithm, &self.point[1..33], &self.point[33..])
    }

    /// The RFC 7638 SHA-256 thumbprint in base64url, computed once per key.
    pub fn thumbprint(&self) -> &str {
        self.thumbprint.get_or_init(|| self.to_jwk().thumbprint())
    }

    /// Verifies a raw `r || s` signature over `message` with the key's own algorithm.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        if signature.len() != self.algorithm.signature_len() {
            return Err(CryptoError::BadSignature);
        }
        match &self.public {
            Public::P256 { fixed, .. } => fixed
                .verify_sig(message, signature)
                .map_err(|_| CryptoError::BadSignature),
            Public::Sm2(key) => crate::shangmi::verify(key, message, signature),
        }
    }

    /// Verifies a signature whose message names an algorithm (a JOSE or COSE header): the
    /// named algorithm must be the key's own, then [`VerifyingKey::verify`].
    pub fn verify_as(
        &self,
        claimed: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        if claimed != self.algorithm {
            return Err(CryptoError::AlgorithmMismatch {
                expected: self.algorithm.jose_name(),
                found: claimed.jose_name().to_owned(),
            });
        }
        self.verify(message, signature)
    }

    /// Verifies a DER (ASN.1) signature, the form X.509 uses (ECDSA with SHA-256, or SM2
    /// with SM3 for an SM2 key).
    pub fn verify_der_signature(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        let asn1_lock = match &self.public {
            Public::P256 { asn1, .. } => asn1,
            Public::Sm2(key) => return crate::shangmi::verify_der(key, message, signature),
        };
        let asn1 = match asn1_lock.get() {
            Some(parsed) => parsed,
            None => {
                let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, self.point)
                    .map_err(|_| CryptoError::BadPublicKey)?;
                asn1_lock.get_or_init(|| parsed)
            }
        };
        asn1.verify_sig(message, signature)
            .map_err(|_| CryptoError::BadSignature)
    }
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && self.point == other.point
    }
}

impl Eq for VerifyingKey {}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VerifyingKey({}, {})",
            self.algorithm.jose_name(),
            self.to_jwk().thumbprint()
        )
    }
}

/// A private key held in this process: P-256 unless made or read as SM2. No `Debug`,
/// `Clone` or `Serialize`: the key leaves only as PKCS#8 in zeroizing memory. AWS-LC wipes
/// a P-256 key when it is dropped; an SM2 key is not wiped ([`crate::shangmi`]).
pub struct SigningKey {
    private: Private,
    verifying: VerifyingKey,
}

enum Private {
    P256(EcdsaKeyPair),
    Sm2(crate::shangmi::Private),
}

impl SigningKey {
    /// A fresh P-256 key from AWS-LC's generator (the operating system's random source).
    pub fn generate() -> Result<Self, CryptoError> {
        Self::generate_for(Algorithm::Es256)
    }

    /// A fresh key for `algorithm`, from the operating system's random source.
    pub fn generate_for(algorithm: Algorithm) -> Result<Self, CryptoError> {
        match algorithm {
            Algorithm::Es256 => Self::from_pair(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| CryptoError::SigningFailed)?,
            ),
            Algorithm::Sm2Sm3 => Self::from_sm2(crate::shangmi::Private::generate()?),
        }
    }

    fn from_pair(pair: EcdsaKeyPair) -> Result<Self, CryptoError> {
        let verifying = VerifyingKey::from_sec1(Algorithm::Es256, pair.public_key().as_ref())?;
        Ok(Self {
            private: Private::P256(pair),
            verifying,
        })
    }

    fn from_sm2(key: crate::shangmi::Private) -> Result<Self, CryptoError> {
        let point = crate::shangmi::uncompressed(key.public())?;
        Ok(Self {
            verifying: VerifyingKey::from_sec1(Algorithm::Sm2Sm3, &point)?,
            private: Private::Sm2(key),
        })
    }

    /// From a PKCS#8 `PrivateKeyInfo` (DER) of a P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        Self::from_pkcs8_der_allowing(der, &[Algorithm::Es256])
    }

    /// From a PKCS#8 `PrivateKeyInfo` (DER) of a P-256 key, or of an SM2 key (its curve
    /// named sm2p256v1), of the algorithms `allowed`.
    pub fn from_pkcs8_der_allowing(der: &[u8], allowed: &[Algorithm]) -> Result<Self, CryptoError> {
        match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            Ok(pair) if allowed.contains(&Algorithm::Es256) => Self::from_pair(pair),
            Err(_) if allowed.contains(&Algorithm::Sm2Sm3) => {
                Self::from_sm2(crate::shangmi::Private::from_pkcs8_der(der)?)
            }
            _ => Err(CryptoError::BadPrivateKey),
        }
    }

    /// From a `PRIVATE KEY` PEM (PKCS#8) of a P-256 key.
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, CryptoError> {
        Self::from_pkcs8_pem_allowing(text, &[Algorithm::Es256])
    }

    /// From a `PRIVATE KEY` PEM (PKCS#8) of one of the algorithms `allowed`.
    pub fn from_pkcs8_pem_allowing(text: &str, allowed: &[Algorithm]) -> Result<Self, CryptoError> {
        let der = Zeroizing::new(pem::decode("PRIVATE KEY", text)?);
        Self::from_pkcs8_der_allowing(&der, allowed)
    }

    /// From a private JWK (`d`, `x`, `y`), as the specs' example keys are published.
    pub fn from_jwk_json(json: &str) -> Result<Self, CryptoError> {
        let value: Zeroizing<String> = Zeroizing::new(json.to_owned());
        let jwk: PrivateJwk =
            serde_json::from_str(&value).map_err(|_| CryptoError::BadJwk("not a JWK"))?;
        let public = Jwk::ec_p256_from_b64(&jwk.kty, &jwk.crv, &jwk.x, &jwk.y)?.verifying_key()?;
        let d = Zeroizing::new(crate::b64url_decode(&jwk.d)?);
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &d,
            public.sec1(),
        )
        .map_err(|_| CryptoError::BadPrivateKey)?;
        Self::from_pair(pair)
    }

    /// The key as PKCS#8 DER (v1, no public key), in memory that is wiped on drop.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match &self.private {
            Private::P256(pair) => {
                let doc = pair.to_pkcs8v1().map_err(|_| CryptoError::BadPrivateKey)?;
                Ok(Zeroizing::new(doc.as_ref().to_vec()))
            }
            Private::Sm2(key) => key.to_pkcs8_der(),
        }
    }

    /// The key as a `PRIVATE KEY` PEM, in memory that is wiped on drop.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, CryptoError> {
        Ok(Zeroizing::new(pem::encode(
            "PRIVATE KEY",
            &self.to_pkcs8_der()?,
        )))
    }
}

impl Signer for SigningKey {
    fn algorithm(&self) -> Algorithm {
        self.verifying.algorithm
    }

    fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let pair = match &self.private {
            Private::P256(pair) => pair,
            Private::Sm2(key) => return key.sign(message),
        };
        // AWS-LC draws the nonce itself; the `rng` argument exists for ring compatibility.
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let signature = pair
            .sign(&rng, message)
            .map_err(|_| CryptoError::SigningFailed)?;
        Ok(signature.as_ref().to_vec())
    }
}

#[derive(serde::Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: String,
    x: String,
    y: String,
    d: String,
}

impl Drop for PrivateJwk {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.d.zeroize();
    }
}

/// Converts a raw `r || s` ECDSA signature to the DER form X.509 uses
/// (`SEQUENCE { INTEGER r, INTEGER s }`).
pub(crate) fn raw_to_der(raw: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if raw.len() != 64 {
        return Err(CryptoError::SigningFailed);
    }
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        let trimmed = &bytes[first..];
        let pad = trimmed[0] & 0x80 != 0;
        let mut out = vec![0x02, (trimmed.len() + usize::from(pad)) as u8];
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
        out
    }
    let (r, s) = (integer(&raw[..32]), integer(&raw[32..]));
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"message").unwrap();
        assert_eq!(sig.len(), 64);
        let vk = key.verifying_key();
        vk.verify(b"message", &sig).unwrap();
        assert_eq!(vk.verify(b"messagf", &sig), Err(CryptoError::BadSignature));
        let mut bad = sig.clone();
        bad[10] ^= 1;
        assert_eq!(vk.verify(b"message", &bad), Err(CryptoError::BadSignature));
        assert_eq!(
            vk.verify(b"message", &sig[..63]),
            Err(CryptoError::BadSignature)
        );
        let other = SigningKey::generate().unwrap();
        assert_eq!(
            other.verifying_key().verify(b"message", &sig),
            Err(CryptoError::BadSignature)
        );
        // The DER form verifies through the X.509 path.
        vk.verify_der_signature(b"message", &raw_to_der(&sig).unwrap())
            .unwrap();
    }

    #[test]
    fn pkcs8_and_spki_round_trip() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.verifying_key(), key.verifying_key());
        let spki = key.verifying_key().to_spki_pem();
        assert_eq!(
            &VerifyingKey::from_spki_pem(&spki).unwrap(),
            key.verifying_key()
        );
        assert!(
            SigningKey::from_pkcs8_pem(&spki).is_err(),
            "a public key is not a private key"
        );
    }

    #[test]
    fn points_off_the_curve_are_refused() {
        let key = SigningKey::generate().unwrap();
        let mut point = *key.verifying_key().sec1();
        point[64] ^= 1;
        assert!(matches!(
            VerifyingKey::from_sec1(Algorithm::Es256, &point),
            Err(CryptoError::BadPublicKey)
        ));
        assert!(VerifyingKey::from_sec1(Algorithm::Es256, &point[..64]).is_err());
    }

    #[test]
    fn compressed_points_round_trip_and_bad_ones_are_refused() {
        for _ in 0..8 {
            let key = SigningKey::generate().unwrap();
            let compressed = key.verifying_key().compressed();
            let back = VerifyingKey::from_compressed(Algorithm::Es256, &compressed).unwrap();
            assert_eq!(back.sec1(), key.verifying_key().sec1());
        }
        let mut point = SigningKey::generate().unwrap().verifying_key().compressed();
        let uncompressed = *SigningKey::generate().unwrap().verifying_key().sec1();
        assert!(VerifyingKey::from_compressed(Algorithm::Es256, &uncompressed).is_err());
        assert!(VerifyingKey::from_compressed(Algorithm::Es256, &point[..32]).is_err());
        point[0] = 0x04;
        assert!(VerifyingKey::from_compressed(Algorithm::Es256, &point).is_err());
        // About half of all x values have no point on the curve: some of 0..16 must fail.
        let mut refused = 0;
        for x in 0u8..16 {
            let mut candidate = [0u8; 33];
            candidate[0] = 0x02;
            candidate[32] = x;
            let parsed = VerifyingKey::from_compressed(Algorithm::Es256, &candidate);
            refused += usize::from(parsed.is_err());
        }
        assert!(refused > 0, "some x values have no point on P-256");
    }

    #[test]
    fn the_header_algorithm_is_compared_not_obeyed() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"m").unwrap();
        key.verifying_key()
            .verify_as(Algorithm::Es256, b"m", &sig)
            .unwrap();
    }

    #[test]
    fn sm2_keys_sign_and_verify_under_their_own_algorithm_only() {
        let key = SigningKey::generate_for(Algorithm::Sm2Sm3).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Sm2Sm3);
        let signature = key.sign(b"m").unwrap();
        let public = key.verifying_key();
        public.verify(b"m", &signature).unwrap();
        public
            .verify_as(Algorithm::Sm2Sm3, b"m", &signature)
            .unwrap();
        // A header naming ES256 over an SM2 key, or the other way round, is refused.
        assert!(matches!(
            public.verify_as(Algorithm::Es256, b"m", &signature),
            Err(CryptoError::AlgorithmMismatch { .. })
        ));
        let p256 = SigningKey::generate().unwrap();
        assert!(matches!(
            p256.verifying_key()
                .verify_as(Algorithm::Sm2Sm3, b"m", &p256.sign(b"m").unwrap()),
            Err(CryptoError::AlgorithmMismatch { .. })
        ));
        // The same point bytes are no point of P-256 (but for a chance of about 2^-128).
        assert!(VerifyingKey::from_sec1(Algorithm::Es256, public.sec1()).is_err());
        // PKCS#8, SPKI, JWK and the compressed point keep the algorithm, read as SM2 only
        // where SM2 is allowed.
        let both = [Algorithm::Es256, Algorithm::Sm2Sm3];
        let pkcs8 = key.to_pkcs8_der().unwrap();
        let back = SigningKey::from_pkcs8_der_allowing(&pkcs8, &both).unwrap();
        assert_eq!(back.verifying_key(), public);
        assert_eq!(back.algorithm(), Algorithm::Sm2Sm3);
        assert!(SigningKey::from_pkcs8_der(&pkcs8).is_err());
        assert!(SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).is_err());
        let p256_pkcs8 = p256.to_pkcs8_der().unwrap();
        assert!(SigningKey::from_pkcs8_der_allowing(&p256_pkcs8, &[Algorithm::Sm2Sm3]).is_err());
        let spki = VerifyingKey::from_spki_der_allowing(&public.to_spki_der(), &both).unwrap();
        assert_eq!(&spki, public);
        assert_eq!(
            VerifyingKey::from_spki_der(&public.to_spki_der()),
            Err(CryptoError::UnsupportedAlgorithm("SM2SM3".into()))
        );
        let jwk = public.to_jwk();
        assert_eq!(jwk.crv, "SM2");
        assert_eq!(
            &jwk.verifying_key_allowing(&[Algorithm::Es256, Algorithm::Sm2Sm3])
                .unwrap(),
            public
        );
        let compressed =
            VerifyingKey::from_compressed(Algorithm::Sm2Sm3, &public.compressed()).unwrap();
        assert_eq!(&compressed, public);
        compressed.verify(b"m", &signature).unwrap();
        // The DER form, as X.509 carries it.
        public
            .verify_der_signature(b"m", &raw_to_der(&signature).unwrap())
            .unwrap();
    }

    #[test]
    fn raw_to_der_pads_high_bits_and_trims_zeros() {
        let mut raw = [0u8; 64];
        raw[0] = 0x80;
        raw[63] = 1;
        let der = raw_to_der(&raw).unwrap();
        assert_eq!(&der[..4], &[0x30, 0x26, 0x02, 0x21]);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
    }
}
