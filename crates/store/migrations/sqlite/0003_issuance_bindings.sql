-- Offers (and the tokens redeemed from them) may be bound to the wallet instance that was
-- proofed remotely (`provider/instance`): only that wallet may obtain the credentials.
ALTER TABLE offers ADD COLUMN wallet TEXT;
ALTER TABLE access_tokens ADD COLUMN wallet TEXT;
-- Expired nonces are purged by expiry on every new nonce.
CREATE INDEX nonces_by_expiry ON nonces (expires_at);
-- Voiding a resident's pending offers and tokens.
CREATE INDEX offers_by_resident ON offers (id_number);
CREATE INDEX access_tokens_by_resident ON access_tokens (id_number);
