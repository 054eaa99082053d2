//! `eid id-number`.

use std::io::BufRead;

use anyhow::Context;
use clap::Subcommand;
use eid_core::{Clock, ResidentIdNumber, SystemClock, region};

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a number against every rule of GB 11643-1999; prints only its masked form
    Check {
        /// The number; read from standard input when left out (keeps it out of shell history)
        number: Option<String>,
    },
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    let Command::Check { number } = command;
    let number = match number {
        Some(n) => n,
        None => std::io::stdin()
            .lock()
            .lines()
            .next()
            .context("no number on standard input")?
            .context("could not read standard input")?,
    };
    match ResidentIdNumber::parse(number.trim(), SystemClock.today()) {
        Ok(n) => {
            let region = region::lookup(n.region_code());
            crate::print_json(&serde_json::json!({
                "valid": true,
                "masked": n.masked(),
                "sex": n.sex(),
                "region_code": n.region_code(),
                "region": region.map(|r| r.full_name()),
                "region_current": region.map(|r| r.is_current()),
            }))?;
            Ok(Outcome::Ok)
        }
        Err(e) => {
            crate::print_json(&serde_json::json!({ "valid": false, "reason": e.to_string() }))?;
            Ok(Outcome::Refused)
        }
    }
}
