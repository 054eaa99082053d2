//! Credentials and their status-list instances: shards, recording, state changes, queries.

use super::*;

impl Partition {
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

    /// After a restore: every shard sealed (full: no index is allocated in it again) and
    /// shards through `top` opened sealed and empty, with every version bumped so that each
    /// list is signed afresh.
    pub(crate) async fn seal_through(&self, top: u64, size: u64) -> Result<(), StoreError> {
        // Two steps, each idempotent: a seal cut short is finished by running it again.
        self.open_shards_through(top, size).await?;
        retrying("sealing status shards", || async {
            on_pool!(self, pool => sqlx::query("UPDATE status_shards SET allocated = size, version = version + 1")
                .execute(pool)
                .await
                .map(|_| ()))
            .map_err(db("sealing status shards"))
        })
        .await
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
                 (id, id_number, provider, wallet_instance, configuration, issued_at, expires_at,
                  delegation, held_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(credential.id)
            .bind(credential.id_number.expose())
            .bind(credential.provider)
            .bind(credential.wallet_instance)
            .bind(credential.configuration)
            .bind(credential.issued_at)
            .bind(credential.expires_at)
            .bind(credential.delegation.map(|d| d.relationship))
            .bind(credential.delegation.map(|d| d.holder.expose()))
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
        stamp: &AuditStamp<'_>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        retrying("changing credential states", || {
            self.change_states(selector, to, at, None, stamp)
        })
        .await
    }

    /// One try of [`Self::set_state`], writing `event` (a registry life event and the
    /// resident's record after it) first in the same transaction.
    pub(crate) async fn change_states(
        &self,
        selector: Selector<'_>,
        to: CredentialState,
        at: i64,
        event: Option<&crate::registry::EventWrite<'_>>,
        stamp: &AuditStamp<'_>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let from = to.allowed_from();
        let (first, last) = (from[0], from[from.len() - 1]);
        // The parameters in order of appearance: SQLite numbers `$n` names by first use.
        let (select, a, b): (&str, &str, Option<&str>) = match selector {
            Selector::Credential(id) => (
                "SELECT id, provider, wallet_instance, configuration, delegation FROM credentials
                 WHERE id = $1 AND status IN ($2, $3) ORDER BY id",
                id,
                None,
            ),
            Selector::WalletInstance { provider, instance } => (
                "SELECT id, provider, wallet_instance, configuration, delegation FROM credentials
                 WHERE provider = $1 AND wallet_instance = $2 AND status IN ($3, $4) ORDER BY id",
                provider,
                Some(instance),
            ),
            Selector::Resident(number) => (
                "SELECT id, provider, wallet_instance, configuration, delegation FROM credentials
                 WHERE id_number = $1 AND status IN ($2, $3) ORDER BY id",
                number.expose(),
                None,
            ),
            Selector::HeldInWallet { provider, instance } => (
                "SELECT id, provider, wallet_instance, configuration, delegation FROM credentials
                 WHERE provider = $1 AND wallet_instance = $2 AND delegation IS NOT NULL
                   AND status IN ($3, $4) ORDER BY id",
                provider,
                Some(instance),
            ),
            Selector::HeldBy(holder) => (
                "SELECT id, provider, wallet_instance, configuration, delegation FROM credentials
                 WHERE held_by = $1 AND status IN ($2, $3) ORDER BY id",
                holder.expose(),
                None,
            ),
        };
        // A credential is reinstated only while its resident's card is valid and the resident
        // alive. On PostgreSQL the resident's row is read locked (FOR SHARE), so that a life
        // event writing it at that moment (a card reported lost) is waited for and its
        // outcome seen, not the row as it was; on SQLite the transaction holds the one write
        // lock.
        let reinstate = match &self.backend {
            Backend::Sqlite(_) => {
                "UPDATE credentials SET status = $1 WHERE id = $2 AND status IN ($3, $4)
                 AND id_number IN (SELECT id_number FROM residents
                                   WHERE card_state = 'valid' AND deceased = $5)"
            }
            Backend::Postgres(_) => {
                "UPDATE credentials SET status = $1 WHERE id = $2 AND status IN ($3, $4)
                 AND EXISTS (SELECT 1 FROM residents r
                             WHERE r.id_number = credentials.id_number
                               AND r.card_state = 'valid' AND r.deceased = $5 FOR SHARE)"
            }
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("changing credential states"))?;
            if let Some(event) = event {
                // The resident is read in the transaction that writes it back: two events
                // for one resident at once cannot undo each other's change to the record.
                let [read, record, insert] = self.event_sql();
                let row: Option<(String, String, bool)> = sqlx::query_as(read)
                    .bind(event.number)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading a resident"))?;
                let after = crate::registry::after_event(
                    row.ok_or(StoreError::NotFound)?,
                    event.event,
                )?;
                sqlx::query(record)
                    .bind(event.number)
                    .bind(&after.record)
                    .bind(after.state)
                    .bind(after.deceased)
                    .bind(event.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording a life event"))?;
                sqlx::query(insert)
                    .bind(event.number)
                    .bind(event.event.kind())
                    .bind(&after.detail)
                    .bind(event.at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording a life event"))?;
            }
            let mut query = sqlx::query_as::<_, (String, String, String, String, Option<String>)>(select).bind(a);
            if let Some(b) = b {
                query = query.bind(b);
            }
            let query = query.bind(first).bind(last);
            let rows = query.fetch_all(&mut *tx).await.map_err(db("selecting credentials"))?;
            let mut changed = Vec::with_capacity(rows.len());
            let mut noticed = std::collections::BTreeSet::new();
            for (id, provider, wallet_instance, configuration, delegation) in rows {
                // The state is checked again where it is written: a concurrent revocation
                // between the select and here wins (revocation is final).
                let update = if to == CredentialState::Valid {
                    reinstate
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
                // Its audit entry, in the same transaction: no change goes unaudited.
                insert_audit!(tx, &stamp.entry(&id, at))?;
                changed.push(CredentialRecord {
                    id,
                    provider,
                    wallet_instance,
                    configuration,
                    delegation,
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
            .bind(number.expose())
            .fetch_one(pool)
            .await),
            Selector::HeldInWallet { provider, instance } => {
                on_pool!(self, pool => sqlx::query_scalar(
                "SELECT count(*) FROM credentials
                 WHERE provider = $1 AND wallet_instance = $2 AND delegation IS NOT NULL",
            )
            .bind(provider)
            .bind(instance)
            .fetch_one(pool)
            .await)
            }
            Selector::HeldBy(holder) => on_pool!(self, pool => sqlx::query_scalar(
                "SELECT count(*) FROM credentials WHERE held_by = $1",
            )
            .bind(holder.expose())
            .fetch_one(pool)
            .await),
        }
        .map_err(db("counting credentials"))?;
        Ok(count(n))
    }

    /// The one resident whose VALID, unexpired credentials (at `now`, Unix seconds) wallet
    /// instance `provider`/`instance` holds as her own, if exactly one (a wallet asking for a
    /// refresh): credentials it holds for others (delegated) do not count.
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
               AND delegation IS NULL
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
            Option<String>,
            i64,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT c.id, c.provider, c.wallet_instance, c.configuration, c.delegation, c.status,
                    i.shard, i.idx
             FROM credentials c LEFT JOIN credential_instances i ON i.credential = c.id
             WHERE c.id_number = $1 ORDER BY c.issued_at DESC, c.id, i.shard, i.idx",
        )
        .bind(id_number)
        .fetch_all(pool)
        .await)
        .map_err(db("listing credentials"))?;
        let mut out: Vec<CredentialRecord> = Vec::new();
        for (id, provider, wallet_instance, configuration, delegation, status, shard, idx) in rows {
            if out.last().is_none_or(|last| last.id != id) {
                out.push(CredentialRecord {
                    id,
                    provider,
                    wallet_instance,
                    configuration,
                    delegation,
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
        type Row = (String, String, String, String, Option<String>, i64, i64);
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, provider, wallet_instance, configuration, delegation, issued_at, status
             FROM credentials ORDER BY issued_at DESC, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .map_err(db("listing credentials"))?;
        rows.into_iter()
            .map(
                |(id, provider, wallet_instance, configuration, delegation, issued_at, status)| {
                    Ok((
                        CredentialRecord {
                            id,
                            provider,
                            wallet_instance,
                            configuration,
                            delegation,
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
}
