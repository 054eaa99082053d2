//! The resident identity number (公民身份号码) of GB 11643-1999.
//!
//! ```text
//! 4 5 0 1 0 2 | 1 9 9 0 0 3 0 7 | 1 2 3 | X
//! region code | birth date      | seq.  | check character (ISO 7064 MOD 11-2)
//! ```
//!
//! The number is personal data: its [`Display`](std::fmt::Display) and
//! [`Debug`](std::fmt::Debug) forms are masked (`450102********123X`), and errors never
//! carry any of its characters. [`ResidentIdNumber::expose`] gives the full number for
//! storage and protocol messages.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

use crate::region::{self, RegionCode};

/// Why a string is not a valid resident identity number. One variant per rule of
/// GB 11643-1999; none carries characters of the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdNumberError {
    /// Not 18 characters long.
    #[error("an identity number has 18 characters, this one has {found}")]
    WrongLength {
        /// How many characters the input has.
        found: usize,
    },
    /// One of the first 17 characters is not an ASCII digit.
    #[error("character {position} of the identity number must be a digit 0-9")]
    NotADigit {
        /// 1-based position of the first offending character.
        position: usize,
    },
    /// The 18th character is neither a digit nor `X`.
    #[error("the last character of the identity number must be a digit or X")]
    BadCheckCharacter,
    /// Characters 1–6 are not a GB/T 2260 region code, current or abolished.
    #[error("characters 1-6 of the identity number are not a region code that exists or existed")]
    UnknownRegion,
    /// Characters 7–14 are not a real calendar date.
    #[error("characters 7-14 of the identity number are not a real birth date")]
    InvalidBirthDate,
    /// Characters 7–14 are a date after today.
    #[error("the birth date in the identity number is in the future")]
    BirthDateInFuture,
    /// The check character does not match the first 17 characters.
    #[error("the check character does not match: a character of the identity number was mistyped")]
    ChecksumMismatch,
}

/// Sex as coded by the parity of the sequence code (odd: male, even: female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// 男, odd sequence code.
    Male,
    /// 女, even sequence code.
    Female,
}

impl Sex {
    /// The ISO/IEC 5218 code used by ISO 18013-5 (`1` male, `2` female).
    pub fn iso5218(self) -> u8 {
        match self {
            Self::Male => 1,
            Self::Female => 2,
        }
    }

    /// The word printed on the card.
    pub fn chinese(self) -> &'static str {
        match self {
            Self::Male => "男",
            Self::Female => "女",
        }
    }
}

/// ISO 7064 MOD 11-2 weights, 2^(17-i) mod 11 for positions i = 0..17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";

/// The ISO 7064 MOD 11-2 check character of the first 17 digits (ASCII), `X` standing for 10.
pub fn check_character(first17: &[u8; 17]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit.wrapping_sub(b'0')) * weight)
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

/// A resident identity number that has passed every rule of GB 11643-1999.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResidentIdNumber([u8; 18]);

impl ResidentIdNumber {
    /// Parses and validates `input` against every rule, including that the birth date is
    /// not after `today`. A lowercase `x` check character is accepted and stored as `X`.
    pub fn parse(input: &str, today: Date) -> Result<Self, IdNumberError> {
        let number = Self::parse_structure(input)?;
        if number.birth_date() > today {
            return Err(IdNumberError::BirthDateInFuture);
        }
        Ok(number)
    }

    /// Every rule except "birth date not in the future", which needs a clock: for reading
    /// numbers that were validated when stored. Prefer [`ResidentIdNumber::parse`].
    pub fn parse_structure(input: &str) -> Result<Self, IdNumberError> {
        let found = input.chars().count();
        if found != 18 {
            return Err(IdNumberError::WrongLength { found });
        }
        if let Some(i) = input.chars().take(17).position(|c| !c.is_ascii_digit()) {
            return Err(IdNumberError::NotADigit { position: i + 1 });
        }
        if !input.ends_with(|c: char| c.is_ascii_digit() || c == 'X' || c == 'x') {
            return Err(IdNumberError::BadCheckCharacter);
        }
        // All 18 characters are ASCII now.
        let mut bytes = [0u8; 18];
        bytes.copy_from_slice(input.as_bytes());
        bytes[17] = bytes[17].to_ascii_uppercase();
        let number = Self(bytes);
        if region::lookup(number.region_code()).is_none() {
            return Err(IdNumberError::UnknownRegion);
        }
        birth_date_of(&bytes).ok_or(IdNumberError::InvalidBirthDate)?;
        let mut first17 = [0u8; 17];
        first17.copy_from_slice(&bytes[..17]);
        if check_character(&first17) != bytes[17] {
            return Err(IdNumberError::ChecksumMismatch);
        }
        Ok(number)
    }

    /// Builds the number from its parts, computing the check character. For generators and
    /// tests; the result is validated like any parsed number.
    pub fn from_parts(
        region: RegionCode,
        birth_date: Date,
        sequence: u16,
    ) -> Result<Self, IdNumberError> {
        let body = format!(
            "{region}{:04}{:02}{:02}{:03}",
            birth_date.year(),
            u8::from(birth_date.month()),
            birth_date.day(),
            sequence % 1000
        );
        let mut first17 = [0u8; 17];
        if body.len() != 17 {
            return Err(IdNumberError::InvalidBirthDate);
        }
        first17.copy_from_slice(body.as_bytes());
        let mut full = body;
        full.push(char::from(check_character(&first17)));
        Self::parse_structure(&full)
    }

    /// The full number. For storage and protocol messages only: never log or display it;
    /// use [`ResidentIdNumber::masked`] (or `Display`) where a person could see it.
    pub fn expose(&self) -> &str {
        // Only ASCII digits and `X` are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The masked form for operators: region code and the last four characters, birth
    /// date hidden (`450102********123X`).
    pub fn masked(&self) -> String {
        let s = self.expose();
        format!("{}********{}", &s[..6], &s[14..])
    }

    /// The region code (characters 1–6): where the number was first allocated, which may be
    /// a county code abolished since.
    pub fn region_code(&self) -> RegionCode {
        let code = self.0[..6]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        RegionCode::from_u32_unchecked(code)
    }

    /// The birth date (characters 7–14).
    pub fn birth_date(&self) -> Date {
        // Validated at construction.
        birth_date_of(&self.0).unwrap_or(Date::MIN)
    }

    /// The sequence code (characters 15–17).
    pub fn sequence(&self) -> u16 {
        self.0[14..17]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    }

    /// The sex the sequence code's parity gives.
    pub fn sex(&self) -> Sex {
        if self.sequence() % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

fn digits(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d.wrapping_sub(b'0')))
}

fn birth_date_of(bytes: &[u8; 18]) -> Option<Date> {
    let year = i32::try_from(digits(&bytes[6..10])).ok()?;
    let month = Month::try_from(u8::try_from(digits(&bytes[10..12])).ok()?).ok()?;
    let day = u8::try_from(digits(&bytes[12..14])).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

impl fmt::Display for ResidentIdNumber {
    /// The masked form: the full number is never formatted by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for ResidentIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentIdNumber({})", self.masked())
    }
}

impl Serialize for ResidentIdNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for ResidentIdNumber {
    /// Checks every rule but the future birth date (no clock here); the record that holds
    /// the number checks that against its own clock.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_structure(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 11 - 23);

    /// Appends the right check character to 17 digits.
    fn with_check(first17: &str) -> String {
        let mut bytes = [0u8; 17];
        bytes.copy_from_slice(first17.as_bytes());
        format!("{first17}{}", char::from(check_character(&bytes)))
    }

    #[test]
    fn the_standards_example_validates() {
        // GB 11643-1999 Annex A's worked example: 11010519491231002X.
        let n = ResidentIdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(n.region_code().to_string(), "110105");
        assert_eq!(n.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(n.sequence(), 2);
        assert_eq!(n.sex(), Sex::Female);
    }

    #[test]
    fn check_character_ten_is_x() {
        assert_eq!(with_check("11010519491231002"), "11010519491231002X");
        let lower = ResidentIdNumber::parse("11010519491231002x", TODAY).unwrap();
        assert_eq!(lower.expose(), "11010519491231002X");
    }

    #[test]
    fn odd_sequence_is_male() {
        let n = ResidentIdNumber::parse(&with_check("45010219900307123"), TODAY).unwrap();
        assert_eq!(n.sex(), Sex::Male);
        assert_eq!(n.sequence(), 123);
    }

    #[test]
    fn rule_length() {
        let valid = with_check("45010219900307123");
        assert_eq!(
            ResidentIdNumber::parse(&valid[..17], TODAY),
            Err(IdNumberError::WrongLength { found: 17 })
        );
        assert_eq!(
            ResidentIdNumber::parse(&format!("{valid}0"), TODAY),
            Err(IdNumberError::WrongLength { found: 19 })
        );
        // Length is counted in characters, not bytes: a full-width digit is one character.
        assert_eq!(
            ResidentIdNumber::parse("45010219900307１23", TODAY),
            Err(IdNumberError::WrongLength { found: 17 })
        );
    }

    #[test]
    fn rule_digits() {
        assert_eq!(
            ResidentIdNumber::parse("4501021990030712A3", TODAY),
            Err(IdNumberError::NotADigit { position: 17 })
        );
        assert_eq!(
            ResidentIdNumber::parse("X50102199003071233", TODAY),
            Err(IdNumberError::NotADigit { position: 1 })
        );
        // A full-width digit (common in typed input) is not an ASCII digit.
        assert_eq!(
            ResidentIdNumber::parse("45010219900307１235", TODAY),
            Err(IdNumberError::NotADigit { position: 15 })
        );
    }

    #[test]
    fn rule_check_character_alphabet() {
        assert_eq!(
            ResidentIdNumber::parse("45010219900307123Y", TODAY),
            Err(IdNumberError::BadCheckCharacter)
        );
    }

    #[test]
    fn rule_region_code() {
        // 459999 never existed; the check character is right, so only the region rule fails.
        assert_eq!(
            ResidentIdNumber::parse(&with_check("45999919900307123"), TODAY),
            Err(IdNumberError::UnknownRegion)
        );
    }

    #[test]
    fn abolished_region_codes_stay_valid() {
        // 110103 (崇文区) was merged into 东城区 in 2010; numbers allocated there remain valid.
        assert!(ResidentIdNumber::parse(&with_check("11010319700101123"), TODAY).is_ok());
    }

    #[test]
    fn rule_real_birth_date() {
        for body in [
            "45010219900230123",
            "45010219901301123",
            "45010219900100123",
        ] {
            assert_eq!(
                ResidentIdNumber::parse(&with_check(body), TODAY),
                Err(IdNumberError::InvalidBirthDate),
                "{body}"
            );
        }
        // 29 February exists in leap years only.
        assert!(ResidentIdNumber::parse(&with_check("45010220000229123"), TODAY).is_ok());
        assert_eq!(
            ResidentIdNumber::parse(&with_check("45010219000229123"), TODAY),
            Err(IdNumberError::InvalidBirthDate)
        );
    }

    #[test]
    fn rule_birth_date_not_in_future() {
        let tomorrow = with_check("45010220261124123");
        assert_eq!(
            ResidentIdNumber::parse(&tomorrow, TODAY),
            Err(IdNumberError::BirthDateInFuture)
        );
        // Born today is fine.
        assert!(ResidentIdNumber::parse(&with_check("45010220261123123"), TODAY).is_ok());
    }

    #[test]
    fn rule_checksum() {
        assert_eq!(
            ResidentIdNumber::parse("450102199003071230", TODAY),
            Err(IdNumberError::ChecksumMismatch)
        );
    }

    #[test]
    fn never_shown_in_full() {
        let n = ResidentIdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(n.to_string(), "110105********002X");
        assert_eq!(format!("{n:?}"), "ResidentIdNumber(110105********002X)");
        assert!(!format!("{n} {n:?}").contains("19491231"));
    }

    #[test]
    fn errors_carry_no_characters_of_the_number() {
        let input = "11010519491231002X";
        for bad in [&input[..17], "1101051949123100X2", "110105194912310021"] {
            let message = ResidentIdNumber::parse(bad, TODAY).unwrap_err().to_string();
            assert!(!message.contains("19491231"), "{message}");
        }
    }

    #[test]
    fn serde_round_trip_keeps_the_full_number() {
        let n = ResidentIdNumber::parse("11010519491231002X", TODAY).unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"11010519491231002X\"");
        assert_eq!(serde_json::from_str::<ResidentIdNumber>(&json).unwrap(), n);
        assert!(serde_json::from_str::<ResidentIdNumber>("\"110105194912310021\"").is_err());
    }

    fn valid_numbers() -> impl Strategy<Value = ResidentIdNumber> {
        let regions: Vec<RegionCode> = region::all().iter().map(|r| r.code).collect();
        (
            prop::sample::select(regions),
            0i32..=(365 * 120),
            0u16..1000,
        )
            .prop_map(|(region, days_before, sequence)| {
                let birth = TODAY - time::Duration::days(i64::from(days_before));
                ResidentIdNumber::from_parts(region, birth, sequence).unwrap()
            })
    }

    proptest! {
        #[test]
        fn built_numbers_validate(n in valid_numbers()) {
            prop_assert_eq!(ResidentIdNumber::parse(n.expose(), TODAY), Ok(n));
        }

        #[test]
        fn any_single_character_change_fails(
            n in valid_numbers(),
            position in 0usize..18,
            replacement in prop::char::any(),
        ) {
            let original = n.expose();
            let old = char::from(original.as_bytes()[position]);
            // Upper and lower case X are the same check character.
            prop_assume!(replacement != old && !(old == 'X' && replacement == 'x'));
            let changed: String = original
                .chars()
                .enumerate()
                .map(|(i, c)| if i == position { replacement } else { c })
                .collect();
            prop_assert!(ResidentIdNumber::parse(&changed, TODAY).is_err(), "{changed:?}");
        }
    }
}
