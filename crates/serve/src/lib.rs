//! What every listener goes through.
//!
//! [`serve`] answers HTTP/1.1 on a bound listener with an axum [`Router`], as `axum::serve`
//! does, and holds every connection to [`Limits`]:
//!
//! - **header-read timeout** (default 10 s): a request's head (request line and headers) must
//!   have arrived this long after the connection was accepted, or after the first byte of a
//!   later request on a kept-alive connection. A client that sends half a head and stalls,
//!   or trickles it a byte at a time, is disconnected.
//! - **idle timeout** (default 60 s): a kept-alive connection with no request in flight is
//!   closed when nothing arrives for this long. A response being sent is never cut, however
//!   long it lasts: Server-Sent Events (`/events`) stream for hours.
//! - **connection limit** (default 512 per listener): with that many connections open the
//!   listener stops accepting until one closes; new connections wait in the kernel's accept
//!   queue, holding no file descriptor of the process.
//! - **graceful shutdown**: when the shutdown future resolves the listener stops accepting,
//!   idle connections close, requests in flight are answered, and [`serve`] returns when
//!   every connection has ended.
//!
//! Why the limit pauses accepting rather than accepting and closing at once: accepting costs
//! a file descriptor and a wake-up per connection, so a flood would keep the process busy
//! closing sockets and could still reach the open-file limit at the moment of accepting,
//! when every listener of the process (and its database files) fail together. Paused, a
//! flood costs the kernel's queue, not the process; the timeouts free a slot within at most
//! the header-read timeout of any stalled connection, and the queued clients are served in
//! their turn rather than refused.
//!
//! Why not hyper's own `header_read_timeout`: hyper 1 starts that timer whenever it waits for
//! a request's head, between kept-alive requests too, so it cannot allow an idle minute and
//! still require the head within ten seconds of its first byte. The two clocks here run on
//! the connection's own task, from what the connection does: bytes read, a request handed to
//! the router, its response's body ended, bytes written.
//!
//! - **body timeout** (default 60 s): a request's whole body must arrive this long after its
//!   head, or the request is answered 408 and its connection freed; the body is read here,
//!   at most 32 MiB (the largest a route takes: three card images), and each route's own
//!   size limit applies after. A request without a body (an SSE stream's GET) is not held to
//!   it: a response being sent is never cut.
//!
//! Not bounded here: how long a handler takes (the routes bound their own work), and how
//! many connections one client holds (a load balancer in front limits that per address;
//! the connection limit caps the total).

mod errors;
pub mod metrics;

/// Structured logs: one JSON object a line on standard error — time, level, target, message
/// and the event's fields (`route`, `status`, `latency_ms`, `request_id` for each request,
/// [`metrics::track`]). Each service's command calls it once (`eid authority serve`, `eid
/// verifier serve`, `eid up`). Events carry route templates, codes and request ids, never a
/// number, a name or a picture.
pub fn init_logs() {
    init_logs_to(io::stderr);
}

/// [`init_logs`], the lines written to `writer` instead: a benchmark pays for them as a
/// service does without printing them (`io::sink`).
pub fn init_logs_to<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .with_max_level(tracing::Level::INFO)
        .try_init();
}

pub use errors::{InternalCause, REQUEST_ID, cut, excerpt, json_errors, request_id};

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::num::NonZeroU32;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// The bounds a listener holds its connections to. [`Limits::default`] is what a public
/// listener uses; see the crate documentation for what each bound does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How long a client has to send a request's head: from the accept for the first request,
    /// from the first byte of the next one on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait, with no request in flight, for the first
    /// byte of its next request.
    pub idle_timeout: Duration,
    /// How many connections the listener holds open at once.
    pub max_connections: NonZeroU32,
    /// How long a request's body may take to arrive once its head has.
    pub body_timeout: Duration,
}

impl Limits {
    /// The default header-read timeout: a client on a slow mobile link sends a few hundred
    /// bytes of head in well under a second; ten is generous and still frees a slot quickly.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default idle timeout: long enough for a browser or a wallet to reuse its
    /// connection between the steps of one exchange.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default body timeout: three card images (12 MiB) over a 2 Mbit/s mobile link in
    /// under a minute; a client that stalls mid-body is cut off after it.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default connection limit per listener: well above the load of a desk or an
    /// authority's public interface, and under half the usual open-file limit of 1,024, so
    /// that a second listener and the databases fit beside it.
    pub const DEFAULT_MAX_CONNECTIONS: NonZeroU32 = match NonZeroU32::new(512) {
        Some(max) => max,
        None => NonZeroU32::MIN,
    };

    /// These limits with another header-read timeout.
    #[must_use]
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// These limits with another idle timeout.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// These limits with another connection limit.
    #[must_use]
    pub fn with_max_connections(mut self, max: NonZeroU32) -> Self {
        self.max_connections = max;
        self
    }

    /// These limits with another body timeout.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }
}

/// The largest body read ([`Limits::body_timeout`]); routes take less.
const MAX_BODY: usize = 32 << 20;

/// Reads a request's whole body within `limit` before the router sees it: a client that
/// stalls mid-body gets 408 and gives its connection back.
async fn whole_body_within(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::body::HttpBody as _;
    use axum::response::IntoResponse as _;
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    }
    let refused = |status: axum::http::StatusCode, code: &str, message: String| {
        (
            status,
            axum::Json(serde_json::json!({"error": code, "error_description": message})),
        )
            .into_response()
    };
    match tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => {
            next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => refused(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!(
                "the body could not be read whole (the largest taken is {} MiB)",
                MAX_BODY >> 20
            ),
        ),
        Err(_) => refused(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the body did not arrive within {} s of the request's head",
                limit.as_secs()
            ),
        ),
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// How long to wait before accepting again after an error that is not the peer's: out of
/// file descriptors (`EMFILE`, `ENFILE`) or memory. Accepting again at once would spin;
/// connections closing (the timeouts see to it) free what is missing.
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Answers `app` on `listener` under `limits` until `shutdown` resolves, then stops accepting
/// and returns once every connection has ended (idle ones are closed, requests in flight are
/// answered first).
///
/// Accept errors do not end it: the peer's own (reset, aborted) are skipped, any other
/// (out of file descriptors) waits a second before accepting again.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let app = app.layer(axum::middleware::from_fn_with_state(
        limits.body_timeout,
        whole_body_within,
    ));
    let max = limits.max_connections.get();
    // Each connection holds a slot until it ends, so the same semaphore also tells when all
    // have ended at shutdown.
    let slots = Arc::new(Semaphore::new(max as usize));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // A free slot before accepting: while all are taken, new connections wait in the
        // kernel's accept queue (see the crate documentation for why).
        let slot = tokio::select! {
            () = shutdown.as_mut() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = shutdown.as_mut() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _peer)) => {
                // Small answers and pushed events go out at once, not after the peer's
                // delayed acknowledgement of the previous segment (Nagle: up to 200 ms).
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(
                    stream,
                    app.clone(),
                    limits,
                    stopped.clone(),
                    slot,
                ));
            }
            Err(error) if peer_gave_up(&error) => {}
            Err(_) => {
                tokio::select! {
                    () = shutdown.as_mut() => break,
                    () = tokio::time::sleep(ACCEPT_RETRY) => {}
                }
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let _ = slots.acquire_many(max).await;
}

/// An accept error that is the peer's doing (it went away before the accept): nothing to
/// wait for.
fn peer_gave_up(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, times out or is shut down; `_slot` is given back to
/// the listener when this returns.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new(limits));
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = Tracked {
        app: TowerToHyperService::new(app),
        activity: activity.clone(),
    };
    // The timeouts are ours (Activity); hyper's header timer would also run while idle.
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut conn = pin!(conn);
    let mut stop = pin!(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    });
    let mut stopping = false;
    let mut timer = pin!(tokio::time::sleep(limits.header_read_timeout));
    poll_fn(|cx| {
        if !stopping && stop.as_mut().poll(cx).is_ready() {
            stopping = true;
            conn.as_mut().graceful_shutdown();
        }
        if conn.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        // Every change of phase happens inside the poll above (bytes read or written, a
        // request handed to the router, a response body ended), so this deadline is current.
        let Some(deadline) = activity.deadline() else {
            return Poll::Pending;
        };
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx)
    })
    .await;
    // Returning drops the connection, which closes the socket: a client that timed out gets
    // no answer, only the close.
}

/// Where a connection is between requests, and until when it may stay there.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for (the rest of) a request's head.
    Head { deadline: Instant },
    /// Requests handed to the router whose responses have not ended.
    Busy { requests: usize },
    /// Kept alive after a response, nothing of the next request yet.
    Idle { deadline: Instant },
}

/// One connection's phase, moved on by what the connection does.
#[derive(Debug)]
struct Activity {
    limits: Limits,
    phase: Mutex<Phase>,
}

impl Activity {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: Mutex::new(Phase::Head {
                deadline: Instant::now() + limits.header_read_timeout,
            }),
        }
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // Nothing panics while holding it; were it poisoned, the phase is still whole.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection is to be closed, unless it moves on; none while busy.
    fn deadline(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Head { deadline } | Phase::Idle { deadline } => Some(deadline),
            Phase::Busy { .. } => None,
        }
    }

    /// A request's head has arrived and goes to the router.
    fn request_started(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy { requests } => Phase::Busy {
                requests: requests + 1,
            },
            Phase::Head { .. } | Phase::Idle { .. } => Phase::Busy { requests: 1 },
        };
    }

    /// A response's body has ended (or was dropped with the connection).
    fn response_ended(&self) {
        let mut phase = self.phase();
        if let Phase::Busy { requests } = *phase {
            *phase = if requests > 1 {
                Phase::Busy {
                    requests: requests - 1,
                }
            } else {
                self.idle()
            };
        }
    }

    /// Bytes arrived: on an idle connection, the next request has begun and its head has
    /// the header-read timeout from now.
    fn received(&self) {
        let mut phase = self.phase();
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::Head {
                deadline: Instant::now() + self.limits.header_read_timeout,
            };
        }
    }

    /// Bytes went out: after the body ended, the rest of the response is still being
    /// written to a slow reader; it is not idle while that progresses.
    fn sent(&self) {
        let mut phase = self.phase();
        if let Phase::Idle { .. } = *phase {
            *phase = self.idle();
        }
    }

    fn idle(&self) -> Phase {
        Phase::Idle {
            deadline: Instant::now() + self.limits.idle_timeout,
        }
    }
}

/// The socket, telling the connection's [`Activity`] of bytes read and written.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.received();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            this.activity.sent();
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written
            && n > 0
        {
            this.activity.sent();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router, telling the connection's [`Activity`] when a request starts and when its
/// response ends.
#[derive(Clone)]
struct Tracked {
    app: TowerToHyperService<Router>,
    activity: Arc<Activity>,
}

type Answering = Pin<Box<dyn Future<Output = Result<Response<Answer>, Infallible>> + Send>>;

impl Service<Request<Incoming>> for Tracked {
    type Response = Response<Answer>;
    type Error = Infallible;
    type Future = Answering;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        // Made now, so that the request ends even if the router's future is dropped unfinished.
        let in_flight = InFlight(self.activity.clone());
        let answering = self.app.call(request);
        Box::pin(async move {
            let response = answering.await?;
            Ok(response.map(|body| Answer {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A request in flight; ends when dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.response_ended();
    }
}

/// A response body that keeps its request in flight until hyper has read it to the end and
/// dropped it: a streaming response (Server-Sent Events) is never idle.
struct Answer {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
