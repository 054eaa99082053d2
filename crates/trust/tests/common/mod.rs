//! The trust list the policy and signed-list tests share: Nanning's pilot, its providers and
//! relying parties, at a fixed time.

use eid_core::region::{RegionCode, Scope};
use eid_trust::edit::{add_provider, add_relying_party, set_scope};
use eid_trust::model::{IssuingAuthority, ProviderState, WalletProvider};
use eid_trust::{AcceptanceScope, Purpose, TrustList};
use time::OffsetDateTime;
use time::macros::datetime;

pub const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

pub fn list() -> TrustList {
    let mut list = TrustList::new(NOW);
    // Scopes are what the policy reads; the roots were checked when the list was built.
    list.issuers.push(IssuingAuthority {
        id: "cn-4501".into(),
        name: "南宁市公安局".into(),
        algorithm: eid_crypto::Algorithm::Es256,
        iaca_roots: Vec::new(),
        status_list_keys: Vec::new(),
        offline_keys: Vec::new(),
        scopes: Vec::new(),
    });
    set_scope(
        &mut list,
        "cn-4501",
        AcceptanceScope {
            region: Scope::parse("45").unwrap(),
            purposes: vec![
                Purpose::HotelCheckIn,
                Purpose::AirportSecurity,
                Purpose::AgeCheck,
            ],
            valid_from: datetime!(2026-01-01 0:00 UTC),
            valid_until: Some(datetime!(2027-01-01 0:00 UTC)),
        },
        false,
    )
    .unwrap();
    for (id, state) in [
        ("superapp-a", ProviderState::Active),
        ("superapp-b", ProviderState::Suspended),
    ] {
        add_provider(
            &mut list,
            WalletProvider {
                id: id.into(),
                name: id.into(),
                attestation_keys: Vec::new(),
                state,
            },
            false,
        )
        .unwrap();
    }
    let code = |s: &str| RegionCode::parse(s).unwrap();
    add_relying_party(
        &mut list,
        "hotel",
        "南宁民族大道酒店",
        code("450102"),
        &[
            (
                Purpose::HotelCheckIn,
                Some(vec![
                    "family_name".into(),
                    "given_name".into(),
                    "document_number".into(),
                    "portrait".into(),
                ]),
            ),
            (Purpose::AgeCheck, None),
        ],
        None,
        false,
    )
    .unwrap();
    add_relying_party(
        &mut list,
        "airport",
        "南宁吴圩国际机场",
        code("450122"),
        &[(Purpose::AirportSecurity, None)],
        None,
        false,
    )
    .unwrap();
    list
}

pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}
