//! The test world eid's crates share, so that no crate's tests copy another's set-up: an
//! authority's PKI, reader certificates, the Nanning pilot's trust list, her credential in
//! both formats, status list tokens and residents from the registry generator.
//!
//! Every helper panics on failure: a failed set-up is a failed test. Nothing here is for
//! production code; the crate is a dev-dependency only.

#![expect(
    clippy::unwrap_used,
    reason = "test set-up: a failed unwrap is a failed test"
)]

use eid_core::region::{RegionCode, Scope};
use eid_core::status::StatusListReference;
use std::sync::Mutex;

use eid_core::{Clock, OsRandom, ResidentCard, ResidentIdNumber};
use eid_crypto::x509::{AuthorityPki, CertificateTerms, Subject, create_reader_certificate};
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::issue::ElementValue;
use eid_status::{SignerRef, StatusList, StatusListToken};
use eid_trust::edit::{add_issuer, add_provider, add_relying_party, set_offline_keys, set_scope};
use eid_trust::model::{ProviderState, WalletProvider};
use eid_trust::{AcceptanceScope, Purpose, TrustList, VerifiedTrustList};
use serde_json::{Map, Value, json};
use time::{Date, Duration, Month, OffsetDateTime};

/// Nanning's public security bureau, the pilot city's issuer.
pub const NANNING: &str = "南宁市公安局";
/// Nanning's issuer URI.
pub const NANNING_URI: &str = "https://nanning.eid.example";
/// Nanning's issuer id in the trust list.
pub const NANNING_ID: &str = "cn-4501";

/// An authority's PKI (IACA root and document signer) for `organization` in China, valid
/// from `not_before` for `(iaca_days, ds_days)`.
pub fn authority(
    organization: &str,
    uri: &str,
    not_before: OffsetDateTime,
    days: (i64, i64),
) -> AuthorityPki {
    AuthorityPki::generate(organization, "CN", uri, not_before, days, &OsRandom).unwrap()
}

/// Nanning's PKI as the pilot's tests use it: valid from a day before `now`, the document
/// signer for a year.
pub fn nanning(now: OffsetDateTime) -> AuthorityPki {
    authority(NANNING, NANNING_URI, now - Duration::days(1), (3650, 365))
}

/// A relying party's reader: its key and an ISO 18013-5 reader-authentication certificate.
pub struct Reader {
    /// The reader's key.
    pub key: SigningKey,
    /// Its certificate, DER.
    pub certificate: Vec<u8>,
}

/// A reader for `name`, its certificate valid from ten days before `now` for 310 days.
pub fn reader(name: &str, now: OffsetDateTime) -> Reader {
    let key = SigningKey::generate().unwrap();
    let certificate = create_reader_certificate(
        &Subject {
            country: "CN".into(),
            state: None,
            organization: name.into(),
            common_name: name.into(),
        },
        &CertificateTerms {
            not_before: now - Duration::days(10),
            not_after: now + Duration::days(300),
            issuer_alt_name_uri: "https://rp.example".into(),
            crl_uri: "https://rp.example/crl".into(),
        },
        &key,
        &OsRandom,
    )
    .unwrap()
    .0;
    Reader { key, certificate }
}

/// Lists `pki`'s IACA as issuer `id`, accepted in `region` (a scope such as `"45"`) for
/// every purpose from `valid_from`.
pub fn accept_issuer(
    draft: &mut TrustList,
    id: &str,
    name: &str,
    pki: &AuthorityPki,
    region: &str,
    valid_from: OffsetDateTime,
) {
    add_issuer(
        draft,
        id,
        name,
        std::slice::from_ref(&pki.iaca.0),
        Vec::new(),
        valid_from,
        false,
    )
    .unwrap();
    set_scope(
        draft,
        id,
        AcceptanceScope {
            region: Scope::parse(region).unwrap(),
            purposes: Purpose::ALL.to_vec(),
            valid_from,
            valid_until: None,
        },
        false,
    )
    .unwrap();
}

/// Lists wallet provider `id` in `state`, its attestations signed by `key` if given.
pub fn list_provider(
    draft: &mut TrustList,
    id: &str,
    key: Option<&SigningKey>,
    state: ProviderState,
) {
    add_provider(
        draft,
        WalletProvider {
            id: id.into(),
            name: id.into(),
            attestation_keys: key
                .map(|k| vec![k.verifying_key().to_jwk()])
                .unwrap_or_default(),
            state,
        },
        false,
    )
    .unwrap();
}

/// Registers relying party `id` in `region` for `purpose`, with a reader certificate if it
/// has one.
pub fn register(
    draft: &mut TrustList,
    id: &str,
    name: &str,
    region: &str,
    purpose: Purpose,
    certificate: Option<&[u8]>,
) {
    add_relying_party(
        draft,
        id,
        name,
        RegionCode::parse(region).unwrap(),
        &[(purpose, None)],
        certificate,
        false,
    )
    .unwrap();
}

/// The relying parties of the Nanning pilot that have readers: id, name, region, purpose.
pub const PILOT_READERS: [(&str, &str, &str, Purpose); 4] = [
    (
        "nanning-hotel",
        "南宁民族大道酒店",
        "450102",
        Purpose::HotelCheckIn,
    ),
    (
        "hangzhou-hotel",
        "杭州西湖酒店",
        "330106",
        Purpose::HotelCheckIn,
    ),
    ("nanning-bar", "南宁酒吧", "450103", Purpose::AgeCheck),
    (
        "nanning-bank",
        "南宁银行青秀支行",
        "450103",
        Purpose::BankAccountOpening,
    ),
];

/// The Nanning pilot at `now`: Nanning accepted in Guangxi (`45`) for every purpose from
/// 30 days before, its document-signer key listed as its offline key; the relying parties
/// of [`PILOT_READERS`] registered with their reader `certificates` (in that order), and
/// the airport gate of Nanning with a scanner only. Wallet providers are the caller's.
pub fn pilot(nanning: &AuthorityPki, certificates: [&[u8]; 4], now: OffsetDateTime) -> TrustList {
    let mut draft = TrustList::new(now);
    add_issuer(
        &mut draft,
        NANNING_ID,
        NANNING,
        std::slice::from_ref(&nanning.iaca.0),
        Vec::new(),
        now,
        false,
    )
    .unwrap();
    set_scope(
        &mut draft,
        NANNING_ID,
        AcceptanceScope {
            region: Scope::parse("45").unwrap(),
            purposes: Purpose::ALL.to_vec(),
            valid_from: now - Duration::days(30),
            valid_until: None,
        },
        false,
    )
    .unwrap();
    set_offline_keys(
        &mut draft,
        NANNING_ID,
        vec![nanning.ds_key.verifying_key().to_jwk()],
    )
    .unwrap();
    for ((id, name, region, purpose), certificate) in PILOT_READERS.into_iter().zip(certificates) {
        register(&mut draft, id, name, region, purpose, Some(certificate));
    }
    register(
        &mut draft,
        "nanning-airport",
        "南宁吴圩国际机场",
        "450122",
        Purpose::AirportSecurity,
        None,
    );
    draft
}

/// `draft` signed by `root` at `at` for a week, and read back as a verifier would.
pub fn sign_trust_list(
    draft: &TrustList,
    root: &SigningKey,
    at: OffsetDateTime,
) -> (String, VerifiedTrustList) {
    let (jws, _) = eid_trust::signed::sign(draft, root, at, Duration::days(7)).unwrap();
    let read = VerifiedTrustList::read(&jws, &[root.verifying_key().clone()], at, None).unwrap();
    (jws, read)
}

/// Her identity number, as on her card.
pub const HER_NUMBER: &str = "450103199003070024";

/// Her card's attributes as SD-JWT VC claims, in `provider`'s wallet.
pub fn her_claims(provider: &str) -> Map<String, Value> {
    let Value::Object(claims) = json!({
        "family_name": "韦", "given_name": "小兰", "sex": 2, "ethnicity": "壮",
        "birth_date": "1990-03-07", "address": "广西南宁市青秀区民族大道1号",
        "document_number": HER_NUMBER, "issuing_authority": NANNING,
        "issue_date": "2020-01-01", "expiry_date": "2040-01-01",
        "age_over_18": true, "wallet_provider": provider,
    }) else {
        unreachable!("a JSON object literal")
    };
    claims
}

/// Her card's attributes as mdoc name spaces (the resident identity document type with
/// `portrait`, and the wallet name space naming `provider`).
pub fn her_name_spaces(
    provider: &str,
    portrait: &[u8],
) -> Vec<(String, Vec<(String, ElementValue)>)> {
    let text = |s: &str| ElementValue::Text(s.into());
    vec![
        (
            eid_mdoc::DOCTYPE_RESIDENT_IDENTITY.to_owned(),
            vec![
                ("family_name".to_owned(), text("韦")),
                ("given_name".to_owned(), text("小兰")),
                ("sex".to_owned(), ElementValue::Int(2)),
                ("ethnicity".to_owned(), text("壮")),
                (
                    "birth_date".to_owned(),
                    ElementValue::FullDate(
                        Date::from_calendar_date(1990, Month::March, 7).unwrap(),
                    ),
                ),
                ("address".to_owned(), text("广西南宁市青秀区民族大道1号")),
                ("document_number".to_owned(), text(HER_NUMBER)),
                (
                    "portrait".to_owned(),
                    ElementValue::Bytes(portrait.to_vec()),
                ),
                ("age_over_18".to_owned(), ElementValue::Bool(true)),
            ],
        ),
        (
            eid_mdoc::NAMESPACE_WALLET.to_owned(),
            vec![(eid_mdoc::ELEMENT_WALLET_PROVIDER.to_owned(), text(provider))],
        ),
    ]
}

/// The status entry `idx` of the list at `uri`.
pub fn entry(uri: &str, idx: u64) -> StatusListReference {
    StatusListReference {
        idx,
        uri: uri.into(),
    }
}

/// `list` served at `uri` as a JWT status list token issued `at` (valid a day, ttl five
/// minutes), signed by `pki`'s document signer with its certificate in the header.
pub fn status_token(
    pki: &AuthorityPki,
    uri: &str,
    list: &StatusList,
    at: OffsetDateTime,
) -> String {
    StatusListToken {
        uri: uri.into(),
        issued_at: at,
        expires_at: Some(at + Duration::days(1)),
        ttl: Some(300),
        list: list.clone(),
    }
    .sign_jwt(
        &pki.ds_key,
        SignerRef::Certificates(std::slice::from_ref(&pki.ds.0)),
    )
    .unwrap()
}

/// A valid identity number of someone born in Nanning's 青秀区 on 1990-01-01, distinct for
/// every `sequence` below 1000.
pub fn number(sequence: u16) -> ResidentIdNumber {
    ResidentIdNumber::from_parts(
        RegionCode::parse("450103").unwrap(),
        Date::from_calendar_date(1990, Month::January, 1).unwrap(),
        sequence,
    )
    .unwrap()
}

/// `count` residents from the registry generator (seed 7, as of `today`), keeping those
/// whose card is valid on `today`.
pub fn residents(count: u64, today: Date) -> Vec<ResidentCard> {
    let mut out = Vec::new();
    eid_registry::generate::Generator::new(7, today)
        .write_jsonl(count, &mut out, &mut |_| {})
        .unwrap();
    out.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice::<ResidentCard>(line).unwrap())
        .filter(|card| card.card_expiry.is_valid_on(today))
        .collect()
}

/// A clock a test moves: the years of a rollover in a second.
#[derive(Debug)]
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    /// A clock standing at `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves it to `at` (backwards too).
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}
