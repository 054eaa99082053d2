//! The acceptance policy: a presentation every check accepts, then one test per reason that
//! changes exactly one thing and asserts exactly that reason. The signed list's own checks
//! are in `signed_list.rs`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_core::Relationship;
use eid_core::region::RegionCode;
use eid_core::status::CredentialStatus;
use eid_trust::{
    Presentation, Purpose, Registration, Rejection, StatusFinding, TrustList, VerifiedTrustList,
    decide,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

mod common;

use common::{NOW, list, names};

#[derive(Clone)]
struct Case {
    issuer: Option<&'static str>,
    provider: Option<&'static str>,
    printed: bool,
    delegated: Option<Relationship>,
    requested: Vec<String>,
    disclosed: Vec<String>,
    valid_from: Option<OffsetDateTime>,
    valid_until: Option<OffsetDateTime>,
    status: StatusFinding,
    relying_party: &'static str,
    purpose: Purpose,
    now: OffsetDateTime,
}

fn good() -> Case {
    let attrs = names(&["family_name", "given_name", "document_number"]);
    Case {
        issuer: Some("cn-4501"),
        provider: Some("superapp-a"),
        printed: false,
        delegated: None,
        requested: attrs.clone(),
        disclosed: attrs,
        valid_from: Some(NOW - Duration::days(30)),
        valid_until: Some(NOW + Duration::days(300)),
        status: StatusFinding::Checked {
            status: CredentialStatus::Valid,
            list_issued_at: NOW - Duration::minutes(10),
        },
        relying_party: "hotel",
        purpose: Purpose::HotelCheckIn,
        now: NOW,
    }
}

fn reasons(case: &Case, list: &TrustList) -> Vec<Rejection> {
    let decision = decide(
        &Presentation {
            issuer: case.issuer,
            wallet_provider: case.provider,
            printed: case.printed,
            delegated: case.delegated,
            requested: &case.requested,
            disclosed: &case.disclosed,
            valid_from: case.valid_from,
            valid_until: case.valid_until,
            status: case.status.clone(),
        },
        Registration {
            relying_party: case.relying_party,
            purpose: case.purpose,
        },
        &VerifiedTrustList::dangerous_unsigned(list.clone()),
        case.now,
    );
    assert_eq!(decision.accepted, decision.reasons.is_empty());
    decision.reasons
}

fn one(change: impl FnOnce(&mut Case)) -> Vec<Rejection> {
    let mut case = good();
    change(&mut case);
    reasons(&case, &list())
}

#[test]
fn the_good_case_is_accepted() {
    assert_eq!(reasons(&good(), &list()), []);
}

#[test]
fn reason_issuer_not_trusted() {
    assert_eq!(one(|c| c.issuer = None), [Rejection::IssuerNotTrusted]);
    assert_eq!(
        one(|c| c.issuer = Some("cn-3301")),
        [Rejection::IssuerNotTrusted]
    );
}

#[test]
fn reason_issuer_not_authorised_for_region_purpose_or_time() {
    let not_authorised = |region: &str, purpose| Rejection::IssuerNotAuthorised {
        issuer: "cn-4501".into(),
        region: region.into(),
        purpose,
        scopes:
            "45 for hotel_check_in, airport_security, age_check from 2026-01-01 until 2027-01-01"
                .into(),
    };
    // A hotel in Hangzhou.
    let mut list = list();
    list.relying_parties[0].region = RegionCode::parse("330106").unwrap();
    assert_eq!(
        reasons(&good(), &list),
        [not_authorised("330106", Purpose::HotelCheckIn)]
    );
    // After the scope ends.
    assert_eq!(
        one(|c| {
            c.now = datetime!(2027-01-01 0:00 UTC);
            c.status = StatusFinding::Checked {
                status: CredentialStatus::Valid,
                list_issued_at: c.now - Duration::minutes(10),
            };
        }),
        [not_authorised("450102", Purpose::HotelCheckIn)]
    );
    // A purpose outside the scope: the list registers the hotel for welfare too.
    let mut list = self::list();
    list.relying_parties[0]
        .purposes
        .insert(Purpose::Welfare, names(&["family_name"]));
    let mut case = good();
    case.purpose = Purpose::Welfare;
    case.requested = names(&["family_name"]);
    case.disclosed = names(&["family_name"]);
    assert_eq!(
        reasons(&case, &list),
        [not_authorised("450102", Purpose::Welfare)]
    );
}

#[test]
fn reason_relying_party_not_registered() {
    assert_eq!(
        one(|c| c.relying_party = "hotel-unlisted"),
        [Rejection::RelyingPartyNotRegistered {
            relying_party: "hotel-unlisted".into()
        }]
    );
}

#[test]
fn reason_purpose_not_registered() {
    assert_eq!(
        one(|c| c.purpose = Purpose::AirportSecurity),
        [Rejection::PurposeNotRegistered {
            relying_party: "hotel".into(),
            purpose: Purpose::AirportSecurity
        }]
    );
}

#[test]
fn reason_attribute_requested_or_disclosed_beyond_purpose() {
    // The hotel registered three attributes; the catalogue would allow the address.
    assert_eq!(
        one(|c| c.requested.push("address".into())),
        [Rejection::AttributeRequestedBeyondPurpose {
            attribute: "address".into(),
            purpose: Purpose::HotelCheckIn
        }]
    );
    assert_eq!(
        one(|c| c.disclosed.push("address".into())),
        [Rejection::AttributeDisclosedBeyondPurpose {
            attribute: "address".into(),
            purpose: Purpose::HotelCheckIn
        }]
    );
}

#[test]
fn an_age_check_sees_age_over_nn_only() {
    let age = |attrs: &[&str]| {
        one(|c| {
            c.purpose = Purpose::AgeCheck;
            c.requested = names(attrs);
            c.disclosed = names(attrs);
        })
    };
    assert_eq!(age(&["age_over_18"]), []);
    assert_eq!(
        age(&["age_over_18", "birth_date"]),
        [
            Rejection::AttributeRequestedBeyondPurpose {
                attribute: "birth_date".into(),
                purpose: Purpose::AgeCheck
            },
            Rejection::AttributeDisclosedBeyondPurpose {
                attribute: "birth_date".into(),
                purpose: Purpose::AgeCheck
            }
        ]
    );
}

#[test]
fn reason_status_invalid_suspended_or_undetermined() {
    let status = |status| StatusFinding::Checked {
        status,
        list_issued_at: NOW - Duration::minutes(10),
    };
    assert_eq!(
        one(|c| c.status = status(CredentialStatus::Invalid)),
        [Rejection::StatusInvalid]
    );
    assert_eq!(
        one(|c| c.status = status(CredentialStatus::Suspended)),
        [Rejection::StatusSuspended]
    );
    assert_eq!(
        one(|c| c.status = StatusFinding::Undetermined("list unreachable".into())),
        [Rejection::StatusUndetermined {
            detail: "list unreachable".into()
        }]
    );
}

#[test]
fn reason_status_older_than_the_purpose_allows() {
    // 16 minutes: too old for airport security (15 min), fine for the hotel (24 h).
    let sixteen = StatusFinding::Checked {
        status: CredentialStatus::Valid,
        list_issued_at: NOW - Duration::minutes(16),
    };
    let airport = |c: &mut Case| {
        c.relying_party = "airport";
        c.purpose = Purpose::AirportSecurity;
        c.requested = names(&["family_name", "given_name", "document_number", "portrait"]);
        c.disclosed = c.requested.clone();
    };
    assert_eq!(one(airport), []);
    assert_eq!(
        one(|c| {
            airport(c);
            c.status = sixteen.clone();
        }),
        [Rejection::StatusTooOld {
            age_seconds: 960,
            max_seconds: 900,
            purpose: Purpose::AirportSecurity
        }]
    );
    assert_eq!(one(|c| c.status = sixteen.clone()), []);
    // Configurable: the catalogue's limit is the trust list operator's to set.
    let mut list = list();
    list.purposes[0].max_status_age_seconds = 600;
    let mut case = good();
    case.status = sixteen;
    assert_eq!(
        reasons(&case, &list),
        [Rejection::StatusTooOld {
            age_seconds: 960,
            max_seconds: 600,
            purpose: Purpose::HotelCheckIn
        }]
    );
}

#[test]
fn reason_wallet_provider_suspended_or_unknown() {
    assert_eq!(
        one(|c| c.provider = Some("superapp-b")),
        [Rejection::WalletProviderSuspended {
            provider: "superapp-b".into()
        }]
    );
    assert_eq!(
        one(|c| c.provider = Some("superapp-z")),
        [Rejection::WalletProviderUnknown {
            provider: "superapp-z".into()
        }]
    );
    assert_eq!(
        one(|c| c.provider = None),
        [Rejection::WalletProviderUnknown {
            provider: "none".into()
        }]
    );
}

#[test]
fn reason_credential_expired_or_not_yet_valid() {
    assert_eq!(
        one(|c| c.valid_until = Some(NOW)),
        [Rejection::CredentialExpired { at: NOW }]
    );
    assert_eq!(
        one(|c| c.valid_from = Some(NOW + Duration::seconds(1))),
        [Rejection::CredentialNotYetValid {
            at: NOW + Duration::seconds(1)
        }]
    );
}

#[test]
fn every_reason_is_reported_not_just_the_first() {
    let got = one(|c| {
        c.issuer = None;
        c.provider = Some("superapp-b");
        c.status = StatusFinding::Checked {
            status: CredentialStatus::Suspended,
            list_issued_at: NOW - Duration::minutes(1),
        };
    });
    assert_eq!(got.len(), 3, "{got:?}");
}

#[test]
fn reason_issuer_not_authorised_before_the_scope_starts() {
    let mut list = list();
    list.issuers[0].scopes[0].valid_from = NOW + Duration::days(1);
    assert!(matches!(
        reasons(&good(), &list).as_slice(),
        [Rejection::IssuerNotAuthorised { .. }]
    ));
}

#[test]
fn reason_status_from_the_future() {
    assert_eq!(
        one(|c| c.status = StatusFinding::Checked {
            status: CredentialStatus::Valid,
            list_issued_at: NOW + Duration::seconds(90),
        }),
        [Rejection::StatusFromFuture { seconds: 90 }]
    );
}

#[test]
fn reason_purpose_not_in_catalogue() {
    let mut list = list();
    list.purposes.retain(|p| p.purpose != Purpose::HotelCheckIn);
    let got = reasons(&good(), &list);
    assert!(
        got.contains(&Rejection::PurposeNotInCatalogue {
            purpose: Purpose::HotelCheckIn
        }),
        "{got:?}"
    );
}

#[test]
fn reason_delegation_not_allowed() {
    let mut case = good();
    case.delegated = Some(Relationship::Parent);
    // The default catalogue: a hotel accepts a parent's, an age check does not.
    let defaults = list();
    assert_eq!(reasons(&case, &defaults), []);
    let mut at = case.clone();
    at.purpose = Purpose::AgeCheck;
    at.requested = names(&["age_over_18"]);
    at.disclosed = at.requested.clone();
    assert_eq!(
        reasons(&at, &defaults),
        [Rejection::DelegationNotAllowed {
            purpose: Purpose::AgeCheck,
            relationship: Relationship::Parent
        }]
    );
    // The resident's own is accepted there.
    at.delegated = None;
    assert_eq!(reasons(&at, &defaults), []);
    // Where the catalogue withdraws it.
    let mut refusing = defaults.clone();
    eid_trust::edit::set_delegation(&mut refusing, Purpose::HotelCheckIn, false).unwrap();
    case.delegated = Some(Relationship::Guardian);
    let refusal = Rejection::DelegationNotAllowed {
        purpose: Purpose::HotelCheckIn,
        relationship: Relationship::Guardian,
    };
    assert_eq!(reasons(&case, &refusing), std::slice::from_ref(&refusal));
    assert_eq!(
        refusal.to_string(),
        "hotel_check_in does not accept a credential held for the resident by a guardian: the resident shows their own"
    );
    assert_eq!(
        serde_json::to_value(&refusal).unwrap(),
        serde_json::json!({"reason": "delegation_not_allowed", "purpose": "hotel_check_in", "relationship": "guardian"})
    );
}

#[test]
fn reason_paper_not_allowed() {
    // A printed code is held by no wallet provider, and none is asked for.
    let printed = |c: &mut Case| {
        c.printed = true;
        c.provider = None;
    };
    let mut allowing = list();
    for p in &mut allowing.purposes {
        p.face_match_required = true;
        p.paper_allowed = true;
    }
    let mut case = good();
    printed(&mut case);
    assert_eq!(reasons(&case, &allowing), []);
    // Where the catalogue does not allow paper.
    let mut refusing = allowing.clone();
    for p in &mut refusing.purposes {
        p.paper_allowed = false;
    }
    assert_eq!(
        reasons(&case, &refusing),
        [Rejection::PaperNotAllowed {
            purpose: Purpose::HotelCheckIn
        }]
    );
    assert_eq!(
        Rejection::PaperNotAllowed {
            purpose: Purpose::HotelCheckIn
        }
        .to_string(),
        "hotel_check_in does not accept a code printed on paper: the resident shows the e-ID on a phone, or the card"
    );
    // Paper without the face match, under a list that says so all the same: refused.
    let mut faceless = allowing.clone();
    for p in &mut faceless.purposes {
        p.face_match_required = false;
    }
    assert_eq!(
        reasons(&case, &faceless),
        [Rejection::PaperNotAllowed {
            purpose: Purpose::HotelCheckIn
        }]
    );
    // A phone's code without a provider is still refused for it.
    assert_eq!(
        one(|c| c.provider = None),
        [Rejection::WalletProviderUnknown {
            provider: "none".into()
        }]
    );
}
