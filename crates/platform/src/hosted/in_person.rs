//! In person (ISO 18013-5 over TCP): the hosted wallet plays the phone — the engagement QR,
//! the desk's request waiting for the holder's decision, the answer.

use super::*;

impl Provider {
    /// In person: the phone listens (here on loopback: a phone would use BLE or NFC) and
    /// shows its engagement QR; the desk connects and asks; the holder decides with
    /// [`Provider::in_person_decide`]. The session and the QR's text.
    pub async fn in_person_start(self: &Arc<Self>, id: &str) -> Result<Value, Refused> {
        let wallet = self.wallet(id).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(Refused::internal)?;
        let address = listener
            .local_addr()
            .map_err(Refused::internal)?
            .to_string();
        let engagement = Engagement::new(Some(&address)).map_err(Refused::internal)?;
        let uri = engagement.qr_uri();
        let session = self.token()?;
        let state = Arc::new(StdMutex::new(InPersonState::Waiting));
        let (decide, decided) = oneshot::channel();
        let now = self.clock.now();
        {
            let mut sessions = self
                .in_person
                .lock()
                .map_err(|_| Refused::internal("sessions lock"))?;
            // One engagement per wallet at a time (a phone shows one QR): an earlier one
            // stops listening — unless the holder has decided on it (its `decide` is
            // taken): that one sends its answer and records the showing in the history on
            // its own, within the transport's timeouts.
            let prefix = format!("{id}/");
            sessions.retain(|key, s| {
                let keep = now - s.started < SESSION_KEPT && !key.starts_with(&prefix);
                if !keep
                    && s.decide.is_some()
                    && let Some(task) = &s.task
                {
                    task.abort();
                }
                keep
            });
            sessions.insert(
                format!("{id}/{session}"),
                InPerson {
                    started: now,
                    task: None,
                    state: state.clone(),
                    decide: Some(decide),
                },
            );
        }
        let provider = self.clone();
        let task = tokio::spawn(async move {
            let outcome = provider
                .serve_desk(listener, engagement, wallet, &state, decided)
                .await;
            if let Err(e) = outcome
                && let Ok(mut state) = state.lock()
            {
                *state = InPersonState::Failed(e.message);
            }
        });
        if let Ok(mut sessions) = self.in_person.lock()
            && let Some(held) = sessions.get_mut(&format!("{id}/{session}"))
        {
            held.task = Some(task.abort_handle());
        }
        Ok(json!({
            "session": session,
            "qr_svg": crate::web::qr_svg(uri.as_bytes()),
            "engagement": uri,
        }))
    }

    async fn serve_desk(
        &self,
        listener: tokio::net::TcpListener,
        engagement: Engagement,
        wallet: Arc<Wallet>,
        state: &StdMutex<InPersonState>,
        decided: oneshot::Receiver<Option<(String, Whose)>>,
    ) -> Result<(), Refused> {
        use eid_mdoc::transport::{Framed, Transport};
        let set = |next: InPersonState| {
            if let Ok(mut state) = state.lock() {
                *state = next;
            }
        };
        let (stream, _) = tokio::time::timeout(IN_PERSON_WAIT, listener.accept())
            .await
            .map_err(|_| Refused::new(408, "timeout", "no desk connected"))?
            .map_err(Refused::internal)?;
        let stream = stream.into_std().map_err(Refused::internal)?;
        stream.set_nonblocking(false).map_err(Refused::internal)?;
        stream
            .set_read_timeout(Some(IN_PERSON_WAIT))
            .map_err(Refused::internal)?;
        let (trust, now) = (self.trust()?, self.clock.now());
        let (transport, received) = tokio::task::spawn_blocking(move || {
            let mut transport = Framed(stream);
            let establishment = transport.receive().map_err(Refused::internal)?;
            Ok::<_, Refused>((transport, engagement.receive(&establishment, &trust, now)))
        })
        .await
        .map_err(Refused::internal)??;
        let mut transport = transport;
        let pending = match received {
            Ok(pending) => pending,
            Err(refused) => {
                set(InPersonState::Refused(refused.to_string()));
                let _ = tokio::task::spawn_blocking(move || {
                    transport.send(&eid_wallet::in_person::refusal())
                })
                .await;
                return Ok(());
            }
        };
        set(InPersonState::Asking(pending.consent.clone()));
        let decision = tokio::time::timeout(IN_PERSON_WAIT, decided)
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let Some((pin, whose)) = decision else {
            set(InPersonState::Declined);
            let message = pending.decline();
            let _ = tokio::task::spawn_blocking(move || transport.send(&message)).await;
            return Ok(());
        };
        let consent = pending.consent.clone();
        // Nothing to show is said before the PIN is tried.
        let held = wallet
            .store
            .can_pick(whose, "mso_mdoc", None, &consent.relying_party, now)
            .await
            .map_err(Refused::internal);
        let answer = match held {
            Ok(true) => {
                self.with_holder(&wallet, &pin, async |holder, keys, _| {
                    holder.answer_in_person(pending, whose, &*keys, now).await
                })
                .await
            }
            Ok(false) => Err(holder_refusal(HolderError::none_to_show(whose))),
            Err(e) => Err(e),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || {
                    transport.send(&eid_wallet::in_person::refusal())
                })
                .await;
                return Err(e);
            }
        };
        let answer =
            tokio::task::spawn_blocking(move || transport.send(&answer.message).map(|()| answer))
                .await
                .map_err(Refused::internal)?
                .map_err(Refused::internal)?;
        Holder::new(wallet.store.clone())
            .record_in_person(&answer, now)
            .await
            .map_err(holder_refusal)?;
        self.sync_backup(&wallet).await;
        set(InPersonState::Shared(consent.relying_party_name));
        Ok(())
    }

    /// Where an in-person session stands: waiting for the desk, asking the holder (who asks
    /// what, why), or its end.
    pub fn in_person_state(&self, id: &str, session: &str) -> Result<Value, Refused> {
        let sessions = self
            .in_person
            .lock()
            .map_err(|_| Refused::internal("sessions lock"))?;
        let held = sessions
            .get(&format!("{id}/{session}"))
            .ok_or_else(|| Refused::new(404, "no_such_session", "no such session"))?;
        let state = held
            .state
            .lock()
            .map_err(|_| Refused::internal("session lock"))?
            .clone();
        Ok(match state {
            InPersonState::Waiting => json!({ "state": "waiting" }),
            InPersonState::Asking(consent) => json!({ "state": "asking", "consent": consent }),
            InPersonState::Refused(why) => json!({ "state": "refused", "reason": why }),
            InPersonState::Shared(with) => json!({ "state": "shared", "with": with }),
            InPersonState::Declined => json!({ "state": "declined" }),
            InPersonState::Failed(why) => json!({ "state": "failed", "reason": why }),
        })
    }

    /// The holder's decision on the desk's request: share (the PIN given) her own
    /// credential or, with `held_for`, the one of that holding (held for someone else, where
    /// the request takes one), or decline (no PIN).
    pub async fn in_person_decide(
        &self,
        id: &str,
        session: &str,
        pin: Option<String>,
        held_for: Option<i64>,
    ) -> Result<(), Refused> {
        let key = format!("{id}/{session}");
        let not_asking = |why: &str| Refused::new(409, "not_asking", why.to_owned());
        // The desk's request, read once: an engagement gets one request.
        let consent = {
            let sessions = self
                .in_person
                .lock()
                .map_err(|_| Refused::internal("sessions lock"))?;
            let held = sessions
                .get(&key)
                .ok_or_else(|| Refused::new(404, "no_such_session", "no such session"))?;
            match held.state.lock().map(|s| s.clone()) {
                Ok(InPersonState::Asking(consent)) => consent,
                _ => {
                    return Err(not_asking(
                        "no request is waiting for a decision in this session",
                    ));
                }
            }
        };
        // The PIN and the choice first: a mistyped PIN, an unknown holding, another's
        // credential where the desk takes the holder's own alone, or none of another's left
        // to show leaves the desk's request waiting for another try. (With none of her own
        // left, the desk is told no.)
        let decision = match pin {
            Some(pin) => {
                let wallet = self.wallet(id).await?;
                Self::unlocked(&wallet, &pin, |_, _| Ok(())).await?;
                let whose = self.whose(&wallet, held_for).await?;
                if whose != Whose::Mine {
                    if !consent.delegation {
                        return Err(holder_refusal(HolderError::DelegationNotAccepted));
                    }
                    let now = self.clock.now();
                    let left = wallet
                        .store
                        .can_pick(whose, "mso_mdoc", None, &consent.relying_party, now)
                        .await
                        .map_err(Refused::internal)?;
                    if !left {
                        return Err(holder_refusal(HolderError::none_to_show(whose)));
                    }
                }
                Some((pin, whose))
            }
            None => None,
        };
        let decide = self
            .in_person
            .lock()
            .map_err(|_| Refused::internal("sessions lock"))?
            .get_mut(&key)
            .ok_or_else(|| Refused::new(404, "no_such_session", "no such session"))?
            .decide
            .take()
            .ok_or_else(|| not_asking("this request was decided already"))?;
        decide
            .send(decision)
            .map_err(|_| not_asking("the desk stopped waiting for a decision"))
    }
}
