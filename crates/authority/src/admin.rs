//! The admin listener: counter enrolment, lifecycle, registry life events, the audit log.
//! Identity numbers travel in request bodies, never in paths (paths end up in access logs).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use eid_core::ResidentIdNumber;
use eid_store::{CredentialState, LifeEvent, Selector};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::issuance::OfferMade;
use crate::{ApiError, Authority};

/// A lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// VALID → SUSPENDED (lost phone).
    Suspend,
    /// SUSPENDED → VALID (phone found).
    Reinstate,
    /// → INVALID, for good.
    Revoke,
}

impl Action {
    fn parse(text: &str) -> Result<Self, ApiError> {
        match text {
            "suspend" => Ok(Self::Suspend),
            "reinstate" => Ok(Self::Reinstate),
            "revoke" => Ok(Self::Revoke),
            _ => Err(ApiError::NotFound(format!(
                "unknown action {}: use suspend, reinstate or revoke",
                eid_serve::excerpt(text)
            ))),
        }
    }

    fn target(self) -> CredentialState {
        match self {
            Self::Suspend => CredentialState::Suspended,
            Self::Reinstate => CredentialState::Valid,
            Self::Revoke => CredentialState::Invalid,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::Reinstate => "reinstate",
            Self::Revoke => "revoke",
        }
    }
}

/// What a lifecycle change did.
#[derive(Debug, Default, Serialize)]
pub struct Changed {
    /// The credentials (batches) that changed.
    pub credentials: Vec<String>,
    /// Their status list entries, all flipped together.
    pub instances: usize,
    /// Offers not yet redeemed and access tokens not yet spent that a resident's suspension
    /// or revocation closed (a delegation's offer for her credential too).
    #[serde(skip_serializing_if = "is_zero")]
    pub pending_voided: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Authority {
    /// Moves the selected credentials to `action`'s state, pushes one status event per
    /// instance and a notice per wallet, and audits each change.
    pub async fn lifecycle(
        &self,
        selector: Selector<'_>,
        action: Action,
        actor: &str,
        reason: &str,
    ) -> Result<Changed, ApiError> {
        // Suspending or revoking a resident closes what is still open for them first: an
        // unredeemed offer or a live token must not outlive the decision.
        let mut pending_voided = 0;
        if let Selector::Resident(id_number) = selector
            && action != Action::Reinstate
        {
            pending_voided = self.store.void_pending(id_number).await?;
            if pending_voided > 0 {
                let subject = self.pseudonym(id_number.expose());
                let detail = format!("{pending_voided} offers or access tokens voided: {reason}");
                self.audit(actor, action.name(), &subject, "voided", &detail)
                    .await?;
            }
        }
        // Each credential changed is audited in the change's own transaction.
        let at = self.clock.now().unix_timestamp();
        let stamp = eid_store::AuditStamp {
            actor,
            action: action.name(),
            detail: reason,
        };
        let outcome = self
            .store
            .set_state(selector, action.target(), at, &stamp)
            .await;
        let changed = self.announce(outcome, action)?;
        Ok(Changed {
            pending_voided,
            ..changed
        })
    }

    /// What follows a change of credential states (written with its outbox events and its
    /// audit entries): the relay woken, a count per instance. A change made in some
    /// partitions only is answered as the failure it also is (the same call finishes it).
    fn announce(
        &self,
        outcome: Result<Vec<eid_store::CredentialRecord>, eid_store::StoreError>,
        action: Action,
    ) -> Result<Changed, ApiError> {
        self.outbox_written();
        let (changed, failure) = match outcome {
            Ok(changed) => (changed, None),
            Err(eid_store::StoreError::PartlyChanged { changed, source }) => {
                (changed, Some(*source))
            }
            Err(e) => return Err(e.into()),
        };
        let mut instances = 0;
        for record in &changed {
            for _ in &record.instances {
                self.changes.add(&[action.name()]);
                instances += 1;
            }
        }
        if failure.is_some() {
            return Err(ApiError::Unavailable(format!(
                "the change was made for {} credentials, but a database did not answer for the rest: make the same call again to finish it",
                changed.len()
            )));
        }
        Ok(Changed {
            credentials: changed.into_iter().map(|r| r.id).collect(),
            instances,
            pending_voided: 0,
        })
    }

    /// Counter enrolment: an officer saw the citizen and the card in person; the registry
    /// checks still run, failures are rate-limited per resident, every decision audited.
    pub async fn counter_enrolment(
        &self,
        id_number: &str,
        full_name: &str,
        officer: &str,
    ) -> Result<OfferMade, ApiError> {
        let actor = format!("officer:{officer}");
        let entry = self
            .counter_proofing(id_number, full_name, &actor, "enrol")
            .await?;
        self.make_offer(&entry.card.id_number, &actor, "enrol", None)
            .await
    }

    /// The registry checks of a counter's request (an enrolment, a printed code), each
    /// refusal audited as `action` and counted against the resident's hourly attempts.
    pub(crate) async fn counter_proofing(
        &self,
        id_number: &str,
        full_name: &str,
        actor: &str,
        action: &str,
    ) -> Result<eid_store::RegistryEntry, ApiError> {
        let subject = self.pseudonym(id_number);
        let now = self.clock.now().unix_timestamp();
        let failures = self
            .store
            .proofing_failures_since(&subject, now - 3600)
            .await?;
        if failures >= self.settings.max_proofing_failures_per_hour {
            self.audit(actor, action, &subject, "refused", "too_many_attempts")
                .await?;
            return Err(ApiError::TooManyAttempts(
                "too many failed attempts for this identity in the last hour; try again later"
                    .into(),
            ));
        }
        match self.proof_identity(id_number, full_name).await? {
            Ok(entry) => Ok(entry),
            Err(refusal) => {
                self.store.record_proofing_failure(&subject, now).await?;
                self.audit(actor, action, &subject, "refused", refusal.code())
                    .await?;
                Err(ApiError::Refused(refusal.code(), refusal.message().into()))
            }
        }
    }
}

/// The officer a counter's request names: 1 to 64 characters, no control characters.
pub(crate) fn officer(text: &str) -> Result<&str, ApiError> {
    let officer = text.trim();
    if officer.is_empty() || officer.chars().count() > 64 || officer.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "invalid_request",
            "officer: 1 to 64 characters, no control characters".into(),
        ));
    }
    Ok(officer)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CounterEnrolment {
    id_number: String,
    full_name: String,
    officer: String,
}

pub(crate) async fn counter_enrolment(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<CounterEnrolment>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<OfferMade>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    Ok(Json(
        authority
            .counter_enrolment(&body.id_number, &body.full_name, officer(&body.officer)?)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResidentAction {
    id_number: String,
    #[serde(default)]
    reason: Option<String>,
}

fn reason_or(reason: Option<String>, default: &str) -> String {
    reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

pub(crate) async fn credential_action(
    State(authority): State<Arc<Authority>>,
    Path((id, action)): Path<(String, String)>,
    body: Option<Json<Reason>>,
) -> Result<Json<Value>, ApiError> {
    let action = Action::parse(&action)?;
    let reason = reason_or(body.and_then(|b| b.0.reason), "operator");
    let selector = Selector::Credential(&id);
    let changed = authority
        .lifecycle(selector, action, "admin", &reason)
        .await?;
    known_target(&authority, selector, changed, "no credential with this id").await
}

/// A hotline call that changed nothing must say why: a target that holds no credential at
/// all (a typo) and had nothing pending is 404; one whose credentials are all past this
/// action already answers 200 with nothing changed, and `unchanged` says how many it
/// holds.
async fn known_target(
    authority: &Authority,
    selector: Selector<'_>,
    changed: Changed,
    what: &str,
) -> Result<Json<Value>, ApiError> {
    if !changed.credentials.is_empty() {
        return Ok(Json(json!(changed)));
    }
    let held = authority.store.credentials_held(selector).await?;
    if held == 0 && changed.pending_voided > 0 {
        // Nothing issued yet, but an offer (hers, or a delegation's for her) was closed.
        return Ok(Json(json!(changed)));
    }
    if held == 0 {
        return Err(ApiError::NotFound(format!("{what}: nothing to change")));
    }
    let mut answer = json!({
        "credentials": [],
        "instances": 0,
        "unchanged": held,
        "note": "nothing was in a state this action changes",
    });
    if changed.pending_voided > 0 {
        answer["pending_voided"] = json!(changed.pending_voided);
    }
    Ok(Json(answer))
}

pub(crate) async fn wallet_action(
    State(authority): State<Arc<Authority>>,
    Path((provider, instance, action)): Path<(String, String, String)>,
    body: Option<Json<Reason>>,
) -> Result<Json<Value>, ApiError> {
    let action = Action::parse(&action)?;
    let reason = reason_or(body.and_then(|b| b.0.reason), "lost phone reported");
    let selector = Selector::WalletInstance {
        provider: &provider,
        instance: &instance,
    };
    let changed = authority
        .lifecycle(selector, action, "admin", &reason)
        .await?;
    known_target(
        &authority,
        selector,
        changed,
        "this wallet instance holds no credential",
    )
    .await
}

pub(crate) async fn resident_action(
    State(authority): State<Arc<Authority>>,
    Path(action): Path<String>,
    body: Result<Json<ResidentAction>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let action = Action::parse(&action)?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    // A typo in the number must not look like a resident with nothing to freeze.
    let number = given_number(&authority, &body.id_number)?;
    let reason = reason_or(body.reason, "operator");
    let selector = Selector::Resident(&number);
    let changed = authority
        .lifecycle(selector, action, "admin", &reason)
        .await?;
    // A freeze (a hacked account, a stolen phone) or an end of her e-ID reaches what she
    // holds for others too, in whichever wallet. A reinstate does not bring those back:
    // nothing records why each was suspended (the console reinstates one by one).
    let held = if action == Action::Reinstate {
        Changed::default()
    } else {
        authority
            .lifecycle(
                Selector::HeldBy(&number),
                action,
                "admin",
                &format!("its holder's e-ID: {reason}"),
            )
            .await?
    };
    let Json(mut answer) = known_target(
        &authority,
        selector,
        changed,
        "this resident holds no credential",
    )
    .await?;
    if !held.credentials.is_empty() {
        answer["held_for_others"] = json!(held);
    }
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rebind {
    id_number: String,
    full_name: String,
    officer: String,
}

/// Re-binding to a new phone: proofed again, every old instance INVALID, a new offer.
pub(crate) async fn rebind(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<Rebind>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    let officer = officer(&body.officer)?;
    let number = match authority
        .proof_identity(&body.id_number, &body.full_name)
        .await?
    {
        Ok(entry) => entry.card.id_number,
        Err(refusal) => return Err(ApiError::Refused(refusal.code(), refusal.message().into())),
    };
    let wallets = authority.her_wallets(&number).await?;
    let mut revoked = authority
        .lifecycle(
            Selector::Resident(&number),
            Action::Revoke,
            &format!("officer:{officer}"),
            "re-bound to a new wallet",
        )
        .await?;
    // What her old wallets held for others (a child's credential) goes with them.
    revoked.instances += authority
        .held_in(
            &wallets,
            Action::Revoke,
            &format!("officer:{officer}"),
            "its holder was re-bound to a new wallet",
        )
        .await?
        .instances;
    let offer = authority
        .make_offer(&number, &format!("officer:{officer}"), "rebind", None)
        .await?;
    Ok(Json(json!({ "revoked": revoked, "offer": offer })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegistryEventBody {
    id_number: String,
    event: LifeEvent,
}

/// A registry life event, recorded and applied to the resident's credentials in one
/// transaction: a card reported lost suspends them; a replaced card, a new name or address
/// revoke them and offer a reissue; a death revokes them, and then, in a second write that
/// the event sent again finishes, what she held for others.
pub(crate) async fn registry_event(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<RegistryEventBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    let number = given_number(&authority, &body.id_number)?;
    let now = authority.clock.now();
    let event = &body.event;
    // What is still open for the resident is closed first (as for any suspension or
    // revocation); then the event, the record after it and the credentials' new states are
    // written in one transaction, with their outbox events and audit entries.
    authority.store.void_pending(&number).await?;
    let kind = event.kind();
    let action = match event.credential_state() {
        CredentialState::Suspended => Action::Suspend,
        _ => Action::Revoke,
    };
    let stamp = eid_store::AuditStamp {
        actor: "registry",
        action: action.name(),
        detail: kind,
    };
    let outcome = match authority
        .store
        .record_event(&number, event, now, &stamp)
        .await
    {
        Err(eid_store::StoreError::NotFound) => {
            return Err(ApiError::NotFound(
                "no resident with this number is in the registry".into(),
            ));
        }
        other => other,
    };
    let changed = authority.announce(outcome, action)?;
    // A holder who died holds nothing for anyone any more. Written after the event (the
    // wards' credentials live in the wards' partitions): the event sent again finishes it.
    let held = if matches!(event, LifeEvent::Death { .. }) {
        authority
            .lifecycle(
                Selector::HeldBy(&number),
                Action::Revoke,
                "registry",
                "its holder died (registry)",
            )
            .await?
    } else {
        Changed::default()
    };
    // A reissue is offered while the resident holds credentials and none of them is live:
    // after this call's revocation, and equally when the call is made again because its
    // answer was lost (the first offer, if it was made, is voided above).
    let offer =
        if event.offers_reissue() && holds_only_dead_credentials(&authority, &number).await? {
            Some(
                authority
                    .make_offer(&number, "registry", "reissue", None)
                    .await?,
            )
        } else {
            None
        };
    Ok(Json(
        json!({ "event": kind, "changed": changed, "held_for_others": held, "reissue_offer": offer }),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    limit: Option<u32>,
}

/// The newest credentials with their state (the console's list).
pub(crate) async fn credentials(
    State(authority): State<Arc<Authority>>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let rows = authority
        .store
        .recent_credentials(query.limit.unwrap_or(100).min(10_000))
        .await?;
    Ok(Json(Value::Array(
        rows.into_iter()
            .map(|(c, issued_at)| {
                json!({"id": c.id, "provider": c.provider, "wallet_instance": c.wallet_instance,
                       "configuration": c.configuration, "delegation": c.delegation,
                       "issued_at": issued_at,
                       "state": c.state.name()})
            })
            .collect(),
    )))
}

/// Counts by state and issuance per hour over the last day (the console's chart).
pub(crate) async fn stats(
    State(authority): State<Arc<Authority>>,
) -> Result<Json<Value>, ApiError> {
    let [valid, invalid, suspended] = authority.store.credential_counts().await?;
    let since = authority.clock.now().unix_timestamp() / 3600 * 3600 - 23 * 3600;
    let hours = authority.store.issued_per_hour(since).await?;
    Ok(Json(json!({
        "credentials": {"valid": valid, "suspended": suspended, "invalid": invalid},
        "issued_per_hour": hours.into_iter().map(|(h, n)| json!({"hour": h, "count": n})).collect::<Vec<_>>(),
    })))
}

pub(crate) async fn audit_log(
    State(authority): State<Arc<Authority>>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let entries = authority
        .store
        .audit_log(query.limit.unwrap_or(100).min(10_000))
        .await?;
    Ok(Json(Value::Array(
        entries
            .into_iter()
            .map(|e| {
                json!({"at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject,
                       "outcome": e.outcome, "detail": e.detail})
            })
            .collect(),
    )))
}

/// Whether the resident holds credentials and none of them is valid or suspended.
async fn holds_only_dead_credentials(
    authority: &Authority,
    number: &ResidentIdNumber,
) -> Result<bool, ApiError> {
    // Printed codes and credentials held for her by a parent or guardian are not reissued
    // into a phone: a resident who held only those has no wallet of hers to offer one to
    // (the counter prints her a new code, or registers the delegation again).
    let held: Vec<_> = authority
        .store
        .credentials_of(number)
        .await?
        .into_iter()
        .filter(crate::credential::in_her_wallet)
        .collect();
    Ok(!held.is_empty() && held.iter().all(|c| c.state == CredentialState::Invalid))
}

/// The identity number an operator gave, checked against every rule (a typo must not look
/// like a resident with nothing to change): 422 `invalid_number` saying which rule failed.
fn given_number(authority: &Authority, text: &str) -> Result<ResidentIdNumber, ApiError> {
    ResidentIdNumber::parse(text, authority.clock.now().date())
        .map_err(|e| ApiError::Refused("invalid_number", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_officer_is_named_in_at_most_64_characters_of_any_script() {
        assert_eq!(officer(" 警号 0451 ").ok(), Some("警号 0451"));
        let han = "警".repeat(64);
        assert_eq!(officer(&han).ok(), Some(han.as_str()));
        for refused in ["", "  ", &"警".repeat(65), &"a".repeat(65), "a\u{7}b"] {
            assert!(officer(refused).is_err(), "{refused:?}");
        }
    }
}
