//! The verifier's network side: fetching status lists from where credentials point, and
//! following an authority's pushed status changes (its `GET /events` Server-Sent Events),
//! over the shared client (`eid-http`).
//!
//! Plain `http://` only so far: a deployment puts TLS in front (the lists are signed; the
//! pushes, unsigned, can only make the cache stricter — `StatusCache::apply_push`).

use std::sync::RwLock;

use eid_http::{HttpError, fetch, http_error, open_stream};
use http_body_util::BodyExt;

use crate::Verifier;
use crate::push::{EventStream, StatusPush};

/// Fetches a status list token (JWT form) from `uri`.
pub async fn fetch_status_list(uri: &str) -> Result<Vec<u8>, HttpError> {
    fetch(uri, "application/statuslist+jwt").await
}

/// What following the pushes reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// The stream is open: pushes from now on arrive.
    Connected,
    /// A push changed the cache.
    Applied(StatusPush),
    /// A push says an entry the cache holds as suspended is valid again (reinstated):
    /// unsigned, it changes nothing, but the list it names is worth fetching now.
    Eased(StatusPush),
}

/// Follows the authority's event stream at `events_url`, applying every status push to
/// `verifier`'s cache the moment it arrives, and telling `progress` when the stream is open
/// and after each push that changed the cache. Returns when the stream ends; the caller
/// reconnects (and refetches the lists it holds: pushes sent while disconnected are lost).
pub async fn follow_pushes(
    events_url: &str,
    verifier: &RwLock<Verifier>,
    progress: impl FnMut(Followed),
) -> Result<(), HttpError> {
    follow_pushes_from(events_url, &mut None, verifier, progress).await
}

/// [`follow_pushes`], resuming after `last_event_id` when the stream gave ids (an authority
/// following NATS JetStream does: any of its replicas then sends what was missed), and
/// keeping it up to date for the next reconnection.
pub async fn follow_pushes_from(
    events_url: &str,
    last_event_id: &mut Option<String>,
    verifier: &RwLock<Verifier>,
    mut progress: impl FnMut(Followed),
) -> Result<(), HttpError> {
    let mut poisoned = false;
    follow_status_events(events_url, last_event_id, |push| {
        let Some(push) = push else {
            progress(Followed::Connected);
            return;
        };
        let Ok(mut verifier) = verifier.write() else {
            poisoned = true;
            return;
        };
        if verifier
            .statuses_mut()
            .apply_push(&push.uri, push.idx, push.status)
        {
            progress(Followed::Applied(push));
        } else if push.status == eid_core::status::CredentialStatus::Valid
            && verifier.statuses().holds_suspended(&push.uri, push.idx)
        {
            progress(Followed::Eased(push));
        }
    })
    .await?;
    if poisoned {
        return Err(HttpError::Http("the verifier's lock is poisoned".into()));
    }
    Ok(())
}

/// The status events of the stream at `events_url` as they arrive, resuming after
/// `last_event_id` and keeping it up to date: `on_push(None)` once the stream is open, then
/// `on_push(Some(push))` for each status event. Returns when the stream ends.
pub async fn follow_status_events(
    events_url: &str,
    last_event_id: &mut Option<String>,
    mut on_push: impl FnMut(Option<StatusPush>),
) -> Result<(), HttpError> {
    let resume: Vec<(&'static str, &str)> = last_event_id
        .as_deref()
        .map(|id| ("last-event-id", id))
        .into_iter()
        .collect();
    let mut body = open_stream(events_url, "text/event-stream", &resume).await?;
    on_push(None);
    let mut stream = EventStream::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(http_error)?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        for event in stream.feed(data) {
            if let Some(push) = StatusPush::from_event(&event) {
                on_push(Some(push));
            }
        }
        if let Some(id) = stream.last_event_id() {
            *last_event_id = Some(id.to_owned());
        }
    }
    Ok(())
}
