//! What the service holds: its configuration, the verifier, the open requests, and the
//! places that bound the work done at once.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use eid_core::{Clock, Random};
use eid_crypto::{Signer, VerifyingKey};
use time::Duration;

use super::error::ApiError;
use crate::report::Report;
use crate::sessions::{LocalSessions, SessionError, SessionStore};
use crate::{Channel, Verifier};

/// How the service runs.
pub struct ServiceConfig {
    /// Its external base URL (`http://host:port`): request and response URIs hang off it.
    pub public_url: String,
    /// The national root keys new trust lists must be signed with.
    pub trust_roots: Vec<VerifyingKey>,
    /// Status lists to keep fresh, by URI.
    pub status_lists: Vec<String>,
    /// Authorities whose every status list shard is kept fresh: each a base such as
    /// `https://authority/status/`, followed as `…/0`, `…/1`, … up to the first shard not
    /// published. An authority opens a shard (empty) before it allocates into it, so the
    /// shards a credential can point to are held before it is shown.
    pub status_shards: Vec<String>,
    /// The authorities' event streams (`…/events`) to follow, one per pushing authority.
    pub events: Vec<String>,
    /// The relying party's request-signing (and reader) key and registered certificate
    /// (DER): needed for in person and online, not for the offline QR.
    pub identity: Option<(Arc<dyn Signer>, Vec<u8>)>,
    /// How long an online request may be answered.
    pub request_lifetime: Duration,
    /// The face model that compares the person at the desk with the credential's portrait
    /// (`eid verifier serve --face-models`); without one, no face is compared, and a purpose
    /// that requires a match refuses with `face_not_checked`.
    pub face: Option<Arc<dyn eid_face::CompareFaces>>,
}

/// Face comparisons at once (each holds a blocking thread and the model's lock for a few
/// hundred milliseconds); beyond them a check waits up to [`super::face::FACE_WAIT`], then
/// the faces are not compared, and the report says so.
const FACE_COMPARISONS: usize = 2;

/// Face templates made at once for online requests being made: their own places, so that
/// anyone making requests cannot take the places of the checks.
const FACE_TEMPLATES: usize = 1;

/// In-person exchanges at once (each holds a socket and up to 1 MiB for up to two minutes
/// while a holder decides); more are refused with 503 at once.
const EXCHANGES: usize = 512;

/// The service's state.
pub struct Service {
    pub(super) verifier: Arc<RwLock<Verifier>>,
    pub(super) config: ServiceConfig,
    pub(super) sessions: Box<dyn SessionStore>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) random: Arc<dyn Random>,
    /// Wakes the list fetcher at once: a presentation named a list not held.
    pub(super) wanted: tokio::sync::Notify,
    /// Requests by route, method and status, with their latency (`GET /metrics`).
    pub(super) http: Arc<eid_serve::metrics::HttpMetrics>,
    /// Verifications by channel and outcome: `accepted`, or the first reason's code.
    pub(super) outcomes: eid_serve::metrics::Counters,
    /// Places for face comparisons ([`FACE_COMPARISONS`]).
    pub(super) faces: Arc<tokio::sync::Semaphore>,
    /// Places for the templates of online requests' photographs ([`FACE_TEMPLATES`]).
    pub(super) face_templates: Arc<tokio::sync::Semaphore>,
    /// Places for in-person exchanges ([`EXCHANGES`]).
    pub(super) exchanges: tokio::sync::Semaphore,
    /// Digital Credentials API requests being made (see `dc::DC_MAKING`).
    pub(super) dc_making: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("public_url", &self.config.public_url)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service around `verifier`, keeping its online requests in itself.
    pub fn new(
        verifier: Verifier,
        config: ServiceConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Arc<Self> {
        Self::with_sessions(
            verifier,
            config,
            Box::new(LocalSessions::default()),
            clock,
            random,
        )
    }

    /// A service around `verifier`, keeping its online requests in `sessions` (Redis, for
    /// replicas behind one address).
    pub fn with_sessions(
        verifier: Verifier,
        config: ServiceConfig,
        sessions: Box<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Arc<Self> {
        Arc::new(Self {
            verifier: Arc::new(RwLock::new(verifier)),
            config,
            sessions,
            clock,
            random,
            wanted: tokio::sync::Notify::new(),
            http: eid_serve::metrics::HttpMetrics::new(),
            outcomes: eid_serve::metrics::Counters::new(
                "eid_verifications_total",
                "Verifications, by channel and outcome (accepted, or the first reason's code).",
                &["channel", "outcome"],
            ),
            faces: Arc::new(tokio::sync::Semaphore::new(FACE_COMPARISONS)),
            face_templates: Arc::new(tokio::sync::Semaphore::new(FACE_TEMPLATES)),
            exchanges: tokio::sync::Semaphore::new(EXCHANGES),
            dc_making: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The verifier, shared with the push follower.
    pub fn verifier(&self) -> &Arc<RwLock<Verifier>> {
        &self.verifier
    }

    /// The verifier to read, or a 500 when a panic poisoned its lock.
    pub(super) fn read(&self) -> Result<RwLockReadGuard<'_, Verifier>, ApiError> {
        self.verifier.read().map_err(|_| ApiError::poisoned())
    }

    /// A secret of 24 random bytes, base64url: a requester's handle on its request.
    pub(super) fn handle(&self) -> Result<String, ApiError> {
        let mut secret = [0u8; 24];
        self.random
            .fill(&mut secret)
            .map_err(|_| ApiError::Internal("the random source failed"))?;
        Ok(eid_crypto::b64url(&secret))
    }

    /// Counts a report by channel and outcome; a refused report whose status could not be
    /// determined wakes the list fetcher, so a shard opened since the last walk is held for
    /// the holder's next try.
    pub(super) fn notice(&self, report: &Report) {
        let channel = match report.channel {
            Channel::InPerson => "in_person",
            Channel::OfflineQr => "offline_qr",
            Channel::Online => "online",
        };
        let outcome = match report.reasons.first() {
            _ if report.accepted => "accepted",
            Some(reason) => reason.reason.as_str(),
            None => "refused",
        };
        self.outcomes.add(&[channel, outcome]);
        if report
            .reasons
            .iter()
            .any(|r| r.reason == "status_undetermined")
        {
            self.wanted.notify_one();
        }
    }

    /// Runs `work` on the open requests: off the async workers where the store may wait on
    /// the network (Redis), in place where it is in memory.
    pub(super) async fn in_store<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&dyn SessionStore) -> Result<T, SessionError> + Send + 'static,
    ) -> Result<T, ApiError> {
        if !self.sessions.may_block() {
            return Ok(work(self.sessions.as_ref())?);
        }
        let service = self.clone();
        match tokio::task::spawn_blocking(move || work(service.sessions.as_ref())).await {
            Ok(done) => Ok(done?),
            Err(_) => Err(ApiError::Internal(
                "a call to the store of requests panicked",
            )),
        }
    }
}
