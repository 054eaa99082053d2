//! The mobile SDK: the holder's API of `eid_wallet::holder` for the phone apps of the wallet
//! providers (super-apps), exported with UniFFI — Kotlin for Android, Swift for iOS, and
//! Python (which the project's own end-to-end test drives).
//!
//! The app brings two things, as foreign traits it implements:
//! - [`PhoneKeyStore`]: the phone's secure hardware (Android Keystore, iOS Secure Enclave).
//!   Keys are P-256 and never leave it; the PIN or biometric prompt before a signature is
//!   the app's own.
//! - [`ProviderAttester`]: the provider's server, which attests that keys of this wallet
//!   instance live in that hardware (an OpenID4VCI key attestation).
//!
//! Everything else — the credential store (SQLite, in a folder the app gives), OpenID4VCI,
//! the eid bodies, the offline code — is the same code the command-line and the hosted
//! wallets run. Every call is async (Kotlin `suspend`, Swift `async`, Python `asyncio`); a
//! key-store call blocks one of the SDK's threads while the app's prompt is up.
//!
//! `docs/sdk.md` shows an integration.

use std::sync::Arc;

use eid_core::{Clock, OsRandom, Random, SystemClock};
use eid_crypto::{Algorithm, CryptoError, Signer, VerifyingKey};
use eid_wallet::enrolment::LiveCapture;
use eid_wallet::holder::{Attester, DeviceKeys, Enrolled, Holder, HolderError, Identity};
use eid_wallet::store::{UsePolicy, WalletStore};
use time::OffsetDateTime;

uniffi::setup_scaffolding!();

/// The alias of the key that proves this wallet to the authority.
pub const WALLET_KEY: &str = "eid-wallet";

/// Why the phone's key store did not do what was asked: the holder cancelled the prompt,
/// the hardware refused, no such key.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// The holder cancelled the PIN or biometric prompt.
    #[error("the holder cancelled")]
    Cancelled,
    /// The key store refused, for the reason it gives.
    #[error("the key store refused: {reason}")]
    Refused {
        /// Its reason.
        reason: String,
    },
}

/// The phone's secure hardware, as the app reaches it. Keys are ECDSA P-256; public keys are
/// SEC1 uncompressed points (65 bytes, `04‖x‖y`).
#[uniffi::export(with_foreign)]
pub trait PhoneKeyStore: Send + Sync {
    /// Makes a new key under `alias` that never leaves the hardware; its public key.
    fn create_key(&self, alias: String) -> Result<Vec<u8>, KeyStoreError>;
    /// The public key under `alias`, or `None` when there is none.
    fn public_key(&self, alias: String) -> Result<Option<Vec<u8>>, KeyStoreError>;
    /// Signs `message` (ECDSA with SHA-256 over it) with the key `alias`, after whatever
    /// prompt the app puts up: the signature, raw `r‖s` (64 bytes) or DER as Android's
    /// `Signature` and iOS's `SecKeyCreateSignature` give it.
    fn sign(&self, alias: String, message: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
}

/// The wallet provider's server vouching for keys of this wallet instance.
#[uniffi::export(with_foreign)]
pub trait ProviderAttester: Send + Sync {
    /// A key attestation (`key-attestation+jwt`, OpenID4VCI Appendix D.1) of exactly these
    /// public keys (SEC1), signed with the provider's key that the trust list lists.
    fn attest(&self, public_keys: Vec<Vec<u8>>) -> Result<String, KeyStoreError>;
}

/// Why a call did not complete. The messages say what to do; none carries the holder's data.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// The authority refused: its `error` code (`invalid_grant`, `face_mismatch`,
    /// `move_not_completed`, …) and its words.
    #[error("the authority refused ({code}): {message}")]
    Refused {
        /// The authority's code.
        code: String,
        /// Its words.
        message: String,
    },
    /// A service could not be reached: retry when online.
    #[error("{message}")]
    Unreachable {
        /// What could not be reached, and why.
        message: String,
    },
    /// What the app passed is not usable (an offer, a purpose, a turn).
    #[error("{message}")]
    Invalid {
        /// What was wrong.
        message: String,
    },
    /// The wallet holds no credential for this: enrol (or refresh) first.
    #[error("{message}")]
    NoCredential {
        /// What is missing.
        message: String,
    },
    /// The phone's key store or the provider's attestation failed (a cancelled prompt too).
    #[error("{message}")]
    Keys {
        /// What failed.
        message: String,
    },
    /// Anything else (the store, a service answering outside the protocol).
    #[error("{message}")]
    Failed {
        /// What failed.
        message: String,
    },
}

impl From<HolderError> for WalletError {
    fn from(e: HolderError) -> Self {
        let message = e.to_string();
        match e {
            HolderError::Refused {
                code, description, ..
            } => Self::Refused {
                code,
                message: description,
            },
            HolderError::Unreachable { .. } => Self::Unreachable { message },
            HolderError::Offer(_) | HolderError::UnknownIssuer => Self::Invalid { message },
            HolderError::NotEnrolled | HolderError::NoCredential(_) => {
                Self::NoCredential { message }
            }
            HolderError::Keys(_) | HolderError::Attestation(_) => Self::Keys { message },
            _ => Self::Failed { message },
        }
    }
}

fn invalid(message: impl Into<String>) -> WalletError {
    WalletError::Invalid {
        message: message.into(),
    }
}

/// Which way the app asked the holder to turn her head (the liveness challenge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum HeadTurn {
    /// To her left.
    Left,
    /// To her right.
    Right,
}

/// What an enrolment or a refresh left in the wallet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolment {
    /// The issuing authority.
    pub issuer: String,
    /// The credential configurations received.
    pub credentials: Vec<String>,
}

impl From<Enrolled> for Enrolment {
    fn from(e: Enrolled) -> Self {
        Self {
            issuer: e.issuer,
            credentials: e.credentials,
        }
    }
}

/// What a lost report (or a move) did at the authority.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LostReportTaken {
    /// Other wallets suspended (a loss) or revoked for good (a move).
    pub wallets: u64,
    /// Credential instances changed.
    pub instances: u64,
    /// It was a move: revoked, not suspended.
    pub moved: bool,
}

/// An offline code to show as a QR code for one purpose, valid for a minute: make a new one
/// every 30 s while it is shown.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OfflineCode {
    /// What the QR code carries (binary mode).
    pub code: Vec<u8>,
    /// The attributes it shows.
    pub shows: Vec<String>,
    /// Until when a desk accepts it (Unix seconds).
    pub valid_until: i64,
}

/// A credential held: what and until when, not what it says.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeldCredential {
    /// The format (`mso_mdoc`, `dc+sd-jwt`, the offline QR's).
    pub format: String,
    /// The purpose of an offline credential.
    pub purpose: Option<String>,
    /// Until when (Unix seconds).
    pub expires_at: i64,
    /// The relying party it was shown to, if any.
    pub shown_to: Option<String>,
}

/// A wallet on the phone: its credential store in a folder of the app's, its keys in the
/// phone's hardware, its provider attesting them.
#[derive(uniffi::Object)]
pub struct EidWallet {
    holder: Holder,
    keys: Arc<dyn PhoneKeyStore>,
    attester: Arc<dyn ProviderAttester>,
}

impl std::fmt::Debug for EidWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EidWallet").finish_non_exhaustive()
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl EidWallet {
    /// Opens (or creates) the wallet whose store is the folder `dir` (the app's private
    /// storage), with the phone's key store and the provider's attester. Makes the wallet's
    /// own key in the hardware the first time.
    #[uniffi::constructor]
    pub async fn open(
        dir: String,
        keys: Arc<dyn PhoneKeyStore>,
        attester: Arc<dyn ProviderAttester>,
    ) -> Result<Arc<Self>, WalletError> {
        std::fs::create_dir_all(&dir).map_err(|e| WalletError::Failed {
            message: format!("could not make the wallet's folder: {e}"),
        })?;
        let path = std::path::Path::new(&dir).join("wallet.db");
        let store = WalletStore::open(&path.display().to_string(), UsePolicy::PerRelyingParty)
            .await
            .map_err(|e| WalletError::Failed {
                message: format!("could not open the wallet's store: {e}"),
            })?;
        if keys
            .public_key(WALLET_KEY.into())
            .map_err(key_error)?
            .is_none()
        {
            keys.create_key(WALLET_KEY.into()).map_err(key_error)?;
        }
        Ok(Arc::new(Self {
            holder: Holder::new(store),
            keys,
            attester,
        }))
    }

    /// Enrolment with the offer (`openid-credential-offer://…`, the counter's QR code) and
    /// the transaction code the officer gave: every credential offered, each instance bound
    /// to a fresh key in the phone's hardware.
    pub async fn enrol_at_counter(
        &self,
        offer: String,
        tx_code: String,
    ) -> Result<Enrolment, WalletError> {
        let mut keys = self.device_keys();
        let attester = self.attester();
        Ok(self
            .holder
            .redeem(&offer, &tx_code, None, &mut keys, &attester, now())
            .await
            .map_err(|e| keys.explain(e))?
            .into())
    }

    /// Remote enrolment at `authority` (the holder's prefecture's): her identity number and
    /// name, the card's front and back (JPEG), and a live capture — facing the camera, then
    /// the head turned the way the app asked.
    #[expect(clippy::too_many_arguments, reason = "the enrolment form's fields")]
    pub async fn enrol_remote(
        &self,
        authority: String,
        id_number: String,
        full_name: String,
        card_front: Vec<u8>,
        card_back: Vec<u8>,
        face: Vec<u8>,
        face_turned: Vec<u8>,
        turn: HeadTurn,
    ) -> Result<Enrolment, WalletError> {
        let mut keys = self.device_keys();
        let attester = self.attester();
        let identity = Identity {
            id_number: &id_number,
            full_name: &full_name,
        };
        let capture = live(&face, &face_turned, turn);
        Ok(self
            .holder
            .enrol_remote(
                &authority,
                identity,
                (&card_front, &card_back),
                capture,
                &mut keys,
                &attester,
                now(),
            )
            .await
            .map_err(|e| keys.explain(e))?
            .into())
    }

    /// A new batch from the authority that issued the credentials, before they run out or
    /// expire (no new proofing while they are valid).
    pub async fn refresh(&self) -> Result<Enrolment, WalletError> {
        let authority = self.holder.issuer().await?;
        let mut keys = self.device_keys();
        let attester = self.attester();
        Ok(self
            .holder
            .refresh(&authority, &mut keys, &attester, now())
            .await
            .map_err(|e| keys.explain(e))?
            .into())
    }

    /// Reports the holder's other phones lost, from this wallet, proofed by a live capture of
    /// her face at `authority` (her prefecture's): they are suspended (reversible). With
    /// `moving`, she has moved to this wallet, which holds her credentials: they are revoked
    /// for good.
    #[expect(clippy::too_many_arguments, reason = "the report's fields")]
    pub async fn report_lost(
        &self,
        authority: String,
        id_number: String,
        full_name: String,
        face: Vec<u8>,
        face_turned: Vec<u8>,
        turn: HeadTurn,
        moving: bool,
    ) -> Result<LostReportTaken, WalletError> {
        let keys = self.device_keys();
        let attester = self.attester();
        let identity = Identity {
            id_number: &id_number,
            full_name: &full_name,
        };
        let capture = live(&face, &face_turned, turn);
        let taken = self
            .holder
            .report_lost(
                &authority,
                identity,
                capture,
                moving,
                &keys,
                &attester,
                now(),
            )
            .await?;
        Ok(LostReportTaken {
            wallets: taken
                .wallets_suspended
                .or(taken.wallets_revoked)
                .unwrap_or(0) as u64,
            instances: taken.instances,
            moved: taken.moved,
        })
    }

    /// A fresh offline code for `purpose` (`airport_security`, `rail_ticketing`,
    /// `age_check`), signed now by the phone's key (the app's prompt first): show it as a QR
    /// code, and make another every 30 s while it is shown.
    pub async fn offline_code(&self, purpose: String) -> Result<OfflineCode, WalletError> {
        let purpose = eid_trust::Purpose::parse(&purpose).ok_or_else(|| {
            invalid("offline codes exist for airport_security, rail_ticketing and age_check")
        })?;
        let keys = self.device_keys();
        let at = now();
        let show = self
            .holder
            .offline(purpose, &keys, at)
            .await
            .map_err(|e| keys.explain(e))?;
        Ok(OfflineCode {
            code: show.code,
            shows: show.shows,
            valid_until: (at + eid_mdoc::offline::MAX_AGE).unix_timestamp(),
        })
    }

    /// The credentials held.
    pub async fn credentials(&self) -> Result<Vec<HeldCredential>, WalletError> {
        let listed = self
            .holder
            .store()
            .list()
            .await
            .map_err(HolderError::from)?;
        Ok(listed
            .into_iter()
            .map(|c| HeldCredential {
                format: c.format,
                purpose: c.purpose,
                expires_at: c.expires_at,
                shown_to: c.shown_to,
            })
            .collect())
    }

    /// The history of every presentation (who, when, why, which attributes), as JSON for the
    /// holder to read or export.
    pub async fn history_json(&self) -> Result<String, WalletError> {
        Ok(self
            .holder
            .store()
            .export_history()
            .await
            .map_err(HolderError::from)?)
    }
}

impl EidWallet {
    fn device_keys(&self) -> PhoneKeys {
        PhoneKeys {
            store: self.keys.clone(),
            refused: std::sync::Mutex::new(None),
        }
    }

    fn attester(&self) -> AppAttester {
        AppAttester(self.attester.clone())
    }
}

fn now() -> OffsetDateTime {
    SystemClock.now()
}

fn live<'a>(face: &'a [u8], turned: &'a [u8], turn: HeadTurn) -> LiveCapture<'a> {
    LiveCapture {
        facing: face,
        turned,
        turn: match turn {
            HeadTurn::Left => eid_face::Turn::Left,
            HeadTurn::Right => eid_face::Turn::Right,
        },
    }
}

fn key_error(e: KeyStoreError) -> WalletError {
    WalletError::Keys {
        message: e.to_string(),
    }
}

fn holder_key_error(e: KeyStoreError) -> HolderError {
    HolderError::Keys(e.to_string())
}

/// The phone's key store as the holder's [`DeviceKeys`]: a fresh hardware key for every
/// credential instance, the wallet key for proofs.
struct PhoneKeys {
    store: Arc<dyn PhoneKeyStore>,
    /// Why the key store last refused to sign (a signer can only say that it failed).
    refused: std::sync::Mutex<Option<KeyStoreError>>,
}

impl PhoneKeys {
    /// `e` as the app's error, saying what the key store said when a signature was refused
    /// (the holder cancelled, say).
    fn explain(&self, e: HolderError) -> WalletError {
        let refused = self.refused.lock().ok().and_then(|mut r| r.take());
        match (refused, e) {
            (Some(refused), HolderError::Keys(_)) => WalletError::Keys {
                message: refused.to_string(),
            },
            (_, e) => e.into(),
        }
    }

    fn public(&self, alias: &str) -> Result<VerifyingKey, HolderError> {
        let sec1 = self
            .store
            .public_key(alias.into())
            .map_err(holder_key_error)?
            .ok_or_else(|| HolderError::Keys(format!("the phone holds no key {alias}")))?;
        point(&sec1)
    }
}

fn point(sec1: &[u8]) -> Result<VerifyingKey, HolderError> {
    VerifyingKey::from_sec1(Algorithm::Es256, sec1).map_err(|_| {
        HolderError::Keys(
            "the phone's key store gave a public key that is not a P-256 point".into(),
        )
    })
}

impl DeviceKeys for PhoneKeys {
    fn instance_keys(&mut self, count: usize) -> Result<Vec<(String, VerifyingKey)>, HolderError> {
        let mut keys = Vec::with_capacity(count);
        for _ in 0..count {
            let mut raw = [0u8; 12];
            OsRandom
                .fill(&mut raw)
                .map_err(|e| HolderError::Keys(e.to_string()))?;
            let alias = format!("eid-{}", eid_crypto::b64url(&raw));
            let public = self
                .store
                .create_key(alias.clone())
                .map_err(holder_key_error)?;
            keys.push((alias, point(&public)?));
        }
        Ok(keys)
    }

    fn wallet_key(&self) -> Result<(String, VerifyingKey), HolderError> {
        Ok((WALLET_KEY.to_owned(), self.public(WALLET_KEY)?))
    }

    fn public_key(&self, id: &str) -> Result<VerifyingKey, HolderError> {
        self.public(id)
    }

    fn signer(&self, id: &str) -> Result<Box<dyn Signer + '_>, HolderError> {
        Ok(Box::new(PhoneSigner {
            store: self.store.as_ref(),
            refused: &self.refused,
            alias: id.to_owned(),
            public: self.public(id)?,
        }))
    }
}

/// One key of the phone's store as a [`Signer`]: each signature is checked against the key
/// before it is used, so a key store answering in another format is caught here, saying so.
struct PhoneSigner<'a> {
    store: &'a dyn PhoneKeyStore,
    refused: &'a std::sync::Mutex<Option<KeyStoreError>>,
    alias: String,
    public: VerifyingKey,
}

impl Signer for PhoneSigner<'_> {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let signature = self
            .store
            .sign(self.alias.clone(), message.to_vec())
            .map_err(|e| {
                if let Ok(mut refused) = self.refused.lock() {
                    *refused = Some(e);
                }
                CryptoError::SigningFailed
            })?;
        let raw = raw_signature(&signature).ok_or(CryptoError::SigningFailed)?;
        self.public
            .verify(message, &raw)
            .map_err(|_| CryptoError::SigningFailed)?;
        Ok(raw)
    }
}

/// An ECDSA P-256 signature as raw `r‖s`: given so, or from DER (`SEQUENCE { INTEGER r,
/// INTEGER s }`, X9.62).
fn raw_signature(signature: &[u8]) -> Option<Vec<u8>> {
    if signature.len() == 64 {
        return Some(signature.to_vec());
    }
    let body = match signature {
        [0x30, len, body @ ..] if usize::from(*len) == body.len() => body,
        _ => return None,
    };
    let (r, rest) = der_integer(body)?;
    let (s, rest) = der_integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut raw = vec![0u8; 64];
    raw[32 - r.len()..32].copy_from_slice(r);
    raw[64 - s.len()..].copy_from_slice(s);
    Some(raw)
}

/// One DER INTEGER of at most 32 bytes of magnitude (leading zero dropped), and what follows.
fn der_integer(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let [0x02, len, rest @ ..] = bytes else {
        return None;
    };
    let len = usize::from(*len);
    if len == 0 || len > rest.len() {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    let value = match value {
        [0, tail @ ..] if !tail.is_empty() => tail,
        v => v,
    };
    (value.len() <= 32).then_some((value, rest))
}

/// The app's attester as the holder's [`Attester`].
struct AppAttester(Arc<dyn ProviderAttester>);

impl Attester for AppAttester {
    fn attest(&self, keys: &[VerifyingKey], _: OffsetDateTime) -> Result<String, HolderError> {
        self.0
            .attest(keys.iter().map(|k| k.sec1().to_vec()).collect())
            .map_err(|e| HolderError::Attestation(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_taken_raw_or_der_and_nothing_else() {
        let raw: Vec<u8> = (1..=64).collect();
        assert_eq!(raw_signature(&raw).unwrap(), raw);
        // DER with a leading zero on r (high bit set) and a short s.
        let mut der = vec![0x30, 0, 0x02, 33, 0];
        der.extend([0x80; 32]);
        der.extend([0x02, 2, 0x01, 0x02]);
        der[1] = u8::try_from(der.len() - 2).unwrap();
        let read = raw_signature(&der).unwrap();
        assert_eq!(&read[..32], &[0x80; 32]);
        assert_eq!(&read[32..62], &[0; 30]);
        assert_eq!(&read[62..], &[1, 2]);
        // Trailing bytes, a wrong length, an overlong integer: refused.
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(raw_signature(&trailing).is_none());
        assert!(raw_signature(&raw[..63]).is_none());
        let mut long = vec![0x30, 38, 0x02, 34, 1];
        long.extend([1; 33]);
        long.extend([0x02, 1, 1]);
        assert!(raw_signature(&long).is_none());
    }
}
