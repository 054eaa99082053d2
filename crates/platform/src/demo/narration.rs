//! How the story tells itself: each step's title and verdict, and what a desk's report says.

use serde_json::Value;

/// Tallies the verdicts.
pub(super) struct Verdicts<'a> {
    pub(super) say: &'a mut dyn FnMut(&str),
    pub(super) step: usize,
    pub(super) all: bool,
}

impl Verdicts<'_> {
    pub(super) fn step(&mut self, title: &str) {
        self.step += 1;
        (self.say)(&format!("{:>2}. {title}", self.step));
    }

    /// The verdict of the step: `expected` is what the story says, `report` the desk's.
    pub(super) fn check(&mut self, report: &Value, expected: Expected) {
        let accepted = report["accepted"] == true;
        let reasons = reasons_of(report);
        let presence = &report["presence"];
        let (ok, words) = match expected {
            Expected::Accepted => (
                accepted && presence["matched"] != false,
                if accepted {
                    format!("accepted{}", face_words(presence))
                } else {
                    format!(
                        "refused ({}) — the story expected accepted",
                        reasons.join(", ")
                    )
                },
            ),
            Expected::Refused(reason) => (
                !accepted && reasons.contains(&reason),
                if accepted {
                    format!("accepted — the story expected refused ({reason})")
                } else {
                    format!("refused ({})", reasons.join(", "))
                },
            ),
        };
        self.verdict(ok, &words);
    }

    /// Someone else at the desk with her phone: refused for the face where the purpose
    /// requires a match; where it does not, accepted with the faces reported apart, for the
    /// clerk to judge.
    pub(super) fn check_not_her(&mut self, report: &Value, required: bool) {
        if required {
            return self.check(report, Expected::Refused("face_mismatch"));
        }
        let presence = &report["presence"];
        let apart = presence["matched"] == false;
        self.verdict(
            report["accepted"] == true && apart,
            &format!(
                "accepted{}{}",
                face_words(presence),
                if apart {
                    " — this purpose does not require a match: the clerk sees it and decides"
                } else {
                    " — the story expected the faces apart"
                }
            ),
        );
    }

    pub(super) fn verdict(&mut self, ok: bool, words: &str) {
        self.all &= ok;
        (self.say)(&format!("    {} {words}", if ok { "✓" } else { "✗" }));
    }

    /// A step whose outcome an earlier run already made true: said, not checked again.
    pub(super) fn already(&mut self, words: &str) {
        (self.say)(&format!("    • already true: {words}"));
    }
}

/// What a report says of the face at the desk, if it was compared.
fn face_words(presence: &Value) -> String {
    match (
        presence["matched"].as_bool(),
        presence["score"].as_f64(),
        presence["threshold"].as_f64(),
    ) {
        (Some(true), Some(score), Some(at_most)) => {
            format!(", the face matches (distance {score:.2}, at most {at_most:.2})")
        }
        (Some(false), Some(score), Some(at_most)) => {
            format!(", the face does NOT match (distance {score:.2}, more than {at_most:.2})")
        }
        _ => String::new(),
    }
}

/// Whether a desk accepted `report`, or refused it only because no photograph of the person
/// was sent: the burst and load tools send none (they judge status and throughput, not
/// faces), and where the purpose requires a face match the desk refuses exactly so once
/// every other check has passed. Any other reason the faces were not compared (no model, no
/// template in the code, every place taken) stays a refusal.
pub(crate) fn accepted_but_for_the_face(report: &Value) -> bool {
    let no_photograph = |r: &Value| {
        r["reason"] == "face_not_checked"
            && r["message"]
                .as_str()
                .is_some_and(|m| m.contains("no photograph of the person"))
    };
    report["accepted"] == true
        || (report["accepted"] == false
            && report["reasons"]
                .as_array()
                .is_some_and(|r| r.len() == 1 && no_photograph(&r[0])))
}

/// The reason codes of a desk's refusal.
pub(super) fn reasons_of(report: &Value) -> Vec<&str> {
    report["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reason"].as_str())
        .collect()
}

#[derive(Clone, Copy)]
pub(super) enum Expected {
    Accepted,
    Refused(&'static str),
}

/// An identity number shown with its middle masked.
pub(super) fn mask(id_number: &str) -> String {
    let chars: Vec<char> = id_number.chars().collect();
    if chars.len() < 10 {
        return "***".into();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}********{tail}")
}
