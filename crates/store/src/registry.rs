//! The population registry: residents' card records, the card's state, life events.
//!
//! Imports are idempotent: a record already stored with the same content is left alone, a
//! changed one replaced, and the card's state and events are kept either way.

use eid_core::ResidentIdNumber;
use eid_core::identity::{CardExpiry, ResidentCard};
use eid_core::region::RegionCode;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::{Date, OffsetDateTime};

use crate::issuance::{AuditStamp, CredentialRecord, CredentialState, Selector};
use crate::{Backend, Partition, StoreError, WritePool, db, retrying};

/// What the registry says of a card, besides its own validity dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// In use.
    Valid,
    /// Reported lost (or stolen): enrolment refuses it, credentials are suspended.
    ReportedLost,
    /// Replaced by a new card: the old one is void.
    Replaced,
}

impl CardState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::ReportedLost => "reported_lost",
            Self::Replaced => "replaced",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "valid" => Ok(Self::Valid),
            "reported_lost" => Ok(Self::ReportedLost),
            "replaced" => Ok(Self::Replaced),
            _ => Err(StoreError::Corrupt("card state")),
        }
    }
}

/// A change in a resident's life that the registry records.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LifeEvent {
    /// The card was reported lost.
    CardReportedLost,
    /// A new card was issued; the old one is void.
    CardReplaced {
        /// The new card's first day.
        issue_date: Date,
        /// The new card's expiry.
        expiry: CardExpiry,
    },
    /// The name changed.
    NameChanged {
        /// The new family name.
        family_name: String,
        /// The new given name.
        given_name: String,
    },
    /// The address of residence changed.
    AddressChanged {
        /// The new address.
        address: String,
        /// The county of the new address.
        residence_region: RegionCode,
    },
    /// The resident died.
    Death {
        /// The date of death.
        date: Date,
    },
}

impl LifeEvent {
    /// The event's kind, without its personal data.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CardReportedLost => "card_reported_lost",
            Self::CardReplaced { .. } => "card_replaced",
            Self::NameChanged { .. } => "name_changed",
            Self::AddressChanged { .. } => "address_changed",
            Self::Death { .. } => "death",
        }
    }

    /// The state the event moves the resident's credentials to: a lost card suspends them
    /// (the card may be found); a replaced card, a new name or address and a death revoke
    /// them.
    pub fn credential_state(&self) -> CredentialState {
        match self {
            Self::CardReportedLost => CredentialState::Suspended,
            _ => CredentialState::Invalid,
        }
    }

    /// Whether the resident is offered a new credential after it (the old one told
    /// something that is no longer true).
    pub fn offers_reissue(&self) -> bool {
        matches!(
            self,
            Self::CardReplaced { .. } | Self::NameChanged { .. } | Self::AddressChanged { .. }
        )
    }
}

impl std::fmt::Debug for LifeEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LifeEvent({})", self.kind())
    }
}

/// A resident as the registry holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryEntry {
    /// The card's data as last recorded (names and address follow life events).
    pub card: ResidentCard,
    /// The card's state.
    pub state: CardState,
    /// Whether a death was recorded.
    pub deceased: bool,
}

impl RegistryEntry {
    /// Whether the card can be relied on on `today`: in use, within its dates, its holder
    /// alive.
    pub fn card_usable_on(&self, today: Date) -> bool {
        self.state == CardState::Valid && !self.deceased && self.card.card_expiry.is_valid_on(today)
    }
}

fn encode(card: &ResidentCard) -> Result<String, StoreError> {
    serde_json::to_string(card).map_err(|_| StoreError::Corrupt("resident"))
}

fn decode(record: &str) -> Result<ResidentCard, StoreError> {
    serde_json::from_str(record).map_err(|_| StoreError::Corrupt("resident"))
}

/// A life event's effect on the registry's record: a lost card's state becomes reported
/// lost; a replaced card gets its new dates and the state valid; a name or address change
/// updates the record; a death marks the resident deceased.
pub(crate) fn apply(entry: &mut RegistryEntry, event: &LifeEvent) {
    match event {
        LifeEvent::CardReportedLost => entry.state = CardState::ReportedLost,
        LifeEvent::CardReplaced { issue_date, expiry } => {
            entry.card.card_issue_date = *issue_date;
            entry.card.card_expiry = *expiry;
            entry.state = CardState::Valid;
        }
        LifeEvent::NameChanged {
            family_name,
            given_name,
        } => {
            entry.card.family_name.clone_from(family_name);
            entry.card.given_name.clone_from(given_name);
            entry.card.full_name = format!("{family_name}{given_name}");
        }
        LifeEvent::AddressChanged {
            address,
            residence_region,
        } => {
            entry.card.address.clone_from(address);
            entry.card.residence_region = *residence_region;
        }
        LifeEvent::Death { .. } => entry.deceased = true,
    }
}

/// A life event to write, for the resident `number`, at `at`.
pub(crate) struct EventWrite<'a> {
    pub(crate) number: &'a str,
    pub(crate) event: &'a LifeEvent,
    pub(crate) at: OffsetDateTime,
}

/// A resident's row after a life event: the record (JSON), the card's state, deceased.
pub(crate) struct AfterEvent {
    pub(crate) record: String,
    pub(crate) state: &'static str,
    pub(crate) deceased: bool,
    /// The event as stored (JSON).
    pub(crate) detail: String,
}

/// The resident's row (as read: record JSON, card state, deceased) after `event`.
pub(crate) fn after_event(
    row: (String, String, bool),
    event: &LifeEvent,
) -> Result<AfterEvent, StoreError> {
    let (record, state, deceased) = row;
    let mut entry = RegistryEntry {
        card: decode(&record)?,
        state: CardState::parse(&state)?,
        deceased,
    };
    apply(&mut entry, event);
    Ok(AfterEvent {
        record: encode(&entry.card)?,
        state: entry.state.as_str(),
        deceased: entry.deceased,
        detail: serde_json::to_string(event).map_err(|_| StoreError::Corrupt("life event"))?,
    })
}

/// Appends one CSV field (RFC 4180 quoting) for PostgreSQL's `COPY … (FORMAT csv)`.
fn csv_field(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

impl Partition {
    /// Imports `cards`, idempotently: new residents are added, changed records replaced,
    /// identical ones left alone; card states and events are kept. One transaction per
    /// call (call it with batches of some thousands). Returns how many records were new or
    /// changed.
    pub(crate) async fn import_residents(
        &self,
        cards: &[ResidentCard],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin_write().await.map_err(db("starting an import"))?;
                let mut written = 0;
                for card in cards {
                    let done = sqlx::query(
                        "INSERT INTO residents (id_number, record, updated_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (id_number) DO UPDATE
                         SET record = excluded.record, updated_at = excluded.updated_at
                         WHERE residents.record <> excluded.record",
                    )
                    .bind(card.id_number.expose())
                    .bind(encode(card)?)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("importing residents"))?;
                    written += done.rows_affected();
                }
                tx.commit().await.map_err(db("committing an import"))?;
                Ok(written)
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin_write().await.map_err(db("starting an import"))?;
                sqlx::query(
                    "CREATE TEMP TABLE residents_staging (id_number TEXT, record TEXT) ON COMMIT DROP",
                )
                .execute(&mut *tx)
                .await
                .map_err(db("staging an import"))?;
                let mut csv = String::with_capacity(cards.len() * 420);
                for card in cards {
                    csv_field(&mut csv, card.id_number.expose());
                    csv.push(',');
                    csv_field(&mut csv, &encode(card)?);
                    csv.push('\n');
                }
                let mut copy = tx
                    .copy_in_raw(
                        "COPY residents_staging (id_number, record) FROM STDIN (FORMAT csv)",
                    )
                    .await
                    .map_err(db("copying residents"))?;
                copy.send(csv.as_bytes())
                    .await
                    .map_err(db("copying residents"))?;
                copy.finish().await.map_err(db("copying residents"))?;
                let done = sqlx::query(
                    "INSERT INTO residents (id_number, record, updated_at)
                     SELECT id_number, record::jsonb, $1 FROM residents_staging
                     ON CONFLICT (id_number) DO UPDATE
                     SET record = EXCLUDED.record, updated_at = EXCLUDED.updated_at
                     WHERE residents.record IS DISTINCT FROM EXCLUDED.record",
                )
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("importing residents"))?;
                tx.commit().await.map_err(db("committing an import"))?;
                Ok(done.rows_affected())
            }
        }
    }

    /// The number of residents.
    pub(crate) async fn resident_count(&self) -> Result<u64, StoreError> {
        let count: i64 = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_scalar("SELECT count(*) FROM residents")
                    .fetch_one(pool)
                    .await
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar("SELECT count(*) FROM residents")
                    .fetch_one(pool)
                    .await
            }
        }
        .map_err(db("counting residents"))?;
        Ok(count.unsigned_abs())
    }

    /// Up to `n` registered numbers, for benchmarks and spot checks (no order promised).
    pub(crate) async fn sample_numbers(&self, n: u32) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_scalar("SELECT id_number FROM residents ORDER BY random() LIMIT ?1")
                    .bind(n)
                    .fetch_all(pool)
                    .await
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar("SELECT id_number FROM residents ORDER BY random() LIMIT $1")
                    .bind(i64::from(n))
                    .fetch_all(pool)
                    .await
            }
        }
        .map_err(db("sampling numbers"))
    }

    /// The resident with identity number `number`, if registered.
    pub(crate) async fn resident(&self, number: &str) -> Result<Option<RegistryEntry>, StoreError> {
        let row = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(
                "SELECT record, card_state, deceased <> 0 AS deceased FROM residents WHERE id_number = ?1",
            )
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(db("looking up a resident"))?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?, r.try_get::<bool, _>(2)?))
            }),
            Backend::Postgres(pool) => sqlx::query(
                "SELECT record::text, card_state, deceased FROM residents WHERE id_number = $1",
            )
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(db("looking up a resident"))?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?, r.try_get::<bool, _>(2)?))
            }),
        };
        let Some(row) = row else { return Ok(None) };
        let (record, state, deceased) = row.map_err(db("reading a resident"))?;
        Ok(Some(RegistryEntry {
            card: decode(&record)?,
            state: CardState::parse(&state)?,
            deceased,
        }))
    }

    /// Records `event` for the resident `number` at `at`, and applies it to the registry
    /// and to the resident's credentials: a lost card's state becomes reported lost and its
    /// credentials suspended; a replaced card gets its new dates and the state valid (the
    /// old card is void: its credentials are revoked); a name or address change updates the
    /// record and revokes them; a death marks the resident deceased and revokes them. One
    /// transaction with the credentials' outbox events: the event and all its effects are
    /// stored together or not at all. Returns the credentials that changed.
    pub(crate) async fn record_event(
        &self,
        number: &ResidentIdNumber,
        event: &LifeEvent,
        at: OffsetDateTime,
        stamp: &AuditStamp<'_>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        retrying("recording a life event", || {
            self.record_event_once(number, event, at, stamp)
        })
        .await
    }

    async fn record_event_once(
        &self,
        number: &ResidentIdNumber,
        event: &LifeEvent,
        at: OffsetDateTime,
        stamp: &AuditStamp<'_>,
    ) -> Result<Vec<CredentialRecord>, StoreError> {
        let write = EventWrite {
            number: number.expose(),
            event,
            at,
        };
        self.change_states(
            Selector::Resident(number),
            event.credential_state(),
            at.unix_timestamp(),
            Some(&write),
            stamp,
        )
        .await
    }

    /// The SQL that writes a life event: the resident's row read (locked on PostgreSQL; on
    /// SQLite the transaction holds the one write lock), the record after it, and the event.
    /// Parameters: number; number, record, card state, deceased, at; number, kind, detail, at.
    pub(crate) fn event_sql(&self) -> [&'static str; 3] {
        match &self.backend {
            Backend::Sqlite(_) => [
                "SELECT record, card_state, deceased FROM residents WHERE id_number = ?1",
                "UPDATE residents SET record = ?2, card_state = ?3, deceased = ?4, updated_at = ?5
                 WHERE id_number = ?1",
                "INSERT INTO life_events (id_number, kind, detail, at) VALUES (?1, ?2, ?3, ?4)",
            ],
            Backend::Postgres(_) => [
                "SELECT record::text, card_state, deceased FROM residents WHERE id_number = $1 FOR UPDATE",
                "UPDATE residents SET record = $2::jsonb, card_state = $3, deceased = $4, updated_at = $5
                 WHERE id_number = $1",
                "INSERT INTO life_events (id_number, kind, detail, at) VALUES ($1, $2, $3::jsonb, $4)",
            ],
        }
    }

    /// The resident's life events, oldest first.
    pub(crate) async fn life_events(
        &self,
        number: &str,
    ) -> Result<Vec<(LifeEvent, OffsetDateTime)>, StoreError> {
        let rows: Vec<(String, OffsetDateTime)> =
            match &self.backend {
                Backend::Sqlite(pool) => {
                    sqlx::query_as(
                        "SELECT detail, at FROM life_events WHERE id_number = ?1 ORDER BY seq",
                    )
                    .bind(number)
                    .fetch_all(pool)
                    .await
                }
                Backend::Postgres(pool) => sqlx::query_as(
                    "SELECT detail::text, at FROM life_events WHERE id_number = $1 ORDER BY seq",
                )
                .bind(number)
                .fetch_all(pool)
                .await,
            }
            .map_err(db("reading life events"))?;
        rows.into_iter()
            .map(|(detail, at)| {
                serde_json::from_str(&detail)
                    .map(|e| (e, at))
                    .map_err(|_| StoreError::Corrupt("life event"))
            })
            .collect()
    }
}
