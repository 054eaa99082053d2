-- Whose wallet holds a credential held for someone else (0007): the holder's identity number;
-- NULL for the resident's own. The holder's freeze and the end of her e-ID (a death) reach
-- what she holds by it, in whatever wallet and whoever else that wallet holds for: sent again,
-- the change finishes what a first try left, whatever her own credentials' states are by then.
ALTER TABLE credentials ADD COLUMN held_by TEXT;
-- Those recorded before: their holder is the one resident other than the ward whose own
-- credentials that wallet instance received before it; where none or several did, it stays
-- NULL. On a partitioned store a holder recorded on another partition than the ward is not
-- found here: her freeze and death then do not reach it, her phone does (reported lost,
-- moved from, re-bound away from).
UPDATE credentials SET held_by = (
    SELECT min(own.id_number) FROM credentials own
    WHERE own.provider = credentials.provider
      AND own.wallet_instance = credentials.wallet_instance
      AND own.delegation IS NULL
      AND own.issued_at <= credentials.issued_at
      AND own.id_number <> credentials.id_number
    HAVING count(DISTINCT own.id_number) = 1)
WHERE delegation IS NOT NULL;
CREATE INDEX credentials_held_by ON credentials (held_by) WHERE held_by IS NOT NULL;
