//! `eid registry`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use eid_core::{Clock, SystemClock};
use eid_registry::Generator;
use eid_registry::validate::check_jsonl;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use time::Date;

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic population as JSON Lines (deterministic for a seed and date)
    Generate {
        /// How many residents
        #[arg(long)]
        count: u64,
        /// The seed: the same seed and --as-of give the same file
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write (JSON Lines, one record a line; see docs/registry.md)
        #[arg(long)]
        out: PathBuf,
        /// The date ages and cards are counted on (YYYY-MM-DD; default today, UTC+8)
        #[arg(long, value_parser = parse_date)]
        as_of: Option<Date>,
        /// No progress bar
        #[arg(long)]
        quiet: bool,
    },
    /// Import a registry file into the store (idempotent: re-importing changes only what changed)
    Import {
        /// A JSON Lines registry file (what `registry generate` writes)
        file: PathBuf,
        /// The store: sqlite:PATH (default sqlite:eid-data/eid.db) or postgres://…
        #[arg(long, env = "EID_DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
        /// Records per transaction
        #[arg(long, default_value_t = 5000)]
        batch: usize,
        /// No progress bar
        #[arg(long)]
        quiet: bool,
    },
    /// Check every record of a registry file; exit 0 if all are valid, 1 if not
    Validate {
        /// A JSON Lines registry file
        file: PathBuf,
        /// The date to check against (YYYY-MM-DD; default today, UTC+8)
        #[arg(long, value_parser = parse_date)]
        as_of: Option<Date>,
    },
}

/// The embedded store `eid` uses unless told otherwise.
pub const DEFAULT_DATABASE: &str = "sqlite:eid-data/eid.db";

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{s:?} is not a date in the form YYYY-MM-DD"))
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Generate {
            count,
            seed,
            out,
            as_of,
            quiet,
        } => {
            let as_of = as_of.unwrap_or_else(|| SystemClock.today());
            generate(count, seed, &out, as_of, quiet)
        }
        Command::Import {
            file,
            database,
            batch,
            quiet,
        } => import(&file, &database, batch.max(1), quiet),
        Command::Validate { file, as_of } => {
            let as_of = as_of.unwrap_or_else(|| SystemClock.today());
            let input =
                File::open(&file).with_context(|| format!("could not open {}", file.display()))?;
            let report = check_jsonl(BufReader::new(input), as_of)
                .with_context(|| format!("could not read {}", file.display()))?;
            crate::print_json(&report)?;
            Ok(if report.all_valid() {
                Outcome::Ok
            } else {
                Outcome::Refused
            })
        }
    }
}

fn generate(
    count: u64,
    seed: u64,
    out: &PathBuf,
    as_of: Date,
    quiet: bool,
) -> anyhow::Result<Outcome> {
    // Write to a temporary file beside the target and rename at the end, so a failed or
    // interrupted run never leaves a half-written population under the requested name.
    let partial = out.with_extension("partial");
    let file = File::create(&partial)
        .with_context(|| format!("could not create {}", partial.display()))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let bar = ProgressBar::with_draw_target(
        Some(count),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} residents, {per_sec}, {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = Generator::new(seed, as_of)
        .write_jsonl(count, &mut writer, &mut |n| bar.set_position(n))
        .map_err(anyhow::Error::from)
        .and_then(|()| writer.flush().map_err(anyhow::Error::from));
    bar.finish_and_clear();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(e.context(format!("could not write {}", out.display())));
    }
    std::fs::rename(&partial, out)
        .with_context(|| format!("could not move the finished file to {}", out.display()))?;
    if !quiet {
        let _ = writeln!(
            std::io::stderr(),
            "wrote {count} residents to {} (seed {seed}, as of {as_of})",
            out.display()
        );
    }
    Ok(Outcome::Ok)
}

/// Imports `file` in transactions of `batch` records. A bad line stops the import with its
/// line number (never its content); the batches before it stay imported, and a re-run
/// after fixing the file picks up where it stopped, since imports are idempotent.
fn import(file: &PathBuf, database: &str, batch: usize, quiet: bool) -> anyhow::Result<Outcome> {
    use std::io::BufRead;
    if let Some(path) = database.strip_prefix("sqlite:")
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create {}", parent.display()))?;
    }
    let input = File::open(file).with_context(|| format!("could not open {}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    // Two workers: a batch is written (each partition's share at once) while the next
    // is read and parsed here.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async {
        let store = eid_store::Store::connect(database)
            .await
            // The URL is not repeated: it may carry a password.
            .context("could not open the store given by --database / EID_DATABASE_URL")?;
        let bar = ProgressBar::with_draw_target(
            Some(size),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {binary_bytes}/{binary_total_bytes}, {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let (mut read, mut changed, mut pending) = (0u64, 0u64, Vec::with_capacity(batch));
        let mut bytes = 0u64;
        // At most one batch is being written while the next is parsed: memory stays at two
        // batches, and the batches reach the store in file order (a resident listed twice
        // ends as its last line).
        let mut writing: Option<tokio::task::JoinHandle<Result<u64, eid_store::StoreError>>> =
            None;
        let finish = async |writing: &mut Option<tokio::task::JoinHandle<_>>| -> anyhow::Result<u64> {
            match writing.take() {
                Some(handle) => Ok(handle.await.context("the import task failed")??),
                None => Ok(0),
            }
        };
        for (i, line) in BufReader::new(input).lines().enumerate() {
            let line = line.with_context(|| format!("could not read {}", file.display()))?;
            bytes += line.len() as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let card: eid_core::identity::ResidentCard = match serde_json::from_str(&line) {
                Ok(card) => card,
                Err(_) => {
                    // What was read before the bad line is stored before stopping.
                    finish(&mut writing).await?;
                    if !pending.is_empty() {
                        store.import_residents(&pending, SystemClock.now()).await?;
                    }
                    bar.finish_and_clear();
                    store.close().await;
                    anyhow::bail!(
                        "line {} of {} is not a registry record (run `eid registry validate` for the reason); the {read} records before it are imported",
                        i + 1,
                        file.display()
                    );
                }
            };
            pending.push(card);
            read += 1;
            if pending.len() == batch {
                changed += finish(&mut writing).await?;
                let full = std::mem::replace(&mut pending, Vec::with_capacity(batch));
                let store = store.clone();
                writing = Some(tokio::spawn(async move {
                    store.import_residents(&full, SystemClock.now()).await
                }));
                bar.set_position(bytes);
            }
        }
        changed += finish(&mut writing).await?;
        if !pending.is_empty() {
            changed += store.import_residents(&pending, SystemClock.now()).await?;
        }
        bar.finish_and_clear();
        let total = store.resident_count().await?;
        store.close().await;
        crate::print_json(&serde_json::json!({
            "file": file.display().to_string(),
            "store": store.backend_name(),
            "records_read": read,
            "new_or_changed": changed,
            "residents_in_store": total,
        }))?;
        Ok(Outcome::Ok)
    })
}
