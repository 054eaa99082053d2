-- Secrets every replica of the authority must share and keep across restarts when the
-- operator configured none: the key of the audit log's and rate limits' pseudonyms. Kept in
-- the first partition only. (A configured key, from a secret manager, wins.)
CREATE TABLE authority_keys (
    name    TEXT PRIMARY KEY NOT NULL,
    value   TEXT NOT NULL
);
