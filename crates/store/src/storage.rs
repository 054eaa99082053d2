//! [`Storage`]: what one partition of the store does, whatever keeps it.
//!
//! The shard map ([`crate::routing`]) routes every call of [`crate::Store`] to a partition
//! and merges what several answer; a partition is anything implementing this trait:
//!
//! - SQLite and PostgreSQL (`Partition`, the same SQL text on both, each with its
//!   migrations);
//! - memory ([`crate::memory::MemoryStorage`], `memory:`), for unit tests that need no
//!   database: the same rules, checked by the same test suites (`crates/store/tests`), gone
//!   when the process ends.
//!
//! Every method is one transaction on its partition: all of it happens or none of it. The
//! futures are boxed so that the store holds its partitions as `dyn Storage`.

use std::future::Future;
use std::pin::Pin;

use eid_core::identity::ResidentCard;
use eid_core::{Random, ResidentIdNumber};
use time::OffsetDateTime;

use crate::StoreError;
use crate::issuance::{
    AccessGrant, AuditEntry, AuditStamp, CredentialRecord, CredentialState, NewCredential,
    NewOffer, Redemption, Selector, ShardStatuses,
};
use crate::outbox::Outgoing;
use crate::registry::{LifeEvent, RegistryEntry};

/// What a [`Storage`] method returns.
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One partition of the authority's store. Secrets arrive hashed; times are Unix seconds
/// unless typed. See each `Store` method of the same name for the rules.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// `sqlite`, `postgres` or `memory`.
    fn backend_name(&self) -> &'static str;

    /// Closes what it holds open.
    fn close(&self) -> Answer<'_, ()>;

    /// The value stored under `name`, storing `fresh` first when there is none.
    fn shared_key<'a>(&'a self, name: &'a str, fresh: &'a str) -> Answer<'a, String>;

    /// Stores an offer.
    fn create_offer<'a>(&'a self, offer: &'a NewOffer<'a>) -> Answer<'a, ()>;

    /// Redeems a pre-authorized code once, storing the access token with it.
    fn redeem_offer<'a>(
        &'a self,
        code_hash: &'a str,
        tx_code_hash: Option<&'a str>,
        now: i64,
        token_hash: &'a str,
        token_expires_at: i64,
        max_tx_failures: i64,
    ) -> Answer<'a, Redemption>;

    /// Voids a resident's unredeemed offers and deletes their access tokens; how many.
    fn void_pending<'a>(&'a self, id_number: &'a str) -> Answer<'a, u64>;

    /// The grant of an unexpired access token.
    fn access_grant<'a>(&'a self, token_hash: &'a str, now: i64)
    -> Answer<'a, Option<AccessGrant>>;

    /// Marks `configuration` issued under the token; false if it was, or the token is gone.
    fn mark_issued<'a>(&'a self, token_hash: &'a str, configuration: &'a str) -> Answer<'a, bool>;

    /// Undoes `mark_issued`.
    fn unmark_issued<'a>(&'a self, token_hash: &'a str, configuration: &'a str) -> Answer<'a, ()>;

    /// Stores a nonce until `expires_at`, dropping expired ones.
    fn create_nonce<'a>(&'a self, nonce_hash: &'a str, now: i64, expires_at: i64)
    -> Answer<'a, ()>;

    /// Uses a nonce up: true if it existed unexpired.
    fn consume_nonce<'a>(&'a self, nonce_hash: &'a str, now: i64) -> Answer<'a, bool>;

    /// The highest local shard opened and its size.
    fn top_shard(&self) -> Answer<'_, Option<(u64, u64)>>;

    /// Opens local shards 0 to `top` that are not open, empty, of `size` entries.
    fn open_shards_through(&self, top: u64, size: u64) -> Answer<'_, ()>;

    /// Seals every local shard (no index allocated in it again) and opens those through
    /// `top` sealed and empty, bumping every version: the step after a restore.
    fn seal_through(&self, top: u64, size: u64) -> Answer<'_, ()>;

    /// Records a credential and allocates a random index for each instance (lowest shard
    /// below ¾, the next opened past half); the local (shard, index) of each, and the shard
    /// used or, when it passed half, the one opened after it.
    fn record_credential<'a>(
        &'a self,
        credential: &'a NewCredential<'a>,
        instances: u32,
        shard_size: u64,
        random: &'a dyn Random,
    ) -> Answer<'a, (Vec<(u64, u64)>, u64)>;

    /// Moves the selected credentials whose state allows it to `to`, writing their events
    /// to the outbox in the same transaction; those that changed.
    fn set_state<'a>(
        &'a self,
        selector: Selector<'a>,
        to: CredentialState,
        at: i64,
        stamp: &'a AuditStamp<'a>,
    ) -> Answer<'a, Vec<CredentialRecord>>;

    /// Queues a wallet notice that goes with no status change.
    fn enqueue_notice<'a>(
        &'a self,
        provider: &'a str,
        wallet_instance: &'a str,
        notice: &'a str,
        at: i64,
    ) -> Answer<'a, ()>;

    /// The oldest `limit` outbox rows, oldest first (local shard numbers, partition 0).
    fn outbox(&self, limit: u32) -> Answer<'_, Vec<Outgoing>>;

    /// Deletes the outbox rows delivered.
    fn outbox_done<'a>(&'a self, seqs: &'a [i64]) -> Answer<'a, ()>;

    /// Outbox rows waiting, and when the oldest was written.
    fn outbox_lag(&self) -> Answer<'_, (u64, Option<i64>)>;

    /// How many credentials `selector` addresses, in any state.
    fn credentials_held<'a>(&'a self, selector: Selector<'a>) -> Answer<'a, u64>;

    /// The one resident whose valid, unexpired credentials the wallet holds, if one.
    fn resident_of_wallet<'a>(
        &'a self,
        provider: &'a str,
        instance: &'a str,
        now: i64,
    ) -> Answer<'a, Option<String>>;

    /// A resident's credentials, newest first, with their local instances.
    fn credentials_of<'a>(&'a self, id_number: &'a str) -> Answer<'a, Vec<CredentialRecord>>;

    /// The newest `limit` credentials with their issue times, newest first.
    fn recent_credentials(&self, limit: u32) -> Answer<'_, Vec<(CredentialRecord, i64)>>;

    /// Credentials VALID, INVALID and SUSPENDED.
    fn credential_counts(&self) -> Answer<'_, [u64; 3]>;

    /// Credentials issued per hour since `since`, oldest first.
    fn issued_per_hour(&self, since: i64) -> Answer<'_, Vec<(i64, u64)>>;

    /// A local shard's size and version.
    fn shard_head(&self, shard: u64) -> Answer<'_, Option<(u64, u64)>>;

    /// A local shard's size, version and entries not VALID.
    fn shard_statuses(&self, shard: u64) -> Answer<'_, Option<ShardStatuses>>;

    /// Appends audit entries, all or none.
    fn audit_all<'a>(&'a self, entries: &'a [AuditEntry]) -> Answer<'a, ()>;

    /// The newest `limit` audit entries, newest first.
    fn audit_log(&self, limit: u32) -> Answer<'_, Vec<AuditEntry>>;

    /// Records a failed proofing attempt under a pseudonymous key.
    fn record_proofing_failure<'a>(&'a self, key: &'a str, at: i64) -> Answer<'a, ()>;

    /// Proofing failures of `key` since `since`.
    fn proofing_failures_since<'a>(&'a self, key: &'a str, since: i64) -> Answer<'a, u64>;

    /// Imports residents idempotently; how many were new or changed.
    fn import_residents<'a>(
        &'a self,
        cards: &'a [ResidentCard],
        now: OffsetDateTime,
    ) -> Answer<'a, u64>;

    /// The number of residents.
    fn resident_count(&self) -> Answer<'_, u64>;

    /// A consistent copy of the whole partition written to `path` (SQLite's `VACUUM
    /// INTO`, while it serves); other backends say how instead.
    fn backup_into<'a>(&'a self, path: &'a str) -> Answer<'a, ()>;

    /// Up to `n` registered numbers (no order promised).
    fn sample_numbers(&self, n: u32) -> Answer<'_, Vec<String>>;

    /// The resident with this number.
    fn resident<'a>(&'a self, number: &'a str) -> Answer<'a, Option<RegistryEntry>>;

    /// Records a life event and applies it to the registry and to the resident's
    /// credentials (with their outbox events); the credentials that changed.
    fn record_event<'a>(
        &'a self,
        number: &'a ResidentIdNumber,
        event: &'a LifeEvent,
        at: OffsetDateTime,
        stamp: &'a AuditStamp<'a>,
    ) -> Answer<'a, Vec<CredentialRecord>>;

    /// A resident's life events, oldest first.
    fn life_events<'a>(&'a self, number: &'a str) -> Answer<'a, Vec<(LifeEvent, OffsetDateTime)>>;
}

/// SQLite and PostgreSQL: each method is the partition's SQL.
impl Storage for crate::Partition {
    fn backend_name(&self) -> &'static str {
        match self.backend {
            crate::Backend::Sqlite(_) => "sqlite",
            crate::Backend::Postgres(_) => "postgres",
        }
    }

    fn close(&self) -> Answer<'_, ()> {
        Box::pin(async move {
            match &self.backend {
                crate::Backend::Sqlite(pool) => pool.close().await,
                crate::Backend::Postgres(pool) => pool.close().await,
            }
            Ok(())
        })
    }

    fn shared_key<'a>(&'a self, name: &'a str, fresh: &'a str) -> Answer<'a, String> {
        Box::pin(Self::shared_key(self, name, fresh))
    }

    fn create_offer<'a>(&'a self, offer: &'a NewOffer<'a>) -> Answer<'a, ()> {
        Box::pin(Self::create_offer(self, offer))
    }

    fn redeem_offer<'a>(
        &'a self,
        code_hash: &'a str,
        tx_code_hash: Option<&'a str>,
        now: i64,
        token_hash: &'a str,
        token_expires_at: i64,
        max_tx_failures: i64,
    ) -> Answer<'a, Redemption> {
        Box::pin(Self::redeem_offer(
            self,
            code_hash,
            tx_code_hash,
            now,
            token_hash,
            token_expires_at,
            max_tx_failures,
        ))
    }

    fn void_pending<'a>(&'a self, id_number: &'a str) -> Answer<'a, u64> {
        Box::pin(Self::void_pending(self, id_number))
    }

    fn access_grant<'a>(
        &'a self,
        token_hash: &'a str,
        now: i64,
    ) -> Answer<'a, Option<AccessGrant>> {
        Box::pin(Self::access_grant(self, token_hash, now))
    }

    fn mark_issued<'a>(&'a self, token_hash: &'a str, configuration: &'a str) -> Answer<'a, bool> {
        Box::pin(Self::mark_issued(self, token_hash, configuration))
    }

    fn unmark_issued<'a>(&'a self, token_hash: &'a str, configuration: &'a str) -> Answer<'a, ()> {
        Box::pin(Self::unmark_issued(self, token_hash, configuration))
    }

    fn create_nonce<'a>(
        &'a self,
        nonce_hash: &'a str,
        now: i64,
        expires_at: i64,
    ) -> Answer<'a, ()> {
        Box::pin(Self::create_nonce(self, nonce_hash, now, expires_at))
    }

    fn consume_nonce<'a>(&'a self, nonce_hash: &'a str, now: i64) -> Answer<'a, bool> {
        Box::pin(Self::consume_nonce(self, nonce_hash, now))
    }

    fn top_shard(&self) -> Answer<'_, Option<(u64, u64)>> {
        Box::pin(Self::top_shard(self))
    }

    fn open_shards_through(&self, top: u64, size: u64) -> Answer<'_, ()> {
        Box::pin(Self::open_shards_through(self, top, size))
    }

    fn seal_through(&self, top: u64, size: u64) -> Answer<'_, ()> {
        Box::pin(Self::seal_through(self, top, size))
    }

    fn record_credential<'a>(
        &'a self,
        credential: &'a NewCredential<'a>,
        instances: u32,
        shard_size: u64,
        random: &'a dyn Random,
    ) -> Answer<'a, (Vec<(u64, u64)>, u64)> {
        Box::pin(Self::record_credential(
            self, credential, instances, shard_size, random,
        ))
    }

    fn set_state<'a>(
        &'a self,
        selector: Selector<'a>,
        to: CredentialState,
        at: i64,
        stamp: &'a AuditStamp<'a>,
    ) -> Answer<'a, Vec<CredentialRecord>> {
        Box::pin(Self::set_state(self, selector, to, at, stamp))
    }

    fn enqueue_notice<'a>(
        &'a self,
        provider: &'a str,
        wallet_instance: &'a str,
        notice: &'a str,
        at: i64,
    ) -> Answer<'a, ()> {
        Box::pin(Self::enqueue_notice(
            self,
            provider,
            wallet_instance,
            notice,
            at,
        ))
    }

    fn outbox(&self, limit: u32) -> Answer<'_, Vec<Outgoing>> {
        Box::pin(Self::outbox(self, limit))
    }

    fn outbox_done<'a>(&'a self, seqs: &'a [i64]) -> Answer<'a, ()> {
        Box::pin(Self::outbox_done(self, seqs))
    }

    fn outbox_lag(&self) -> Answer<'_, (u64, Option<i64>)> {
        Box::pin(Self::outbox_lag(self))
    }

    fn credentials_held<'a>(&'a self, selector: Selector<'a>) -> Answer<'a, u64> {
        Box::pin(Self::credentials_held(self, selector))
    }

    fn resident_of_wallet<'a>(
        &'a self,
        provider: &'a str,
        instance: &'a str,
        now: i64,
    ) -> Answer<'a, Option<String>> {
        Box::pin(Self::resident_of_wallet(self, provider, instance, now))
    }

    fn credentials_of<'a>(&'a self, id_number: &'a str) -> Answer<'a, Vec<CredentialRecord>> {
        Box::pin(Self::credentials_of(self, id_number))
    }

    fn recent_credentials(&self, limit: u32) -> Answer<'_, Vec<(CredentialRecord, i64)>> {
        Box::pin(Self::recent_credentials(self, limit))
    }

    fn credential_counts(&self) -> Answer<'_, [u64; 3]> {
        Box::pin(Self::credential_counts(self))
    }

    fn issued_per_hour(&self, since: i64) -> Answer<'_, Vec<(i64, u64)>> {
        Box::pin(Self::issued_per_hour(self, since))
    }

    fn shard_head(&self, shard: u64) -> Answer<'_, Option<(u64, u64)>> {
        Box::pin(Self::shard_head(self, shard))
    }

    fn shard_statuses(&self, shard: u64) -> Answer<'_, Option<ShardStatuses>> {
        Box::pin(Self::shard_statuses(self, shard))
    }

    fn audit_all<'a>(&'a self, entries: &'a [AuditEntry]) -> Answer<'a, ()> {
        Box::pin(Self::audit_all(self, entries))
    }

    fn audit_log(&self, limit: u32) -> Answer<'_, Vec<AuditEntry>> {
        Box::pin(Self::audit_log(self, limit))
    }

    fn record_proofing_failure<'a>(&'a self, key: &'a str, at: i64) -> Answer<'a, ()> {
        Box::pin(Self::record_proofing_failure(self, key, at))
    }

    fn proofing_failures_since<'a>(&'a self, key: &'a str, since: i64) -> Answer<'a, u64> {
        Box::pin(Self::proofing_failures_since(self, key, since))
    }

    fn import_residents<'a>(
        &'a self,
        cards: &'a [ResidentCard],
        now: OffsetDateTime,
    ) -> Answer<'a, u64> {
        Box::pin(Self::import_residents(self, cards, now))
    }

    fn backup_into<'a>(&'a self, path: &'a str) -> Answer<'a, ()> {
        Box::pin(async move {
            match &self.backend {
                crate::Backend::Sqlite(pool) => sqlx::query("VACUUM INTO ?1")
                    .bind(path)
                    .execute(pool)
                    .await
                    .map(|_| ())
                    .map_err(crate::db("backing up")),
                crate::Backend::Postgres(_) => Err(StoreError::BackupUnsupported(
                    "a PostgreSQL partition is backed up with pg_dump -Fc (docs/authority.md, Backup and restore)",
                )),
            }
        })
    }

    fn resident_count(&self) -> Answer<'_, u64> {
        Box::pin(Self::resident_count(self))
    }

    fn sample_numbers(&self, n: u32) -> Answer<'_, Vec<String>> {
        Box::pin(Self::sample_numbers(self, n))
    }

    fn resident<'a>(&'a self, number: &'a str) -> Answer<'a, Option<RegistryEntry>> {
        Box::pin(Self::resident(self, number))
    }

    fn record_event<'a>(
        &'a self,
        number: &'a ResidentIdNumber,
        event: &'a LifeEvent,
        at: OffsetDateTime,
        stamp: &'a AuditStamp<'a>,
    ) -> Answer<'a, Vec<CredentialRecord>> {
        Box::pin(Self::record_event(self, number, event, at, stamp))
    }

    fn life_events<'a>(&'a self, number: &'a str) -> Answer<'a, Vec<(LifeEvent, OffsetDateTime)>> {
        Box::pin(Self::life_events(self, number))
    }
}
