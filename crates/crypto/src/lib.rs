//! Cryptography for eid, with every algorithm choice made here and bound to keys.
//!
//! - [`Algorithm`]: the allow-list. A key carries its algorithm; a message's `alg` header is
//!   only ever compared against it ([`VerifyingKey::verify_as`]), never obeyed.
//! - [`Signer`]: how anything signs, so that a software key today and an HSM (PKCS#11)
//!   tomorrow sit behind the same trait. [`SigningKey`] is the software key.
//! - [`VerifyingKey`]: a validated P-256 public key with its algorithm.
//! - [`jwk`]: JWK (RFC 7517) for EC keys and RFC 7638 thumbprints.
//! - [`x509`]: IACA root and document-signer certificates per ISO/IEC 18013-5 Annex B, and
//!   chain validation to trusted roots.
//!
//! ES256 runs on `aws-lc-rs` (verify measured 4.7× faster than the pure-Rust `p256` here).

mod algorithm;
mod error;
pub mod jwk;
mod keys;
pub mod pem;
pub mod session;
pub mod x509;

pub use algorithm::Algorithm;
pub use error::CryptoError;
pub use jwk::Jwk;
pub use keys::{Signer, SigningKey, VerifyingKey};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Base64url without padding (RFC 7515 §2), as JOSE uses it.
pub fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url without padding; padding or other alphabets are refused.
pub fn b64url_decode(text: &str) -> Result<Vec<u8>, CryptoError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .map_err(|_| CryptoError::Base64)
}

/// The random source for issuance: AWS-LC's CSPRNG (a DRBG seeded from the operating
/// system), which fills salts without a system call each time.
#[derive(Debug, Clone, Copy, Default)]
pub struct CryptoRandom;

impl eid_core::Random for CryptoRandom {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads AWS-LC's random source"
    )]
    fn fill(&self, dest: &mut [u8]) -> Result<(), eid_core::random::RandomError> {
        aws_lc_rs::rand::fill(dest).map_err(|_| eid_core::random::RandomError)
    }
}
