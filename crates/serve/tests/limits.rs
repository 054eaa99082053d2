//! The listener's bounds, against raw TCP clients on 127.0.0.1: half-sent heads and idle
//! kept-alive connections are closed, a streamed response is not, and stalled connections
//! beyond the limit do not keep a proper client from being answered.
//!
//! Timeouts are of a second or two; lower bounds hold because a timer never fires early,
//! upper bounds are generous (a loaded two-core machine).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test: a failed unwrap or a panic is a failed test"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::Router;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use eid_serve::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// Far beyond any timeout here: reaching it is a failure, not a slow machine.
const BOUND: Duration = Duration::from_secs(20);

/// A request's head cut short: the request line and half a header.
const HALF_A_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: loc";

/// Gaps between the events of `/events`, each longer than both timeouts of the tests.
const EVENT_GAP: Duration = Duration::from_millis(1500);

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/events", get(events))
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        )
}

/// Three events with long silences between them, then the end: a response in flight for
/// longer than either timeout, with no byte moving for longer than either.
async fn events() -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let (send, receive) = mpsc::channel(4);
    tokio::spawn(async move {
        for n in 0..3 {
            if n > 0 {
                tokio::time::sleep(EVENT_GAP).await;
            }
            if send
                .send(Event::default().data(format!("event {n}")))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    Sse::new(ReceiverStream::new(receive).map(Ok))
}

struct Server {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app(), limits, async move {
        let _ = stopped.await;
    }));
    Server {
        address,
        stop,
        task,
    }
}

fn limits(header: u64, idle: u64, max: u32) -> Limits {
    Limits::default()
        .with_header_read_timeout(Duration::from_millis(header))
        .with_idle_timeout(Duration::from_millis(idle))
        .with_max_connections(NonZeroU32::new(max).unwrap())
}

/// A connection that has sent half a head and says no more.
async fn stalled(address: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(HALF_A_HEAD).await.unwrap();
    stream
}

/// Sends `GET path` and reads the response's head and its `Content-Length` body.
async fn get_on(stream: &mut TcpStream, path: &str, close: bool) -> (String, String) {
    let connection = if close { "close" } else { "keep-alive" };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    let end_of_head = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed before a response's head");
        received.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(received[..end_of_head].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap();
    while received.len() < end_of_head + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed inside a response's body");
        received.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8(received[end_of_head..end_of_head + length].to_vec()).unwrap();
    (head, body)
}

/// A proper client on a new connection: the body of `GET /`.
async fn proper_get(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    get_on(&mut stream, "/", true).await.1
}

/// Waits until the server closes `stream` (end of file or reset), having sent nothing.
async fn closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 256];
    match timeout(BOUND, stream.read(&mut buf))
        .await
        .expect("the server did not close the connection")
    {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!(
            "the server sent {:?} rather than closing",
            String::from_utf8_lossy(&buf[..n])
        ),
    }
}

/// Whether the server has closed `stream`, without waiting.
async fn still_open(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    timeout(Duration::from_millis(10), stream.read(&mut buf))
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_head_is_cut_at_the_header_timeout() {
    let server = start(limits(1000, 10_000, 16)).await;

    let began = Instant::now();
    let mut stalled = stalled(server.address).await;
    // The same half, a byte every 200 ms: sending something does not earn more time.
    let mut trickling = TcpStream::connect(server.address).await.unwrap();
    let trickle = tokio::spawn(async move {
        for byte in HALF_A_HEAD {
            if trickling.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        closed(&mut trickling).await;
        began.elapsed()
    });

    closed(&mut stalled).await;
    let stalled_for = began.elapsed();
    let trickled_for = trickle.await.unwrap();
    // Cut at the header timeout; the trickle would have taken 5 s to send its half.
    for held in [stalled_for, trickled_for] {
        assert!(held >= Duration::from_millis(950), "closed after {held:?}");
        assert!(held < Duration::from_secs(4), "held {held:?}");
    }

    // The listener itself still answers.
    assert_eq!(proper_get(server.address).await, "ok");
    drop(server.stop);
    server.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout() {
    let server = start(limits(1000, 2500, 16)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    assert_eq!(get_on(&mut stream, "/", false).await.1, "ok");

    // Idle for longer than the header timeout: the idle timeout is what counts between
    // requests, so the connection is still there for the next one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get_on(&mut stream, "/", false).await.1, "ok");

    let idle_since = Instant::now();
    closed(&mut stream).await;
    let idle = idle_since.elapsed();
    assert!(idle >= Duration::from_millis(2400), "closed after {idle:?}");
    assert!(idle < Duration::from_secs(10), "held {idle:?}");

    drop(server.stop);
    server.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_response_outlives_both_timeouts() {
    let server = start(limits(1000, 1000, 16)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let began = Instant::now();
    let mut received = Vec::new();
    timeout(BOUND, stream.read_to_end(&mut received))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(received).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for n in 0..3 {
        assert!(text.contains(&format!("data: event {n}")), "{text}");
    }
    // The end of the chunked body: the stream ended, it was not cut.
    assert!(text.ends_with("0\r\n\r\n"), "{text}");
    assert!(began.elapsed() >= EVENT_GAP * 2);

    drop(server.stop);
    server.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proper_client_is_answered_while_stalled_connections_are_held() {
    // A header timeout with room to spare: the point is the order, not the timing.
    let server = start(limits(3000, 3000, 4)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(stalled(server.address).await);
    }
    assert_eq!(proper_get(server.address).await, "ok");
    for stream in &mut held {
        assert!(
            still_open(stream).await,
            "a stalled connection was already closed"
        );
    }
    for stream in &mut held {
        closed(stream).await;
    }
    drop(server.stop);
    server.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_beyond_the_limit_do_not_lock_out_a_proper_client() {
    let server = start(limits(1000, 1000, 4)).await;
    let began = Instant::now();
    // Four fill every slot; six more wait in the accept queue, ahead of the proper client.
    let mut stalled_ones = Vec::new();
    for _ in 0..10 {
        stalled_ones.push(stalled(server.address).await);
    }
    let answered = timeout(BOUND, proper_get(server.address))
        .await
        .expect("the proper client was never answered");
    let waited = began.elapsed();
    assert_eq!(answered, "ok");
    // It waited for a slot (the limit held): at least one header timeout, when the first
    // four were cut.
    assert!(
        waited >= Duration::from_millis(950),
        "answered after {waited:?}"
    );
    for stream in &mut stalled_ones {
        closed(stream).await;
    }
    // Every slot is free again: answered at once.
    let again = Instant::now();
    assert_eq!(proper_get(server.address).await, "ok");
    assert!(again.elapsed() < Duration::from_millis(900));

    drop(server.stop);
    server.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_and_stops_accepting() {
    let server = start(limits(10_000, 10_000, 4)).await;
    let mut idle = TcpStream::connect(server.address).await.unwrap();
    assert_eq!(get_on(&mut idle, "/", false).await.1, "ok");

    let began = Instant::now();
    server.stop.send(()).unwrap();
    timeout(BOUND, server.task)
        .await
        .expect("serve did not return")
        .unwrap();
    // Closed by the shutdown, long before its idle timeout.
    closed(&mut idle).await;
    assert!(began.elapsed() < Duration::from_secs(5));
    assert!(TcpStream::connect(server.address).await.is_err());
}

/// A body that stops half-way is answered 408 at the body timeout and its connection freed;
/// a whole body, sent slowly but within it, is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_answered_408_at_the_body_timeout() {
    let server =
        start(limits(1000, 10_000, 16).with_body_timeout(Duration::from_millis(1500))).await;
    let started = Instant::now();
    let mut stalled = TcpStream::connect(server.address).await.unwrap();
    stalled
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhalf")
        .await
        .unwrap();
    let mut answer = Vec::new();
    timeout(BOUND, stalled.read_to_end(&mut answer))
        .await
        .expect("no answer to a stalled body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(1500));

    // Slow but whole: answered.
    let mut slow = TcpStream::connect(server.address).await.unwrap();
    slow.write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 4\r\n\r\nwh")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    slow.write_all(b"ol").await.unwrap();
    let mut answer = Vec::new();
    timeout(BOUND, slow.read_to_end(&mut answer))
        .await
        .expect("no answer to a whole body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("whol"),
        "{answer}"
    );
    let _ = server.stop.send(());
    server.task.await.unwrap();
}
