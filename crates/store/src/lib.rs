//! The authority's storage: one interface ([`Store`], over partitions that each implement
//! [`Storage`]), three backends.
//!
//! - **SQLite** is the embedded default — one file (or memory), nothing to install;
//! - **PostgreSQL** is the production backend — the registry table hash-partitioned by
//!   number, imports through `COPY`;
//! - **memory** (`memory:`, [`MemoryStorage`]) is for unit tests: the same rules in the
//!   process's memory, nothing kept.
//!
//! Each backend has its own versioned migrations (`migrations/sqlite`, `migrations/postgres`),
//! run on [`Store::connect`]. The store holds the population registry (residents' card
//! records, the card's state, life events) and the authority's issuance state (offers,
//! tokens, nonces, credentials with their status list indices, the audit log). Personal data lives in the tables only:
//! no error of this crate carries a number, a name or an address.

#[macro_use]
mod issuance;
pub mod memory;
mod outbox;
mod registry;
pub mod routing;
pub mod storage;

pub use issuance::{
    AccessGrant, AuditEntry, AuditStamp, CredentialRecord, CredentialState, Delegation,
    NewCredential, NewOffer, Redemption, Selector, ShardStatuses,
};
pub use memory::MemoryStorage;
pub use outbox::{Outgoing, OutgoingItem};
pub use registry::{CardState, LifeEvent, RegistryEntry};
pub use storage::Storage;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// A storage failure. The messages name tables and operations, never stored values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names no supported backend.
    #[error("unsupported database URL: use sqlite:PATH, sqlite::memory: or postgres://…")]
    UnsupportedUrl,
    /// Connecting, migrating or querying failed.
    #[error("database error during {operation}: {source}")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// The driver's error (it carries no bound values).
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migrating the database failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored record could not be read back.
    #[error("a stored {0} record is not valid")]
    Corrupt(&'static str),
    /// The resident is not in the registry.
    #[error("no such resident in the registry")]
    NotFound,
    /// A key stored once already (the in-memory storage; the SQL backends answer with the
    /// database's own uniqueness error).
    #[error("a {0} with this key is stored already")]
    Duplicate(&'static str),
    /// A backup this backend does not make itself (PostgreSQL: `pg_dump`; memory: none).
    #[error("{0}")]
    BackupUnsupported(&'static str),
    /// The shard map (the list of partitions) cannot be used as given, or a key was
    /// handed to the wrong partition.
    #[error("shard map: {0}")]
    ShardMap(&'static str),
    /// A database of the shard map holds another partition than its place in the map: the
    /// URLs were reordered, or partitions added or removed. Nothing was read or written.
    #[error(
        "shard map: the database at place {place} holds partition {recorded}: keep the URLs in their first order and number (move a partition by changing its URL in place)"
    )]
    PartitionMoved {
        /// Its place in the map (from 0).
        place: usize,
        /// What it recorded when first used (`p/P`).
        recorded: String,
    },
    /// Some partitions changed and one failed: the changes made are these; the same call
    /// may be made again for the rest.
    #[error("the change was made in part ({} credentials), then: {source}", changed.len())]
    PartlyChanged {
        /// What did change.
        changed: Vec<CredentialRecord>,
        /// Why the rest did not.
        source: Box<StoreError>,
    },
    /// Other writers kept the database busy through every retry: nothing was changed, and
    /// the same call may be made again.
    #[error("the database stayed busy during {operation}: nothing was changed; try again")]
    Busy {
        /// What was being done.
        operation: &'static str,
    },
}

impl StoreError {
    /// Whether a database did not answer — the connection failed or was cut, the pool
    /// found none, or the server was shutting down or starting (SQLSTATE classes 08 and
    /// 57P0x) — so that the same call may succeed in a moment.
    pub fn is_unreachable(&self) -> bool {
        let Self::Database { source, .. } = self else {
            return matches!(self, Self::PartlyChanged { source, .. } if source.is_unreachable());
        };
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(error) => error
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
            _ => false,
        }
    }

    /// Whether the failure is contention that a retry can overcome: SQLite's
    /// `SQLITE_BUSY` family and `SQLITE_LOCKED`, PostgreSQL's serialization failure and
    /// deadlock (SQLSTATE 40001, 40P01).
    fn is_contention(&self) -> bool {
        let Self::Database { source, .. } = self else {
            return false;
        };
        let Some(error) = source.as_database_error() else {
            return false;
        };
        matches!(
            error.code().as_deref(),
            // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT; SQLITE_LOCKED, _SHAREDCACHE.
            Some("5" | "261" | "517" | "773" | "6" | "262" | "40001" | "40P01")
        )
    }
}

/// An identity number read back from the store, typed again: one that fails its rules now
/// was not written by this crate (every writer takes a [`ResidentIdNumber`]).
pub(crate) fn stored_number(
    text: &str,
    record: &'static str,
) -> Result<eid_core::ResidentIdNumber, StoreError> {
    eid_core::ResidentIdNumber::parse_structure(text).map_err(|_| StoreError::Corrupt(record))
}

pub(crate) fn db(operation: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { operation, source }
}

/// Tries a write again while it fails on contention (each try is one whole transaction,
/// rolled back when it failed), waiting 2, 4, 8, … ms up to about 4 s in all; then
/// [`StoreError::Busy`]. A status change that must happen waits its turn instead of failing
/// while issuance writes.
pub(crate) async fn retrying<T, F, Fut>(
    operation: &'static str,
    mut attempt: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut pause = std::time::Duration::from_millis(2);
    for _ in 0..11 {
        match attempt().await {
            Err(e) if e.is_contention() => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_millis(500));
            }
            other => return other,
        }
    }
    Err(StoreError::Busy { operation })
}

/// Beginning a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: the write lock
/// is taken at the start, waiting up to the busy timeout, instead of at the first write —
/// where a transaction that has read cannot wait (SQLite answers `SQLITE_BUSY` at once to
/// avoid a deadlock, or `SQLITE_BUSY_SNAPSHOT` when another writer committed meanwhile).
pub(crate) trait WritePool {
    /// The driver.
    type Db: sqlx::Database;
    /// A transaction that will write.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// Which backend a partition runs on.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One database holding a complete, independent slice of the authority's data (see
/// [`routing`]): the residents whose numbers route to it, with everything about them.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    pub(crate) backend: Backend,
}

impl Partition {
    /// Opens `url` with at most `connections` connections and brings its schema up to date.
    async fn connect(url: &str, connections: u32) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(connections)
                .connect(url)
                .await
                .map_err(db("connecting to PostgreSQL"))?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Ok(Self {
                backend: Backend::Postgres(pool),
            })
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            let options = if rest == ":memory:" {
                SqliteConnectOptions::new().in_memory(true)
            } else {
                SqliteConnectOptions::new()
                    .filename(rest.trim_start_matches("//"))
                    .create_if_missing(true)
            }
            .foreign_keys(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            // One writer at a time: the others wait this long for the lock (then retry).
            .busy_timeout(std::time::Duration::from_secs(10));
            // An in-memory database lives as long as its one connection.
            let pool = SqlitePoolOptions::new()
                .max_connections(if rest == ":memory:" { 1 } else { 4 })
                .connect_with(options)
                .await
                .map_err(db("opening SQLite"))?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Ok(Self {
                backend: Backend::Sqlite(pool),
            })
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

/// The authority's store: one database, or several partitions routed by a shard map.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) parts: std::sync::Arc<[std::sync::Arc<dyn Storage>]>,
    pub(crate) aligned: std::sync::Arc<routing::Aligned>,
}

/// Partitions one store may have, at most.
pub const MAX_PARTITIONS: usize = 64;

impl Store {
    /// Opens the store and brings every schema up to date. `url` is `sqlite:PATH` (created
    /// if missing), `sqlite::memory:`, `postgres://…` or `memory:` (in this process's memory
    /// only, for tests) — or the **shard map**: several such
    /// URLs separated by whitespace, one database per partition, in partition order (see
    /// [`routing`]). The number of partitions is fixed once data is written: a partition
    /// moves to another server by moving its database and changing its URL, never by
    /// adding or removing one.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // Several URLs only when every piece names a backend: a SQLite path may hold spaces.
        let pieces: Vec<&str> = url.split_whitespace().collect();
        let urls = if pieces
            .iter()
            .all(|p| p.starts_with("sqlite:") || p.starts_with("postgres") || *p == "memory:")
        {
            pieces
        } else {
            vec![url.trim()]
        };
        if urls.is_empty() || urls == [""] {
            return Err(StoreError::UnsupportedUrl);
        }
        if urls.len() > MAX_PARTITIONS {
            return Err(StoreError::ShardMap("more than 64 partitions"));
        }
        let kinds: std::collections::HashSet<&str> = urls
            .iter()
            .map(|u| u.split(':').next().unwrap_or_default())
            .collect();
        if kinds.len() > 1 {
            return Err(StoreError::ShardMap(
                "the partitions mix backends (SQLite, PostgreSQL, memory)",
            ));
        }
        // Each replica's connections to one server stay few however many partitions it
        // holds: about 16 per replica in all, at least 2 per partition.
        let connections = u32::try_from(16 / urls.len()).unwrap_or(2).clamp(2, 8);
        let mut parts: Vec<std::sync::Arc<dyn Storage>> = Vec::with_capacity(urls.len());
        for url in urls {
            parts.push(if url == "memory:" {
                std::sync::Arc::new(MemoryStorage::new())
            } else {
                std::sync::Arc::new(Partition::connect(url, connections).await?)
            });
        }
        let store = Self {
            parts: parts.into(),
            aligned: std::sync::Arc::new(routing::Aligned::none()),
        };
        store.check_positions().await?;
        store.align_shards().await?;
        Ok(store)
    }

    /// `sqlite`, `postgres` or `memory`.
    pub fn backend_name(&self) -> &'static str {
        self.parts.first().map_or("sqlite", |p| p.backend_name())
    }

    /// Closes the connections.
    pub async fn close(&self) {
        for part in self.parts.iter() {
            let _ = part.close().await;
        }
    }
}

/// A PostgreSQL database made for one test run and dropped after it, on the server that
/// `EID_TEST_POSTGRES_URL` names (`.ci/run` sets it).
#[derive(Debug)]
pub struct ScratchPostgres {
    admin: sqlx::PgConnection,
    name: String,
    /// The scratch database's URL.
    pub url: String,
}

impl ScratchPostgres {
    /// Creates `eid_test_<tag>_<pid>`, or returns `None` when `EID_TEST_POSTGRES_URL` is not
    /// set (after saying the test skipped; under CI that is a failure instead, see
    /// [`eid_core::testing`]).
    pub async fn create(tag: &str) -> Result<Option<Self>, StoreError> {
        Self::create_at("EID_TEST_POSTGRES_URL", tag).await
    }

    /// Like [`ScratchPostgres::create`], on the server the environment variable `variable`
    /// names (`EID_TEST_POSTGRES_URL_2`: the second server, for partitions on two servers).
    pub async fn create_at(variable: &str, tag: &str) -> Result<Option<Self>, StoreError> {
        use sqlx::Connection;
        // Unset: the test skips, saying so — and fails under CI.
        let Some(base) = eid_core::testing::required_env(variable) else {
            return Ok(None);
        };
        let name = format!("eid_test_{tag}_{}", std::process::id());
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::UnsupportedUrl);
        }
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .map_err(db("connecting to PostgreSQL"))?;
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .map_err(db("creating a scratch database"))?;
        }
        let server = base
            .rsplit_once('/')
            .map(|(server, _)| server)
            .ok_or(StoreError::UnsupportedUrl)?;
        let url = format!("{server}/{name}");
        Ok(Some(Self { admin, name, url }))
    }

    /// A scratch database on each of the two test servers (`EID_TEST_POSTGRES_URL` and
    /// `EID_TEST_POSTGRES_URL_2`), and the shard map of the two; `None` when a server is not
    /// named (after saying the test skipped; under CI a failure).
    pub async fn on_two_servers(tag: &str) -> Result<Option<(Vec<Self>, String)>, StoreError> {
        let mut scratches: Vec<Self> = Vec::new();
        for (n, server) in ["EID_TEST_POSTGRES_URL", "EID_TEST_POSTGRES_URL_2"]
            .into_iter()
            .enumerate()
        {
            let Some(scratch) = Self::create_at(server, &format!("{tag}{n}")).await? else {
                for made in scratches {
                    made.drop_database().await?;
                }
                return Ok(None);
            };
            scratches.push(scratch);
        }
        let map = scratches
            .iter()
            .map(|s| s.url.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Some((scratches, map)))
    }

    /// Drops the database (closing what still uses it) and makes it again, empty: as a
    /// server that lost it, before a restore.
    pub async fn recreate(&mut self) -> Result<(), StoreError> {
        for statement in [
            format!("DROP DATABASE {} WITH (FORCE)", self.name),
            format!("CREATE DATABASE {}", self.name),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut self.admin)
                .await
                .map_err(db("making a scratch database again"))?;
        }
        Ok(())
    }

    /// Drops the database (closing what still uses it).
    pub async fn drop_database(mut self) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut self.admin)
        .await
        .map(|_| ())
        .map_err(db("dropping a scratch database"))
    }
}
