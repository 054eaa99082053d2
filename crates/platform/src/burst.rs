//! `eid bench suspend-burst`: many lost phones at once, while other residents enrol and
//! while whatever the caller breaks is broken — then proof that every desk refuses every
//! phone that was suspended, and accepts the phones enrolled meanwhile.
//!
//! 1. `--phones N` phones are enrolled (counter offer, wallet), `--concurrency` at a time,
//!    for the residents of the first authority's `residents_file` in turn (a resident
//!    with several phones when there are fewer residents than phones).
//! 2. The burst: the hotline suspends every one of those phones, `--concurrency` calls at
//!    a time, while `--issue M` further residents enrol. A call that fails is made again,
//!    as the operator is told to, until it succeeds (at most two minutes each): a
//!    suspension is never given up. `--mark FILE` gets `burst` written when the burst
//!    starts and `checking` when it ends, for a script to break things in between
//!    (`scripts/faults`).
//! 3. The checks, at every desk (`--desk NAME=URL` per replica; else the URLs of
//!    `platform.json`), each by its own channel — a hotel in person, the airport and the
//!    station by offline code, the bank online: each suspended phone refused for
//!    `status_suspended` (within 30 s: pushes and lists take their time after a fault),
//!    and each phone enrolled during the burst accepted. No photograph is sent: where the
//!    purpose requires a face match, "accepted" is a refusal for `face_not_checked` alone
//!    (every other check passed).
//!
//! The JSON last line counts it all; the exit status is 0 only when every check held.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::demo::{
    Phone, Platform, StepFailed, accepted_but_for_the_face, enrol, get, in_person, offline, online,
    post,
};

/// A run's options.
#[derive(Debug, Clone)]
pub struct BurstOptions {
    /// The platform's base URL.
    pub against: String,
    /// Phones enrolled, then suspended.
    pub phones: usize,
    /// Phones enrolled during the burst.
    pub issue: usize,
    /// Calls at once.
    pub concurrency: usize,
    /// Desk replicas to check, by desk name (empty: `platform.json`'s).
    pub desks: Vec<(String, String)>,
    /// A file to write the phase to.
    pub mark: Option<std::path::PathBuf>,
}

/// What a run found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BurstOutcome {
    /// Phones suspended (each call succeeded at last).
    pub suspended: u64,
    /// Suspension calls that failed and were made again.
    pub suspension_retries: u64,
    /// Seconds the burst took.
    pub burst_seconds: f64,
    /// Phones enrolled during the burst.
    pub issued_during: u64,
    /// Enrolments during the burst that failed (each tried again as a new flow).
    pub issuance_failures: u64,
    /// Desk replicas checked.
    pub desks: u64,
    /// (suspended phone, desk replica) pairs refused for `status_suspended`.
    pub refused: u64,
    /// Pairs that were not.
    pub not_refused: u64,
    /// (phone enrolled during the burst, desk replica) pairs accepted.
    pub accepted: u64,
    /// Pairs that were not.
    pub not_accepted: u64,
    /// The first few things that went wrong.
    pub problems: Vec<String>,
}

impl BurstOutcome {
    /// Every check held.
    pub fn held(&self) -> bool {
        self.not_refused == 0 && self.not_accepted == 0 && self.refused > 0
    }
}

/// One phone of the run.
pub(crate) struct Held {
    pub(crate) phone: Phone,
    pub(crate) instance: String,
    pub(crate) provider: String,
}

/// Runs it, saying each phase.
pub async fn run(
    options: &BurstOptions,
    say: &mut dyn FnMut(&str),
) -> Result<BurstOutcome, StepFailed> {
    let (platform, authority, residents) = crate::load::first_authority(&options.against).await?;
    let (platform, residents) = (Arc::new(platform), Arc::new(residents));
    let admin = authority["admin"].as_str().unwrap_or_default().to_owned();
    let token = platform.token(&authority["admin_token_file"])?;
    let mut outcome = BurstOutcome::default();
    let problems = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

    say(&format!("enrolling {} phones", options.phones));
    let next = Arc::new(AtomicUsize::new(0));
    let held = parallel(options.concurrency, options.phones, {
        let (platform, residents, next) = (platform.clone(), residents.clone(), next.clone());
        move |_| {
            let (platform, residents, next) = (platform.clone(), residents.clone(), next.clone());
            async move {
                let i = next.fetch_add(1, Ordering::Relaxed);
                enrolled(&platform, &residents[i % residents.len()], i % 2).await
            }
        }
    })
    .await
    .into_iter()
    .collect::<Result<Vec<Held>, StepFailed>>()?;
    let held = Arc::new(held);

    mark(options, "burst")?;
    say(&format!(
        "the burst: {} suspensions by the hotline, {} enrolments beside them",
        held.len(),
        options.issue
    ));
    let started = Instant::now();
    let retries = Arc::new(AtomicU64::new(0));
    let suspensions = parallel(options.concurrency, held.len(), {
        let (held, admin, token, retries, problems) = (
            held.clone(),
            admin.clone(),
            token.clone(),
            retries.clone(),
            problems.clone(),
        );
        move |i| {
            let (held, admin, token, retries, problems) = (
                held.clone(),
                admin.clone(),
                token.clone(),
                retries.clone(),
                problems.clone(),
            );
            async move {
                let phone = &held[i];
                let url = format!(
                    "{admin}/admin/wallets/{}/{}/suspend",
                    phone.provider, phone.instance
                );
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    match post(&url, Some(&token), json!({"reason": "lost phone"})).await {
                        Ok(_) => return true,
                        Err(e) if Instant::now() < deadline => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            note(&problems, format!("a suspension was tried again: {e}"));
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                        Err(e) => {
                            note(&problems, format!("a suspension never succeeded: {e}"));
                            return false;
                        }
                    }
                }
            }
        }
    });
    let issued_failures = Arc::new(AtomicU64::new(0));
    let issuing = parallel(options.concurrency.div_ceil(2), options.issue, {
        let (platform, residents, next, failures, problems) = (
            platform.clone(),
            residents.clone(),
            next.clone(),
            issued_failures.clone(),
            problems.clone(),
        );
        move |_| {
            let (platform, residents, next, failures, problems) = (
                platform.clone(),
                residents.clone(),
                next.clone(),
                failures.clone(),
                problems.clone(),
            );
            async move {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    match enrolled(&platform, &residents[i % residents.len()], i % 2).await {
                        Ok(phone) => return Some(phone),
                        Err(e) if Instant::now() < deadline => {
                            failures.fetch_add(1, Ordering::Relaxed);
                            note(&problems, format!("an enrolment was tried again: {e}"));
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                        Err(e) => {
                            note(&problems, format!("an enrolment never succeeded: {e}"));
                            return None;
                        }
                    }
                }
            }
        }
    });
    let (suspended, issued) = tokio::join!(suspensions, issuing);
    outcome.burst_seconds = started.elapsed().as_secs_f64();
    outcome.suspended = suspended.iter().filter(|s| **s).count() as u64;
    outcome.suspension_retries = retries.load(Ordering::Relaxed);
    outcome.issuance_failures = issued_failures.load(Ordering::Relaxed);
    let fresh: Vec<Held> = issued.into_iter().flatten().collect();
    outcome.issued_during = fresh.len() as u64;
    mark(options, "checking")?;
    say(&format!(
        "burst done in {:.1} s: {} suspended ({} calls made again), {} enrolled ({} flows made again)",
        outcome.burst_seconds,
        outcome.suspended,
        outcome.suspension_retries,
        outcome.issued_during,
        outcome.issuance_failures
    ));

    let desks = if options.desks.is_empty() {
        platform.description["desks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["id"].as_str()?.to_owned(), d["url"].as_str()?.to_owned())))
            .collect()
    } else {
        options.desks.clone()
    };
    outcome.desks = desks.len() as u64;
    let fresh = Arc::new(fresh);
    for (desk, url) in desks {
        // The platform as this replica's clients see it: the desk's URL is the replica's.
        let mut description = platform.description.clone();
        if let Some(list) = description["desks"].as_array_mut() {
            for d in list.iter_mut().filter(|d| d["id"] == desk.as_str()) {
                d["url"] = json!(url);
            }
        }
        let replica = Arc::new(Platform {
            description,
            photos: None,
            remote: false,
        });
        say(&format!("checking {desk} at {url}"));
        let refusals = parallel(options.concurrency, held.len(), {
            let (replica, held, desk) = (replica.clone(), held.clone(), desk.clone());
            move |i| {
                let (replica, held, desk) = (replica.clone(), held.clone(), desk.clone());
                async move {
                    let deadline = Instant::now() + Duration::from_secs(30);
                    loop {
                        let report = present(&replica, &held[i].phone, &desk).await;
                        let refused = report.as_ref().is_ok_and(|r| {
                            r["accepted"] == false
                                && r["reasons"].as_array().is_some_and(|reasons| {
                                    reasons.iter().any(|x| x["reason"] == "status_suspended")
                                })
                        });
                        if refused {
                            return Ok(());
                        }
                        if Instant::now() >= deadline {
                            return Err(match report {
                                Ok(r) => format!("{desk} did not refuse a suspended phone: {r}"),
                                Err(e) => format!("{desk}: {e}"),
                            });
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        })
        .await;
        for r in refusals {
            match r {
                Ok(()) => outcome.refused += 1,
                Err(e) => {
                    outcome.not_refused += 1;
                    note(&problems, e);
                }
            }
        }
        let acceptances = parallel(options.concurrency, fresh.len(), {
            let (replica, fresh, desk) = (replica.clone(), fresh.clone(), desk.clone());
            move |i| {
                let (replica, fresh, desk) = (replica.clone(), fresh.clone(), desk.clone());
                async move {
                    match present(&replica, &fresh[i].phone, &desk).await {
                        Ok(r) if accepted_but_for_the_face(&r) => Ok(()),
                        Ok(r) => Err(format!(
                            "{desk} refused a phone enrolled during the burst: {r}"
                        )),
                        Err(e) => Err(format!("{desk}: {e}")),
                    }
                }
            }
        })
        .await;
        for r in acceptances {
            match r {
                Ok(()) => outcome.accepted += 1,
                Err(e) => {
                    outcome.not_accepted += 1;
                    note(&problems, e);
                }
            }
        }
    }
    outcome.problems = problems.lock().map(|p| p.clone()).unwrap_or_default();
    Ok(outcome)
}

/// A new phone of provider `provider` with `resident`'s credentials, and its attested
/// wallet instance.
pub(crate) async fn enrolled(
    platform: &Platform,
    resident: &crate::demo::Resident,
    provider: usize,
) -> Result<Held, StepFailed> {
    let phone = Phone::new(platform.provider(provider)?).await?;
    let done = enrol(platform, &phone, resident, false).await?;
    if done["credentials"].as_array().is_none_or(|c| c.is_empty()) {
        return Err(StepFailed::new(format!(
            "enrolment gave no credential: {done}"
        )));
    }
    let instance = get(&phone.url("")).await?["instance"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(Held {
        phone,
        instance,
        provider: platform.provider_id(provider),
    })
}

/// The phone at `desk` by the desk's own channel: the report.
async fn present(platform: &Platform, phone: &Phone, desk: &str) -> Result<Value, StepFailed> {
    match desk {
        d if d.ends_with("-hotel") => {
            in_person(platform, phone, desk, "hotel_check_in", None).await
        }
        d if d.ends_with("-bank") => {
            online(platform, phone, desk, "bank_account_opening", None).await
        }
        d if d.ends_with("-station") => {
            offline(platform, phone, desk, "rail_ticketing", None).await
        }
        _ => offline(platform, phone, desk, "airport_security", None).await,
    }
}

/// Runs `work(0..n)`, `at_once` at a time; the results in order.
async fn parallel<T, F, Fut>(at_once: usize, n: usize, work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(at_once.max(1)));
    let mut running = tokio::task::JoinSet::new();
    for i in 0..n {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let job = work(i);
        running.spawn(async move {
            let _slot = slot;
            (i, job.await)
        });
    }
    let mut done: Vec<(usize, T)> = Vec::with_capacity(n);
    while let Some(Ok(result)) = running.join_next().await {
        done.push(result);
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

fn note(problems: &std::sync::Mutex<Vec<String>>, what: String) {
    if let Ok(mut problems) = problems.lock()
        && problems.len() < 20
    {
        problems.push(what.chars().take(400).collect());
    }
}

fn mark(options: &BurstOptions, phase: &str) -> Result<(), StepFailed> {
    if let Some(path) = &options.mark {
        std::fs::write(path, phase)
            .map_err(|e| StepFailed::new(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}
