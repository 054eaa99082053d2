-- Each instance carries its credential's status (written with it, in the same transaction),
-- so that a shard's list is read from the instances alone, through a partial index of the
-- few entries that are not VALID — not by joining every instance of the shard (2^17 at
-- most) to its credential, which PostgreSQL did with a hash join over the whole shard.
ALTER TABLE credential_instances ADD COLUMN status BIGINT NOT NULL DEFAULT 0
    CHECK (status IN (0, 1, 2));
-- Only the instances of credentials not VALID change (the rest keep the default). Every
-- replica must run this version before any changes a status again: an older one would
-- write the credential's status without its instances'.
UPDATE credential_instances SET status =
    (SELECT c.status FROM credentials c WHERE c.id = credential_instances.credential)
WHERE credential IN (SELECT id FROM credentials WHERE status <> 0);
CREATE INDEX instances_not_valid ON credential_instances (shard, idx) WHERE status <> 0;
