//! The wallet's credential store (SQLite, `migrations/`): the credential instances with the
//! device key each is bound to, which instance each relying party has seen, and the history
//! of every presentation, exportable.
//!
//! The authority issues a batch of instances, each with its own key and status entry.
//! [`UsePolicy`] decides which one a presentation uses: a fresh instance every time
//! ([`UsePolicy::OncePerPresentation`]), or one instance per relying party
//! ([`UsePolicy::PerRelyingParty`]: a hotel sees the same instance on every visit, and no
//! other relying party ever sees it). Either way no instance is shown to two relying
//! parties, so they cannot link the holder by the credential. When no instance is left
//! for a new relying party, [`WalletStore::pick`] says so and the wallet asks for a new
//! batch; [`WalletStore::needs_refresh`] tells it before that happens, and before expiry.
//!
//! A parent's or guardian's wallet also holds credentials for someone else (a delegation
//! registered at the counter): each redeemed delegation is a [`Holding`], and every read of
//! a credential says [`Whose`] it wants, so that the holder's own and another's are never
//! mixed up. Only the holder's own are refreshed.

use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use time::{Duration, OffsetDateTime};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[error("the wallet's store: {0}")]
pub struct StoreError(String);

fn db(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError(format!("{what}: {e}"))
}

/// Which instance a presentation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsePolicy {
    /// A fresh instance for every presentation (never shown before).
    OncePerPresentation,
    /// The instance this relying party saw before, or a fresh one that becomes its own.
    PerRelyingParty,
}

/// Whose credentials a read is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// The holder's own.
    Mine,
    /// Those of the [`Holding`] with this id (another resident's, held for them).
    Held(i64),
}

impl Whose {
    /// The mdoc docType of these credentials: the resident identity, or the delegated type.
    pub fn doc_type(self) -> &'static str {
        match self {
            Self::Mine => eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
            Self::Held(_) => eid_mdoc::DOCTYPE_DELEGATED,
        }
    }

    /// The `credentials.holding` column's value.
    fn holding(self) -> Option<i64> {
        match self {
            Self::Mine => None,
            Self::Held(id) => Some(id),
        }
    }
}

/// Credentials held for someone else: one redeemed delegation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// Its id ([`Whose::Held`]).
    pub id: i64,
    /// `parent` or `guardian`, as the credentials say.
    pub relationship: String,
    /// The issuer they came from.
    pub issuer: String,
    /// When they were received (Unix seconds).
    pub received_at: i64,
}

/// One stored instance.
#[derive(Clone, PartialEq, Eq)]
pub struct Instance {
    /// Its row.
    pub id: i64,
    /// `mso_mdoc`, `dc+sd-jwt` or `eid_compact_cwt`.
    pub format: String,
    /// A compact credential's purpose.
    pub purpose: Option<String>,
    /// The keystore's id of its device key.
    pub key_id: String,
    /// The credential's bytes (an SD-JWT VC's text as UTF-8).
    pub credential: Vec<u8>,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credential carries personal data: never shown.
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("format", &self.format)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// One presentation, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presentation {
    /// When (Unix seconds).
    pub at: i64,
    /// `in_person`, `offline_qr` or `online`.
    pub channel: String,
    /// Who (trust-list id); none for an offline code, shown to whoever scanned it.
    pub relying_party: Option<String>,
    /// Its name.
    pub relying_party_name: Option<String>,
    /// Why.
    pub purpose: String,
    /// Which attributes (names only).
    pub attributes: Vec<String>,
    /// When the credential shown was one held for someone else: the relationship it is held
    /// in (`parent`, `guardian`), never whose it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_for: Option<String>,
}

/// The history backup's state as the store keeps it (`crate::backup`); no `Debug`: it holds
/// the keys.
pub struct BackupSettings {
    /// The authority's history secret (base64url), once a face-proofed step gave it.
    pub secret: Option<String>,
    /// The history key (base64url), once a backup was made or restored.
    pub key: Option<String>,
    /// The backup's generation.
    pub generation: u64,
    /// How many entries (from the first, in recorded order) the backup holds.
    pub sent: u64,
}

/// An instance as listed: what it is and where it went, not what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// Its row.
    pub id: i64,
    /// Its format.
    pub format: String,
    /// A compact credential's purpose.
    pub purpose: Option<String>,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// The relying party it was shown to.
    pub shown_to: Option<String>,
    /// How many times it was shown.
    pub uses: i64,
    /// Never shown again.
    pub dead: bool,
    /// The holding it belongs to; none for the holder's own.
    pub holding: Option<i64>,
}

/// The store.
#[derive(Debug, Clone)]
pub struct WalletStore {
    pool: SqlitePool,
    policy: UsePolicy,
}

type Row = (i64, String, Option<String>, String, Vec<u8>, i64);

/// A history row: at, channel, relying party, its name, purpose, attributes (JSON).
type HistoryRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
);

fn presentation(
    (at, channel, relying_party, relying_party_name, purpose, attributes, held_for): HistoryRow,
) -> Presentation {
    Presentation {
        at,
        channel,
        relying_party,
        relying_party_name,
        purpose,
        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
        held_for,
    }
}

fn instance((id, format, purpose, key_id, credential, expires_at): Row) -> Instance {
    Instance {
        id,
        format,
        purpose,
        key_id,
        credential,
        expires_at,
    }
}

impl WalletStore {
    /// Opens (creating) the store at `path`, or in memory for `:memory:`.
    pub async fn open(path: &str, policy: UsePolicy) -> Result<Self, StoreError> {
        let options = if path == ":memory:" {
            SqliteConnectOptions::new().in_memory(true)
        } else {
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
        }
        .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            // One connection: the phone has one user, and picks must not race.
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(db("opening"))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError(format!("migrating: {e}")))?;
        Ok(Self { pool, policy })
    }

    /// Keeps an instance, the holder's own or of a holding; its row id.
    pub async fn add(
        &self,
        whose: Whose,
        format: &str,
        purpose: Option<&str>,
        key_id: &str,
        credential: &[u8],
        expires_at: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let row: (i64,) = sqlx::query_as(
            "INSERT INTO credentials (format, purpose, key_id, credential, expires_at, holding) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(format)
        .bind(purpose)
        .bind(key_id)
        .bind(credential)
        .bind(expires_at.unix_timestamp())
        .bind(whose.holding())
        .fetch_one(&self.pool)
        .await
        .map_err(db("adding a credential"))?;
        Ok(row.0)
    }

    /// A new holding: credentials held for someone else as `relationship`, from `issuer`.
    pub async fn add_holding(
        &self,
        relationship: &str,
        issuer: &str,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let row: (i64,) = sqlx::query_as(
            "INSERT INTO holdings (relationship, issuer, received_at) VALUES (?, ?, ?) \
             RETURNING id",
        )
        .bind(relationship)
        .bind(issuer)
        .bind(now.unix_timestamp())
        .fetch_one(&self.pool)
        .await
        .map_err(db("adding a holding"))?;
        Ok(row.0)
    }

    /// The holding `id`, if the wallet has it.
    pub async fn holding(&self, id: i64) -> Result<Option<Holding>, StoreError> {
        Ok(self.holdings().await?.into_iter().find(|h| h.id == id))
    }

    /// How `whose` credentials are held, as the history says it: none for the holder's own,
    /// the relationship for a holding's (none for a holding the wallet does not have).
    pub async fn relationship(&self, whose: Whose) -> Result<Option<String>, StoreError> {
        Ok(match whose {
            Whose::Mine => None,
            Whose::Held(id) => self.holding(id).await?.map(|h| h.relationship),
        })
    }

    /// Every holding, oldest first.
    pub async fn holdings(&self) -> Result<Vec<Holding>, StoreError> {
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT id, relationship, issuer, received_at FROM holdings ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing the holdings"))?;
        Ok(rows
            .into_iter()
            .map(|(id, relationship, issuer, received_at)| Holding {
                id,
                relationship,
                issuer,
                received_at,
            })
            .collect())
    }

    /// The instance of `whose` credentials of `format` (and `purpose`, for compact
    /// credentials) to show `relying_party` now, by the policy — marked as shown to it — or
    /// `None` when every unexpired instance has been shown to others (the wallet needs a
    /// new batch).
    pub async fn pick(
        &self,
        whose: Whose,
        format: &str,
        purpose: Option<&str>,
        relying_party: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Instance>, StoreError> {
        let now = now.unix_timestamp();
        let mut tx = self.pool.begin().await.map_err(db("picking"))?;
        let own = match self.policy {
            UsePolicy::PerRelyingParty => sqlx::query_as::<_, Row>(
                "SELECT id, format, purpose, key_id, credential, expires_at FROM credentials \
                 WHERE holding IS ? AND format = ? AND purpose IS ? AND dead = 0 \
                 AND expires_at > ? AND relying_party = ? ORDER BY id LIMIT 1",
            )
            .bind(whose.holding())
            .bind(format)
            .bind(purpose)
            .bind(now)
            .bind(relying_party)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("picking"))?,
            UsePolicy::OncePerPresentation => None,
        };
        let chosen = match own {
            Some(row) => Some(row),
            None => sqlx::query_as::<_, Row>(
                "SELECT id, format, purpose, key_id, credential, expires_at FROM credentials \
                 WHERE holding IS ? AND format = ? AND purpose IS ? AND dead = 0 \
                 AND expires_at > ? AND relying_party IS NULL ORDER BY id LIMIT 1",
            )
            .bind(whose.holding())
            .bind(format)
            .bind(purpose)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("picking"))?,
        };
        let Some(row) = chosen else {
            return Ok(None);
        };
        sqlx::query("UPDATE credentials SET relying_party = ?, uses = uses + 1 WHERE id = ?")
            .bind(relying_party)
            .bind(row.0)
            .execute(&mut *tx)
            .await
            .map_err(db("picking"))?;
        tx.commit().await.map_err(db("picking"))?;
        Ok(Some(instance(row)))
    }

    /// Whether [`Self::pick`] would find an instance now, without marking one: asked before
    /// the holder is asked for a PIN, so that a wallet with nothing to show says so rather
    /// than spend an attempt.
    pub async fn can_pick(
        &self,
        whose: Whose,
        format: &str,
        purpose: Option<&str>,
        relying_party: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let own = match self.policy {
            UsePolicy::PerRelyingParty => Some(relying_party),
            UsePolicy::OncePerPresentation => None,
        };
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM credentials WHERE holding IS ? AND format = ? AND purpose IS ? \
             AND dead = 0 AND expires_at > ? AND (relying_party IS NULL OR relying_party IS ?) \
             LIMIT 1",
        )
        .bind(whose.holding())
        .bind(format)
        .bind(purpose)
        .bind(now.unix_timestamp())
        .bind(own)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("picking"))?;
        Ok(found.is_some())
    }

    /// Whether the wallet holds a live instance of `whose` `format` now (unexpired, not dead),
    /// whoever it was shown to.
    pub async fn holds(
        &self,
        whose: Whose,
        format: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM credentials WHERE holding IS ? AND format = ? AND dead = 0 \
             AND expires_at > ? LIMIT 1",
        )
        .bind(whose.holding())
        .bind(format)
        .bind(now.unix_timestamp())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a credential"))?;
        Ok(found.is_some())
    }

    /// Whether the wallet should ask for a new batch of the holder's own `format`: fewer
    /// than `min_fresh` instances never shown, or one that expires within `margin`. (What it
    /// holds for others is not refreshed: a new delegation comes from the counter.)
    pub async fn needs_refresh(
        &self,
        format: &str,
        purpose: Option<&str>,
        now: OffsetDateTime,
        margin: Duration,
        min_fresh: i64,
    ) -> Result<bool, StoreError> {
        let (fresh, soonest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE relying_party IS NULL), MIN(expires_at) \
             FROM credentials WHERE holding IS NULL AND format = ? AND purpose IS ? AND dead = 0 \
             AND expires_at > ?",
        )
        .bind(format)
        .bind(purpose)
        .bind(now.unix_timestamp())
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting"))?;
        Ok(fresh < min_fresh || soonest.is_none_or(|exp| exp <= (now + margin).unix_timestamp()))
    }

    /// Marks every instance bound to `key_id` dead (the key was lost with a phone, or the
    /// credentials were re-bound): never shown again.
    pub async fn retire_key(&self, key_id: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("UPDATE credentials SET dead = 1 WHERE key_id = ?")
                .bind(key_id)
                .execute(&self.pool)
                .await
                .map_err(db("retiring"))?
                .rows_affected(),
        )
    }

    /// Every instance held, without the credentials themselves: what `eid wallet list` shows.
    pub async fn list(&self) -> Result<Vec<Listed>, StoreError> {
        type ListRow = (
            i64,
            String,
            Option<String>,
            i64,
            Option<String>,
            i64,
            bool,
            Option<i64>,
        );
        let rows: Vec<ListRow> = sqlx::query_as(
            "SELECT id, format, purpose, expires_at, relying_party, uses, dead, holding \
             FROM credentials ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing"))?;
        Ok(rows
            .into_iter()
            .map(
                |(id, format, purpose, expires_at, shown_to, uses, dead, holding)| Listed {
                    id,
                    format,
                    purpose,
                    expires_at,
                    shown_to,
                    uses,
                    dead,
                    holding,
                },
            )
            .collect())
    }

    /// Remembers the issuer the wallet enrolled with (the credential issuer's URL).
    pub async fn set_issuer(&self, issuer: &str) -> Result<(), StoreError> {
        self.set_setting("issuer", issuer).await
    }

    /// The issuer the wallet last enrolled with.
    pub async fn issuer(&self) -> Result<Option<String>, StoreError> {
        self.setting("issuer").await
    }

    /// Keeps the signed national trust list the wallet checks requests against (the newest
    /// taken): after a restart, an older one is refused against it.
    pub async fn set_trust_list(&self, signed: &str) -> Result<(), StoreError> {
        self.set_setting("trust_list", signed).await
    }

    /// The signed trust list kept by [`Self::set_trust_list`].
    pub async fn trust_list(&self) -> Result<Option<String>, StoreError> {
        self.setting("trust_list").await
    }

    async fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(db("keeping a setting"))?;
        Ok(())
    }

    async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a setting"))?;
        Ok(row.map(|r| r.0))
    }

    /// The newest live credential of `whose` of `format` (to show the card: its
    /// attributes, not a presentation; no use is recorded).
    pub async fn newest(&self, whose: Whose, format: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT credential FROM credentials WHERE holding IS ? AND format = ? AND dead = 0 \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(whose.holding())
        .bind(format)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a credential"))?;
        Ok(row.map(|r| r.0))
    }

    /// Records a presentation in the history.
    pub async fn record(
        &self,
        presentation: &Presentation,
        instance: Option<i64>,
    ) -> Result<(), StoreError> {
        let attributes = serde_json::to_string(&presentation.attributes)
            .map_err(|e| StoreError(e.to_string()))?;
        sqlx::query(
            "INSERT INTO history (at, channel, relying_party, relying_party_name, purpose, \
             attributes, credential_id, held_for) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(presentation.at)
        .bind(&presentation.channel)
        .bind(&presentation.relying_party)
        .bind(&presentation.relying_party_name)
        .bind(&presentation.purpose)
        .bind(attributes)
        .bind(instance)
        .bind(&presentation.held_for)
        .execute(&self.pool)
        .await
        .map_err(db("recording"))?;
        Ok(())
    }

    /// The history, oldest first.
    pub async fn history(&self) -> Result<Vec<Presentation>, StoreError> {
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT at, channel, relying_party, relying_party_name, purpose, attributes, \
             held_for FROM history ORDER BY at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading the history"))?;
        Ok(rows.into_iter().map(presentation).collect())
    }

    /// The history from its `skip`th entry on, in the order it was recorded (what the
    /// backup has not sent yet).
    pub async fn history_since(&self, skip: u64) -> Result<Vec<Presentation>, StoreError> {
        let skip = i64::try_from(skip).map_err(|_| StoreError("a history offset".into()))?;
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT at, channel, relying_party, relying_party_name, purpose, attributes, \
             held_for FROM history ORDER BY id LIMIT -1 OFFSET ?",
        )
        .bind(skip)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading the history"))?;
        Ok(rows.into_iter().map(presentation).collect())
    }

    /// The history backup's state (`crate::backup`): the authority's secret, the history
    /// key, the generation and how many entries were sent, each once known.
    pub async fn backup_settings(&self) -> Result<BackupSettings, StoreError> {
        let number = |text: Option<String>| {
            text.map(|t| t.parse::<u64>())
                .transpose()
                .map_err(|_| StoreError("a backup setting is not a number".into()))
        };
        Ok(BackupSettings {
            secret: self.setting("history_secret").await?,
            key: self.setting("history_key").await?,
            generation: number(self.setting("history_generation").await?)?.unwrap_or(0),
            sent: number(self.setting("history_sent").await?)?.unwrap_or(0),
        })
    }

    /// Keeps the authority's history secret (base64url).
    pub async fn set_history_secret(&self, secret: &str) -> Result<(), StoreError> {
        self.set_setting("history_secret", secret).await
    }

    /// Notes that the backup holds the first `sent` entries.
    pub async fn set_history_sent(&self, sent: u64) -> Result<(), StoreError> {
        self.set_setting("history_sent", &sent.to_string()).await
    }

    /// Forgets the history key (the backup moved on without this wallet).
    pub async fn forget_history_key(&self) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM settings WHERE name IN ('history_key', 'history_generation', 'history_sent')",
        )
        .execute(&self.pool)
        .await
        .map_err(db("forgetting the history key"))?;
        Ok(())
    }

    /// A new history key at `generation` with `sent` entries in its backup, and restored
    /// `entries` added to the history after what it holds, in one transaction — when
    /// `before` is given, only if the history still holds that many entries (else nothing
    /// changes: `false`).
    pub async fn import_history_with_key(
        &self,
        entries: &[Presentation],
        before: Option<u64>,
        key: &str,
        generation: u64,
        sent: u64,
    ) -> Result<bool, StoreError> {
        let restoring = db("restoring the history");
        let mut tx = self.pool.begin().await.map_err(&restoring)?;
        let (held,): (i64,) = sqlx::query_as("SELECT count(*) FROM history")
            .fetch_one(&mut *tx)
            .await
            .map_err(&restoring)?;
        if before.is_some_and(|before| u64::try_from(held).ok() != Some(before)) {
            return Ok(false);
        }
        for entry in entries {
            let attributes =
                serde_json::to_string(&entry.attributes).map_err(|e| StoreError(e.to_string()))?;
            sqlx::query(
                "INSERT INTO history (at, channel, relying_party, relying_party_name, purpose, \
                 attributes, credential_id, held_for) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            )
            .bind(entry.at)
            .bind(&entry.channel)
            .bind(&entry.relying_party)
            .bind(&entry.relying_party_name)
            .bind(&entry.purpose)
            .bind(attributes)
            .bind(&entry.held_for)
            .execute(&mut *tx)
            .await
            .map_err(&restoring)?;
        }
        for (name, value) in [
            ("history_key", key.to_owned()),
            ("history_generation", generation.to_string()),
            ("history_sent", sent.to_string()),
        ] {
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES (?, ?) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(&restoring)?;
        }
        tx.commit().await.map_err(&restoring)?;
        Ok(true)
    }

    /// The history as JSON, for the holder to keep or hand to a data-protection request.
    pub async fn export_history(&self) -> Result<String, StoreError> {
        serde_json::to_string_pretty(&self.history().await?).map_err(|e| StoreError(e.to_string()))
    }
}
