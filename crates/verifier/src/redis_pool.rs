//! The few Redis connections a desk's shared state uses (the replay memory, the online
//! requests): blocking commands with a short bound, an idle connection reused, a failed one
//! dropped.

use std::sync::Mutex;
use std::time::Duration;

/// How long one Redis command may take, connecting included.
pub(crate) const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// Idle connections kept for the next command.
const MAX_IDLE: usize = 8;

/// Deletes a key only while it holds the value given: a late or repeated delete never
/// removes what another replica set since.
pub(crate) const DELETE_IF_VALUE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Connections to one Redis. A command takes an idle connection (or opens one) and gives it
/// back, so no lock is held while Redis answers. Its errors carry no address (a URL may
/// hold a password).
pub(crate) struct RedisPool {
    client: redis::Client,
    idle: Mutex<Vec<redis::Connection>>,
}

impl RedisPool {
    /// The Redis at `url` (`redis://[:password@]host:port/db`); nothing is contacted yet.
    pub(crate) fn new(url: &str) -> Result<Self, &'static str> {
        let client = redis::Client::open(url).map_err(|_| "not a redis:// URL")?;
        Ok(Self {
            client,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `command`; what went wrong in a few words.
    pub(crate) fn run<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, &'static str> {
        self.with(|connection| command.query(connection))
    }

    /// Runs `pipeline` (`MULTI` … `EXEC` when made atomic).
    pub(crate) fn run_pipeline(&self, pipeline: &redis::Pipeline) -> Result<(), &'static str> {
        self.with(|connection| pipeline.query::<()>(connection))
    }

    /// Runs `pipeline` and reads what its commands not ignored answered.
    pub(crate) fn query_pipeline<T: redis::FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, &'static str> {
        self.with(|connection| pipeline.query::<T>(connection))
    }

    fn with<T>(
        &self,
        work: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, &'static str> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut connection = match idle {
            Some(connection) => connection,
            None => {
                let connection = self
                    .client
                    .get_connection_with_timeout(REDIS_TIMEOUT)
                    .map_err(|_| "connecting")?;
                connection
                    .set_read_timeout(Some(REDIS_TIMEOUT))
                    .and_then(|()| connection.set_write_timeout(Some(REDIS_TIMEOUT)))
                    .map_err(|_| "connecting")?;
                connection
            }
        };
        // A connection that failed is dropped, never reused.
        let value = work(&mut connection).map_err(|_| "the command failed")?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
        Ok(value)
    }
}
