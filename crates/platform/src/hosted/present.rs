//! Showing the credential from a hosted wallet: the offline code, OpenID4VP by a link, and the
//! Digital Credentials API as a phone's app is handed a page's request.

use super::*;

impl Provider {
    /// A fresh offline code for `purpose` (valid 60 s): its bytes in base64url, what it
    /// shows and until when.
    pub async fn offline_code(&self, id: &str, purpose: &str, pin: &str) -> Result<Value, Refused> {
        let purpose = Purpose::parse(purpose).ok_or_else(|| {
            bad(format!(
                "unknown purpose {}: offline codes exist for airport_security, rail_ticketing and age_check",
                eid_serve::excerpt(purpose)
            ))
        })?;
        let wallet = self.wallet(id).await?;
        let now = self.clock.now();
        Holder::new(wallet.store.clone())
            .can_show_offline(purpose, now)
            .await
            .map_err(holder_refusal)?;
        let (names, code) = self
            .with_holder(&wallet, pin, async |holder, keys, _| {
                let show = holder.offline(purpose, &*keys, now).await?;
                Ok((show.shows, show.code))
            })
            .await?;
        self.sync_backup(&wallet).await;
        Ok(json!({
            "qr_svg": crate::web::qr_svg(&code),
            "code": b64url(&code),
            "bytes": code.len(),
            "purpose": purpose.as_str(),
            "shows": names,
            "valid_until": (now + eid_mdoc::offline::MAX_AGE).unix_timestamp(),
        }))
    }

    /// Online: reads the relying party's request (an `openid4vp://` invocation), checks it
    /// against the trust list and holds it for the holder's decision: what is asked, by
    /// whom, why.
    pub async fn online_receive(&self, id: &str, invocation: &str) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let trust = self.trust()?;
        let pending = Holder::new(wallet.store.clone())
            .receive_online(invocation, &trust, self.clock.now())
            .await
            .map_err(holder_refusal)?;
        let consent = serde_json::to_value(&pending.consent).map_err(Refused::internal)?;
        let session = self.token()?;
        let now = self.clock.now();
        let mut sessions = self
            .online
            .lock()
            .map_err(|_| Refused::internal("sessions lock"))?;
        sessions.retain(|_, s| now - s.received < SESSION_KEPT);
        sessions.insert(
            format!("{id}/{session}"),
            Online {
                received: now,
                pending: Arc::new(pending),
            },
        );
        Ok(json!({ "session": session, "consent": consent }))
    }

    /// The holder's decision on an online request: shares (with the PIN) her own credential
    /// or, with `held_for`, the one of that holding (held for someone else, where the request
    /// accepts one), or declines.
    pub async fn online_decide(
        &self,
        id: &str,
        session: &str,
        share: bool,
        pin: &str,
        held_for: Option<i64>,
    ) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let whose = if share {
            self.whose(&wallet, held_for).await?
        } else {
            Whose::Mine
        };
        let key = format!("{id}/{session}");
        let held = self
            .online
            .lock()
            .map_err(|_| Refused::internal("sessions lock"))?
            .remove(&key)
            .ok_or_else(|| Refused::new(404, "no_such_request", "no such request waiting"))?;
        if !share {
            let told = Holder::new(wallet.store.clone())
                .decline_online(&held.pending, self.random.as_ref())
                .await;
            return Ok(json!({ "shared": false, "told": told }));
        }
        if pin.is_empty() {
            self.keep_online(key, held)?;
            return Err(bad("sharing needs the PIN"));
        }
        let now = self.clock.now();
        let pending = held.pending.clone();
        let random = self.random.clone();
        let shared = self
            .with_holder(&wallet, pin, async |holder, keys, _| {
                holder
                    .share_online(&pending, whose, &*keys, random.as_ref(), now)
                    .await
            })
            .await;
        if let Err(refused) = shared {
            // A mistyped PIN, another's credential where the request takes the holder's own
            // alone, or none of another's left to show: the relying party was not told, and
            // the request waits for another try.
            let another = whose != Whose::Mine;
            if refused.code == "wrong_pin"
                || refused.code == "delegation_not_accepted"
                || (another && refused.code == "no_credential")
            {
                self.keep_online(key, held)?;
            }
            return Err(refused);
        }
        self.sync_backup(&wallet).await;
        Ok(json!({ "shared": true, "with": pending.consent.relying_party_name }))
    }

    /// The W3C Digital Credentials API, as the phone's app is handed a web page's request by
    /// its platform (the protocol, the data, the page's origin; here whoever calls plays the
    /// platform, as the browser test does for Chromium's virtual wallet): checked as in
    /// person (`eid_wallet::dc_api`), and shared at once with the PIN — the PIN is the
    /// holder's consent — from her own credential, or with `held_for` from one she holds
    /// for someone else where the request takes it. The DigitalCredential to hand back to
    /// the page.
    pub async fn digital_credential(
        &self,
        id: &str,
        protocol: &str,
        data: &Value,
        origin: &str,
        pin: &str,
        held_for: Option<i64>,
    ) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let trust = self.trust()?;
        let now = self.clock.now();
        let request = eid_wallet::dc_api::DigitalCredentialRequest {
            protocol,
            data,
            origin,
        };
        let pending = eid_wallet::dc_api::receive(&request, &trust, now)
            .map_err(|refused| Refused::new(422, "request_refused", refused.to_string()))?;
        if pin.is_empty() {
            return Err(bad("sharing needs the PIN"));
        }
        let whose = self.whose(&wallet, held_for).await?;
        if !pending.accepts(whose.doc_type()) {
            return Err(holder_refusal(HolderError::DelegationNotAccepted));
        }
        let relationship = (wallet.store.relationship(whose).await).map_err(Refused::internal)?;
        let instance = self
            .pick_mdoc(&wallet, whose, &pending.consent.relying_party)
            .await?;
        let consent = pending.consent.clone();
        let credential = instance.credential.clone();
        let random = self.random.clone();
        let data = Self::with_key(&wallet, pin, instance.key_id.clone(), move |signer| {
            pending
                .respond(
                    eid_wallet::online::Held::Mdoc(&credential),
                    signer,
                    random.as_ref(),
                    now,
                )
                .map_err(Refused::internal)
        })
        .await?;
        let shown = (instance.id, relationship);
        record(&wallet, "digital_credentials", &consent, shown, now).await?;
        self.sync_backup(&wallet).await;
        Ok(json!({ "protocol": protocol, "data": data }))
    }

    fn keep_online(&self, key: String, held: Online) -> Result<(), Refused> {
        self.online
            .lock()
            .map_err(|_| Refused::internal("sessions lock"))?
            .insert(key, held);
        Ok(())
    }
}
