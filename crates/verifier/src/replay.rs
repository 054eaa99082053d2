//! The offline codes a desk accepted lately — its replay memory — kept where every replica
//! of the desk's verifier service sees it.
//!
//! An offline code is valid for a short window (`eid_mdoc::offline::MAX_AGE` and the clock
//! leeway); the same code shown twice in that window is a photograph passed on, never a
//! second holder. One process keeps the memory in itself ([`LocalReplayMemory`], the
//! default); replicas behind a load balancer share it in Redis ([`RedisReplayMemory`]),
//! where `SET … NX EX` makes the first sighting atomic across them: a code accepted at one
//! replica is refused at the other.
//!
//! A memory that cannot answer refuses the code (`replay_check_unavailable`): an airport
//! gate that cannot tell a relayed code from a fresh one says so rather than accept it.
//! Nothing is locked while Redis answers: a slow Redis slows the offline checks, not the
//! desk's other work.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use eid_core::Random;

use time::{Duration, OffsetDateTime};

use crate::redis_pool::{DELETE_IF_VALUE, RedisPool};

/// The shared memory did not answer. It carries no address (a URL may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Connecting, or the command, failed or timed out.
    #[error("the shared replay memory did not answer ({0})")]
    Unavailable(&'static str),
}

/// Which offline codes were accepted lately.
pub trait ReplayMemory: Send + Sync {
    /// Whether a call may wait on the network (and so an offline check runs off the async
    /// workers); a memory in the process answers in microseconds, where a hop to another
    /// thread costs more.
    fn may_block(&self) -> bool {
        true
    }

    /// Whether the memory answers now (`/ready`): a shared one is asked (PING).
    fn reachable(&self) -> Result<(), ReplayError> {
        Ok(())
    }

    /// Records `digest` as seen at `now`, to be remembered for `window`; `Some(when)` if it
    /// was seen before within its window (then nothing changes).
    fn first_seen(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Option<OffsetDateTime>, ReplayError>;

    /// Forgets `digest`: a refused code may be shown again (once a status list is fetched,
    /// say).
    fn forget(&self, digest: &[u8; 32]);
}

/// The memory of one process.
#[derive(Debug, Default)]
pub struct LocalReplayMemory {
    seen: Mutex<Seen>,
}

/// The codes seen, by digest and by when: forgetting the old ones costs what is forgotten,
/// not a pass over every code of the window (a busy gate holds thousands).
#[derive(Debug, Default)]
struct Seen {
    at: HashMap<[u8; 32], OffsetDateTime>,
    by_time: BTreeSet<(OffsetDateTime, [u8; 32])>,
}

impl ReplayMemory for LocalReplayMemory {
    fn may_block(&self) -> bool {
        false
    }

    fn first_seen(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Option<OffsetDateTime>, ReplayError> {
        let Ok(mut seen) = self.seen.lock() else {
            // A poisoned lock only loses the memory of past codes; each still passed
            // every other check.
            return Ok(None);
        };
        let Seen { at, by_time } = &mut *seen;
        let horizon = now - window;
        while let Some(&(when, old)) = by_time.first() {
            if when > horizon {
                break;
            }
            by_time.pop_first();
            at.remove(&old);
        }
        match at.get(digest) {
            Some(first) => Ok(Some(*first)),
            None => {
                at.insert(*digest, now);
                by_time.insert((now, *digest));
                Ok(None)
            }
        }
    }

    fn forget(&self, digest: &[u8; 32]) {
        if let Ok(mut seen) = self.seen.lock()
            && let Some(when) = seen.at.remove(digest)
        {
            seen.by_time.remove(&(when, *digest));
        }
    }
}

/// The memory of every replica of one relying party's desks, in Redis: one key per code
/// (`eid:replay:<relying party>:<digest>`) whose value names the replica and the call that
/// set it (`<unix time>:<replica>:<n>`), so that a retried command recognises its own
/// write and a refusal deletes only its own key. Keys live twice the code's window, so a
/// replica whose clock is behind by less than a window still finds them.
pub struct RedisReplayMemory {
    redis: RedisPool,
    prefix: String,
    /// This replica, at random.
    instance: String,
    calls: AtomicU64,
    /// The values this replica set lately, by digest (to delete only its own).
    mine: Mutex<HashMap<[u8; 32], (String, OffsetDateTime)>>,
}

impl std::fmt::Debug for RedisReplayMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayMemory")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisReplayMemory {
    /// The memory at `url` (`redis://[:password@]host:port/db`; no TLS in this build: keep
    /// Redis on the desks' own network) for `relying_party`. Nothing is contacted yet.
    pub fn new(url: &str, relying_party: &str) -> Result<Self, ReplayError> {
        let redis = RedisPool::new(url).map_err(ReplayError::Unavailable)?;
        let mut instance = [0u8; 8];
        eid_core::OsRandom
            .fill(&mut instance)
            .map_err(|_| ReplayError::Unavailable("the random source failed"))?;
        Ok(Self {
            redis,
            prefix: format!("eid:replay:{relying_party}:"),
            instance: hex::encode(instance),
            calls: AtomicU64::new(0),
            mine: Mutex::new(HashMap::new()),
        })
    }

    fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, ReplayError> {
        self.redis.run(command).map_err(ReplayError::Unavailable)
    }

    fn key(&self, digest: &[u8; 32]) -> String {
        format!("{}{}", self.prefix, hex::encode(digest))
    }

    /// `SET key value NX EX seconds`: true when this call set it.
    fn set_if_absent(&self, key: &str, value: &str, seconds: i64) -> Result<bool, ReplayError> {
        let set: Option<String> = self.run(
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("EX")
                .arg(seconds),
        )?;
        Ok(set.is_some())
    }
}

impl ReplayMemory for RedisReplayMemory {
    fn reachable(&self) -> Result<(), ReplayError> {
        self.run::<String>(&redis::cmd("PING")).map(drop)
    }

    fn first_seen(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Option<OffsetDateTime>, ReplayError> {
        let key = self.key(digest);
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let value = format!("{}:{}:{call}", now.unix_timestamp(), self.instance);
        let seconds = (window.whole_seconds() * 2).max(2);
        // Of two replicas shown the same code at once, exactly one sets the key. A set
        // whose answer was lost is tried again: finding its own value, it was ours.
        let set = match self.set_if_absent(&key, &value, seconds) {
            Ok(set) => set,
            Err(_) => self.set_if_absent(&key, &value, seconds)?,
        };
        let first = if set {
            None
        } else {
            let stored: Option<String> = self.run(redis::cmd("GET").arg(&key))?;
            match stored {
                Some(stored) if stored == value => None,
                Some(stored) => Some(
                    stored
                        .split(':')
                        .next()
                        .and_then(|at| at.parse().ok())
                        .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok())
                        .unwrap_or(now),
                ),
                // Expired between the two commands: older than twice the window.
                None => Some(now - window * 2),
            }
        };
        if first.is_none()
            && let Ok(mut mine) = self.mine.lock()
        {
            mine.retain(|_, (_, at)| *at > now - window * 2);
            mine.insert(*digest, (value, now));
        }
        Ok(first)
    }

    fn forget(&self, digest: &[u8; 32]) {
        let Some((value, _)) = self
            .mine
            .lock()
            .ok()
            .and_then(|mut mine| mine.remove(digest))
        else {
            return;
        };
        // A key left behind expires on its own; the holder then shows a fresh code.
        let _: Result<i64, _> = self.run(
            redis::cmd("EVAL")
                .arg(DELETE_IF_VALUE)
                .arg(1)
                .arg(self.key(digest))
                .arg(value),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: OffsetDateTime = time::macros::datetime!(2026-12-05 12:00 UTC);

    #[test]
    fn a_code_is_remembered_for_its_window_and_no_longer() {
        let memory = LocalReplayMemory::default();
        let window = Duration::minutes(5);
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(memory.first_seen(&a, T0, window).unwrap(), None);
        assert_eq!(
            memory
                .first_seen(&b, T0 + Duration::minutes(2), window)
                .unwrap(),
            None
        );
        // Within a's window: a replay, dated from its first sighting.
        assert_eq!(
            memory
                .first_seen(&a, T0 + Duration::minutes(4), window)
                .unwrap(),
            Some(T0)
        );
        // a's window is over, b's is not: a is new again (and held from now), b is not.
        let later = T0 + Duration::minutes(5);
        assert_eq!(memory.first_seen(&a, later, window).unwrap(), None);
        assert_eq!(
            memory.first_seen(&b, later, window).unwrap(),
            Some(T0 + Duration::minutes(2))
        );
        // Only what is inside the window is held.
        let seen = memory.seen.lock().unwrap();
        assert_eq!(seen.at.len(), 2);
        assert_eq!(seen.by_time.len(), 2);
    }

    #[test]
    fn a_forgotten_code_is_new_again() {
        let memory = LocalReplayMemory::default();
        let window = Duration::minutes(5);
        let a = [7u8; 32];
        assert_eq!(memory.first_seen(&a, T0, window).unwrap(), None);
        memory.forget(&a);
        let seen_again = T0 + Duration::seconds(1);
        assert_eq!(memory.first_seen(&a, seen_again, window).unwrap(), None);
        assert_eq!(
            memory
                .first_seen(&a, T0 + Duration::seconds(2), window)
                .unwrap(),
            Some(seen_again)
        );
        // Forgetting left nothing behind in the index by time.
        assert_eq!(memory.seen.lock().unwrap().by_time.len(), 1);
    }
}
