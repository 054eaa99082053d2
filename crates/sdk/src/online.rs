//! Showing the credential online (OpenID4VP 1.0): a relying party's request read and checked
//! against the national trust list the app hands over, what it asks shown to the holder, the
//! answer shared (signed by the phone's key) or declined.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eid_trust::VerifiedTrustList;
use eid_wallet::HolderError;
use eid_wallet::online::PendingOnline;
use eid_wallet::store::Whose;

use super::{EidWallet, WalletError, invalid, now, on_sdk_threads};

/// What a relying party asks, to show the holder before she agrees.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Consent {
    /// The relying party's id in the trust list.
    pub relying_party: String,
    /// Its registered name.
    pub relying_party_name: String,
    /// Where it operates (GB/T 2260 county code).
    pub region: String,
    /// The purpose (`bank_account_opening`, …).
    pub purpose: String,
    /// The purpose in words.
    pub purpose_name: String,
    /// The attributes asked for, each registered for it and the purpose.
    pub attributes: Vec<String>,
    /// Whether it says it will keep any of them.
    pub intends_to_retain: bool,
    /// Whether it also takes a credential the holder holds for someone else (a child's, a
    /// ward's; see `holdings`), its purpose allowing it: the holder chooses whose to show
    /// (`share` or `share_held`).
    pub delegation: bool,
}

#[uniffi::export]
impl EidWallet {
    /// Takes the national trust list, as the app fetches it (the signed list, a compact JWS),
    /// checked against the national root keys (public JWKs, as JSON text): signed by one,
    /// in force, and newer than the list held, if any (an older one would undo a suspension
    /// or a narrowed scope); the list held, again, is no change. Its version. Online
    /// requests are checked against it. The wallet keeps it: after a restart the app hands
    /// a list over again (the roots are the app's), and one older than the list kept is
    /// refused.
    pub async fn use_trust_list(
        self: Arc<Self>,
        signed: String,
        root_jwks: Vec<String>,
    ) -> Result<u64, WalletError> {
        on_sdk_threads(async move {
            let roots = root_jwks
                .iter()
                .map(|text| {
                    serde_json::from_str::<eid_crypto::Jwk>(text)
                        .ok()
                        .and_then(|jwk| jwk.verifying_key().ok())
                        .ok_or_else(|| invalid("a root key is not a public P-256 JWK"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            // The list kept before a restart counts as held, when it still checks out
            // against these roots (one that no longer does is no reason to refuse a newer).
            let none_held = self.trust.read().is_ok_and(|held| held.is_none());
            let kept = if none_held {
                self.holder
                    .store()
                    .trust_list()
                    .await
                    .map_err(HolderError::from)?
            } else {
                None
            };
            let at = now();
            let version = {
                let mut held = self.trust.write().map_err(|_| WalletError::Failed {
                    message: "the trust list's lock is poisoned".into(),
                })?;
                if held.is_none()
                    && let Some(text) = kept
                    && let Ok(list) = VerifiedTrustList::read(&text, &roots, at, None)
                {
                    *held = Some((list, text));
                }
                if let Some((list, text)) = held.as_ref()
                    && text.trim() == signed.trim()
                {
                    return Ok(list.list().version);
                }
                let cached = held.as_ref().map(|(list, _)| list);
                let list = VerifiedTrustList::read(&signed, &roots, at, cached)
                    .map_err(|e| invalid(format!("the trust list is refused: {e}")))?;
                let version = list.list().version;
                *held = Some((list, signed.clone()));
                version
            };
            self.holder
                .store()
                .set_trust_list(&signed)
                .await
                .map_err(HolderError::from)?;
            Ok(version)
        })
        .await
    }

    /// Reads a relying party's request (`openid4vp://…`, the link or QR code its page
    /// shows): fetched, its signature and the relying party's registration checked against
    /// the trust list held (`use_trust_list` first). What it asks is the request's
    /// `consent()`: nothing is shared before `share()`.
    pub async fn receive_online(
        self: Arc<Self>,
        invocation: String,
    ) -> Result<Arc<OnlineRequest>, WalletError> {
        on_sdk_threads(async move {
            let held = self
                .trust
                .read()
                .map_err(|_| WalletError::Failed {
                    message: "the trust list's lock is poisoned".into(),
                })?
                .as_ref()
                .map(|(list, _)| list.clone());
            let trust = held
                .ok_or_else(|| invalid("the wallet holds no trust list: use_trust_list first"))?;
            // A list past its next update may no longer say who is suspended or narrowed.
            if trust.list().next_update <= now() {
                return Err(invalid(
                    "the trust list held has passed its next update: use_trust_list with a newer one",
                ));
            }
            let pending = self
                .holder
                .receive_online(&invocation, &trust, now())
                .await?;
            Ok(Arc::new(OnlineRequest {
                wallet: self,
                pending,
                answered: AtomicBool::new(false),
            }))
        })
        .await
    }
}

/// A relying party's online request, read and checked, waiting for the holder's decision.
/// It is answered once: shared or declined.
#[derive(uniffi::Object)]
pub struct OnlineRequest {
    wallet: Arc<EidWallet>,
    pending: PendingOnline,
    answered: AtomicBool,
}

impl std::fmt::Debug for OnlineRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineRequest").finish_non_exhaustive()
    }
}

impl OnlineRequest {
    /// Marks the request answered; refused when it was already.
    fn answer(&self) -> Result<(), WalletError> {
        if self.answered.swap(true, Ordering::AcqRel) {
            return Err(invalid("this request was answered already"));
        }
        Ok(())
    }

    /// Shares from `whose` credentials; the request may be answered again when nothing was
    /// sent.
    async fn share_as(self: Arc<Self>, whose: Whose) -> Result<(), WalletError> {
        if let Whose::Held(id) = whose
            && self
                .wallet
                .holder
                .store()
                .holding(id)
                .await
                .map_err(HolderError::from)?
                .is_none()
        {
            return Err(invalid(format!(
                "this wallet holds nothing for anyone as holding {id}"
            )));
        }
        self.answer()?;
        let keys = self.wallet.device_keys();
        let shared = self
            .wallet
            .holder
            .share_online(&self.pending, whose, &keys, &eid_core::OsRandom, now())
            .await;
        // Nothing was sent: a prompt cancelled, a holding where the relying party takes
        // the holder's own alone, or one with nothing left to show.
        let unsent = match &shared {
            Err(HolderError::Keys(_) | HolderError::DelegationNotAccepted) => true,
            Err(HolderError::NoCredential(_)) => whose != Whose::Mine,
            _ => false,
        };
        if unsent {
            self.answered.store(false, Ordering::Release);
        }
        shared.map_err(|e| keys.explain(e))
    }
}

#[uniffi::export]
impl OnlineRequest {
    /// What the relying party asks, to show the holder.
    pub fn consent(&self) -> Consent {
        let c = &self.pending.consent;
        Consent {
            relying_party: c.relying_party.clone(),
            relying_party_name: c.relying_party_name.clone(),
            region: c.region.clone(),
            purpose: c.purpose.as_str().to_owned(),
            purpose_name: c.purpose_name.clone(),
            attributes: c.attributes.clone(),
            intends_to_retain: c.intends_to_retain,
            delegation: c.delegation,
        }
    }

    /// Shares what was asked, the holder having agreed: the credential this relying party
    /// may see, signed by the phone's key (the app's prompt first), sent to it and kept in
    /// the history. With none it may see, the relying party is told no and the error says
    /// why (`NoCredential`). When the key store does not sign (a cancelled prompt: `Keys`)
    /// nothing was sent: the request may be shared again, or declined.
    pub async fn share(self: Arc<Self>) -> Result<(), WalletError> {
        on_sdk_threads(self.share_as(Whose::Mine)).await
    }

    /// Shares what was asked from the credential the holder holds for someone else as the
    /// holding `holding` (`holdings`), she having chosen it: only where the relying party
    /// takes one (`Consent.delegation`; otherwise `Invalid`, and nothing is sent). The
    /// relying party is told it is held by a parent or a guardian (which, not who). With none left to show in that
    /// holding (`NoCredential`: a new one comes from the counter) nothing is sent either:
    /// she may share her own, or decline.
    pub async fn share_held(self: Arc<Self>, holding: i64) -> Result<(), WalletError> {
        on_sdk_threads(self.share_as(Whose::Held(holding))).await
    }

    /// Tells the relying party no (`access_denied`), the holder having declined; whether it
    /// could be reached.
    pub async fn decline(self: Arc<Self>) -> Result<bool, WalletError> {
        on_sdk_threads(async move {
            self.answer()?;
            Ok(self
                .wallet
                .holder
                .decline_online(&self.pending, &eid_core::OsRandom)
                .await)
        })
        .await
    }
}
