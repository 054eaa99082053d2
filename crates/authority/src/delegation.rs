//! Delegation: at a counter, an officer registers a parent or a guardian to hold a
//! resident's credential in their own wallet — a child's, or that of an adult who cannot act
//! alone. The officer sees both cards; the registry checks of a counter enrolment run for
//! both. The offer is for the resident's data under the delegated type naming the
//! relationship (`crate::credential`, *delegated*), redeemable only by the wallet where the
//! holder's own valid credentials are. Its credentials are recorded as the resident's, held
//! in that wallet by that holder (`held_by`): the resident's freeze, a registry event of hers
//! and the console end them; the holder's lost phone suspends them with everything else in
//! it, her move or re-bind revokes them with that phone; the holder's freeze suspends them
//! and her resident-wide revocation and death end them, in whichever wallet
//! (`Selector::HeldBy`); the resident's own lost phone, her move and a reissue into her
//! phone leave them alone.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use eid_core::Relationship;
use eid_core::identity::age_in_years;
use serde::Deserialize;

use crate::issuance::OfferMade;
use crate::{ApiError, Authority, credential};

/// A proofing refusal `e`, saying which of the two people it is about.
fn of_whom(e: ApiError, whom: &str) -> ApiError {
    match e {
        ApiError::Refused(code, why) => ApiError::Refused(code, format!("{whom}: {why}")),
        ApiError::TooManyAttempts(why) => ApiError::TooManyAttempts(format!("{whom}: {why}")),
        e => e,
    }
}

impl Authority {
    /// Registers the holder (`holder_number`, `holder_name`) to hold the credential of the
    /// resident (`id_number`, `full_name`) as her `relationship`, on the word of `officer`:
    /// the offer for the holder's wallet.
    pub async fn register_delegation(
        &self,
        (id_number, full_name): (&str, &str),
        (holder_number, holder_name): (&str, &str),
        relationship: Relationship,
        officer: &str,
    ) -> Result<OfferMade, ApiError> {
        let actor = format!("officer:{officer}");
        // Two people are proofed: a refusal says whose card to look at again.
        let resident = self
            .counter_proofing(id_number, full_name, &actor, "delegate")
            .await
            .map_err(|e| of_whom(e, "the resident whose credential is held"))?;
        let holder = self
            .counter_proofing(holder_number, holder_name, &actor, "delegate")
            .await
            .map_err(|e| of_whom(e, "the holder"))?;
        let number = &resident.card.id_number;
        let subject = self.pseudonym(number.expose());
        let today = self.clock.now().date();
        let refusal = if holder.card.id_number == *number {
            Some("a resident does not hold a credential for herself: enrol her own phone")
        } else if age_in_years(holder.card.birth_date, today) < 18 {
            Some("a minor does not hold a credential for someone else")
        } else if relationship == Relationship::Parent
            && age_in_years(resident.card.birth_date, today) >= 18
        {
            Some("a parent holds the credential of a minor only: for an adult, register a guardian")
        } else {
            None
        };
        if let Some(why) = refusal {
            self.audit(
                &actor,
                "delegate",
                &subject,
                "refused",
                "delegation_refused",
            )
            .await?;
            return Err(ApiError::Refused("delegation_refused", why.into()));
        }
        // The holder's wallet: the newest of the holder's that holds the holder's own valid,
        // unexpired credentials and no one else's own (as a refresh asks).
        let now = self.clock.now().unix_timestamp();
        let mut wallet = None;
        for (provider, instance) in self.her_wallets(&holder.card.id_number).await? {
            let holds = self
                .store
                .resident_of_wallet(&provider, &instance, now)
                .await?;
            if holds.as_ref() == Some(&holder.card.id_number) {
                wallet = Some(format!("{provider}/{instance}"));
                break;
            }
        }
        let Some(wallet) = wallet else {
            self.audit(
                &actor,
                "delegate",
                &subject,
                "refused",
                "holder_has_no_wallet",
            )
            .await?;
            return Err(ApiError::Refused(
                "holder_has_no_wallet",
                "the parent or guardian holds no valid credential of their own in a wallet: enrol their phone first, then register the delegation".into(),
            ));
        };
        self.audit(
            &actor,
            "delegate",
            &subject,
            "ok",
            &format!(
                "held by a {relationship}, {}, in wallet {wallet}",
                self.pseudonym(holder.card.id_number.expose())
            ),
        )
        .await?;
        self.make_offer_of(
            number,
            (&actor, "delegate"),
            Some(&wallet),
            credential::delegated_configurations(relationship).to_vec(),
        )
        .await
    }
}

impl Authority {
    /// The wallet instances that hold `number`'s own credentials, valid or suspended (a
    /// phone where all of hers are revoked is hers no more), newest first.
    pub(crate) async fn her_wallets(
        &self,
        number: &eid_core::ResidentIdNumber,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let mut wallets: Vec<(String, String)> = Vec::new();
        for held in self.store.credentials_of(number).await? {
            // A phone whose credentials of hers are all revoked is hers no more (moved from,
            // re-bound away from): what it holds now is not hers to change.
            if credential::in_her_wallet(&held) && held.state != eid_store::CredentialState::Invalid
            {
                let key = (held.provider, held.wallet_instance);
                if !wallets.contains(&key) {
                    wallets.push(key);
                }
            }
        }
        Ok(wallets)
    }

    /// Applies `action` to what `wallets` hold for others (delegated credentials): their
    /// holder's phone is gone (moved from, re-bound away from), and what it held goes with
    /// it. What changed.
    pub(crate) async fn held_in(
        &self,
        wallets: &[(String, String)],
        action: crate::admin::Action,
        actor: &str,
        reason: &str,
    ) -> Result<crate::admin::Changed, ApiError> {
        let mut changed = crate::admin::Changed::default();
        for (provider, instance) in wallets {
            let more = self
                .lifecycle(
                    eid_store::Selector::HeldInWallet { provider, instance },
                    action,
                    actor,
                    reason,
                )
                .await?;
            changed.credentials.extend(more.credentials);
            changed.instances += more.instances;
        }
        Ok(changed)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterDelegation {
    id_number: String,
    full_name: String,
    holder_id_number: String,
    holder_full_name: String,
    relationship: String,
    officer: String,
}

pub(crate) async fn register_delegation(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<RegisterDelegation>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<OfferMade>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    let relationship = Relationship::parse(&body.relationship).ok_or_else(|| {
        ApiError::BadRequest(
            "invalid_request",
            format!(
                "unknown relationship {}: use one of {}",
                eid_serve::excerpt(&body.relationship),
                Relationship::ALL.map(Relationship::as_str).join(", ")
            ),
        )
    })?;
    let officer = crate::admin::officer(&body.officer)?;
    Ok(Json(
        authority
            .register_delegation(
                (&body.id_number, &body.full_name),
                (&body.holder_id_number, &body.holder_full_name),
                relationship,
                officer,
            )
            .await?,
    ))
}
