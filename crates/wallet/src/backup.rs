//! The presentation history backed up at the wallet provider, end-to-end encrypted, so that
//! it survives a lost phone (issue 23, part 2).
//!
//! The history says which relying party saw the holder, when, on which channel, for which
//! purpose and which attributes (names, never values: [`Presentation`]). It is the holder's
//! own record — for a data-protection request, or to see who has seen her card — and it
//! lives on the phone; a lost phone would take it along. The backup keeps it at the wallet
//! provider as bytes the provider cannot read:
//!
//! - **History key** HK: 32 random bytes the wallet makes once. Each presentation is a
//!   segment `0x01 ‖ nonce(12) ‖ AES-256-GCM(HK, nonce, aad, padded)`, the associated data
//!   `"eid history segment v1" ‖ backup id ‖ sequence (u64, big-endian)`, so the provider
//!   can neither read, alter, reorder nor move a segment to another backup. The plaintext
//!   is the entry as JSON, its length as a u16 first, padded with zeros to a multiple of
//!   [`SEGMENT_PADDING`] bytes: every ordinary entry is the same size, whichever relying
//!   party, purpose or attributes it names.
//! - **Wrapped key**: HK sealed with AES-256-GCM under
//!   `KEK = HKDF-SHA-256(salt, Argon2id(recovery code, salt) ‖ S_a, "eid history key v1")`.
//!   The **recovery code** is 100 random bits the wallet shows the holder once, to write
//!   down ([`RecoveryCode`]). **S_a** ([`HistorySecret`]) is the authority's secret for this
//!   resident, released only to a wallet that has just been proofed by face (a remote
//!   enrolment, a move to a new phone). Neither alone opens the backup: the provider, which
//!   stores the wrapped key, cannot guess the code without S_a; the authority, which can
//!   compute S_a, holds no backup and no code.
//! - **Backup id**: `HMAC-SHA-256(S_a, "eid history backup id v1")`: the provider files the
//!   backup under it, and a new phone, proofed, finds it with S_a alone. It names no one,
//!   but it is the same for every wallet of the resident: the provider links them.
//! - **Generation**: a restore makes a new HK (the same code, a new salt) and writes the
//!   whole history again as the next generation; the provider refuses a segment for an
//!   older one, so a lost phone that turns up cannot add to the new history.
//!
//! What it does not protect: the provider sees how many presentations there are and when a
//! segment arrives (a wallet may batch them); it can withhold the newest segments (a
//! restore then misses them), serve an older generation it kept, or delete the backup. Its
//! writes are not authenticated by the wallet: whoever knows the backup id (S_a) can append
//! at a provider that does not check who writes, and a thief holding the unlocked phone
//! before the move holds HK and can add entries a restore accepts. A resident without her
//! recovery code cannot restore (there is no other copy of it, by design); she can start
//! over, which replaces the backup and loses its entries. On the phone the history, HK and
//! S_a are kept in the wallet's store as the history itself is.

use eid_core::Random;
use eid_crypto::session::{aes256gcm_open_with, aes256gcm_seal_with, hkdf_sha256, hmac_sha256};
use eid_crypto::{CryptoError, b64url, b64url_decode};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::keystore::KdfCost;
use crate::store::{Presentation, StoreError, WalletStore};

/// Plaintext segments are padded to a multiple of this many bytes.
pub const SEGMENT_PADDING: usize = 480;
/// The largest segment accepted (bytes): one entry of 32 padding blocks.
pub const MAX_SEGMENT: usize = 1 + 12 + 32 * SEGMENT_PADDING + 16;
/// The most Argon2id work a wrapped key may ask of the wallet.
pub const MAX_KDF: KdfCost = KdfCost {
    m_kib: 64 * 1024,
    t: 4,
    p: 4,
};
/// The most segments a backup holds.
pub const MAX_SEGMENTS: usize = 100_000;
/// The recovery code's symbols (Crockford's base32: no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols in a recovery code: 20 × 5 = 100 bits.
const CODE_SYMBOLS: usize = 20;
const SEGMENT_AAD: &[u8] = b"eid history segment v1";
const KEY_AAD: &[u8] = b"eid history key v1";

/// Why a backup could not be made, opened or added to. Never carries the code, a key or an
/// entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The code is not a recovery code.
    #[error(
        "a recovery code is 20 letters and digits (in groups of five, as the wallet showed it when the backup was made)"
    )]
    MalformedCode,
    /// The code, or the authority's secret, does not open the backup.
    #[error(
        "this recovery code does not open the history backup: check it against the one written down when the backup was made"
    )]
    WrongCode,
    /// A stored segment does not open under the history key at its place.
    #[error("the history backup was altered at the provider: segment {0} does not open")]
    Altered(usize),
    /// The authority's secret is not 32 bytes of base64url.
    #[error("the authority's history secret is not 32 bytes of base64url")]
    MalformedSecret,
    /// The stored backup is not one.
    #[error("the history backup is damaged: {0}")]
    Damaged(&'static str),
    /// No face-proofed step has given this wallet the authority's history secret.
    #[error(
        "this wallet has no history secret from the authority: it is given after a remote enrolment or a move with your face (a wallet enrolled at a counter cannot back up its history yet)"
    )]
    NoSecret,
    /// The wallet's history is backed up already.
    #[error("this wallet's history is backed up already")]
    AlreadyOn,
    /// The history changed while a restore ran: restore again.
    #[error("a presentation was recorded while the history was being restored: restore it again")]
    Moved,
    /// A backup of the resident's history exists at the provider: restore it first.
    #[error(
        "a backup of your history exists at the provider: restore it with your recovery code rather than start another"
    )]
    Exists,
    /// The wallet's store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A cryptographic operation failed.
    #[error("history backup cryptography: {0}")]
    Crypto(#[from] CryptoError),
}

/// The authority's secret for a resident (S_a), 32 bytes: released to a face-proofed wallet.
pub struct HistorySecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for HistorySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistorySecret")
    }
}

impl HistorySecret {
    /// The secret as the authority sends it (base64url).
    pub fn from_b64url(text: &str) -> Result<Self, BackupError> {
        let bytes = Zeroizing::new(b64url_decode(text).map_err(|_| BackupError::MalformedSecret)?);
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| BackupError::MalformedSecret)?;
        Ok(Self(Zeroizing::new(secret)))
    }

    /// The secret as base64url, to keep in the wallet's store.
    pub fn to_b64url(&self) -> String {
        b64url(self.0.as_ref())
    }

    /// The id the provider files the resident's backup under.
    pub fn backup_id(&self) -> String {
        b64url(&hmac_sha256(self.0.as_ref(), b"eid history backup id v1"))
    }
}

/// The holder's recovery code: 20 symbols of Crockford's base32 (100 bits), shown once.
pub struct RecoveryCode(Zeroizing<[u8; CODE_SYMBOLS]>);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode")
    }
}

impl RecoveryCode {
    /// A new code from `random`.
    pub fn generate(random: &dyn Random) -> Result<Self, BackupError> {
        let mut raw = Zeroizing::new([0u8; CODE_SYMBOLS]);
        random
            .fill(raw.as_mut())
            .map_err(|_| CryptoError::SigningFailed)?;
        let mut code = Zeroizing::new([0u8; CODE_SYMBOLS]);
        for (symbol, byte) in code.iter_mut().zip(raw.iter()) {
            *symbol = ALPHABET[usize::from(byte & 31)];
        }
        Ok(Self(code))
    }

    /// A code as the holder types it: case, spaces and hyphens do not matter, and O, I and
    /// L are read as 0, 1 and 1 (Crockford).
    pub fn parse(text: &str) -> Result<Self, BackupError> {
        let mut code = Zeroizing::new([0u8; CODE_SYMBOLS]);
        let mut n = 0;
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || n == CODE_SYMBOLS {
                return Err(BackupError::MalformedCode);
            }
            code[n] = c as u8;
            n += 1;
        }
        if n != CODE_SYMBOLS {
            return Err(BackupError::MalformedCode);
        }
        Ok(Self(code))
    }

    /// The code in four groups of five, to show the holder once.
    pub fn display(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(CODE_SYMBOLS + 3));
        for (i, symbol) in self.0.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                out.push('-');
            }
            out.push(char::from(*symbol));
        }
        out
    }
}

/// The history key (HK), 32 bytes.
pub struct HistoryKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for HistoryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistoryKey")
    }
}

impl HistoryKey {
    fn generate(random: &dyn Random) -> Result<Self, BackupError> {
        let mut key = Zeroizing::new([0u8; 32]);
        random
            .fill(key.as_mut())
            .map_err(|_| CryptoError::SigningFailed)?;
        Ok(Self(key))
    }

    /// The key as base64url, to keep in the wallet's store.
    pub fn to_b64url(&self) -> String {
        b64url(self.0.as_ref())
    }

    /// A key kept by [`Self::to_b64url`].
    pub fn from_b64url(text: &str) -> Result<Self, BackupError> {
        let bytes = Zeroizing::new(
            b64url_decode(text).map_err(|_| BackupError::Damaged("the history key"))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| BackupError::Damaged("the history key"))?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// The segment for `entry` at place `sequence` of the backup `backup_id`.
    pub fn seal(
        &self,
        backup_id: &str,
        sequence: u64,
        entry: &Presentation,
        random: &dyn Random,
    ) -> Result<Vec<u8>, BackupError> {
        let json = serde_json::to_vec(entry).map_err(|_| BackupError::Damaged("an entry"))?;
        let length = u16::try_from(json.len()).map_err(|_| BackupError::Damaged("an entry"))?;
        let mut padded = Zeroizing::new(Vec::with_capacity(json.len() + SEGMENT_PADDING));
        padded.extend(length.to_be_bytes());
        padded.extend(&json);
        let blocks = padded.len().div_ceil(SEGMENT_PADDING);
        padded.resize(blocks * SEGMENT_PADDING, 0);
        let mut nonce = [0u8; 12];
        random
            .fill(&mut nonce)
            .map_err(|_| CryptoError::SigningFailed)?;
        let mut segment = Vec::with_capacity(1 + 12 + padded.len() + 16);
        segment.push(1);
        segment.extend(nonce);
        segment.extend(aes256gcm_seal_with(
            &self.0,
            nonce,
            &segment_aad(backup_id, sequence),
            &padded,
        )?);
        if segment.len() > MAX_SEGMENT {
            return Err(BackupError::Damaged("an entry too long for a segment"));
        }
        Ok(segment)
    }

    /// The entry in `segment` at place `sequence` of the backup `backup_id`.
    fn open(
        &self,
        backup_id: &str,
        sequence: u64,
        segment: &[u8],
    ) -> Result<Presentation, BackupError> {
        let altered = || BackupError::Altered(sequence as usize);
        let (version, rest) = segment.split_first().ok_or_else(altered)?;
        let (nonce, sealed) = rest.split_at_checked(12).ok_or_else(altered)?;
        if *version != 1 || segment.len() > MAX_SEGMENT {
            return Err(altered());
        }
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| altered())?;
        let padded = Zeroizing::new(
            aes256gcm_open_with(&self.0, nonce, &segment_aad(backup_id, sequence), sealed)
                .map_err(|_| altered())?,
        );
        let (length, body) = padded.split_at_checked(2).ok_or_else(altered)?;
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        let json = body.get(..length).ok_or_else(altered)?;
        serde_json::from_slice(json).map_err(|_| altered())
    }
}

fn segment_aad(backup_id: &str, sequence: u64) -> Vec<u8> {
    let mut aad = SEGMENT_AAD.to_vec();
    aad.extend(backup_id.as_bytes());
    aad.extend(sequence.to_be_bytes());
    aad
}

/// HK sealed under the recovery code and S_a, as the provider stores it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedKey {
    /// 1.
    pub version: u8,
    /// Argon2id's memory (KiB), passes and lanes.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
    /// The salt (16 bytes, base64url), for Argon2id and HKDF.
    pub salt: String,
    /// `nonce(12) ‖ AES-256-GCM(KEK, nonce, "eid history key v1", HK)`, base64url.
    pub sealed: String,
}

/// The key that wraps HK.
fn key_encryption_key(
    code: &RecoveryCode,
    secret: &HistorySecret,
    salt: &[u8; 16],
    cost: KdfCost,
) -> Result<Zeroizing<[u8; 32]>, BackupError> {
    let params = argon2::Params::new(cost.m_kib, cost.t, cost.p, Some(32))
        .map_err(|_| BackupError::Damaged("the Argon2 parameters"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut ikm = Zeroizing::new([0u8; 64]);
    argon
        .hash_password_into(code.0.as_ref(), salt, &mut ikm[..32])
        .map_err(|_| BackupError::Damaged("the Argon2 parameters"))?;
    ikm[32..].copy_from_slice(secret.0.as_ref());
    Ok(hkdf_sha256(ikm.as_ref(), salt, KEY_AAD)?)
}

impl WrappedKey {
    /// `key` wrapped under `code` and `secret`.
    pub fn wrap(
        key: &HistoryKey,
        code: &RecoveryCode,
        secret: &HistorySecret,
        cost: KdfCost,
        random: &dyn Random,
    ) -> Result<Self, BackupError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 12];
        random
            .fill(&mut salt)
            .and_then(|()| random.fill(&mut nonce))
            .map_err(|_| CryptoError::SigningFailed)?;
        let kek = key_encryption_key(code, secret, &salt, cost)?;
        let mut sealed = nonce.to_vec();
        sealed.extend(aes256gcm_seal_with(&kek, nonce, KEY_AAD, key.0.as_ref())?);
        Ok(Self {
            version: 1,
            m_kib: cost.m_kib,
            t: cost.t,
            p: cost.p,
            salt: b64url(&salt),
            sealed: b64url(&sealed),
        })
    }

    /// HK, if `code` and `secret` are the ones it was wrapped under.
    pub fn unwrap_key(
        &self,
        code: &RecoveryCode,
        secret: &HistorySecret,
    ) -> Result<HistoryKey, BackupError> {
        if self.version != 1 {
            return Err(BackupError::Damaged(
                "an unknown version of the wrapped key",
            ));
        }
        // A provider must not make a phone spend much more than the keystore's cost (19 MiB,
        // 2 passes): at most 64 MiB, 4 passes, 4 lanes, checked before any work.
        if self.m_kib > MAX_KDF.m_kib || self.t > MAX_KDF.t || self.p > MAX_KDF.p {
            return Err(BackupError::Damaged("Argon2 parameters above the bounds"));
        }
        let salt: [u8; 16] = b64url_decode(&self.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(BackupError::Damaged("the salt"))?;
        let sealed = b64url_decode(&self.sealed).map_err(|_| BackupError::Damaged("the key"))?;
        let (nonce, body) = sealed
            .split_at_checked(12)
            .ok_or(BackupError::Damaged("the key"))?;
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| BackupError::Damaged("the key"))?;
        let cost = KdfCost {
            m_kib: self.m_kib,
            t: self.t,
            p: self.p,
        };
        let kek = key_encryption_key(code, secret, &salt, cost)?;
        let key = Zeroizing::new(
            aes256gcm_open_with(&kek, nonce, KEY_AAD, body).map_err(|_| BackupError::WrongCode)?,
        );
        let key: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| BackupError::Damaged("the key"))?;
        Ok(HistoryKey(Zeroizing::new(key)))
    }
}

/// What the provider keeps under a backup id: opaque to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredBackup {
    /// Counts restores: a segment for an older generation is refused.
    pub generation: u64,
    /// HK, wrapped.
    pub key: WrappedKey,
    /// The segments in order, base64url.
    pub segments: Vec<String>,
}

/// A backup made, its key and code: keep the key, show the code once, send the backup.
pub struct NewBackup {
    /// What the provider stores.
    pub stored: StoredBackup,
    /// HK, for the next segments.
    pub key: HistoryKey,
}

impl std::fmt::Debug for NewBackup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewBackup")
            .field("generation", &self.stored.generation)
            .field("segments", &self.stored.segments.len())
            .finish_non_exhaustive()
    }
}

/// A new backup of `history` at `generation` under a fresh HK wrapped by `code` and
/// `secret`.
pub fn make_backup(
    history: &[Presentation],
    generation: u64,
    code: &RecoveryCode,
    secret: &HistorySecret,
    cost: KdfCost,
    random: &dyn Random,
) -> Result<NewBackup, BackupError> {
    let key = HistoryKey::generate(random)?;
    let backup_id = secret.backup_id();
    let segments = history
        .iter()
        .enumerate()
        .map(|(i, entry)| Ok(b64url(&key.seal(&backup_id, i as u64, entry, random)?)))
        .collect::<Result<_, BackupError>>()?;
    Ok(NewBackup {
        stored: StoredBackup {
            generation,
            key: WrappedKey::wrap(&key, code, secret, cost, random)?,
            segments,
        },
        key,
    })
}

/// The history in `stored`, opened with `code` and `secret`: every segment must open at
/// its place, or none is returned.
pub fn restore(
    stored: &StoredBackup,
    code: &RecoveryCode,
    secret: &HistorySecret,
) -> Result<Vec<Presentation>, BackupError> {
    if stored.segments.len() > MAX_SEGMENTS {
        return Err(BackupError::Damaged("more segments than a backup holds"));
    }
    let key = stored.key.unwrap_key(code, secret)?;
    let backup_id = secret.backup_id();
    stored
        .segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let bytes = b64url_decode(segment).map_err(|_| BackupError::Altered(i))?;
            key.open(&backup_id, i as u64, &bytes)
        })
        .collect()
}

/// Where a wallet's backup stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupState {
    /// No history secret yet: nothing can be backed up.
    NoSecret,
    /// A secret, no backup made or restored by this wallet: the provider may hold one under
    /// `backup_id` to restore.
    Off {
        /// Where the provider files the resident's backup.
        backup_id: String,
    },
    /// Backed up: the entries are sent as they are recorded.
    On {
        /// Where the provider files it.
        backup_id: String,
        /// Its generation.
        generation: u64,
        /// Entries the provider holds.
        sent: u64,
    },
}

/// Segments for the provider to append: the entries recorded since the last ones it took.
pub struct Pending {
    /// Where.
    pub backup_id: String,
    /// For which generation (the provider refuses another).
    pub generation: u64,
    /// The place of the first.
    pub first: u64,
    /// The segments in order.
    pub segments: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("generation", &self.generation)
            .field("first", &self.first)
            .field("segments", &self.segments.len())
            .finish_non_exhaustive()
    }
}

/// The wallet's side of the backup, on its store: the provider carries the bytes.
#[derive(Debug, Clone)]
pub struct HistoryBackup {
    store: WalletStore,
}

impl HistoryBackup {
    /// The backup of the history in `store`.
    pub fn new(store: WalletStore) -> Self {
        Self { store }
    }

    /// Keeps the history secret a face-proofed step gave (base64url of 32 bytes). Another
    /// secret than the one a backup is on under (another resident enrolled into this
    /// wallet) ends that backup here: its key is forgotten, so nothing of the new
    /// resident's goes into the first one's backup.
    pub async fn keep_secret(&self, secret: &str) -> Result<(), BackupError> {
        let secret = HistorySecret::from_b64url(secret)?.to_b64url();
        let settings = self.store.backup_settings().await?;
        if settings.key.is_some() && settings.secret.as_deref() != Some(secret.as_str()) {
            self.store.forget_history_key().await?;
        }
        Ok(self.store.set_history_secret(&secret).await?)
    }

    fn secret(secret: Option<&str>) -> Result<HistorySecret, BackupError> {
        HistorySecret::from_b64url(secret.ok_or(BackupError::NoSecret)?)
    }

    /// Where the backup stands.
    pub async fn state(&self) -> Result<BackupState, BackupError> {
        let settings = self.store.backup_settings().await?;
        let Some(secret) = settings.secret.as_deref() else {
            return Ok(BackupState::NoSecret);
        };
        let backup_id = Self::secret(Some(secret))?.backup_id();
        Ok(match settings.key {
            None => BackupState::Off { backup_id },
            Some(_) => BackupState::On {
                backup_id,
                generation: settings.generation,
                sent: settings.sent,
            },
        })
    }

    /// Starts the backup of everything held, when the provider holds none (`existing`,
    /// the generation it keeps under [`BackupState::Off`]'s id, if any): the recovery code
    /// to show the holder once, and what the provider is to store. Where it keeps one, only
    /// `over` (the holder lost her code and starts over: the old backup is replaced by the
    /// next generation, its history lost). The wallet keeps the key once the provider has
    /// stored it ([`Self::started`]).
    pub async fn start(
        &self,
        existing: Option<u64>,
        over: bool,
        cost: KdfCost,
        random: &dyn Random,
    ) -> Result<(RecoveryCode, NewBackup), BackupError> {
        let settings = self.store.backup_settings().await?;
        if settings.key.is_some() {
            return Err(BackupError::AlreadyOn);
        }
        let generation = match existing {
            None => 0,
            Some(current) if over => current
                .checked_add(1)
                .ok_or(BackupError::Damaged("the generation"))?,
            Some(_) => return Err(BackupError::Exists),
        };
        let secret = Self::secret(settings.secret.as_deref())?;
        let code = RecoveryCode::generate(random)?;
        let history = self.store.history_since(0).await?;
        let made = make_backup(&history, generation, &code, &secret, cost, random)?;
        Ok((code, made))
    }

    /// The provider stored `made`: its key is kept and its entries count as sent.
    pub async fn started(&self, made: &NewBackup) -> Result<(), BackupError> {
        if self.store.backup_settings().await?.key.is_some() {
            return Err(BackupError::AlreadyOn);
        }
        self.store
            .import_history_with_key(
                &[],
                None,
                &made.key.to_b64url(),
                made.stored.generation,
                made.stored.segments.len() as u64,
            )
            .await?;
        Ok(())
    }

    /// Opens `stored` (the provider's backup under [`BackupState::Off`]'s id) with the
    /// holder's `code`; nothing changes in the wallet until [`Self::restored`]. The entries,
    /// and the next generation for the provider to store in place of `stored`: the same
    /// code under a new key, with the entries this wallet recorded before the restore.
    pub async fn restore(
        &self,
        stored: &StoredBackup,
        code: &RecoveryCode,
        cost: KdfCost,
        random: &dyn Random,
    ) -> Result<(Vec<Presentation>, NewBackup), BackupError> {
        let settings = self.store.backup_settings().await?;
        if settings.key.is_some() {
            return Err(BackupError::AlreadyOn);
        }
        let secret = Self::secret(settings.secret.as_deref())?;
        let mut all = self.store.history_since(0).await?;
        // Entries the wallet holds already (its own, backed up before it lost the backup
        // to another phone) are not added twice.
        let mut held = all.clone();
        let entries: Vec<Presentation> = restore(stored, code, &secret)?
            .into_iter()
            .filter(|entry| match held.iter().position(|h| h == entry) {
                Some(i) => {
                    held.swap_remove(i);
                    false
                }
                None => true,
            })
            .collect();
        all.extend(entries.iter().cloned());
        let generation = stored
            .generation
            .checked_add(1)
            .ok_or(BackupError::Damaged("the generation"))?;
        let next = make_backup(&all, generation, code, &secret, cost, random)?;
        Ok((entries, next))
    }

    /// The provider stored `next` in place of the old backup: the restored `entries` join
    /// the history and the new key is kept, in one transaction, and only if the wallet
    /// recorded nothing since [`Self::restore`] (`next` holds its entries then, and the
    /// places would no longer match: [`BackupError::Moved`], nothing kept — restore again).
    pub async fn restored(
        &self,
        entries: &[Presentation],
        next: &NewBackup,
    ) -> Result<(), BackupError> {
        let sent = next.stored.segments.len() as u64;
        let before = sent.saturating_sub(entries.len() as u64);
        let kept = self
            .store
            .import_history_with_key(
                entries,
                Some(before),
                &next.key.to_b64url(),
                next.stored.generation,
                sent,
            )
            .await?;
        if kept {
            Ok(())
        } else {
            Err(BackupError::Moved)
        }
    }

    /// The provider holds only the first `held` entries of this generation (it lost the
    /// newest): they are sent again from there.
    pub async fn resend_from(&self, held: u64) -> Result<(), BackupError> {
        let sent = self.store.backup_settings().await?.sent;
        Ok(self.store.set_history_sent(held.min(sent)).await?)
    }

    /// The provider refused the wallet's segments: the backup moved to another generation
    /// (restored on another phone). The wallet forgets its key, so it shows as off and
    /// offers to restore the backup rather than claim its history is backed up.
    pub async fn stale(&self) -> Result<(), BackupError> {
        Ok(self.store.forget_history_key().await?)
    }

    /// The entries recorded since the provider last took some, sealed; none while the
    /// backup is off or nothing is new.
    pub async fn pending(&self, random: &dyn Random) -> Result<Option<Pending>, BackupError> {
        let settings = self.store.backup_settings().await?;
        let Some(key) = settings.key.as_deref() else {
            return Ok(None);
        };
        let key = HistoryKey::from_b64url(key)?;
        let backup_id = Self::secret(settings.secret.as_deref())?.backup_id();
        let entries = self.store.history_since(settings.sent).await?;
        if entries.is_empty() {
            return Ok(None);
        }
        let segments = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| key.seal(&backup_id, settings.sent + i as u64, entry, random))
            .collect::<Result<_, _>>()?;
        Ok(Some(Pending {
            backup_id,
            generation: settings.generation,
            first: settings.sent,
            segments,
        }))
    }

    /// The provider took `pending`.
    pub async fn sent(&self, pending: &Pending) -> Result<(), BackupError> {
        Ok(self
            .store
            .set_history_sent(pending.first + pending.segments.len() as u64)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use eid_core::OsRandom;

    use super::*;

    const CHEAP: KdfCost = KdfCost {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    fn entry(relying_party: &str, attributes: &[&str]) -> Presentation {
        Presentation {
            at: 1_765_000_000,
            channel: "online".into(),
            relying_party: Some(relying_party.into()),
            relying_party_name: Some(format!("{relying_party} 南宁分行")),
            purpose: "bank_account_opening".into(),
            attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
            held_for: None,
        }
    }

    fn secret(byte: u8) -> HistorySecret {
        HistorySecret::from_b64url(&b64url(&[byte; 32])).unwrap()
    }

    #[test]
    fn a_backup_restores_with_its_code_and_secret_only() {
        let history = vec![
            entry(
                "nanning-bank",
                &["family_name", "given_name", "age_over_18"],
            ),
            entry("beijing-hotel", &["portrait"]),
        ];
        let code = RecoveryCode::generate(&OsRandom).unwrap();
        let made = make_backup(&history, 0, &code, &secret(7), CHEAP, &OsRandom).unwrap();
        // The code as the holder types it back: lower case, spaces for hyphens.
        let typed = RecoveryCode::parse(&code.display().to_lowercase().replace('-', " ")).unwrap();
        assert_eq!(restore(&made.stored, &typed, &secret(7)).unwrap(), history);

        let other = RecoveryCode::generate(&OsRandom).unwrap();
        assert!(matches!(
            restore(&made.stored, &other, &secret(7)),
            Err(BackupError::WrongCode)
        ));
        // The code without the authority's secret (as the provider would guess) opens nothing.
        assert!(matches!(
            restore(&made.stored, &code, &secret(8)),
            Err(BackupError::WrongCode)
        ));
    }

    #[test]
    fn the_stored_bytes_name_no_relying_party_purpose_or_attribute_and_are_all_one_size() {
        let history = vec![
            entry(
                "nanning-bank",
                &["family_name", "given_name", "age_over_18"],
            ),
            entry("h", &[]),
        ];
        let code = RecoveryCode::generate(&OsRandom).unwrap();
        let made = make_backup(&history, 0, &code, &secret(7), CHEAP, &OsRandom).unwrap();
        let stored = serde_json::to_string(&made.stored).unwrap();
        for word in [
            "nanning",
            "bank",
            "南宁",
            "online",
            "purpose",
            "family_name",
            "age_over",
            "1765000000",
        ] {
            assert!(!stored.contains(word), "the stored backup shows {word}");
        }
        let decoded: Vec<Vec<u8>> = made
            .stored
            .segments
            .iter()
            .map(|s| b64url_decode(s).unwrap())
            .collect();
        for segment in &decoded {
            assert!(
                !segment.windows(4).any(|w| w == b"bank"),
                "a segment shows a name"
            );
        }
        assert_eq!(
            decoded[0].len(),
            decoded[1].len(),
            "sizes tell entries apart"
        );
        assert_eq!(decoded[0].len(), 1 + 12 + SEGMENT_PADDING + 16);
    }

    #[test]
    fn a_segment_altered_swapped_or_from_another_backup_is_refused() {
        let history = vec![entry("a", &["x"]), entry("b", &["y"])];
        let code = RecoveryCode::generate(&OsRandom).unwrap();
        let made = make_backup(&history, 0, &code, &secret(7), CHEAP, &OsRandom).unwrap();

        let mut flipped = made.stored.clone();
        let mut bytes = b64url_decode(&flipped.segments[1]).unwrap();
        bytes[20] ^= 1;
        flipped.segments[1] = b64url(&bytes);
        assert!(matches!(
            restore(&flipped, &code, &secret(7)),
            Err(BackupError::Altered(1))
        ));

        let mut swapped = made.stored.clone();
        swapped.segments.swap(0, 1);
        assert!(matches!(
            restore(&swapped, &code, &secret(7)),
            Err(BackupError::Altered(0))
        ));

        // Another resident's segment (another backup id) under a key that opens: refused.
        let theirs = made
            .key
            .seal(&secret(9).backup_id(), 2, &entry("c", &[]), &OsRandom)
            .unwrap();
        let mut moved = made.stored.clone();
        moved.segments.push(b64url(&theirs));
        assert!(matches!(
            restore(&moved, &code, &secret(7)),
            Err(BackupError::Altered(2))
        ));
        // Appended in its place, it opens.
        let ours = made
            .key
            .seal(&secret(7).backup_id(), 2, &entry("c", &[]), &OsRandom)
            .unwrap();
        let mut appended = made.stored;
        appended.segments.push(b64url(&ours));
        assert_eq!(restore(&appended, &code, &secret(7)).unwrap().len(), 3);
    }

    /// The provider's side, as a test keeps it: one backup, appends checked as a provider
    /// must (its generation, the next place).
    fn append(stored: &mut StoredBackup, pending: &Pending) {
        assert_eq!(pending.generation, stored.generation);
        assert_eq!(pending.first, stored.segments.len() as u64);
        stored
            .segments
            .extend(pending.segments.iter().map(|s| b64url(s)));
    }

    #[tokio::test]
    async fn a_new_phone_restores_the_history_and_the_old_one_cannot_add_to_it() {
        let given = b64url(&[7; 32]);
        let old = WalletStore::open(":memory:", crate::store::UsePolicy::PerRelyingParty)
            .await
            .unwrap();
        let old_backup = HistoryBackup::new(old.clone());
        // Nothing before a face-proofed step gave the secret.
        assert_eq!(old_backup.state().await.unwrap(), BackupState::NoSecret);
        assert!(matches!(
            old_backup.start(None, false, CHEAP, &OsRandom).await,
            Err(BackupError::NoSecret)
        ));
        old.record(&entry("nanning-bank", &["age_over_18"]), None)
            .await
            .unwrap();
        old_backup.keep_secret(&given).await.unwrap();
        let BackupState::Off { backup_id } = old_backup.state().await.unwrap() else {
            panic!("the backup is not off")
        };
        let (code, made) = old_backup
            .start(None, false, CHEAP, &OsRandom)
            .await
            .unwrap();
        let mut provider = made.stored.clone();
        old_backup.started(&made).await.unwrap();
        assert!(matches!(
            old_backup.start(None, false, CHEAP, &OsRandom).await,
            Err(BackupError::AlreadyOn)
        ));
        assert!(old_backup.pending(&OsRandom).await.unwrap().is_none());
        // Two more presentations, sent as they come.
        old.record(&entry("beijing-hotel", &["portrait"]), None)
            .await
            .unwrap();
        old.record(&entry("rail", &["family_name"]), None)
            .await
            .unwrap();
        let pending = old_backup.pending(&OsRandom).await.unwrap().unwrap();
        assert_eq!((pending.first, pending.segments.len()), (1, 2));
        assert_eq!(pending.backup_id, backup_id);
        append(&mut provider, &pending);
        old_backup.sent(&pending).await.unwrap();
        assert!(old_backup.pending(&OsRandom).await.unwrap().is_none());

        // The phone is lost. The new one, proofed, has the secret and one presentation of
        // its own; another backup is refused while the provider holds hers.
        let new = WalletStore::open(":memory:", crate::store::UsePolicy::PerRelyingParty)
            .await
            .unwrap();
        let new_backup = HistoryBackup::new(new.clone());
        new.record(&entry("airport", &["portrait"]), None)
            .await
            .unwrap();
        new_backup.keep_secret(&given).await.unwrap();
        assert_eq!(
            new_backup.state().await.unwrap(),
            BackupState::Off {
                backup_id: backup_id.clone()
            }
        );
        assert!(matches!(
            new_backup
                .start(Some(provider.generation), false, CHEAP, &OsRandom)
                .await,
            Err(BackupError::Exists)
        ));
        let wrong = RecoveryCode::generate(&OsRandom).unwrap();
        assert!(matches!(
            new_backup
                .restore(&provider, &wrong, CHEAP, &OsRandom)
                .await,
            Err(BackupError::WrongCode)
        ));
        assert_eq!(
            new.history().await.unwrap().len(),
            1,
            "a failed restore added nothing"
        );
        let (entries, next) = new_backup
            .restore(&provider, &code, CHEAP, &OsRandom)
            .await
            .unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(next.stored.generation, 1);
        assert_eq!(next.stored.segments.len(), 4);
        provider = next.stored.clone();
        new_backup.restored(&entries, &next).await.unwrap();
        let restored: Vec<_> = new
            .history_since(0)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.relying_party.unwrap())
            .collect();
        assert_eq!(
            restored,
            ["airport", "nanning-bank", "beijing-hotel", "rail"]
        );
        // The new generation opens with the same code.
        assert_eq!(restore(&provider, &code, &secret(7)).unwrap().len(), 4);

        // The old phone, turning up, writes for generation 0: a provider refuses it, and
        // its segments would not open under the new key anyway.
        old.record(&entry("thief", &[]), None).await.unwrap();
        let stale = old_backup.pending(&OsRandom).await.unwrap().unwrap();
        assert_eq!((stale.generation, provider.generation), (0, 1));
        let mut forced = provider.clone();
        forced
            .segments
            .extend(stale.segments.iter().map(|s| b64url(s)));
        assert!(matches!(
            restore(&forced, &code, &secret(7)),
            Err(BackupError::Altered(4))
        ));
    }

    #[test]
    fn recovery_codes_are_read_as_typed_and_refused_when_malformed() {
        let code = RecoveryCode::parse("k7qf2-m9xab-cdefg-h0o1l").unwrap();
        assert_eq!(code.display().as_str(), "K7QF2-M9XAB-CDEFG-H0011");
        for bad in [
            "",
            "K7QF2-M9XAB-CDEFG-H001",
            "K7QF2-M9XAB-CDEFG-H00110",
            "K7QF2-M9XAB-CDEFG-H001U",
            "K7QF2-M9XAB-CDEFG-H001é",
        ] {
            assert!(
                matches!(RecoveryCode::parse(bad), Err(BackupError::MalformedCode)),
                "{bad:?} was read"
            );
        }
        let made = RecoveryCode::generate(&OsRandom).unwrap();
        let shown = made.display();
        assert_eq!(shown.len(), 23);
        assert!(RecoveryCode::parse(&shown).is_ok());
    }

    #[test]
    fn a_wrapped_key_asking_for_more_work_than_allowed_is_refused_before_any() {
        let code = RecoveryCode::generate(&OsRandom).unwrap();
        let made = make_backup(&[], 0, &code, &secret(7), CHEAP, &OsRandom).unwrap();
        let beyond: [fn(&mut WrappedKey); 3] = [
            |k| k.m_kib = MAX_KDF.m_kib + 1,
            |k| k.t = MAX_KDF.t + 1,
            |k| k.p = MAX_KDF.p + 1,
        ];
        for raise in beyond {
            let mut asked = made.stored.clone();
            raise(&mut asked.key);
            assert!(matches!(
                restore(&asked, &code, &secret(7)),
                Err(BackupError::Damaged("Argon2 parameters above the bounds"))
            ));
        }
    }

    #[tokio::test]
    async fn a_wallet_restoring_in_turn_does_not_take_its_own_entries_twice() {
        let code = RecoveryCode::generate(&OsRandom).unwrap();
        let store = WalletStore::open(":memory:", crate::store::UsePolicy::PerRelyingParty)
            .await
            .unwrap();
        store.record(&entry("a", &[]), None).await.unwrap();
        let backup = HistoryBackup::new(store.clone());
        backup.keep_secret(&b64url(&[7; 32])).await.unwrap();
        // Another phone restored its backup and added "b": this one restores in turn.
        let theirs = make_backup(
            &[entry("a", &[]), entry("b", &[])],
            1,
            &code,
            &secret(7),
            CHEAP,
            &OsRandom,
        )
        .unwrap();
        let (entries, next) = backup
            .restore(&theirs.stored, &code, CHEAP, &OsRandom)
            .await
            .unwrap();
        assert_eq!(entries, [entry("b", &[])]);
        assert_eq!((next.stored.generation, next.stored.segments.len()), (2, 2));
        backup.restored(&entries, &next).await.unwrap();
        assert_eq!(store.history().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_restore_refuses_to_keep_what_a_presentation_made_meanwhile_would_misplace() {
        let code = RecoveryCode::generate(&OsRandom).unwrap();
        let theirs =
            make_backup(&[entry("a", &[])], 0, &code, &secret(7), CHEAP, &OsRandom).unwrap();
        let store = WalletStore::open(":memory:", crate::store::UsePolicy::PerRelyingParty)
            .await
            .unwrap();
        let backup = HistoryBackup::new(store.clone());
        backup.keep_secret(&b64url(&[7; 32])).await.unwrap();
        let (entries, next) = backup
            .restore(&theirs.stored, &code, CHEAP, &OsRandom)
            .await
            .unwrap();
        // A presentation recorded between the restore and its confirmation.
        store.record(&entry("b", &[]), None).await.unwrap();
        assert!(matches!(
            backup.restored(&entries, &next).await,
            Err(BackupError::Moved)
        ));
        assert_eq!(store.history().await.unwrap().len(), 1, "nothing was kept");
        assert!(matches!(
            backup.state().await.unwrap(),
            BackupState::Off { .. }
        ));
    }

    #[tokio::test]
    async fn another_residents_secret_ends_the_backup_here_and_a_lost_code_starts_over() {
        let store = WalletStore::open(":memory:", crate::store::UsePolicy::PerRelyingParty)
            .await
            .unwrap();
        let backup = HistoryBackup::new(store.clone());
        backup.keep_secret(&b64url(&[7; 32])).await.unwrap();
        let BackupState::Off { backup_id } = backup.state().await.unwrap() else {
            panic!("the backup is not off")
        };
        // The provider keeps generation 3 of her backup: without `over`, refused; with it,
        // the next generation replaces it.
        assert!(matches!(
            backup.start(Some(3), false, CHEAP, &OsRandom).await,
            Err(BackupError::Exists)
        ));
        let (_, made) = backup.start(Some(3), true, CHEAP, &OsRandom).await.unwrap();
        assert_eq!(made.stored.generation, 4);
        backup.started(&made).await.unwrap();
        assert!(matches!(
            backup.started(&made).await,
            Err(BackupError::AlreadyOn)
        ));
        // The same secret again changes nothing.
        backup.keep_secret(&b64url(&[7; 32])).await.unwrap();
        assert!(matches!(
            backup.state().await.unwrap(),
            BackupState::On { backup_id: ref id, generation: 4, .. } if *id == backup_id
        ));
        // The backup moved on elsewhere: the wallet forgets its key and offers a restore.
        backup.stale().await.unwrap();
        assert_eq!(
            backup.state().await.unwrap(),
            BackupState::Off {
                backup_id: backup_id.clone()
            }
        );
        // Another resident enrolled here: her secret ends the first one's backup here.
        let (_, made) = backup.start(Some(5), true, CHEAP, &OsRandom).await.unwrap();
        backup.started(&made).await.unwrap();
        backup.keep_secret(&b64url(&[9; 32])).await.unwrap();
        assert_eq!(
            backup.state().await.unwrap(),
            BackupState::Off {
                backup_id: secret(9).backup_id()
            }
        );
    }
}
