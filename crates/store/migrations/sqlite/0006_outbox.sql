-- The transactional outbox: every status change writes its events here in the transaction
-- that makes it, so an event is published exactly when its change is committed, even when
-- the process dies before it could publish (the relay finds the row after a restart).
-- Rows leave when the relay has delivered them; `seq` orders them and, with the store's
-- outbox key, names each message so that JetStream drops a second delivery.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('status', 'notice')),
    -- A status event: the local shard, the index and the new status value.
    shard INTEGER,
    idx INTEGER,
    status INTEGER CHECK (status IN (0, 1, 2)),
    -- A wallet notice.
    provider TEXT,
    wallet_instance TEXT,
    notice TEXT
);
