//! The resident identity credential: what the authority puts in it, in both formats.
//!
//! The attribute names are the ones the trust list's purposes catalogue refers to, so that
//! a relying party's registration names exactly what it may ask for:
//!
//! | attribute | mdoc value | SD-JWT value | note |
//! |---|---|---|---|
//! | `family_name`, `given_name` | tstr | string | |
//! | `sex` | uint | number | ISO/IEC 5218 (1 male, 2 female) |
//! | `ethnicity` | tstr | string | as printed on the card (`汉`) |
//! | `birth_date` | full-date | `YYYY-MM-DD` | |
//! | `address` | tstr | string | as printed |
//! | `resident_region` | tstr | string | county code (GB/T 2260) of residence |
//! | `document_number` | tstr | string | the resident identity number |
//! | `issuing_authority` | tstr | string | the public security organ |
//! | `issue_date` | full-date | `YYYY-MM-DD` | the card's |
//! | `expiry_date` | full-date | `YYYY-MM-DD` | the card's; absent for a long-term card |
//! | `portrait` | bstr (JPEG) | base64url string | when the registry holds one |
//! | `age_over_14/16/18/60/65` | bool | boolean | on the day of issuance |
//! | `age_in_years`, `age_birth_year` | uint | number | |
//! | `pseudonym:<relying party id>` | bstr (105: the 24-byte pseudonym sealed to the relying party) | base64url string | one per relying party registered for a pseudonym |
//!
//! mdoc: docType and namespace `cn.eid.resident.1`; SD-JWT VC: `vct`
//! `urn:eid:cn:resident-identity:1`, every attribute selectively disclosable.
//!
//! Both also name the wallet provider whose wallet holds the credential, so that a
//! verifier can refuse credentials held in a suspended provider's wallets (the trust
//! list's provider state) without the authority touching a single status entry: in the
//! mdoc as element `provider` of namespace `cn.eid.wallet.1`, in the SD-JWT VC as the
//! always-disclosed claim `wallet_provider`. It is not personal data (one of a handful of
//! super-apps), and the purposes' attribute limits do not count it.
//!
//! A credential held for the resident by a parent or guardian (a delegated credential,
//! registered at a counter: `crate::delegation`) is the same data set under a type of its
//! own — docType `cn.eid.resident.delegated.1` (its elements still in the namespace
//! `cn.eid.resident.1`), `vct` `urn:eid:cn:resident-identity:delegated:1` — naming the
//! relationship in the mdoc as element `delegation` of `cn.eid.wallet.1`, in the SD-JWT VC
//! as the always-disclosed claim `delegation`. A verifier that does not know the type
//! refuses it rather than take the holder for the resident.
//!
//! For the offline QR, a third form: a compact credential per purpose a scanner-only desk
//! serves ([`OFFLINE_PURPOSES`]), holding that purpose's catalogue attributes in clear and
//! the portrait as its digest (`eid_mdoc::offline`), signed by the same issuer key, which
//! the trust list lists as the issuer's offline key.

use eid_core::Relationship;
use eid_core::identity::{CardExpiry, ResidentCard, age_in_years};
use eid_crypto::b64url;
use eid_mdoc::issue::ElementValue;
use eid_trust::Purpose;
use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;

/// The mdoc docType and its one namespace.
pub const DOCTYPE: &str = eid_mdoc::DOCTYPE_RESIDENT_IDENTITY;
/// The SD-JWT VC type.
pub const VCT: &str = eid_sdjwt::VCT_RESIDENT_IDENTITY;
/// The mdoc docType of a credential held for the resident by `delegation`, or the
/// resident's own.
pub fn doc_type(delegation: Option<Relationship>) -> &'static str {
    match delegation {
        None => DOCTYPE,
        Some(_) => eid_mdoc::DOCTYPE_DELEGATED,
    }
}

/// The SD-JWT VC type of a credential held for the resident by `delegation`, or the
/// resident's own.
pub fn vct(delegation: Option<Relationship>) -> &'static str {
    match delegation {
        None => VCT,
        Some(_) => eid_sdjwt::VCT_DELEGATED,
    }
}

/// The configuration id of the mdoc credential.
pub const CONFIG_MDOC: &str = "resident_identity_mdoc";
/// The configuration id of the SD-JWT VC credential.
pub const CONFIG_SD_JWT: &str = "resident_identity_sd_jwt";
/// The configuration ids of delegated credentials: this prefix, the relationship, `_` and
/// the format, `mdoc` or `sd_jwt` (`resident_identity_delegated_parent_mdoc`).
pub const CONFIG_DELEGATED_PREFIX: &str = "resident_identity_delegated_";

/// The configurations of a credential held for the resident by `relationship`: both
/// formats (a delegated credential has no compact form for the offline QR yet).
pub fn delegated_configurations(relationship: Relationship) -> [String; 2] {
    ["mdoc", "sd_jwt"].map(|format| format!("{CONFIG_DELEGATED_PREFIX}{relationship}_{format}"))
}

/// What a configuration id issues: the resident's own configuration it takes the form of
/// ([`CONFIG_MDOC`], [`CONFIG_SD_JWT`] or an offline one: itself) and, for a delegated
/// one, the relationship.
pub fn configuration_of(configuration: &str) -> (&str, Option<Relationship>) {
    let delegated = configuration
        .strip_prefix(CONFIG_DELEGATED_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(relationship, format)| {
            let base = match format {
                "mdoc" => CONFIG_MDOC,
                "sd_jwt" => CONFIG_SD_JWT,
                _ => return None,
            };
            Some((base, Some(Relationship::parse(relationship)?)))
        });
    delegated.unwrap_or((configuration, None))
}

/// The end of a credential that would end at `until`, held by `delegation` for a resident
/// born on `birth_date`: a parent holds a minor's, so not past the start of her eighteenth
/// birthday in China Standard Time, where ages are counted.
pub fn held_until(
    delegation: Option<Relationship>,
    birth_date: Date,
    until: time::OffsetDateTime,
) -> time::OffsetDateTime {
    match delegation {
        Some(Relationship::Parent) => {
            let of_age = eid_core::identity::add_years(birth_date, 18).midnight();
            until.min(of_age.assume_offset(eid_core::clock::CHINA_STANDARD_TIME))
        }
        _ => until,
    }
}

/// Whether `held` is in a wallet of the resident's own: not a printed code (no wallet holds
/// it) and not held for her in someone else's wallet (delegated). What speaks of "her
/// wallets" — her lost phone, her move, the notice of a new enrolment, a reissue into her
/// phone — is about these alone.
pub fn in_her_wallet(held: &eid_store::CredentialRecord) -> bool {
    held.provider != eid_trust::model::PAPER_PROVIDER && held.delegation.is_none()
}

/// The purposes with a compact credential for the offline QR: those a desk with only a
/// scanner serves, whose attributes fit one QR code (a hotel's and a welfare office's
/// include the whole address, which does not).
pub const OFFLINE_PURPOSES: [Purpose; 3] = [
    Purpose::AirportSecurity,
    Purpose::RailTicketing,
    Purpose::AgeCheck,
];
/// The configuration ids of the compact credentials: this prefix and the purpose.
pub const CONFIG_OFFLINE_PREFIX: &str = "resident_identity_offline_";

/// The configuration id of the compact credential for `purpose`.
pub fn offline_configuration(purpose: Purpose) -> String {
    format!("{CONFIG_OFFLINE_PREFIX}{purpose}")
}

/// The purpose of a compact credential's configuration id, if it is one.
pub fn offline_purpose(configuration: &str) -> Option<Purpose> {
    let purpose = Purpose::parse(configuration.strip_prefix(CONFIG_OFFLINE_PREFIX)?)?;
    OFFLINE_PURPOSES.contains(&purpose).then_some(purpose)
}

/// Every configuration an offer names: both formats and the compact credentials.
pub fn all_configurations() -> Vec<String> {
    let mut all = vec![CONFIG_MDOC.to_owned(), CONFIG_SD_JWT.to_owned()];
    all.extend(OFFLINE_PURPOSES.map(offline_configuration));
    all
}

/// The mdoc namespace naming the wallet provider, and its one element.
pub const WALLET_NAMESPACE: &str = eid_mdoc::NAMESPACE_WALLET;
/// The ages with an `age_over_NN` attribute.
pub const AGE_THRESHOLDS: [u16; 5] = [14, 16, 18, 60, 65];

/// A typed attribute value, rendered per format.
enum Attr {
    Text(String),
    Uint(u64),
    Bool(bool),
    Date(Date),
    Bytes(Vec<u8>),
}

/// A resident's pairwise pseudonyms as credential items: `pseudonym:<relying party id>` and
/// its value (`crate::pseudonyms`).
pub type Pseudonyms = [(String, Vec<u8>)];

/// The credential's attributes for `card` on `today`, in a stable order, then `pseudonyms`.
fn attributes(card: &ResidentCard, today: Date, pseudonyms: &Pseudonyms) -> Vec<(String, Attr)> {
    let mut out = vec![
        (
            "family_name".to_owned(),
            Attr::Text(card.family_name.clone()),
        ),
        ("given_name".to_owned(), Attr::Text(card.given_name.clone())),
        ("sex".to_owned(), Attr::Uint(u64::from(card.sex.iso5218()))),
        (
            "ethnicity".to_owned(),
            Attr::Text(card.ethnicity.to_string()),
        ),
        ("birth_date".to_owned(), Attr::Date(card.birth_date)),
        ("address".to_owned(), Attr::Text(card.address.clone())),
        (
            "resident_region".to_owned(),
            Attr::Text(card.residence_region.to_string()),
        ),
        (
            "document_number".to_owned(),
            Attr::Text(card.id_number.expose().to_owned()),
        ),
        (
            "issuing_authority".to_owned(),
            Attr::Text(card.issuing_authority.clone()),
        ),
        ("issue_date".to_owned(), Attr::Date(card.card_issue_date)),
    ];
    if let CardExpiry::On(date) = card.card_expiry {
        out.push(("expiry_date".to_owned(), Attr::Date(date)));
    }
    if let Some(portrait) = &card.portrait {
        out.push((
            "portrait".to_owned(),
            Attr::Bytes(portrait.as_jpeg().to_vec()),
        ));
    }
    let age = age_in_years(card.birth_date, today);
    for threshold in AGE_THRESHOLDS {
        out.push((
            format!("age_over_{threshold}"),
            Attr::Bool(age >= threshold),
        ));
    }
    out.push(("age_in_years".to_owned(), Attr::Uint(u64::from(age))));
    out.push((
        "age_birth_year".to_owned(),
        Attr::Uint(u64::try_from(card.birth_date.year()).unwrap_or(0)),
    ));
    out.extend(
        pseudonyms
            .iter()
            .map(|(item, value)| (item.clone(), Attr::Bytes(value.clone()))),
    );
    out
}

/// The mdoc namespaces of the credential, held in `provider`'s wallet by the resident or,
/// with `delegation`, by a parent or guardian.
pub fn mdoc_name_spaces(
    card: &ResidentCard,
    today: Date,
    (provider, delegation): (&str, Option<Relationship>),
    pseudonyms: &Pseudonyms,
) -> Vec<(String, Vec<(String, ElementValue)>)> {
    let elements = attributes(card, today, pseudonyms)
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Attr::Text(t) => ElementValue::Text(t),
                Attr::Uint(n) => ElementValue::Int(i64::try_from(n).unwrap_or(i64::MAX)),
                Attr::Bool(b) => ElementValue::Bool(b),
                Attr::Date(d) => ElementValue::FullDate(d),
                Attr::Bytes(b) => ElementValue::Bytes(b),
            };
            (name, value)
        })
        .collect();
    let mut wallet = vec![(
        eid_mdoc::ELEMENT_WALLET_PROVIDER.to_owned(),
        ElementValue::Text(provider.to_owned()),
    )];
    if let Some(relationship) = delegation {
        wallet.push((
            eid_mdoc::ELEMENT_DELEGATION.to_owned(),
            ElementValue::Text(relationship.as_str().to_owned()),
        ));
    }
    vec![
        (DOCTYPE.to_owned(), elements),
        (WALLET_NAMESPACE.to_owned(), wallet),
    ]
}

/// The attributes of a compact credential: the credential's, those in `catalogue` (the
/// purpose's attribute set in the trust list).
pub fn compact_attributes(
    card: &ResidentCard,
    today: Date,
    catalogue: &[String],
) -> Vec<(String, ElementValue)> {
    mdoc_name_spaces(card, today, ("", None), &[])
        .into_iter()
        .filter(|(namespace, _)| namespace == DOCTYPE)
        .flat_map(|(_, elements)| elements)
        .filter(|(name, _)| catalogue.contains(name))
        .collect()
}

/// The SD-JWT VC claims of the credential (every one selectively disclosable but the
/// wallet provider's and the delegation's), held as for [`mdoc_name_spaces`].
pub fn sd_jwt_claims(
    card: &ResidentCard,
    today: Date,
    (provider, delegation): (&str, Option<Relationship>),
    pseudonyms: &Pseudonyms,
) -> Map<String, Value> {
    let iso = format_description!("[year]-[month]-[day]");
    let mut claims: Map<String, Value> = attributes(card, today, pseudonyms)
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Attr::Text(t) => Value::String(t),
                Attr::Uint(n) => Value::from(n),
                Attr::Bool(b) => Value::Bool(b),
                Attr::Date(d) => Value::String(d.format(&iso).unwrap_or_default()),
                Attr::Bytes(b) => Value::String(b64url(&b)),
            };
            (name, value)
        })
        .collect();
    claims.insert("wallet_provider".to_owned(), Value::from(provider));
    if let Some(relationship) = delegation {
        claims.insert("delegation".to_owned(), Value::from(relationship.as_str()));
    }
    claims
}

/// The attribute names, for the issuer metadata's claims description.
pub fn attribute_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "family_name",
        "given_name",
        "sex",
        "ethnicity",
        "birth_date",
        "address",
        "resident_region",
        "document_number",
        "issuing_authority",
        "issue_date",
        "expiry_date",
        "portrait",
    ]
    .map(str::to_owned)
    .to_vec();
    names.extend(AGE_THRESHOLDS.map(|t| format!("age_over_{t}")));
    names.push("age_in_years".to_owned());
    names.push("age_birth_year".to_owned());
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_parents_holding_ends_at_eighteen_and_a_guardians_does_not() {
        let until = datetime!(2027-06-01 0:00 UTC);
        let born = date!(2009 - 03 - 15);
        let parent = Some(Relationship::Parent);
        // Midnight in China, as she turns eighteen there: 16:00 UTC the day before.
        assert_eq!(
            held_until(parent, born, until),
            datetime!(2027-03-14 16:00 UTC)
        );
        assert_eq!(held_until(Some(Relationship::Guardian), born, until), until);
        assert_eq!(held_until(None, born, until), until);
        // Eighteen after the credential's end: the end stands.
        assert_eq!(held_until(parent, date!(2010 - 03 - 15), until), until);
        // Born on 29 February: of age on 28 February (or 1 March) of the year, not later.
        let leap = held_until(parent, date!(2008 - 02 - 29), until);
        assert!(leap <= datetime!(2026-03-01 0:00 UTC), "{leap}");
    }

    #[test]
    fn a_configuration_says_what_it_issues() {
        let [mdoc, sd_jwt] = delegated_configurations(Relationship::Guardian);
        assert_eq!(mdoc, "resident_identity_delegated_guardian_mdoc");
        assert_eq!(
            configuration_of(&mdoc),
            (CONFIG_MDOC, Some(Relationship::Guardian))
        );
        assert_eq!(
            configuration_of(&sd_jwt),
            (CONFIG_SD_JWT, Some(Relationship::Guardian))
        );
        for own in [
            CONFIG_MDOC,
            CONFIG_SD_JWT,
            "resident_identity_offline_age_check",
        ] {
            assert_eq!(configuration_of(own), (own, None));
        }
        // Not a relationship or not a form: taken for itself, which no offer names.
        for odd in [
            "resident_identity_delegated_uncle_mdoc",
            "resident_identity_delegated_parent_pdf",
            "resident_identity_delegated_parent",
        ] {
            assert_eq!(configuration_of(odd), (odd, None));
        }
    }
}
