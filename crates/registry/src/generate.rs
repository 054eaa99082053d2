//! A deterministic synthetic population: `eid registry generate`.
//!
//! Records are written as JSON Lines, one [`ResidentCard`] per line (format in
//! `docs/registry.md`). The same seed and `as_of` date give the same bytes.
//!
//! Numbers are unique by construction without remembering the whole file: every county's
//! residents are generated together, and a number's region code is its county, so only one
//! county's (birth date, sequence) pairs are held at a time — memory is bounded by the
//! largest county's share, not by the count.

use std::collections::HashSet;
use std::io::Write;

use eid_core::identity::{CardValidity, PinyinName, add_years, age_in_years};
use eid_core::region::{self, Level, Region};
use eid_core::{CardExpiry, Ethnicity, ResidentCard, ResidentIdNumber, Sex};
use time::{Date, Duration, Month};

use crate::rng::{SeededRng, Weighted};
use crate::tables;

/// Why generation stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// Writing the output failed.
    #[error("could not write the population file: {0}")]
    Io(#[from] std::io::Error),
    /// A record could not be built (a bug: generated data always validates).
    #[error("generated record {index} is inconsistent: {reason}")]
    Inconsistent {
        /// Its position in the file.
        index: u64,
        /// What was wrong.
        reason: eid_core::IdentityError,
    },
}

/// One county to draw residents into.
struct County {
    region: &'static Region,
    prefecture: Option<&'static Region>,
    province: &'static Region,
}

/// Makes a synthetic population for a seed, as of a date.
pub struct Generator {
    rng: SeededRng,
    as_of: Date,
    counties: Vec<County>,
    county_weights: Vec<f64>,
    ages: Weighted,
    surnames: Weighted,
    days_used: HashSet<u32>,
}

impl Generator {
    /// A generator for `seed`, with ages, card dates and validity counted on `as_of`.
    pub fn new(seed: u64, as_of: Date) -> Self {
        let counties: Vec<County> = region::all()
            .iter()
            .filter(|r| r.level == Level::County && r.is_current())
            .filter_map(|r| {
                Some(County {
                    region: r,
                    prefecture: r.prefecture(),
                    province: r.province()?,
                })
            })
            .filter(|c| population_of(c.province) > 0.0)
            .collect();
        let per_province = |p: u32| {
            counties
                .iter()
                .filter(|c| c.region.code.province_digits() == p)
                .count() as f64
        };
        let county_weights = counties
            .iter()
            .map(|c| population_of(c.province) / per_province(c.province.code.province_digits()))
            .collect();
        Self {
            rng: SeededRng::new(seed),
            as_of,
            counties,
            county_weights,
            ages: Weighted::new(tables::AGE_BANDS),
            surnames: Weighted::new(tables::SURNAMES.iter().map(|s| s.2)),
            days_used: HashSet::new(),
        }
    }

    /// Writes `count` records to `out`, calling `progress` with the number written so far
    /// every 10 000 records and at the end.
    pub fn write_jsonl(
        &mut self,
        count: u64,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), GenerateError> {
        let quotas = self.quotas(count);
        let mut written = 0u64;
        let mut line = Vec::with_capacity(512);
        for (i, &quota) in quotas.iter().enumerate() {
            self.days_used.clear();
            for _ in 0..quota {
                let card = self
                    .person(i)
                    .map_err(|reason| GenerateError::Inconsistent {
                        index: written,
                        reason: reason.into(),
                    })?;
                card.validate(self.as_of)
                    .map_err(|reason| GenerateError::Inconsistent {
                        index: written,
                        reason,
                    })?;
                line.clear();
                serde_json::to_writer(&mut line, &card).map_err(std::io::Error::from)?;
                line.push(b'\n');
                out.write_all(&line)?;
                written += 1;
                if written.is_multiple_of(10_000) {
                    progress(written);
                }
            }
        }
        progress(written);
        Ok(())
    }

    /// How many residents each county gets: the whole part of its expected share, and the
    /// remainder drawn by weight, so that small counts still spread over the country.
    fn quotas(&mut self, count: u64) -> Vec<u64> {
        let total: f64 = self.county_weights.iter().sum();
        let mut quotas: Vec<u64> = self
            .county_weights
            .iter()
            .map(|w| (count as f64 * w / total).floor() as u64)
            .collect();
        let remainder = count - quotas.iter().sum::<u64>();
        let draw = Weighted::new(self.county_weights.iter().copied());
        for _ in 0..remainder {
            quotas[draw.sample(&mut self.rng)] += 1;
        }
        quotas
    }

    fn person(&mut self, county: usize) -> Result<ResidentCard, eid_core::IdNumberError> {
        let sex = if self.rng.chance(tables::MALE_SHARE) {
            Sex::Male
        } else {
            Sex::Female
        };
        let (birth_date, sequence) = self.birth_and_sequence(sex);
        let c = &self.counties[county];
        let (region, prefecture, province) = (c.region, c.prefecture, c.province);
        let id_number = ResidentIdNumber::from_parts(region.code, birth_date, sequence)?;
        let (family_name, family_pinyin) = self.surname();
        let (given_name, given_pinyin) = self.given_name(sex);
        let (card_issue_date, card_expiry) = self.card_dates(birth_date);
        Ok(ResidentCard {
            id_number,
            full_name: format!("{family_name}{given_name}"),
            family_name: family_name.to_owned(),
            given_name,
            pinyin: Some(PinyinName {
                family: family_pinyin.to_owned(),
                given: given_pinyin,
            }),
            sex,
            ethnicity: self.ethnicity(province.code.province_digits()),
            birth_date,
            address: self.address(region),
            residence_region: region.code,
            issuing_authority: issuing_authority(region, prefecture, province),
            card_issue_date,
            card_expiry,
            portrait: None,
        })
    }

    /// A birth date from the age pyramid and a sequence code of the right parity that no
    /// one else in this county born that day has.
    fn birth_and_sequence(&mut self, sex: Sex) -> (Date, u16) {
        loop {
            let band = self.ages.sample(&mut self.rng) as i64;
            let days_back = band * 1826 + self.rng.below(1826) as i64;
            let birth = self.as_of - Duration::days(days_back);
            let day = u32::try_from(birth.to_julian_day()).unwrap_or(0);
            // Up to 50 tries for a free sequence on this day; a full day draws a new date.
            for _ in 0..50 {
                let half = self.rng.below(499) as u16 + 1; // 1..=499
                let sequence = match sex {
                    Sex::Male => half * 2 - 1, // 1, 3, …, 997
                    Sex::Female => half * 2,   // 2, 4, …, 998
                };
                if self.days_used.insert(day << 10 | u32::from(sequence)) {
                    return (birth, sequence);
                }
            }
        }
    }

    fn surname(&mut self) -> (&'static str, &'static str) {
        let (zh, py, _) = tables::SURNAMES[self.surnames.sample(&mut self.rng)];
        (zh, py)
    }

    fn given_name(&mut self, sex: Sex) -> (String, String) {
        let chars = match sex {
            Sex::Male => tables::MALE_GIVEN,
            Sex::Female => tables::FEMALE_GIVEN,
        };
        let len = if self.rng.chance(0.25) { 1 } else { 2 };
        let (mut zh, mut py) = (String::new(), String::new());
        for _ in 0..len {
            let (c, p) = self.rng.pick(chars);
            zh.push_str(c);
            py.push_str(p);
        }
        let mut given = py.chars();
        let py = given
            .next()
            .map(|f| f.to_ascii_uppercase().to_string() + given.as_str());
        (zh, py.unwrap_or_default())
    }

    fn ethnicity(&mut self, province: u32) -> Ethnicity {
        let local = tables::PROVINCE_ETHNICITY
            .iter()
            .find(|(p, _)| *p == province)
            .map(|(_, shares)| *shares)
            .unwrap_or(&[]);
        let mut x = self.rng.unit();
        for &(code, share) in local {
            if x < share {
                return Ethnicity::from_code(code).unwrap_or(Ethnicity::HAN);
            }
            x -= share;
        }
        // Outside the listed groups: mostly Han, the rest spread over the 55 others.
        if self.rng.chance(0.95) {
            Ethnicity::HAN
        } else {
            Ethnicity::from_code(self.rng.below(55) as u8 + 2).unwrap_or(Ethnicity::HAN)
        }
    }

    fn address(&mut self, region: &Region) -> String {
        let place = region.full_name();
        let number = self.rng.below(300) + 1;
        if region.name.ends_with('县') || region.name.ends_with('旗') {
            let town = self.rng.pick(tables::TOWNS);
            let village = self.rng.pick(tables::VILLAGES);
            format!("{place}{town}镇{village}村{number}号")
        } else {
            let road = self.rng.pick(tables::ROADS);
            let building = self.rng.below(30) + 1;
            let room = (self.rng.below(20) + 1) * 100 + self.rng.below(4) + 1;
            format!("{place}{road}{number}号{building}栋{room}室")
        }
    }

    /// The current card: first issued as a child or at 16 (not before the card's
    /// introduction in 1985), renewed on expiry up to three months early; 3 % of holders
    /// let an expired card lapse.
    fn card_dates(&mut self, birth: Date) -> (Date, CardExpiry) {
        let as_of = self.as_of;
        let age = age_in_years(birth, as_of);
        let first = if age < 16 {
            birth + Duration::days(self.rng.below((as_of - birth).whole_days() as u64 + 1) as i64)
        } else {
            let at_16 = add_years(birth, 16) + Duration::days(self.rng.below(365) as i64);
            let introduced =
                date_or(1985, Month::January, 1) + Duration::days(self.rng.below(3 * 365) as i64);
            at_16.max(introduced).min(as_of)
        };
        let mut issue = first;
        loop {
            let expiry = CardValidity::for_age_at_issue(age_in_years(birth, issue)).expiry(issue);
            match expiry {
                CardExpiry::On(end) if end < as_of && !self.rng.chance(0.03) => {
                    let early = Duration::days(self.rng.below(90) as i64);
                    issue = (end - early).max(issue + Duration::days(1)).min(as_of);
                }
                _ => return (issue, expiry),
            }
        }
    }
}

fn population_of(province: &Region) -> f64 {
    let digits = province.code.province_digits();
    tables::PROVINCE_POPULATION
        .iter()
        .find(|(p, _)| *p == digits)
        .map_or(0.0, |(_, n)| *n)
}

fn date_or(year: i32, month: Month, day: u8) -> Date {
    Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN)
}

/// The public security organ that issues cards in a county: a district's branch of the city
/// bureau (南宁市公安局兴宁分局, 北京市公安局东城分局), else the county's own bureau.
pub fn issuing_authority(
    county: &Region,
    prefecture: Option<&Region>,
    province: &Region,
) -> String {
    match county.name.strip_suffix('区') {
        Some(stem) if !stem.is_empty() => {
            let city = prefecture.filter(|p| p.is_place()).unwrap_or(province);
            format!("{}公安局{}分局", city.name, stem)
        }
        _ => format!("{}公安局", county.name),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const AS_OF: Date = date!(2026 - 11 - 23);

    fn generate(seed: u64, count: u64) -> Vec<u8> {
        let mut out = Vec::new();
        Generator::new(seed, AS_OF)
            .write_jsonl(count, &mut out, &mut |_| {})
            .unwrap();
        out
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = generate(7, 2_000);
        assert_eq!(a, generate(7, 2_000));
        assert_ne!(a, generate(8, 2_000));
    }

    #[test]
    fn every_record_validates_and_numbers_are_unique() {
        let out = generate(11, 20_000);
        let report = crate::validate::check_jsonl(&out[..], AS_OF).unwrap();
        assert_eq!(report.records, 20_000);
        assert_eq!(report.invalid, 0, "{:?}", report.first_problems);
        assert_eq!(report.duplicate_numbers, 0);
    }

    #[test]
    fn the_population_looks_like_the_country() {
        let out = generate(3, 20_000);
        let cards: Vec<ResidentCard> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let share = |f: &dyn Fn(&ResidentCard) -> bool| {
            cards.iter().filter(|c| f(c)).count() as f64 / cards.len() as f64
        };
        let guangdong = share(&|c| c.residence_region.province_digits() == 44);
        assert!((0.07..0.11).contains(&guangdong), "Guangdong {guangdong}");
        let tibet = share(&|c| c.residence_region.province_digits() == 54);
        assert!(tibet < 0.01, "Tibet {tibet}");
        let male = share(&|c| c.sex == Sex::Male);
        assert!((0.49..0.53).contains(&male), "male {male}");
        let han = share(&|c| c.ethnicity == Ethnicity::HAN);
        assert!((0.85..0.95).contains(&han), "Han {han}");
        let children = share(&|c| age_in_years(c.birth_date, AS_OF) < 15);
        assert!((0.15..0.20).contains(&children), "under 15 {children}");
        let wang = share(&|c| c.family_name == "王");
        assert!((0.05..0.09).contains(&wang), "王 {wang}");
        let valid = share(&|c| c.card_expiry.is_valid_on(AS_OF));
        assert!((0.95..1.0).contains(&valid), "valid cards {valid}");
        let long_term = share(&|c| c.card_expiry == CardExpiry::LongTerm);
        assert!((0.3..0.6).contains(&long_term), "long-term {long_term}");
    }

    #[test]
    fn a_handful_still_spreads_over_the_country() {
        let out = generate(5, 40);
        let provinces: HashSet<u32> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<ResidentCard>(l).unwrap())
            .map(|c| c.residence_region.province_digits())
            .collect();
        assert!(provinces.len() > 10, "{provinces:?}");
    }

    #[test]
    fn issuing_authorities_read_like_real_ones() {
        let get = |code: &str| {
            let r = region::lookup(eid_core::RegionCode::parse(code).unwrap()).unwrap();
            issuing_authority(r, r.prefecture(), r.province().unwrap())
        };
        assert_eq!(get("450102"), "南宁市公安局兴宁分局");
        assert_eq!(get("110101"), "北京市公安局东城分局");
        assert_eq!(get("450123"), "隆安县公安局");
    }
}
