-- What the wallet holds for someone else: a resident's credential a parent or guardian holds
-- (a delegation registered at the counter). Each redeemed delegation offer is one holding;
-- its credentials point to it. The holder's own credentials have no holding.
CREATE TABLE holdings (
    id INTEGER PRIMARY KEY,
    relationship TEXT NOT NULL,    -- parent, guardian: as the credential says it
    issuer TEXT NOT NULL,          -- the issuer it came from
    received_at INTEGER NOT NULL   -- Unix seconds
);
ALTER TABLE credentials ADD COLUMN holding INTEGER REFERENCES holdings (id);
-- A presentation of a credential held for someone else says so: the relationship (not who:
-- the history keeps no values).
ALTER TABLE history ADD COLUMN held_for TEXT;
