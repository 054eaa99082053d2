-- What the wallet remembers beyond its credentials: the issuer it enrolled with (where a
-- refresh goes).
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
