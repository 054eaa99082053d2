-- Issuance and lifecycle state of the authority. Times are Unix seconds. Codes, tokens and
-- nonces are stored as SHA-256 hashes (base64url), never as the bearer secrets themselves.

-- Credential offers (pre-authorized codes) made after enrolment.
CREATE TABLE offers (
    code_hash       TEXT PRIMARY KEY NOT NULL,
    id_number       TEXT NOT NULL,
    configurations  TEXT NOT NULL,            -- JSON array of configuration ids
    tx_code_hash    TEXT,
    tx_failures     INTEGER NOT NULL DEFAULT 0,
    expires_at      INTEGER NOT NULL,
    redeemed        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Access tokens from redeemed offers; each configuration is issued once per token.
CREATE TABLE access_tokens (
    token_hash      TEXT PRIMARY KEY NOT NULL,
    id_number       TEXT NOT NULL,
    configurations  TEXT NOT NULL,
    expires_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE token_issuances (
    token_hash      TEXT NOT NULL REFERENCES access_tokens (token_hash) ON DELETE CASCADE,
    configuration   TEXT NOT NULL,
    PRIMARY KEY (token_hash, configuration)
) WITHOUT ROWID;

-- c_nonces handed out by the nonce endpoint, each usable once.
CREATE TABLE nonces (
    nonce_hash      TEXT PRIMARY KEY NOT NULL,
    expires_at      INTEGER NOT NULL
) WITHOUT ROWID;

-- Logical credentials (one batch, one wallet instance) and their state:
-- 0 VALID, 1 INVALID (revoked), 2 SUSPENDED (Token Status List values).
CREATE TABLE credentials (
    id              TEXT PRIMARY KEY NOT NULL,
    id_number       TEXT NOT NULL,
    provider        TEXT NOT NULL,
    wallet_instance TEXT NOT NULL,
    configuration   TEXT NOT NULL,
    issued_at       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    status          INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2))
) WITHOUT ROWID;
CREATE INDEX credentials_by_resident ON credentials (id_number);
CREATE INDEX credentials_by_wallet ON credentials (provider, wallet_instance);

-- Status list shards and the (random) index of every issued instance.
CREATE TABLE status_shards (
    shard           INTEGER PRIMARY KEY NOT NULL,
    size            INTEGER NOT NULL,
    allocated       INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE credential_instances (
    shard           INTEGER NOT NULL REFERENCES status_shards (shard),
    idx             INTEGER NOT NULL,
    credential      TEXT NOT NULL REFERENCES credentials (id),
    PRIMARY KEY (shard, idx)
) WITHOUT ROWID;
CREATE INDEX instances_by_credential ON credential_instances (credential);

-- Every decision and change, without personal data: subjects are credential ids, wallet
-- instances or pseudonyms.
CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT NOT NULL DEFAULT ''
);

-- Failed proofing attempts, by pseudonymous key, for rate limiting.
CREATE TABLE proofing_failures (
    key             TEXT NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX proofing_failures_by_key ON proofing_failures (key, at);
