//! The authority's issuance and lifecycle state: offers, access tokens, nonces, logical
//! credentials with their status-list instances, the audit log, and proofing failures.
//!
//! The SQL here is the same text on both backends (`$n` parameters, which SQLite reads as
//! numbered names), run through [`on_pool!`]; the schemas differ only in types
//! (`migrations/*/0002_issuance.sql`). Bearer secrets (codes, tokens, nonces) arrive here
//! already hashed.

use eid_core::Random;

use crate::{Backend, Partition, StoreError, WritePool, db, retrying};

/// Runs `$body` with `$pool` bound to whichever pool the store has: the same SQL, compiled
/// once per driver.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// A credential's status, with the Token Status List values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialState {
    /// 0.
    Valid,
    /// 1: revoked, for good.
    Invalid,
    /// 2: suspended (lost phone), may be reinstated.
    Suspended,
}

impl CredentialState {
    /// The status list value.
    pub fn value(self) -> u8 {
        match self {
            Self::Valid => 0,
            Self::Invalid => 1,
            Self::Suspended => 2,
        }
    }

    /// `valid`, `invalid` or `suspended`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Suspended => "suspended",
        }
    }

    /// The notice a wallet gets when its credentials move to this state
    /// (`credentials_valid`, `credentials_invalid`, `credentials_suspended`).
    pub fn notice(self) -> &'static str {
        match self {
            Self::Valid => "credentials_valid",
            Self::Invalid => "credentials_invalid",
            Self::Suspended => "credentials_suspended",
        }
    }

    pub(crate) fn from_value(value: i64) -> Result<Self, StoreError> {
        match value {
            0 => Ok(Self::Valid),
            1 => Ok(Self::Invalid),
            2 => Ok(Self::Suspended),
            _ => Err(StoreError::Corrupt("credential status")),
        }
    }

    /// The states a change to `self` may start from: suspend from valid, reinstate from
    /// suspended, revoke from either (revocation is final).
    pub(crate) fn allowed_from(self) -> &'static [i64] {
        match self {
            Self::Suspended => &[0],
            Self::Valid => &[2],
            Self::Invalid => &[0, 2],
        }
    }
}

/// A new offer, made after enrolment.
#[derive(Debug)]
pub struct NewOffer<'a> {
    /// SHA-256 of the pre-authorized code.
    pub code_hash: &'a str,
    /// Whose credential it offers.
    pub id_number: &'a str,
    /// The configuration ids offered.
    pub configurations: &'a [String],
    /// SHA-256 of the transaction code, when one is required.
    pub tx_code_hash: Option<&'a str>,
    /// Until when it can be redeemed (Unix seconds).
    pub expires_at: i64,
    /// The wallet (`provider/instance`) it is for, when only that wallet may redeem it.
    pub wallet: Option<&'a str>,
}

/// What redeeming a pre-authorized code came to.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redemption {
    /// An access token was stored for the offer's resident and configurations.
    Granted {
        /// The resident.
        id_number: String,
        /// The configurations the token may obtain.
        configurations: Vec<String>,
    },
    /// No offer has this code.
    UnknownCode,
    /// The offer expired.
    Expired,
    /// The code was already exchanged.
    AlreadyRedeemed,
    /// The offer requires a transaction code and none came.
    TxCodeRequired,
    /// The transaction code is wrong; the offer is void after too many tries.
    WrongTxCode {
        /// Tries left before the offer is void.
        attempts_left: i64,
    },
}

/// A valid access token's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// The resident.
    pub id_number: String,
    /// The configurations it may obtain.
    pub configurations: Vec<String>,
    /// The wallet (`provider/instance`) the offer was made for, when remote enrolment
    /// bound it to one.
    pub wallet: Option<String>,
}

/// A logical credential to record: one batch for one wallet instance.
#[derive(Debug)]
pub struct NewCredential<'a> {
    /// Its id (random).
    pub id: &'a str,
    /// The resident.
    pub id_number: &'a str,
    /// The wallet provider.
    pub provider: &'a str,
    /// The wallet instance.
    pub wallet_instance: &'a str,
    /// The configuration issued.
    pub configuration: &'a str,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Which credentials a lifecycle action addresses.
#[derive(Debug, Clone, Copy)]
pub enum Selector<'a> {
    /// One logical credential (all instances of its batch).
    Credential(&'a str),
    /// Everything held by one wallet instance (a lost phone).
    WalletInstance {
        /// The wallet provider.
        provider: &'a str,
        /// The instance.
        instance: &'a str,
    },
    /// Everything issued to a resident.
    Resident(&'a str),
}

/// A credential as stored, without personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// Its id.
    pub id: String,
    /// The wallet provider.
    pub provider: String,
    /// The wallet instance.
    pub wallet_instance: String,
    /// The configuration.
    pub configuration: String,
    /// Its state.
    pub state: CredentialState,
    /// Its instances' status list positions: (shard, index).
    pub instances: Vec<(u64, u64)>,
}

/// One shard's entries that are not VALID, for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStatuses {
    /// The shard's size (entries).
    pub size: u64,
    /// Bumped by every change to an entry of the shard.
    pub version: u64,
    /// (index, status value) of every entry not VALID.
    pub entries: Vec<(u64, u8)>,
}

/// An audit entry. Subjects are credential ids, wallet instances or pseudonyms: never a
/// name or an identity number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// Who acted (`wallet:…`, `admin`, `registry`).
    pub actor: String,
    /// What was done (`issue`, `suspend`, `enrol`, …).
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// `ok`, `refused`, …
    pub outcome: String,
    /// The reason, or what changed.
    pub detail: String,
}

pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Partition {
    /// Stores an offer.
    pub(crate) async fn create_offer(&self, offer: &NewOffer<'_>) -> Result<(), StoreError> {
        let configurations = serde_json::to_string(offer.configurations)
            .map_err(|_| StoreError::Corrupt("offer"))?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO offers (code_hash, id_number, configurations, tx_code_hash, expires_at, wallet)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(offer.code_hash)
        .bind(offer.id_number)
        .bind(&configurations)
        .bind(offer.tx_code_hash)
        .bind(offer.expires_at)
        .bind(offer.wallet)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(db("storing an offer"))
    }

    /// Redeems a pre-authorized code once: one conditional update marks the offer redeemed
    /// only while it is unredeemed, unexpired, not voided by wrong transaction codes and the
    /// code matches, and the access token (bound to the offer's wallet, if any) is stored
    /// in the same transaction — two concurrent redemptions cannot both win. Otherwise the
    /// offer is read to say why, and a wrong transaction code is counted atomically (the
    /// offer is void after `max_tx_failures`).
    pub(crate) async fn redeem_offer(
        &self,
        code_hash: &str,
        tx_code_hash: Option<&str>,
        now: i64,
        token_hash: &str,
        token_expires_at: i64,
        max_tx_failures: i64,
    ) -> Result<Redemption, StoreError> {
        retrying("redeeming an offer", || {
            self.redeem_offer_once(
                code_hash,
                tx_code_hash,
                now,
                token_hash,
                token_expires_at,
                max_tx_failures,
            )
        })
        .await
    }

    async fn redeem_offer_once(
        &self,
        code_hash: &str,
        tx_code_hash: Option<&str>,
        now: i64,
        token_hash: &str,
        token_expires_at: i64,
        max_tx_failures: i64,
    ) -> Result<Redemption, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("redeeming an offer"))?;
            let won: Option<(String, String, Option<String>)> = sqlx::query_as(
                "UPDATE offers SET redeemed = $1
                 WHERE code_hash = $2 AND redeemed = $3 AND expires_at > $4 AND tx_failures < $5
                   AND (tx_code_hash IS NULL OR tx_code_hash = $6)
                 RETURNING id_number, configurations, wallet",
            )
            .bind(true)
            .bind(code_hash)
            .bind(false)
            .bind(now)
            .bind(max_tx_failures)
            .bind(tx_code_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("redeeming an offer"))?;
            if let Some((id_number, configurations, wallet)) = won {
                sqlx::query(
                    "INSERT INTO access_tokens (token_hash, id_number, configurations, expires_at, wallet)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(&id_number)
                .bind(&configurations)
                .bind(token_expires_at)
                .bind(&wallet)
                .execute(&mut *tx)
                .await
                .map_err(db("storing an access token"))?;
                tx.commit().await.map_err(db("redeeming an offer"))?;
                let configurations: Vec<String> = serde_json::from_str(&configurations)
                    .map_err(|_| StoreError::Corrupt("offer"))?;
                return Ok(Redemption::Granted { id_number, configurations });
            }
            tx.rollback().await.map_err(db("redeeming an offer"))?;
            // Why not: read the offer (nothing is decided on this read but the answer).
            let row: Option<(Option<String>, i64, i64, bool)> = sqlx::query_as(
                "SELECT tx_code_hash, tx_failures, expires_at, redeemed FROM offers WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(pool)
            .await
            .map_err(db("reading an offer"))?;
            let Some((expected_tx, failures, expires_at, redeemed)) = row else {
                return Ok(Redemption::UnknownCode);
            };
            if redeemed {
                return Ok(Redemption::AlreadyRedeemed);
            }
            if expires_at <= now || failures >= max_tx_failures {
                return Ok(Redemption::Expired);
            }
            match (expected_tx, tx_code_hash) {
                (Some(_), None) => Ok(Redemption::TxCodeRequired),
                (Some(_), Some(_)) => {
                    let counted: Option<(i64,)> = sqlx::query_as(
                        "UPDATE offers SET tx_failures = tx_failures + 1
                         WHERE code_hash = $1 AND tx_failures < $2 RETURNING tx_failures",
                    )
                    .bind(code_hash)
                    .bind(max_tx_failures)
                    .fetch_optional(pool)
                    .await
                    .map_err(db("counting a wrong transaction code"))?;
                    Ok(match counted {
                        Some((n,)) => Redemption::WrongTxCode { attempts_left: max_tx_failures - n },
                        None => Redemption::Expired,
                    })
                }
                // Redeemed or voided between the update and the read.
                (None, _) => Ok(Redemption::AlreadyRedeemed),
            }
        })
    }

    /// Voids a resident's unredeemed offers and live access tokens (a revocation, a lost
    /// card or a re-binding must not leave a door open). Returns how many were voided.
    pub(crate) async fn void_pending(&self, id_number: &str) -> Result<u64, StoreError> {
        retrying("voiding offers", || self.void_pending_once(id_number)).await
    }

    async fn void_pending_once(&self, id_number: &str) -> Result<u64, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("voiding offers"))?;
            let offers = sqlx::query("UPDATE offers SET redeemed = $1 WHERE id_number = $2 AND redeemed = $3")
                .bind(true)
                .bind(id_number)
                .bind(false)
                .execute(&mut *tx)
                .await
                .map_err(db("voiding offers"))?
                .rows_affected();
            let tokens = sqlx::query("DELETE FROM access_tokens WHERE id_number = $1")
                .bind(id_number)
                .execute(&mut *tx)
                .await
                .map_err(db("voiding access tokens"))?
                .rows_affected();
            tx.commit().await.map_err(db("voiding offers"))?;
            Ok(offers + tokens)
        })
    }

    /// The grant of an unexpired access token.
    pub(crate) async fn access_grant(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessGrant>, StoreError> {
        let row: Option<(String, String, Option<String>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id_number, configurations, wallet FROM access_tokens
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)
        .map_err(db("reading an access token"))?;
        row.map(|(id_number, configurations, wallet)| {
            Ok(AccessGrant {
                id_number,
                wallet,
                configurations: serde_json::from_str(&configurations)
                    .map_err(|_| StoreError::Corrupt("access token"))?,
            })
        })
        .transpose()
    }

    /// Marks `configuration` issued under the token; false if it already was, or if the
    /// token is gone (voided by a suspension, revocation or re-binding of its resident
    /// since it was read: the foreign key refuses the mark).
    pub(crate) async fn mark_issued(
        &self,
        token_hash: &str,
        configuration: &str,
    ) -> Result<bool, StoreError> {
        let marked = on_pool!(self, pool => sqlx::query(
            "INSERT INTO token_issuances (token_hash, configuration) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(token_hash)
        .bind(configuration)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1));
        match marked {
            Err(sqlx::Error::Database(e))
                if e.kind() == sqlx::error::ErrorKind::ForeignKeyViolation =>
            {
                Ok(false)
            }
            other => other.map_err(db("recording an issuance")),
        }
    }

    /// Undoes [`Store::mark_issued`] when the issuance then failed, so it can be retried.
    pub(crate) async fn unmark_issued(
        &self,
        token_hash: &str,
        configuration: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "DELETE FROM token_issuances WHERE token_hash = $1 AND configuration = $2",
        )
        .bind(token_hash)
        .bind(configuration)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(db("undoing an issuance"))
    }

    /// Stores a c_nonce (hashed) until `expires_at`, and drops expired ones.
    pub(crate) async fn create_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM nonces WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map_err(db("dropping expired nonces"))?;
            sqlx::query("INSERT INTO nonces (nonce_hash, expires_at) VALUES ($1, $2)")
                .bind(nonce_hash)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(db("storing a nonce"))
        })
    }

    /// Uses a nonce up: true if it existed unexpired (and is now gone).
    pub(crate) async fn consume_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => sqlx::query(
            "DELETE FROM nonces WHERE nonce_hash = $1 AND expires_at > $2",
        )
        .bind(nonce_hash)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(db("using a nonce"))
    }

    /// The key stored under `name`, storing `fresh` first when there is none (the first of
    /// several replicas starting at once wins; every one gets the same).
    pub(crate) async fn shared_key(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO authority_keys (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(name)
                .bind(fresh)
                .execute(pool)
                .await
                .map_err(db("storing a key"))?;
            sqlx::query_scalar("SELECT value FROM authority_keys WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await
                .map_err(db("reading a key"))
        })
    }

    /// The highest shard opened and its size; `None` before the first.
    pub(crate) async fn top_shard(&self) -> Result<Option<(u64, u64)>, StoreError> {
        let top: Option<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT shard, size FROM status_shards ORDER BY shard DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await)
        .map_err(db("reading status shards"))?;
        Ok(top.map(|(shard, size)| (count(shard), count(size))))
    }

    /// Opens shards 0 to `top` that are not open yet, empty, of `size` entries.
    pub(crate) async fn open_shards_through(&self, top: u64, size: u64) -> Result<(), StoreError> {
        retrying("opening status shards", || async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_write().await.map_err(db("opening status shards"))?;
                for shard in 0..=signed(top) {
                    sqlx::query("INSERT INTO status_shards (shard, size) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(shard)
                        .bind(signed(size))
                        .execute(&mut *tx)
                        .await
                        .map_err(db("opening status shards"))?;
                }
                tx.commit().await.map_err(db("opening status shards"))
            })
        })
        .await
    }

    /// Records a logical credential and allocates a random status list index for each of
    /// its `instances`, in one transaction: in the lowest shard less than ¾ full (herd
    /// privacy: indices stay spread), else in a new shard of `shard_size`. Once a shard is
    /// half full the next one is opened, empty, so that it is published ahead of use.
    /// Returns the (shard, index) of each instance.
    pub(crate) async fn record_credential(
        &self,
        credential: &NewCredential<'_>,
        instances: u32,
        shard_size: u64,
        random: &dyn Random,
    ) -> Result<(Vec<(u64, u64)>, u64), StoreError> {
        retrying("recording a credential", || {
            self.record_credential_once(credential, instances, shard_size, random)
        })
        .await
    }

    async fn record_credential_once(
        &self,
        credential: &NewCredential<'_>,
        instances: u32,
        shard_size: u64,
        random: &dyn Random,
    ) -> Result<(Vec<(u64, u64)>, u64), StoreError> {
        let n = i64::from(instances);
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("recording a credential"))?;
            sqlx::query(
                "INSERT INTO credentials
                 (id, id_number, provider, wallet_instance, configuration, issued_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(credential.id)
            .bind(credential.id_number)
            .bind(credential.provider)
            .bind(credential.wallet_instance)
            .bind(credential.configuration)
            .bind(credential.issued_at)
            .bind(credential.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db("recording a credential"))?;
            // The lowest shard with room below ¾ (herd privacy: indices stay spread).
            let room: Option<(i64, i64, i64)> = sqlx::query_as(
                "SELECT shard, size, allocated FROM status_shards
                 WHERE (allocated + $1) * 4 <= size * 3 ORDER BY shard LIMIT 1",
            )
            .bind(n)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading status shards"))?;
            let (shard, size, allocated) = match room {
                Some(found) => found,
                None => {
                    let newest: Option<i64> =
                        sqlx::query_scalar("SELECT max(shard) FROM status_shards")
                            .fetch_one(&mut *tx)
                            .await
                            .map_err(db("reading status shards"))?;
                    let shard = newest.map_or(0, |s| s + 1);
                    let size = signed(shard_size);
                    // Two issuers opening the same shard at once: the second keeps the first's.
                    sqlx::query("INSERT INTO status_shards (shard, size) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(shard)
                        .bind(size)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("opening a status shard"))?;
                    (shard, size, 0)
                }
            };
            // Past half, the next shard is opened — published, still empty — so that
            // verifiers following the shards hold it before any credential points into it
            // (allocation moves there only at ¾).
            let mut top = shard;
            if (allocated + n) * 2 > size {
                top = shard + 1;
                sqlx::query("INSERT INTO status_shards (shard, size) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(shard + 1)
                    .bind(signed(shard_size))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("opening a status shard"))?;
            }
            let mut taken = Vec::with_capacity(instances as usize);
            while taken.len() < instances as usize {
                let mut word = [0u8; 8];
                random.fill(&mut word).map_err(|_| StoreError::Corrupt("random source"))?;
                let idx = signed(u64::from_le_bytes(word) % count(size));
                let done = sqlx::query(
                    "INSERT INTO credential_instances (shard, idx, credential) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(shard)
                .bind(idx)
                .bind(credential.id)
                .execute(&mut *tx)
                .await
                .map_err(db("allocating a status index"))?;
                if done.rows_affected() == 1 {
                    taken.push((count(shard), count(idx)));
                }
            }
            sqlx::query("UPDATE status_shards SET allocated = allocated + $2 WHERE shard = $1")
                .bind(shard)
                .bind(n)
                .execute(&mut *tx)
                .await
                .map_err(db("allocating status indices"))?;
            tx.commit().await.map_err(db("recording a credential"))?;
            Ok((taken, count(top)))
        })
    }

    /// Moves the selected credentials whose state allows it to `to` (suspend: from VALID;
    /// reinstate: from SUSPENDED, and only while the resident's card is valid and the
    /// resident alive; revoke: from either), all instances of each batch at once,
    /// and bumps the version of every shard touched, in one transaction. Returns the
    /// credentials that changed, with their instances.
    pub(crate) async fn set_state(
        &self,
        selector: Selector<'_>,
        to: CredentialState,
        at: i64,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        retrying("changing credential states", || {
            self.set_state_once(selector, to, at)
        })
        .await
    }

    async fn set_state_once(
        &self,
        selector: Selector<'_>,
        to: CredentialState,
        at: i64,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let from = to.allowed_from();
        let (first, last) = (from[0], from[from.len() - 1]);
        // The parameters in order of appearance: SQLite numbers `$n` names by first use.
        let (select, a, b): (&str, &str, Option<&str>) = match selector {
            Selector::Credential(id) => (
                "SELECT id, provider, wallet_instance, configuration FROM credentials
                 WHERE id = $1 AND status IN ($2, $3) ORDER BY id",
                id,
                None,
            ),
            Selector::WalletInstance { provider, instance } => (
                "SELECT id, provider, wallet_instance, configuration FROM credentials
                 WHERE provider = $1 AND wallet_instance = $2 AND status IN ($3, $4) ORDER BY id",
                provider,
                Some(instance),
            ),
            Selector::Resident(number) => (
                "SELECT id, provider, wallet_instance, configuration FROM credentials
                 WHERE id_number = $1 AND status IN ($2, $3) ORDER BY id",
                number,
                None,
            ),
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("changing credential states"))?;
            let mut query = sqlx::query_as::<_, (String, String, String, String)>(select).bind(a);
            if let Some(b) = b {
                query = query.bind(b);
            }
            let query = query.bind(first).bind(last);
            let rows = query.fetch_all(&mut *tx).await.map_err(db("selecting credentials"))?;
            let mut changed = Vec::with_capacity(rows.len());
            let mut noticed = std::collections::BTreeSet::new();
            for (id, provider, wallet_instance, configuration) in rows {
                // The state is checked again where it is written: a concurrent revocation
                // between the select and here wins (revocation is final). A credential is
                // reinstated only while its resident's card is valid and the resident alive.
                let update = if to == CredentialState::Valid {
                    "UPDATE credentials SET status = $1 WHERE id = $2 AND status IN ($3, $4)
                     AND id_number IN (SELECT id_number FROM residents
                                       WHERE card_state = 'valid' AND deceased = $5)"
                } else {
                    "UPDATE credentials SET status = $1 WHERE id = $2 AND status IN ($3, $4)"
                };
                let mut query = sqlx::query(update)
                    .bind(i64::from(to.value()))
                    .bind(&id)
                    .bind(first)
                    .bind(last);
                if to == CredentialState::Valid {
                    query = query.bind(false);
                }
                let done = query
                    .execute(&mut *tx)
                    .await
                    .map_err(db("changing a credential state"))?;
                if done.rows_affected() == 0 {
                    continue;
                }
                // The instances carry the status too (the shard's list is read from them).
                let mut instances: Vec<(i64, i64)> = sqlx::query_as(
                    "UPDATE credential_instances SET status = $1 WHERE credential = $2
                     RETURNING shard, idx",
                )
                .bind(i64::from(to.value()))
                .bind(&id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db("changing instances"))?;
                instances.sort_unstable();
                // Its events, in the same transaction (see `crate::outbox`): one per
                // instance, and a notice to the wallet holding it.
                for &(shard, idx) in &instances {
                    sqlx::query(
                        "INSERT INTO outbox (at, kind, shard, idx, status)
                         VALUES ($1, 'status', $2, $3, $4)",
                    )
                    .bind(at)
                    .bind(shard)
                    .bind(idx)
                    .bind(i64::from(to.value()))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("writing the outbox"))?;
                }
                // One notice per wallet, however many of its credentials changed.
                if noticed.insert((provider.clone(), wallet_instance.clone())) {
                    sqlx::query(
                        "INSERT INTO outbox (at, kind, provider, wallet_instance, notice)
                         VALUES ($1, 'notice', $2, $3, $4)",
                    )
                    .bind(at)
                    .bind(&provider)
                    .bind(&wallet_instance)
                    .bind(to.notice())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("writing the outbox"))?;
                }
                changed.push(CredentialRecord {
                    id,
                    provider,
                    wallet_instance,
                    configuration,
                    state: to,
                    instances: instances.into_iter().map(|(s, i)| (count(s), count(i))).collect(),
                });
            }
            // Every shard touched gets a new version, last and in ascending order: on
            // PostgreSQL the shard rows are the ones every change shares, so taking their
            // locks last and in one order keeps concurrent changes from deadlocking.
            let shards: std::collections::BTreeSet<i64> = changed
                .iter()
                .flat_map(|c| c.instances.iter().map(|&(shard, _)| signed(shard)))
                .collect();
            for shard in shards {
                sqlx::query("UPDATE status_shards SET version = version + 1 WHERE shard = $1")
                    .bind(shard)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("changing a credential state"))?;
            }
            tx.commit().await.map_err(db("changing credential states"))?;
            Ok(changed)
        })
    }

    /// How many credentials (batches) `selector` addresses, in any state.
    pub(crate) async fn credentials_held(&self, selector: Selector<'_>) -> Result<u64, StoreError> {
        let n: i64 = match selector {
            Selector::Credential(id) => on_pool!(self, pool => sqlx::query_scalar(
                "SELECT count(*) FROM credentials WHERE id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await),
            Selector::WalletInstance { provider, instance } => {
                on_pool!(self, pool => sqlx::query_scalar(
                "SELECT count(*) FROM credentials WHERE provider = $1 AND wallet_instance = $2",
            )
            .bind(provider)
            .bind(instance)
            .fetch_one(pool)
            .await)
            }
            Selector::Resident(number) => on_pool!(self, pool => sqlx::query_scalar(
                "SELECT count(*) FROM credentials WHERE id_number = $1",
            )
            .bind(number)
            .fetch_one(pool)
            .await),
        }
        .map_err(db("counting credentials"))?;
        Ok(count(n))
    }

    /// The one resident whose VALID, unexpired credentials (at `now`, Unix seconds) wallet
    /// instance `provider`/`instance` holds, if exactly one (a wallet asking for a refresh).
    pub(crate) async fn resident_of_wallet(
        &self,
        provider: &str,
        instance: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let valid = i64::from(CredentialState::Valid.value());
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT DISTINCT id_number FROM credentials
             WHERE provider = $1 AND wallet_instance = $2 AND status = $3 AND expires_at > $4
             LIMIT 2",
        )
        .bind(provider)
        .bind(instance)
        .bind(valid)
        .bind(now)
        .fetch_all(pool)
        .await)
        .map_err(db("finding the wallet's resident"))?;
        Ok(match rows.as_slice() {
            [(number,)] => Some(number.clone()),
            _ => None,
        })
    }

    /// The credentials issued to a resident, newest first.
    pub(crate) async fn credentials_of(
        &self,
        id_number: &str,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        // One query for the credentials and their instances (a LEFT JOIN keeps a batch
        // whose instances are not recorded yet), not one more per credential.
        type Row = (
            String,
            String,
            String,
            String,
            i64,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT c.id, c.provider, c.wallet_instance, c.configuration, c.status, i.shard, i.idx
             FROM credentials c LEFT JOIN credential_instances i ON i.credential = c.id
             WHERE c.id_number = $1 ORDER BY c.issued_at DESC, c.id, i.shard, i.idx",
        )
        .bind(id_number)
        .fetch_all(pool)
        .await)
        .map_err(db("listing credentials"))?;
        let mut out: Vec<CredentialRecord> = Vec::new();
        for (id, provider, wallet_instance, configuration, status, shard, idx) in rows {
            if out.last().is_none_or(|last| last.id != id) {
                out.push(CredentialRecord {
                    id,
                    provider,
                    wallet_instance,
                    configuration,
                    state: CredentialState::from_value(status)?,
                    instances: Vec::new(),
                });
            }
            if let (Some(shard), Some(idx), Some(last)) = (shard, idx, out.last_mut()) {
                last.instances.push((count(shard), count(idx)));
            }
        }
        Ok(out)
    }

    /// The newest `limit` credentials (batches), newest first, without personal data:
    /// (id, provider, wallet instance, configuration, issued at, state).
    pub(crate) async fn recent_credentials(
        &self,
        limit: u32,
    ) -> Result<Vec<(CredentialRecord, i64)>, StoreError> {
        let rows: Vec<(String, String, String, String, i64, i64)> =
            on_pool!(self, pool => sqlx::query_as(
            "SELECT id, provider, wallet_instance, configuration, issued_at, status
             FROM credentials ORDER BY issued_at DESC, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
            .map_err(db("listing credentials"))?;
        rows.into_iter()
            .map(
                |(id, provider, wallet_instance, configuration, issued_at, status)| {
                    Ok((
                        CredentialRecord {
                            id,
                            provider,
                            wallet_instance,
                            configuration,
                            state: CredentialState::from_value(status)?,
                            instances: Vec::new(),
                        },
                        issued_at,
                    ))
                },
            )
            .collect()
    }

    /// How many credentials (batches) are VALID, INVALID and SUSPENDED.
    pub(crate) async fn credential_counts(&self) -> Result<[u64; 3], StoreError> {
        let rows: Vec<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT status, COUNT(*) FROM credentials GROUP BY status",
        )
        .fetch_all(pool)
        .await)
        .map_err(db("counting credentials"))?;
        let mut counts = [0u64; 3];
        for (status, n) in rows {
            if let Some(slot) = usize::try_from(status).ok().and_then(|s| counts.get_mut(s)) {
                *slot = count(n);
            }
        }
        Ok(counts)
    }

    /// Credentials (batches) issued per hour since `since` (Unix seconds): (hour start,
    /// count), oldest first.
    pub(crate) async fn issued_per_hour(&self, since: i64) -> Result<Vec<(i64, u64)>, StoreError> {
        let rows: Vec<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT (issued_at / 3600) * 3600 AS hour, COUNT(*) FROM credentials
             WHERE issued_at >= $1 GROUP BY hour ORDER BY hour",
        )
        .bind(since)
        .fetch_all(pool)
        .await)
        .map_err(db("counting issuance"))?;
        Ok(rows.into_iter().map(|(h, n)| (h, count(n))).collect())
    }

    /// The shard's size and version; `None` for a shard never opened.
    pub(crate) async fn shard_head(&self, shard: u64) -> Result<Option<(u64, u64)>, StoreError> {
        let head: Option<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT size, version FROM status_shards WHERE shard = $1",
        )
        .bind(signed(shard))
        .fetch_optional(pool)
        .await)
        .map_err(db("reading a status shard"))?;
        Ok(head.map(|(size, version)| (count(size), count(version))))
    }

    /// The shard's size, version and non-VALID entries; `None` for a shard never opened.
    pub(crate) async fn shard_statuses(
        &self,
        shard: u64,
    ) -> Result<Option<ShardStatuses>, StoreError> {
        let shard = signed(shard);
        let head: Option<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT size, version FROM status_shards WHERE shard = $1",
        )
        .bind(shard)
        .fetch_optional(pool)
        .await)
        .map_err(db("reading a status shard"))?;
        let Some((size, version)) = head else {
            return Ok(None);
        };
        let rows: Vec<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT idx, status FROM credential_instances WHERE shard = $1 AND status <> 0",
        )
        .bind(shard)
        .fetch_all(pool)
        .await)
        .map_err(db("reading a status shard"))?;
        let entries = rows
            .into_iter()
            .map(|(idx, status)| Ok((count(idx), CredentialState::from_value(status)?.value())))
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(ShardStatuses {
            size: count(size),
            version: count(version),
            entries,
        }))
    }

    /// Appends several entries to the audit log in one transaction (a resident-wide change
    /// audits every credential: one write, not one per credential waiting its turn).
    pub(crate) async fn audit_all(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        retrying("writing the audit log", || async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_write().await.map_err(db("writing the audit log"))?;
                for entry in entries {
                    sqlx::query(
                        "INSERT INTO audit_log (at, actor, action, subject, outcome, detail)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(entry.at)
                    .bind(&entry.actor)
                    .bind(&entry.action)
                    .bind(&entry.subject)
                    .bind(&entry.outcome)
                    .bind(&entry.detail)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("writing the audit log"))?;
                }
                tx.commit().await.map_err(db("writing the audit log"))
            })
        })
        .await
    }

    /// The newest `limit` audit entries, newest first.
    pub(crate) async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(i64, String, String, String, String, String)> =
            on_pool!(self, pool => sqlx::query_as(
            "SELECT at, actor, action, subject, outcome, detail FROM audit_log
             ORDER BY seq DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
            .map_err(db("reading the audit log"))?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, subject, outcome, detail)| AuditEntry {
                at,
                actor,
                action,
                subject,
                outcome,
                detail,
            })
            .collect())
    }

    /// Records a failed proofing attempt under a pseudonymous key.
    pub(crate) async fn record_proofing_failure(
        &self,
        key: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("INSERT INTO proofing_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(db("recording a proofing failure"))
    }

    /// How many proofing failures `key` had since `since`.
    pub(crate) async fn proofing_failures_since(
        &self,
        key: &str,
        since: i64,
    ) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT count(*) FROM proofing_failures WHERE key = $1 AND at >= $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(pool)
        .await)
        .map_err(db("counting proofing failures"))?;
        Ok(count(n))
    }
}
