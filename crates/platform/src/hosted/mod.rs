//! A wallet provider hosting wallets (the reference web wallet's back end): each wallet is a
//! folder with a PIN-sealed software keystore and the SQLite credential store, and every
//! operation that uses the device key takes the PIN. The provider attests its wallets'
//! keys with its attestation key (OpenID4VCI key attestation), as a super-app attests the
//! keys of its phones.
//!
//! A phone app keeps its device key in the phone's secure hardware; a hosted wallet keeps it
//! sealed under the PIN at the provider (docs/threat-model.md says what that changes).
//!
//! This module holds the wallets, their keys and what the flows share; the flows are by
//! concern: enrolment (`enrol`: counter offer, remote, refresh, lost and move), showing
//! (`present`: offline code, OpenID4VP, the Digital Credentials API) and in person
//! (`in_person`). Every flow with the authority is `eid_wallet::holder`'s.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex, RwLock};

use eid_core::{Clock, Random};
use eid_crypto::{SigningKey, VerifyingKey, b64url};

use eid_oid4vc::KeyAttestation;
use eid_trust::{Purpose, VerifiedTrustList};
use eid_wallet::enrolment::LiveCapture;
pub use eid_wallet::holder::Identity;
use eid_wallet::in_person::{ConsentRequest, Engagement};
use eid_wallet::keystore::{KdfCost, KeystoreError, Unlocked};
use eid_wallet::store::{Presentation, UsePolicy, WalletStore, Whose};
use eid_wallet::{Attester, Holder, HolderError, Keystore, SoftwareKeystore, UnlockedKeys};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::PlatformError;
use crate::data::ProviderPlan;

mod backup;
mod enrol;
mod in_person;
mod present;

/// The one device key of a hosted wallet (its keystore id).
const DEVICE_KEY: &str = "device";
/// Wrong PINs before a wallet locks.
const MAX_PIN_FAILURES: u32 = 5;
/// How long a phone waits for the desk to connect, and for the holder to decide.
const IN_PERSON_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Why a hosted-wallet operation did not happen: an HTTP status, a code and words. Never
/// carries the holder's data.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// A stable code.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl Refused {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// An internal failure: the detail goes to the provider's log under a reference, the
    /// caller gets the reference only (no database or library text leaves the service).
    fn internal(e: impl std::fmt::Display) -> Self {
        let mut raw = [0u8; 4];
        let reference = match eid_core::OsRandom.fill(&mut raw) {
            Ok(()) => hex::encode(raw),
            Err(_) => "-".into(),
        };
        tracing::error!(target: "eid::provider", reference = %reference, cause = %e, "internal error");
        Self::new(
            500,
            "internal",
            format!("an internal error occurred (reference {reference} in the provider's log)"),
        )
    }
}

impl From<PlatformError> for Refused {
    fn from(e: PlatformError) -> Self {
        Self::internal(e)
    }
}

/// One hosted wallet, opened.
struct Wallet {
    /// The wallet instance id the provider attests (what issuers and their lists see); the
    /// wallet's own id is the browser's secret handle and never leaves the provider.
    instance: String,
    keystore: Arc<Mutex<SoftwareKeystore>>,
    store: WalletStore,
}

/// Wallets kept open at once, at most: each holds a SQLite connection (a few file
/// descriptors, up to 2 MiB of page cache). The least recently used one that no request is
/// using is closed to make room, and opens again when next used (its PIN failures are
/// counted on disk, so closing forgets nothing).
const MAX_OPEN_WALLETS: usize = 256;

/// The open wallets by id, each with when it was last used (a use count, not a time).
struct OpenWallets<T> {
    open: HashMap<String, (Arc<T>, u64)>,
    uses: u64,
    max: usize,
}

impl<T> OpenWallets<T> {
    fn new(max: usize) -> Self {
        Self {
            open: HashMap::new(),
            uses: 0,
            max,
        }
    }

    fn get(&mut self, id: &str) -> Option<Arc<T>> {
        self.uses += 1;
        let uses = self.uses;
        self.open.get_mut(id).map(|(wallet, used)| {
            *used = uses;
            wallet.clone()
        })
    }

    /// Keeps `wallet` open, closing the least recently used idle ones while full (when
    /// every one is in use, it holds more for now, and closes them as they fall idle).
    fn insert(&mut self, id: String, wallet: Arc<T>) {
        while self.open.len() >= self.max {
            let idle = self
                .open
                .iter()
                .filter(|(_, (held, _))| Arc::strong_count(held) == 1)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| id.clone());
            let Some(idle) = idle else { break };
            self.open.remove(&idle);
        }
        self.uses += 1;
        self.open.insert(id, (wallet, self.uses));
    }
}

/// PIN key derivations (Argon2id, 19 MiB each) running at once, at most.
static KEY_DERIVATIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// An in-person presentation in progress: the desk's request waiting for the holder.
struct InPerson {
    started: OffsetDateTime,
    /// The phone's side, listening or answering; one per wallet at a time.
    task: Option<tokio::task::AbortHandle>,
    state: Arc<StdMutex<InPersonState>>,
    /// The holder's decision: share with this PIN, from whose credentials; or decline.
    decide: Option<oneshot::Sender<Option<(String, Whose)>>>,
}

/// How long a presentation session is kept (in person: the desk's wait and the holder's
/// decision, then its outcome for the page; online: until the holder decides).
const SESSION_KEPT: Duration = Duration::minutes(10);

#[derive(Debug, Clone)]
enum InPersonState {
    Waiting,
    Asking(ConsentRequest),
    Refused(String),
    Shared(String),
    Declined,
    Failed(String),
}

/// An online request waiting for the holder.
struct Online {
    received: OffsetDateTime,
    pending: Arc<eid_wallet::online::PendingOnline>,
}

/// A wallet provider and the wallets it hosts.
pub struct Provider {
    plan: ProviderPlan,
    attestation_key: Arc<SigningKey>,
    dir: PathBuf,
    trust: Arc<RwLock<VerifiedTrustList>>,
    /// The authorities' public URLs by the prefecture they serve (GB/T 2260: its code's
    /// first four digits).
    authorities: Vec<(u32, String)>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    wallets: Mutex<OpenWallets<Wallet>>,
    in_person: StdMutex<HashMap<String, InPerson>>,
    online: StdMutex<HashMap<String, Online>>,
    /// The history backups it keeps (opened when first used).
    backups: tokio::sync::OnceCell<backup::Backups>,
    /// One backup operation at a time (a wallet's entries are sent in order).
    backup_lock: Mutex<()>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.plan.id)
            .finish_non_exhaustive()
    }
}

fn bad(message: impl Into<String>) -> Refused {
    Refused::new(400, "invalid_request", message)
}

/// Another service failed us: what, and the status or the connection problem — never the
/// body it sent (it may not be ours).
fn unreachable_service(what: &str, e: eid_http::HttpError) -> Refused {
    use eid_http::HttpError;
    let why = match e {
        HttpError::Status(status, _) => format!("HTTP {status}"),
        e => e.to_string(),
    };
    Refused::new(502, "upstream", format!("{what}: {why}"))
}

impl Provider {
    /// A provider with its attestation key, hosting wallets under `dir`; `authorities` are
    /// (prefecture, public URL) pairs.
    pub fn new(
        plan: ProviderPlan,
        attestation_key: SigningKey,
        dir: PathBuf,
        trust: Arc<RwLock<VerifiedTrustList>>,
        authorities: Vec<(u32, String)>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        Self {
            plan,
            attestation_key: Arc::new(attestation_key),
            dir,
            trust,
            authorities,
            clock,
            random,
            wallets: Mutex::new(OpenWallets::new(MAX_OPEN_WALLETS)),
            in_person: StdMutex::new(HashMap::new()),
            online: StdMutex::new(HashMap::new()),
            backups: tokio::sync::OnceCell::new(),
            backup_lock: Mutex::new(()),
        }
    }

    /// Its id.
    pub fn id(&self) -> &'static str {
        self.plan.id
    }

    fn token(&self) -> Result<String, Refused> {
        let mut raw = [0u8; 16];
        self.random
            .fill(&mut raw)
            .map_err(|_| Refused::internal("the random source failed"))?;
        Ok(hex::encode(raw))
    }

    /// A new wallet whose device key the PIN (6–12 digits) unlocks: its id.
    pub async fn create(&self, pin: &str) -> Result<String, Refused> {
        if !(6..=12).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the PIN must be 6 to 12 digits"));
        }
        let id = self.token()?;
        let folder = self.dir.join(&id);
        std::fs::create_dir_all(&folder).map_err(Refused::internal)?;
        crate::data::write(&folder.join("instance"), self.token()?.as_bytes(), false)?;
        let pin = pin.to_owned();
        let path = folder.join("keystore.json");
        let _slot = KEY_DERIVATIONS
            .acquire()
            .await
            .map_err(|_| Refused::internal("key derivation slots closed"))?;
        tokio::task::spawn_blocking(move || {
            let (mut keystore, unlocked) = SoftwareKeystore::create(
                &path,
                &pin,
                MAX_PIN_FAILURES,
                KdfCost::RECOMMENDED,
                Box::new(eid_core::OsRandom),
            )?;
            keystore.create_key(&unlocked, DEVICE_KEY)?;
            Ok::<_, KeystoreError>(())
        })
        .await
        .map_err(Refused::internal)?
        .map_err(|e| match e {
            KeystoreError::WeakPin => bad("the PIN must be 6 to 12 digits"),
            e => Refused::internal(e),
        })?;
        self.wallet(&id).await?;
        Ok(id)
    }

    async fn wallet(&self, id: &str) -> Result<Arc<Wallet>, Refused> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refused::new(404, "no_such_wallet", "no such wallet"));
        }
        let mut wallets = self.wallets.lock().await;
        if let Some(wallet) = wallets.get(id) {
            return Ok(wallet);
        }
        let folder = self.dir.join(id);
        let keystore =
            SoftwareKeystore::open(&folder.join("keystore.json"), Box::new(eid_core::OsRandom))
                .map_err(|_| Refused::new(404, "no_such_wallet", "no such wallet"))?;
        let instance = std::fs::read_to_string(folder.join("instance"))
            .map_err(Refused::internal)?
            .trim()
            .to_owned();
        let store = WalletStore::open(
            &folder.join("wallet.db").display().to_string(),
            UsePolicy::PerRelyingParty,
        )
        .await
        .map_err(Refused::internal)?;
        let wallet = Arc::new(Wallet {
            instance,
            keystore: Arc::new(Mutex::new(keystore)),
            store,
        });
        wallets.insert(id.to_owned(), wallet.clone());
        Ok(wallet)
    }

    /// Unlocks the wallet's keystore with the PIN (on a blocking thread: the PIN's key
    /// derivation is deliberately slow): the keystore, held for this one operation, and the
    /// proof of the PIN.
    async fn open_keys(
        wallet: &Arc<Wallet>,
        pin: &str,
    ) -> Result<(OwnedMutexGuard<SoftwareKeystore>, Unlocked), Refused> {
        let mut keystore = wallet.keystore.clone().lock_owned().await;
        let pin = pin.to_owned();
        let _slot = KEY_DERIVATIONS
            .acquire()
            .await
            .map_err(|_| Refused::internal("key derivation slots closed"))?;
        let (keystore, unlocked) = tokio::task::spawn_blocking(move || {
            let unlocked = keystore.unlock(&pin);
            (keystore, unlocked)
        })
        .await
        .map_err(Refused::internal)?;
        let unlocked = unlocked.map_err(|e| match e {
            KeystoreError::WrongPin { .. } | KeystoreError::Locked => {
                Refused::new(403, "wrong_pin", e.to_string())
            }
            e => Refused::internal(e),
        })?;
        Ok((keystore, unlocked))
    }

    /// Unlocks the wallet's keystore with the PIN and runs `f` with it.
    async fn unlocked<T: Send + 'static>(
        wallet: &Arc<Wallet>,
        pin: &str,
        f: impl FnOnce(&mut SoftwareKeystore, &Unlocked) -> Result<T, Refused> + Send + 'static,
    ) -> Result<T, Refused> {
        let (mut keystore, unlocked) = Self::open_keys(wallet, pin).await?;
        f(&mut keystore, &unlocked)
    }

    /// Runs `f` with the signer of the key `key_id`, unlocked with the PIN.
    async fn with_key<T: Send + 'static>(
        wallet: &Arc<Wallet>,
        pin: &str,
        key_id: String,
        f: impl FnOnce(&dyn eid_crypto::Signer) -> Result<T, Refused> + Send + 'static,
    ) -> Result<T, Refused> {
        Self::unlocked(wallet, pin, move |keystore, unlocked| {
            let signer = keystore
                .signer(unlocked, &key_id)
                .map_err(Refused::internal)?;
            f(&signer)
        })
        .await
    }

    /// The authority of the holder with `id_number`: the one of the prefecture its region
    /// code (its first six digits) names. The rest of the number is the authority's to
    /// check, so that a malformed one is refused, audited and counted there.
    fn authority_for(&self, id_number: &str) -> Result<String, Refused> {
        let region = id_number
            .trim()
            .get(..6)
            .and_then(|code| eid_core::region::RegionCode::parse(code).ok())
            .ok_or_else(|| bad("an identity number begins with its six-digit region code"))?;
        let prefecture = region.prefecture_digits();
        self.authorities
            .iter()
            .find(|(served, _)| *served == prefecture)
            .map(|(_, url)| url.clone())
            .ok_or_else(|| {
                bad(format!("no authority of this platform serves region {prefecture:04} (its authorities serve 4501 Nanning and 3301 Hangzhou)"))
            })
    }

    /// This provider attesting the keys of `wallet`.
    fn attester<'a>(&'a self, wallet: &'a Wallet) -> ProviderAttester<'a> {
        ProviderAttester {
            key: &self.attestation_key,
            provider: self.plan.id,
            instance: &wallet.instance,
        }
    }

    /// Runs one of the holder's flows (`eid_wallet::holder`) on `wallet`, its keystore
    /// opened with the PIN: a fresh key for every credential instance, this provider
    /// attesting them.
    async fn with_holder<T>(
        &self,
        wallet: &Arc<Wallet>,
        pin: &str,
        flow: impl AsyncFnOnce(
            &Holder,
            &mut UnlockedKeys<'_>,
            &ProviderAttester<'_>,
        ) -> Result<T, HolderError>,
    ) -> Result<T, Refused> {
        let (mut keystore, unlocked) = Self::open_keys(wallet, pin).await?;
        let mut keys = UnlockedKeys::new(&mut *keystore, unlocked, DEVICE_KEY, Some(&*self.random));
        // A fresh key for every instance, and the choice of whose to show: the hosted wallet
        // holds what its holder holds for others too.
        let holder = Holder::new(wallet.store.clone()).holding_for_others();
        flow(&holder, &mut keys, &self.attester(wallet))
            .await
            .map_err(holder_refusal)
    }

    /// The card as the wallet shows it: the mdoc's attributes (the portrait as base64) and
    /// what the wallet holds.
    pub async fn card(&self, id: &str) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let listed = wallet.store.list().await.map_err(Refused::internal)?;
        let now = self.clock.now();
        let attributes = card_attributes(&wallet, Whose::Mine).await?;
        // What the holder holds for others: each holding with its card.
        let mut holdings = Vec::new();
        for holding in wallet.store.holdings().await.map_err(Refused::internal)? {
            let whose = Whose::Held(holding.id);
            let attributes = card_attributes(&wallet, whose).await?;
            let live = wallet
                .store
                .holds(whose, "mso_mdoc", now)
                .await
                .map_err(Refused::internal)?;
            holdings.push(json!({
                "id": holding.id,
                "relationship": holding.relationship,
                "received_at": holding.received_at,
                "live": live,
                "attributes": attributes,
            }));
        }
        Ok(json!({
            "provider": self.plan.id,
            "instance": wallet.instance,
            "enrolled": !attributes.is_empty(),
            "attributes": attributes,
            "holdings": holdings,
            "credentials": listed,
            "needs_refresh": wallet.store.needs_refresh("mso_mdoc", None, now, Duration::days(30), 1).await.map_err(Refused::internal)?,
            "backup": self.backup_state(&wallet).await?,
        }))
    }

    /// The presentation history.
    pub async fn history(&self, id: &str) -> Result<Vec<Presentation>, Refused> {
        let wallet = self.wallet(id).await?;
        wallet.store.history().await.map_err(Refused::internal)
    }

    /// Whose credential `held_for` names: the holder's own without it, else the holding
    /// with that id, which must exist.
    async fn whose(&self, wallet: &Wallet, held_for: Option<i64>) -> Result<Whose, Refused> {
        let Some(id) = held_for else {
            return Ok(Whose::Mine);
        };
        let holdings = wallet.store.holdings().await.map_err(Refused::internal)?;
        if holdings.iter().any(|h| h.id == id) {
            Ok(Whose::Held(id))
        } else {
            Err(Refused::new(
                404,
                "no_such_holding",
                format!("this wallet holds nothing for anyone as holding {id}"),
            ))
        }
    }

    async fn pick_mdoc(
        &self,
        wallet: &Wallet,
        whose: Whose,
        relying_party: &str,
    ) -> Result<eid_wallet::store::Instance, Refused> {
        wallet
            .store
            .pick(whose, "mso_mdoc", None, relying_party, self.clock.now())
            .await
            .map_err(Refused::internal)?
            .ok_or_else(|| holder_refusal(HolderError::none_to_show(whose)))
    }

    fn trust(&self) -> Result<VerifiedTrustList, Refused> {
        Ok(self
            .trust
            .read()
            .map_err(|_| Refused::internal("trust lock"))?
            .clone())
    }
}

/// The attributes of the newest live mdoc of `whose` in `wallet` (the portrait as base64);
/// none when it holds none.
async fn card_attributes(
    wallet: &Wallet,
    whose: Whose,
) -> Result<serde_json::Map<String, Value>, Refused> {
    let mdoc = wallet
        .store
        .newest(whose, "mso_mdoc")
        .await
        .map_err(Refused::internal)?;
    let mut attributes = serde_json::Map::new();
    if let Some(bytes) = mdoc {
        let signed = eid_mdoc::IssuerSigned::from_cbor(&bytes).map_err(Refused::internal)?;
        for (_, items) in &signed.name_spaces {
            for item in items {
                let value =
                    eid_mdoc::model::element_to_json(&item.element_value).unwrap_or(Value::Null);
                attributes.insert(item.element_identifier.clone(), value);
            }
        }
    }
    Ok(attributes)
}

async fn record(
    wallet: &Wallet,
    channel: &str,
    consent: &ConsentRequest,
    (instance, held_for): (i64, Option<String>),
    now: OffsetDateTime,
) -> Result<(), Refused> {
    wallet
        .store
        .record(
            &Presentation {
                at: now.unix_timestamp(),
                channel: channel.into(),
                relying_party: Some(consent.relying_party.clone()),
                relying_party_name: Some(consent.relying_party_name.clone()),
                purpose: consent.purpose.as_str().into(),
                attributes: consent.attributes.clone(),
                held_for,
            },
            Some(instance),
        )
        .await
        .map_err(Refused::internal)
}

/// The provider's attestation of keys of the wallet `instance` (an hour).
struct ProviderAttester<'a> {
    key: &'a SigningKey,
    provider: &'a str,
    instance: &'a str,
}

impl Attester for ProviderAttester<'_> {
    fn attest(&self, keys: &[VerifyingKey], now: OffsetDateTime) -> Result<String, HolderError> {
        KeyAttestation {
            provider: self.provider,
            wallet_instance: self.instance,
            keys,
            key_storage: &["iso_18045_moderate"],
            user_authentication: &["iso_18045_moderate"],
            issued_at: now,
            expires_at: now + Duration::hours(1),
        }
        .sign(self.key)
        .map_err(|e| HolderError::Attestation(e.to_string()))
    }
}

/// A holder's flow that did not complete, as the hosted wallet's answer: the authority's
/// refusal with its code, another service unreachable, or an internal failure (logged).
fn holder_refusal(e: HolderError) -> Refused {
    match e {
        HolderError::Offer(e) => bad(e.to_string()),
        HolderError::Invalid(e) => bad(e),
        HolderError::Request(refused) => Refused::new(422, "request_refused", refused.to_string()),
        e @ HolderError::UnknownIssuer => bad(e.to_string()),
        HolderError::Refused {
            status,
            code,
            description,
        } => Refused::new(
            if status == 429 { 429 } else { 422 },
            "authority_refused",
            format!("the authority refused ({code}): {description}"),
        ),
        HolderError::Unreachable { what, source } => unreachable_service(what, source),
        HolderError::Upstream(e) => Refused::new(502, "upstream", e),
        e @ HolderError::NotEnrolled => Refused::new(409, "not_enrolled", e.to_string()),
        e @ HolderError::NoCredential(_) => Refused::new(409, "no_credential", e.to_string()),
        e @ HolderError::DelegationNotAccepted => {
            Refused::new(409, "delegation_not_accepted", e.to_string())
        }
        e => Refused::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_idle_wallet_is_closed_when_full() {
        let mut open = OpenWallets::new(2);
        open.insert("a".into(), Arc::new(1));
        open.insert("b".into(), Arc::new(2));
        // "a" used since: "b" is the one closed for "c".
        assert_eq!(open.get("a").as_deref(), Some(&1));
        open.insert("c".into(), Arc::new(3));
        assert_eq!(open.open.len(), 2);
        assert!(open.get("b").is_none());
        assert_eq!(open.get("a").as_deref(), Some(&1));
        assert_eq!(open.get("c").as_deref(), Some(&3));
    }

    #[test]
    fn a_wallet_in_use_is_not_closed() {
        let mut open = OpenWallets::new(1);
        open.insert("a".into(), Arc::new(1));
        let in_use = open.get("a");
        open.insert("b".into(), Arc::new(2));
        // Both held for now: "a" is in use.
        assert_eq!(open.open.len(), 2);
        drop(in_use);
        // Idle again: both held ones are closed to get back to the bound.
        open.insert("c".into(), Arc::new(3));
        assert!(open.get("a").is_none());
        assert!(open.get("b").is_none());
        assert_eq!(open.open.len(), 1);
    }
}
