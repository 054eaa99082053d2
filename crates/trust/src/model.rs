//! The trust list's content: a JSON document the national root signs.
//!
//! ```text
//! TrustList = {
//!   "version": uint, "issued_at": RFC 3339, "next_update": RFC 3339,
//!   "purposes": [ { "purpose", "name", "attributes": [tstr], "max_status_age_seconds" } ],
//!   "issuers": [ { "id", "name", ? "algorithm": "ES256" / "SM2SM3",
//!                  "iaca_roots": [base64 DER], "status_list_keys": [JWK],
//!                  ? "offline_keys": [JWK],
//!                  "scopes": [ { "region": "nation" / "45" / "4501" / "450102",
//!                                "purposes": [purpose], "valid_from", ? "valid_until" } ] } ],
//!   "wallet_providers": [ { "id", "name", "attestation_keys": [JWK],
//!                           "state": "active" / "suspended" } ],
//!   "relying_parties": [ { "id", "name", "region": 6 digits,
//!                          "purposes": { purpose: [attribute] }, ? "certificate": base64 DER,
//!                          ? "web_origins": [origin] } ]
//! }
//! ```

use std::collections::BTreeMap;

use eid_core::region::{RegionCode, Scope};
use eid_crypto::{Algorithm, Jwk};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Why a relying party asks: each purpose has its own attribute set and status freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A hotel registering a guest (the police's guest registration).
    HotelCheckIn,
    /// The identity check at an airport's security gate.
    AirportSecurity,
    /// Real-name railway ticketing and the station's ticket check.
    RailTicketing,
    /// Opening a bank account (know-your-customer).
    BankAccountOpening,
    /// Claiming a welfare benefit.
    Welfare,
    /// Proving an age threshold, nothing else (age_over_NN only).
    AgeCheck,
}

impl Purpose {
    /// Every purpose, in catalogue order.
    pub const ALL: [Self; 6] = [
        Self::HotelCheckIn,
        Self::AirportSecurity,
        Self::RailTicketing,
        Self::BankAccountOpening,
        Self::Welfare,
        Self::AgeCheck,
    ];

    /// The name used in the trust list and on the command line (`hotel_check_in`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HotelCheckIn => "hotel_check_in",
            Self::AirportSecurity => "airport_security",
            Self::RailTicketing => "rail_ticketing",
            Self::BankAccountOpening => "bank_account_opening",
            Self::Welfare => "welfare",
            Self::AgeCheck => "age_check",
        }
    }

    /// Parses [`Purpose::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A purpose in the catalogue: the attributes it may see and how old a status may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeDefinition {
    /// The purpose.
    pub purpose: Purpose,
    /// A name for people.
    pub name: String,
    /// The attributes (SD-JWT claim names, mdoc element identifiers) a relying party
    /// registered for it may request; a registration may narrow them, never widen them.
    pub attributes: Vec<String>,
    /// How old the status a verifier relies on may be (since the status list's `iat`).
    pub max_status_age_seconds: u64,
    /// Whether a desk must match the person in front of it against the credential's face
    /// before accepting (a refusal `face_mismatch` or `face_not_checked` otherwise). Such a
    /// purpose lists `portrait`, and so does every registration for it. Absent: not required
    /// (and absent from the signed list when not required, so older lists read the same).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub face_match_required: bool,
    /// Whether a desk accepts a code printed on paper at a counter for a resident without a
    /// smartphone (`eid_mdoc::offline::issue_paper`), and an authority prints one. A printed
    /// code binds to no device: only the face ties it to the resident, so paper is allowed
    /// only where the face must match. Absent: not allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paper_allowed: bool,
    /// Whether a desk accepts a delegated credential: the resident's, held in the wallet of
    /// a parent or guardian registered at a counter, its type and relationship signed
    /// (`eid_mdoc::DOCTYPE_DELEGATED`, `eid_sdjwt::VCT_DELEGATED`). Where the face must
    /// match, the resident stands at the desk with the holder; elsewhere the holder acts
    /// alone. Absent: not allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delegation_allowed: bool,
}

/// The wallet provider id under which an authority records a printed code (no wallet holds
/// it): reserved, no listed wallet provider may have it.
pub const PAPER_PROVIDER: &str = "paper";

/// The attributes of the resident credential every purpose chooses from.
const NAME: [&str; 2] = ["family_name", "given_name"];

/// The attribute of a pairwise pseudonym: a value the issuing authority derives for one
/// resident and one relying party, the same at every presentation and on every phone,
/// unrelated to any other relying party's, which only the authority can resolve
/// (`eid_crypto::pseudonym`). A purpose's catalogue may list it; a relying party has one only
/// when its registration names it (a registration of the full set leaves it out), because
/// every credential instance issued carries one item per such relying party.
pub const PSEUDONYM: &str = "pseudonym";
/// How many relying parties may register a pseudonym (each adds about 300 bytes, sealed, to
/// every SD-JWT VC instance issued after it).
pub const MAX_PSEUDONYM_RELYING_PARTIES: usize = 256;

/// The start of a pseudonym item's name; no catalogue attribute starts so.
const ITEM_PREFIX: &str = "pseudonym:";

/// The credential item holding the pseudonym for `relying_party`: the mdoc element (in the
/// resident namespace) and the SD-JWT VC claim `pseudonym:<relying party id>`.
pub fn pseudonym_item(relying_party: &str) -> String {
    format!("{ITEM_PREFIX}{relying_party}")
}

/// Whether `id` may be a relying party's with a pseudonym: it names an item of every
/// credential, so 1 to 64 lower-case letters, digits, `-` and `.`.
pub fn is_pseudonym_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
}

/// Whether `attribute` is a pseudonym item's name, which a catalogue or a registration
/// never lists (it names the attribute [`PSEUDONYM`] instead).
pub fn is_pseudonym_item(attribute: &str) -> bool {
    attribute.starts_with(ITEM_PREFIX)
}

/// The credential item `relying_party` asks for to receive `attribute`: its own
/// pseudonym's item for [`PSEUDONYM`], the attribute itself for every other.
pub fn request_item(attribute: &str, relying_party: &str) -> String {
    if attribute == PSEUDONYM {
        pseudonym_item(relying_party)
    } else {
        attribute.to_owned()
    }
}

/// The attribute a credential item disclosed to `relying_party` stands for: its own
/// pseudonym's item is [`PSEUDONYM`]; any other item is itself (another relying party's
/// pseudonym is then an attribute no purpose allows, and refused).
pub fn attribute_of_item<'a>(item: &'a str, relying_party: &str) -> &'a str {
    match item.strip_prefix(ITEM_PREFIX) {
        Some(owner) if owner == relying_party => PSEUDONYM,
        // The bare name is no item: it stands for nothing a purpose allows.
        _ if item == PSEUDONYM => ITEM_PREFIX,
        _ => item,
    }
}

/// The default catalogue: what each purpose may ask for and how fresh its status must be.
/// An age check sees `age_over_NN` and nothing else. A hotel, airport security, rail
/// ticketing and a bank opening an account match the face of the person in front of them
/// against the credential's (the real-name checks of the law); welfare and an age check do
/// not. A hotel, airport security and rail ticketing accept a printed code (a bank does
/// not: it opens accounts from home, online). A hotel, airport security, rail ticketing and
/// welfare accept a credential a parent or guardian holds for the resident (a bank and an
/// age check do not: an account is opened, and an age shown, by the person).
pub fn default_purposes() -> Vec<PurposeDefinition> {
    let with_name = |more: &[&str]| -> Vec<String> {
        NAME.iter().chain(more).map(|s| (*s).to_owned()).collect()
    };
    vec![
        PurposeDefinition {
            purpose: Purpose::HotelCheckIn,
            name: "Hotel check-in (guest registration)".into(),
            attributes: with_name(&[
                "sex",
                "ethnicity",
                "birth_date",
                "address",
                "document_number",
                "portrait",
            ]),
            max_status_age_seconds: 24 * 3600,
            face_match_required: true,
            paper_allowed: true,
            delegation_allowed: true,
        },
        PurposeDefinition {
            purpose: Purpose::AirportSecurity,
            name: "Airport security check".into(),
            attributes: with_name(&["document_number", "portrait"]),
            max_status_age_seconds: 15 * 60,
            face_match_required: true,
            paper_allowed: true,
            delegation_allowed: true,
        },
        PurposeDefinition {
            purpose: Purpose::RailTicketing,
            name: "Rail ticketing (real-name ticket check)".into(),
            attributes: with_name(&["document_number", "portrait"]),
            max_status_age_seconds: 3600,
            face_match_required: true,
            paper_allowed: true,
            delegation_allowed: true,
        },
        PurposeDefinition {
            purpose: Purpose::BankAccountOpening,
            name: "Bank account opening".into(),
            attributes: with_name(&[
                "sex",
                "ethnicity",
                "birth_date",
                "address",
                "document_number",
                "issuing_authority",
                "issue_date",
                "expiry_date",
                "portrait",
                PSEUDONYM,
            ]),
            max_status_age_seconds: 15 * 60,
            face_match_required: true,
            paper_allowed: false,
            delegation_allowed: false,
        },
        PurposeDefinition {
            purpose: Purpose::Welfare,
            name: "Welfare benefits".into(),
            attributes: with_name(&[
                "document_number",
                "birth_date",
                "age_in_years",
                "resident_region",
                "address",
                PSEUDONYM,
            ]),
            max_status_age_seconds: 24 * 3600,
            face_match_required: false,
            paper_allowed: false,
            delegation_allowed: true,
        },
        PurposeDefinition {
            purpose: Purpose::AgeCheck,
            name: "Age check".into(),
            attributes: [
                "age_over_14",
                "age_over_16",
                "age_over_18",
                "age_over_60",
                "age_over_65",
            ]
            .map(str::to_owned)
            .to_vec(),
            max_status_age_seconds: 24 * 3600,
            face_match_required: false,
            paper_allowed: false,
            delegation_allowed: false,
        },
    ]
}

/// Where and for what an issuer's credentials are accepted, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceScope {
    /// The region: the nation, a province, a prefecture or a county (GB/T 2260).
    pub region: Scope,
    /// The purposes.
    pub purposes: Vec<Purpose>,
    /// From when.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// Until when, if it ends.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub valid_until: Option<OffsetDateTime>,
}

impl AcceptanceScope {
    /// Whether this scope lets a verifier in `region` accept for `purpose` at `now`.
    pub fn allows(&self, region: RegionCode, purpose: Purpose, now: OffsetDateTime) -> bool {
        self.region.contains(region)
            && self.purposes.contains(&purpose)
            && now >= self.valid_from
            && self.valid_until.is_none_or(|until| now < until)
    }
}

/// An issuing authority (a city or provincial public security bureau).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuingAuthority {
    /// A stable identifier (`cn-4501`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The one algorithm of all its keys — IACA roots, the document signers under them,
    /// status list and offline keys: `ES256` when not named, or `SM2SM3` (SM2 with SM3, a
    /// deployment's national-algorithm option). A verifier reads this issuer's keys as of
    /// this algorithm only. An authority moving to another algorithm is listed a second
    /// time, under another id, while credentials of both are in use.
    #[serde(
        default = "es256",
        skip_serializing_if = "is_es256",
        with = "jose_algorithm"
    )]
    pub algorithm: Algorithm,
    /// Its IACA root certificates, standard base64 DER (ISO 18013-5 Annex B).
    pub iaca_roots: Vec<String>,
    /// Keys that sign its status lists without a certificate.
    #[serde(default)]
    pub status_list_keys: Vec<Jwk>,
    /// Keys that sign its compact credentials for the offline QR, which carry no
    /// certificate: a desk finds the key by the credential's `kid` (the start of the key's
    /// RFC 7638 thumbprint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offline_keys: Vec<Jwk>,
    /// Where its credentials are accepted. Empty: nowhere.
    #[serde(default)]
    pub scopes: Vec<AcceptanceScope>,
}

fn es256() -> Algorithm {
    Algorithm::Es256
}

fn is_es256(algorithm: &Algorithm) -> bool {
    *algorithm == Algorithm::Es256
}

/// An issuer's algorithm as its JOSE name; any name outside eid's allow-list is refused.
mod jose_algorithm {
    use eid_crypto::Algorithm;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        algorithm: &Algorithm,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(algorithm.jose_name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Algorithm, D::Error> {
        let name = String::deserialize(deserializer)?;
        Algorithm::from_jose(&name).map_err(serde::de::Error::custom)
    }
}

/// A wallet provider's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderState {
    /// Its wallets' credentials are accepted.
    Active,
    /// A breach or a lapse: no credential held in its wallets is accepted.
    Suspended,
}

/// A wallet provider (a super-app operator) whose attestations the authority relies on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletProvider {
    /// A stable identifier (`wechat`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The keys that sign its wallet and key attestations.
    pub attestation_keys: Vec<Jwk>,
    /// Active or suspended.
    pub state: ProviderState,
}

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelyingParty {
    /// A stable identifier (`hotel-450102-0001`).
    pub id: String,
    /// Its name, shown to the citizen before consent.
    pub name: String,
    /// The county where it operates (6 digits).
    pub region: RegionCode,
    /// For each registered purpose, the attributes it may request.
    pub purposes: BTreeMap<Purpose, Vec<String>>,
    /// Its reader / request-signing certificate (standard base64 DER), if registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The web origins of its pages (`https://bank.example`): where a wallet takes an
    /// unsigned request through the Digital Credentials API to come from it (when no other
    /// relying party lists the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web_origins: Vec<String>,
    /// The public key (JWK, EC P-256) its pairwise pseudonyms are sealed to, required when
    /// it is registered for a [`PSEUDONYM`]: the authority seals each credential's item to
    /// it (HPKE, `eid_crypto::pseudonym::seal_to`), so that the wallet carrying it learns
    /// nothing of the pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym_key: Option<Jwk>,
}

impl RelyingParty {
    /// Whether it is registered for a [`PSEUDONYM`], for any purpose.
    pub fn has_pseudonym(&self) -> bool {
        self.purposes
            .values()
            .any(|attributes| attributes.iter().any(|a| a == PSEUDONYM))
    }
}

/// Whether `origin` is a web origin exactly as a browser serialises it (WHATWG URL's ASCII
/// serialisation): `https://` and a host — lower case, punycode for an IDN — with a port only
/// when not 443; `http://` only for this machine (`localhost`, `127.0.0.1`, `[::1]`, a secure
/// context without TLS) with a port only when not 80; nothing after; at most 255 bytes.
pub fn is_web_origin(origin: &str) -> bool {
    let (rest, default_port, loopback_only) = if let Some(rest) = origin.strip_prefix("https://") {
        (rest, "443", false)
    } else if let Some(rest) = origin.strip_prefix("http://") {
        (rest, "80", true)
    } else {
        return false;
    };
    // The port follows the last ':' outside an IPv6 literal's brackets.
    let (host, port) = match rest.rfind(':') {
        Some(at) if !rest[at..].contains(']') => (&rest[..at], Some(&rest[at + 1..])),
        _ => (rest, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && !p.starts_with('0')
            && p != default_port
            && p.parse::<u16>().is_ok()
    });
    let host_ok = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').is_some_and(|inner| {
            !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
        }),
        None => {
            !host.is_empty()
                && !host.starts_with(['.', '-'])
                && !host.ends_with(['.', '-'])
                && host
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
        }
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    origin.len() <= 255 && port_ok && host_ok && (!loopback_only || loopback)
}

/// The national trust list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustList {
    /// Increases with every signed list; verifiers refuse to go back.
    pub version: u64,
    /// When signed.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// When verifiers must have fetched the next one; after it this list is stale.
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
    /// The purposes catalogue.
    pub purposes: Vec<PurposeDefinition>,
    /// Issuing authorities.
    #[serde(default)]
    pub issuers: Vec<IssuingAuthority>,
    /// Wallet providers.
    #[serde(default)]
    pub wallet_providers: Vec<WalletProvider>,
    /// Relying parties.
    #[serde(default)]
    pub relying_parties: Vec<RelyingParty>,
    /// The national root keys that may sign the lists after this one — all of them: a
    /// reader holding this list takes the next only when one of these signed it, whatever
    /// its configuration says (empty: none announced, the reader's configured keys decide).
    /// A root rollover announces the current and the next root, then the next alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_root_keys: Vec<Jwk>,
}

impl TrustList {
    /// An empty list with the default purposes catalogue, version 0 (signing makes it 1).
    pub fn new(now: OffsetDateTime) -> Self {
        Self {
            version: 0,
            issued_at: now,
            next_update: now,
            purposes: default_purposes(),
            issuers: Vec::new(),
            wallet_providers: Vec::new(),
            relying_parties: Vec::new(),
            next_root_keys: Vec::new(),
        }
    }

    /// No purpose requiring a face match any more: for a deployment whose desks have no
    /// face model, where every such purpose would refuse every credential. No purpose then
    /// accepts a printed code either: only the face ties one to its resident. Every other
    /// word of the catalogue stays.
    pub fn waive_face_match(&mut self) {
        for purpose in &mut self.purposes {
            purpose.face_match_required = false;
            purpose.paper_allowed = false;
        }
    }

    /// The catalogue entry of `purpose`.
    pub fn purpose(&self, purpose: Purpose) -> Option<&PurposeDefinition> {
        self.purposes.iter().find(|p| p.purpose == purpose)
    }

    /// The issuer with `id`.
    pub fn issuer(&self, id: &str) -> Option<&IssuingAuthority> {
        self.issuers.iter().find(|i| i.id == id)
    }

    /// The wallet provider with `id`.
    pub fn wallet_provider(&self, id: &str) -> Option<&WalletProvider> {
        self.wallet_providers.iter().find(|p| p.id == id)
    }

    /// The relying party with `id`.
    pub fn relying_party(&self, id: &str) -> Option<&RelyingParty> {
        self.relying_parties.iter().find(|r| r.id == id)
    }

    /// The relying parties registered for a [`PSEUDONYM`] (for any purpose): those whose
    /// pseudonym every credential carries.
    pub fn pseudonym_relying_parties(&self) -> impl Iterator<Item = &str> {
        self.relying_parties
            .iter()
            .filter(|rp| rp.has_pseudonym())
            .map(|rp| rp.id.as_str())
    }
}
