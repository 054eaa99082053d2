//! `eid`: the command line of the eid platform.
//!
//! Exit codes: 0 success (or "valid"), 1 a check said no ("invalid"), 2 a usage or I/O error.

mod authority;
mod credential;
mod help;
mod id_number;
mod pki;
mod platform;
mod provider;
mod region;
mod registry;
mod status_list;
mod trust;
mod verifier;
mod verify;
mod wallet;

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// eid: a national mobile electronic identity: the authority that issues the resident
/// identity card into a phone wallet, the wallet, and the verifiers that check it.
#[derive(Debug, Parser)]
#[command(name = "eid", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the whole platform on this machine: two authorities, two wallet providers,
    /// the relying parties' desks (embedded SQLite under ./eid-data)
    Up(platform::UpArgs),
    /// Play the story (enrolment, hotel, airport, bank, the other city, the national
    /// authorisation, the lost phone, the new phone) and say how each step went
    Demo(platform::DemoArgs),
    /// Measure a running platform under load (`eid bench load`)
    #[command(subcommand)]
    Bench(platform::BenchCommand),
    /// Generate and check population registry files
    #[command(subcommand)]
    Registry(registry::Command),
    /// Run the issuing authority service (OpenID4VCI, status lists, lifecycle)
    #[command(subcommand)]
    Authority(authority::Command),
    /// Issue, present and verify credentials (ISO 18013-5 mdoc and SD-JWT VC)
    #[command(subcommand)]
    Credential(credential::Command),
    /// Create issuer certificates and keys (IACA root, document signer)
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Generate holder keys
    #[command(subcommand)]
    Keys(pki::KeysCommand),
    /// Create and read signed status lists (IETF Token Status List)
    #[command(subcommand, name = "status-list")]
    StatusList(status_list::Command),
    /// Build, sign and show the national trust list
    #[command(subcommand)]
    Trust(trust::Command),
    /// A holder's wallet: device key behind a PIN, enrolment, credentials, presentation
    #[command(subcommand)]
    Wallet(wallet::Command),
    /// A wallet provider: attest a wallet instance's keys
    #[command(subcommand)]
    Provider(provider::Command),
    /// Verify a presentation as a relying party (in person from the phone's engagement QR,
    /// or an offline QR code)
    Verify(verify::VerifyArgs),
    /// Run a relying party's verifier service (offline QR, in person, OpenID4VP)
    #[command(subcommand)]
    Verifier(verifier::Command),
    /// Look up GB/T 2260 region codes and test region scopes
    #[command(subcommand)]
    Region(region::Command),
    /// Check a resident identity number (GB 11643-1999)
    #[command(subcommand, name = "id-number")]
    IdNumber(id_number::Command),
}

/// What a command found: success, or a check that said no (exit 1).
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: the input was read, and a check failed.
    Refused,
}

fn main() -> ExitCode {
    let command = help::grouped(Cli::command());
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Up(a) => platform::up(a),
        Command::Demo(a) => platform::demo(a),
        Command::Bench(c) => platform::bench(c),
        Command::Registry(c) => registry::run(c),
        Command::Authority(c) => authority::run(c),
        Command::Credential(c) => credential::run(c),
        Command::Pki(c) => pki::run_pki(c),
        Command::Keys(c) => pki::run_keys(c),
        Command::StatusList(c) => status_list::run(c),
        Command::Trust(c) => trust::run(c),
        Command::Wallet(c) => wallet::run(c),
        Command::Provider(c) => provider::run(c),
        Command::Verify(a) => verify::run(a),
        Command::Verifier(c) => verifier::run(c),
        Command::Region(c) => region::run(c),
        Command::IdNumber(c) => id_number::run(c),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::from(1),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes `value` as pretty JSON and a newline to standard output.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
