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

use crate::nats::NatsConnection;
use crate::{ApiError, Authority, Event};

/// The media types of the two forms (draft §8.1).
const JWT: &str = "application/statuslist+jwt";
const CWT: &str = "application/statuslist+cwt";

impl Authority {
    /// The signed status list of `shard` (`cwt` or JWT), re-signed when the shard changed or
    /// half its validity has passed; `None` for a shard never opened.
    ///
    /// Every verifier of the nation fetches these, so a request costs one read of the shard's
    /// version (a primary-key lookup) and is answered from memory while that version is the
    /// one signed; the shard's entries are read and signed again only after a change.
    pub async fn status_list(
        &self,
        shard: u64,
        cwt: bool,
    ) -> Result<Option<Arc<SignedList>>, ApiError> {
        let Some((_, version)) = self.store.shard_head(shard).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let ds = self.document_signer(now)?;
        // A list signed by a document signer that has since handed over is signed again.
        let fresh = |cached: &SignedList| {
            cached.version == version
                && cached.signer == ds.position()
                && now < cached.issued_at + self.settings.status_validity / 2
        };
        if let Ok(lists) = self.lists.lock()
            && let Some(cached) = lists.get(&(shard, cwt))
            && fresh(cached)
        {
            return Ok(Some(cached.clone()));
        }
        // The version is read before the entries, so the entries are at least that new; a
        // change landing in between bumps the version again and the next request re-signs.
        let Some(statuses) = self.store.shard_statuses(shard).await? else {
            return Ok(None);
        };
        let mut list = StatusList::new(Bits::new(2)?, statuses.size)?;
        for (idx, status) in &statuses.entries {
            list.set(*idx, *status)?;
        }
        let token = StatusListToken {
            uri: self.status_uri(shard),
            issued_at: now,
            // Never beyond the DS certificate, which a verifier checks when it reads the list.
            expires_at: Some((now + self.settings.status_validity).min(ds.not_after())),
            ttl: u64::try_from(self.settings.status_ttl.whole_seconds()).ok(),
            list,
        };
        let by = SignerRef::Certificates(ds.x5chain());
        let body = if cwt {
            token.sign_cwt(ds.signer(), by)?
        } else {
            token.sign_jwt(ds.signer(), by)?.into_bytes()
        };
        let signed = Arc::new(SignedList {
            etag: etag(shard, statuses.version, now, cwt),
            version: statuses.version,
            signer: ds.position(),
            issued_at: now,
            body: axum::body::Bytes::from(body),
        });
        self.lists_signed.add(&[if cwt { "cwt" } else { "jwt" }]);
        if let Ok(mut lists) = self.lists.lock() {
            // Keep the newest: a slower request that read an older version must not put
            // its list back over a newer one.
            let keep_held = lists
                .get(&(shard, cwt))
                .is_some_and(|held| held.version > signed.version);
            if !keep_held {
                lists.insert((shard, cwt), signed.clone());
            }
        }
        Ok(Some(signed))
    }
}

impl Authority {
    /// The status lists this replica holds signed (either form), and the newest version
    /// among them: what `/metrics` says of the lists (a label per shard would grow with the
    /// nation's shards).
    pub(crate) fn lists_held(&self) -> (usize, u64) {
        self.lists.lock().map_or((0, 0), |lists| {
            let newest = lists.values().map(|l| l.version).max().unwrap_or(0);
            (lists.len(), newest)
        })
    }
}

/// A signed status list as served, with its entity tag.
#[derive(Debug)]
pub struct SignedList {
    /// The strong entity tag of exactly these bytes (`"<shard>.<version>.<iat>.<form>"`).
    pub etag: String,
    /// The shard's version it was signed at.
    pub version: u64,
    /// The position of the document signer that signed it ([`crate::DocumentSigner`]).
    pub signer: usize,
    /// When it was signed.
    pub issued_at: time::OffsetDateTime,
    /// The token.
    pub body: axum::body::Bytes,
}

fn etag(shard: u64, version: u64, issued_at: time::OffsetDateTime, cwt: bool) -> String {
    let form = if cwt { "cwt" } else { "jwt" };
    format!(
        "\"{shard}.{version}.{}.{form}\"",
        issued_at.unix_timestamp()
    )
}

/// Whether `If-None-Match` names `etag` (or is `*`), RFC 9110 §13.1.2 (weak comparison).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
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
    let not_found = || {
        ApiError::NotFound(format!(
            "no status list {} is published",
            eid_serve::excerpt(&shard)
        ))
    };
    let n: u64 = shard.parse().map_err(|_| not_found())?;
    let signed = authority.status_list(n, cwt).await?.ok_or_else(not_found)?;
    let mut response = if not_modified(&headers, &signed.etag) {
        axum::http::StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = signed.body.clone().into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(if cwt { CWT } else { JWT }),
        );
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&signed.etag) {
        headers.insert(header::ETAG, value);
    }
    let max_age = authority.settings.status_ttl.whole_seconds();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    Ok(response)
}

/// Event streams open at once, of both kinds together, at most: they last as long as their
/// readers, so without a cap of their own enough of them would hold every connection of a
/// listener (the public one takes 512 by default, `eid up`'s 256) and starve the status
/// lists and issuance.
pub const MAX_EVENT_STREAMS: usize = 128;

/// The open stream's reader: from this process's relay, or from JetStream.
type Events = std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>>;

async fn sse(
    authority: &Authority,
    kind: &'static str,
    headers: &HeaderMap,
) -> Result<impl IntoResponse + use<>, ApiError> {
    let permit = authority
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::Unavailable(format!(
                "{MAX_EVENT_STREAMS} event streams are open, the most this authority serves: try again later, or follow the status lists"
            ))
        })?;
    let events: Events = match &authority.nats {
        Some(nats) => {
            // Resuming: the sequence after the last one the reader saw (an id that is not
            // a number is a reader's mistake: it gets what arrives from now on).
            let from = headers
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|last| last.saturating_add(1));
            let mut connection = NatsConnection::connect_any(&nats.addresses(), 0)
                .await
                .map_err(unavailable)?;
            let position = connection
                .follow(
                    &nats.stream,
                    &format!("{}.{kind}", nats.subject_prefix),
                    from,
                )
                .await
                .map_err(unavailable)?;
            // Ends when the connection breaks or falls silent: the reader reconnects, to
            // this replica or another, with the last id it saw. The task ends as soon as
            // the reader goes — waiting on its departure as well as on the next delivery,
            // since a quiet stream may bring none for hours — dropping the connection, the
            // consumer with it, and giving the slot back.
            let (send, receive) = tokio::sync::mpsc::channel(64);
            // First the reader's resume point, an id without data (no event, but the id a
            // reader sends back when it reconnects, WHATWG's processing model): one that
            // loses this stream before its first event then misses nothing.
            let _ = send.try_send(Ok(SseEvent::default().id(position.to_string())));
            tokio::spawn(async move {
                let _slot = permit;
                loop {
                    let delivery = tokio::select! {
                        delivery = connection.next_delivery() => delivery,
                        () = send.closed() => break,
                    };
                    let Ok(delivery) = delivery else {
                        break;
                    };
                    let data = String::from_utf8(delivery.payload).unwrap_or_default();
                    let event = SseEvent::default()
                        .event(kind)
                        .id(delivery.sequence.to_string())
                        .data(data);
                    if send.send(Ok(event)).await.is_err() {
                        break;
                    }
                }
            });
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(receive))
        }
        None => Box::pin(
            BroadcastStream::new(authority.subscribe())
                // A reader that fell behind has missed events: its stream ends, so that it
                // reconnects and re-reads the lists, rather than going on without them.
                .map_while(Result::ok)
                .filter_map(move |event: Event| {
                    // The stream's slot, given back when the reader goes.
                    let _slot = &permit;
                    (event.kind() == kind)
                        .then(|| SseEvent::default().event(kind).json_data(&event).ok())
                        .flatten()
                        .map(Ok)
                }),
        ),
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn unavailable(e: crate::nats::NatsError) -> ApiError {
    tracing::warn!(target: "eid::events", cause = %e, "NATS does not answer");
    ApiError::Unavailable(
        "the event stream is not available now: try again, or follow the status lists".into(),
    )
}

/// Status changes as they are stored.
pub(crate) async fn status_events(
    State(authority): State<Arc<Authority>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    sse(&authority, "status", &headers).await
}

/// Notices to wallets (for wallet providers to relay).
pub(crate) async fn wallet_events(
    State(authority): State<Arc<Authority>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    sse(&authority, "wallet_notice", &headers).await
}
