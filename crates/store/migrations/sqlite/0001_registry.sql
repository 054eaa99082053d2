-- The population registry: one row per resident, the card record as JSON, its state.
-- The identity number is the key (lookups are by number) and is in no other index.
CREATE TABLE residents (
    id_number   TEXT PRIMARY KEY NOT NULL,
    record      TEXT NOT NULL,
    card_state  TEXT NOT NULL DEFAULT 'valid'
                CHECK (card_state IN ('valid', 'reported_lost', 'replaced')),
    deceased    INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Life events, in the order they were recorded.
CREATE TABLE life_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id_number   TEXT NOT NULL REFERENCES residents (id_number),
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX life_events_by_resident ON life_events (id_number, seq);
