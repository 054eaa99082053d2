//! The transactional outbox: the events of every status change, written in the transaction
//! that makes the change (`set_state`), waiting there until a relay has delivered them.
//!
//! A change and its events are therefore committed together or not at all: a process killed
//! after the commit leaves its events here for the next relay (of any replica), and one
//! killed before leaves neither. A relay reads the oldest rows ([`crate::Store::outbox`]),
//! delivers each, then deletes what it delivered ([`crate::Store::outbox_done`]); a relay
//! that dies in between delivers the same rows again, which is why every row has a stable
//! [`Outgoing::message_id`] for the broker to drop duplicates by (JetStream's
//! `Nats-Msg-Id`). Rows are deleted one by one, never "everything up to": on PostgreSQL a
//! row with a lower `seq` may commit after one with a higher.

use crate::issuance::{CredentialState, count};
use crate::{Backend, Partition, StoreError, WritePool, db};

/// Rows counted as waiting, at most (a larger backlog reads as this many).
pub const LAG_COUNTED: i64 = 100_000;

/// One event waiting in a partition's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The partition.
    pub partition: usize,
    /// Its position in the partition's outbox (increasing, never reused).
    pub seq: i64,
    /// When the change was made (Unix seconds).
    pub at: i64,
    /// What to say.
    pub item: OutgoingItem,
}

/// What an outbox row says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutgoingItem {
    /// A status list entry changed (the published shard number).
    Status {
        /// The published shard.
        shard: u64,
        /// The entry.
        idx: u64,
        /// Its new status.
        state: CredentialState,
    },
    /// A wallet instance should tell its holder something.
    Notice {
        /// The wallet provider.
        provider: String,
        /// The wallet instance.
        wallet_instance: String,
        /// `credentials_suspended`, `new_enrolment`, …
        notice: String,
    },
}

impl Outgoing {
    /// The row's name for the broker, the same from every replica and every retry:
    /// `<outbox key>.<partition>.<seq>.<at>`. The key is the store's own (drawn once when
    /// the store is first used), so that a new store never repeats an old one's names;
    /// the time keeps a partition restored from a backup, or a standby promoted behind its
    /// primary, from repeating a name its sequence gave before (which JetStream would drop
    /// as a duplicate) unless in the same second.
    pub fn message_id(&self, key: &str) -> String {
        format!("{key}.{}.{}.{}", self.partition, self.seq, self.at)
    }
}

/// A row as read: seq, at, kind, shard, idx, status, provider, wallet instance, notice.
type Row = (
    i64,
    i64,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A row's event, with the partition's local shard number.
pub(crate) fn outgoing(row: Row) -> Result<Outgoing, StoreError> {
    let (seq, at, kind, shard, idx, status, provider, wallet_instance, notice) = row;
    let item = match (kind.as_str(), shard, idx, status) {
        ("status", Some(shard), Some(idx), Some(status)) => OutgoingItem::Status {
            shard: count(shard),
            idx: count(idx),
            state: CredentialState::from_value(status)?,
        },
        ("notice", ..) => OutgoingItem::Notice {
            provider: provider.ok_or(StoreError::Corrupt("outbox notice"))?,
            wallet_instance: wallet_instance.ok_or(StoreError::Corrupt("outbox notice"))?,
            notice: notice.ok_or(StoreError::Corrupt("outbox notice"))?,
        },
        _ => return Err(StoreError::Corrupt("outbox row")),
    };
    Ok(Outgoing {
        partition: 0,
        seq,
        at,
        item,
    })
}

impl Partition {
    /// Queues a wallet notice on its own (one that goes with no status change).
    pub(crate) async fn enqueue_notice(
        &self,
        provider: &str,
        wallet_instance: &str,
        notice: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO outbox (at, kind, provider, wallet_instance, notice)
             VALUES ($1, 'notice', $2, $3, $4)",
        )
        .bind(at)
        .bind(provider)
        .bind(wallet_instance)
        .bind(notice)
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(db("writing the outbox")))
    }

    /// The oldest `limit` rows, oldest first.
    pub(crate) async fn outbox(&self, limit: u32) -> Result<Vec<Outgoing>, StoreError> {
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(
            "SELECT seq, at, kind, shard, idx, status, provider, wallet_instance, notice
             FROM outbox ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db("reading the outbox"))?);
        rows.into_iter().map(outgoing).collect()
    }

    /// Deletes the rows delivered, by their `seq`.
    pub(crate) async fn outbox_done(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("clearing the outbox"))?;
            for seq in seqs {
                sqlx::query("DELETE FROM outbox WHERE seq = $1")
                    .bind(seq)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("clearing the outbox"))?;
            }
            tx.commit().await.map_err(db("clearing the outbox"))
        })
    }

    /// How many rows wait (counted up to [`LAG_COUNTED`]), and when the oldest was
    /// written: two reads along the primary key, cheap whatever the backlog (`/metrics`
    /// asks at every scrape).
    pub(crate) async fn outbox_lag(&self) -> Result<(u64, Option<i64>), StoreError> {
        let (n, oldest): (i64, Option<i64>) = on_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT $1) AS waiting),
                    (SELECT at FROM outbox ORDER BY seq LIMIT 1)",
        )
        .bind(LAG_COUNTED)
        .fetch_one(pool)
        .await
        .map_err(db("reading the outbox"))?);
        Ok((count(n), oldest))
    }
}
