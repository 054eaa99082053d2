//! The outbox relay: delivers the events every status change left in the store's outbox
//! (`eid_store::Outgoing`, written in the change's own transaction) and deletes what it
//! delivered.
//!
//! With NATS configured the relay publishes each row to `<prefix>.<kind>` under its
//! message id (`Nats-Msg-Id`): a row delivered twice — the relay died between publishing
//! and deleting, or two replicas' relays took the same row — is stored once by JetStream.
//! Every replica runs a relay; each polls every partition's outbox once a second, and at
//! once when its own replica made a change, so a row left by a replica killed mid-way is
//! delivered by another within a second. The events then reach readers from the stream
//! (`GET /events` on any replica follows it, resuming from `Last-Event-ID`).
//!
//! Without NATS (one process, `eid up`) the relay hands the events to this process's own
//! readers.
//!
//! What is waiting and since when is in `/metrics` (`eid_outbox_pending`,
//! `eid_outbox_oldest_seconds`); whether NATS answers is in `/ready`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use eid_store::{Outgoing, OutgoingItem};

use crate::config::NatsConfig;
use crate::nats::{NatsConnection, NatsError};
use crate::{Authority, Event};

/// Rows read from a partition at a time.
const BATCH: u32 = 256;

/// How long a batch read is used before the outbox is read again (far below JetStream's
/// ten-minute duplicate window).
const BATCH_FOR: Duration = Duration::from_secs(60);

/// How often an idle relay looks at the outbox anyway (for rows other replicas left).
const POLL: Duration = Duration::from_secs(1);

/// What the relay shares with the rest of the authority.
pub(crate) struct RelayState {
    /// Woken by every change this replica makes.
    pub(crate) wake: tokio::sync::Notify,
    /// The authority the relay runs for: started once per `Arc` (an authority moved into
    /// another `Arc` gets its own, and the old one's ends with it).
    running_for: std::sync::Mutex<Weak<Authority>>,
    /// The last attempt to reach NATS succeeded (always true without NATS).
    pub(crate) broker_up: AtomicBool,
}

impl Default for RelayState {
    fn default() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            running_for: std::sync::Mutex::new(Weak::new()),
            // Up until a try says otherwise.
            broker_up: AtomicBool::new(true),
        }
    }
}

impl std::fmt::Debug for RelayState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayState")
            .field("broker_up", &self.broker_up)
            .finish_non_exhaustive()
    }
}

/// Where delivered events go.
enum Sink {
    /// This process's readers.
    Local,
    /// A JetStream stream.
    Nats {
        config: NatsConfig,
        addresses: Vec<String>,
        connection: Option<Box<NatsConnection>>,
        /// Which node to try first next time.
        turn: usize,
    },
}

impl Sink {
    /// Connects when not connected, or checks the connection still answers.
    async fn ready(&mut self) -> Result<(), NatsError> {
        let Self::Nats {
            config,
            addresses,
            connection,
            turn,
        } = self
        else {
            return Ok(());
        };
        if let Some(c) = connection.as_mut() {
            if c.ping().await.is_ok() {
                return Ok(());
            }
            *connection = None;
        }
        // The first node listed first, then round the cluster on each reconnection.
        let start = *turn;
        *turn += 1;
        let mut fresh = NatsConnection::connect_any(addresses, start).await?;
        fresh
            .ensure_stream(&config.stream, &config.subject_prefix, config.replicas)
            .await?;
        *connection = Some(Box::new(fresh));
        Ok(())
    }

    async fn deliver(
        &mut self,
        authority: &Authority,
        message_id: &str,
        event: Event,
    ) -> Result<(), NatsError> {
        match self {
            Self::Local => {
                // No reader is not an error: the lists are the record.
                let _ = authority.events.send(event);
                Ok(())
            }
            Self::Nats {
                config, connection, ..
            } => {
                let Some(c) = connection.as_mut() else {
                    return Err(NatsError::Protocol("not connected".into()));
                };
                let subject = format!("{}.{}", config.subject_prefix, event.kind());
                let payload = serde_json::to_vec(&event).unwrap_or_default();
                match c.publish_unique(&subject, message_id, &payload).await {
                    Ok(duplicate) => {
                        authority
                            .relayed
                            .add(&[if duplicate { "duplicate" } else { "stored" }]);
                        Ok(())
                    }
                    Err(e) => {
                        *connection = None;
                        Err(e)
                    }
                }
            }
        }
    }
}

impl Authority {
    /// Starts the relay, once per authority (the routers call it).
    pub(crate) fn start_relay(self: &Arc<Self>) {
        {
            let Ok(mut running) = self.relay.running_for.lock() else {
                return;
            };
            let me = Arc::downgrade(self);
            if Weak::ptr_eq(&running, &me) {
                return;
            }
            *running = me;
        }
        let sink = match &self.nats {
            Some(config) => Sink::Nats {
                addresses: config.addresses(),
                config: config.clone(),
                connection: None,
                turn: 0,
            },
            None => Sink::Local,
        };
        tokio::spawn(relay(Arc::downgrade(self), sink));
        // The first shard of each partition, opened now rather than at the first issuance:
        // a desk following the shards holds its list before any credential points into it.
        // Tried again every 5 s while a partition does not answer (an issuance meanwhile
        // opens its shard itself).
        let authority = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(authority) = authority.upgrade() else {
                    return;
                };
                match authority
                    .store
                    .open_first_shards(authority.shard_size())
                    .await
                {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(target: "eid::authority", cause = %e, "the first status shards were not opened yet");
                    }
                }
                drop(authority);
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }

    /// Whether the relay's broker answered last time (true without NATS, and before the
    /// first try).
    pub(crate) fn broker_up(&self) -> bool {
        self.relay.broker_up.load(Ordering::Acquire)
    }

    /// The event an outbox row says.
    fn event_of(&self, row: &Outgoing) -> Event {
        match &row.item {
            OutgoingItem::Status { shard, idx, state } => Event::Status {
                uri: self.status_uri(*shard),
                idx: *idx,
                status: state.name().to_ascii_uppercase(),
                at: row.at,
            },
            OutgoingItem::Notice {
                provider,
                wallet_instance,
                notice,
            } => Event::WalletNotice {
                provider: provider.clone(),
                wallet_instance: wallet_instance.clone(),
                notice: notice.clone(),
                at: row.at,
            },
        }
    }

    /// One pass over every partition's outbox: how many rows were delivered, and what
    /// went wrong. A partition that fails does not hold up the others; a batch is read
    /// again after [`BATCH_FOR`], so that no row is published long after another relay
    /// delivered and deleted it (beyond JetStream's duplicate window it would be stored
    /// twice).
    async fn relay_once(&self, sink: &mut Sink, key: &str) -> (usize, Vec<String>) {
        if let Err(e) = sink.ready().await {
            return (0, vec![format!("publishing: {e}")]);
        }
        let mut delivered = 0;
        let mut failures = Vec::new();
        for p in 0..self.store.partitions() {
            let rows = match self.store.outbox(p, BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    failures.push(format!("reading the outbox of partition {p}: {e}"));
                    continue;
                }
            };
            let read = tokio::time::Instant::now();
            let mut done = Vec::with_capacity(rows.len());
            for row in &rows {
                if read.elapsed() > BATCH_FOR {
                    break;
                }
                match sink
                    .deliver(self, &row.message_id(key), self.event_of(row))
                    .await
                {
                    Ok(()) => done.push(row.seq),
                    Err(e) => {
                        failures.push(format!("publishing: {e}"));
                        break;
                    }
                }
            }
            // What was delivered leaves even when the rest could not be.
            match self.store.outbox_done(p, &done).await {
                Ok(()) => delivered += done.len(),
                Err(e) => failures.push(format!("clearing the outbox of partition {p}: {e}")),
            }
            if failures.iter().any(|f| f.starts_with("publishing")) {
                break;
            }
        }
        (delivered, failures)
    }
}

/// The relay's loop; it ends with its authority.
async fn relay(authority: Weak<Authority>, mut sink: Sink) {
    let mut key = None;
    let mut pause = Duration::from_millis(100);
    loop {
        let Some(strong) = authority.upgrade() else {
            return;
        };
        let state = Arc::clone(&strong.relay);
        let key = match &key {
            Some(key) => key,
            None => match strong.store.shared_key("outbox", random_key(&strong)).await {
                Ok(stored) => key.insert(hex::encode(&stored[..8])),
                Err(e) => {
                    tracing::warn!(target: "eid::outbox", cause = %e, "the store does not answer");
                    drop(strong);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        let (delivered, failures) = strong.relay_once(&mut sink, key).await;
        drop(strong);
        let publishing = failures.iter().any(|f| f.starts_with("publishing"));
        state.broker_up.store(
            !(publishing && matches!(sink, Sink::Nats { .. })),
            Ordering::Release,
        );
        if failures.is_empty() {
            pause = Duration::from_millis(100);
            if delivered == 0 {
                tokio::select! {
                    () = state.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        } else {
            for cause in &failures {
                tracing::warn!(target: "eid::outbox", cause = %cause, "the outbox relay will try again");
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

fn random_key(authority: &Authority) -> [u8; 32] {
    let mut fresh = [0u8; 32];
    // A failed draw leaves zeros; another replica's or a later draw wins the store's slot.
    let _ = authority.random.fill(&mut fresh);
    fresh
}
