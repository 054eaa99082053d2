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
use eid_wallet::store::{UsePolicy, WalletStore, Whose};
use time::OffsetDateTime;

uniffi::setup_scaffolding!();

mod backup;
mod online;

pub use backup::{HistoryBackupMade, HistoryBackupState, HistorySegments};
pub use online::{Consent, OnlineRequest};

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

impl From<uniffi::UnexpectedUniFFICallbackError> for KeyStoreError {
    /// An exception of the app's other than a `KeyStoreError` (an I/O error, a key
    /// invalidated by a new fingerprint): refused, with its text, never a panic.
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Refused {
            reason: format!("the app's key store or attester failed: {}", e.reason),
        }
    }
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
    /// What the app passed is not usable (an offer, a purpose, a turn, a holding the wallet
    /// does not have or the relying party does not take).
    #[error("{message}")]
    Invalid {
        /// What was wrong.
        message: String,
    },
    /// The wallet refused a relying party's request (not registered for what it asks, a
    /// signature or an origin that does not check out): nothing was shown; the words say
    /// why, to tell the holder.
    #[error("{message}")]
    RequestRefused {
        /// Why.
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

/// Trusts the certificates of `pem` (a provider's or an authority's private CA) for
/// `https://`, beside Mozilla's roots. Call it before opening a wallet: the TLS client is
/// made at the first exchange. Returns how many certificates were added.
#[uniffi::export]
pub fn trust_tls_roots(pem: Vec<u8>) -> Result<u32, WalletError> {
    let added = eid_http::add_roots(&pem).map_err(|e| WalletError::Invalid {
        message: e.to_string(),
    })?;
    Ok(u32::try_from(added).unwrap_or(u32::MAX))
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
            // A certificate that does not check out, or plain http:// refused: trying again
            // changes nothing, so not "unreachable".
            HolderError::Unreachable {
                source:
                    eid_http::HttpError::Tls { .. }
                    | eid_http::HttpError::PlainHttp(_)
                    | eid_http::HttpError::Roots(_),
                ..
            } => Self::Invalid { message },
            HolderError::Unreachable { .. } => Self::Unreachable { message },
            HolderError::Offer(_)
            | HolderError::UnknownIssuer
            | HolderError::Invalid(_)
            | HolderError::DelegationNotAccepted => Self::Invalid { message },
            HolderError::Request(_) => Self::RequestRefused { message },
            HolderError::NotEnrolled | HolderError::NoCredential(_) => {
                Self::NoCredential { message }
            }
            HolderError::Keys(_) | HolderError::Attestation(_) => Self::Keys { message },
            _ => Self::Failed { message },
        }
    }
}

/// The name an mdoc (its IssuerSigned, as the wallet keeps it) is of: the family name, then
/// the given name, as on the card.
fn name_on(mdoc: &[u8]) -> Option<String> {
    let signed = eid_mdoc::IssuerSigned::from_cbor(mdoc).ok()?;
    let text = |element: &str| {
        signed
            .name_spaces
            .iter()
            .flat_map(|(_, items)| items)
            .find(|item| item.element_identifier == element)
            .and_then(|item| eid_mdoc::model::element_to_json(&item.element_value).ok())
            .and_then(|value| value.as_str().map(str::to_owned))
    };
    Some(format!("{}{}", text("family_name")?, text("given_name")?))
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
    /// The holding they make when they are held for someone else (a delegation's offer:
    /// see `holdings`); none for the holder's own.
    pub held_for: Option<i64>,
}

impl From<Enrolled> for Enrolment {
    fn from(e: Enrolled) -> Self {
        Self {
            issuer: e.issuer,
            credentials: e.credentials,
            held_for: e.holding,
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

/// An offline code to show as a QR code for one purpose, valid for a minute.
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
    /// The holding it belongs to when held for someone else; none for the holder's own.
    pub held_for: Option<i64>,
}

/// Credentials the holder holds for someone else — a child's, a ward's: one delegation
/// registered at the counter and redeemed. Kept apart from her own; shown only where she
/// chooses it and the relying party's purpose allows it (`Consent.delegation`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Holding {
    /// Its id: `OnlineRequest.share_held(id)`, `HeldCredential.held_for`.
    pub id: i64,
    /// `parent` or `guardian`, as the credentials say.
    pub relationship: String,
    /// The name of the resident they are held for (family name, then given name), to tell
    /// holdings apart; none when no credential is left.
    pub name: Option<String>,
    /// The issuing authority.
    pub issuer: String,
    /// When they were received (Unix seconds).
    pub received_at: i64,
    /// Whether a credential is left to show (not expired, not all spent): otherwise a new
    /// one comes from the counter (a holding is not refreshed).
    pub live: bool,
}

/// A wallet on the phone: its credential store in a folder of the app's, its keys in the
/// phone's hardware, its provider attesting them.
#[derive(uniffi::Object)]
pub struct EidWallet {
    holder: Holder,
    authorities: Vec<String>,
    keys: Arc<dyn PhoneKeyStore>,
    attester: Arc<dyn ProviderAttester>,
    /// The national trust list online requests are checked against (`use_trust_list`), and
    /// the signed text it was read from.
    trust: std::sync::RwLock<Option<(eid_trust::VerifiedTrustList, String)>>,
}

impl std::fmt::Debug for EidWallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EidWallet").finish_non_exhaustive()
    }
}

/// The SDK's own threads: every call runs there, so that the app's key store and attester —
/// blocking calls, a prompt or a request to the provider's server — never run on the thread
/// that awaits the call (Android's main thread, an event loop).
fn runtime() -> Result<&'static tokio::runtime::Runtime, WalletError> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("eid-sdk")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
        .ok_or_else(|| WalletError::Failed {
            message: "the SDK could not start its threads".into(),
        })
}

/// Runs `work` on the SDK's threads; its outcome.
async fn on_sdk_threads<T: Send + 'static>(
    work: impl Future<Output = Result<T, WalletError>> + Send + 'static,
) -> Result<T, WalletError> {
    runtime()?
        .spawn(work)
        .await
        .map_err(|e| WalletError::Failed {
            message: format!("the SDK's task did not finish: {e}"),
        })?
}

#[uniffi::export]
impl EidWallet {
    /// Opens (or creates) the wallet whose store is the folder `dir` (the app's private
    /// storage), with the phone's key store and the provider's attester. `authorities` are
    /// the issuing authorities it redeems offers from (their Credential Issuer Identifiers,
    /// as the trust list names them): an offer from anywhere else is refused before it gets
    /// anything. Makes the wallet's own key in the hardware the first time.
    #[uniffi::constructor]
    pub async fn open(
        dir: String,
        authorities: Vec<String>,
        keys: Arc<dyn PhoneKeyStore>,
        attester: Arc<dyn ProviderAttester>,
    ) -> Result<Arc<Self>, WalletError> {
        // A phone sends the holder's number, name and face: never in the clear.
        eid_http::refuse_plain_http_beyond_loopback();
        on_sdk_threads(async move {
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
                // The app shows what is held for others apart and lets the holder choose
                // (`holdings`, `share_held`): it may take a delegation's offer.
                holder: Holder::new(store).holding_for_others(),
                authorities,
                keys,
                attester,
                trust: std::sync::RwLock::new(None),
            }))
        })
        .await
    }

    /// Enrolment with the offer (`openid-credential-offer://…`, the counter's QR code) and
    /// the transaction code the officer gave: every credential offered, each instance bound
    /// to a fresh key in the phone's hardware.
    pub async fn enrol_at_counter(
        self: Arc<Self>,
        offer: String,
        tx_code: String,
    ) -> Result<Enrolment, WalletError> {
        on_sdk_threads(async move {
            let mut keys = self.device_keys();
            let enrolled = self
                .holder
                .redeem(
                    &offer,
                    &tx_code,
                    Some(&self.authorities),
                    &mut keys,
                    &self.attester(),
                    now(),
                )
                .await;
            Ok(enrolled.map_err(|e| keys.explain(e))?.into())
        })
        .await
    }

    /// Remote enrolment at `authority` (the holder's prefecture's, one of the wallet's
    /// authorities): her identity number and name, the card's front and back (JPEG), and a
    /// live capture — facing the camera, then the head turned the way the app asked.
    #[expect(clippy::too_many_arguments, reason = "the enrolment form's fields")]
    pub async fn enrol_remote(
        self: Arc<Self>,
        authority: String,
        id_number: String,
        full_name: String,
        card_front: Vec<u8>,
        card_back: Vec<u8>,
        face: Vec<u8>,
        face_turned: Vec<u8>,
        turn: HeadTurn,
    ) -> Result<Enrolment, WalletError> {
        on_sdk_threads(async move {
            self.listed(&authority)?;
            let mut keys = self.device_keys();
            let identity = Identity {
                id_number: &id_number,
                full_name: &full_name,
            };
            let enrolled = self
                .holder
                .enrol_remote(
                    &authority,
                    identity,
                    (&card_front, &card_back),
                    live(&face, &face_turned, turn),
                    &mut keys,
                    &self.attester(),
                    now(),
                )
                .await;
            Ok(enrolled.map_err(|e| keys.explain(e))?.into())
        })
        .await
    }

    /// A new batch from the authority that issued the credentials, before they run out or
    /// expire (no new proofing while they are valid).
    pub async fn refresh(self: Arc<Self>) -> Result<Enrolment, WalletError> {
        on_sdk_threads(async move {
            let authority = self.holder.issuer().await?;
            self.listed(&authority)?;
            let mut keys = self.device_keys();
            let enrolled = self
                .holder
                .refresh(&authority, &mut keys, &self.attester(), now())
                .await;
            Ok(enrolled.map_err(|e| keys.explain(e))?.into())
        })
        .await
    }

    /// Reports the holder's other phones lost, from this wallet, proofed by a live capture of
    /// her face at `authority` (her prefecture's): they are suspended (reversible). With
    /// `moving`, she has moved to this wallet, which holds her credentials: they are revoked
    /// for good.
    #[expect(clippy::too_many_arguments, reason = "the report's fields")]
    pub async fn report_lost(
        self: Arc<Self>,
        authority: String,
        id_number: String,
        full_name: String,
        face: Vec<u8>,
        face_turned: Vec<u8>,
        turn: HeadTurn,
        moving: bool,
    ) -> Result<LostReportTaken, WalletError> {
        on_sdk_threads(async move {
            self.listed(&authority)?;
            let keys = self.device_keys();
            let identity = Identity {
                id_number: &id_number,
                full_name: &full_name,
            };
            let taken = self
                .holder
                .report_lost(
                    &authority,
                    identity,
                    live(&face, &face_turned, turn),
                    moving,
                    &keys,
                    &self.attester(),
                    now(),
                )
                .await
                .map_err(|e| keys.explain(e))?;
            Ok(LostReportTaken {
                wallets: taken
                    .wallets_suspended
                    .or(taken.wallets_revoked)
                    .unwrap_or(0) as u64,
                instances: taken.instances,
                moved: taken.moved,
            })
        })
        .await
    }

    /// Shows an offline code for `purpose` (`airport_security`, `rail_ticketing`,
    /// `age_check`): the showing, with its first code signed now by the phone's key (the
    /// app's prompt first) and recorded once in the history. Show its code as a QR code and
    /// ask it for the next one every 30 s while it is shown.
    pub async fn show_offline(
        self: Arc<Self>,
        purpose: String,
    ) -> Result<Arc<OfflineShowing>, WalletError> {
        on_sdk_threads(async move {
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
            let first = OfflineCode {
                code: show.code,
                shows: show.shows,
                valid_until: (at + eid_mdoc::offline::MAX_AGE).unix_timestamp(),
            };
            Ok(Arc::new(OfflineShowing {
                credential: show.credential,
                key_id: show.key_id,
                keys,
                first,
            }))
        })
        .await
    }

    /// The credentials held.
    pub async fn credentials(self: Arc<Self>) -> Result<Vec<HeldCredential>, WalletError> {
        on_sdk_threads(async move {
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
                    held_for: c.holding,
                })
                .collect())
        })
        .await
    }

    /// What the holder holds for others, oldest first.
    pub async fn holdings(self: Arc<Self>) -> Result<Vec<Holding>, WalletError> {
        on_sdk_threads(async move {
            let store = self.holder.store();
            let mut holdings = Vec::new();
            for held in store.holdings().await.map_err(HolderError::from)? {
                let whose = Whose::Held(held.id);
                let newest = store
                    .newest(whose, eid_oid4vc::FORMAT_MSO_MDOC)
                    .await
                    .map_err(HolderError::from)?;
                let live = store
                    .holds(whose, eid_oid4vc::FORMAT_MSO_MDOC, now())
                    .await
                    .map_err(HolderError::from)?;
                holdings.push(Holding {
                    id: held.id,
                    relationship: held.relationship,
                    name: newest.as_deref().and_then(name_on),
                    issuer: held.issuer,
                    received_at: held.received_at,
                    live,
                });
            }
            Ok(holdings)
        })
        .await
    }

    /// The history of every presentation (who, when, why, which attributes), as JSON for the
    /// holder to read or export.
    pub async fn history_json(self: Arc<Self>) -> Result<String, WalletError> {
        on_sdk_threads(async move {
            Ok(self
                .holder
                .store()
                .export_history()
                .await
                .map_err(HolderError::from)?)
        })
        .await
    }
}

/// An offline code being shown: the first code, then a new one on each call while the QR
/// code stays on the screen (a desk accepts each for 60 s). The showing is in the history
/// once, however many codes it makes.
#[derive(uniffi::Object)]
pub struct OfflineShowing {
    credential: eid_wallet::offline::OfflineCredential,
    key_id: String,
    keys: PhoneKeys,
    first: OfflineCode,
}

impl std::fmt::Debug for OfflineShowing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineShowing").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl OfflineShowing {
    /// The code made when the showing began.
    pub fn first_code(&self) -> OfflineCode {
        self.first.clone()
    }

    /// A new code, signed now by the phone's key (the app's prompt first, if its key asks
    /// for one each time).
    pub async fn next_code(self: Arc<Self>) -> Result<OfflineCode, WalletError> {
        on_sdk_threads(async move {
            let at = now();
            let signer = self.keys.signer(&self.key_id).map_err(WalletError::from)?;
            let code = self.credential.code(signer.as_ref(), at);
            let code = code.map_err(|e| {
                self.keys.explain(HolderError::Keys(format!(
                    "the offline code could not be signed: {e}"
                )))
            })?;
            Ok(OfflineCode {
                code,
                shows: self.first.shows.clone(),
                valid_until: (at + eid_mdoc::offline::MAX_AGE).unix_timestamp(),
            })
        })
        .await
    }
}

impl EidWallet {
    /// `authority` is one this wallet works with.
    fn listed(&self, authority: &str) -> Result<(), WalletError> {
        let same = |a: &str| a.trim_end_matches('/') == authority.trim_end_matches('/');
        if self.authorities.iter().any(|a| same(a)) {
            Ok(())
        } else {
            Err(invalid(
                "that authority is not one this wallet works with (EidWallet.open's authorities)",
            ))
        }
    }

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
        // Raw r‖s is 64 bytes; a DER signature is 64 bytes too about once in 2^48, so a
        // 64-byte signature that does not verify as raw is read again as DER.
        let candidates = [
            (signature.len() == 64).then(|| signature.clone()),
            der_signature(&signature),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|raw| self.public.verify(message, raw).is_ok())
            .ok_or(CryptoError::SigningFailed)
    }
}

/// A DER ECDSA P-256 signature (`SEQUENCE { INTEGER r, INTEGER s }`, X9.62) as raw `r‖s`.
fn der_signature(signature: &[u8]) -> Option<Vec<u8>> {
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

    /// A key store holding one software key, answering raw, in DER, or with junk.
    struct OneKey(eid_crypto::SigningKey, &'static str);

    impl PhoneKeyStore for OneKey {
        fn create_key(&self, _: String) -> Result<Vec<u8>, KeyStoreError> {
            Ok(self.0.verifying_key().sec1().to_vec())
        }
        fn public_key(&self, _: String) -> Result<Option<Vec<u8>>, KeyStoreError> {
            Ok(Some(self.0.verifying_key().sec1().to_vec()))
        }
        fn sign(&self, _: String, message: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
            let raw = Signer::sign(&self.0, &message).unwrap();
            Ok(match self.1 {
                "raw" => raw,
                "der" => der(&raw),
                "other key" => {
                    Signer::sign(&eid_crypto::SigningKey::generate().unwrap(), &message).unwrap()
                }
                "cancel" => return Err(KeyStoreError::Cancelled),
                _ => vec![0x30, 2, 0x02, 0],
            })
        }
    }

    fn der(raw: &[u8]) -> Vec<u8> {
        let integer = |x: &[u8]| {
            let mut x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
            if x.first().is_none_or(|b| b & 0x80 != 0) {
                x.insert(0, 0);
            }
            [vec![0x02, u8::try_from(x.len()).unwrap()], x].concat()
        };
        let body = [integer(&raw[..32]), integer(&raw[32..])].concat();
        [vec![0x30, u8::try_from(body.len()).unwrap()], body].concat()
    }

    fn keys(answer: &'static str) -> PhoneKeys {
        PhoneKeys {
            store: Arc::new(OneKey(eid_crypto::SigningKey::generate().unwrap(), answer)),
            refused: std::sync::Mutex::new(None),
        }
    }

    #[test]
    fn the_phones_signatures_are_taken_raw_or_der_and_checked_against_the_key() {
        for answer in ["raw", "der"] {
            let keys = keys(answer);
            let signer = keys.signer("k").unwrap();
            let signature = signer.sign(b"message").unwrap();
            assert_eq!(signature.len(), 64, "{answer}");
            signer
                .verifying_key()
                .verify(b"message", &signature)
                .unwrap();
        }
        for answer in ["other key", "junk"] {
            let keys = keys(answer);
            assert!(
                keys.signer("k").unwrap().sign(b"message").is_err(),
                "{answer}"
            );
        }
        let keys = keys("cancel");
        assert!(keys.signer("k").unwrap().sign(b"message").is_err());
        let said = keys.explain(HolderError::Keys("signing failed".into()));
        assert!(
            matches!(&said, WalletError::Keys { message } if message.contains("cancelled")),
            "{said}"
        );
    }

    #[test]
    fn der_is_read_strictly() {
        let raw: Vec<u8> = (1..=64).collect();
        assert_eq!(der_signature(&der(&raw)).unwrap(), raw);
        // A leading zero on r (high bit set) and a short s.
        let mut der = vec![0x30, 0, 0x02, 33, 0];
        der.extend([0x80; 32]);
        der.extend([0x02, 2, 0x01, 0x02]);
        der[1] = u8::try_from(der.len() - 2).unwrap();
        let read = der_signature(&der).unwrap();
        assert_eq!(&read[..32], &[0x80; 32]);
        assert_eq!(&read[32..62], &[0; 30]);
        assert_eq!(&read[62..], &[1, 2]);
        // Trailing bytes, a wrong length, an overlong integer: refused.
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(der_signature(&trailing).is_none());
        assert!(der_signature(&der[..der.len() - 1]).is_none());
        let mut long = vec![0x30, 38, 0x02, 34, 1];
        long.extend([1; 33]);
        long.extend([0x02, 1, 1]);
        assert!(der_signature(&long).is_none());
    }
}
