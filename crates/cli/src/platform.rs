//! `eid up` and `eid demo`: the whole platform in one process, and its story.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use eid_core::{OsRandom, SystemClock};
use eid_platform::up::{Options, Running, start};

use crate::Outcome;
use crate::pki::KeyAlgorithm;

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
    /// The authorities' keys in a new data folder: p256 (ES256, the default), or sm2 (SM2
    /// with SM3, the national algorithms); an existing folder keeps its own
    #[arg(long, value_enum)]
    algorithm: Option<KeyAlgorithm>,
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
    /// The authorities' keys of the platform the demo starts: p256 (the default) or sm2
    #[arg(long, value_enum, conflicts_with = "against")]
    algorithm: Option<KeyAlgorithm>,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Drive a running platform with one scenario for a while; print a table and, as the
    /// last line, one JSON object (throughput, p50_ms, p99_ms, p999_ms, errors, …)
    Load(LoadArgs),
    /// Enrol many phones, suspend them all at once by the hotline while others enrol (break
    /// what you like meanwhile: --mark), then check every desk refuses every one of them
    SuspendBurst(BurstArgs),
    /// Freeze phones one by one with many verifiers following the pushes: the time from
    /// the hotline's call to every verifier holding the entries as suspended
    Freeze(FreezeArgs),
}

#[derive(Debug, Args)]
pub struct FreezeArgs {
    /// The platform's base URL, on this machine
    #[arg(long)]
    against: String,
    /// Verifiers following the pushes
    #[arg(long, default_value_t = 100)]
    followers: usize,
    /// Phones frozen, one after another
    #[arg(long, default_value_t = 40)]
    freezes: usize,
    /// The event stream to follow (default: the first authority's /events)
    #[arg(long)]
    events: Option<String>,
    /// A process to kill -9 half-way (an authority replica; repeatable)
    #[arg(long = "kill-pid")]
    kill_pids: Vec<u32>,
}

#[derive(Debug, Args)]
pub struct BurstArgs {
    /// The platform's base URL, on this machine
    #[arg(long)]
    against: String,
    /// Phones enrolled, then suspended in the burst
    #[arg(long, default_value_t = 1000)]
    phones: usize,
    /// Phones enrolled during the burst
    #[arg(long, default_value_t = 100)]
    issue: usize,
    /// Calls at once
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// A desk replica to check, NAME=URL (repeatable; default: the desks of platform.json)
    #[arg(long = "desk")]
    desks: Vec<String>,
    /// A file that gets `burst` when the burst starts and `checking` when it ends
    #[arg(long)]
    mark: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The platform's base URL (`eid up`'s, or the cluster's balancer), on this machine
    #[arg(long)]
    against: String,
    /// issue, verify-offline, verify-online, verify-in-person, status or mixed
    #[arg(long)]
    scenario: String,
    /// How long to measure: 30s, 2m, 10m
    #[arg(long, default_value = "30s")]
    duration: String,
    /// Operations started per second (an open load)
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<f64>,
    /// Workers each repeating the operation (a closed load; the default, 8)
    #[arg(long)]
    concurrency: Option<usize>,
    /// A server's /metrics URL whose CPU time the operations cost (repeatable)
    #[arg(long = "server-metrics")]
    server_metrics: Vec<String>,
}

/// `30s`, `2m`, `1h`, or plain seconds.
fn duration(text: &str) -> anyhow::Result<std::time::Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("--duration {text}: use 30s, 2m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => anyhow::bail!("--duration {text}: use 30s, 2m or 1h"),
    };
    if !(0.1..=86_400.0).contains(&seconds) {
        anyhow::bail!("--duration {text}: between 0.1 s and a day");
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

pub fn bench(command: BenchCommand) -> anyhow::Result<Outcome> {
    let args = match command {
        BenchCommand::Load(args) => args,
        BenchCommand::SuspendBurst(args) => return suspend_burst(args),
        BenchCommand::Freeze(args) => return freeze(args),
    };
    let scenario = eid_platform::load::Scenario::parse(&args.scenario).ok_or_else(|| {
        anyhow::anyhow!(
            "--scenario {}: use issue, verify-offline, verify-online, verify-in-person, status or mixed",
            args.scenario
        )
    })?;
    let pace = match (args.rate, args.concurrency) {
        (Some(r), _) if !(r > 0.0 && r <= 100_000.0) => {
            anyhow::bail!("--rate {r}: between 0 and 100000 a second")
        }
        (Some(r), _) => eid_platform::load::Pace::Rate(r),
        (None, Some(c)) if !(1..=1024).contains(&c) => {
            anyhow::bail!("--concurrency {c}: between 1 and 1024")
        }
        (None, c) => eid_platform::load::Pace::Concurrency(c.unwrap_or(8)),
    };
    let options = eid_platform::load::Options {
        against: args.against,
        scenario,
        duration: duration(&args.duration)?,
        pace,
        server_metrics: args.server_metrics,
    };
    runtime()?.block_on(async {
        let outcome = eid_platform::load::run(&options, &mut |l| say(l))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut out = std::io::stdout().lock();
        write!(out, "{}", outcome.render())?;
        out.flush()?;
        Ok(if outcome.errors == 0 {
            Outcome::Ok
        } else {
            Outcome::Refused
        })
    })
}

fn freeze(args: FreezeArgs) -> anyhow::Result<Outcome> {
    if !(1..=1000).contains(&args.followers) || !(1..=10_000).contains(&args.freezes) {
        anyhow::bail!("--followers between 1 and 1000, --freezes between 1 and 10000");
    }
    let options = eid_platform::freeze::FreezeOptions {
        against: args.against,
        followers: args.followers,
        freezes: args.freezes,
        events: args.events,
        kill_pids: args.kill_pids,
        kill_at: None,
    };
    runtime()?.block_on(async {
        let outcome = eid_platform::freeze::run(&options, &mut |l| say(l))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        say(&format!(
            "freeze → held as suspended by {} followers, {} freezes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} missed (hotline call p50 {:.1} ms)",
            outcome.followers,
            outcome.freezes,
            outcome.p50_ms,
            outcome.p99_ms,
            outcome.max_ms,
            outcome.missed,
            outcome.hotline_p50_ms
        ));
        say(&serde_json::to_string(&outcome)?);
        Ok(if outcome.missed == 0 {
            Outcome::Ok
        } else {
            Outcome::Refused
        })
    })
}

fn suspend_burst(args: BurstArgs) -> anyhow::Result<Outcome> {
    if !(1..=100_000).contains(&args.phones) || args.issue > 100_000 {
        anyhow::bail!("--phones between 1 and 100000, --issue at most 100000");
    }
    if !(1..=256).contains(&args.concurrency) {
        anyhow::bail!("--concurrency {}: between 1 and 256", args.concurrency);
    }
    let desks = args
        .desks
        .iter()
        .map(|d| {
            d.split_once('=')
                .map(|(n, u)| (n.to_owned(), u.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--desk {d}: give NAME=URL"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = eid_platform::burst::BurstOptions {
        against: args.against,
        phones: args.phones,
        issue: args.issue,
        concurrency: args.concurrency,
        desks,
        mark: args.mark,
    };
    runtime()?.block_on(async {
        let outcome = eid_platform::burst::run(&options, &mut |l| say(l))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for problem in &outcome.problems {
            say(&format!("  {problem}"));
        }
        say(&format!(
            "refused as suspended: {} of {} (phone, desk) pairs; phones enrolled during the burst accepted: {} of {}",
            outcome.refused,
            outcome.refused + outcome.not_refused,
            outcome.accepted,
            outcome.accepted + outcome.not_accepted
        ));
        say(&serde_json::to_string(&outcome)?);
        Ok(if outcome.held() {
            Outcome::Ok
        } else {
            Outcome::Refused
        })
    })
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
            "  authority {}  {} (OpenID4VCI, status lists; signs with {}); admin API {}/admin/… with the token in {}",
            a["name"].as_str().unwrap_or_default(),
            a["public"].as_str().unwrap_or_default(),
            a["algorithm"]
                .as_str()
                .unwrap_or("an algorithm the trust list does not name"),
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
            algorithm: args
                .algorithm
                .map_or(eid_crypto::Algorithm::Es256, KeyAlgorithm::algorithm),
        };
        let running = bring_up(&options).await?;
        // Listening for Ctrl-C (and a service manager's SIGTERM) before saying we are up:
        // a signal right after the announcement must stop cleanly, not kill.
        let mut stop = StopSignals::listen()?;
        announce(&running, &data);
        if let Some(asked) = args.algorithm {
            let asked = asked.algorithm().jose_name();
            let kept = running.description["authorities"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["algorithm"].as_str() != Some(asked));
            if kept {
                say(&format!(
                    "note: --algorithm applies to a new data folder; {} keeps the algorithm it was made with",
                    data.display()
                ));
            }
        }
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
                    algorithm: args
                        .algorithm
                        .map_or(eid_crypto::Algorithm::Es256, KeyAlgorithm::algorithm),
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
