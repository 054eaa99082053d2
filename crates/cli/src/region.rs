//! `eid region`.

use anyhow::Context;
use clap::Subcommand;
use eid_core::region::{self, Region, RegionCode, Scope};

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a code's name, level, province and prefecture, and the years it was in use
    Show {
        /// A six-digit GB/T 2260 code, e.g. 450102
        code: String,
    },
    /// Whether a county lies inside a scope; exit 0 if it does, 1 if not
    Contains {
        /// `nation`, a province (45), a prefecture (4501) or a county (450102)
        scope: String,
        /// The six-digit code to test
        code: String,
    },
}

fn describe(r: &Region) -> serde_json::Value {
    serde_json::json!({
        "code": r.code,
        "name": r.name,
        "full_name": r.full_name(),
        "level": r.level,
        "parent": r.parent,
        "province": r.province().map(|p| p.name),
        "prefecture": r.prefecture().filter(|p| p.code != r.code && p.is_place()).map(|p| p.name),
        "first_year": r.first_year,
        "last_year": r.last_year,
        "current": r.is_current(),
    })
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Show { code } => {
            let code = RegionCode::parse_known(&code)?;
            let r = region::lookup(code).context("listed code without a row")?;
            crate::print_json(&describe(r))?;
            Ok(Outcome::Ok)
        }
        Command::Contains { scope, code } => {
            let scope = Scope::parse(&scope)?;
            let code = RegionCode::parse_known(&code)?;
            let inside = scope.contains(code);
            crate::print_json(&serde_json::json!({
                "scope": scope,
                "code": code,
                "contains": inside,
            }))?;
            Ok(if inside {
                Outcome::Ok
            } else {
                Outcome::Refused
            })
        }
    }
}
