//! Device keys behind a PIN.
//!
//! A phone keeps its keys in secure hardware (StrongBox, Secure Enclave) and asks for the PIN
//! or a biometric before each use; [`Keystore`] is that contract, so the platform's store
//! sits behind the same trait. [`SoftwareKeystore`] is the reference implementation for
//! the command line and the tests, stored as one JSON file:
//!
//! ```text
//! { "version": 1, "kdf": { "alg": "argon2id", "m_kib", "t", "p", "salt" },
//!   "check": sealed("eid keystore"), "failures": uint, "max_failures": uint, "locked": bool,
//!   "keys": [ { "id": tstr, "public": JWK, "sealed": nonce ‖ AES-256-GCM(PKCS#8) } ] }
//! ```
//!
//! The PIN is stretched with Argon2id (19 MiB, 2 passes by default: OWASP's minimum) into an
//! AES-256-GCM key; `check` tells a right PIN from a wrong one without decrypting a device
//! key. Every wrong PIN is counted in the file before the answer is given, so pulling the
//! battery does not reset the count; at `max_failures` the store locks for good and only a
//! re-enrolment (a new wallet, new keys) helps. What a software store cannot stop: an
//! attacker who copies the file can guess offline at Argon2id's cost — the reason issuers
//! require a provider's attestation of hardware key storage.

use std::path::{Path, PathBuf};

use eid_core::Random;
use eid_crypto::session::{aes256gcm_open, aes256gcm_seal};
use eid_crypto::{
    Algorithm, CryptoError, Jwk, Signer, SigningKey, VerifyingKey, b64url, b64url_decode,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What went wrong with the keystore. Messages never carry a PIN or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The PIN is wrong; `remaining` more wrong PINs lock the store.
    #[error("wrong PIN; {remaining} attempt(s) left before the keystore locks")]
    WrongPin {
        /// Attempts left.
        remaining: u32,
    },
    /// Too many wrong PINs: the store is locked for good.
    #[error("the keystore is locked after too many wrong PINs: re-enrol this wallet")]
    Locked,
    /// No key with this id.
    #[error("no device key {0:?} in the keystore")]
    UnknownKey(String),
    /// The PIN does not meet the rules.
    #[error("the PIN must be 6 to 12 digits")]
    WeakPin,
    /// The `Unlocked` value belongs to another store.
    #[error("this unlock belongs to another keystore")]
    ForeignUnlock,
    /// The file cannot be read or written.
    #[error("keystore file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a keystore, or was altered.
    #[error("the keystore file is damaged or altered: {0}")]
    Corrupt(&'static str),
    /// A cryptographic operation failed.
    #[error("keystore cryptography: {0}")]
    Crypto(#[from] CryptoError),
}

/// Proof that the PIN was given: the derived key, zeroized when dropped. Not `Clone`, not
/// `Debug` beyond its name, never serialised.
pub struct Unlocked {
    key: Zeroizing<[u8; 32]>,
    store: [u8; 16],
}

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unlocked")
    }
}

/// Device keys that are used only after the holder unlocks them.
pub trait Keystore: Send + Sync {
    /// Checks the PIN; wrong PINs are counted and lock the store at the limit.
    fn unlock(&mut self, pin: &str) -> Result<Unlocked, KeystoreError>;
    /// Makes a new device key (never leaves the store) and returns its public half.
    fn create_key(&mut self, unlocked: &Unlocked, id: &str) -> Result<VerifyingKey, KeystoreError>;
    /// The public half of a key.
    fn public_key(&self, id: &str) -> Result<VerifyingKey, KeystoreError>;
    /// Signs with a key (ES256, raw `r‖s`), the store unlocked.
    fn sign(&self, unlocked: &Unlocked, id: &str, message: &[u8])
    -> Result<Vec<u8>, KeystoreError>;
    /// A [`Signer`] for one key while `unlocked` lives (for the credential formats).
    fn signer<'a>(
        &'a self,
        unlocked: &'a Unlocked,
        id: &str,
    ) -> Result<KeySigner<'a>, KeystoreError>
    where
        Self: Sized,
    {
        Ok(KeySigner {
            public: self.public_key(id)?,
            id: id.to_owned(),
            store: self,
            unlocked,
        })
    }
}

/// One key of a keystore as a [`Signer`], borrowing the unlock.
pub struct KeySigner<'a> {
    public: VerifyingKey,
    id: String,
    store: &'a dyn Keystore,
    unlocked: &'a Unlocked,
}

impl Signer for KeySigner<'_> {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.store
            .sign(self.unlocked, &self.id, message)
            .map_err(|_| CryptoError::SigningFailed)
    }
}

/// Argon2id cost, stored with the keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfCost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl KdfCost {
    /// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const RECOMMENDED: Self = Self {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    alg: String,
    #[serde(flatten)]
    cost: KdfCost,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    id: String,
    public: Jwk,
    sealed: String,
}

#[derive(Serialize, Deserialize)]
struct File {
    version: u32,
    kdf: Kdf,
    check: String,
    failures: u32,
    max_failures: u32,
    locked: bool,
    keys: Vec<StoredKey>,
}

const CHECK: &[u8] = b"eid keystore";

/// The software keystore: one JSON file, keys sealed under the PIN-derived key.
pub struct SoftwareKeystore {
    path: PathBuf,
    file: File,
    salt: [u8; 16],
    random: Box<dyn Random>,
}

impl std::fmt::Debug for SoftwareKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareKeystore")
            .field("path", &self.path)
            .field("keys", &self.file.keys.len())
            .field("locked", &self.file.locked)
            .finish_non_exhaustive()
    }
}

fn derive(pin: &str, salt: &[u8; 16], cost: KdfCost) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    let params = argon2::Params::new(cost.m_kib, cost.t, cost.p, Some(32))
        .map_err(|_| KeystoreError::Corrupt("Argon2 parameters"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(pin.as_bytes(), salt, key.as_mut())
        .map_err(|_| KeystoreError::Corrupt("Argon2 parameters"))?;
    Ok(key)
}

impl SoftwareKeystore {
    /// Creates a new store at `path` (refusing to replace one) protected by `pin` (6 to 12
    /// digits), locking after `max_failures` wrong PINs.
    pub fn create(
        path: &Path,
        pin: &str,
        max_failures: u32,
        cost: KdfCost,
        random: Box<dyn Random>,
    ) -> Result<(Self, Unlocked), KeystoreError> {
        if !(6..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KeystoreError::WeakPin);
        }
        if path.exists() {
            return Err(KeystoreError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists"),
            });
        }
        let mut salt = [0u8; 16];
        random
            .fill(&mut salt)
            .map_err(|_| CryptoError::SigningFailed)?;
        let key = derive(pin, &salt, cost)?;
        let mut store = Self {
            path: path.to_owned(),
            file: File {
                version: 1,
                kdf: Kdf {
                    alg: "argon2id".into(),
                    cost,
                    salt: b64url(&salt),
                },
                check: String::new(),
                failures: 0,
                max_failures: max_failures.max(1),
                locked: false,
                keys: Vec::new(),
            },
            salt,
            random,
        };
        store.file.check = store.seal(&key, CHECK)?;
        store.save()?;
        let unlocked = Unlocked { key, store: salt };
        Ok((store, unlocked))
    }

    /// Opens the store at `path`.
    pub fn open(path: &Path, random: Box<dyn Random>) -> Result<Self, KeystoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeystoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: File =
            serde_json::from_str(&text).map_err(|_| KeystoreError::Corrupt("not a keystore"))?;
        if file.version != 1 || file.kdf.alg != "argon2id" {
            return Err(KeystoreError::Corrupt("unknown version or KDF"));
        }
        let salt: [u8; 16] = b64url_decode(&file.kdf.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(KeystoreError::Corrupt("salt"))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            salt,
            random,
        })
    }

    /// Wrong PINs so far (reset by a right one).
    pub fn failures(&self) -> u32 {
        self.file.failures
    }

    fn seal(&self, key: &[u8; 32], plaintext: &[u8]) -> Result<String, KeystoreError> {
        let mut nonce = [0u8; 12];
        self.random
            .fill(&mut nonce)
            .map_err(|_| CryptoError::SigningFailed)?;
        let mut out = nonce.to_vec();
        out.extend(aes256gcm_seal(key, nonce, plaintext)?);
        Ok(b64url(&out))
    }

    fn open_sealed(key: &[u8; 32], sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        let bytes = b64url_decode(sealed).ok()?;
        let (nonce, body) = bytes.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        aes256gcm_open(key, nonce, body).ok().map(Zeroizing::new)
    }

    /// Writes the file atomically (a temporary file renamed over it).
    fn save(&self) -> Result<(), KeystoreError> {
        let io = |source| KeystoreError::Io {
            path: self.path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(&self.file)
            .map_err(|_| KeystoreError::Corrupt("cannot serialise"))?;
        let tmp = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // Sealed keys: readable by the owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(&tmp).map_err(io)?, text.as_bytes())
            .map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }

    fn check_unlock(&self, unlocked: &Unlocked) -> Result<(), KeystoreError> {
        if self.file.locked {
            return Err(KeystoreError::Locked);
        }
        if unlocked.store != self.salt {
            return Err(KeystoreError::ForeignUnlock);
        }
        Ok(())
    }

    fn stored(&self, id: &str) -> Result<&StoredKey, KeystoreError> {
        self.file
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| KeystoreError::UnknownKey(id.to_owned()))
    }
}

impl Keystore for SoftwareKeystore {
    fn unlock(&mut self, pin: &str) -> Result<Unlocked, KeystoreError> {
        if self.file.locked {
            return Err(KeystoreError::Locked);
        }
        let key = derive(pin, &self.salt, self.file.kdf.cost)?;
        if Self::open_sealed(&key, &self.file.check)
            .as_deref()
            .map(Vec::as_slice)
            == Some(CHECK)
        {
            if self.file.failures != 0 {
                self.file.failures = 0;
                self.save()?;
            }
            return Ok(Unlocked {
                key,
                store: self.salt,
            });
        }
        // Counted on disk before answering.
        self.file.failures += 1;
        if self.file.failures >= self.file.max_failures {
            self.file.locked = true;
            self.save()?;
            return Err(KeystoreError::Locked);
        }
        self.save()?;
        Err(KeystoreError::WrongPin {
            remaining: self.file.max_failures - self.file.failures,
        })
    }

    fn create_key(&mut self, unlocked: &Unlocked, id: &str) -> Result<VerifyingKey, KeystoreError> {
        self.check_unlock(unlocked)?;
        if self.file.keys.iter().any(|k| k.id == id) {
            return Err(KeystoreError::Corrupt("a key with this id exists"));
        }
        let key = SigningKey::generate()?;
        let public = key.verifying_key().clone();
        let sealed = self.seal(&unlocked.key, &key.to_pkcs8_der()?)?;
        self.file.keys.push(StoredKey {
            id: id.to_owned(),
            public: public.to_jwk(),
            sealed,
        });
        self.save()?;
        Ok(public)
    }

    fn public_key(&self, id: &str) -> Result<VerifyingKey, KeystoreError> {
        self.stored(id)?
            .public
            .verifying_key()
            .map_err(|_| KeystoreError::Corrupt("a public key"))
    }

    fn sign(
        &self,
        unlocked: &Unlocked,
        id: &str,
        message: &[u8],
    ) -> Result<Vec<u8>, KeystoreError> {
        self.check_unlock(unlocked)?;
        let stored = self.stored(id)?;
        let der = Self::open_sealed(&unlocked.key, &stored.sealed)
            .ok_or(KeystoreError::Corrupt("a sealed key does not open"))?;
        let key = SigningKey::from_pkcs8_der(&der)?;
        // The sealed key must be the one the file says it is.
        if key.verifying_key() != &self.public_key(id)? {
            return Err(KeystoreError::Corrupt(
                "a sealed key is not its public key's",
            ));
        }
        Ok(key.sign(message)?)
    }
}

/// A keystore opened with the PIN for one operation of the holder's
/// ([`crate::holder::Holder`]): the device key proves the wallet; new credential instances
/// get a fresh key each when `fresh` gives the random source for their ids, else are bound
/// to the device key (one instance at a time).
pub struct UnlockedKeys<'a> {
    keystore: &'a mut dyn Keystore,
    unlocked: Unlocked,
    device_key: String,
    fresh: Option<&'a dyn Random>,
}

impl<'a> UnlockedKeys<'a> {
    /// `keystore`, unlocked, with its device key `device_key`.
    pub fn new(
        keystore: &'a mut dyn Keystore,
        unlocked: Unlocked,
        device_key: &str,
        fresh: Option<&'a dyn Random>,
    ) -> Self {
        Self {
            keystore,
            unlocked,
            device_key: device_key.to_owned(),
            fresh,
        }
    }
}

fn key_error(e: KeystoreError) -> crate::holder::HolderError {
    crate::holder::HolderError::Keys(e.to_string())
}

impl crate::holder::DeviceKeys for UnlockedKeys<'_> {
    fn instance_keys(
        &mut self,
        count: usize,
    ) -> Result<Vec<(String, VerifyingKey)>, crate::holder::HolderError> {
        let Some(random) = self.fresh else {
            return Ok(vec![self.wallet_key()?]);
        };
        let mut keys = Vec::with_capacity(count);
        for _ in 0..count {
            let mut raw = [0u8; 16];
            random
                .fill(&mut raw)
                .map_err(|e| crate::holder::HolderError::Keys(e.to_string()))?;
            let id = format!("k-{}", hex::encode(raw));
            let public = self
                .keystore
                .create_key(&self.unlocked, &id)
                .map_err(key_error)?;
            keys.push((id, public));
        }
        Ok(keys)
    }

    fn wallet_key(&self) -> Result<(String, VerifyingKey), crate::holder::HolderError> {
        Ok((self.device_key.clone(), self.public_key(&self.device_key)?))
    }

    fn public_key(&self, id: &str) -> Result<VerifyingKey, crate::holder::HolderError> {
        self.keystore.public_key(id).map_err(key_error)
    }

    fn signer(&self, id: &str) -> Result<Box<dyn Signer + '_>, crate::holder::HolderError> {
        Ok(Box::new(KeySigner {
            public: self.public_key(id)?,
            id: id.to_owned(),
            store: &*self.keystore,
            unlocked: &self.unlocked,
        }))
    }
}
