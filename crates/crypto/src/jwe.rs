//! JWE (RFC 7516) in the one shape OpenID4VP's encrypted responses use: compact
//! serialization, key agreement `ECDH-ES` on P-256 used directly as the content key
//! (RFC 7518 §4.6, Concat KDF with SHA-256), content encryption `A128GCM` or `A256GCM`.
//!
//! The protected header carries `alg`, `enc`, `epk` (the sender's ephemeral public key),
//! `kid` when the recipient key has one, and `apu`/`apv` when given; the encrypted key is
//! empty; the additional authenticated data is the protected header as sent (RFC 7516
//! §5.1 step 14). Opening checks `alg` and `enc` against what the recipient allows before
//! any key agreement, and a changed byte anywhere fails the GCM tag.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::session::AgreementKey;
use crate::{CryptoError, Jwk, b64url, b64url_decode, sha256};

/// The content encryption algorithms eid writes and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    /// AES-128 in GCM (OpenID4VP's default).
    A128Gcm,
    /// AES-256 in GCM.
    A256Gcm,
}

impl Enc {
    /// The `enc` header value.
    pub fn name(self) -> &'static str {
        match self {
            Self::A128Gcm => "A128GCM",
            Self::A256Gcm => "A256GCM",
        }
    }

    /// Parses an `enc` value eid supports.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::A128Gcm, Self::A256Gcm]
            .into_iter()
            .find(|e| e.name() == name)
    }

    fn key_len(self) -> usize {
        match self {
            Self::A128Gcm => 16,
            Self::A256Gcm => 32,
        }
    }

    fn aead(self, key: &[u8]) -> Result<LessSafeKey, JweError> {
        let algorithm = match self {
            Self::A128Gcm => &AES_128_GCM,
            Self::A256Gcm => &AES_256_GCM,
        };
        Ok(LessSafeKey::new(UnboundKey::new(algorithm, key).map_err(
            |_| JweError::Crypto(CryptoError::SigningFailed),
        )?))
    }
}

/// Why a JWE could not be made or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    /// Not five base64url parts with a JSON protected header.
    #[error("not a compact JWE: {0}")]
    Malformed(&'static str),
    /// `alg` other than ECDH-ES.
    #[error("JWE alg {0:?} is not accepted (only ECDH-ES)")]
    UnsupportedAlgorithm(String),
    /// `enc` the recipient does not accept.
    #[error("JWE enc {0:?} is not accepted")]
    UnsupportedEncryption(String),
    /// The ephemeral key is missing or not a P-256 point.
    #[error("the JWE's ephemeral key (epk) is missing or not a P-256 point")]
    BadEphemeralKey,
    /// The content does not decrypt (another recipient key, or altered).
    #[error("the JWE does not decrypt (not for this key, or altered)")]
    Decryption,
    /// A key or the random source failed.
    #[error("{0}")]
    Crypto(CryptoError),
}

/// RFC 7518 §4.6.2: the Concat KDF (NIST SP 800-56A) with SHA-256, one round (at most 256
/// bits), `AlgorithmID` = `enc` for direct key agreement.
fn concat_kdf(z: &[u8], enc: Enc, apu: &[u8], apv: &[u8]) -> Zeroizing<Vec<u8>> {
    let field = |out: &mut Vec<u8>, data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
    };
    let mut input = Zeroizing::new(Vec::with_capacity(4 + z.len() + 64));
    input.extend_from_slice(&1u32.to_be_bytes());
    input.extend_from_slice(z);
    field(&mut input, enc.name().as_bytes());
    field(&mut input, apu);
    field(&mut input, apv);
    input.extend_from_slice(&((enc.key_len() * 8) as u32).to_be_bytes());
    let digest = Zeroizing::new(sha256(&input));
    Zeroizing::new(digest[..enc.key_len()].to_vec())
}

/// What to encrypt to.
pub struct Recipient<'a> {
    /// The recipient's public key (its `kid` goes into the header when it has one).
    pub key: &'a Jwk,
    /// The content encryption.
    pub enc: Enc,
    /// `apu` (Agreement PartyUInfo), raw bytes; empty leaves it out.
    pub apu: &'a [u8],
    /// `apv` (Agreement PartyVInfo), raw bytes; empty leaves it out.
    pub apv: &'a [u8],
}

/// Encrypts `plaintext` to `recipient` with a fresh ephemeral key; `random` gives the IV.
pub fn encrypt(
    recipient: &Recipient<'_>,
    plaintext: &[u8],
    random: &dyn eid_core::Random,
) -> Result<String, JweError> {
    let point = recipient.key.point().map_err(JweError::Crypto)?;
    let ephemeral = AgreementKey::generate().map_err(JweError::Crypto)?;
    let z = ephemeral.agree(&point).map_err(JweError::Crypto)?;
    let cek = concat_kdf(&z[..], recipient.enc, recipient.apu, recipient.apv);
    let epk = ephemeral.public_point();
    let mut header = json!({
        "alg": "ECDH-ES",
        "enc": recipient.enc.name(),
        "epk": {"kty": "EC", "crv": "P-256", "x": b64url(&epk[1..33]), "y": b64url(&epk[33..])},
    });
    if let Some(kid) = &recipient.key.kid {
        header["kid"] = Value::from(kid.as_str());
    }
    if !recipient.apu.is_empty() {
        header["apu"] = Value::from(b64url(recipient.apu));
    }
    if !recipient.apv.is_empty() {
        header["apv"] = Value::from(b64url(recipient.apv));
    }
    let protected = b64url(header.to_string().as_bytes());
    let mut iv = [0u8; 12];
    random
        .fill(&mut iv)
        .map_err(|_| JweError::Crypto(CryptoError::SigningFailed))?;
    let mut buffer = plaintext.to_vec();
    let tag = recipient
        .enc
        .aead(&cek)?
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(protected.as_bytes()),
            &mut buffer,
        )
        .map_err(|_| JweError::Crypto(CryptoError::SigningFailed))?;
    Ok(format!(
        "{protected}..{}.{}.{}",
        b64url(&iv),
        b64url(&buffer),
        b64url(tag.as_ref())
    ))
}

/// An opened JWE.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The content.
    pub plaintext: Vec<u8>,
}

/// Opens a compact JWE with the recipient's key, accepting only `ECDH-ES` and the `enc`
/// values in `accepted`.
pub fn decrypt(
    compact: &str,
    recipient: &AgreementKey,
    accepted: &[Enc],
) -> Result<Opened, JweError> {
    let parts: Vec<&str> = compact.trim().split('.').collect();
    let [protected, encrypted_key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err(JweError::Malformed("a compact JWE has five parts"));
    };
    let decode = |part: &str, what| b64url_decode(part).map_err(|_| JweError::Malformed(what));
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(protected, "header is not base64url")?)
            .map_err(|_| JweError::Malformed("the header is not a JSON object"))?;
    let text = |name: &str| header.get(name).and_then(Value::as_str);
    match text("alg") {
        Some("ECDH-ES") => {}
        other => {
            return Err(JweError::UnsupportedAlgorithm(
                other.unwrap_or_default().to_owned(),
            ));
        }
    }
    let enc = text("enc")
        .and_then(Enc::parse)
        .filter(|e| accepted.contains(e))
        .ok_or_else(|| JweError::UnsupportedEncryption(text("enc").unwrap_or_default().into()))?;
    if !encrypted_key.is_empty() {
        return Err(JweError::Malformed(
            "ECDH-ES in direct mode has an empty encrypted key",
        ));
    }
    if header.contains_key("zip") || header.contains_key("crit") {
        return Err(JweError::Malformed("zip and crit are not accepted"));
    }
    let epk: Jwk = header
        .get("epk")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(JweError::BadEphemeralKey)?;
    let point = epk.point().map_err(|_| JweError::BadEphemeralKey)?;
    let party = |name: &str| -> Result<Vec<u8>, JweError> {
        match text(name) {
            Some(v) => {
                b64url_decode(v).map_err(|_| JweError::Malformed("apu/apv is not base64url"))
            }
            None if header.contains_key(name) => Err(JweError::Malformed("apu/apv must be text")),
            None => Ok(Vec::new()),
        }
    };
    let z = recipient
        .agree(&point)
        .map_err(|_| JweError::BadEphemeralKey)?;
    let cek = concat_kdf(&z[..], enc, &party("apu")?, &party("apv")?);
    let iv: [u8; 12] = decode(iv, "iv is not base64url")?
        .try_into()
        .map_err(|_| JweError::Malformed("the IV must be 96 bits"))?;
    let mut buffer = decode(ciphertext, "ciphertext is not base64url")?;
    let tag = decode(tag, "tag is not base64url")?;
    if tag.len() != 16 {
        return Err(JweError::Malformed("the GCM tag must be 128 bits"));
    }
    buffer.extend_from_slice(&tag);
    let plaintext = enc
        .aead(&cek)?
        .open_in_place(
            Nonce::assume_unique_for_key(iv),
            Aad::from(protected.as_bytes()),
            &mut buffer,
        )
        .map_err(|_| JweError::Decryption)?
        .to_vec();
    Ok(Opened { header, plaintext })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CryptoRandom;

    fn recipient() -> (AgreementKey, Jwk) {
        let key = AgreementKey::generate().unwrap();
        let point = key.public_point();
        let mut jwk = Jwk::ec(crate::Algorithm::Es256, &point[1..33], &point[33..]);
        jwk.kid = Some("enc-1".into());
        (key, jwk)
    }

    #[test]
    fn round_trip_both_encs_with_and_without_party_info() {
        let (key, jwk) = recipient();
        for enc in [Enc::A128Gcm, Enc::A256Gcm] {
            for (apu, apv) in [(&b""[..], &b""[..]), (b"wallet nonce", b"verifier nonce")] {
                let sealed = encrypt(
                    &Recipient {
                        key: &jwk,
                        enc,
                        apu,
                        apv,
                    },
                    b"{\"vp_token\":{}}",
                    &CryptoRandom,
                )
                .unwrap();
                let opened = decrypt(&sealed, &key, &[enc]).unwrap();
                assert_eq!(opened.plaintext, b"{\"vp_token\":{}}");
                assert_eq!(opened.header["kid"], "enc-1");
                assert_eq!(opened.header["enc"], enc.name());
            }
        }
    }

    /// OpenID4VP 1.0 §8.3's example: the encrypted response and the verifier's private key
    /// it was made for (`testdata/openid4vp/spec-inline`, 23 and 24).
    #[test]
    fn the_openid4vp_example_response_decrypts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/openid4vp/spec-inline");
        let (Ok(response), Ok(key)) = (
            std::fs::read_to_string(dir.join("23_8_3_encrypted_responses.txt")),
            std::fs::read_to_string(dir.join("24_8_3_encrypted_responses.json")),
        ) else {
            panic!(
                "{} is missing: the spec vectors are part of the repository (testdata/)",
                dir.display()
            );
        };
        // The spec wraps the JWE inside its JSON string; unwrapped, it is one token.
        let start = response.find("\"ey").unwrap() + 1;
        let end = start + response[start..].find('"').unwrap();
        let compact: String = response[start..end].split_whitespace().collect();
        let key: Value = serde_json::from_str(&key).unwrap();
        let d = b64url_decode(key["d"].as_str().unwrap()).unwrap();
        let recipient = AgreementKey::from_scalar(&d).unwrap();
        let opened = decrypt(&compact, &recipient, &[Enc::A128Gcm]).unwrap();
        assert_eq!(opened.header["kid"], "ac");
        // The content is §8.3's example payload (26).
        let content: Value = serde_json::from_slice(&opened.plaintext).unwrap();
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("26_8_3_encrypted_responses.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(content, expected);
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let (key, jwk) = recipient();
        let sealed = encrypt(
            &Recipient {
                key: &jwk,
                enc: Enc::A128Gcm,
                apu: b"",
                apv: b"",
            },
            b"secret",
            &CryptoRandom,
        )
        .unwrap();
        // Not accepted by this recipient.
        assert_eq!(
            decrypt(&sealed, &key, &[Enc::A256Gcm]).unwrap_err(),
            JweError::UnsupportedEncryption("A128GCM".into())
        );
        // Another recipient.
        let (other, _) = recipient();
        assert_eq!(
            decrypt(&sealed, &other, &[Enc::A128Gcm]).unwrap_err(),
            JweError::Decryption
        );
        // A changed ciphertext byte, and a changed header (the AAD).
        let mut parts: Vec<String> = sealed.split('.').map(str::to_owned).collect();
        let mut ciphertext = b64url_decode(&parts[3]).unwrap();
        ciphertext[0] ^= 1;
        parts[3] = b64url(&ciphertext);
        assert_eq!(
            decrypt(&parts.join("."), &key, &[Enc::A128Gcm]).unwrap_err(),
            JweError::Decryption
        );
        let mut header: Map<String, Value> =
            serde_json::from_slice(&b64url_decode(sealed.split('.').next().unwrap()).unwrap())
                .unwrap();
        header.insert("kid".into(), "enc-2".into());
        let mut parts: Vec<String> = sealed.split('.').map(str::to_owned).collect();
        parts[0] = b64url(Value::Object(header.clone()).to_string().as_bytes());
        assert_eq!(
            decrypt(&parts.join("."), &key, &[Enc::A128Gcm]).unwrap_err(),
            JweError::Decryption
        );
        header.insert("alg".into(), "ECDH-ES+A128KW".into());
        parts[0] = b64url(Value::Object(header.clone()).to_string().as_bytes());
        assert_eq!(
            decrypt(&parts.join("."), &key, &[Enc::A128Gcm]).unwrap_err(),
            JweError::UnsupportedAlgorithm("ECDH-ES+A128KW".into())
        );
        header.insert("alg".into(), "ECDH-ES".into());
        header.remove("epk");
        parts[0] = b64url(Value::Object(header).to_string().as_bytes());
        assert_eq!(
            decrypt(&parts.join("."), &key, &[Enc::A128Gcm]).unwrap_err(),
            JweError::BadEphemeralKey
        );
        assert!(matches!(
            decrypt("a.b.c", &key, &[Enc::A128Gcm]),
            Err(JweError::Malformed(_))
        ));
        // A shortened tag (the ciphertext/tag boundary moved) is refused before opening.
        let mut parts: Vec<String> = sealed.split('.').map(str::to_owned).collect();
        let tag = b64url_decode(&parts[4]).unwrap();
        parts[4] = b64url(&tag[..12]);
        assert_eq!(
            decrypt(&parts.join("."), &key, &[Enc::A128Gcm]).unwrap_err(),
            JweError::Malformed("the GCM tag must be 128 bits")
        );
    }
}
