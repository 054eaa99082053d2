-- The population registry: one row per resident, the card record as JSON, its state.
-- The identity number is the key (lookups are by number) and is in no other index. The
-- table is hash-partitioned by number so that it can be spread over servers later.
CREATE TABLE residents (
    id_number   TEXT NOT NULL,
    record      JSONB NOT NULL,
    card_state  TEXT NOT NULL DEFAULT 'valid'
                CHECK (card_state IN ('valid', 'reported_lost', 'replaced')),
    deceased    BOOLEAN NOT NULL DEFAULT false,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id_number)
) PARTITION BY HASH (id_number);
CREATE TABLE residents_p0 PARTITION OF residents FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE residents_p1 PARTITION OF residents FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE residents_p2 PARTITION OF residents FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE residents_p3 PARTITION OF residents FOR VALUES WITH (MODULUS 4, REMAINDER 3);

CREATE TABLE life_events (
    seq         BIGSERIAL PRIMARY KEY,
    id_number   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    detail      JSONB NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX life_events_by_resident ON life_events (id_number, seq);
