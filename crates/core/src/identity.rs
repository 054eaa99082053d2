//! The resident identity card's data set (居民身份证) and the attributes derived from it.
//!
//! A [`ResidentCard`] is what the population registry holds and what a credential carries.
//! Its `Debug` form shows only the masked number: names, addresses and portraits are
//! personal data and never reach a log line.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

use crate::clock::Clock;
use crate::ethnicity::Ethnicity;
use crate::id_number::{IdNumberError, ResidentIdNumber, Sex};
use crate::region::RegionCode;

/// Why a card record is inconsistent. Field names only, never their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The identity number breaks a rule of GB 11643-1999.
    #[error(transparent)]
    IdNumber(#[from] IdNumberError),
    /// A required text field is empty.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// The full name is not written in Chinese characters (with `·` between parts of a
    /// transcribed name).
    #[error("the full name must be written in Chinese characters")]
    NameNotChinese,
    /// The full name is not the family name followed by the given name.
    #[error("the full name is not the family name followed by the given name")]
    NameParts,
    /// The sex differs from the one the identity number's sequence code gives.
    #[error("the sex does not match the identity number")]
    SexMismatch,
    /// The birth date differs from the one in the identity number.
    #[error("the birth date does not match the identity number")]
    BirthDateMismatch,
    /// The card was issued before its holder was born, or after today.
    #[error("the card issue date is before the birth date or in the future")]
    IssueDateOutOfRange,
    /// The expiry does not follow the validity period for the holder's age at issue.
    #[error("the card expiry should be {expected} for a card issued at age {age_at_issue}")]
    ValidityRule {
        /// The age at issue.
        age_at_issue: u16,
        /// What the law gives for that age.
        expected: CardValidity,
    },
    /// The portrait is not a JPEG image.
    #[error("the portrait must be a JPEG image")]
    PortraitNotJpeg,
}

/// The card's validity period as the law gives it by age at issue (居民身份证法 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardValidity {
    /// Valid for this many years.
    Years(u8),
    /// 长期: does not expire.
    LongTerm,
}

impl CardValidity {
    /// Under 16: 5 years; 16–25: 10 years; 26–45: 20 years; 46 and over: long-term.
    pub fn for_age_at_issue(age: u16) -> Self {
        match age {
            0..16 => Self::Years(5),
            16..26 => Self::Years(10),
            26..46 => Self::Years(20),
            _ => Self::LongTerm,
        }
    }

    /// The expiry of a card with this validity issued on `issue_date`.
    pub fn expiry(self, issue_date: Date) -> CardExpiry {
        match self {
            Self::Years(n) => CardExpiry::On(add_years(issue_date, i32::from(n))),
            Self::LongTerm => CardExpiry::LongTerm,
        }
    }
}

impl fmt::Display for CardValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Years(n) => write!(f, "{n} years after issue"),
            Self::LongTerm => f.write_str("long-term"),
        }
    }
}

/// When the card expires: a date, or 长期 (long-term).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardExpiry {
    /// The last day of validity.
    On(Date),
    /// Does not expire.
    LongTerm,
}

impl CardExpiry {
    /// Whether a card with this expiry is still within its validity on `today`.
    pub fn is_valid_on(self, today: Date) -> bool {
        match self {
            Self::On(date) => today <= date,
            Self::LongTerm => true,
        }
    }
}

impl Serialize for CardExpiry {
    /// `"YYYY-MM-DD"` or `"long-term"`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::On(date) => date.serialize(serializer),
            Self::LongTerm => serializer.serialize_str("long-term"),
        }
    }
}

impl<'de> Deserialize<'de> for CardExpiry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        if s == "long-term" {
            return Ok(Self::LongTerm);
        }
        parse_date(&s)
            .map(Self::On)
            .map_err(serde::de::Error::custom)
    }
}

fn parse_date(s: &str) -> Result<Date, time::error::Parse> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
}

/// `date` plus `years` calendar years; 29 February becomes 28 February in a common year.
pub fn add_years(date: Date, years: i32) -> Date {
    let year = date.year() + years;
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .unwrap_or(date)
}

/// The family and given names in Hanyu Pinyin, as an optional field of the card data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinyinName {
    /// Family name, e.g. `WANG`.
    pub family: String,
    /// Given name, e.g. `Xiuying`.
    pub given: String,
}

/// The portrait on the card: JPEG bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Portrait(Vec<u8>);

impl Portrait {
    /// Takes JPEG bytes (they must start with the SOI marker `FF D8 FF`).
    pub fn from_jpeg(bytes: Vec<u8>) -> Result<Self, IdentityError> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Ok(Self(bytes))
        } else {
            Err(IdentityError::PortraitNotJpeg)
        }
    }

    /// The JPEG bytes.
    pub fn as_jpeg(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Portrait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Portrait({} bytes of JPEG)", self.0.len())
    }
}

/// The data printed on (and stored in the chip of) the resident identity card.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentCard {
    /// The resident identity number.
    pub id_number: ResidentIdNumber,
    /// The full name in Chinese characters (`王秀英`).
    pub full_name: String,
    /// The family name (`王`).
    pub family_name: String,
    /// The given name (`秀英`).
    pub given_name: String,
    /// The name in Hanyu Pinyin, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinyin: Option<PinyinName>,
    /// Sex.
    pub sex: Sex,
    /// Ethnic group.
    pub ethnicity: Ethnicity,
    /// Birth date.
    pub birth_date: Date,
    /// The address of residence as printed.
    pub address: String,
    /// The county-level region of residence (may differ from the number's region code).
    pub residence_region: RegionCode,
    /// The public security organ that issued the card (`南宁市公安局兴宁分局`).
    pub issuing_authority: String,
    /// The first day of validity.
    pub card_issue_date: Date,
    /// The last day of validity, or long-term.
    pub card_expiry: CardExpiry,
    /// The portrait, where the record carries one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "portrait_base64"
    )]
    pub portrait: Option<Portrait>,
}

impl fmt::Debug for ResidentCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResidentCard")
            .field("id_number", &self.id_number)
            .finish_non_exhaustive()
    }
}

impl ResidentCard {
    /// Checks the record against itself and the law: the number's rules (birth date not
    /// after `today`), names, sex and birth date agreeing with the number, issue date, the
    /// validity period for the age at issue, and the portrait's format.
    pub fn validate(&self, today: Date) -> Result<(), IdentityError> {
        ResidentIdNumber::parse(self.id_number.expose(), today)?;
        for (field, value) in [
            ("full_name", &self.full_name),
            ("family_name", &self.family_name),
            ("given_name", &self.given_name),
            ("address", &self.address),
            ("issuing_authority", &self.issuing_authority),
        ] {
            if value.trim().is_empty() {
                return Err(IdentityError::Empty(field));
            }
        }
        if !self.full_name.chars().all(|c| is_cjk(c) || c == '·') {
            return Err(IdentityError::NameNotChinese);
        }
        let joined = format!("{}{}", self.family_name, self.given_name);
        if joined != self.full_name
            && format!("{}·{}", self.given_name, self.family_name) != self.full_name
        {
            return Err(IdentityError::NameParts);
        }
        if self.sex != self.id_number.sex() {
            return Err(IdentityError::SexMismatch);
        }
        if self.birth_date != self.id_number.birth_date() {
            return Err(IdentityError::BirthDateMismatch);
        }
        if self.card_issue_date < self.birth_date || self.card_issue_date > today {
            return Err(IdentityError::IssueDateOutOfRange);
        }
        let age_at_issue = age_in_years(self.birth_date, self.card_issue_date);
        let expected = CardValidity::for_age_at_issue(age_at_issue);
        if expected.expiry(self.card_issue_date) != self.card_expiry {
            return Err(IdentityError::ValidityRule {
                age_at_issue,
                expected,
            });
        }
        if let Some(p) = &self.portrait {
            Portrait::from_jpeg(p.0.clone())?;
        }
        Ok(())
    }

    /// The attributes derived from the birth date on the clock's today.
    pub fn derived(&self, clock: &dyn Clock) -> DerivedAttributes {
        DerivedAttributes::compute(self.birth_date, clock.today())
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{3134F}' | '\u{F900}'..='\u{FAFF}')
}

/// Whole years from `birth` to `on`; the birthday itself counts (on 29 February's
/// anniversary in a common year, the new age starts on 1 March).
pub fn age_in_years(birth: Date, on: Date) -> u16 {
    let mut years = on.year() - birth.year();
    if (u8::from(on.month()), on.day()) < (u8::from(birth.month()), birth.day()) {
        years -= 1;
    }
    u16::try_from(years).unwrap_or(0)
}

/// Who holds a delegated credential for a resident (a child, or an adult who cannot act
/// alone), as registered at a counter: the credential names it, signed, so that a desk shows
/// it. Two relationships: a parent of a minor, and a guardian (of a minor without a parent who
/// can act, or of an adult who cannot act alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// A parent of a minor (under 18 on the day of registration).
    Parent,
    /// A guardian: of a minor without a parent who can act, or of an adult.
    Guardian,
}

impl Relationship {
    /// Every relationship.
    pub const ALL: [Self; 2] = [Self::Parent, Self::Guardian];

    /// The name in credentials and on the wire: `parent`, `guardian`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parent => "parent",
            Self::Guardian => "guardian",
        }
    }

    /// Parses [`Relationship::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Attributes derived from the birth date so that most purposes never see it
/// (ISO 18013-5 §7.2.5 names: `age_over_NN`, `age_in_years`, `age_birth_year`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedAttributes {
    /// 14 or older.
    pub age_over_14: bool,
    /// 16 or older.
    pub age_over_16: bool,
    /// 18 or older.
    pub age_over_18: bool,
    /// 60 or older.
    pub age_over_60: bool,
    /// Age in whole years.
    pub age_in_years: u16,
    /// Year of birth.
    pub age_birth_year: i32,
}

impl DerivedAttributes {
    /// Computes them for `today`.
    pub fn compute(birth_date: Date, today: Date) -> Self {
        let age = age_in_years(birth_date, today);
        Self {
            age_over_14: age >= 14,
            age_over_16: age >= 16,
            age_over_18: age >= 18,
            age_over_60: age >= 60,
            age_in_years: age,
            age_birth_year: birth_date.year(),
        }
    }
}

mod portrait_base64 {
    //! The portrait as standard base64 in JSON.
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Portrait;

    pub(super) fn serialize<S: Serializer>(p: &Option<Portrait>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_str(&STANDARD.encode(&p.0)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Portrait>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        let bytes = STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("the portrait is not valid base64"))?;
        Portrait::from_jpeg(bytes)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::FixedClock;
    use crate::region::RegionCode;

    const TODAY: Date = date!(2026 - 11 - 23);

    fn card() -> ResidentCard {
        let birth = date!(1990 - 03 - 07);
        let region = RegionCode::parse("450102").unwrap();
        ResidentCard {
            id_number: ResidentIdNumber::from_parts(region, birth, 124).unwrap(),
            full_name: "王秀英".into(),
            family_name: "王".into(),
            given_name: "秀英".into(),
            pinyin: Some(PinyinName {
                family: "WANG".into(),
                given: "Xiuying".into(),
            }),
            sex: Sex::Female,
            ethnicity: Ethnicity::from_name("壮").unwrap(),
            birth_date: birth,
            address: "广西壮族自治区南宁市兴宁区民族大道100号".into(),
            residence_region: region,
            issuing_authority: "南宁市公安局兴宁分局".into(),
            card_issue_date: date!(2016 - 05 - 10),
            card_expiry: CardExpiry::On(date!(2036 - 05 - 10)),
            portrait: Some(Portrait::from_jpeg(vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).unwrap()),
        }
    }

    #[test]
    fn a_consistent_card_validates() {
        card().validate(TODAY).unwrap();
    }

    #[test]
    fn validity_follows_age_at_issue() {
        assert_eq!(CardValidity::for_age_at_issue(0), CardValidity::Years(5));
        assert_eq!(CardValidity::for_age_at_issue(15), CardValidity::Years(5));
        assert_eq!(CardValidity::for_age_at_issue(16), CardValidity::Years(10));
        assert_eq!(CardValidity::for_age_at_issue(25), CardValidity::Years(10));
        assert_eq!(CardValidity::for_age_at_issue(26), CardValidity::Years(20));
        assert_eq!(CardValidity::for_age_at_issue(45), CardValidity::Years(20));
        assert_eq!(CardValidity::for_age_at_issue(46), CardValidity::LongTerm);
        assert_eq!(
            CardValidity::Years(10).expiry(date!(2004 - 02 - 29)),
            CardExpiry::On(date!(2014 - 02 - 28))
        );
    }

    #[test]
    fn each_inconsistency_has_its_error() {
        type Break = fn(&mut ResidentCard);
        let cases: Vec<(Break, IdentityError)> = vec![
            (|c| c.full_name = "王秀".into(), IdentityError::NameParts),
            (
                |c| c.full_name = "Wang".into(),
                IdentityError::NameNotChinese,
            ),
            (|c| c.address = " ".into(), IdentityError::Empty("address")),
            (|c| c.sex = Sex::Male, IdentityError::SexMismatch),
            (
                |c| c.birth_date = date!(1990 - 03 - 08),
                IdentityError::BirthDateMismatch,
            ),
            (
                |c| c.card_issue_date = date!(2027 - 01 - 01),
                IdentityError::IssueDateOutOfRange,
            ),
            (
                |c| c.card_expiry = CardExpiry::On(date!(2026 - 05 - 10)),
                IdentityError::ValidityRule {
                    age_at_issue: 26,
                    expected: CardValidity::Years(20),
                },
            ),
            (
                |c| c.portrait = Some(Portrait(b"\x89PNG".to_vec())),
                IdentityError::PortraitNotJpeg,
            ),
        ];
        for (break_it, expected) in cases {
            let mut c = card();
            break_it(&mut c);
            assert_eq!(c.validate(TODAY), Err(expected));
        }
    }

    #[test]
    fn transcribed_minority_names_validate() {
        let mut c = card();
        c.full_name = "秀英·王".into();
        c.validate(TODAY).unwrap();
    }

    #[test]
    fn debug_shows_no_personal_data() {
        let text = format!("{:?}", card());
        assert!(!text.contains("王") && !text.contains("19900307") && !text.contains("民族大道"));
        assert!(text.contains("450102********"));
    }

    #[test]
    fn json_round_trip() {
        let c = card();
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"birth_date\":\"1990-03-07\""), "{json}");
        assert!(json.contains("\"card_expiry\":\"2036-05-10\""), "{json}");
        assert!(json.contains("\"ethnicity\":\"壮\""), "{json}");
        let back: ResidentCard = serde_json::from_str(&json).unwrap();
        assert!(back == c);
        let mut long = c;
        long.card_expiry = CardExpiry::LongTerm;
        assert!(
            serde_json::to_string(&long)
                .unwrap()
                .contains("\"card_expiry\":\"long-term\"")
        );
    }

    #[test]
    fn derived_attributes_from_the_clock() {
        let birth = date!(2008 - 11 - 24);
        let d = DerivedAttributes::compute(birth, TODAY);
        assert_eq!(
            (d.age_in_years, d.age_over_16, d.age_over_18),
            (17, true, false)
        );
        let d = DerivedAttributes::compute(birth, date!(2026 - 11 - 24));
        assert_eq!(
            (d.age_in_years, d.age_over_18, d.age_birth_year),
            (18, true, 2008)
        );
        let clock = FixedClock::at_date(TODAY);
        let c = card();
        assert_eq!(c.derived(&clock).age_in_years, 36);
        assert!(!c.derived(&clock).age_over_60);
        // A leap-day birthday: the new age starts on 1 March in a common year.
        assert_eq!(
            age_in_years(date!(2008 - 02 - 29), date!(2026 - 02 - 28)),
            17
        );
        assert_eq!(
            age_in_years(date!(2008 - 02 - 29), date!(2026 - 03 - 01)),
            18
        );
    }
}
