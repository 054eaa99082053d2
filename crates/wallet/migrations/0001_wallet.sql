-- The wallet's credentials: each instance with the device key it is bound to, and which
-- relying party it was shown to (an instance shown to one relying party is never shown to
-- another: two relying parties cannot link the holder by the credential).
CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    format TEXT NOT NULL,          -- mso_mdoc, dc+sd-jwt, eid_compact_cwt
    purpose TEXT,                  -- a compact credential's purpose; NULL for the others
    key_id TEXT NOT NULL,          -- the keystore's id of its device key
    credential BLOB NOT NULL,
    expires_at INTEGER NOT NULL,   -- Unix seconds
    relying_party TEXT,            -- the one it was shown to, once shown
    uses INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0 -- re-bound away, revoked: never shown again
);
CREATE INDEX credentials_pick ON credentials (format, purpose, dead, relying_party);

-- Every presentation: who, when, why, which attributes (names, never values).
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    channel TEXT NOT NULL,         -- in_person, offline_qr, online
    relying_party TEXT,            -- NULL for an offline code (shown to whoever scans it)
    relying_party_name TEXT,
    purpose TEXT NOT NULL,
    attributes TEXT NOT NULL,      -- JSON array of names
    credential_id INTEGER REFERENCES credentials (id)
);
