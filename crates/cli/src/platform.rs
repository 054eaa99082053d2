//! `eid up` and `eid demo`: the whole platform in one process, and its story.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use eid_core::{OsRandom, SystemClock};
use eid_platform::up::{Options, Running, start};

use crate::Outcome;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The data folder: keys, trust list, SQLite databases (made on the first start, kept
    /// across restarts)
    #[arg(long, default_value = "eid-data")]
    data: PathBuf,
    /// The base port: the pages and APIs here, the authorities' public listeners on the
    /// next two
    #[arg(long, default_value_t = 8400)]
    port: u16,
    /// The face models and fixtures (scripts/fetch-proofing-data): remote enrolment and
    /// the demo residents' portraits
    #[arg(long, env = "EID_PROOFING_DIR")]
    proofing: Option<PathBuf>,
    /// Run only the front (wallet providers, pages, trust list, /platform.json), the
    /// authorities and desks being their own processes as this JSON file says
    /// (scripts/cluster writes it; docs/scale.md)
    #[arg(long)]
    topology: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A running `eid up` on this machine (its base URL, e.g. http://127.0.0.1:8400), from
    /// any folder and as often as wanted; without it the demo starts its own platform in a
    /// temporary folder and removes it afterwards
    #[arg(long)]
    against: Option<String>,
    /// The face models and fixtures (scripts/fetch-proofing-data)
    #[arg(long, env = "EID_PROOFING_DIR")]
    proofing: Option<PathBuf>,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn bring_up(options: &Options) -> anyhow::Result<Running> {
    start(
        options,
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        &mut |step| say(step),
    )
    .await
    .with_context(|| format!("could not start the platform in {}", options.dir.display()))
}

/// What to open, from the platform's own description.
fn announce(running: &Running, dir: &std::path::Path) {
    let d = &running.description;
    let list = |key: &str| d[key].as_array().cloned().unwrap_or_default();
    let front = running.front;
    say(&format!(
        "eid is up; data in {} ({}; a restart keeps it). Ctrl-C stops.",
        dir.display(),
        if front {
            "the front only: the authorities and desks run on their own, their data in PostgreSQL"
        } else {
            "SQLite"
        }
    ));
    say(&format!(
        "  platform description  {}/platform.json",
        running.base
    ));
    for a in list("authorities") {
        say(&format!(
            "  authority {}  {} (OpenID4VCI, status lists); admin API {}/admin/… with the token in {}",
            a["name"].as_str().unwrap_or_default(),
            a["public"].as_str().unwrap_or_default(),
            a["admin"].as_str().unwrap_or_default(),
            a["admin_token_file"].as_str().unwrap_or_default(),
        ));
    }
    for p in list("providers") {
        say(&format!(
            "  wallet provider {}  {}",
            p["name"].as_str().unwrap_or_default(),
            p["api"].as_str().unwrap_or_default()
        ));
    }
    for desk in list("desks") {
        say(&format!(
            "  desk {} ({})  {}",
            desk["name"].as_str().unwrap_or_default(),
            desk["purpose"].as_str().unwrap_or_default(),
            desk["url"].as_str().unwrap_or_default()
        ));
    }
    for r in list("demo_residents") {
        say(&format!(
            "  demo resident of {}: {} {}{}",
            r["authority"].as_str().unwrap_or_default(),
            r["full_name"].as_str().unwrap_or_default(),
            r["id_number"].as_str().unwrap_or_default(),
            match r["portrait"].as_str() {
                Some(p) => format!(" (registry portrait: fixture {p})"),
                None => " (no portrait: the face fixtures were not present)".into(),
            }
        ));
    }
    for off in &running.checks_off {
        say(&format!("  OFF: {} — {}", off.check, off.why));
    }
    say(&format!("  the story: eid demo --against {}", running.base));
}

/// How long `eid up` waits, once stopped, for work still running on the runtime's blocking
/// threads (a QR reading, which cannot be interrupted) before exiting without it.
const BLOCKING_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

pub fn up(args: UpArgs) -> anyhow::Result<Outcome> {
    eid_serve::init_logs();
    let runtime = runtime()?;
    // Said and described by absolute path: `eid demo` and the console may run elsewhere.
    let data = std::path::absolute(&args.data)
        .with_context(|| format!("the data folder {}", args.data.display()))?;
    let topology = args
        .topology
        .as_deref()
        .map(eid_platform::up::Topology::read)
        .transpose()?;
    let outcome = runtime.block_on(async {
        let options = Options {
            dir: data.clone(),
            port: args.port,
            proofing: args.proofing,
            topology,
        };
        let running = bring_up(&options).await?;
        // Listening for Ctrl-C (and a service manager's SIGTERM) before saying we are up:
        // a signal right after the announcement must stop cleanly, not kill.
        let mut stop = StopSignals::listen()?;
        announce(&running, &data);
        stop.next().await;
        say("stopping… (Ctrl-C again stops at once)");
        // Listening replaced the default action of these signals for good, so a second one
        // is heard here, not by the system.
        tokio::select! {
            () = running.stop() => say(&format!(
                "stopped; everything is kept in {}",
                data.display()
            )),
            () = stop.next() => say(&format!(
                "stopped at once; everything committed is kept in {}",
                data.display()
            )),
        }
        Ok(Outcome::Ok)
    });
    // Dropping the runtime would wait for every blocking task, however long it runs.
    runtime.shutdown_timeout(BLOCKING_GRACE);
    outcome
}

/// A new folder of the owner's only, with an unguessable name, under the temporary folder.
fn private_temp_dir() -> anyhow::Result<PathBuf> {
    use eid_core::Random;
    let mut raw = [0u8; 8];
    OsRandom
        .fill(&mut raw)
        .map_err(|_| anyhow::anyhow!("the random source failed"))?;
    let name: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("eid-demo-{name}"));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Ctrl-C (SIGINT) and SIGTERM, heard from [`StopSignals::listen`] on.
#[cfg(unix)]
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    /// Resolves at the next signal.
    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Ctrl-C.
#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn listen() -> anyhow::Result<Self> {
        Ok(Self)
    }

    /// Resolves at the next Ctrl-C.
    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn demo(args: DemoArgs) -> anyhow::Result<Outcome> {
    runtime()?.block_on(async {
        let proofing = args.proofing.as_deref();
        let all = match &args.against {
            Some(base) => eid_platform::demo::play(base, proofing, &mut |l| say(l)).await,
            None => {
                let dir = private_temp_dir()?;
                let options = Options {
                    dir: dir.clone(),
                    port: 0,
                    proofing: args.proofing.clone(),
                    topology: None,
                };
                let running = bring_up(&options).await?;
                say(&format!(
                    "a platform of its own at {} (data in {})",
                    running.base,
                    dir.display()
                ));
                for off in &running.checks_off {
                    say(&format!("  OFF: {} — {}", off.check, off.why));
                }
                let all = eid_platform::demo::play(&running.base, proofing, &mut |l| say(l)).await;
                running.stop().await;
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
                all
            }
        };
        Ok(if all { Outcome::Ok } else { Outcome::Refused })
    })
}
