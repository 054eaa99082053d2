//! Enrolment at a hosted wallet: an offer from the counter, remote enrolment with the face,
//! a refresh, a lost phone or a move reported — each `eid_wallet::holder`'s flow on the
//! wallet's keys, opened with the PIN.

use super::*;

impl Provider {
    /// Remote enrolment: the identity, the card's photographs (front, back) and a live
    /// capture (facing, turned, the way; base64 JPEG) go to the citizen's authority with the
    /// wallet's proof; the offer that comes back is redeemed. What the wallet then holds.
    pub async fn enrol_remote(
        &self,
        id: &str,
        identity: Identity<'_>,
        [card_front, card_back]: [&str; 2],
        [face, face_turned, turn]: [&str; 3],
        pin: &str,
    ) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let authority = self.authority_for(identity.id_number)?;
        let (front, back) = (
            image("card_front", card_front)?,
            image("card_back", card_back)?,
        );
        let (facing, turned, turn) = capture(face, face_turned, turn)?;
        let now = self.clock.now();
        let enrolled = self
            .with_holder(&wallet, pin, async |holder, keys, attester| {
                let face = LiveCapture {
                    facing: &facing,
                    turned: &turned,
                    turn,
                };
                holder
                    .enrol_remote(
                        &authority,
                        identity,
                        (&front, &back),
                        face,
                        keys,
                        attester,
                        now,
                    )
                    .await
            })
            .await?;
        Ok(json!(enrolled))
    }

    /// Enrolment with an offer and its code from the counter; only from this platform's
    /// authorities (an offer from elsewhere would get the transaction code, the key proofs
    /// and the attestation).
    pub async fn enrol_with_offer(
        &self,
        id: &str,
        offer: &str,
        tx_code: &str,
        pin: &str,
    ) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let issuers: Vec<String> = self
            .authorities
            .iter()
            .map(|(_, url)| url.clone())
            .collect();
        let now = self.clock.now();
        let enrolled = self
            .with_holder(&wallet, pin, async |holder, keys, attester| {
                holder
                    .redeem(offer, tx_code, Some(&issuers), keys, attester, now)
                    .await
            })
            .await?;
        Ok(json!(enrolled))
    }

    /// A new batch before expiry (no new proofing): the authority's offer, redeemed.
    pub async fn refresh(&self, id: &str, pin: &str) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let issuer = Holder::new(wallet.store.clone())
            .issuer()
            .await
            .map_err(holder_refusal)?;
        let now = self.clock.now();
        let enrolled = self
            .with_holder(&wallet, pin, async |holder, keys, attester| {
                holder.refresh(&issuer, keys, attester, now).await
            })
            .await?;
        Ok(json!(enrolled))
    }

    /// Reports the holder's other wallets lost, from this one, with a live capture (facing,
    /// turned, the way; base64 JPEG): suspended. With `moving`, the holder has moved to this
    /// wallet: the authority revokes them for good once this wallet holds her credentials,
    /// and refuses (`move_not_completed`) while it does not.
    pub async fn report_lost(
        &self,
        id: &str,
        identity: Identity<'_>,
        [face, face_turned, turn]: [&str; 3],
        moving: bool,
        pin: &str,
    ) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let authority = self.authority_for(identity.id_number)?;
        let (facing, turned, turn) = capture(face, face_turned, turn)?;
        let now = self.clock.now();
        let taken = self
            .with_holder(&wallet, pin, async |holder, keys, attester| {
                let face = LiveCapture {
                    facing: &facing,
                    turned: &turned,
                    turn,
                };
                holder
                    .report_lost(&authority, identity, face, moving, &*keys, attester, now)
                    .await
            })
            .await?;
        Ok(json!(taken))
    }
}

/// A base64 JPEG from the holder's request, decoded.
fn image(field: &str, base64: &str) -> Result<Vec<u8>, Refused> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(base64.trim())
        .map_err(|_| bad(format!("{field} is not base64")))
}

/// A live capture from the holder's request: facing, turned, the way.
fn capture(
    face: &str,
    face_turned: &str,
    turn: &str,
) -> Result<(Vec<u8>, Vec<u8>, eid_face::Turn), Refused> {
    Ok((
        image("face", face)?,
        image("face_turned", face_turned)?,
        turn.parse()
            .map_err(|()| bad("turn must be \"left\" or \"right\""))?,
    ))
}
