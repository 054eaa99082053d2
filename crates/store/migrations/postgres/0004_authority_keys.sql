-- What every replica of the authority must share and keep across restarts: the key of the
-- audit log's and rate limits' pseudonyms when the operator configured none (in the first
-- partition; a configured key, from a secret manager, wins), and in every partition its
-- place in the shard map (`partition` = `p/P`), checked on every start.
CREATE TABLE authority_keys (
    name    TEXT PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL
);
