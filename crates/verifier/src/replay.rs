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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

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
    seen: Mutex<HashMap<[u8; 32], OffsetDateTime>>,
}

impl ReplayMemory for LocalReplayMemory {
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
        seen.retain(|_, at| *at > now - window);
        match seen.get(digest) {
            Some(first) => Ok(Some(*first)),
            None => {
                seen.insert(*digest, now);
                Ok(None)
            }
        }
    }

    fn forget(&self, digest: &[u8; 32]) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(digest);
        }
    }
}

/// How long one Redis command may take, connecting included.
const REDIS_TIMEOUT: StdDuration = StdDuration::from_millis(500);

/// The memory of every replica of one relying party's desks, in Redis: one key per code
/// (`eid:replay:<relying party>:<digest>`), expiring with the code's window.
pub struct RedisReplayMemory {
    client: redis::Client,
    prefix: String,
    /// One connection, opened on first use and again after a failure.
    connection: Mutex<Option<redis::Connection>>,
}

impl std::fmt::Debug for RedisReplayMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayMemory")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisReplayMemory {
    /// The memory at `url` (`redis://host:port/db`) for `relying_party`. Nothing is
    /// contacted yet.
    pub fn new(url: &str, relying_party: &str) -> Result<Self, ReplayError> {
        let client =
            redis::Client::open(url).map_err(|_| ReplayError::Unavailable("not a redis:// URL"))?;
        Ok(Self {
            client,
            prefix: format!("eid:replay:{relying_party}:"),
            connection: Mutex::new(None),
        })
    }

    /// Runs `command` on the connection, opening it when there is none; a failed command
    /// drops the connection and is tried once more on a new one.
    fn run<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, ReplayError> {
        let Ok(mut slot) = self.connection.lock() else {
            return Err(ReplayError::Unavailable("a poisoned lock"));
        };
        for _ in 0..2 {
            if slot.is_none() {
                let connection = self
                    .client
                    .get_connection_with_timeout(REDIS_TIMEOUT)
                    .map_err(|_| ReplayError::Unavailable("connecting"))?;
                connection
                    .set_read_timeout(Some(REDIS_TIMEOUT))
                    .and_then(|()| connection.set_write_timeout(Some(REDIS_TIMEOUT)))
                    .map_err(|_| ReplayError::Unavailable("connecting"))?;
                *slot = Some(connection);
            }
            if let Some(connection) = slot.as_mut() {
                match command.query(connection) {
                    Ok(value) => return Ok(value),
                    Err(_) => *slot = None,
                }
            }
        }
        Err(ReplayError::Unavailable("the command failed"))
    }

    fn key(&self, digest: &[u8; 32]) -> String {
        let mut key = self.prefix.clone();
        for byte in digest {
            key.push_str(&format!("{byte:02x}"));
        }
        key
    }
}

impl ReplayMemory for RedisReplayMemory {
    fn first_seen(
        &self,
        digest: &[u8; 32],
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<Option<OffsetDateTime>, ReplayError> {
        let key = self.key(digest);
        let seconds = window.whole_seconds().max(1);
        // Set only if absent, with the window as its lifetime: of two replicas shown the
        // same code at once, exactly one sets it.
        let set: Option<String> = self.run(
            redis::cmd("SET")
                .arg(&key)
                .arg(now.unix_timestamp())
                .arg("NX")
                .arg("EX")
                .arg(seconds),
        )?;
        if set.is_some() {
            return Ok(None);
        }
        let first: Option<i64> = self.run(redis::cmd("GET").arg(&key))?;
        Ok(Some(
            first
                .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok())
                .unwrap_or(now),
        ))
    }

    fn forget(&self, digest: &[u8; 32]) {
        // A key left behind expires with its window; the holder then shows a fresh code.
        let _: Result<i64, _> = self.run(redis::cmd("DEL").arg(self.key(digest)));
    }
}
