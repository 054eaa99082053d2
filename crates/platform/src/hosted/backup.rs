//! The history backup at the provider (`eid_wallet::backup`): the provider files each
//! resident's backup under its id, as opaque bytes — the wrapped key and the segments —
//! in its own SQLite file (`backups.db` beside the wallets' folder), apart from any wallet. It
//! checks only what it can see: a segment is appended for the backup's current generation
//! at the next place, and a restore replaces a generation by the next one.
//!
//! A hosted wallet's history also lives at the provider, in the wallet's own store: for it
//! the backup shows the flow a phone app follows (the history on the phone, the backup at
//! the provider), not a protection from the provider (docs/threat-model.md).

use eid_wallet::backup::{
    BackupError, BackupState, HistoryBackup, MAX_SEGMENT, MAX_SEGMENTS, Pending, RecoveryCode,
    StoredBackup, WrappedKey,
};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use super::*;

/// The provider's backups.
pub(super) struct Backups {
    pool: SqlitePool,
}

/// Why the provider refused to store a backup's bytes.
#[derive(Debug, thiserror::Error)]
pub(super) enum Kept {
    /// Another generation is current: a restore elsewhere moved it on.
    #[error(
        "the backup has moved to generation {0}: this wallet's history was restored on another phone"
    )]
    Stale(u64),
    /// The segments do not follow the ones kept.
    #[error("the backup holds {0} segments: the next must be at that place")]
    OutOfPlace(u64),
    /// Too many or too large.
    #[error("a backup holds at most {MAX_SEGMENTS} segments of at most {MAX_SEGMENT} bytes")]
    TooLarge,
    /// A backup exists where a first one was to be made.
    #[error("a backup exists already")]
    Exists,
    /// A stored wrapped key that is not one.
    #[error("a stored wrapped key cannot be read")]
    Unreadable,
    /// The database.
    #[error("the provider's backups: {0}")]
    Database(#[from] sqlx::Error),
}

impl Backups {
    /// Opens (creating) the provider's backups at `path`.
    pub(super) async fn open(path: PathBuf) -> Result<Self, sqlx::Error> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true),
            )
            .await?;
        for statement in [
            "CREATE TABLE IF NOT EXISTS backups (id TEXT PRIMARY KEY, generation INTEGER NOT NULL, wrapped_key TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS segments (backup TEXT NOT NULL REFERENCES backups (id), place INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (backup, place))",
        ] {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// The generation of the backup under `id`, if the provider keeps one.
    pub(super) async fn generation(&self, id: &str) -> Result<Option<u64>, Kept> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT generation FROM backups WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(g,)| g as u64))
    }

    /// The backup under `id`, if the provider keeps one.
    pub(super) async fn get(&self, id: &str) -> Result<Option<StoredBackup>, Kept> {
        let Some((generation, wrapped)): Option<(i64, String)> =
            sqlx::query_as("SELECT generation, wrapped_key FROM backups WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let segments: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT bytes FROM segments WHERE backup = ? ORDER BY place")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        let key: WrappedKey = serde_json::from_str(&wrapped).map_err(|_| Kept::Unreadable)?;
        Ok(Some(StoredBackup {
            generation: generation as u64,
            key,
            segments: segments.into_iter().map(|(s,)| b64url(&s)).collect(),
        }))
    }

    /// Stores `backup` under `id`: a first one where none is, or the next generation in
    /// place of the current one; all its segments at once.
    pub(super) async fn put(&self, id: &str, backup: &StoredBackup) -> Result<(), Kept> {
        if backup.segments.len() > MAX_SEGMENTS {
            return Err(Kept::TooLarge);
        }
        let segments = backup
            .segments
            .iter()
            .map(|s| eid_crypto::b64url_decode(s).map_err(|_| Kept::TooLarge))
            .collect::<Result<Vec<_>, _>>()?;
        if segments.iter().any(|s| s.len() > MAX_SEGMENT) {
            return Err(Kept::TooLarge);
        }
        let wrapped = serde_json::to_string(&backup.key).map_err(|_| Kept::Unreadable)?;
        let mut tx = self.pool.begin().await?;
        let current: Option<(i64,)> = sqlx::query_as("SELECT generation FROM backups WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        match current {
            None if backup.generation == 0 => {
                sqlx::query("INSERT INTO backups (id, generation, wrapped_key) VALUES (?, 0, ?)")
                    .bind(id)
                    .bind(&wrapped)
                    .execute(&mut *tx)
                    .await?;
            }
            Some((current,)) if backup.generation == current as u64 + 1 => {
                sqlx::query("DELETE FROM segments WHERE backup = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE backups SET generation = ?, wrapped_key = ? WHERE id = ?")
                    .bind(backup.generation as i64)
                    .bind(&wrapped)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => return Err(Kept::Stale(0)),
            Some(_) if backup.generation == 0 => return Err(Kept::Exists),
            Some((current,)) => return Err(Kept::Stale(current as u64)),
        }
        for (place, bytes) in segments.iter().enumerate() {
            sqlx::query("INSERT INTO segments (backup, place, bytes) VALUES (?, ?, ?)")
                .bind(id)
                .bind(place as i64)
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends `pending`'s segments: for the current generation, at the next places. Those
    /// at places it holds already are taken as held (the wallet did not hear that it had
    /// them: it sends them again, sealed afresh, and carries on).
    pub(super) async fn append(&self, pending: &Pending) -> Result<(), Kept> {
        if pending.segments.iter().any(|s| s.len() > MAX_SEGMENT) {
            return Err(Kept::TooLarge);
        }
        let mut tx = self.pool.begin().await?;
        let current: Option<(i64, i64)> = sqlx::query_as(
            "SELECT generation, (SELECT count(*) FROM segments WHERE backup = ?) FROM backups WHERE id = ?",
        )
        .bind(&pending.backup_id)
        .bind(&pending.backup_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((generation, held)) = current else {
            return Err(Kept::Stale(0));
        };
        if generation as u64 != pending.generation {
            return Err(Kept::Stale(generation as u64));
        }
        let held = held as u64;
        let end = pending.first + pending.segments.len() as u64;
        if pending.first > held || end < held {
            return Err(Kept::OutOfPlace(held));
        }
        if end as usize > MAX_SEGMENTS {
            return Err(Kept::TooLarge);
        }
        for (place, bytes) in (pending.first..)
            .zip(&pending.segments)
            .skip((held - pending.first) as usize)
        {
            sqlx::query("INSERT INTO segments (backup, place, bytes) VALUES (?, ?, ?)")
                .bind(&pending.backup_id)
                .bind(place as i64)
                .bind(bytes)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A backup refusal as the hosted wallet's answer.
fn backup_refusal(e: BackupError) -> Refused {
    match e {
        e @ (BackupError::MalformedCode | BackupError::WrongCode) => {
            Refused::new(422, "wrong_recovery_code", e.to_string())
        }
        e @ BackupError::NoSecret => Refused::new(409, "no_history_secret", e.to_string()),
        e @ (BackupError::AlreadyOn | BackupError::Exists) => {
            Refused::new(409, "backup_exists", e.to_string())
        }
        e @ BackupError::Moved => Refused::new(409, "restore_again", e.to_string()),
        e @ (BackupError::Altered(_) | BackupError::Damaged(_)) => {
            Refused::new(422, "backup_damaged", e.to_string())
        }
        e => Refused::internal(e),
    }
}

fn kept_refusal(e: Kept) -> Refused {
    match e {
        e @ (Kept::Stale(_) | Kept::OutOfPlace(_)) => {
            Refused::new(409, "backup_moved_on", e.to_string())
        }
        e @ Kept::Exists => Refused::new(409, "backup_exists", e.to_string()),
        e => Refused::internal(e),
    }
}

/// A wallet whose backup is off, held for a start or a restore: the wallet kept open and
/// its keystore held (no presentation that needs a key meanwhile).
struct BackupOff {
    _wallet: Arc<Wallet>,
    _keys: OwnedMutexGuard<SoftwareKeystore>,
    backup: HistoryBackup,
    backup_id: String,
}

/// Runs `work` — a backup's start or restore, with its Argon2id — on a blocking thread in
/// one of the key-derivation slots the PIN uses, not on the service's async workers.
async fn derive_keys<T: Send + 'static>(
    work: impl Future<Output = Result<T, BackupError>> + Send + 'static,
) -> Result<T, Refused> {
    let _slot = KEY_DERIVATIONS
        .acquire()
        .await
        .map_err(|_| Refused::internal("key derivation slots closed"))?;
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(work))
        .await
        .map_err(Refused::internal)?
        .map_err(backup_refusal)
}

impl Provider {
    async fn backups(&self) -> Result<&Backups, Refused> {
        self.backups
            .get_or_try_init(|| Backups::open(self.dir.with_file_name("backups.db")))
            .await
            .map_err(Refused::internal)
    }

    /// Where the wallet's history backup stands, for its page: `unavailable` (no history
    /// secret: enrolled at a counter, or not yet), `off`, `restorable` (the provider holds
    /// the resident's backup: restore it with the recovery code) or `on`.
    pub(super) async fn backup_state(&self, wallet: &Wallet) -> Result<&'static str, Refused> {
        let state = HistoryBackup::new(wallet.store.clone())
            .state()
            .await
            .map_err(backup_refusal)?;
        Ok(match state {
            BackupState::NoSecret => "unavailable",
            BackupState::On { .. } => "on",
            BackupState::Off { backup_id } => {
                let kept = self.backups().await?.generation(&backup_id).await;
                if kept.map_err(kept_refusal)?.is_some() {
                    "restorable"
                } else {
                    "off"
                }
            }
        })
    }

    /// The wallet `id`'s keystore opened with the PIN and held — no presentation that needs
    /// a key is made while a backup starts or restores (one recorded anyway makes a restore
    /// keep nothing; it can be run again) — its backup, and the backup id, while the backup
    /// is off; refused otherwise.
    async fn backup_off(&self, id: &str, pin: &str) -> Result<BackupOff, Refused> {
        let wallet = self.wallet(id).await?;
        let (keys, _) = Self::open_keys(&wallet, pin).await?;
        let backup = HistoryBackup::new(wallet.store.clone());
        match backup.state().await.map_err(backup_refusal)? {
            BackupState::Off { backup_id } => Ok(BackupOff {
                _wallet: wallet,
                _keys: keys,
                backup,
                backup_id,
            }),
            BackupState::NoSecret => Err(backup_refusal(BackupError::NoSecret)),
            BackupState::On { .. } => Err(backup_refusal(BackupError::AlreadyOn)),
        }
    }

    /// Starts the wallet's history backup (the PIN given): the recovery code, shown to the
    /// holder this once, and how many entries the backup holds. With `over`, the holder
    /// has lost her code: the backup the provider keeps of her history is replaced (its
    /// entries lost), else that one is refused (`backup_exists`: restore it).
    pub async fn backup_start(&self, id: &str, pin: &str, over: bool) -> Result<Value, Refused> {
        let BackupOff {
            _wallet,
            _keys,
            backup,
            backup_id,
        } = self.backup_off(id, pin).await?;
        let existing = self
            .backups()
            .await?
            .generation(&backup_id)
            .await
            .map_err(kept_refusal)?;
        let random = self.random.clone();
        let started = backup.clone();
        let (code, made) = derive_keys(async move {
            started
                .start(existing, over, KdfCost::RECOMMENDED, &*random)
                .await
        })
        .await?;
        // The provider's generation check decides between two starts at once.
        let _guard = self.backup_lock.lock().await;
        self.backups()
            .await?
            .put(&backup_id, &made.stored)
            .await
            .map_err(kept_refusal)?;
        backup.started(&made).await.map_err(backup_refusal)?;
        Ok(json!({
            "recovery_code": code.display().as_str(),
            "entries": made.stored.segments.len(),
        }))
    }

    /// Restores the resident's history into this wallet with her recovery code (the PIN
    /// given): how many entries came back. The provider's backup moves to the next
    /// generation, which the lost phone cannot add to.
    pub async fn backup_restore(
        &self,
        id: &str,
        pin: &str,
        recovery_code: &str,
    ) -> Result<Value, Refused> {
        let code = RecoveryCode::parse(recovery_code).map_err(backup_refusal)?;
        let BackupOff {
            _wallet,
            _keys,
            backup,
            backup_id,
        } = self.backup_off(id, pin).await?;
        let stored = self
            .backups()
            .await?
            .get(&backup_id)
            .await
            .map_err(kept_refusal)?
            .ok_or_else(|| {
                Refused::new(
                    404,
                    "no_backup",
                    "this provider holds no backup of your history (it was made with another provider, or never)",
                )
            })?;
        let random = self.random.clone();
        let restoring = backup.clone();
        let (entries, next) = derive_keys(async move {
            restoring
                .restore(&stored, &code, KdfCost::RECOMMENDED, &*random)
                .await
        })
        .await?;
        let _guard = self.backup_lock.lock().await;
        self.backups()
            .await?
            .put(&backup_id, &next.stored)
            .await
            .map_err(kept_refusal)?;
        backup
            .restored(&entries, &next)
            .await
            .map_err(backup_refusal)?;
        Ok(json!({ "restored": entries.len() }))
    }

    /// Sends the presentations recorded since the last ones to the wallet's backup, when it
    /// is on. A failure is logged (its code) and the next presentation sends from the first
    /// entry the backup lacks; a backup that moved on (restored on another phone) is
    /// forgotten by this wallet, which then offers to restore it.
    pub(super) async fn sync_backup(&self, wallet: &Wallet) {
        let backup = HistoryBackup::new(wallet.store.clone());
        let synced = async {
            let _guard = self.backup_lock.lock().await;
            let Some(pending) = backup
                .pending(&*self.random)
                .await
                .map_err(backup_refusal)?
            else {
                return Ok(());
            };
            match self.backups().await?.append(&pending).await {
                Ok(()) => backup.sent(&pending).await.map_err(backup_refusal),
                Err(Kept::Stale(_)) => {
                    backup.stale().await.map_err(backup_refusal)?;
                    Err(Refused::new(409, "backup_moved_on", "the backup moved on"))
                }
                // It holds fewer than the wallet counted (it lost the newest): sent again
                // from there, with the next presentation.
                Err(Kept::OutOfPlace(held)) if held < pending.first => {
                    backup.resend_from(held).await.map_err(backup_refusal)?;
                    Err(Refused::new(
                        409,
                        "backup_behind",
                        "the backup lost entries",
                    ))
                }
                Err(e) => Err(kept_refusal(e)),
            }
        };
        if let Err(refused) = synced.await {
            tracing::warn!(target: "eid::provider", code = refused.code, "the history backup was not brought up to date");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(generation: u64, segments: usize) -> StoredBackup {
        StoredBackup {
            generation,
            key: WrappedKey {
                version: 1,
                m_kib: 8,
                t: 1,
                p: 1,
                salt: String::new(),
                sealed: String::new(),
            },
            segments: (0..segments).map(|i| b64url(&[i as u8; 4])).collect(),
        }
    }

    fn pending(generation: u64, first: u64, segments: usize) -> Pending {
        Pending {
            backup_id: "her".into(),
            generation,
            first,
            segments: vec![vec![9; 4]; segments],
        }
    }

    /// What the provider checks: a first backup once, the next generation only in place of
    /// the current one, appends for the current generation at the next place — those it
    /// holds already taken as held — and nothing else.
    #[tokio::test]
    async fn the_provider_keeps_generations_and_places() {
        let dir = std::env::temp_dir().join(format!("eid-backups-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let backups = Backups::open(dir.join("backups.db")).await.unwrap();
        assert!(matches!(
            backups.append(&pending(0, 0, 1)).await,
            Err(Kept::Stale(0))
        ));
        assert!(matches!(
            backups.put("her", &backup(1, 0)).await,
            Err(Kept::Stale(0))
        ));
        backups.put("her", &backup(0, 1)).await.unwrap();
        assert!(matches!(
            backups.put("her", &backup(0, 1)).await,
            Err(Kept::Exists)
        ));
        // The wallet did not hear that place 0 was taken: it sends 0 and 1; 1 is appended.
        backups.append(&pending(0, 0, 2)).await.unwrap();
        assert_eq!(backups.get("her").await.unwrap().unwrap().segments.len(), 2);
        assert!(matches!(
            backups.append(&pending(0, 3, 1)).await,
            Err(Kept::OutOfPlace(2))
        ));
        assert!(matches!(
            backups.append(&pending(0, 0, 1)).await,
            Err(Kept::OutOfPlace(2))
        ));
        // A restore elsewhere: generation 1 replaces 0; the old generation is refused.
        backups.put("her", &backup(1, 3)).await.unwrap();
        let kept = backups.get("her").await.unwrap().unwrap();
        assert_eq!((kept.generation, kept.segments.len()), (1, 3));
        assert!(matches!(
            backups.append(&pending(0, 2, 1)).await,
            Err(Kept::Stale(1))
        ));
        assert!(matches!(
            backups.put("her", &backup(3, 0)).await,
            Err(Kept::Stale(1))
        ));
        let too_long = Pending {
            segments: vec![vec![0; MAX_SEGMENT + 1]],
            ..pending(1, 3, 0)
        };
        assert!(matches!(
            backups.append(&too_long).await,
            Err(Kept::TooLarge)
        ));
        assert_eq!(backups.generation("her").await.unwrap(), Some(1));
        assert_eq!(backups.generation("another").await.unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
