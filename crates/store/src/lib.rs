//! The authority's storage: one interface, two backends.
//!
//! - **SQLite** is the embedded default — one file (or memory), nothing to install;
//! - **PostgreSQL** is the production backend — the registry table hash-partitioned by
//!   number, imports through `COPY`.
//!
//! Each backend has its own versioned migrations (`migrations/sqlite`, `migrations/postgres`),
//! run on [`Store::connect`]. Today the store holds the population registry: residents'
//! card records, the card's state, and life events. Personal data lives in the tables only:
//! no error of this crate carries a number, a name or an address.

mod registry;

pub use registry::{CardState, LifeEvent, RegistryEntry};

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
}

pub(crate) fn db(operation: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { operation, source }
}

/// Which backend a store runs on.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The authority's store.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
}

impl Store {
    /// Opens `url` and brings its schema up to date: `sqlite:PATH` (created if missing),
    /// `sqlite::memory:`, or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
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
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
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

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}
