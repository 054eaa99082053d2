//! The shard map: one authority's data over several databases, routed by resident.
//!
//! A store of `P` partitions holds `P` databases with the same schema, each a complete and
//! independent slice: the residents whose numbers route to it, and everything about them
//! — registry record, life events, offers, access tokens, credentials, their status-list
//! instances and the status-list shards those instances live in. Every write is therefore
//! a local transaction on one database: no transaction ever spans two servers, and no
//! foreign key or uniqueness rule needs one. Each database records its place in the map
//! and is refused at another ([`StoreError::PartitionMoved`]). (`docs/scale.md` says why this was
//! chosen over PostgreSQL's own hash partitioning with `postgres_fdw` partitions, and
//! `docs/sharding-measurement.md` gives the figures.)
//!
//! - **Routing.** A key goes to partition [`route`]`(key, P)`: the resident's identity
//!   number for the registry and credentials; the hash of a bearer secret for offers,
//!   access tokens and nonces; the credential id for a credential; the subject for an
//!   audit entry written on its own, the credential's partition for those a change of
//!   credential states writes with it. Secrets and ids that must sit with their resident are drawn until they
//!   route to the resident's partition (the authority does this: about `P` draws).
//! - **Status-list shards.** Partition `p`'s local shard `k` is published as shard
//!   `k · P + p`. Whenever a partition opens local shard `k`, every partition opens it too
//!   (empty), so the published numbers stay dense and a verifier's walk from 0 finds them
//!   all; the same alignment runs when the store is opened, healing a crash between the two.
//! - **Fan-out.** What is addressed by wallet instance (a lost phone), the counts, the
//!   recent credentials and the audit log ask every partition and merge the answers.
//!
//! With one partition (SQLite, or one PostgreSQL database) every route is the identity and
//! shard numbers are unchanged. The number of partitions is fixed for the life of the
//! data; what grows is the number of servers the partitions are spread over.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

use eid_core::identity::ResidentCard;
use eid_core::{Random, ResidentIdNumber};
use time::OffsetDateTime;

use crate::issuance::{
    AccessGrant, AuditEntry, AuditStamp, CredentialRecord, CredentialState, NewCredential,
    NewOffer, Redemption, Selector, ShardStatuses,
};
use crate::outbox::{Outgoing, OutgoingItem};
use crate::registry::{LifeEvent, RegistryEntry};
use crate::storage::Storage;
use crate::{Store, StoreError, stored_number};

/// The partition of `key` among `partitions`: FNV-1a over the key's bytes, finished by the
/// SplitMix64 mixer so that every bit counts. Fixed forever: changing it would move every
/// resident.
pub fn route(key: &str, partitions: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    let n = u64::try_from(partitions.max(1)).unwrap_or(1);
    usize::try_from(h % n).unwrap_or(0)
}

/// The highest local shard every partition is known to have opened (-1: none yet).
#[derive(Debug)]
pub(crate) struct Aligned(AtomicI64);

impl Aligned {
    pub(crate) fn none() -> Self {
        Self(AtomicI64::new(-1))
    }
}

impl Store {
    /// How many partitions the store has.
    pub fn partitions(&self) -> usize {
        self.parts.len()
    }

    /// The partition `key` routes to.
    pub fn partition_of(&self, key: &str) -> usize {
        route(key, self.parts.len())
    }

    fn part(&self, key: &str) -> &dyn Storage {
        self.parts[self.partition_of(key)].as_ref()
    }

    /// The partition of `key`, which must be that of `with` (a programming error otherwise:
    /// a secret or id drawn without routing it to its resident).
    fn part_with(
        &self,
        key: &str,
        with: &str,
        what: &'static str,
    ) -> Result<&dyn Storage, StoreError> {
        if self.partition_of(key) == self.partition_of(with) {
            Ok(self.part(key))
        } else {
            Err(StoreError::ShardMap(what))
        }
    }

    /// Published shard number of partition `p`'s local shard `local`.
    fn global(&self, p: usize, local: u64) -> u64 {
        local * self.parts.len() as u64 + p as u64
    }

    /// The partition and local number of published shard `shard`.
    fn local(&self, shard: u64) -> (&dyn Storage, u64) {
        let n = self.parts.len() as u64;
        (self.parts[(shard % n) as usize].as_ref(), shard / n)
    }

    fn globalize(&self, p: usize, instances: &mut [(u64, u64)]) {
        for (shard, _) in instances {
            *shard = self.global(p, *shard);
        }
    }

    /// Opens the first shard (of `size` entries) of every partition that has none: published
    /// before any credential points into it, so that verifiers following the shards hold it
    /// when the first credential arrives, as every later shard is opened at half the one
    /// before.
    /// Every partition that answers gets its shard; the first failure is returned after.
    pub async fn open_first_shards(&self, size: u64) -> Result<(), StoreError> {
        let mut failure = None;
        for part in self.parts.iter() {
            if let Err(e) = part.open_shards_through(0, size).await {
                failure = failure.or(Some(e));
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Opens local shards 0 to `top` in every partition that lacks them.
    async fn open_everywhere(&self, top: u64, size: u64) -> Result<(), StoreError> {
        let top_signed = i64::try_from(top).unwrap_or(i64::MAX);
        if self.aligned.0.load(Ordering::Acquire) >= top_signed {
            return Ok(());
        }
        for part in self.parts.iter() {
            part.open_shards_through(top, size).await?;
        }
        self.aligned.0.fetch_max(top_signed, Ordering::AcqRel);
        Ok(())
    }

    /// Each database records its place in the map when first used (`p/P`), and must be
    /// found there again: a reordered or resized map would route every resident elsewhere
    /// and publish another partition's shard under a number.
    pub(crate) async fn check_positions(&self) -> Result<(), StoreError> {
        let total = self.parts.len();
        for (place, part) in self.parts.iter().enumerate() {
            let expected = format!("{place}/{total}");
            let recorded = part.shared_key("partition", &expected).await?;
            if recorded != expected {
                return Err(StoreError::PartitionMoved { place, recorded });
            }
        }
        Ok(())
    }

    /// Brings every partition to the highest local shard any of them opened (on opening
    /// the store: heals an alignment a crash interrupted).
    /// The step after restoring the store from a backup: the restored store does not know
    /// the credentials issued after the backup, whose indices lie in the shards open then
    /// or in shards opened since. So no index is handed out again there: every shard is
    /// sealed, the next `skip` shards (past the highest the backup knows) are opened sealed
    /// and empty, and allocation moves on to fresh shards after them. Every list is signed
    /// afresh. Returns the first shard (local to each partition) that will take
    /// credentials. `skip` must cover the shards opened between the backup and the loss.
    pub async fn seal_for_restore(&self, skip: u64, shard_size: u64) -> Result<u64, StoreError> {
        let mut top: Option<(u64, u64)> = None;
        for part in self.parts.iter() {
            if let Some(found) = part.top_shard().await? {
                top = Some(top.map_or(found, |t| if found.0 > t.0 { found } else { t }));
            }
        }
        let (last, size) = match top {
            Some((shard, size)) => (shard + skip, size),
            None => (skip.saturating_sub(1), shard_size),
        };
        for part in self.parts.iter() {
            part.seal_through(last, size).await?;
        }
        Ok(last + 1)
    }

    /// Backs up every partition to `dir`/`partition-N.db` (SQLite, while serving: each a
    /// consistent copy of its partition as of one moment); the paths written. `dir` must
    /// exist, and no file of those names in it.
    pub async fn backup_into(
        &self,
        dir: &std::path::Path,
    ) -> Result<Vec<std::path::PathBuf>, StoreError> {
        let mut written = Vec::new();
        for (n, part) in self.parts.iter().enumerate() {
            let path = dir.join(format!("partition-{n}.db"));
            let text = path.to_str().ok_or(StoreError::BackupUnsupported(
                "the backup folder's path is not UTF-8",
            ))?;
            part.backup_into(text).await?;
            written.push(path);
        }
        Ok(written)
    }

    pub(crate) async fn align_shards(&self) -> Result<(), StoreError> {
        if self.parts.len() < 2 {
            return Ok(());
        }
        let mut top: Option<(u64, u64)> = None;
        for part in self.parts.iter() {
            if let Some(found) = part.top_shard().await? {
                top = Some(top.map_or(found, |t| if found.0 > t.0 { found } else { t }));
            }
        }
        match top {
            Some((top, size)) => self.open_everywhere(top, size).await,
            None => Ok(()),
        }
    }

    /// The authority's key named `name` (64 hex digits), the same for every replica and
    /// across restarts: stored in the first partition with `fresh` the first time.
    pub async fn shared_key(&self, name: &str, fresh: [u8; 32]) -> Result<[u8; 32], StoreError> {
        let stored = self.parts[0].shared_key(name, &hex::encode(fresh)).await?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(&stored, &mut key)
            .map_err(|_| StoreError::Corrupt("authority key"))?;
        Ok(key)
    }

    /// Stores an offer, in the resident's partition (its code's hash must route there).
    pub async fn create_offer(&self, offer: &NewOffer<'_>) -> Result<(), StoreError> {
        self.part_with(
            offer.id_number.expose(),
            offer.code_hash,
            "an offer's code outside its resident's partition",
        )?
        .create_offer(offer)
        .await
    }

    /// Redeems a pre-authorized code once, storing the access token beside the offer in one
    /// transaction (the token's hash must route where the code's does). See the partition's
    /// rules in the module's source: expiry, transaction codes, a single winner.
    pub async fn redeem_offer(
        &self,
        code_hash: &str,
        tx_code_hash: Option<&str>,
        now: i64,
        token_hash: &str,
        token_expires_at: i64,
        max_tx_failures: i64,
    ) -> Result<Redemption, StoreError> {
        self.part_with(
            code_hash,
            token_hash,
            "an access token outside its offer's partition",
        )?
        .redeem_offer(
            code_hash,
            tx_code_hash,
            now,
            token_hash,
            token_expires_at,
            max_tx_failures,
        )
        .await
    }

    /// Voids a resident's unredeemed offers and live access tokens; returns how many.
    pub async fn void_pending(&self, id_number: &ResidentIdNumber) -> Result<u64, StoreError> {
        let id_number = id_number.expose();
        self.part(id_number).void_pending(id_number).await
    }

    /// The grant of an unexpired access token.
    pub async fn access_grant(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessGrant>, StoreError> {
        self.part(token_hash).access_grant(token_hash, now).await
    }

    /// Marks `configuration` issued under the token; false if it already was or the token
    /// is gone.
    pub async fn mark_issued(
        &self,
        token_hash: &str,
        configuration: &str,
    ) -> Result<bool, StoreError> {
        self.part(token_hash)
            .mark_issued(token_hash, configuration)
            .await
    }

    /// Undoes [`Store::mark_issued`] when the issuance then failed.
    pub async fn unmark_issued(
        &self,
        token_hash: &str,
        configuration: &str,
    ) -> Result<(), StoreError> {
        self.part(token_hash)
            .unmark_issued(token_hash, configuration)
            .await
    }

    /// Stores a c_nonce (hashed) until `expires_at`, and drops expired ones.
    pub async fn create_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.part(nonce_hash)
            .create_nonce(nonce_hash, now, expires_at)
            .await
    }

    /// Uses a nonce up: true if it existed unexpired (and is now gone).
    pub async fn consume_nonce(&self, nonce_hash: &str, now: i64) -> Result<bool, StoreError> {
        self.part(nonce_hash).consume_nonce(nonce_hash, now).await
    }

    /// Records a logical credential in its resident's partition (its id must route there)
    /// and allocates a random status-list index for each of its `instances` there, in one
    /// transaction: in the lowest shard less than ¾ full, opening the next one, empty, once
    /// a shard is half full. Returns the published (shard, index) of each instance.
    pub async fn record_credential(
        &self,
        credential: &NewCredential<'_>,
        instances: u32,
        shard_size: u64,
        random: &dyn Random,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let p = self.partition_of(credential.id_number.expose());
        let part = self.part_with(
            credential.id_number.expose(),
            credential.id,
            "a credential id outside its resident's partition",
        )?;
        let (mut taken, top) = part
            .record_credential(credential, instances, shard_size, random)
            .await?;
        // The credential is recorded, in shards already open: opening the same local shard
        // in the other partitions only keeps the published numbers dense. A failure there
        // must not undo an issuance; it is tried again at the next issuance past half a
        // shard and on every opening of the store (`aligned` moves only on success).
        if self.parts.len() > 1 {
            let _ = self.open_everywhere(top, shard_size).await;
        }
        self.globalize(p, &mut taken);
        Ok(taken)
    }

    /// Moves the selected credentials whose state allows it to `to`, every instance of a
    /// batch at once, bumping the version of each shard touched, in one transaction per
    /// partition (a wallet instance is looked for in every partition). Returns the
    /// credentials that changed, with their published instances.
    /// Each partition writes the events of its changes to its outbox in the same
    /// transaction (`crate::outbox`), stamped `at` (Unix seconds), and an audit entry per
    /// credential changed, by `stamp`.
    pub async fn set_state(
        &self,
        selector: Selector<'_>,
        to: CredentialState,
        at: i64,
        stamp: &AuditStamp<'_>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        // Every partition is tried, whatever one of them answers: a lost phone is frozen
        // wherever it can be; what changed is reported even when one partition failed.
        let mut changed = Vec::new();
        let mut failure = None;
        for p in self.selected(selector) {
            match self.parts[p].set_state(selector, to, at, stamp).await {
                Ok(mut records) => {
                    for record in &mut records {
                        self.globalize(p, &mut record.instances);
                    }
                    changed.extend(records);
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        match failure {
            None => Ok(changed),
            Some(e) if changed.is_empty() => Err(e),
            Some(e) => Err(StoreError::PartlyChanged {
                changed,
                source: Box::new(e),
            }),
        }
    }

    /// Queues a wallet notice that goes with no status change, in the partition of
    /// `id_number` (the resident it concerns).
    pub async fn enqueue_notice(
        &self,
        id_number: &ResidentIdNumber,
        provider: &str,
        wallet_instance: &str,
        notice: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.part(id_number.expose())
            .enqueue_notice(provider, wallet_instance, notice, at)
            .await
    }

    /// The oldest `limit` rows of partition `p`'s outbox, oldest first, with published
    /// shard numbers.
    pub async fn outbox(&self, p: usize, limit: u32) -> Result<Vec<Outgoing>, StoreError> {
        let part = self
            .parts
            .get(p)
            .ok_or(StoreError::ShardMap("no such partition"))?;
        let mut rows = part.outbox(limit).await?;
        for row in &mut rows {
            row.partition = p;
            if let OutgoingItem::Status { shard, .. } = &mut row.item {
                *shard = self.global(p, *shard);
            }
        }
        Ok(rows)
    }

    /// Deletes rows of partition `p`'s outbox that were delivered.
    pub async fn outbox_done(&self, p: usize, seqs: &[i64]) -> Result<(), StoreError> {
        let part = self
            .parts
            .get(p)
            .ok_or(StoreError::ShardMap("no such partition"))?;
        part.outbox_done(seqs).await
    }

    /// Outbox rows waiting in the partitions that answer, when the oldest was written,
    /// and how many partitions did not answer.
    pub async fn outbox_lag(&self) -> (u64, Option<i64>, usize) {
        let (mut waiting, mut oldest, mut unanswered) = (0, None::<i64>, 0);
        for part in self.parts.iter() {
            let Ok((n, at)) = part.outbox_lag().await else {
                unanswered += 1;
                continue;
            };
            waiting += n;
            oldest = match (oldest, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        (waiting, oldest, unanswered)
    }

    /// The partitions `selector` can address.
    fn selected(&self, selector: Selector<'_>) -> Vec<usize> {
        match selector {
            Selector::Credential(key) => vec![self.partition_of(key)],
            Selector::Resident(number) => vec![self.partition_of(number.expose())],
            // A ward's credential lives in the ward's partition, whoever holds it.
            Selector::WalletInstance { .. }
            | Selector::HeldInWallet { .. }
            | Selector::HeldBy(_) => (0..self.parts.len()).collect(),
        }
    }

    /// How many credentials (batches) `selector` addresses, in any state.
    pub async fn credentials_held(&self, selector: Selector<'_>) -> Result<u64, StoreError> {
        let mut held = 0;
        for p in self.selected(selector) {
            held += self.parts[p].credentials_held(selector).await?;
        }
        Ok(held)
    }

    /// The one resident whose VALID, unexpired credentials the wallet instance holds, if
    /// exactly one.
    pub async fn resident_of_wallet(
        &self,
        provider: &str,
        instance: &str,
        now: i64,
    ) -> Result<Option<ResidentIdNumber>, StoreError> {
        let mut found = None;
        for part in self.parts.iter() {
            if let Some(resident) = part.resident_of_wallet(provider, instance, now).await? {
                if found.is_some() {
                    return Ok(None);
                }
                found = Some(resident);
            }
        }
        found
            .map(|number| stored_number(&number, "credential"))
            .transpose()
    }

    /// The credentials issued to a resident, newest first.
    pub async fn credentials_of(
        &self,
        id_number: &ResidentIdNumber,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let id_number = id_number.expose();
        let p = self.partition_of(id_number);
        let mut records = self.parts[p].credentials_of(id_number).await?;
        for record in &mut records {
            self.globalize(p, &mut record.instances);
        }
        Ok(records)
    }

    /// The newest `limit` credentials (batches), newest first, without personal data.
    pub async fn recent_credentials(
        &self,
        limit: u32,
    ) -> Result<Vec<(CredentialRecord, i64)>, StoreError> {
        let mut all = Vec::new();
        for part in self.parts.iter() {
            all.extend(part.recent_credentials(limit).await?);
        }
        all.sort_by(|(a, at), (b, bt)| bt.cmp(at).then_with(|| a.id.cmp(&b.id)));
        all.truncate(limit as usize);
        Ok(all)
    }

    /// How many credentials (batches) are VALID, INVALID and SUSPENDED.
    pub async fn credential_counts(&self) -> Result<[u64; 3], StoreError> {
        let mut counts = [0u64; 3];
        for part in self.parts.iter() {
            for (total, n) in counts.iter_mut().zip(part.credential_counts().await?) {
                *total += n;
            }
        }
        Ok(counts)
    }

    /// Credentials (batches) issued per hour since `since`: (hour start, count), oldest first.
    pub async fn issued_per_hour(&self, since: i64) -> Result<Vec<(i64, u64)>, StoreError> {
        let mut hours = BTreeMap::new();
        for part in self.parts.iter() {
            for (hour, n) in part.issued_per_hour(since).await? {
                *hours.entry(hour).or_insert(0) += n;
            }
        }
        Ok(hours.into_iter().collect())
    }

    /// The published shard's size and version; `None` for a shard never opened.
    pub async fn shard_head(&self, shard: u64) -> Result<Option<(u64, u64)>, StoreError> {
        let (part, local) = self.local(shard);
        part.shard_head(local).await
    }

    /// The published shard's size, version and non-VALID entries; `None` for a shard never
    /// opened.
    pub async fn shard_statuses(&self, shard: u64) -> Result<Option<ShardStatuses>, StoreError> {
        let (part, local) = self.local(shard);
        part.shard_statuses(local).await
    }

    /// Appends entries to the audit log, each in its subject's partition, one transaction
    /// per partition.
    pub async fn audit_all(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if self.parts.len() == 1 {
            return self.parts[0].audit_all(entries).await;
        }
        let mut by_part: BTreeMap<usize, Vec<AuditEntry>> = BTreeMap::new();
        for entry in entries {
            by_part
                .entry(self.partition_of(&entry.subject))
                .or_default()
                .push(entry.clone());
        }
        for (p, entries) in by_part {
            self.parts[p].audit_all(&entries).await?;
        }
        Ok(())
    }

    /// Appends to the audit log.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.audit_all(std::slice::from_ref(entry)).await
    }

    /// The newest `limit` audit entries, newest first (across partitions, by time; within
    /// one second, each partition's own order).
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        if self.parts.len() == 1 {
            return self.parts[0].audit_log(limit).await;
        }
        let mut all = Vec::new();
        for part in self.parts.iter() {
            all.extend(part.audit_log(limit).await?);
        }
        all.sort_by_key(|entry| std::cmp::Reverse(entry.at));
        all.truncate(limit as usize);
        Ok(all)
    }

    /// Records a failed proofing attempt under a pseudonymous key.
    pub async fn record_proofing_failure(&self, key: &str, at: i64) -> Result<(), StoreError> {
        self.part(key).record_proofing_failure(key, at).await
    }

    /// How many proofing failures `key` had since `since`.
    pub async fn proofing_failures_since(&self, key: &str, since: i64) -> Result<u64, StoreError> {
        self.part(key).proofing_failures_since(key, since).await
    }

    /// Imports `cards` idempotently (new residents added, changed records replaced, card
    /// states and events kept), each partition's share in one transaction, the partitions
    /// at once. Returns how many records were new or changed.
    pub async fn import_residents(
        &self,
        cards: &[ResidentCard],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        if self.parts.len() == 1 {
            return self.parts[0].import_residents(cards, now).await;
        }
        let mut shares: Vec<Vec<ResidentCard>> = vec![Vec::new(); self.parts.len()];
        for card in cards {
            shares[self.partition_of(card.id_number.expose())].push(card.clone());
        }
        let mut running = tokio::task::JoinSet::new();
        for (part, share) in self.parts.iter().zip(shares) {
            if share.is_empty() {
                continue;
            }
            let part = part.clone();
            running.spawn(async move { part.import_residents(&share, now).await });
        }
        let mut written = 0;
        while let Some(done) = running.join_next().await {
            written += done.map_err(|_| StoreError::Corrupt("import task"))??;
        }
        Ok(written)
    }

    /// The number of residents.
    pub async fn resident_count(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for part in self.parts.iter() {
            n += part.resident_count().await?;
        }
        Ok(n)
    }

    /// Up to `n` registered numbers, for benchmarks and spot checks (no order promised).
    pub async fn sample_numbers(&self, n: u32) -> Result<Vec<String>, StoreError> {
        let each = n.div_ceil(u32::try_from(self.parts.len()).unwrap_or(1));
        let mut numbers = Vec::new();
        for part in self.parts.iter() {
            numbers.extend(part.sample_numbers(each).await?);
        }
        numbers.truncate(n as usize);
        Ok(numbers)
    }

    /// The resident with identity number `number`, if registered.
    pub async fn resident(
        &self,
        number: &ResidentIdNumber,
    ) -> Result<Option<RegistryEntry>, StoreError> {
        let entry = self.part(number.expose()).resident(number.expose()).await?;
        // The record's own number is the one the offer and the credential will carry: a row
        // whose record names another resident is not handed on.
        if entry.as_ref().is_some_and(|e| e.card.id_number != *number) {
            return Err(StoreError::Corrupt("resident"));
        }
        Ok(entry)
    }

    /// Records a life event for the resident and applies it to the registry and to the
    /// resident's credentials (suspended for a lost card, revoked otherwise), with their
    /// outbox events, in one transaction. Returns the credentials that changed.
    pub async fn record_event(
        &self,
        number: &ResidentIdNumber,
        event: &LifeEvent,
        at: OffsetDateTime,
        stamp: &AuditStamp<'_>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let p = self.partition_of(number.expose());
        let mut changed = self.parts[p].record_event(number, event, at, stamp).await?;
        for record in &mut changed {
            self.globalize(p, &mut record.instances);
        }
        Ok(changed)
    }

    /// The resident's life events, oldest first.
    pub async fn life_events(
        &self,
        number: &ResidentIdNumber,
    ) -> Result<Vec<(LifeEvent, OffsetDateTime)>, StoreError> {
        let number = number.expose();
        self.part(number).life_events(number).await
    }
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn one_partition_routes_everything_to_it() {
        assert_eq!(route("110101199003074514", 1), 0);
        assert_eq!(route("", 1), 0);
    }

    #[test]
    fn routes_spread_evenly_and_stay_put() {
        // Fixed forever: a change here would move every resident of every deployment.
        assert_eq!(
            route("110101199003074514", 8),
            route("110101199003074514", 8)
        );
        let mut counts = [0u32; 8];
        for n in 0..80_000u32 {
            counts[route(&format!("1101011990{n:08}"), 8)] += 1;
        }
        for c in counts {
            assert!(
                (9_000..11_000).contains(&c),
                "uneven partitions: {counts:?}"
            );
        }
    }
}
