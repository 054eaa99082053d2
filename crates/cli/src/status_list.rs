//! `eid status-list`: make a signed Token Status List and read one back.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use eid_core::{Clock, SystemClock};
use eid_status::list::parse_status;
use eid_status::token::statuses_json;
use eid_status::{
    Bits, ReadOptions, SignedBy, SignerRef, StatusList, StatusListToken, TokenFormat, TokenTrust,
    read,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::Outcome;
use crate::credential::{document_signer, load_jwks, parse_time, read_bytes};

/// The token's two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Form {
    /// JWT, `typ` statuslist+jwt (text)
    Jwt,
    /// CWT, COSE_Sign1 with `typ` application/statuslist+cwt (binary)
    Cwt,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a status list token signed with the document-signer key of a PKI folder
    Create {
        /// Bits per entry: 1 (valid/invalid) or 2 (valid/invalid/suspended)
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
        bits: u8,
        /// Number of entries (rounded up to whole bytes)
        #[arg(long)]
        size: u64,
        /// Entries to set, as INDEX=STATUS (STATUS a number or valid, invalid, suspended)
        #[arg(long, value_delimiter = ',')]
        set: Vec<String>,
        /// The folder `eid pki init` wrote (ds.pem, ds.key.pem)
        #[arg(long)]
        pki: PathBuf,
        /// The URI the list is published at (the token's sub)
        #[arg(long)]
        uri: String,
        /// jwt or cwt
        #[arg(long, default_value = "jwt")]
        format: Form,
        /// Seconds a reader may cache the list (ttl)
        #[arg(long)]
        ttl: Option<u64>,
        /// Hours until the list expires (exp)
        #[arg(long, default_value_t = 24)]
        valid_hours: u32,
        /// Where to write the token
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a status list token and print the status of the given indices as JSON
    Read {
        /// The token (JWT text or CWT bytes)
        file: PathBuf,
        /// A trusted IACA root (PEM), for tokens carrying a DS certificate
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// A trusted signer key (JWK), for tokens without certificate
        #[arg(long)]
        trust_jwk: Vec<PathBuf>,
        /// Indices to report
        #[arg(long, value_delimiter = ',', required = true)]
        index: Vec<u64>,
        /// The URI the token was fetched from: its sub must be this
        #[arg(long)]
        uri: Option<String>,
        /// Check at this time instead of now (RFC 3339)
        #[arg(long, value_parser = parse_time)]
        at: Option<OffsetDateTime>,
    },
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Create {
            bits,
            size,
            set,
            pki,
            uri,
            format,
            ttl,
            valid_hours,
            out,
        } => {
            let mut list = StatusList::new(Bits::new(bits.into())?, size)?;
            for entry in &set {
                let Some((index, status)) = entry.split_once('=') else {
                    bail!("--set takes INDEX=STATUS, not {entry:?}");
                };
                let index: u64 = index
                    .trim()
                    .parse()
                    .with_context(|| format!("{index:?} in --set is not an index"))?;
                let Some(value) = parse_status(status.trim()) else {
                    bail!("{status:?} is not a status: give a number or valid, invalid, suspended");
                };
                list.set(index, value)
                    .with_context(|| format!("--set {entry}"))?;
            }
            let (key, der) = document_signer(&pki)?;
            let now = SystemClock.now();
            let token = StatusListToken {
                uri,
                issued_at: now,
                expires_at: Some(
                    now.checked_add(Duration::hours(valid_hours.into()))
                        .context("--valid-hours reaches past the year 9999")?,
                ),
                ttl,
                list,
            };
            let chain = [der];
            let by = SignerRef::Certificates(&chain);
            let bytes = match format {
                Form::Jwt => token.sign_jwt(&key, by)?.into_bytes(),
                Form::Cwt => token.sign_cwt(&key, by)?,
            };
            std::fs::write(&out, bytes)
                .with_context(|| format!("could not write {}", out.display()))?;
            Ok(Outcome::Ok)
        }
        Command::Read {
            file,
            trust,
            trust_jwk,
            index,
            uri,
            at,
        } => {
            let now = at.unwrap_or_else(|| SystemClock.now());
            let roots = crate::pki::load_roots(&trust, now)?;
            let keys = load_jwks(&trust_jwk)?;
            if roots.is_empty() && keys.is_empty() {
                bail!("give at least one --trust ROOT.pem or --trust-jwk KEY.jwk");
            }
            let bytes = read_bytes(&file)?;
            let trust = TokenTrust {
                roots: &roots,
                keys: &keys,
            };
            let options = match uri.as_deref() {
                Some(uri) => ReadOptions::new(trust, now, uri),
                // Inspecting a file: the report says the subject was not checked.
                None => ReadOptions::dangerous_any_subject(trust, now),
            };
            let verified = match read(&bytes, &options) {
                Ok(v) => v,
                Err(e) => {
                    crate::print_json(&json!({ "valid": false, "reason": e.to_string() }))?;
                    return Ok(Outcome::Refused);
                }
            };
            let token = &verified.token;
            let statuses = statuses_json(&token.list, &index)?;
            let rfc3339 = |t: OffsetDateTime| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            };
            crate::print_json(&json!({
                "valid": true,
                "format": match verified.format { TokenFormat::Jwt => "jwt", TokenFormat::Cwt => "cwt" },
                "uri": token.uri,
                "signer": match &verified.signed_by {
                    SignedBy::Certificate { common_name, .. } => json!(common_name),
                    SignedBy::Key(i) => json!(trust_jwk.get(*i).map(|p| p.display().to_string())),
                },
                "subject_checked": uri.is_some(),
                "bits": token.list.bits().get(),
                "size": token.list.len(),
                "issued_at": rfc3339(token.issued_at),
                "expires_at": token.expires_at.map(rfc3339),
                "ttl": token.ttl,
                "statuses": statuses,
            }))?;
            Ok(Outcome::Ok)
        }
    }
}
