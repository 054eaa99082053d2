//! The online requests a desk has open (OpenID4VP), kept where every replica of the desk's
//! verifier service finds them.
//!
//! A bank's website starts a request at one replica; the phone fetches the request object
//! and posts its answer through the load balancer, to any replica; the website polls the
//! outcome, again at any. One process keeps its requests in itself ([`LocalSessions`], the
//! default); replicas share them in Redis ([`RedisSessions`]).
//!
//! In Redis each request is one value, sealed (AES-256-GCM under a key the replicas share,
//! `EID_VERIFIER_SESSION_KEY`): it holds the request's private decryption key and, once
//! answered, the disclosed attributes, which are nobody's to read in Redis. It lives as long
//! as the request plus ten minutes to collect the outcome. An answer is checked under a
//! lock (`SET … NX EX`), so two answers to one request, at two replicas, are taken one after
//! the other, and the count of answers a request takes holds across replicas.
//!
//! The Digital Credentials API's requests wait beside them (`d:<SHA-256 of the handle>`,
//! sealed the same way, for the request's lifetime): the page makes one at a replica and
//! passes the wallet's answer back through the load balancer, to any. One answer per request:
//! the replica that takes it removes it.
//!
//! A store that cannot answer makes the route answer 503 `unavailable`: nothing is accepted
//! that was not checked.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use eid_core::Random;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::dc_api::{MdocDcApiRequest, StoredMdocDcApiRequest};
use crate::openid4vp::{OnlineSession, StoredSession};
use crate::redis_pool::{DELETE_IF_VALUE, RedisPool};

/// Online requests one process holds at once, at most (each a few kilobytes and a key).
const MAX_LOCAL: usize = 10_000;

/// Digital Credentials API requests one process holds waiting for their answer at once
/// (each an HPKE key, two request keys and, with a photograph, a face template).
const MAX_LOCAL_DC: usize = 4096;

/// Digital Credentials API requests one relying party's replicas hold waiting in Redis at
/// once (each a few kilobytes, sealed): Redis also holds the replay memory and the online
/// requests, which a flood of these must not crowd out.
const MAX_SHARED_DC: usize = 65_536;

/// How long an outcome can be collected after its request expired.
const COLLECT_FOR: Duration = Duration::minutes(10);

/// How long an answer's check may hold its request (a check takes milliseconds; a replica
/// killed while checking frees the request after this).
const LOCK_SECONDS: u64 = 30;

/// How long a second answer waits for the first one's check, in tries 100 ms apart.
const LOCK_TRIES: u32 = 10;

/// Writes a request back only while this replica still holds its lock, then releases it:
/// a replica whose check outlived the lock never overwrites what another wrote since.
const PUT_BACK_IF_LOCKED: &str = "if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1], 'XX', 'KEEPTTL'); redis.call('DEL', KEYS[2]); return 1 else return 0 end";

/// One open request.
pub struct Online {
    pub(crate) session: OnlineSession,
    pub(crate) request_object: String,
    /// The secret the requester polls the outcome with (the request's id is public: it is
    /// in the invocation and the answer's `kid`).
    pub(crate) handle: String,
    /// Whether an answer was accepted (which closes the request).
    pub(crate) accepted: bool,
    /// The latest answer's report (JSON); final once accepted.
    pub(crate) report: Option<Value>,
    /// Answers received.
    pub(crate) answers: u32,
    /// The face template of the person in front of the requester (a bank's customer,
    /// photographed when the request was made), compared with the disclosed portrait when the
    /// answer comes: 129 bytes, never the photograph.
    pub(crate) face: Option<Vec<u8>>,
    /// Whether that person passed the head-turn challenge when photographed (the request
    /// was refused if they were asked to turn and did not).
    pub(crate) face_live: bool,
    /// The value of the lock this replica holds on it while checking an answer.
    lock: Option<String>,
}

impl Online {
    /// A request just made, not answered.
    pub(crate) fn new(
        session: OnlineSession,
        request_object: String,
        handle: String,
        face: Option<Vec<u8>>,
    ) -> Self {
        Self {
            session,
            request_object,
            handle,
            accepted: false,
            report: None,
            answers: 0,
            face,
            face_live: false,
            lock: None,
        }
    }
}

/// One Digital Credentials API request waiting for its answer: the page offers the wallet
/// each protocol, and the wallet answers in one.
pub struct DcPending {
    /// `org-iso-mdoc`.
    pub(crate) mdoc: MdocDcApiRequest,
    /// `openid4vp-v1-signed`.
    pub(crate) signed: OnlineSession,
    /// `openid4vp-v1-unsigned`, offered when the relying party's registration lists the
    /// page's origin (a wallet knows who asks by nothing else).
    pub(crate) unsigned: Option<OnlineSession>,
    /// Until when it may be answered.
    pub(crate) expires: OffsetDateTime,
    /// The customer's face template, when a photograph came with the request, and whether
    /// they passed a head turn then.
    pub(crate) face: Option<Vec<u8>>,
    pub(crate) face_live: bool,
}

/// What taking a Digital Credentials API request for its answer found.
pub enum DcTaken {
    /// No such request waiting: answered already, expired, or never made.
    Missing,
    /// The answer is in `openid4vp-v1-unsigned`, which the request did not offer: the page's
    /// mistake, not the holder's answer; the request stays waiting.
    NotOffered,
    /// Taken (and forgotten): check the answer.
    Got(Box<DcPending>),
}

/// Why the store could not do what was asked. It carries no address nor any request's data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// This process holds as many requests as it may.
    #[error("too many open requests; try again in a minute")]
    Full,
    /// The shared store did not answer, or what it holds could not be opened.
    #[error("the shared store of online requests did not answer ({0})")]
    Unavailable(&'static str),
}

/// What taking a request to check an answer found.
pub enum Taken {
    /// No such request, or it was forgotten.
    Missing,
    /// An answer was accepted already.
    Answered,
    /// It took as many answers as it may.
    NoMoreAnswers,
    /// Another answer to it is being checked (at another replica).
    Busy,
    /// Taken: check the answer, then [`SessionStore::put_back`] it.
    Got(Box<Online>),
}

/// Where a desk keeps its open online requests.
pub trait SessionStore: Send + Sync {
    /// Whether a call may wait on the network (and so runs off the async workers); a store
    /// in memory answers in microseconds, where a hop to another thread would cost more.
    fn may_block(&self) -> bool {
        true
    }

    /// Whether the store answers now (`/ready`): a shared one is asked (PING).
    fn reachable(&self) -> Result<(), SessionError> {
        Ok(())
    }

    /// Keeps a request just made.
    fn open(&self, online: Online, now: OffsetDateTime) -> Result<(), SessionError>;

    /// A request's signed object and until when it may be answered.
    fn request_object(&self, id: &str) -> Result<Option<(String, OffsetDateTime)>, SessionError>;

    /// The id of the request whose `state` this is.
    fn by_state(&self, state: &str) -> Result<Option<String>, SessionError>;

    /// Takes request `id` to check an answer to it, unless it is closed.
    fn take(&self, id: &str, max_answers: u32) -> Result<Taken, SessionError>;

    /// Puts back a request taken, with its answer's outcome.
    fn put_back(&self, online: Online) -> Result<(), SessionError>;

    /// By the requester's secret handle: `Some(None)` while pending, `Some(Some(report))`
    /// once answered.
    fn outcome(&self, handle: &str) -> Result<Option<Option<Value>>, SessionError>;

    /// Whether another Digital Credentials API request may wait, `making` more being made
    /// (asked before the request's keys, signatures and face template are made).
    fn dc_room(&self, making: usize, now: OffsetDateTime) -> Result<bool, SessionError>;

    /// Keeps a Digital Credentials API request under the requester's secret `handle` until it
    /// is answered or expires.
    fn open_dc(
        &self,
        handle: &str,
        pending: DcPending,
        now: OffsetDateTime,
    ) -> Result<(), SessionError>;

    /// Takes the request waiting under `handle` for an answer (in `openid4vp-v1-unsigned`
    /// when `unsigned`): one answer per request, so it is forgotten — unless it did not offer
    /// that protocol.
    fn take_dc(
        &self,
        handle: &str,
        unsigned: bool,
        now: OffsetDateTime,
    ) -> Result<DcTaken, SessionError>;
}

/// The requests of one process.
#[derive(Default)]
pub struct LocalSessions {
    open: Mutex<LocalRequests>,
    /// The Digital Credentials API's, by handle.
    dc: Mutex<HashMap<String, DcPending>>,
}

/// The open requests, by id, with indexes by `state`, by the handle's SHA-256 and by when
/// they expire (so that forgetting the old ones costs what is forgotten, not a pass over
/// all of them).
#[derive(Default)]
struct LocalRequests {
    by_id: HashMap<String, Entry>,
    by_expiry: BTreeSet<(OffsetDateTime, String)>,
    by_state: HashMap<String, String>,
    by_handle: HashMap<[u8; 32], String>,
}

/// One request: what its routes read, always there, and the request itself except while
/// an answer to it is checked.
struct Entry {
    request_object: String,
    expires_at: OffsetDateTime,
    state: String,
    handle: [u8; 32],
    report: Option<Value>,
    /// `None` while an answer is checked.
    resting: Option<Online>,
}

impl LocalSessions {
    fn lock_dc(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, DcPending>>, SessionError> {
        self.dc
            .lock()
            .map_err(|_| SessionError::Unavailable("a check panicked while holding the requests"))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, LocalRequests>, SessionError> {
        self.open
            .lock()
            .map_err(|_| SessionError::Unavailable("a check panicked while holding the requests"))
    }
}

impl SessionStore for LocalSessions {
    fn may_block(&self) -> bool {
        false
    }

    fn open(&self, online: Online, now: OffsetDateTime) -> Result<(), SessionError> {
        let mut open = self.lock()?;
        // Forget requests expired for a while (their outcome was collected or never will be).
        let LocalRequests {
            by_id,
            by_expiry,
            by_state,
            by_handle,
        } = &mut *open;
        while let Some((expires_at, _)) = by_expiry.first() {
            if *expires_at + COLLECT_FOR > now {
                break;
            }
            if let Some((_, id)) = by_expiry.pop_first()
                && let Some(entry) = by_id.remove(&id)
            {
                by_state.remove(&entry.state);
                by_handle.remove(&entry.handle);
            }
        }
        if by_id.len() >= MAX_LOCAL {
            return Err(SessionError::Full);
        }
        let id = online.session.id.clone();
        let handle = eid_crypto::sha256(online.handle.as_bytes());
        by_expiry.insert((online.session.expires_at, id.clone()));
        by_state.insert(online.session.state.clone(), id.clone());
        by_handle.insert(handle, id.clone());
        let replaced = by_id.insert(
            id.clone(),
            Entry {
                request_object: online.request_object.clone(),
                expires_at: online.session.expires_at,
                state: online.session.state.clone(),
                handle,
                report: None,
                resting: Some(online),
            },
        );
        // An id opened again (ids are random: never, but the indexes stay in step).
        if let (Some(old), Some(new)) = (replaced, by_id.get(&id)) {
            if old.expires_at != new.expires_at {
                by_expiry.remove(&(old.expires_at, id.clone()));
            }
            if old.state != new.state {
                by_state.remove(&old.state);
            }
            if old.handle != new.handle {
                by_handle.remove(&old.handle);
            }
        }
        Ok(())
    }

    fn request_object(&self, id: &str) -> Result<Option<(String, OffsetDateTime)>, SessionError> {
        Ok(self
            .lock()?
            .by_id
            .get(id)
            .map(|e| (e.request_object.clone(), e.expires_at)))
    }

    fn by_state(&self, state: &str) -> Result<Option<String>, SessionError> {
        Ok(self.lock()?.by_state.get(state).cloned())
    }

    fn take(&self, id: &str, max_answers: u32) -> Result<Taken, SessionError> {
        let mut open = self.lock()?;
        let Some(entry) = open.by_id.get_mut(id) else {
            return Ok(Taken::Missing);
        };
        Ok(match &entry.resting {
            // Another answer to it is being checked.
            None => Taken::Busy,
            Some(o) if o.accepted => Taken::Answered,
            Some(o) if o.answers >= max_answers => Taken::NoMoreAnswers,
            Some(_) => entry
                .resting
                .take()
                .map_or(Taken::Missing, |o| Taken::Got(Box::new(o))),
        })
    }

    fn put_back(&self, online: Online) -> Result<(), SessionError> {
        let mut open = self.lock()?;
        let entry = open
            .by_id
            .get_mut(&online.session.id)
            .ok_or(SessionError::Unavailable(
                "a request put back was not taken",
            ))?;
        entry.report.clone_from(&online.report);
        entry.resting = Some(online);
        Ok(())
    }

    fn outcome(&self, handle: &str) -> Result<Option<Option<Value>>, SessionError> {
        let open = self.lock()?;
        let digest = eid_crypto::sha256(handle.as_bytes());
        Ok(open
            .by_handle
            .get(&digest)
            .and_then(|id| open.by_id.get(id))
            .map(|e| e.report.clone()))
    }

    fn dc_room(&self, making: usize, now: OffsetDateTime) -> Result<bool, SessionError> {
        let mut waiting = self.lock_dc()?;
        waiting.retain(|_, p| p.expires > now);
        Ok(waiting.len() + making < MAX_LOCAL_DC)
    }

    fn open_dc(
        &self,
        handle: &str,
        pending: DcPending,
        now: OffsetDateTime,
    ) -> Result<(), SessionError> {
        let mut waiting = self.lock_dc()?;
        waiting.retain(|_, p| p.expires > now);
        if waiting.len() >= MAX_LOCAL_DC {
            return Err(SessionError::Full);
        }
        waiting.insert(handle.to_owned(), pending);
        Ok(())
    }

    fn take_dc(
        &self,
        handle: &str,
        unsigned: bool,
        now: OffsetDateTime,
    ) -> Result<DcTaken, SessionError> {
        let mut waiting = self.lock_dc()?;
        match waiting.get(handle) {
            None => return Ok(DcTaken::Missing),
            Some(p) if unsigned && p.unsigned.is_none() => return Ok(DcTaken::NotOffered),
            Some(_) => {}
        }
        Ok(match waiting.remove(handle) {
            Some(p) if p.expires > now => DcTaken::Got(Box::new(p)),
            _ => DcTaken::Missing,
        })
    }
}

/// What a request is in Redis, before sealing.
#[derive(Serialize, Deserialize)]
struct Stored {
    session: StoredSession,
    request_object: String,
    handle: String,
    accepted: bool,
    report: Option<Value>,
    answers: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    face: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    face_live: bool,
}

/// What a Digital Credentials API request is in Redis, before sealing.
#[derive(Serialize, Deserialize)]
struct StoredDc {
    /// The hex SHA-256 of the handle it is kept under: a value moved under another key does
    /// not open as that request.
    handle: String,
    mdoc: StoredMdocDcApiRequest,
    signed: StoredSession,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unsigned: Option<StoredSession>,
    expires: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    face: Option<Vec<u8>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    face_live: bool,
}

/// The requests of every replica of one relying party's desks, in Redis. Keys (under
/// `eid:vp:<relying party>:`): `r:<id>` the sealed request, `s:<state>` and
/// `h:<SHA-256 of the handle>` its id, `l:<id>` the lock of an answer being checked;
/// `d:<SHA-256 of the handle>` a sealed Digital Credentials API request, `dq` those waiting
/// by when they expire (a sorted set: their count is bounded).
pub struct RedisSessions {
    redis: RedisPool,
    prefix: String,
    key: eid_crypto::session::Secret,
    /// This replica, at random, and its calls: the lock values.
    instance: String,
    calls: AtomicU64,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// The store at `url` (`redis://[:password@]host:port/db`; no TLS in this build: keep
    /// Redis on the desks' own network) for `relying_party`, sealing under a key derived from
    /// `key` (the same at every replica) for this relying party alone: one relying party's
    /// values do not open as another's. Nothing is contacted yet.
    pub fn new(url: &str, relying_party: &str, key: [u8; 32]) -> Result<Self, SessionError> {
        let redis = RedisPool::new(url).map_err(SessionError::Unavailable)?;
        let key = eid_crypto::session::hkdf_sha256(
            &key,
            b"eid verifier online requests",
            relying_party.as_bytes(),
        )
        .map_err(|_| SessionError::Unavailable("the sealing key could not be derived"))?;
        let mut instance = [0u8; 8];
        eid_core::OsRandom
            .fill(&mut instance)
            .map_err(|_| SessionError::Unavailable("the random source failed"))?;
        Ok(Self {
            redis,
            prefix: format!("eid:vp:{relying_party}:"),
            key,
            instance: hex::encode(instance),
            calls: AtomicU64::new(0),
        })
    }

    fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, SessionError> {
        self.redis.run(command).map_err(SessionError::Unavailable)
    }

    fn handle_key(&self, handle: &str) -> String {
        format!(
            "{}h:{}",
            self.prefix,
            hex::encode(eid_crypto::sha256(handle.as_bytes()))
        )
    }

    /// `nonce || AES-256-GCM(json)`.
    fn seal(&self, online: &Online) -> Result<Vec<u8>, SessionError> {
        let stored = Stored {
            session: online
                .session
                .to_stored()
                .map_err(|_| SessionError::Unavailable("the request's key could not be kept"))?,
            request_object: online.request_object.clone(),
            handle: online.handle.clone(),
            accepted: online.accepted,
            report: online.report.clone(),
            answers: online.answers,
            face: online.face.clone(),
            face_live: online.face_live,
        };
        self.seal_json(&stored)
    }

    /// `nonce || AES-256-GCM(json of value)`.
    fn seal_json(&self, value: &impl Serialize) -> Result<Vec<u8>, SessionError> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(value)
                .map_err(|_| SessionError::Unavailable("the request could not be written"))?,
        );
        let mut nonce = [0u8; 12];
        eid_core::OsRandom
            .fill(&mut nonce)
            .map_err(|_| SessionError::Unavailable("the random source failed"))?;
        let sealed = eid_crypto::session::aes256gcm_seal(&self.key, nonce, &plain)
            .map_err(|_| SessionError::Unavailable("the request could not be sealed"))?;
        let mut value = nonce.to_vec();
        value.extend_from_slice(&sealed);
        Ok(value)
    }

    /// What [`Self::seal`] sealed for request `id`: a value that does not open under this
    /// key, or holds another request, is refused.
    fn unseal(&self, id: &str, value: &[u8]) -> Result<Online, SessionError> {
        let stored: Stored = self.unseal_json(value)?;
        let session = OnlineSession::from_stored(stored.session)
            .map_err(|_| SessionError::Unavailable("a stored request's key is not usable"))?;
        if session.id != id {
            return Err(SessionError::Unavailable(
                "a stored request is under another id",
            ));
        }
        Ok(Online {
            session,
            request_object: stored.request_object,
            handle: stored.handle,
            accepted: stored.accepted,
            report: stored.report,
            answers: stored.answers,
            face: stored.face,
            face_live: stored.face_live,
            lock: None,
        })
    }

    /// What [`Self::seal_json`] sealed: a value that does not open under this key is refused.
    fn unseal_json<T: serde::de::DeserializeOwned>(&self, value: &[u8]) -> Result<T, SessionError> {
        let unusable = SessionError::Unavailable("a stored request does not open with this key");
        let (nonce, sealed) = value.split_at_checked(12).ok_or(unusable)?;
        let nonce: [u8; 12] = nonce
            .try_into()
            .map_err(|_| SessionError::Unavailable("a stored request is cut short"))?;
        let plain = zeroize::Zeroizing::new(
            eid_crypto::session::aes256gcm_open(&self.key, nonce, sealed).map_err(|_| {
                SessionError::Unavailable("a stored request does not open with this key")
            })?,
        );
        serde_json::from_slice(&plain)
            .map_err(|_| SessionError::Unavailable("a stored request cannot be read"))
    }

    /// The key of the request under `handle`, and the hex digest it is named by.
    fn dc_key(&self, handle: &str) -> (String, String) {
        let digest = hex::encode(eid_crypto::sha256(handle.as_bytes()));
        (format!("{}d:{digest}", self.prefix), digest)
    }

    fn get(&self, id: &str) -> Result<Option<Online>, SessionError> {
        let value: Option<Vec<u8>> =
            self.run(redis::cmd("GET").arg(format!("{}r:{id}", self.prefix)))?;
        value.map(|v| self.unseal(id, &v)).transpose()
    }

    fn unlock(&self, id: &str, value: &str) -> Result<(), SessionError> {
        let _: i64 = self.run(
            redis::cmd("EVAL")
                .arg(DELETE_IF_VALUE)
                .arg(1)
                .arg(format!("{}l:{id}", self.prefix))
                .arg(value),
        )?;
        Ok(())
    }
}

impl SessionStore for RedisSessions {
    fn reachable(&self) -> Result<(), SessionError> {
        self.run::<String>(&redis::cmd("PING")).map(drop)
    }

    fn open(&self, online: Online, now: OffsetDateTime) -> Result<(), SessionError> {
        let lives = (online.session.expires_at - now + COLLECT_FOR)
            .whole_seconds()
            .max(1);
        let id = &online.session.id;
        let mut pipeline = redis::pipe();
        pipeline
            .atomic()
            .cmd("SET")
            .arg(format!("{}r:{id}", self.prefix))
            .arg(self.seal(&online)?)
            .arg("EX")
            .arg(lives)
            .ignore()
            .cmd("SET")
            .arg(format!("{}s:{}", self.prefix, online.session.state))
            .arg(id)
            .arg("EX")
            .arg(lives)
            .ignore()
            .cmd("SET")
            .arg(self.handle_key(&online.handle))
            .arg(id)
            .arg("EX")
            .arg(lives)
            .ignore();
        self.redis
            .run_pipeline(&pipeline)
            .map_err(SessionError::Unavailable)
    }

    fn request_object(&self, id: &str) -> Result<Option<(String, OffsetDateTime)>, SessionError> {
        Ok(self
            .get(id)?
            .map(|o| (o.request_object, o.session.expires_at)))
    }

    fn by_state(&self, state: &str) -> Result<Option<String>, SessionError> {
        self.run(redis::cmd("GET").arg(format!("{}s:{state}", self.prefix)))
    }

    fn take(&self, id: &str, max_answers: u32) -> Result<Taken, SessionError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let lock = format!("{}:{call}", self.instance);
        let mut tries = 0;
        loop {
            let set: Option<String> = self.run(
                redis::cmd("SET")
                    .arg(format!("{}l:{id}", self.prefix))
                    .arg(&lock)
                    .arg("NX")
                    .arg("EX")
                    .arg(LOCK_SECONDS),
            )?;
            if set.is_some() {
                break;
            }
            tries += 1;
            if tries >= LOCK_TRIES {
                return Ok(Taken::Busy);
            }
            // Another answer to it is being checked (milliseconds, as a rule).
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let found = match self.get(id) {
            Ok(Some(online)) if !online.accepted && online.answers < max_answers => {
                return Ok(Taken::Got(Box::new(Online {
                    lock: Some(lock),
                    ..online
                })));
            }
            Ok(Some(online)) if online.accepted => Ok(Taken::Answered),
            Ok(Some(_)) => Ok(Taken::NoMoreAnswers),
            Ok(None) => Ok(Taken::Missing),
            Err(e) => Err(e),
        };
        self.unlock(id, &lock)?;
        found
    }

    fn put_back(&self, online: Online) -> Result<(), SessionError> {
        let id = online.session.id.clone();
        let Some(lock) = &online.lock else {
            return Err(SessionError::Unavailable(
                "a request put back was not taken",
            ));
        };
        // KEEPTTL: the request keeps its lifetime; XX: one that expired meanwhile stays gone.
        let written: i64 = self.run(
            redis::cmd("EVAL")
                .arg(PUT_BACK_IF_LOCKED)
                .arg(2)
                .arg(format!("{}r:{id}", self.prefix))
                .arg(format!("{}l:{id}", self.prefix))
                .arg(self.seal(&online)?)
                .arg(lock),
        )?;
        if written == 1 {
            Ok(())
        } else {
            Err(SessionError::Unavailable(
                "the answer's check outlived its hold on the request; send the answer again",
            ))
        }
    }

    fn outcome(&self, handle: &str) -> Result<Option<Option<Value>>, SessionError> {
        let id: Option<String> = self.run(redis::cmd("GET").arg(self.handle_key(handle)))?;
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(self
            .get(&id)?
            .filter(|o| eid_crypto::secrets_equal(o.handle.as_bytes(), handle.as_bytes()))
            .map(|o| o.report))
    }

    fn open_dc(
        &self,
        handle: &str,
        pending: DcPending,
        now: OffsetDateTime,
    ) -> Result<(), SessionError> {
        let unkept = |_| SessionError::Unavailable("the request's key could not be kept");
        let (key, digest) = self.dc_key(handle);
        let stored = StoredDc {
            handle: digest.clone(),
            mdoc: pending.mdoc.to_stored(),
            signed: pending.signed.to_stored().map_err(unkept)?,
            unsigned: pending
                .unsigned
                .as_ref()
                .map(OnlineSession::to_stored)
                .transpose()
                .map_err(unkept)?,
            expires: pending.expires.unix_timestamp(),
            face: pending.face,
            face_live: pending.face_live,
        };
        let lives = (pending.expires - now).whole_seconds().max(1);
        let waiting = format!("{}dq", self.prefix);
        let mut pipeline = redis::pipe();
        pipeline
            .atomic()
            .cmd("SET")
            .arg(key)
            .arg(self.seal_json(&stored)?)
            .arg("EX")
            .arg(lives)
            .ignore()
            .cmd("ZADD")
            .arg(&waiting)
            .arg(stored.expires)
            .arg(&digest)
            .ignore()
            // The set lives as long as its latest request (every request has the same
            // lifetime); expired members are dropped when counted.
            .cmd("EXPIRE")
            .arg(&waiting)
            .arg(lives)
            .ignore();
        self.redis
            .run_pipeline(&pipeline)
            .map_err(SessionError::Unavailable)
    }

    fn dc_room(&self, making: usize, now: OffsetDateTime) -> Result<bool, SessionError> {
        let waiting = format!("{}dq", self.prefix);
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("ZREMRANGEBYSCORE")
            .arg(&waiting)
            .arg("-inf")
            .arg(now.unix_timestamp())
            .ignore()
            .cmd("ZCARD")
            .arg(&waiting);
        let (count,): (usize,) = self
            .redis
            .query_pipeline(&pipeline)
            .map_err(SessionError::Unavailable)?;
        Ok(count + making < MAX_SHARED_DC)
    }

    fn take_dc(
        &self,
        handle: &str,
        unsigned: bool,
        now: OffsetDateTime,
    ) -> Result<DcTaken, SessionError> {
        let (key, digest) = self.dc_key(handle);
        let value: Option<Vec<u8>> = self.run(redis::cmd("GET").arg(&key))?;
        let Some(value) = value else {
            return Ok(DcTaken::Missing);
        };
        let stored: StoredDc = self.unseal_json(&value)?;
        if stored.handle != digest {
            return Err(SessionError::Unavailable(
                "a stored request is under another handle",
            ));
        }
        if unsigned && stored.unsigned.is_none() {
            return Ok(DcTaken::NotOffered);
        }
        // One answer per request: the replica whose DEL removed it checks the answer.
        let removed: i64 = self.run(redis::cmd("DEL").arg(&key))?;
        let _: i64 = self.run(
            redis::cmd("ZREM")
                .arg(format!("{}dq", self.prefix))
                .arg(&digest),
        )?;
        let expires = OffsetDateTime::from_unix_timestamp(stored.expires)
            .map_err(|_| SessionError::Unavailable("a stored request cannot be read"))?;
        if removed != 1 || expires <= now {
            return Ok(DcTaken::Missing);
        }
        let unusable = |_| SessionError::Unavailable("a stored request's key is not usable");
        Ok(DcTaken::Got(Box::new(DcPending {
            mdoc: MdocDcApiRequest::from_stored(stored.mdoc).map_err(unusable)?,
            signed: OnlineSession::from_stored(stored.signed).map_err(unusable)?,
            unsigned: stored
                .unsigned
                .map(OnlineSession::from_stored)
                .transpose()
                .map_err(unusable)?,
            expires,
            face: stored.face,
            face_live: stored.face_live,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: OffsetDateTime = time::macros::datetime!(2026-12-05 12:00 UTC);

    /// A request `n` expiring at `expires_at`, with a fresh key.
    fn online(n: u32, expires_at: OffsetDateTime) -> Online {
        let key = eid_crypto::session::AgreementKey::generate().expect("key");
        let stored: StoredSession = serde_json::from_value(serde_json::json!({
            "id": format!("id-{n}"), "client_id": "x509_hash:abc", "nonce": format!("nonce-{n}"),
            "state": format!("state-{n}"), "response_uri": "https://bank.example/vp/response",
            "purpose": "bank_account_opening", "attributes": ["family_name"],
            "expires_at": expires_at.unix_timestamp(),
            "key": eid_crypto::b64url(&key.scalar().expect("scalar")[..]),
        }))
        .expect("a stored session");
        Online::new(
            OnlineSession::from_stored(stored).expect("a session"),
            format!("object-{n}"),
            format!("handle-{n}"),
            None,
        )
    }

    /// A request is kept until ten minutes after it expires (its outcome may still be
    /// collected), then forgotten by every index when the next one opens — by when it
    /// expires, not when it was opened; and an id opened again leaves no trace of the first.
    #[test]
    fn expired_requests_are_forgotten_ten_minutes_on() {
        let sessions = LocalSessions::default();
        // 1 opened first but lives 20 minutes; 2 opened later for 5.
        sessions
            .open(online(1, T0 + Duration::minutes(20)), T0)
            .expect("open");
        let later = T0 + Duration::minutes(3);
        let expires_2 = later + Duration::minutes(5);
        sessions.open(online(2, expires_2), later).expect("open");
        // Nine minutes after 2 expired: both held.
        let t = expires_2 + Duration::minutes(9);
        sessions
            .open(online(3, t + Duration::minutes(5)), t)
            .expect("open");
        assert_eq!(sessions.outcome("handle-2").expect("outcome"), Some(None));
        // Ten: 2 is gone from every index, 1 (opened before it) and 3 stay.
        let t = expires_2 + COLLECT_FOR;
        sessions
            .open(online(4, t + Duration::minutes(5)), t)
            .expect("open");
        assert_eq!(sessions.outcome("handle-2").expect("outcome"), None);
        assert_eq!(sessions.request_object("id-2").expect("object"), None);
        assert_eq!(sessions.by_state("state-2").expect("state"), None);
        assert_eq!(sessions.outcome("handle-1").expect("outcome"), Some(None));
        assert_eq!(
            sessions.by_state("state-1").expect("state").as_deref(),
            Some("id-1")
        );
        // Request 4's id opened again, with another expiry, state and handle.
        let mut again = online(5, t + Duration::minutes(7));
        again.session.id = "id-4".into();
        sessions.open(again, t).expect("open");
        assert_eq!(sessions.by_state("state-4").expect("state"), None);
        assert_eq!(sessions.outcome("handle-4").expect("outcome"), None);
        let open = sessions.lock().expect("lock");
        assert_eq!(open.by_id.len(), 3);
        assert_eq!(open.by_expiry.len(), 3);
        assert_eq!(open.by_state.len(), 3);
        assert_eq!(open.by_handle.len(), 3);
    }
}
