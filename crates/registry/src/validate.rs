//! Checking a registry file: `eid registry validate`.

use std::collections::HashSet;
use std::io::BufRead;

use eid_core::ResidentCard;
use time::Date;

/// At most this many problems are kept for the report; the counts cover all of them.
const KEPT_PROBLEMS: usize = 20;

/// What a check of a JSON Lines registry file found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    /// Lines holding a record.
    pub records: u64,
    /// Records that passed every check.
    pub valid: u64,
    /// Records that failed a check (malformed JSON included).
    pub invalid: u64,
    /// Records whose identity number an earlier line already had.
    pub duplicate_numbers: u64,
    /// The first problems, as `line N: reason` (never a field's value).
    pub first_problems: Vec<String>,
}

impl Report {
    /// True when every record is valid and no number repeats.
    pub fn all_valid(&self) -> bool {
        self.invalid == 0 && self.duplicate_numbers == 0
    }

    fn problem(&mut self, line: u64, reason: impl std::fmt::Display) {
        if self.first_problems.len() < KEPT_PROBLEMS {
            self.first_problems.push(format!("line {line}: {reason}"));
        }
    }
}

/// Reads JSON Lines of [`ResidentCard`]s and checks each against
/// [`ResidentCard::validate`] on `today`, and that no identity number repeats.
pub fn check_jsonl(input: impl BufRead, today: Date) -> std::io::Result<Report> {
    let mut report = Report::default();
    let mut seen: HashSet<[u8; 18]> = HashSet::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        let number = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        report.records += 1;
        let card: ResidentCard = match serde_json::from_str(&line) {
            Ok(card) => card,
            Err(e) => {
                report.invalid += 1;
                report.problem(number, redact(&e));
                continue;
            }
        };
        if let Err(e) = card.validate(today) {
            report.invalid += 1;
            report.problem(number, e);
            continue;
        }
        let mut key = [0u8; 18];
        key.copy_from_slice(card.id_number.expose().as_bytes());
        if !seen.insert(key) {
            report.duplicate_numbers += 1;
            report.problem(number, "the identity number repeats an earlier record's");
            continue;
        }
        report.valid += 1;
    }
    Ok(report)
}

/// serde's messages quote offending values between backticks (`invalid value: string
/// `王`…`); field names are quoted the same way in `missing field` and `unknown field`,
/// which are kept. Values are replaced by `…`.
fn redact(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("missing field") || message.starts_with("unknown field") {
        return message;
    }
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('`').enumerate() {
        out.push_str(if i % 2 == 1 { "`…`" } else { part });
    }
    out
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 11 - 23);

    fn sample() -> String {
        let mut out = Vec::new();
        crate::Generator::new(1, TODAY)
            .write_jsonl(3, &mut out, &mut |_| {})
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn reports_bad_lines_without_their_values() {
        let good = sample();
        let first = good.lines().next().unwrap().to_owned();
        let card: ResidentCard = serde_json::from_str(&first).unwrap();
        let wrong_sex = first.replace(
            &format!(
                "\"sex\":\"{}\"",
                serde_json::to_value(card.sex).unwrap().as_str().unwrap()
            ),
            "\"sex\":\"unknown\"",
        );
        let input = format!("{good}{first}\n{{not json\n{wrong_sex}\n");
        let report = check_jsonl(input.as_bytes(), TODAY).unwrap();
        assert_eq!((report.records, report.valid, report.invalid), (6, 3, 2));
        assert_eq!(report.duplicate_numbers, 1);
        assert!(!report.all_valid());
        let text = report.first_problems.join("\n");
        assert!(
            text.contains("line 4: the identity number repeats"),
            "{text}"
        );
        assert!(text.contains("line 5:"), "{text}");
        assert!(
            text.contains("line 6:") && !text.contains("unknown`"),
            "{text}"
        );
        assert!(!text.contains(&card.full_name) && !text.contains(card.id_number.expose()));
    }
}
