//! The acceptance policy: given a verified presentation, the verifier's registration, the
//! trust list, the status found and the clock, accept or reject — with every reason, not
//! just the first, so that a clerk and an operator both see all that is wrong.
//!
//! Pure code: the cryptographic checks (signatures, digests, device binding) happened in the
//! format crates before; this decides whether *this* verifier may rely on *this* issuer's
//! credential for *this* purpose, here and now.

use eid_core::region::RegionCode;
use eid_core::status::CredentialStatus;
use serde::Serialize;
use time::OffsetDateTime;

use crate::model::{ProviderState, Purpose};
use crate::signed::VerifiedTrustList;

/// What the verifier learnt of the credential's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusFinding {
    /// Read from a verified status list issued (`iat`) at `list_issued_at`.
    Checked {
        /// The status.
        status: CredentialStatus,
        /// The status list token's `iat`: the status is as old as this.
        list_issued_at: OffsetDateTime,
    },
    /// The status could not be established (list unreachable, expired, no reference).
    Undetermined(String),
}

/// A credential that passed the format's verification, reduced to what acceptance needs.
#[derive(Debug, Clone)]
pub struct Presentation<'a> {
    /// The issuer, by trust-list id: the owner of the IACA root the credential chained to
    /// ([`VerifiedTrustList::roots`]); `None` if it chained to no listed issuer.
    pub issuer: Option<&'a str>,
    /// The wallet provider holding the credential (from the issuer-signed credential), if
    /// the credential names one.
    pub wallet_provider: Option<&'a str>,
    /// A code printed on paper at a counter (no wallet, no device): accepted only where
    /// the purpose's catalogue allows paper, and held by no wallet provider.
    pub printed: bool,
    /// A delegated credential (the resident's, held by a parent or guardian), with the
    /// relationship it names: accepted only where the purpose's catalogue allows delegation.
    pub delegated: Option<eid_core::Relationship>,
    /// The attributes the verifier requested.
    pub requested: &'a [String],
    /// The attributes the holder disclosed.
    pub disclosed: &'a [String],
    /// The credential's validity (MSO validityInfo, SD-JWT `nbf`/`exp`).
    pub valid_from: Option<OffsetDateTime>,
    /// End of validity.
    pub valid_until: Option<OffsetDateTime>,
    /// The status.
    pub status: StatusFinding,
}

/// Who is verifying, for what.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    /// The relying party's id in the trust list.
    pub relying_party: &'a str,
    /// The purpose of this verification.
    pub purpose: Purpose,
}

/// One reason to reject. Its `Display` says what is wrong in words a clerk can act on; no
/// reason carries personal data (attribute *names*, never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rejection {
    /// The credential's issuer is not in the trust list.
    #[error("the credential's issuer is not in the trust list")]
    IssuerNotTrusted,
    /// The issuer is listed but not accepted in this region for this purpose now.
    #[error(
        "issuer {issuer} is not authorised for {purpose} in region {region} (its credentials are accepted in: {scopes})"
    )]
    IssuerNotAuthorised {
        /// The issuer's id.
        issuer: String,
        /// The verifier's region.
        region: String,
        /// The purpose.
        purpose: Purpose,
        /// The issuer's current scopes, for the operator.
        scopes: String,
    },
    /// The verifier is not a registered relying party.
    #[error("relying party {relying_party} is not registered in the trust list")]
    RelyingPartyNotRegistered {
        /// The id given.
        relying_party: String,
    },
    /// The relying party is not registered for this purpose.
    #[error("relying party {relying_party} is not registered for {purpose}")]
    PurposeNotRegistered {
        /// Its id.
        relying_party: String,
        /// The purpose.
        purpose: Purpose,
    },
    /// An attribute was requested beyond the registration for this purpose.
    #[error("{attribute} was requested, but {purpose} does not allow it")]
    AttributeRequestedBeyondPurpose {
        /// The attribute's name.
        attribute: String,
        /// The purpose.
        purpose: Purpose,
    },
    /// An attribute was disclosed beyond the registration for this purpose (a wallet that
    /// over-shares is refused too: the verifier must not keep it).
    #[error("{attribute} was disclosed, but {purpose} does not allow it")]
    AttributeDisclosedBeyondPurpose {
        /// The attribute's name.
        attribute: String,
        /// The purpose.
        purpose: Purpose,
    },
    /// Revoked.
    #[error("the credential is revoked (status INVALID)")]
    StatusInvalid,
    /// Suspended (a lost phone, a reported card).
    #[error("the credential is suspended (status SUSPENDED)")]
    StatusSuspended,
    /// No status could be established.
    #[error("the credential's status could not be established: {detail}")]
    StatusUndetermined {
        /// Why.
        detail: String,
    },
    /// The status list is dated after the verifier's clock: one of the two clocks is wrong,
    /// and the status cannot be relied on.
    #[error("the status list is dated {seconds} s in the future")]
    StatusFromFuture {
        /// By how much.
        seconds: i64,
    },
    /// The purpose is not in the trust list's catalogue, so nothing is known of what it may
    /// see or how fresh its status must be.
    #[error("the purpose {purpose} is not in the trust list's catalogue")]
    PurposeNotInCatalogue {
        /// The purpose.
        purpose: Purpose,
    },
    /// The status is older than the purpose allows.
    #[error("the status is {age_seconds} s old; {purpose} allows {max_seconds} s")]
    StatusTooOld {
        /// Its age.
        age_seconds: i64,
        /// The purpose's limit.
        max_seconds: u64,
        /// The purpose.
        purpose: Purpose,
    },
    /// The wallet provider holding the credential is suspended.
    #[error("wallet provider {provider} is suspended")]
    WalletProviderSuspended {
        /// Its id.
        provider: String,
    },
    /// A printed code, for a purpose whose catalogue does not allow paper.
    #[error(
        "{purpose} does not accept a code printed on paper: the resident shows the e-ID on a phone, or the card"
    )]
    PaperNotAllowed {
        /// The purpose.
        purpose: Purpose,
    },
    /// A delegated credential, for a purpose whose catalogue does not allow delegation.
    #[error(
        "{purpose} does not accept a credential held for the resident by a {relationship}: the resident shows their own"
    )]
    DelegationNotAllowed {
        /// The purpose.
        purpose: Purpose,
        /// The relationship the credential names.
        relationship: eid_core::Relationship,
    },
    /// The wallet provider is not in the trust list, or the credential names none.
    #[error("the credential's wallet provider ({provider}) is not in the trust list")]
    WalletProviderUnknown {
        /// Its id, or `none`.
        provider: String,
    },
    /// Past the credential's validity.
    #[error("the credential expired at {at}")]
    CredentialExpired {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Before the credential's validity.
    #[error("the credential is not valid before {at}")]
    CredentialNotYetValid {
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

/// The decision, with every reason to reject (empty when accepted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Accept.
    pub accepted: bool,
    /// Why not.
    pub reasons: Vec<Rejection>,
}

/// Decides whether the verifier registered as `registration` may accept `presentation`
/// under `trust` at `now`.
pub fn decide(
    presentation: &Presentation<'_>,
    registration: Registration<'_>,
    trust: &VerifiedTrustList,
    now: OffsetDateTime,
) -> Decision {
    let list = trust.list();
    let purpose = registration.purpose;
    let mut reasons = Vec::new();

    // The verifier: registered, for this purpose, with these attributes.
    let rp = list.relying_party(registration.relying_party);
    let allowed: Option<&Vec<String>> = match rp {
        None => {
            reasons.push(Rejection::RelyingPartyNotRegistered {
                relying_party: registration.relying_party.to_owned(),
            });
            None
        }
        Some(rp) => match rp.purposes.get(&purpose) {
            None => {
                reasons.push(Rejection::PurposeNotRegistered {
                    relying_party: rp.id.clone(),
                    purpose,
                });
                None
            }
            Some(attributes) => Some(attributes),
        },
    };
    // The catalogue bounds every registration (checked when the list is signed, and here
    // again, so that an age check never sees more than age_over_NN).
    let catalogue = list.purpose(purpose);
    let permitted = |attribute: &String| {
        allowed.is_some_and(|a| a.contains(attribute))
            && catalogue.is_some_and(|c| c.attributes.contains(attribute))
    };
    if allowed.is_some() {
        for attribute in presentation.requested {
            if !permitted(attribute) {
                reasons.push(Rejection::AttributeRequestedBeyondPurpose {
                    attribute: attribute.clone(),
                    purpose,
                });
            }
        }
        for attribute in presentation.disclosed {
            if !permitted(attribute) {
                reasons.push(Rejection::AttributeDisclosedBeyondPurpose {
                    attribute: attribute.clone(),
                    purpose,
                });
            }
        }
    }

    // The issuer: listed, and authorised here, for this, now (the pilot-city rule).
    match presentation.issuer.and_then(|id| list.issuer(id)) {
        None => reasons.push(Rejection::IssuerNotTrusted),
        Some(issuer) => {
            if let Some(rp) = rp {
                let region: RegionCode = rp.region;
                if !issuer.scopes.iter().any(|s| s.allows(region, purpose, now)) {
                    let day = |t: OffsetDateTime| t.date().to_string();
                    let scopes = issuer
                        .scopes
                        .iter()
                        .map(|s| {
                            let purposes: Vec<&str> =
                                s.purposes.iter().map(|p| p.as_str()).collect();
                            let until = s
                                .valid_until
                                .map(|u| format!(" until {}", day(u)))
                                .unwrap_or_default();
                            format!(
                                "{} for {} from {}{until}",
                                s.region,
                                purposes.join(", "),
                                day(s.valid_from)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    reasons.push(Rejection::IssuerNotAuthorised {
                        issuer: issuer.id.clone(),
                        region: region.to_string(),
                        purpose,
                        scopes: if scopes.is_empty() {
                            "nowhere".into()
                        } else {
                            scopes
                        },
                    });
                }
            }
        }
    }

    // The wallet provider; a printed code has none, and needs the catalogue's leave.
    if presentation.printed {
        // Paper only with the face match, even under a list that says otherwise.
        if !catalogue.is_some_and(|c| c.paper_allowed && c.face_match_required) {
            reasons.push(Rejection::PaperNotAllowed { purpose });
        }
    } else {
        match presentation.wallet_provider {
            None => reasons.push(Rejection::WalletProviderUnknown {
                provider: "none".into(),
            }),
            Some(id) => match list.wallet_provider(id) {
                None => reasons.push(Rejection::WalletProviderUnknown {
                    provider: id.to_owned(),
                }),
                Some(p) if p.state == ProviderState::Suspended => {
                    reasons.push(Rejection::WalletProviderSuspended {
                        provider: p.id.clone(),
                    });
                }
                Some(_) => {}
            },
        }
    }

    // A delegated credential needs the catalogue's leave.
    if let Some(relationship) = presentation.delegated
        && !catalogue.is_some_and(|c| c.delegation_allowed)
    {
        reasons.push(Rejection::DelegationNotAllowed {
            purpose,
            relationship,
        });
    }

    // Status, and how old it is.
    match &presentation.status {
        StatusFinding::Undetermined(detail) => reasons.push(Rejection::StatusUndetermined {
            detail: detail.clone(),
        }),
        StatusFinding::Checked {
            status,
            list_issued_at,
        } => {
            match status {
                CredentialStatus::Valid => {}
                CredentialStatus::Invalid => reasons.push(Rejection::StatusInvalid),
                CredentialStatus::Suspended => reasons.push(Rejection::StatusSuspended),
            }
            let age = (now - *list_issued_at).whole_seconds();
            match catalogue {
                _ if age < 0 => reasons.push(Rejection::StatusFromFuture { seconds: -age }),
                // Reported once, below.
                None => {}
                Some(c) if age.unsigned_abs() > c.max_status_age_seconds => {
                    reasons.push(Rejection::StatusTooOld {
                        age_seconds: age,
                        max_seconds: c.max_status_age_seconds,
                        purpose,
                    });
                }
                Some(_) => {}
            }
        }
    }

    if catalogue.is_none() {
        reasons.push(Rejection::PurposeNotInCatalogue { purpose });
    }

    // The credential's own validity.
    if let Some(until) = presentation.valid_until
        && now >= until
    {
        reasons.push(Rejection::CredentialExpired { at: until });
    }
    if let Some(from) = presentation.valid_from
        && now < from
    {
        reasons.push(Rejection::CredentialNotYetValid { at: from });
    }

    Decision {
        accepted: reasons.is_empty(),
        reasons,
    }
}
