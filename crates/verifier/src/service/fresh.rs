//! Keeping the status lists fresh: fetched at start and on a schedule, walked shard by shard,
//! and the authorities' pushed changes followed.

use std::sync::Arc;

use time::Duration;

use super::state::Service;

/// What fetching one list came to.
enum Fetched {
    Stored,
    NotPublished,
    Failed,
}

impl Service {
    /// Fetches every configured status list, and every published shard of each authority
    /// followed, once. Returns whether one that should be there is missing (not published
    /// yet, unreachable or refused): the caller tries again soon.
    pub async fn refresh_status_lists(&self) -> bool {
        let mut missing = false;
        for uri in &self.config.status_lists {
            missing |= !matches!(self.refresh_one(uri).await, Fetched::Stored);
        }
        for base in &self.config.status_shards {
            // Shards are numbered densely from 0; the first one not published ends the walk.
            // Shard 0 missing means the authority has issued nothing yet, or is down.
            for shard in 0u64.. {
                let uri = format!("{base}{shard}");
                match self.refresh_one(&uri).await {
                    Fetched::Stored => {}
                    Fetched::NotPublished if shard > 0 => break,
                    Fetched::NotPublished | Fetched::Failed => {
                        missing = true;
                        break;
                    }
                }
            }
        }
        missing
    }

    /// The lists this service follows of which it holds no version yet: each configured
    /// list, and the first shard of each authority it walks (published at the authority's
    /// start). Empty once it can decide on a credential of any authority it follows.
    pub fn status_lists_missing(&self) -> Vec<String> {
        let held: Vec<String> = match self.verifier.read() {
            Ok(verifier) => verifier
                .statuses()
                .held()
                .into_iter()
                .map(|(uri, _, _)| uri)
                .collect(),
            Err(_) => Vec::new(),
        };
        self.config
            .status_lists
            .iter()
            .cloned()
            .chain(
                self.config
                    .status_shards
                    .iter()
                    .map(|base| format!("{base}0")),
            )
            .filter(|uri| !held.contains(uri))
            .collect()
    }

    async fn refresh_one(&self, uri: &str) -> Fetched {
        let token = match crate::online::fetch_status_list(uri).await {
            Ok(token) => token,
            // Not published yet: no credential points into it so far.
            Err(eid_http::HttpError::Status(404, _)) => return Fetched::NotPublished,
            Err(e) => {
                tracing::warn!(target: "eid::verifier", uri = %uri, cause = %e, "a status list could not be fetched");
                return Fetched::Failed;
            }
        };
        let now = self.clock.now();
        let Ok(mut verifier) = self.verifier.write() else {
            return Fetched::Failed;
        };
        let trust = verifier.trust().clone();
        match verifier
            .statuses_mut()
            .store_fetched(&trust, uri, &token, now)
        {
            Ok(_) => Fetched::Stored,
            Err(e) => {
                tracing::warn!(target: "eid::verifier", uri = %uri, cause = %e, "a status list was not stored");
                Fetched::Failed
            }
        }
    }

    /// Half the strictest staleness bound of the relying party's purposes, within [5 s, 1 h].
    pub fn refetch_interval(&self) -> Duration {
        let Ok(verifier) = self.verifier.read() else {
            return Duration::seconds(5);
        };
        let list = verifier.trust().list();
        let strictest = list
            .relying_party(verifier.relying_party())
            .into_iter()
            .flat_map(|rp| rp.purposes.keys())
            .filter_map(|p| list.purpose(*p))
            .map(|p| p.max_status_age_seconds)
            .min()
            .unwrap_or(3600);
        Duration::seconds(i64::try_from(strictest / 2).unwrap_or(1800).clamp(5, 3600))
    }
}

/// Keeps the status lists fresh and follows pushes, for as long as the service runs.
pub async fn keep_fresh(service: Arc<Service>) {
    let fetcher = {
        let service = service.clone();
        async move {
            loop {
                let missing = service.refresh_status_lists().await;
                // A list not published yet (a shard no credential points to so far) or not
                // reachable is tried again within a second; all held, on the schedule — or
                // sooner, when a presentation named a list not held (at most once a second).
                let pause = if missing {
                    Duration::seconds(1)
                } else {
                    service.refetch_interval()
                };
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(
                        u64::try_from(pause.whole_seconds()).unwrap_or(5),
                    )) => {}
                    () = service.wanted.notified() => {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        }
    };
    let mut followers = tokio::task::JoinSet::new();
    for events in service.config.events.clone() {
        followers.spawn(follow(service.clone(), events));
    }
    tokio::join!(fetcher, followers.join_all());
}

/// Follows one authority's pushes, reconnecting with backoff from the last event seen
/// (`Last-Event-ID`: an authority on NATS sends what was missed), and refetching the lists
/// once the stream is open — whatever changed before it opened is in them (an authority
/// without NATS sends nothing missed).
async fn follow(service: Arc<Service>, events: String) {
    // Milliseconds: the first reconnection at once (a replica killed behind the balancer:
    // the other one serves), then doubling up to 30 s while nothing answers.
    let mut pause = 0u64;
    let mut last = None;
    loop {
        let mut connected = false;
        let result =
            crate::online::follow_pushes_from(&events, &mut last, &service.verifier, |f| {
                match f {
                    crate::online::Followed::Connected => {
                        connected = true;
                        service.wanted.notify_one();
                    }
                    // A reinstatement: the signed list lifts the suspension, fetched within
                    // about a second rather than on the schedule.
                    crate::online::Followed::Eased(_) => service.wanted.notify_one(),
                    crate::online::Followed::Applied(_) => {}
                }
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(target: "eid::verifier", events = %events, cause = %e, "the event stream broke");
        }
        if connected {
            pause = 0;
        }
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        pause = (pause * 2).clamp(250, 30_000);
    }
}
