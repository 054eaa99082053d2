-- A credential held for the resident in someone else's wallet (a parent's or a guardian's,
-- registered at a counter): the relationship; NULL for the resident's own. Whatever speaks
-- of "her wallet" (the one resident a wallet holds, a lost phone or a move she reports, the
-- notices of a new enrolment) leaves these out; whatever speaks of her or of the holding
-- wallet (a freeze, a registry event, a lost report by the holder) takes them in.
ALTER TABLE credentials ADD COLUMN delegation TEXT;
