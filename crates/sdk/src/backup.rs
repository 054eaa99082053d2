//! The presentation history backed up at the app's provider, end-to-end encrypted
//! (`eid_wallet::backup`): the SDK seals, the app carries the bytes to its provider's server
//! and back. The provider files them under the backup id and keeps them as they are; it
//! appends segments only for the backup's generation at the next place, and replaces a
//! generation only by the next one (`docs/sdk.md` says what its server checks).

use std::sync::{Arc, Mutex};

use eid_core::OsRandom;
use eid_wallet::backup::{
    BackupError, BackupState, HistoryBackup, NewBackup, Pending, RecoveryCode, StoredBackup,
};
use eid_wallet::keystore::KdfCost;
use eid_wallet::store::Presentation;

use super::{EidWallet, WalletError, on_sdk_threads};

impl From<BackupError> for WalletError {
    fn from(e: BackupError) -> Self {
        let message = e.to_string();
        match e {
            BackupError::MalformedCode
            | BackupError::WrongCode
            | BackupError::NoSecret
            | BackupError::AlreadyOn
            | BackupError::Exists
            | BackupError::Moved => Self::Invalid { message },
            _ => Self::Failed { message },
        }
    }
}

/// Where the wallet's history backup stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum HistoryBackupState {
    /// No history secret yet (given by a remote enrolment or a move with the face: a wallet
    /// enrolled at a counter has none): nothing can be backed up.
    Unavailable,
    /// Not backed up by this wallet: ask the provider for what it keeps under `backup_id`;
    /// restore that with the holder's recovery code, or start a backup if it keeps none.
    Off {
        /// Where the provider files the resident's backup.
        backup_id: String,
    },
    /// Backed up: send [`EidWallet::history_backup_pending`] after each presentation.
    On {
        /// Where the provider files it.
        backup_id: String,
    },
}

/// Segments for the provider to append, in order: the presentations recorded since it last
/// took some.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistorySegments {
    /// The backup they go to.
    pub backup_id: String,
    /// Its generation: the provider refuses them for another.
    pub generation: u64,
    /// The place of the first: the provider refuses them when it holds fewer, and takes
    /// those at places it holds as held.
    pub first: u64,
    /// The segments (opaque bytes).
    pub segments: Vec<Vec<u8>>,
}

/// A backup made (started, or the next generation of a restore): send [`Self::stored`] to
/// the provider to keep under [`Self::backup_id`] (in place of what it kept, after a
/// restore), then [`Self::confirm`]. Until then the wallet changes nothing.
#[derive(uniffi::Object)]
pub struct HistoryBackupMade {
    backup: HistoryBackup,
    backup_id: String,
    stored: String,
    recovery_code: Option<String>,
    restored: Vec<Presentation>,
    made: Mutex<Option<NewBackup>>,
}

impl std::fmt::Debug for HistoryBackupMade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryBackupMade").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl HistoryBackupMade {
    /// A started backup's recovery code, to show the holder this once (four groups of five
    /// letters and digits); none after a restore (she has it).
    pub fn recovery_code(&self) -> Option<String> {
        self.recovery_code.clone()
    }

    /// Where the provider keeps it.
    pub fn backup_id(&self) -> String {
        self.backup_id.clone()
    }

    /// What the provider keeps (JSON: the wrapped key and the segments, opaque to it).
    pub fn stored(&self) -> String {
        self.stored.clone()
    }

    /// How many entries a restore brings back (0 for a start).
    pub fn restored(&self) -> u64 {
        self.restored.len() as u64
    }

    /// The provider keeps [`Self::stored`]: the wallet keeps the key (and a restore's
    /// entries join the history). Once it succeeded, once only; a failed one may be tried
    /// again.
    pub async fn confirm(self: Arc<Self>) -> Result<(), WalletError> {
        on_sdk_threads(async move {
            let poisoned = || WalletError::Failed {
                message: "the backup's lock is poisoned".into(),
            };
            let made = self
                .made
                .lock()
                .map_err(|_| poisoned())?
                .take()
                .ok_or_else(|| WalletError::Invalid {
                    message: "this backup was confirmed already".into(),
                })?;
            let kept = if self.recovery_code.is_some() {
                self.backup.started(&made).await
            } else {
                self.backup.restored(&self.restored, &made).await
            };
            if let Err(e) = kept {
                *self.made.lock().map_err(|_| poisoned())? = Some(made);
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }
}

impl HistoryBackupMade {
    fn new(
        backup: HistoryBackup,
        backup_id: String,
        made: NewBackup,
        recovery_code: Option<String>,
        restored: Vec<Presentation>,
    ) -> Result<Arc<Self>, WalletError> {
        let stored = serde_json::to_string(&made.stored).map_err(|e| WalletError::Failed {
            message: format!("the backup could not be written: {e}"),
        })?;
        Ok(Arc::new(Self {
            backup,
            backup_id,
            stored,
            recovery_code,
            restored,
            made: Mutex::new(Some(made)),
        }))
    }
}

/// What the provider keeps, as the app got it back.
fn read_stored(stored: &str) -> Result<StoredBackup, WalletError> {
    serde_json::from_str(stored).map_err(|e| WalletError::Failed {
        message: format!("the provider's backup is not one: {e}"),
    })
}

#[uniffi::export]
impl EidWallet {
    /// Where the history backup stands.
    pub async fn history_backup_state(self: Arc<Self>) -> Result<HistoryBackupState, WalletError> {
        on_sdk_threads(async move {
            Ok(match self.backup().state().await? {
                BackupState::NoSecret => HistoryBackupState::Unavailable,
                BackupState::Off { backup_id } => HistoryBackupState::Off { backup_id },
                BackupState::On { backup_id, .. } => HistoryBackupState::On { backup_id },
            })
        })
        .await
    }

    /// Starts the history backup of everything held, when the provider keeps none under the
    /// backup id (`existing_generation`: the generation of what it keeps there, if anything
    /// — then this is refused: restore it; or, with `over`, the holder has lost her
    /// recovery code: the next generation replaces it and its entries are lost). Its
    /// recovery code is shown once.
    pub async fn start_history_backup(
        self: Arc<Self>,
        existing_generation: Option<u64>,
        over: bool,
    ) -> Result<Arc<HistoryBackupMade>, WalletError> {
        on_sdk_threads(async move {
            let existing = existing_generation;
            let backup = self.backup();
            let backup_id = off(&backup).await?;
            let (code, made) = backup
                .start(existing, over, KdfCost::RECOMMENDED, &OsRandom)
                .await?;
            let code = code.display().as_str().to_owned();
            HistoryBackupMade::new(backup, backup_id, made, Some(code), Vec::new())
        })
        .await
    }

    /// Restores the backup the provider keeps under the backup id (`stored`) with the
    /// holder's `recovery_code`: a wrong code is refused and changes nothing. The next
    /// generation is made for the provider to keep in place of `stored`.
    pub async fn restore_history_backup(
        self: Arc<Self>,
        stored: String,
        recovery_code: String,
    ) -> Result<Arc<HistoryBackupMade>, WalletError> {
        on_sdk_threads(async move {
            let stored = read_stored(&stored)?;
            let code = RecoveryCode::parse(&recovery_code)?;
            let backup = self.backup();
            let backup_id = off(&backup).await?;
            let (entries, next) = backup
                .restore(&stored, &code, KdfCost::RECOMMENDED, &OsRandom)
                .await?;
            HistoryBackupMade::new(backup, backup_id, next, None, entries)
        })
        .await
    }

    /// The presentations recorded since the provider last took some, sealed; none while the
    /// backup is off or nothing is new. Send them, then [`Self::history_backup_sent`].
    pub async fn history_backup_pending(
        self: Arc<Self>,
    ) -> Result<Option<HistorySegments>, WalletError> {
        on_sdk_threads(async move {
            Ok(self
                .backup()
                .pending(&OsRandom)
                .await?
                .map(|p| HistorySegments {
                    backup_id: p.backup_id,
                    generation: p.generation,
                    first: p.first,
                    segments: p.segments,
                }))
        })
        .await
    }

    /// The provider took `segments`.
    pub async fn history_backup_sent(
        self: Arc<Self>,
        segments: HistorySegments,
    ) -> Result<(), WalletError> {
        on_sdk_threads(async move {
            Ok(self
                .backup()
                .sent(&Pending {
                    backup_id: segments.backup_id,
                    generation: segments.generation,
                    first: segments.first,
                    segments: segments.segments,
                })
                .await?)
        })
        .await
    }
}

impl EidWallet {
    fn backup(&self) -> HistoryBackup {
        HistoryBackup::new(self.holder.store().clone())
    }
}

/// The backup id while the backup is off; refused otherwise.
async fn off(backup: &HistoryBackup) -> Result<String, WalletError> {
    match backup.state().await? {
        BackupState::Off { backup_id } => Ok(backup_id),
        BackupState::NoSecret => Err(BackupError::NoSecret.into()),
        BackupState::On { .. } => Err(BackupError::AlreadyOn.into()),
    }
}
