//! [`MemoryStorage`]: a partition kept in the process's memory (`memory:`), for unit tests
//! that need no database. It keeps the same rules as the SQL partitions — single use of
//! codes, tokens and nonces; index allocation; state changes and shard versions; the
//! registry's idempotent import and life events — each call under one lock, so each is one
//! transaction. The store's test suites run on it as on SQLite and PostgreSQL
//! (`crates/store/tests`). Nothing outlives the process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use eid_core::identity::ResidentCard;
use eid_core::{Random, ResidentIdNumber};
use time::OffsetDateTime;

use crate::StoreError;
use crate::issuance::{
    AccessGrant, AuditEntry, AuditStamp, CredentialRecord, CredentialState, NewCredential,
    NewOffer, Redemption, Selector, ShardStatuses,
};
use crate::outbox::{Outgoing, OutgoingItem};
use crate::registry::{CardState, LifeEvent, RegistryEntry};
use crate::storage::{Answer, Storage};

/// One partition in memory.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    tables: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    keys: HashMap<String, String>,
    offers: HashMap<String, Offer>,
    tokens: HashMap<String, Token>,
    /// (token hash, configuration) issued under a token.
    issuances: BTreeSet<(String, String)>,
    nonces: HashMap<String, i64>,
    shards: BTreeMap<u64, Shard>,
    credentials: BTreeMap<String, Credential>,
    /// (shard, index) → credential id and status value.
    instances: BTreeMap<(u64, u64), (String, u8)>,
    audit: Vec<AuditEntry>,
    proofing_failures: Vec<(String, i64)>,
    residents: HashMap<String, RegistryEntry>,
    life_events: Vec<(String, LifeEvent, OffsetDateTime)>,
    /// The outbox, by seq.
    outbox: BTreeMap<i64, Outgoing>,
    /// The last seq given.
    outbox_seq: i64,
}

impl Tables {
    fn enqueue(&mut self, at: i64, item: OutgoingItem) {
        self.outbox_seq += 1;
        let seq = self.outbox_seq;
        self.outbox.insert(
            seq,
            Outgoing {
                partition: 0,
                seq,
                at,
                item,
            },
        );
    }
}

#[derive(Debug)]
struct Offer {
    id_number: ResidentIdNumber,
    configurations: Vec<String>,
    tx_code_hash: Option<String>,
    tx_failures: i64,
    expires_at: i64,
    redeemed: bool,
    wallet: Option<String>,
}

#[derive(Debug)]
struct Token {
    id_number: ResidentIdNumber,
    configurations: Vec<String>,
    expires_at: i64,
    wallet: Option<String>,
}

#[derive(Debug)]
struct Shard {
    size: u64,
    allocated: u64,
    version: u64,
}

#[derive(Debug)]
struct Credential {
    id_number: String,
    provider: String,
    wallet_instance: String,
    configuration: String,
    delegation: Option<String>,
    held_by: Option<String>,
    issued_at: i64,
    expires_at: i64,
    state: CredentialState,
}

fn done<'a, T: Send + 'a>(result: Result<T, StoreError>) -> Answer<'a, T> {
    Box::pin(std::future::ready(result))
}

impl MemoryStorage {
    /// An empty partition.
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> Result<MutexGuard<'_, Tables>, StoreError> {
        self.tables
            .lock()
            .map_err(|_| StoreError::Corrupt("memory partition (a call panicked)"))
    }

    fn with<'a, T: Send + 'a>(
        &'a self,
        work: impl FnOnce(&mut Tables) -> Result<T, StoreError>,
    ) -> Answer<'a, T> {
        done(self.tables().and_then(|mut tables| work(&mut tables)))
    }
}

impl Tables {
    /// Moves the selected credentials whose state allows it to `to` (see
    /// [`Storage::set_state`]); those that changed.
    fn set_state(
        &mut self,
        selector: Selector<'_>,
        to: CredentialState,
        at: i64,
        stamp: &AuditStamp<'_>,
    ) -> Vec<CredentialRecord> {
        let allowed = to.allowed_from();
        let mut changed = Vec::new();
        let mut noticed = BTreeSet::new();
        for id in self.selected(selector) {
            let Some(c) = self.credentials.get(&id) else {
                continue;
            };
            if !allowed.contains(&i64::from(c.state.value())) {
                continue;
            }
            // Reinstated only while the resident's card is valid and the resident alive.
            if to == CredentialState::Valid
                && !self
                    .residents
                    .get(&c.id_number)
                    .is_some_and(|r| r.state == CardState::Valid && !r.deceased)
            {
                continue;
            }
            let instances = self.instances_of(&id);
            for position in &instances {
                if let Some(entry) = self.instances.get_mut(position) {
                    entry.1 = to.value();
                }
            }
            let Some(c) = self.credentials.get_mut(&id) else {
                continue;
            };
            c.state = to;
            let (provider, wallet_instance) = (c.provider.clone(), c.wallet_instance.clone());
            for &(shard, idx) in &instances {
                self.enqueue(
                    at,
                    OutgoingItem::Status {
                        shard,
                        idx,
                        state: to,
                    },
                );
            }
            if noticed.insert((provider.clone(), wallet_instance.clone())) {
                self.enqueue(
                    at,
                    OutgoingItem::Notice {
                        provider,
                        wallet_instance,
                        notice: to.notice().to_owned(),
                    },
                );
            }
            self.audit.push(stamp.entry(&id, at));
            let c = &self.credentials[&id];
            changed.push(self.record(&id, c, instances));
        }
        let shards: BTreeSet<u64> = changed
            .iter()
            .flat_map(|c| c.instances.iter().map(|&(shard, _)| shard))
            .collect();
        for shard in shards {
            if let Some(s) = self.shards.get_mut(&shard) {
                s.version += 1;
            }
        }
        changed
    }

    fn selected(&self, selector: Selector<'_>) -> Vec<String> {
        self.credentials
            .iter()
            .filter(|(id, c)| match selector {
                Selector::Credential(wanted) => id.as_str() == wanted,
                Selector::WalletInstance { provider, instance } => {
                    c.provider == provider && c.wallet_instance == instance
                }
                Selector::Resident(number) => c.id_number == number.expose(),
                Selector::HeldInWallet { provider, instance } => {
                    c.provider == provider
                        && c.wallet_instance == instance
                        && c.delegation.is_some()
                }
                Selector::HeldBy(holder) => c.held_by.as_deref() == Some(holder.expose()),
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn instances_of(&self, id: &str) -> Vec<(u64, u64)> {
        self.instances
            .iter()
            .filter(|(_, (credential, _))| credential == id)
            .map(|(&position, _)| position)
            .collect()
    }

    fn record(&self, id: &str, c: &Credential, instances: Vec<(u64, u64)>) -> CredentialRecord {
        CredentialRecord {
            id: id.to_owned(),
            provider: c.provider.clone(),
            wallet_instance: c.wallet_instance.clone(),
            configuration: c.configuration.clone(),
            delegation: c.delegation.clone(),
            state: c.state,
            instances,
        }
    }

    fn open_shard(&mut self, shard: u64, size: u64) {
        self.shards.entry(shard).or_insert(Shard {
            size,
            allocated: 0,
            version: 0,
        });
    }

    /// The credentials newest first (issue time, then id), as the SQL orders them.
    fn newest_first<'a>(
        &'a self,
        keep: impl Fn(&Credential) -> bool + 'a,
    ) -> Vec<(&'a String, &'a Credential)> {
        let mut all: Vec<_> = self.credentials.iter().filter(|(_, c)| keep(c)).collect();
        all.sort_by(|(a_id, a), (b_id, b)| b.issued_at.cmp(&a.issued_at).then(a_id.cmp(b_id)));
        all
    }
}

impl Storage for MemoryStorage {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    fn close(&self) -> Answer<'_, ()> {
        done(Ok(()))
    }

    fn shared_key<'a>(&'a self, name: &'a str, fresh: &'a str) -> Answer<'a, String> {
        self.with(|t| {
            Ok(t.keys
                .entry(name.to_owned())
                .or_insert_with(|| fresh.to_owned())
                .clone())
        })
    }

    fn create_offer<'a>(&'a self, offer: &'a NewOffer<'a>) -> Answer<'a, ()> {
        self.with(|t| {
            if t.offers.contains_key(offer.code_hash) {
                return Err(StoreError::Duplicate("offer code"));
            }
            t.offers.insert(
                offer.code_hash.to_owned(),
                Offer {
                    id_number: *offer.id_number,
                    configurations: offer.configurations.to_vec(),
                    tx_code_hash: offer.tx_code_hash.map(str::to_owned),
                    tx_failures: 0,
                    expires_at: offer.expires_at,
                    redeemed: false,
                    wallet: offer.wallet.map(str::to_owned),
                },
            );
            Ok(())
        })
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
        self.with(|t| {
            let Some(offer) = t.offers.get_mut(code_hash) else {
                return Ok(Redemption::UnknownCode);
            };
            if offer.redeemed {
                return Ok(Redemption::AlreadyRedeemed);
            }
            if offer.expires_at <= now || offer.tx_failures >= max_tx_failures {
                return Ok(Redemption::Expired);
            }
            match (&offer.tx_code_hash, tx_code_hash) {
                (Some(_), None) => return Ok(Redemption::TxCodeRequired),
                (Some(expected), Some(given)) if expected != given => {
                    offer.tx_failures += 1;
                    return Ok(Redemption::WrongTxCode {
                        attempts_left: max_tx_failures - offer.tx_failures,
                    });
                }
                _ => {}
            }
            if t.tokens.contains_key(token_hash) {
                return Err(StoreError::Duplicate("access token"));
            }
            offer.redeemed = true;
            let (id_number, configurations) = (offer.id_number, offer.configurations.clone());
            let wallet = offer.wallet.clone();
            t.tokens.insert(
                token_hash.to_owned(),
                Token {
                    id_number,
                    configurations: configurations.clone(),
                    expires_at: token_expires_at,
                    wallet,
                },
            );
            Ok(Redemption::Granted {
                id_number,
                configurations,
            })
        })
    }

    fn void_pending<'a>(&'a self, id_number: &'a str) -> Answer<'a, u64> {
        self.with(|t| {
            let mut voided = 0;
            for offer in t.offers.values_mut() {
                if offer.id_number.expose() == id_number && !offer.redeemed {
                    offer.redeemed = true;
                    voided += 1;
                }
            }
            let gone: Vec<String> = t
                .tokens
                .iter()
                .filter(|(_, token)| token.id_number.expose() == id_number)
                .map(|(hash, _)| hash.clone())
                .collect();
            for hash in &gone {
                t.tokens.remove(hash);
                t.issuances.retain(|(token, _)| token != hash);
            }
            Ok(voided + gone.len() as u64)
        })
    }

    fn access_grant<'a>(
        &'a self,
        token_hash: &'a str,
        now: i64,
    ) -> Answer<'a, Option<AccessGrant>> {
        self.with(|t| {
            Ok(t.tokens
                .get(token_hash)
                .filter(|token| token.expires_at > now)
                .map(|token| AccessGrant {
                    id_number: token.id_number,
                    configurations: token.configurations.clone(),
                    wallet: token.wallet.clone(),
                }))
        })
    }

    fn mark_issued<'a>(&'a self, token_hash: &'a str, configuration: &'a str) -> Answer<'a, bool> {
        self.with(|t| {
            // A token voided since it was read: nothing to mark under (the SQL's foreign key).
            if !t.tokens.contains_key(token_hash) {
                return Ok(false);
            }
            Ok(t.issuances
                .insert((token_hash.to_owned(), configuration.to_owned())))
        })
    }

    fn unmark_issued<'a>(&'a self, token_hash: &'a str, configuration: &'a str) -> Answer<'a, ()> {
        self.with(|t| {
            t.issuances
                .remove(&(token_hash.to_owned(), configuration.to_owned()));
            Ok(())
        })
    }

    fn create_nonce<'a>(
        &'a self,
        nonce_hash: &'a str,
        now: i64,
        expires_at: i64,
    ) -> Answer<'a, ()> {
        self.with(|t| {
            t.nonces.retain(|_, expires| *expires > now);
            if t.nonces.contains_key(nonce_hash) {
                return Err(StoreError::Duplicate("nonce"));
            }
            t.nonces.insert(nonce_hash.to_owned(), expires_at);
            Ok(())
        })
    }

    fn consume_nonce<'a>(&'a self, nonce_hash: &'a str, now: i64) -> Answer<'a, bool> {
        self.with(|t| match t.nonces.get(nonce_hash) {
            Some(&expires) if expires > now => {
                t.nonces.remove(nonce_hash);
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    fn top_shard(&self) -> Answer<'_, Option<(u64, u64)>> {
        self.with(|t| Ok(t.shards.last_key_value().map(|(&shard, s)| (shard, s.size))))
    }

    fn open_shards_through(&self, top: u64, size: u64) -> Answer<'_, ()> {
        self.with(|t| {
            for shard in 0..=top {
                t.open_shard(shard, size);
            }
            Ok(())
        })
    }

    fn seal_through(&self, top: u64, size: u64) -> Answer<'_, ()> {
        self.with(|t| {
            for shard in 0..=top {
                t.open_shard(shard, size);
            }
            for s in t.shards.values_mut() {
                s.allocated = s.size;
                s.version += 1;
            }
            Ok(())
        })
    }

    fn record_credential<'a>(
        &'a self,
        credential: &'a NewCredential<'a>,
        instances: u32,
        shard_size: u64,
        random: &'a dyn Random,
    ) -> Answer<'a, (Vec<(u64, u64)>, u64)> {
        self.with(|t| {
            if t.credentials.contains_key(credential.id) {
                return Err(StoreError::Duplicate("credential id"));
            }
            let n = u64::from(instances);
            // The lowest shard with room below ¾ (herd privacy: indices stay spread).
            let room = t
                .shards
                .iter()
                .find(|(_, s)| (s.allocated + n) * 4 <= s.size * 3)
                .map(|(&shard, s)| (shard, s.size, s.allocated));
            let (shard, size, allocated, new) = match room {
                Some((shard, size, allocated)) => (shard, size, allocated, false),
                None => {
                    let shard = t.shards.last_key_value().map_or(0, |(&s, _)| s + 1);
                    (shard, shard_size, 0, true)
                }
            };
            if size == 0 {
                return Err(StoreError::Corrupt("status shard of size 0"));
            }
            // Past half, the next shard is opened, empty, to be published ahead of use.
            let next = (allocated + n) * 2 > size;
            // Everything is decided before anything is written: all of it or none of it.
            let mut taken = Vec::with_capacity(instances as usize);
            let mut positions = Vec::with_capacity(instances as usize);
            while taken.len() < instances as usize {
                let mut word = [0u8; 8];
                random
                    .fill(&mut word)
                    .map_err(|_| StoreError::Corrupt("random source"))?;
                let idx = u64::from_le_bytes(word) % size;
                if t.instances.contains_key(&(shard, idx)) || positions.contains(&(shard, idx)) {
                    continue;
                }
                positions.push((shard, idx));
                taken.push((shard, idx));
            }
            if new {
                t.open_shard(shard, shard_size);
            }
            let top = if next {
                t.open_shard(shard + 1, shard_size);
                shard + 1
            } else {
                shard
            };
            for position in positions {
                t.instances.insert(
                    position,
                    (credential.id.to_owned(), CredentialState::Valid.value()),
                );
            }
            if let Some(s) = t.shards.get_mut(&shard) {
                s.allocated += n;
            }
            t.credentials.insert(
                credential.id.to_owned(),
                Credential {
                    id_number: credential.id_number.expose().to_owned(),
                    provider: credential.provider.to_owned(),
                    wallet_instance: credential.wallet_instance.to_owned(),
                    configuration: credential.configuration.to_owned(),
                    delegation: credential.delegation.map(|d| d.relationship.to_owned()),
                    held_by: credential.delegation.map(|d| d.holder.expose().to_owned()),
                    issued_at: credential.issued_at,
                    expires_at: credential.expires_at,
                    state: CredentialState::Valid,
                },
            );
            Ok((taken, top))
        })
    }

    fn set_state<'a>(
        &'a self,
        selector: Selector<'a>,
        to: CredentialState,
        at: i64,
        stamp: &'a AuditStamp<'a>,
    ) -> Answer<'a, Vec<CredentialRecord>> {
        self.with(|t| Ok(t.set_state(selector, to, at, stamp)))
    }

    fn enqueue_notice<'a>(
        &'a self,
        provider: &'a str,
        wallet_instance: &'a str,
        notice: &'a str,
        at: i64,
    ) -> Answer<'a, ()> {
        self.with(move |t| {
            t.enqueue(
                at,
                OutgoingItem::Notice {
                    provider: provider.to_owned(),
                    wallet_instance: wallet_instance.to_owned(),
                    notice: notice.to_owned(),
                },
            );
            Ok(())
        })
    }

    fn outbox(&self, limit: u32) -> Answer<'_, Vec<Outgoing>> {
        self.with(move |t| {
            Ok(t.outbox
                .values()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .cloned()
                .collect())
        })
    }

    fn outbox_done<'a>(&'a self, seqs: &'a [i64]) -> Answer<'a, ()> {
        self.with(move |t| {
            for seq in seqs {
                t.outbox.remove(seq);
            }
            Ok(())
        })
    }

    fn outbox_lag(&self) -> Answer<'_, (u64, Option<i64>)> {
        self.with(|t| Ok((t.outbox.len() as u64, t.outbox.values().map(|o| o.at).min())))
    }

    fn credentials_held<'a>(&'a self, selector: Selector<'a>) -> Answer<'a, u64> {
        self.with(|t| Ok(t.selected(selector).len() as u64))
    }

    fn resident_of_wallet<'a>(
        &'a self,
        provider: &'a str,
        instance: &'a str,
        now: i64,
    ) -> Answer<'a, Option<String>> {
        self.with(|t| {
            let residents: BTreeSet<&String> = t
                .credentials
                .values()
                .filter(|c| {
                    c.provider == provider
                        && c.wallet_instance == instance
                        && c.state == CredentialState::Valid
                        && c.expires_at > now
                        && c.delegation.is_none()
                })
                .map(|c| &c.id_number)
                .collect();
            Ok(match residents.len() {
                1 => residents.into_iter().next().cloned(),
                _ => None,
            })
        })
    }

    fn credentials_of<'a>(&'a self, id_number: &'a str) -> Answer<'a, Vec<CredentialRecord>> {
        self.with(|t| {
            Ok(t.newest_first(|c| c.id_number == id_number)
                .into_iter()
                .map(|(id, c)| t.record(id, c, t.instances_of(id)))
                .collect())
        })
    }

    fn recent_credentials(&self, limit: u32) -> Answer<'_, Vec<(CredentialRecord, i64)>> {
        self.with(|t| {
            Ok(t.newest_first(|_| true)
                .into_iter()
                .take(limit as usize)
                .map(|(id, c)| (t.record(id, c, Vec::new()), c.issued_at))
                .collect())
        })
    }

    fn credential_counts(&self) -> Answer<'_, [u64; 3]> {
        self.with(|t| {
            let mut counts = [0u64; 3];
            for c in t.credentials.values() {
                counts[usize::from(c.state.value())] += 1;
            }
            Ok(counts)
        })
    }

    fn issued_per_hour(&self, since: i64) -> Answer<'_, Vec<(i64, u64)>> {
        self.with(|t| {
            let mut hours: BTreeMap<i64, u64> = BTreeMap::new();
            for c in t.credentials.values().filter(|c| c.issued_at >= since) {
                *hours.entry(c.issued_at / 3600 * 3600).or_default() += 1;
            }
            Ok(hours.into_iter().collect())
        })
    }

    fn shard_head(&self, shard: u64) -> Answer<'_, Option<(u64, u64)>> {
        self.with(|t| Ok(t.shards.get(&shard).map(|s| (s.size, s.version))))
    }

    fn shard_statuses(&self, shard: u64) -> Answer<'_, Option<ShardStatuses>> {
        self.with(|t| {
            let Some(s) = t.shards.get(&shard) else {
                return Ok(None);
            };
            let entries = t
                .instances
                .range((shard, 0)..=(shard, u64::MAX))
                .filter(|(_, (_, status))| *status != 0)
                .map(|(&(_, idx), &(_, status))| (idx, status))
                .collect();
            Ok(Some(ShardStatuses {
                size: s.size,
                version: s.version,
                entries,
            }))
        })
    }

    fn audit_all<'a>(&'a self, entries: &'a [AuditEntry]) -> Answer<'a, ()> {
        self.with(|t| {
            t.audit.extend_from_slice(entries);
            Ok(())
        })
    }

    fn audit_log(&self, limit: u32) -> Answer<'_, Vec<AuditEntry>> {
        self.with(|t| Ok(t.audit.iter().rev().take(limit as usize).cloned().collect()))
    }

    fn record_proofing_failure<'a>(&'a self, key: &'a str, at: i64) -> Answer<'a, ()> {
        self.with(|t| {
            t.proofing_failures.push((key.to_owned(), at));
            Ok(())
        })
    }

    fn proofing_failures_since<'a>(&'a self, key: &'a str, since: i64) -> Answer<'a, u64> {
        self.with(|t| {
            Ok(t.proofing_failures
                .iter()
                .filter(|(k, at)| k == key && *at >= since)
                .count() as u64)
        })
    }

    fn import_residents<'a>(
        &'a self,
        cards: &'a [ResidentCard],
        _now: OffsetDateTime,
    ) -> Answer<'a, u64> {
        self.with(|t| {
            let mut written = 0;
            for card in cards {
                match t.residents.get_mut(card.id_number.expose()) {
                    Some(entry) if entry.card == *card => {}
                    // A changed record replaces the old; the card's state and events stay.
                    Some(entry) => {
                        entry.card = card.clone();
                        written += 1;
                    }
                    None => {
                        t.residents.insert(
                            card.id_number.expose().to_owned(),
                            RegistryEntry {
                                card: card.clone(),
                                state: CardState::Valid,
                                deceased: false,
                            },
                        );
                        written += 1;
                    }
                }
            }
            Ok(written)
        })
    }

    fn backup_into<'a>(&'a self, _path: &'a str) -> Answer<'a, ()> {
        Box::pin(async {
            Err(StoreError::BackupUnsupported(
                "an in-memory store has nothing to back up",
            ))
        })
    }

    fn resident_count(&self) -> Answer<'_, u64> {
        self.with(|t| Ok(t.residents.len() as u64))
    }

    fn sample_numbers(&self, n: u32) -> Answer<'_, Vec<String>> {
        self.with(|t| Ok(t.residents.keys().take(n as usize).cloned().collect()))
    }

    fn resident<'a>(&'a self, number: &'a str) -> Answer<'a, Option<RegistryEntry>> {
        self.with(|t| Ok(t.residents.get(number).cloned()))
    }

    fn record_event<'a>(
        &'a self,
        number: &'a ResidentIdNumber,
        event: &'a LifeEvent,
        at: OffsetDateTime,
        stamp: &'a AuditStamp<'a>,
    ) -> Answer<'a, Vec<CredentialRecord>> {
        self.with(|t| {
            let entry = t
                .residents
                .get_mut(number.expose())
                .ok_or(StoreError::NotFound)?;
            crate::registry::apply(entry, event);
            t.life_events
                .push((number.expose().to_owned(), event.clone(), at));
            Ok(t.set_state(
                Selector::Resident(number),
                event.credential_state(),
                at.unix_timestamp(),
                stamp,
            ))
        })
    }

    fn life_events<'a>(&'a self, number: &'a str) -> Answer<'a, Vec<(LifeEvent, OffsetDateTime)>> {
        self.with(|t| {
            Ok(t.life_events
                .iter()
                .filter(|(n, _, _)| n == number)
                .map(|(_, event, at)| (event.clone(), *at))
                .collect())
        })
    }
}
