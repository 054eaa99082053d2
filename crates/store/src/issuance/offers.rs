//! Offers, access tokens, nonces and the keys the replicas share.

use super::*;

impl Partition {
    /// Stores an offer.
    pub(crate) async fn create_offer(&self, offer: &NewOffer<'_>) -> Result<(), StoreError> {
        let configurations = serde_json::to_string(offer.configurations)
            .map_err(|_| StoreError::Corrupt("offer"))?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO offers (code_hash, id_number, configurations, tx_code_hash, expires_at, wallet)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(offer.code_hash)
        .bind(offer.id_number.expose())
        .bind(&configurations)
        .bind(offer.tx_code_hash)
        .bind(offer.expires_at)
        .bind(offer.wallet)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(db("storing an offer"))
    }

    /// Redeems a pre-authorized code once: one conditional update marks the offer redeemed
    /// only while it is unredeemed, unexpired, not voided by wrong transaction codes and the
    /// code matches, and the access token (bound to the offer's wallet, if any) is stored
    /// in the same transaction — two concurrent redemptions cannot both win. Otherwise the
    /// offer is read to say why, and a wrong transaction code is counted atomically (the
    /// offer is void after `max_tx_failures`).
    pub(crate) async fn redeem_offer(
        &self,
        code_hash: &str,
        tx_code_hash: Option<&str>,
        now: i64,
        token_hash: &str,
        token_expires_at: i64,
        max_tx_failures: i64,
    ) -> Result<Redemption, StoreError> {
        retrying("redeeming an offer", || {
            self.redeem_offer_once(
                code_hash,
                tx_code_hash,
                now,
                token_hash,
                token_expires_at,
                max_tx_failures,
            )
        })
        .await
    }

    async fn redeem_offer_once(
        &self,
        code_hash: &str,
        tx_code_hash: Option<&str>,
        now: i64,
        token_hash: &str,
        token_expires_at: i64,
        max_tx_failures: i64,
    ) -> Result<Redemption, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("redeeming an offer"))?;
            let won: Option<(String, String, Option<String>)> = sqlx::query_as(
                "UPDATE offers SET redeemed = $1
                 WHERE code_hash = $2 AND redeemed = $3 AND expires_at > $4 AND tx_failures < $5
                   AND (tx_code_hash IS NULL OR tx_code_hash = $6)
                 RETURNING id_number, configurations, wallet",
            )
            .bind(true)
            .bind(code_hash)
            .bind(false)
            .bind(now)
            .bind(max_tx_failures)
            .bind(tx_code_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("redeeming an offer"))?;
            if let Some((id_number, configurations, wallet)) = won {
                // Read back before anything is kept: a record that does not read leaves the
                // code unspent.
                let typed = stored_number(&id_number, "offer")?;
                let offered: Vec<String> = serde_json::from_str(&configurations)
                    .map_err(|_| StoreError::Corrupt("offer"))?;
                sqlx::query(
                    "INSERT INTO access_tokens (token_hash, id_number, configurations, expires_at, wallet)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(&id_number)
                .bind(&configurations)
                .bind(token_expires_at)
                .bind(&wallet)
                .execute(&mut *tx)
                .await
                .map_err(db("storing an access token"))?;
                tx.commit().await.map_err(db("redeeming an offer"))?;
                return Ok(Redemption::Granted {
                    id_number: typed,
                    configurations: offered,
                });
            }
            tx.rollback().await.map_err(db("redeeming an offer"))?;
            // Why not: read the offer (nothing is decided on this read but the answer).
            let row: Option<(Option<String>, i64, i64, bool)> = sqlx::query_as(
                "SELECT tx_code_hash, tx_failures, expires_at, redeemed FROM offers WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(pool)
            .await
            .map_err(db("reading an offer"))?;
            let Some((expected_tx, failures, expires_at, redeemed)) = row else {
                return Ok(Redemption::UnknownCode);
            };
            if redeemed {
                return Ok(Redemption::AlreadyRedeemed);
            }
            if expires_at <= now || failures >= max_tx_failures {
                return Ok(Redemption::Expired);
            }
            match (expected_tx, tx_code_hash) {
                (Some(_), None) => Ok(Redemption::TxCodeRequired),
                (Some(_), Some(_)) => {
                    let counted: Option<(i64,)> = sqlx::query_as(
                        "UPDATE offers SET tx_failures = tx_failures + 1
                         WHERE code_hash = $1 AND tx_failures < $2 RETURNING tx_failures",
                    )
                    .bind(code_hash)
                    .bind(max_tx_failures)
                    .fetch_optional(pool)
                    .await
                    .map_err(db("counting a wrong transaction code"))?;
                    Ok(match counted {
                        Some((n,)) => Redemption::WrongTxCode { attempts_left: max_tx_failures - n },
                        None => Redemption::Expired,
                    })
                }
                // Redeemed or voided between the update and the read.
                (None, _) => Ok(Redemption::AlreadyRedeemed),
            }
        })
    }

    /// Voids a resident's unredeemed offers and live access tokens (a revocation, a lost
    /// card or a re-binding must not leave a door open). Returns how many were voided.
    pub(crate) async fn void_pending(&self, id_number: &str) -> Result<u64, StoreError> {
        retrying("voiding offers", || self.void_pending_once(id_number)).await
    }

    async fn void_pending_once(&self, id_number: &str) -> Result<u64, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("voiding offers"))?;
            let offers = sqlx::query("UPDATE offers SET redeemed = $1 WHERE id_number = $2 AND redeemed = $3")
                .bind(true)
                .bind(id_number)
                .bind(false)
                .execute(&mut *tx)
                .await
                .map_err(db("voiding offers"))?
                .rows_affected();
            let tokens = sqlx::query("DELETE FROM access_tokens WHERE id_number = $1")
                .bind(id_number)
                .execute(&mut *tx)
                .await
                .map_err(db("voiding access tokens"))?
                .rows_affected();
            tx.commit().await.map_err(db("voiding offers"))?;
            Ok(offers + tokens)
        })
    }

    /// The grant of an unexpired access token.
    pub(crate) async fn access_grant(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessGrant>, StoreError> {
        let row: Option<(String, String, Option<String>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id_number, configurations, wallet FROM access_tokens
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)
        .map_err(db("reading an access token"))?;
        row.map(|(id_number, configurations, wallet)| {
            Ok(AccessGrant {
                id_number: stored_number(&id_number, "access token")?,
                wallet,
                configurations: serde_json::from_str(&configurations)
                    .map_err(|_| StoreError::Corrupt("access token"))?,
            })
        })
        .transpose()
    }

    /// Marks `configuration` issued under the token; false if it already was, or if the
    /// token is gone (voided by a suspension, revocation or re-binding of its resident
    /// since it was read: the foreign key refuses the mark).
    pub(crate) async fn mark_issued(
        &self,
        token_hash: &str,
        configuration: &str,
    ) -> Result<bool, StoreError> {
        let marked = on_pool!(self, pool => sqlx::query(
            "INSERT INTO token_issuances (token_hash, configuration) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(token_hash)
        .bind(configuration)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1));
        match marked {
            Err(sqlx::Error::Database(e))
                if e.kind() == sqlx::error::ErrorKind::ForeignKeyViolation =>
            {
                Ok(false)
            }
            other => other.map_err(db("recording an issuance")),
        }
    }

    /// Undoes [`Store::mark_issued`] when the issuance then failed, so it can be retried.
    pub(crate) async fn unmark_issued(
        &self,
        token_hash: &str,
        configuration: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query(
            "DELETE FROM token_issuances WHERE token_hash = $1 AND configuration = $2",
        )
        .bind(token_hash)
        .bind(configuration)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(db("undoing an issuance"))
    }

    /// Stores a c_nonce (hashed) until `expires_at`, and drops expired ones.
    pub(crate) async fn create_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM nonces WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map_err(db("dropping expired nonces"))?;
            sqlx::query("INSERT INTO nonces (nonce_hash, expires_at) VALUES ($1, $2)")
                .bind(nonce_hash)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(db("storing a nonce"))
        })
    }

    /// Uses a nonce up: true if it existed unexpired (and is now gone).
    pub(crate) async fn consume_nonce(
        &self,
        nonce_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, pool => sqlx::query(
            "DELETE FROM nonces WHERE nonce_hash = $1 AND expires_at > $2",
        )
        .bind(nonce_hash)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(db("using a nonce"))
    }

    /// The key stored under `name`, storing `fresh` first when there is none (the first of
    /// several replicas starting at once wins; every one gets the same).
    pub(crate) async fn shared_key(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO authority_keys (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(name)
                .bind(fresh)
                .execute(pool)
                .await
                .map_err(db("storing a key"))?;
            sqlx::query_scalar("SELECT value FROM authority_keys WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await
                .map_err(db("reading a key"))
        })
    }
}
