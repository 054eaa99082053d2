//! `eid bench freeze`: how long from the hotline's freeze to the moment verifiers hold the
//! entries as suspended (and refuse them), with many verifiers following the pushes — and,
//! with `--kill-pid`, one authority replica killed half-way through.
//!
//! `--followers F` readers follow the authority's `GET /events` through the balancer, as
//! the desks do (`eid_verifier::online::follow_status_events`: the desks' SSE reader,
//! reconnecting at once with `Last-Event-ID`). Then `--freezes N` phones, enrolled first,
//! are suspended one after another by the hotline; for each, every follower's time from
//! the hotline call to the arrival of the last of that phone's entries is one sample. A
//! desk applies a suspension push the moment it arrives (`StatusCache::apply_push`), so
//! arrival is refusal; `crates/verifier/tests/pushes.rs` checks that a presentation is
//! then refused. A follower missing a freeze for [`MISSED_AFTER`] counts as `missed`, and
//! the run says how far behind it was and how often it connected.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::demo::{StepFailed, post};

/// How long a follower may take to hold a freeze before it counts as missed: the time a
/// desk takes to notice a silent stream (three of the broker's 5-second heartbeats) and
/// resume from its last event id, with 5 s to spare. A push lost outright stays missed;
/// one late because its stream died shows in `max_ms`.
pub const MISSED_AFTER: Duration = Duration::from_secs(20);

/// A run's options.
#[derive(Debug, Clone)]
pub struct FreezeOptions {
    /// The platform's base URL.
    pub against: String,
    /// Readers following the pushes.
    pub followers: usize,
    /// Phones frozen, one after another.
    pub freezes: usize,
    /// The event stream (default: the first authority's public `/events`).
    pub events: Option<String>,
    /// Processes killed (`kill -9`) before the freeze of `kill_at`.
    pub kill_pids: Vec<u32>,
    /// Which freeze the kill comes before (default: half-way).
    pub kill_at: Option<usize>,
}

/// What a run measured, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FreezeOutcome {
    /// Readers.
    pub followers: usize,
    /// Freezes.
    pub freezes: usize,
    /// Samples (follower × freeze) that arrived.
    pub samples: usize,
    /// Samples that did not arrive within [`MISSED_AFTER`].
    pub missed: u64,
    /// Connections made beyond each follower's first (a killed replica's followers
    /// reconnect through the balancer).
    pub reconnections: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// The hotline call alone, median.
    pub hotline_p50_ms: f64,
    /// Whether processes were killed, and before which freeze.
    pub killed_before: Option<usize>,
}

/// Runs it.
pub async fn run(
    options: &FreezeOptions,
    say: &mut dyn FnMut(&str),
) -> Result<FreezeOutcome, StepFailed> {
    let (platform, authority, residents) = crate::load::first_authority(&options.against).await?;
    if residents.len() < options.freezes {
        return Err(StepFailed::new("not enough residents listed"));
    }
    let admin = authority["admin"].as_str().unwrap_or_default().to_owned();
    let token = platform.token(&authority["admin_token_file"])?;
    let events = options.events.clone().unwrap_or_else(|| {
        format!(
            "{}/events",
            authority["public"].as_str().unwrap_or_default()
        )
    });

    say(&format!("enrolling {} phones", options.freezes));
    let mut phones = Vec::new();
    // From the end of the list: other runs take residents from its head.
    for resident in residents.iter().rev().take(options.freezes) {
        phones.push(crate::burst::enrolled(&platform, resident, 0).await?);
    }

    say(&format!("{} followers on {events}", options.followers));
    // Each follower's count of SUSPENDED entries seen, and when it last grew.
    let seen: Arc<Vec<(AtomicU64, std::sync::Mutex<Instant>)>> = Arc::new(
        (0..options.followers)
            .map(|_| (AtomicU64::new(0), std::sync::Mutex::new(Instant::now())))
            .collect(),
    );
    let connected = Arc::new(AtomicU64::new(0));
    let connections: Arc<Vec<AtomicU64>> =
        Arc::new((0..options.followers).map(|_| AtomicU64::new(0)).collect());
    let mut followers = tokio::task::JoinSet::new();
    for f in 0..options.followers {
        let (seen, connected, events) = (seen.clone(), connected.clone(), events.clone());
        let connections = connections.clone();
        followers.spawn(async move {
            let mut last = None;
            let mut first = true;
            loop {
                let _ =
                    eid_verifier::online::follow_status_events(
                        &events,
                        &mut last,
                        |push| match push {
                            None => {
                                connections[f].fetch_add(1, Ordering::Relaxed);
                                if first {
                                    first = false;
                                    connected.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Some(push)
                                if push.status == eid_core::status::CredentialStatus::Suspended =>
                            {
                                let (count, at) = &seen[f];
                                if let Ok(mut at) = at.lock() {
                                    *at = Instant::now();
                                }
                                count.fetch_add(1, Ordering::Release);
                            }
                            Some(_) => {}
                        },
                    )
                    .await;
                // As the desks do: at once, then with a pause.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected.load(Ordering::Relaxed) < options.followers as u64 {
        if Instant::now() > deadline {
            return Err(StepFailed::new("the followers did not all connect in 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The stream's consumers exist once the first heartbeat could have come.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let kill_at =
        (!options.kill_pids.is_empty()).then(|| options.kill_at.unwrap_or(options.freezes / 2));
    let mut samples = Vec::new();
    let mut hotline = Vec::new();
    let mut missed = 0u64;
    let mut expected = 0u64;
    for (k, phone) in phones.iter().enumerate() {
        if kill_at == Some(k) {
            for pid in &options.kill_pids {
                let killed = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status()
                    .map_err(|e| StepFailed::new(format!("kill -9 {pid}: {e}")))?;
                if !killed.success() {
                    return Err(StepFailed::new(format!("kill -9 {pid} failed")));
                }
            }
            say(&format!("killed {:?} before freeze {k}", options.kill_pids));
        }
        let started = Instant::now();
        let url = format!(
            "{admin}/admin/wallets/{}/{}/suspend",
            phone.provider, phone.instance
        );
        // The hotline makes the call again when it fails (a killed replica behind the
        // balancer); the time counts from the first try.
        let changed = loop {
            match post(&url, Some(&token), json!({"reason": "lost phone"})).await {
                Ok(changed) => break changed,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        };
        hotline.push(started.elapsed());
        expected += changed["instances"].as_u64().unwrap_or(0);
        let wait_until = started + MISSED_AFTER;
        for (f, (count, at)) in seen.iter().enumerate() {
            loop {
                let held = count.load(Ordering::Acquire);
                if held >= expected {
                    let arrived = at.lock().map(|a| *a).unwrap_or_else(|_| Instant::now());
                    samples.push(arrived.saturating_duration_since(started));
                    break;
                }
                if Instant::now() > wait_until {
                    missed += 1;
                    say(&format!(
                        "follower {f} missed freeze {k}: {held} of {expected} suspended entries held, {} connections",
                        connections[f].load(Ordering::Relaxed)
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
    followers.abort_all();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    samples.sort_unstable();
    hotline.sort_unstable();
    let at = |all: &[Duration], q: f64| crate::load::quantile(all, q).map_or(0.0, |d| ms(&d));
    Ok(FreezeOutcome {
        followers: options.followers,
        freezes: options.freezes,
        samples: samples.len(),
        missed,
        reconnections: connections
            .iter()
            .map(|c| c.load(Ordering::Relaxed).saturating_sub(1))
            .sum(),
        p50_ms: at(&samples, 0.5),
        p99_ms: at(&samples, 0.99),
        max_ms: at(&samples, 1.0),
        hotline_p50_ms: at(&hotline, 0.5),
        killed_before: kill_at,
    })
}
