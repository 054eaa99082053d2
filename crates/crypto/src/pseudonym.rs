//! Pairwise pseudonyms: for each relying party a value that stays the same for one subject,
//! looks random and unrelated to any other relying party's, and turns back into the subject
//! only under the root key that made it.
//!
//! ```text
//! K_rp = HKDF-SHA-256(IKM = root key, salt = "eid relying-party pseudonym v1", info = rp id)
//! P    = AES-256-GCM-SIV(K_rp, nonce = 0^96, AAD = rp id, plaintext = subject)   (RFC 8452)
//! ```
//!
//! GCM-SIV under a fixed nonce is deterministic authenticated encryption: one subject and
//! relying party always give the same pseudonym, and a repeat reveals nothing but that
//! equality (RFC 8452 §9), which is the point. Pseudonyms of two relying parties come from
//! independent keys: neither relying party, nor both together, can tell from their
//! pseudonyms whether two are one subject's. Opening checks the tag: a pseudonym changed,
//! made up, or brought to another relying party's key is refused, never resolved to
//! someone. The same design as the German eID's restricted identification in its result
//! (BSI TR-03110-2 §3.6: a sector-specific identifier, unlinkable across sectors), with a
//! different holder of the secret: there the chip computes it, here the issuing authority
//! does, so it can also resolve it.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::session::hkdf_sha256;

/// The HKDF salt: what the root key's output is for (no other use of the key shares it).
const LABEL: &[u8] = b"eid relying-party pseudonym v1";
/// The fixed nonce: the same pseudonym every time is the purpose.
const NONCE: [u8; 12] = [0; 12];
/// A pseudonym's length beyond the subject's: GCM-SIV's tag.
pub const OVERHEAD: usize = 16;

fn key(root: &[u8; 32], relying_party: &str) -> Result<LessSafeKey, CryptoError> {
    let derived = hkdf_sha256(root, LABEL, relying_party.as_bytes())?;
    let unbound =
        UnboundKey::new(&AES_256_GCM_SIV, &derived[..]).map_err(|_| CryptoError::SigningFailed)?;
    Ok(LessSafeKey::new(unbound))
}

/// The pseudonym of `subject` for `relying_party` under `root`: `subject.len() + 16` bytes.
pub fn pseudonym(
    root: &[u8; 32],
    relying_party: &str,
    subject: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut sealed = subject.to_vec();
    key(root, relying_party)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(NONCE),
            Aad::from(relying_party.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| CryptoError::SigningFailed)?;
    Ok(sealed)
}

/// The subject behind `pseudonym` for `relying_party` under `root`; a pseudonym not made so
/// (another relying party's, another root's, any byte changed) is
/// [`CryptoError::BadSignature`].
pub fn resolve(
    root: &[u8; 32],
    relying_party: &str,
    pseudonym: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut buffer = Zeroizing::new(pseudonym.to_vec());
    let length = key(root, relying_party)?
        .open_in_place(
            Nonce::assume_unique_for_key(NONCE),
            Aad::from(relying_party.as_bytes()),
            &mut buffer,
        )
        .map_err(|_| CryptoError::BadSignature)?
        .len();
    buffer.truncate(length);
    Ok(buffer)
}

/// The HPKE `info` of a sealed pseudonym (the AAD is the relying party's id).
const SEALED_INFO: &[u8] = b"eid sealed pairwise pseudonym v1";
/// HPKE's encapsulated key (DHKEM(P-256): an uncompressed point) before the ciphertext.
const ENC_LEN: usize = 65;
/// A sealed pseudonym's length beyond the pseudonym's: the encapsulated key and the tag.
pub const SEALED_OVERHEAD: usize = ENC_LEN + 16;

/// `pseudonym` sealed to `relying_party`'s public point (HPKE base mode, DHKEM(P-256,
/// HKDF-SHA256), AES-128-GCM, `crate::hpke`), its id as the AAD: the encapsulated key
/// then the ciphertext. Only the holder of the relying party's private key opens it; a
/// wallet carrying it learns nothing of the pseudonym, and every sealing differs.
pub fn seal_to(
    relying_party_point: &[u8],
    relying_party: &str,
    pseudonym: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let (mut enc, ciphertext) = crate::hpke::seal(
        relying_party_point,
        SEALED_INFO,
        relying_party.as_bytes(),
        pseudonym,
    )?;
    if enc.len() != ENC_LEN {
        return Err(CryptoError::Hpke);
    }
    enc.extend_from_slice(&ciphertext);
    Ok(enc)
}

/// The pseudonym [`seal_to`] sealed for `relying_party` to `key`; anything else — sealed to
/// another key or for another relying party, cut short, any byte changed — is
/// [`CryptoError::Hpke`].
pub fn open_sealed(
    key: &crate::hpke::HpkeRecipient,
    relying_party: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < SEALED_OVERHEAD {
        return Err(CryptoError::Hpke);
    }
    let (enc, ciphertext) = sealed.split_at(ENC_LEN);
    key.open(enc, SEALED_INFO, relying_party.as_bytes(), ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: [u8; 32] = [7; 32];

    #[test]
    fn one_subject_has_one_pseudonym_per_relying_party_and_another_per_other() {
        let bank = pseudonym(&ROOT, "bank-450102-0001", b"subject1").unwrap();
        assert_eq!(bank.len(), 8 + OVERHEAD);
        assert_eq!(
            bank,
            pseudonym(&ROOT, "bank-450102-0001", b"subject1").unwrap()
        );
        let welfare = pseudonym(&ROOT, "welfare-450102", b"subject1").unwrap();
        assert_ne!(bank, welfare);
        // Not even the ciphertext part repeats across relying parties (independent keys).
        assert_ne!(bank[..8], welfare[..8]);
        assert_ne!(
            bank,
            pseudonym(&ROOT, "bank-450102-0001", b"subject2").unwrap()
        );
        assert_ne!(
            bank,
            pseudonym(&[8; 32], "bank-450102-0001", b"subject1").unwrap()
        );
    }

    #[test]
    fn a_sealed_pseudonym_opens_only_for_its_relying_party_under_its_key() {
        let bank = crate::hpke::HpkeRecipient::generate().unwrap();
        let other = crate::hpke::HpkeRecipient::generate().unwrap();
        let value = pseudonym(&ROOT, "bank-450102-0001", b"subject1").unwrap();
        let sealed = seal_to(bank.public_point(), "bank-450102-0001", &value).unwrap();
        assert_eq!(sealed.len(), value.len() + SEALED_OVERHEAD);
        assert_eq!(
            open_sealed(&bank, "bank-450102-0001", &sealed).unwrap(),
            value
        );
        // Every sealing differs: the wallet cannot tell two of them apart by their bytes.
        let again = seal_to(bank.public_point(), "bank-450102-0001", &value).unwrap();
        assert_ne!(sealed, again);
        assert_eq!(
            open_sealed(&bank, "bank-450102-0001", &again).unwrap(),
            value
        );
        // Another key, another relying party's id, a changed byte, a short value: refused.
        assert!(open_sealed(&other, "bank-450102-0001", &sealed).is_err());
        assert!(open_sealed(&bank, "welfare-450102", &sealed).is_err());
        for i in [0, 64, 65, sealed.len() - 1] {
            let mut changed = sealed.clone();
            changed[i] ^= 1;
            assert!(
                open_sealed(&bank, "bank-450102-0001", &changed).is_err(),
                "{i}"
            );
        }
        assert!(open_sealed(&bank, "bank-450102-0001", &sealed[..SEALED_OVERHEAD - 1]).is_err());
        assert!(open_sealed(&bank, "bank-450102-0001", &sealed[..10]).is_err());
        assert!(seal_to(&[4; 65], "bank-450102-0001", &value).is_err());
    }

    /// The construction exactly as documented: the value computed independently with Python
    /// `cryptography` 48.0.0 (`HKDF(SHA256, 32, salt=LABEL, info=rp).derive(root)`, then
    /// `AESGCMSIV(key).encrypt(bytes(12), subject, rp)`), 2026-12-07.
    #[test]
    fn the_construction_matches_an_independent_computation() {
        assert_eq!(
            hex::encode(pseudonym(&ROOT, "bank-450102-0001", b"subject1").unwrap()),
            "5804793a33d909ea20125f2ed497fdc2bfd6d2ad0af2615a"
        );
    }

    /// The primitive: RFC 8452 Appendix C.2, AEAD_AES_256_GCM_SIV, the 8-byte plaintext.
    #[test]
    fn aes_256_gcm_siv_matches_rfc_8452() {
        let mut key = [0u8; 32];
        key[0] = 1;
        let mut nonce = [0u8; 12];
        nonce[0] = 3;
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM_SIV, &key).unwrap());
        let mut sealed = vec![1, 0, 0, 0, 0, 0, 0, 0];
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .unwrap();
        assert_eq!(
            hex::encode(sealed),
            "c2ef328e5c71c83b843122130f7364b761e0b97427e3df28"
        );
    }

    #[test]
    fn only_the_relying_partys_own_pseudonym_under_the_root_resolves() {
        let bank = pseudonym(&ROOT, "bank", b"subject1").unwrap();
        assert_eq!(
            resolve(&ROOT, "bank", &bank).unwrap().as_slice(),
            b"subject1"
        );
        // Brought to another relying party, under another root, changed, cut short.
        assert_eq!(
            resolve(&ROOT, "welfare", &bank).unwrap_err(),
            CryptoError::BadSignature
        );
        assert!(resolve(&[8; 32], "bank", &bank).is_err());
        for at in 0..bank.len() {
            let mut changed = bank.clone();
            changed[at] ^= 1;
            assert!(resolve(&ROOT, "bank", &changed).is_err(), "byte {at}");
        }
        assert!(resolve(&ROOT, "bank", &bank[..OVERHEAD - 1]).is_err());
        assert!(resolve(&ROOT, "bank", &bank[1..]).is_err());
    }
}
