//! Status lists on the public listener (`GET /status/{shard}`, the JWT or CWT form by
//! `Accept`, per the Token Status List draft §8) and the pushed events (`GET /events`,
//! Server-Sent Events).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use eid_status::token::SignerRef;
use eid_status::{Bits, StatusList, StatusListToken};
use tokio_stream::{Stream, StreamExt, wrappers::BroadcastStream};

use crate::{ApiError, Authority, CachedList, Event};

/// The media types of the two forms (draft §8.1).
const JWT: &str = "application/statuslist+jwt";
const CWT: &str = "application/statuslist+cwt";

impl Authority {
    /// The signed status list of `shard` (`cwt` or JWT), re-signed when the shard changed or
    /// half its validity has passed; `None` for a shard never opened.
    pub async fn status_list(&self, shard: u64, cwt: bool) -> Result<Option<Vec<u8>>, ApiError> {
        let Some(statuses) = self.store.shard_statuses(shard).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let fresh = |cached: &CachedList| {
            cached.version == statuses.version
                && now < cached.issued_at + self.settings.status_validity / 2
        };
        if let Ok(lists) = self.lists.lock()
            && let Some(cached) = lists.get(&(shard, cwt))
            && fresh(cached)
        {
            return Ok(Some(cached.body.clone()));
        }
        let mut list = StatusList::new(Bits::new(2)?, statuses.size)?;
        for (idx, status) in &statuses.entries {
            list.set(*idx, *status)?;
        }
        let token = StatusListToken {
            uri: self.status_uri(shard),
            issued_at: now,
            expires_at: Some(now + self.settings.status_validity),
            ttl: u64::try_from(self.settings.status_ttl.whole_seconds()).ok(),
            list,
        };
        let by = SignerRef::Certificates(&self.x5chain);
        let body = if cwt {
            token.sign_cwt(self.signer.as_ref(), by)?
        } else {
            token.sign_jwt(self.signer.as_ref(), by)?.into_bytes()
        };
        if let Ok(mut lists) = self.lists.lock() {
            lists.insert(
                (shard, cwt),
                Arc::new(CachedList {
                    version: statuses.version,
                    issued_at: now,
                    body: body.clone(),
                }),
            );
        }
        Ok(Some(body))
    }
}

/// Which form `Accept` asks for: CWT only when it names the CWT type (and not the JWT one
/// first); JWT for the JWT type, `*/*`, `application/*` or no header; else not acceptable.
fn wants_cwt(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(false);
    };
    let accept = accept.to_str().unwrap_or_default();
    for range in accept.split(',') {
        let media = range.split(';').next().unwrap_or_default().trim();
        match media {
            JWT | "*/*" | "application/*" => return Ok(false),
            CWT => return Ok(true),
            _ => {}
        }
    }
    Err(ApiError::NotAcceptable(format!(
        "status lists are served as {JWT} or {CWT}"
    )))
}

pub(crate) async fn status_list(
    State(authority): State<Arc<Authority>>,
    Path(shard): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cwt = wants_cwt(&headers)?;
    let not_found = || ApiError::NotFound(format!("no status list {shard:?} is published"));
    let n: u64 = shard.parse().map_err(|_| not_found())?;
    let body = authority.status_list(n, cwt).await?.ok_or_else(not_found)?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if cwt { CWT } else { JWT }),
    );
    let max_age = authority.settings.status_ttl.whole_seconds();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    Ok(response)
}

fn sse(
    authority: &Authority,
    kind: &'static str,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>> {
    let stream = BroadcastStream::new(authority.subscribe()).filter_map(move |event| {
        // A subscriber that fell behind misses events (it re-reads the lists).
        let event: Event = event.ok()?;
        (event.kind() == kind)
            .then(|| SseEvent::default().event(kind).json_data(&event).ok())
            .flatten()
            .map(Ok)
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Status changes as they are stored.
pub(crate) async fn status_events(State(authority): State<Arc<Authority>>) -> impl IntoResponse {
    sse(&authority, "status")
}

/// Notices to wallets (for wallet providers to relay).
pub(crate) async fn wallet_events(State(authority): State<Arc<Authority>>) -> impl IntoResponse {
    sse(&authority, "wallet_notice")
}
