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
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A running `eid up` (its base URL, e.g. http://127.0.0.1:8400); without it the demo
    /// starts its own platform in a temporary folder and removes it afterwards
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
    say(&format!(
        "eid is up; data in {} (SQLite; a restart keeps it). Ctrl-C stops.",
        dir.display()
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

pub fn up(args: UpArgs) -> anyhow::Result<Outcome> {
    runtime()?.block_on(async {
        let options = Options {
            dir: args.data.clone(),
            port: args.port,
            proofing: args.proofing,
        };
        let running = bring_up(&options).await?;
        // Listening for Ctrl-C (and a service manager's SIGTERM) before saying we are up:
        // a signal right after the announcement must stop cleanly, not kill.
        let stop = stop_signal()?;
        announce(&running, &args.data);
        stop.await;
        say("stopping…");
        running.stop().await;
        say(&format!(
            "stopped; everything is kept in {}",
            args.data.display()
        ));
        Ok(Outcome::Ok)
    })
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

/// Resolves at the first Ctrl-C (SIGINT) or SIGTERM; the handlers are in place on return.
#[cfg(unix)]
fn stop_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Resolves at the first Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> anyhow::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
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
