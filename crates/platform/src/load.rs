//! `eid bench load`: a running platform under load, over HTTP only, as its users drive it
//! (what `GET /platform.json` describes; the same clients as `eid demo`).
//!
//! Scenarios, each one operation repeated:
//!
//! - `issue`: a counter officer's offer for the next resident of the authority's registry
//!   (`residents_file` in `platform.json`) redeemed by a new phone's wallet — token, nonce,
//!   a batch in both formats. Timed whole.
//! - `verify-offline`: a phone makes an offline QR code (not timed) and the airport desk
//!   verifies it (timed): the desk's offline verification with its replay memory.
//! - `verify-online`: the bank's OpenID4VP request, the phone's answer, the result. Timed
//!   whole.
//! - `verify-in-person`: the hotel's ISO 18013-5 session with the phone. Timed whole.
//! - `status`: `GET /status/0` of the first authority (JWT form), a new connection each.
//! - `mixed`: of every 20 operations, 10 offline, 3 online, 2 in person, 4 status, 1 issue.
//!
//! The pace is a number of workers each repeating the operation (`--concurrency C`), or a
//! rate of operations started per second (`--rate R`, at most 1 024 in flight: one that
//! would be the 1 025th counts as an error, `overloaded`). Each worker has a phone of its
//! own (up to 64, then shared); at a rate, 32 phones take turns — an in-person session
//! finding its phone in another session fails, so in person is best driven by workers. Phones for the verifications are
//! enrolled before the clock starts. An operation fails when a request fails or a desk
//! does not accept. With `--server-metrics URL` (repeatable) the servers' own
//! `process_cpu_seconds_total` is read before and after, giving operations per CPU-second
//! of the servers: a service's rate per core, to set against the library's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::demo::{
    Phone, Platform, Resident, StepFailed, enrol, get, in_person, online, wait_for_lists,
};

/// What one run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Counter offer and a new wallet redeeming it.
    Issue,
    /// An offline QR code at the airport desk.
    VerifyOffline,
    /// OpenID4VP at the bank.
    VerifyOnline,
    /// ISO 18013-5 at the hotel.
    VerifyInPerson,
    /// A status list.
    Status,
    /// All of them.
    Mixed,
}

impl Scenario {
    /// Reads a scenario's name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "issue" => Self::Issue,
            "verify-offline" => Self::VerifyOffline,
            "verify-online" => Self::VerifyOnline,
            "verify-in-person" => Self::VerifyInPerson,
            "status" => Self::Status,
            "mixed" => Self::Mixed,
            _ => return None,
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::VerifyOffline => "verify-offline",
            Self::VerifyOnline => "verify-online",
            Self::VerifyInPerson => "verify-in-person",
            Self::Status => "status",
            Self::Mixed => "mixed",
        }
    }

    /// The operation of the `n`-th turn.
    fn operation(self, n: u64) -> Self {
        if self != Self::Mixed {
            return self;
        }
        match n % 20 {
            0..=9 => Self::VerifyOffline,
            10..=12 => Self::VerifyOnline,
            13 | 14 => Self::VerifyInPerson,
            15..=18 => Self::Status,
            _ => Self::Issue,
        }
    }
}

/// How fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Operations started per second.
    Rate(f64),
    /// Workers, each repeating.
    Concurrency(usize),
}

/// A run's options.
#[derive(Debug, Clone)]
pub struct Options {
    /// The platform's base URL.
    pub against: String,
    /// What to do.
    pub scenario: Scenario,
    /// For how long.
    pub duration: Duration,
    /// How fast.
    pub pace: Pace,
    /// `/metrics` URLs of the servers whose CPU time the operations cost.
    pub server_metrics: Vec<String>,
}

/// What a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The scenario.
    pub scenario: &'static str,
    /// Seconds measured.
    pub seconds: f64,
    /// Operations that succeeded.
    pub succeeded: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Operations succeeded per second.
    pub throughput: f64,
    /// Latency percentiles of the operations that succeeded, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// The slowest.
    pub max_ms: f64,
    /// CPU seconds the servers used meanwhile, when their metrics were named.
    pub server_cpu_seconds: Option<f64>,
    /// Operations per CPU-second of the servers.
    pub per_server_core_second: Option<f64>,
    /// The first failure's words (no personal data: the platform's errors carry none).
    pub first_error: Option<String>,
}

/// What every worker shares.
struct Context {
    platform: Platform,
    phones: Vec<Phone>,
    residents: Vec<Resident>,
    next_resident: AtomicUsize,
    status_url: String,
}

/// Runs the load, saying what it prepares; the measurements.
pub async fn run(options: &Options, say: &mut dyn FnMut(&str)) -> Result<Outcome, StepFailed> {
    let (platform, authority, residents) = first_authority(&options.against).await?;
    let status_url = format!(
        "{}/status/0",
        authority["public"].as_str().unwrap_or_default()
    );
    let mut context = Context {
        platform,
        phones: Vec::new(),
        residents,
        next_resident: AtomicUsize::new(0),
        status_url,
    };
    if options.scenario != Scenario::Issue && options.scenario != Scenario::Status {
        let n = match options.pace {
            Pace::Concurrency(c) => c.clamp(1, 64),
            Pace::Rate(_) => 32,
        };
        say(&format!("enrolling {n} phones for the verifications"));
        for i in 0..n {
            let phone = Phone::new(context.platform.provider(i % 2)?).await?;
            let resident = context.next_resident()?;
            let enrolled = enrol(&context.platform, &phone, resident, false).await?;
            if enrolled["credentials"]
                .as_array()
                .is_none_or(|c| c.is_empty())
            {
                return Err(StepFailed::new(format!(
                    "enrolment gave no credential: {enrolled}"
                )));
            }
            context.phones.push(phone);
        }
        wait_for_lists(&context.platform).await?;
    }
    let context = Arc::new(context);
    let cpu_before = server_cpu(&options.server_metrics).await?;
    say(&format!(
        "{} for {:.0} s, {}",
        options.scenario.name(),
        options.duration.as_secs_f64(),
        match options.pace {
            Pace::Rate(r) => format!("{r} operations started a second"),
            Pace::Concurrency(c) => format!("{c} workers"),
        }
    ));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let end = started + options.duration;
    match options.pace {
        Pace::Concurrency(c) => {
            let mut workers = tokio::task::JoinSet::new();
            for worker in 0..c.max(1) {
                let (context, tally, scenario) = (context.clone(), tally.clone(), options.scenario);
                workers.spawn(async move {
                    while Instant::now() < end {
                        let n = tally.turn.fetch_add(1, Ordering::Relaxed);
                        // A worker keeps its phone: a phone is in one session at a time.
                        let result = once(&context, scenario.operation(n), worker).await;
                        tally.record(result);
                    }
                });
            }
            while workers.join_next().await.is_some() {}
        }
        Pace::Rate(rate) => {
            let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let slots = Arc::new(tokio::sync::Semaphore::new(1024));
            let mut running = tokio::task::JoinSet::new();
            loop {
                ticks.tick().await;
                if Instant::now() >= end {
                    break;
                }
                let n = tally.turn.fetch_add(1, Ordering::Relaxed);
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tally.record(Err("overloaded: 1024 operations in flight".into()));
                    continue;
                };
                let (context, tally, scenario) = (context.clone(), tally.clone(), options.scenario);
                running.spawn(async move {
                    let _slot = slot;
                    let slot = usize::try_from(n).unwrap_or_default();
                    let result = once(&context, scenario.operation(n), slot).await;
                    tally.record(result);
                });
                while running.try_join_next().is_some() {}
            }
            while running.join_next().await.is_some() {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_after = server_cpu(&options.server_metrics).await?;
    Ok(tally.outcome(options.scenario, seconds, cpu_before, cpu_after))
}

impl Context {
    /// The next resident, round the list.
    fn next_resident(&self) -> Result<&Resident, StepFailed> {
        if self.residents.is_empty() {
            return Err(StepFailed::new("no resident to enrol"));
        }
        let i = self.next_resident.fetch_add(1, Ordering::Relaxed);
        Ok(&self.residents[i % self.residents.len()])
    }

    /// The desk and purpose of a channel: those of the story (`eid demo`), in the first
    /// authority's city.
    fn desk_of(channel: &str) -> (&'static str, &'static str) {
        match channel {
            "offline_qr" => ("nanning-airport", "airport_security"),
            "online" => ("nanning-bank", "bank_account_opening"),
            _ => ("nanning-hotel", "hotel_check_in"),
        }
    }
}

/// The platform at `against` as its `platform.json` describes it, its first authority's
/// entry, and the residents counter enrolment may name there (at least one).
pub(crate) async fn first_authority(
    against: &str,
) -> Result<(Platform, Value, Vec<Resident>), StepFailed> {
    let base = against.trim_end_matches('/');
    let platform = Platform {
        description: get(&format!("{base}/platform.json")).await?,
        photos: None,
        remote: false,
    };
    let authority = platform
        .description
        .get("authorities")
        .and_then(|a| a.get(0))
        .cloned()
        .ok_or_else(|| StepFailed::new("platform.json lists no authority"))?;
    let residents = residents(&authority)?;
    if residents.is_empty() {
        return Err(StepFailed::new(
            "the authority's residents file lists no one",
        ));
    }
    Ok((platform, authority, residents))
}

/// The `q`-quantile of `sorted` (nearest rank), none of an empty list.
pub(crate) fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    let rank = (sorted.len() as f64 * q).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// The residents counter enrolment may name, from the authority's `residents_file`.
fn residents(authority: &Value) -> Result<Vec<Resident>, StepFailed> {
    let path = authority["residents_file"]
        .as_str()
        .ok_or_else(|| StepFailed::new("platform.json names no residents file"))?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        StepFailed::new(format!(
            "{path}: {e} (run eid bench load on the machine of eid up; a data folder made before the load tool has no such file: make a new one)"
        ))
    })?;
    let mut residents = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .map_err(|e| StepFailed::new(format!("{path}: a line is not JSON: {e}")))?;
        residents.push(Resident {
            id_number: value["id_number"].as_str().unwrap_or_default().to_owned(),
            full_name: value["full_name"].as_str().unwrap_or_default().to_owned(),
            portrait: None,
            selfie: None,
            capture: None,
        });
    }
    Ok(residents)
}

/// One operation with the phone of `slot`: the time it is judged by, or why it failed.
async fn once(context: &Context, operation: Scenario, slot: usize) -> Result<Duration, String> {
    let started = Instant::now();
    let phone = |n: usize| &context.phones[n % context.phones.len().max(1)];
    let pick = slot;
    // No photograph is sent: a face match is not part of these figures (see
    // `accepted_but_for_the_face`).
    let accepted = |report: &Value, started: Instant| {
        if crate::demo::accepted_but_for_the_face(report) {
            Ok(started.elapsed())
        } else {
            Err(format!("refused: {}", report["reasons"]))
        }
    };
    match operation {
        Scenario::Issue => {
            let resident = context.next_resident().map_err(|e| e.to_string())?;
            let provider = context
                .platform
                .provider(pick % 2)
                .map_err(|e| e.to_string())?;
            let phone = Phone::new(provider).await.map_err(|e| e.to_string())?;
            let enrolled = enrol(&context.platform, &phone, resident, false)
                .await
                .map_err(|e| e.to_string())?;
            if enrolled["credentials"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
            {
                Ok(started.elapsed())
            } else {
                Err("enrolment gave no credential".into())
            }
        }
        Scenario::VerifyOffline => {
            let (desk, purpose) = Context::desk_of("offline_qr");
            // The code is the phone's work; the desk's verification is what is timed.
            let phone = phone(pick);
            let report = offline_timed(context, phone, desk, purpose).await?;
            accepted(&report.0, report.1)
        }
        Scenario::VerifyOnline => {
            let (desk, purpose) = Context::desk_of("online");
            let report = online(&context.platform, phone(pick), desk, purpose, None)
                .await
                .map_err(|e| e.to_string())?;
            accepted(&report, started)
        }
        Scenario::VerifyInPerson => {
            let (desk, purpose) = Context::desk_of("in_person");
            let report = in_person(&context.platform, phone(pick), desk, purpose, None)
                .await
                .map_err(|e| e.to_string())?;
            accepted(&report, started)
        }
        Scenario::Status | Scenario::Mixed => {
            eid_verifier::online::fetch_status_list(&context.status_url)
                .await
                .map_err(|e| e.to_string())?;
            Ok(started.elapsed())
        }
    }
}

/// The offline step with the desk's part timed: (report, when the desk was asked).
async fn offline_timed(
    context: &Context,
    phone: &Phone,
    desk: &str,
    purpose: &str,
) -> Result<(Value, Instant), String> {
    let code = crate::demo::post(
        &phone.url("/offline"),
        None,
        json!({ "pin": crate::demo::PIN, "purpose": purpose }),
    )
    .await
    .map_err(|e| e.to_string())?;
    let asked = Instant::now();
    let url = format!(
        "{}/verify/offline?purpose={purpose}",
        context.platform.desk(desk).map_err(|e| e.to_string())?
    );
    let body = eid_http::post_form(&url, code["code"].as_str().unwrap_or_default().to_owned())
        .await
        .map_err(|e| e.to_string())?;
    let report: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok((report, asked))
}

/// The servers' CPU seconds, summed (`None` when none is named).
async fn server_cpu(urls: &[String]) -> Result<Option<f64>, StepFailed> {
    if urls.is_empty() {
        return Ok(None);
    }
    let mut total = 0.0;
    for url in urls {
        let text = eid_http::fetch(url, "text/plain")
            .await
            .map_err(|e| StepFailed::new(format!("{url}: {e}")))?;
        let text = String::from_utf8_lossy(&text);
        let seconds = text
            .lines()
            .find_map(|l| l.strip_prefix("process_cpu_seconds_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| StepFailed::new(format!("{url} gives no process_cpu_seconds_total")))?;
        total += seconds;
    }
    Ok(Some(total))
}

/// Counts and latencies, shared by the workers.
#[derive(Default)]
struct Tally {
    turn: AtomicU64,
    errors: AtomicU64,
    latencies_us: std::sync::Mutex<Vec<u32>>,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Tally {
    fn record(&self, result: Result<Duration, String>) {
        match result {
            Ok(took) => {
                let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
                if let Ok(mut all) = self.latencies_us.lock() {
                    all.push(us);
                }
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock()
                    && first.is_none()
                {
                    *first = Some(e.chars().take(300).collect());
                }
            }
        }
    }

    fn outcome(
        &self,
        scenario: Scenario,
        seconds: f64,
        cpu_before: Option<f64>,
        cpu_after: Option<f64>,
    ) -> Outcome {
        let mut all = self
            .latencies_us
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        all.sort_unstable();
        let at = |q: f64| quantile(&all, q).map_or(0.0, |us| f64::from(us) / 1000.0);
        let succeeded = all.len() as u64;
        let server = match (cpu_before, cpu_after) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        Outcome {
            scenario: scenario.name(),
            seconds,
            succeeded,
            errors: self.errors.load(Ordering::Relaxed),
            throughput: succeeded as f64 / seconds.max(f64::EPSILON),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: at(1.0),
            server_cpu_seconds: server,
            per_server_core_second: server.filter(|s| *s > 0.0).map(|s| succeeded as f64 / s),
            first_error: self.first_error.lock().ok().and_then(|f| f.clone()),
        }
    }
}

impl Outcome {
    /// The table, then the JSON object on the last line.
    pub fn render(&self) -> String {
        let mut out = format!(
            "scenario          {}\nmeasured          {:.1} s\nsucceeded         {}\nerrors            {}\nthroughput        {:.1} /s\nlatency p50       {:.2} ms\nlatency p99       {:.2} ms\nlatency p99.9     {:.2} ms\nlatency max       {:.2} ms\n",
            self.scenario,
            self.seconds,
            self.succeeded,
            self.errors,
            self.throughput,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
        );
        if let (Some(cpu), Some(per)) = (self.server_cpu_seconds, self.per_server_core_second) {
            out.push_str(&format!(
                "server CPU        {cpu:.1} s ({per:.1} operations per CPU-second)\n"
            ));
        }
        if let Some(e) = &self.first_error {
            out.push_str(&format!("first error       {e}\n"));
        }
        out.push_str(&serde_json::to_string(self).unwrap_or_default());
        out.push('\n');
        out
    }
}
