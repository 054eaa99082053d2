//! The verifier's network side: fetching status lists from where credentials point, and
//! following an authority's pushed status changes (its `GET /events` Server-Sent Events),
//! over HTTP/1.1 with hyper's client; and the two exchanges a wallet makes online
//! ([`fetch`] a request object, [`post_form`] an answer) and at an issuer ([`post_json`]).
//!
//! Plain `http://` only so far: a deployment puts TLS in front (the lists are signed; the
//! pushes, unsigned, can only make the cache stricter — `StatusCache::apply_push`).

use std::sync::RwLock;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::Verifier;
use crate::push::{EventStream, StatusPush};

/// The largest body fetched (a status list token is capped at a few MiB by `eid-status`).
pub const MAX_BODY: usize = 8 << 20;

/// Why a fetch or a subscription failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnlineError {
    /// Not an `http://host[:port]/…` URL.
    #[error("{0} is not an http:// URL this verifier can reach")]
    Url(String),
    /// No connection.
    #[error("could not connect to {address}: {source}")]
    Connect {
        /// host:port.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// The server answered with an error status (and this much of its body, which for eid's
    /// services says why).
    #[error("the server answered {0}: {1}")]
    Status(u16, String),
    /// No whole answer in time.
    #[error("no answer within {0} s")]
    Timeout(u64),
}

/// How long one request-and-answer may take (connect, send, the whole body).
pub const EXCHANGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `exchange` within [`EXCHANGE_TIMEOUT`].
async fn in_time<T>(
    exchange: impl Future<Output = Result<T, OnlineError>>,
) -> Result<T, OnlineError> {
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .unwrap_or(Err(OnlineError::Timeout(EXCHANGE_TIMEOUT.as_secs())))
}

fn http_error(e: impl std::fmt::Display) -> OnlineError {
    OnlineError::Http(e.to_string())
}

async fn get(url: &str, accept: &str) -> Result<Response<Incoming>, OnlineError> {
    send(url, accept, None, None).await
}

/// [`get`] with more headers.
async fn get_with(
    url: &str,
    accept: &str,
    headers: &[(&'static str, &str)],
) -> Result<Response<Incoming>, OnlineError> {
    send_as(hyper::Method::GET, url, accept, None, None, headers).await
}

/// One HTTP/1.1 exchange: GET, or POST of `body` (content type, text) when given, with a
/// bearer token when given.
async fn send(
    url: &str,
    accept: &str,
    body: Option<(&str, String)>,
    bearer: Option<&str>,
) -> Result<Response<Incoming>, OnlineError> {
    send_as(hyper::Method::POST, url, accept, body, bearer, &[]).await
}

/// [`send`], with a body sent by `method` (POST, PUT).
async fn send_as(
    method: hyper::Method,
    url: &str,
    accept: &str,
    body: Option<(&str, String)>,
    bearer: Option<&str>,
    headers: &[(&'static str, &str)],
) -> Result<Response<Incoming>, OnlineError> {
    let parsed = url::Url::parse(url).map_err(|_| OnlineError::Url(url.to_owned()))?;
    let host = parsed
        .host_str()
        .filter(|_| parsed.scheme() == "http")
        .ok_or_else(|| OnlineError::Url(url.to_owned()))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let address = format!("{host}:{port}");
    let stream = TcpStream::connect(&address)
        .await
        .map_err(|source| OnlineError::Connect {
            address: address.clone(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_error)?;
    // The connection runs beside the request; it ends when the response body is dropped.
    tokio::spawn(connection);
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let (builder, content) = match body {
        Some((content_type, text)) => (
            Request::builder()
                .method(method)
                .uri(path)
                .header(CONTENT_TYPE, content_type),
            text,
        ),
        None => (Request::get(path), String::new()),
    };
    let builder = headers.iter().fold(builder, |builder, (name, value)| {
        builder.header(*name, *value)
    });
    let builder = match bearer {
        Some(token) => builder.header(AUTHORIZATION, format!("Bearer {token}")),
        None => builder,
    };
    let request = builder
        .header(HOST, address)
        .header(ACCEPT, accept)
        .body(Full::new(Bytes::from(content)))
        .map_err(http_error)?;
    let response = sender.send_request(request).await.map_err(http_error)?;
    let status = response.status();
    if !status.is_success() {
        let text = self::body(response).await.unwrap_or_default();
        let excerpt: String = String::from_utf8_lossy(&text).chars().take(300).collect();
        return Err(OnlineError::Status(status.as_u16(), excerpt));
    }
    Ok(response)
}

async fn body(response: Response<Incoming>) -> Result<Vec<u8>, OnlineError> {
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(http_error)?;
    Ok(body.to_bytes().to_vec())
}

/// GETs `url` (a wallet fetching a request object), returning the body.
pub async fn fetch(url: &str, accept: &str) -> Result<Vec<u8>, OnlineError> {
    in_time(async { body(get(url, accept).await?).await }).await
}

/// POSTs a form body to `url` (a wallet posting its answer), returning the body.
pub async fn post_form(url: &str, form: String) -> Result<Vec<u8>, OnlineError> {
    in_time(async {
        body(
            send(
                url,
                "application/json",
                Some(("application/x-www-form-urlencoded", form)),
                None,
            )
            .await?,
        )
        .await
    })
    .await
}

/// POSTs a JSON body to `url`, with a bearer token when given (a wallet at an issuer's
/// credential endpoint), returning the body.
pub async fn post_json(
    url: &str,
    bearer: Option<&str>,
    json: String,
) -> Result<Vec<u8>, OnlineError> {
    in_time(async {
        body(
            send(
                url,
                "application/json",
                Some(("application/json", json)),
                bearer,
            )
            .await?,
        )
        .await
    })
    .await
}

/// PUTs a text body to `url` (a trust list to a desk), returning the body.
pub async fn put_text(url: &str, content_type: &str, text: String) -> Result<Vec<u8>, OnlineError> {
    in_time(async {
        body(
            send_as(
                hyper::Method::PUT,
                url,
                "application/json",
                Some((content_type, text)),
                None,
                &[],
            )
            .await?,
        )
        .await
    })
    .await
}

/// Fetches a status list token (JWT form) from `uri`.
pub async fn fetch_status_list(uri: &str) -> Result<Vec<u8>, OnlineError> {
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
) -> Result<(), OnlineError> {
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
) -> Result<(), OnlineError> {
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
        return Err(OnlineError::Http("the verifier's lock is poisoned".into()));
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
) -> Result<(), OnlineError> {
    let resume: Vec<(&'static str, &str)> = last_event_id
        .as_deref()
        .map(|id| ("last-event-id", id))
        .into_iter()
        .collect();
    let mut body = get_with(events_url, "text/event-stream", &resume)
        .await?
        .into_body();
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
