//! The issuing authority as a service: the police bureau that checks who you are and puts
//! your card on your phone.
//!
//! - [`credential`]: the resident credential's attributes in both formats;
//! - [`Authority`]: the state (store, document signers over time — [`signers`], each key
//!   behind `eid_crypto::Signer` — trust list, clock, randomness, the event channel) and
//!   everything the endpoints do;
//! - [`public_router`]: OpenID4VCI 1.0 (metadata, token, nonce, credential), status lists
//!   (JWT or CWT by `Accept`), pushed status changes (Server-Sent Events), remote enrolment
//!   (with [`proofing`]: the face against the registry portrait, the card front by OCR);
//! - [`admin_router`]: counter enrolment, lifecycle (suspend, reinstate, revoke, re-bind)
//!   by credential, wallet instance or resident, registry life events, the audit log —
//!   behind a bearer token, on its own listener;
//! - [`config`]: the configuration file and its environment overrides;
//! - [`nats`]: events to NATS JetStream as well, when configured.
//!
//! Personal data stays in the store: logs, errors, events and the audit log carry
//! credential ids, wallet instances and keyed pseudonyms of identity numbers.

mod admin;
pub mod config;
pub mod credential;
pub mod delegation;
mod enrolment;
mod error;
pub mod events;
mod http;
mod issuance;
mod metadata;
pub mod nats;
pub mod outbox;
pub mod paper;
pub mod proofing;
mod pseudonyms;
pub mod signers;
mod status;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use eid_core::{Clock, Random};
use eid_crypto::{b64url, session::hmac_sha256, sha256};
use eid_store::{AuditEntry, Store};
use eid_trust::VerifiedTrustList;
use time::Duration;
use tokio::sync::broadcast;

pub use error::ApiError;
pub use events::Event;
pub use http::{admin_router, public_router};
pub use signers::{DocumentSigner, DocumentSigners, SignerError};
pub use status::{MAX_EVENT_STREAMS, SignedList};

/// The OpenAPI 3.1 description of both listeners.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What the authority's behaviour depends on (see [`config::AuthorityConfig`] for the file).
#[derive(Clone)]
pub struct Settings {
    /// The Credential Issuer Identifier: the public listener's external base URL.
    pub issuer_url: String,
    /// The issuer's display name.
    pub issuer_name: String,
    /// Credentials per batch request, at most.
    pub batch_size: u32,
    /// How long a credential is valid.
    pub credential_validity: Duration,
    /// How long an offer can be redeemed.
    pub offer_ttl: Duration,
    /// How long an access token lives.
    pub token_ttl: Duration,
    /// How long a c_nonce lives.
    pub nonce_ttl: Duration,
    /// How old a key proof may be.
    pub max_proof_age: Duration,
    /// The key storage levels a wallet provider's attestation must state (any of them).
    pub key_storage: Vec<String>,
    /// Entries per status list shard (herd privacy: at least 2^17).
    pub shard_size: u64,
    /// The lists' `ttl`.
    pub status_ttl: Duration,
    /// The lists' validity (`exp - iat`).
    pub status_validity: Duration,
    /// Digits of the transaction code of an offer.
    pub tx_code_length: u32,
    /// Wrong transaction codes before an offer is void.
    pub max_tx_failures: i64,
    /// Failed proofing attempts per resident or wallet in an hour before refusing more.
    pub max_proofing_failures_per_hour: u64,
    /// The admin API's bearer token.
    pub admin_token: String,
    /// The key of the pseudonyms written to the audit log and rate-limit table.
    pub pseudonym_key: [u8; 32],
    /// The secret that resolving a relying party's pseudonym needs besides the admin token
    /// (`X-Eid-Resolution-Token`): none, and no pseudonym is resolved here.
    pub resolution_token: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("issuer_url", &self.issuer_url)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Defaults for `issuer_url`: batches of 3, credentials for a year, offers for 10
    /// minutes, lists of 2^17 entries with a 5-minute `ttl` valid a day, 6-digit
    /// transaction codes, 5 wrong ones, 5 failed proofings an hour.
    pub fn new(issuer_url: &str, admin_token: &str, pseudonym_key: [u8; 32]) -> Self {
        Self {
            issuer_url: issuer_url.trim_end_matches('/').to_owned(),
            issuer_name: "eid issuing authority".into(),
            batch_size: 3,
            credential_validity: Duration::days(365),
            offer_ttl: Duration::minutes(10),
            token_ttl: Duration::minutes(5),
            nonce_ttl: Duration::minutes(5),
            max_proof_age: Duration::minutes(5),
            key_storage: vec!["iso_18045_high".into(), "iso_18045_moderate".into()],
            shard_size: 1 << 17,
            status_ttl: Duration::minutes(5),
            status_validity: Duration::days(1),
            tx_code_length: 6,
            max_tx_failures: 5,
            max_proofing_failures_per_hour: 5,
            admin_token: admin_token.to_owned(),
            pseudonym_key,
            resolution_token: None,
        }
    }
}

/// A signed status list kept until the shard changes or it ages.
/// The authority: shared by every request of both listeners.
pub struct Authority {
    settings: Settings,
    store: Store,
    signers: DocumentSigners,
    trust: RwLock<VerifiedTrustList>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    events: broadcast::Sender<Event>,
    lists: Mutex<HashMap<(u64, bool), Arc<SignedList>>>,
    /// NATS JetStream, when events go there (else to this process's readers only).
    nats: Option<config::NatsConfig>,
    /// The outbox relay's state ([`outbox`]).
    relay: Arc<outbox::RelayState>,
    /// Credential requests by outcome (`issued`, or the error code answered).
    issuance_outcomes: eid_serve::metrics::Counters,
    /// Outbox rows published to JetStream, by what JetStream made of them.
    relayed: eid_serve::metrics::Counters,
    remote: Option<Arc<proofing::RemoteProofing>>,
    /// Face matches running at once, at most.
    proofing_slots: tokio::sync::Semaphore,
    /// Requests of both listeners by route, method and status (`GET /metrics`).
    http: Arc<eid_serve::metrics::HttpMetrics>,
    /// Status-list entries changed, by action (`suspend`, `reinstate`, `revoke`).
    changes: eid_serve::metrics::Counters,
    /// Status lists signed by this replica, by form (`jwt`, `cwt`).
    lists_signed: eid_serve::metrics::Counters,
    /// Slots of the event streams open at once ([`MAX_EVENT_STREAMS`]).
    streams: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// An authority issuing with `signers` (each from its certificate's first day; its DS
    /// certificate chain goes in every credential and status list it signs), and trusting
    /// the wallet providers of `trust`.
    pub fn new(
        settings: Settings,
        store: Store,
        signers: DocumentSigners,
        trust: VerifiedTrustList,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Self {
        let (events, _) = broadcast::channel(4096);
        Self {
            settings,
            store,
            signers,
            trust: RwLock::new(trust),
            clock,
            random,
            events,
            lists: Mutex::new(HashMap::new()),
            nats: None,
            relay: Arc::default(),
            issuance_outcomes: eid_serve::metrics::Counters::new(
                "eid_issuance_total",
                "Credential requests by outcome: issued, or the error code answered.",
                &["outcome"],
            ),
            relayed: eid_serve::metrics::Counters::new(
                "eid_outbox_published_total",
                "Outbox rows published to JetStream, by result (stored, or a duplicate JetStream dropped).",
                &["result"],
            ),
            remote: None,
            proofing_slots: tokio::sync::Semaphore::new(2),
            http: eid_serve::metrics::HttpMetrics::new(),
            changes: eid_serve::metrics::Counters::new(
                "eid_status_changes_total",
                "Status-list entries changed, by action.",
                &["action"],
            ),
            lists_signed: eid_serve::metrics::Counters::new(
                "eid_status_lists_signed_total",
                "Status lists signed by this replica (after a change, half their validity, or a signer hand-over), by form.",
                &["form"],
            ),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_EVENT_STREAMS)),
        }
    }

    /// Enables remote enrolment with `proofing` (face matching, and OCR when configured).
    /// (One set of loaded models may serve several authorities: pass an `Arc`.)
    pub fn with_remote_proofing(
        mut self,
        proofing: impl Into<Arc<proofing::RemoteProofing>>,
    ) -> Self {
        self.remote = Some(proofing.into());
        self
    }

    /// Publishes the outbox's events to NATS JetStream, and follows the stream for the
    /// readers of `GET /events` (see [`outbox`]).
    pub fn with_nats(mut self, nats: config::NatsConfig) -> Self {
        self.nats = Some(nats);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Subscribes to the events (status changes, wallet notices).
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The trust list it holds.
    pub fn trust_list(&self) -> VerifiedTrustList {
        match self.trust.read() {
            Ok(trust) => trust.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the trust list by a newer verified one (the caller checked the version).
    pub fn set_trust_list(&self, trust: VerifiedTrustList) {
        if let Ok(mut current) = self.trust.write() {
            *current = trust;
        }
    }

    /// The status list URI of shard `n`.
    pub fn status_uri(&self, shard: u64) -> String {
        format!("{}/status/{shard}", self.settings.issuer_url)
    }

    /// `n` random bytes as base64url (codes, tokens, nonces, ids).
    fn secret(&self, n: usize) -> Result<String, ApiError> {
        let mut bytes = vec![0u8; n];
        self.random
            .fill(&mut bytes)
            .map_err(|_| ApiError::Internal("the random source failed".into()))?;
        Ok(b64url(&bytes))
    }

    /// A secret like [`Authority::secret`] whose key in the store — its hash when `hashed`,
    /// else itself — routes to the same store partition as `with` (codes and tokens live
    /// beside their resident: see `eid_store::routing`). One draw with one partition;
    /// about as many as there are partitions otherwise.
    fn secret_routed(&self, n: usize, with: &str, hashed: bool) -> Result<String, ApiError> {
        let target = self.store.partition_of(with);
        for _ in 0..4096 {
            let secret = self.secret(n)?;
            let key = if hashed {
                hash_secret(&secret)
            } else {
                secret.clone()
            };
            if self.store.partition_of(&key) == target {
                return Ok(secret);
            }
        }
        Err(ApiError::Internal(
            "no secret routed to the resident's partition".into(),
        ))
    }

    /// The document signer to issue with and sign status lists with at `now`; 503 when no
    /// certificate of the authority is valid (every one ended, or the next not begun).
    fn document_signer(&self, now: time::OffsetDateTime) -> Result<&DocumentSigner, ApiError> {
        self.signers.at(now).ok_or_else(|| {
            ApiError::Unavailable(
                "no document signer of this authority is valid now: configure a successor".into(),
            )
        })
    }

    /// What verifiers under the authority's trust list would refuse of its document
    /// signers ([`DocumentSigners::refused_by`]), each with its certificate's first day.
    pub fn signers_refused(&self) -> Vec<(time::OffsetDateTime, String)> {
        let now = self.clock.now();
        match self.trust.read() {
            Ok(trust) => self.signers.refused_by(&trust, now),
            Err(_) => vec![(now, "the trust list lock is poisoned".to_owned())],
        }
    }

    /// A keyed pseudonym of an identity number for the audit log and rate limits: stable
    /// under one key, meaningless without it (a plain hash of an 18-digit number with a
    /// checksum could be reversed by enumeration). It is keyed on the number as its rules
    /// write it (`…x` and `…X` are one resident) when its structure holds, else on the text
    /// as the request gave it, so that refused attempts with a malformed number count too.
    fn pseudonym(&self, id_number: &str) -> String {
        let normal = eid_core::ResidentIdNumber::parse_structure(id_number.trim());
        let key = normal.as_ref().map_or(id_number, |n| n.expose());
        let tag = hmac_sha256(&self.settings.pseudonym_key, key.as_bytes());
        format!("resident:{}", &b64url(&tag)[..16])
    }

    /// The resident's history secret (S_a of `eid_wallet::backup`): a keyed hash of her
    /// number under a key derived from the pseudonym key for this use alone, so it is the
    /// same from every replica and for every wallet of hers. Released only to a wallet just
    /// proofed by face; it opens nothing without the holder's recovery code and the backup
    /// the provider keeps.
    fn history_secret(&self, number: &eid_core::ResidentIdNumber) -> String {
        let key = hmac_sha256(&self.settings.pseudonym_key, b"eid history secret v1");
        b64url(&hmac_sha256(&key, number.expose().as_bytes()))
    }

    async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<(), ApiError> {
        self.store
            .audit(&AuditEntry {
                at: self.clock.now().unix_timestamp(),
                actor: actor.into(),
                action: action.into(),
                subject: subject.into(),
                outcome: outcome.into(),
                detail: detail.into(),
            })
            .await?;
        Ok(())
    }

    /// Something was written to the outbox: the relay should look now.
    fn outbox_written(&self) {
        self.relay.wake.notify_one();
    }
}

/// Hashes a bearer secret for storage.
fn hash_secret(secret: &str) -> String {
    b64url(&sha256(secret.as_bytes()))
}
