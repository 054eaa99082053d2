//! A desk's verification through the service that ships against the library it wraps, per
//! core, in one run, for the offline, online and in-person channels:
//! `cargo bench -p eid-verifier --bench service`.
//!
//! Ours: the desk's router (`eid_verifier::service::router`, as `eid verifier serve` runs
//! it: routing, the request-id and metrics layers, the replay memory, the session store, the
//! report as JSON), answering in process, and for offline codes also over sockets.
//! Baseline: the same `Verifier` called directly.
//!
//! - Offline (the airport): `POST /verify/offline` against `verify_offline`, on fresh codes
//!   (a desk accepts a code once) made outside the timed part.
//! - Offline over sockets, the desk saturated: the same router served by `eid_serve::serve`
//!   on loopback as `eid verifier serve` serves it (a runtime of a worker per core, the
//!   default limits, a JSON log line formatted for every request), four scanner threads
//!   sending fresh codes back to back on kept-alive connections; the service's side is its
//!   CPU time, every thread's but the scanners', as in person below.
//! - Online (the bank, OpenID4VP): `POST /vp/requests` and `GET` the request object for
//!   each of a round's sessions, then `POST` each phone's answer to the response URI and
//!   `GET` the result, against `online_request` for each then `verify_online` for each; the
//!   phones' part between (checking the request, answering) is not timed in either.
//! - Online over sockets: the same four requests of each session on kept-alive connections
//!   to the router served by `eid_serve::serve` (as offline over sockets), from ten pages on
//!   threads of their own: each starts its sessions back to back, then (the desk idle, not
//!   counted) the phones answer, then the pages post the answers and read the results back
//!   to back. The service's side is its CPU time.
//!
//! - In person (the hotel, ISO 18013-5 over TCP): `POST /verify/in-person` with the phone's
//!   engagement, the desk connecting to a phone on loopback, against `ReaderSession::start`
//!   then `finish` (every start of a round, the phones, every finish, as online). The
//!   phones answer on threads of their own, so the service's side is measured as the CPU
//!   time of every thread but the phones' (`/proc/self/task/*/schedstat`) — per core it
//!   uses, as the goal says — with a round's sessions all in flight at once, as at a busy
//!   desk, whose thread works on one session while another waits for its phone (one at a
//!   time, a core idles between the messages and the work resumes on cold caches). The
//!   library's side is its wall time: one thread computing, never waiting. The socket's
//!   cost stays in the service's, as far as the kernel charges it to the desk's threads
//!   (on loopback, receiving is charged to the sender: the phone).
//!
//! In every channel the service formats its JSON log line for each request, as it does
//! when it runs (into a sink here).
//!
//! Rounds of one then the other, 31 times; the ratio is the median of the per-round
//! `library / service` times — the service's rate per core as a share of the library's.
//! Goal (issue 18): ≥ 0.7. Results go in docs/performance.md.

#![expect(
    clippy::unwrap_used,
    reason = "benchmark setup: a failure is a failed run"
)]
#![expect(clippy::print_stdout, reason = "the benchmark prints its ratio")]

#[path = "../tests/common/mod.rs"]
#[expect(
    dead_code,
    reason = "the shared world has more than the benchmark uses"
)]
mod common;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use common::{IDX, NOW, Reader, STATUS_URI, World};
use eid_core::status::StatusListReference;
use eid_core::{FixedClock, OsRandom};
use eid_crypto::Signer;
use eid_mdoc::engagement::DeviceEngagement;
use eid_mdoc::offline::present_offline;
use eid_mdoc::transport::{Framed, Transport};
use eid_trust::Purpose;
use eid_verifier::in_person::{ReaderIdentity, ReaderSession};
use eid_verifier::openid4vp::OnlineTerms;
use eid_verifier::service::{Service, ServiceConfig, router};
use eid_verifier::{Channel, Check};
use eid_wallet::in_person::Engagement;
use eid_wallet::online::{Held, OnlineResponse, receive};
use serde_json::{Value, json};
use time::Duration;
use tokio::runtime::Runtime;
use tokio::time::Instant;
use tower::ServiceExt;

const ROUNDS: usize = 31;
/// Sessions per round, in person (each has its own phone thread and socket).
const IN_PERSON_ROUND: usize = 50;
/// Codes per round, offline.
const ROUND: usize = 200;
/// Sessions per round, online (a session costs about four codes).
const ONLINE_ROUND: usize = 50;
/// The service's address as its requests name it; nothing listens there.
const BASE: &str = "http://127.0.0.1:1";

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let world = World::new();
    // Every request's JSON log line is formatted, as in the service; into a sink.
    eid_serve::init_logs_to(std::io::sink);
    offline(&runtime, &world);
    online(&runtime, &world);
    in_person(&runtime, &world);
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints one channel's medians and ratio from per-round seconds per operation.
fn report(channel: &str, unit: &str, service: &mut [f64], library: &mut [f64]) {
    let mut ratios: Vec<f64> = library
        .iter()
        .zip(service.iter())
        .map(|(l, s)| l / s)
        .collect();
    let (ratio, svc, lib) = (median(&mut ratios), median(service), median(library));
    println!(
        "{channel}: service {:.1} µs, library {:.1} µs per {unit} (medians of {ROUNDS} rounds); service / library rate per core: {ratio:.2} (goal ≥ 0.7)",
        svc * 1e6,
        lib * 1e6
    );
}

/// The router of `party`'s desk service, with `reader`'s key and certificate if it signs
/// requests (online, in person).
fn desk(world: &World, party: &str, reader: Option<&Reader>) -> Router {
    let identity = reader.map(|r| {
        let key = eid_crypto::SigningKey::from_pkcs8_der(&r.key.to_pkcs8_der().unwrap()).unwrap();
        (Arc::new(key) as Arc<dyn Signer>, r.certificate.clone())
    });
    router(Service::new(
        world.verifier(party),
        ServiceConfig {
            public_url: BASE.into(),
            trust_roots: vec![world.root.verifying_key().clone()],
            status_lists: Vec::new(),
            status_shards: Vec::new(),
            events: Vec::new(),
            identity,
            request_lifetime: Duration::minutes(5),
            face: None,
        },
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    ))
}

/// Sends `request` through `app`; the status and the body.
async fn call(app: &Router, request: Request<Body>) -> (u16, Vec<u8>) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, body.to_vec())
}

/// The name of the threads that play the desk's scanners over sockets, whose time is not
/// the service's.
const SCANNER: &str = "scanner";
/// Connections kept open to the desk by the scanners, each sending its next code as soon as
/// the answer to the last is in: enough to keep both of the desk's workers busy.
const SCANNERS: usize = 4;
/// Pages (with their phones) running online sessions at once over sockets: a phone's part
/// takes longer than the desk's, so more of them than scanners keep the desk busy.
const PAGES: usize = 10;
/// Codes per round over sockets.
const SOCKET_ROUND: usize = 400;

/// Offline verification by the library, by the router in process, and by the desk
/// saturated over sockets, as `eid verifier serve` runs it: the same router served by
/// `eid_serve::serve` under the default limits, on a runtime of a worker per core.
/// [`SCANNERS`] threads send fresh codes back to back over kept-alive HTTP/1.1 connections;
/// the service's side over sockets is the CPU time of every thread but theirs, as in person.
fn offline(runtime: &Runtime, world: &World) {
    let credential = world.airport_credential(&StatusListReference {
        uri: STATUS_URI.into(),
        idx: IDX,
    });
    let library = world.verifier("nanning-airport");
    let app = desk(world, "nanning-airport", None);
    let requested = library.registered_attributes(Purpose::AirportSecurity);
    let check = Check {
        purpose: Purpose::AirportSecurity,
        requested: &requested,
        channel: Channel::OfflineQr,
        now: NOW,
    };
    let codes = |n: usize| -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| present_offline(&credential, &world.device_key, NOW).unwrap())
            .collect()
    };
    let (_served, mut connections) =
        served_over_sockets(desk(world, "nanning-airport", None), SCANNERS);
    let (mut ours, mut sockets, mut baseline, mut rates) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let batch = codes(ROUND);
        let started = Instant::now();
        for code in &batch {
            let report = library.verify_offline(code, &check);
            assert!(report.accepted, "the library refused: {report:?}");
        }
        baseline.push(started.elapsed().as_secs_f64() / ROUND as f64);

        let batch = codes(ROUND);
        let started = Instant::now();
        runtime.block_on(async {
            for code in &batch {
                let request = Request::post("/verify/offline?purpose=airport_security")
                    .header("content-type", "application/octet-stream")
                    .body(Body::from(code.clone()))
                    .unwrap();
                let (_, body) = call(&app, request).await;
                assert!(
                    body.windows(15).any(|w| w == b"\"accepted\":true"),
                    "the service refused: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        });
        ours.push(started.elapsed().as_secs_f64() / ROUND as f64);

        let batch = codes(SOCKET_ROUND);
        let (cpu, wall) = std::thread::scope(|s| {
            let before = cpu_but(SCANNER);
            let started = Instant::now();
            let scanners: Vec<_> = connections
                .iter_mut()
                .zip(batch.chunks(SOCKET_ROUND / SCANNERS))
                .map(|(connection, codes)| {
                    std::thread::Builder::new()
                        .name(SCANNER.into())
                        .spawn_scoped(s, move || {
                            for code in codes {
                                let body = scan(connection, code);
                                assert!(
                                    body.windows(15).any(|w| w == b"\"accepted\":true"),
                                    "the service refused: {}",
                                    String::from_utf8_lossy(&body)
                                );
                            }
                        })
                        .unwrap()
                })
                .collect();
            for scanner in scanners {
                scanner.join().unwrap();
            }
            (cpu_but(SCANNER) - before, started.elapsed().as_secs_f64())
        });
        sockets.push(cpu / SOCKET_ROUND as f64);
        rates.push(SOCKET_ROUND as f64 / wall);
    }
    report(
        "offline verification",
        "code",
        &mut ours,
        &mut baseline.clone(),
    );
    report(
        "offline verification over sockets, saturated (the service's CPU time)",
        "code",
        &mut sockets,
        &mut baseline,
    );
    println!(
        "  the desk answered {:.0} codes/s (median of {ROUNDS} rounds) to {SCANNERS} scanners sharing its {} cores",
        median(&mut rates),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
}

/// `app` served by `eid_serve::serve` on loopback under the default limits, on a runtime of
/// a worker per core, as `eid verifier serve` serves it, with `connections` kept-alive
/// connections to it. The runtime serves as long as it is kept.
fn served_over_sockets(
    app: Router,
    connections: usize,
) -> (Runtime, Vec<std::io::BufReader<std::net::TcpStream>>) {
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = served
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    served.spawn(eid_serve::serve(
        listener,
        app,
        eid_serve::Limits::default(),
        std::future::pending(),
    ));
    let connected = (0..connections)
        .map(|_| {
            let stream = std::net::TcpStream::connect(address).unwrap();
            stream.set_nodelay(true).unwrap();
            std::io::BufReader::new(stream)
        })
        .collect();
    (served, connected)
}

/// Sends `code` to the desk's `POST /verify/offline` on a kept-alive connection; the
/// answer's body once its status is 200.
fn scan(connection: &mut std::io::BufReader<std::net::TcpStream>, code: &[u8]) -> Vec<u8> {
    exchange(
        connection,
        "POST",
        "/verify/offline?purpose=airport_security",
        "application/octet-stream",
        code,
    )
}

/// One HTTP/1.1 request on a kept-alive connection; the answer's body once its status is
/// 200.
fn exchange(
    connection: &mut std::io::BufReader<std::net::TcpStream>,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Vec<u8> {
    use std::io::{BufRead as _, Read as _, Write as _};
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: desk\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let stream = connection.get_mut();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut line = String::new();
    connection.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "the desk answered {line}");
    let mut length = 0;
    loop {
        line.clear();
        connection.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    connection.read_exact(&mut body).unwrap();
    body
}

/// The start of an online session over a kept-alive connection, as a bank's page makes it:
/// `POST /vp/requests`, then `GET` the request object; the client id, the object and the
/// result's path.
fn start_session(
    connection: &mut std::io::BufReader<std::net::TcpStream>,
) -> (String, String, String) {
    let started: Value = serde_json::from_slice(&exchange(
        connection,
        "POST",
        "/vp/requests",
        "application/json",
        br#"{"purpose":"bank_account_opening"}"#,
    ))
    .unwrap();
    let (client_id, request_uri) =
        eid_oid4vc::vp::parse_invocation(started["invocation"].as_str().unwrap()).unwrap();
    let path = request_uri.strip_prefix(BASE).unwrap();
    let object = exchange(connection, "GET", path, "text/plain", b"");
    (
        client_id,
        String::from_utf8(object).unwrap(),
        started["result"].as_str().unwrap().to_owned(),
    )
}

/// The end of an online session: the phone's `answer` posted to the response URI, then the
/// result (at `result`) read, accepted.
fn finish_session(
    connection: &mut std::io::BufReader<std::net::TcpStream>,
    answer: &str,
    result: &str,
) {
    exchange(
        connection,
        "POST",
        "/vp/response",
        "application/x-www-form-urlencoded",
        answer.as_bytes(),
    );
    let outcome = exchange(connection, "GET", result, "text/plain", b"");
    assert!(
        outcome.windows(19).any(|w| w == b"\"status\":\"accepted\""),
        "the service refused: {}",
        String::from_utf8_lossy(&outcome)
    );
}

/// The phone's side, not timed: checks the request object, answers with the mdoc.
fn phone(world: &World, client_id: &str, request_object: &str) -> OnlineResponse {
    receive(client_id, request_object, &world.trust, NOW)
        .unwrap()
        .respond(
            Held::Mdoc(&world.credential),
            &world.device_key,
            &OsRandom,
            NOW,
        )
        .unwrap()
}

fn online(runtime: &Runtime, world: &World) {
    let library = world.verifier("nanning-bank");
    let app = desk(world, "nanning-bank", Some(&world.bank));
    // The library's request, as the service makes it.
    let terms = OnlineTerms {
        purpose: Purpose::BankAccountOpening,
        attributes: None,
        intent_to_retain: false,
        signer: &world.bank.key,
        certificate: &world.bank.certificate,
        request_base: &format!("{BASE}/vp/request"),
        response_uri: &format!("{BASE}/vp/response"),
        lifetime: Duration::minutes(5),
    };
    let jwe = |answer: &OnlineResponse| {
        url::form_urlencoded::parse(answer.body.as_bytes())
            .find(|(k, _)| k == "response")
            .unwrap()
            .1
            .into_owned()
    };
    // The same desk served over sockets as `eid verifier serve` serves it.
    let (_served, mut connections) =
        served_over_sockets(desk(world, "nanning-bank", Some(&world.bank)), PAGES);
    let (mut ours, mut baseline, mut sockets) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        // Over sockets: [`PAGES`] pages (threads not the service's) start their sessions
        // back to back, then (the desk idle) their phones answer, then the pages post the
        // answers and read the results back to back — as in process, the phones' work apart
        // from the desk's. The service's side is its CPU time.
        let phones_done = std::sync::Barrier::new(PAGES + 1);
        let started = std::sync::Barrier::new(PAGES + 1);
        let counted = std::sync::Barrier::new(PAGES + 1);
        let cpu = std::thread::scope(|s| {
            let before = cpu_but(SCANNER);
            let pages: Vec<_> = connections
                .iter_mut()
                .map(|connection| {
                    let (started, phones_done, counted) = (&started, &phones_done, &counted);
                    std::thread::Builder::new()
                        .name(SCANNER.into())
                        .spawn_scoped(s, move || {
                            let made: Vec<_> = (0..ONLINE_ROUND / PAGES)
                                .map(|_| start_session(connection))
                                .collect();
                            started.wait();
                            let answers: Vec<_> = made
                                .iter()
                                .map(|(client_id, object, _)| phone(world, client_id, object).body)
                                .collect();
                            phones_done.wait();
                            // Not before the service's CPU is read: its work on the
                            // answers must not fall in the idle window.
                            counted.wait();
                            for ((_, _, result), answer) in made.iter().zip(&answers) {
                                finish_session(connection, answer, result);
                            }
                        })
                        .unwrap()
                })
                .collect();
            // The service's CPU while the phones answer (it idles) is left out, as their
            // part is in process.
            started.wait();
            let idle = cpu_but(SCANNER);
            phones_done.wait();
            let during = cpu_but(SCANNER) - idle;
            counted.wait();
            for page in pages {
                page.join().unwrap();
            }
            cpu_but(SCANNER) - before - during
        });
        sockets.push(cpu / (ONLINE_ROUND / PAGES * PAGES) as f64);

        // A round's requests are made, then answered by the phones (not timed), then
        // checked: as at a busy desk, the work is back to back, not paced by one phone.
        let started = Instant::now();
        let made: Vec<_> = (0..ONLINE_ROUND)
            .map(|_| library.online_request(&terms, NOW, &OsRandom).unwrap())
            .collect();
        let mut timed = started.elapsed();
        let answers: Vec<_> = made
            .iter()
            .map(|m| {
                let (client_id, _) = eid_oid4vc::vp::parse_invocation(&m.invocation).unwrap();
                jwe(&phone(world, &client_id, &m.request_object))
            })
            .collect();
        let started = Instant::now();
        for (m, answer) in made.iter().zip(&answers) {
            let report = library.verify_online(&m.session, answer, NOW);
            assert!(report.accepted, "the library refused: {report:?}");
        }
        timed += started.elapsed();
        baseline.push(timed.as_secs_f64() / ONLINE_ROUND as f64);

        let timed = runtime.block_on(async {
            let started = Instant::now();
            let mut made = Vec::with_capacity(ONLINE_ROUND);
            for _ in 0..ONLINE_ROUND {
                let (status, body) = call(
                    &app,
                    Request::post("/vp/requests")
                        .header("content-type", "application/json")
                        .body(Body::from(
                            json!({"purpose": "bank_account_opening"}).to_string(),
                        ))
                        .unwrap(),
                )
                .await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                let started: Value = serde_json::from_slice(&body).unwrap();
                let (client_id, request_uri) =
                    eid_oid4vc::vp::parse_invocation(started["invocation"].as_str().unwrap())
                        .unwrap();
                let path = request_uri.strip_prefix(BASE).unwrap().to_owned();
                let (status, object) =
                    call(&app, Request::get(path).body(Body::empty()).unwrap()).await;
                assert_eq!(status, 200);
                let result = started["result"].as_str().unwrap().to_owned();
                made.push((client_id, object, result));
            }
            let mut timed = started.elapsed();
            let answers: Vec<_> = made
                .iter()
                .map(|(client_id, object, _)| {
                    phone(world, client_id, std::str::from_utf8(object).unwrap()).body
                })
                .collect();
            let started = Instant::now();
            for ((_, _, result), answer) in made.into_iter().zip(answers) {
                let (status, body) = call(
                    &app,
                    Request::post("/vp/response")
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Body::from(answer))
                        .unwrap(),
                )
                .await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                let (status, body) =
                    call(&app, Request::get(result).body(Body::empty()).unwrap()).await;
                assert_eq!(status, 200);
                assert!(
                    body.windows(19).any(|w| w == b"\"status\":\"accepted\""),
                    "the service refused: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            timed += started.elapsed();
            timed
        });
        ours.push(timed.as_secs_f64() / ONLINE_ROUND as f64);
    }
    report(
        "online verification (OpenID4VP)",
        "session",
        &mut ours,
        &mut baseline.clone(),
    );
    report(
        "online verification (OpenID4VP) over sockets (the service's CPU time)",
        "session",
        &mut sockets,
        &mut baseline,
    );
}

/// The name of the phones' threads, whose time is not the service's.
const PHONE: &str = "phone";

/// The CPU seconds this process's threads have run, but those named `others`: the
/// service's (the router's threads and the blocking pool's), from each thread's
/// `/proc/self/task/<tid>/schedstat` (nanoseconds on a CPU).
fn cpu_but(others: &str) -> f64 {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("schedstat")),
        ) else {
            continue; // ended meanwhile
        };
        if name.trim_end() != others {
            total += stat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap();
        }
    }
    total as f64 / 1e9
}

/// The phone's answer to `establishment`, not timed by the caller.
fn phone_in_person(world: &World, engagement: Engagement, establishment: &[u8]) -> Vec<u8> {
    engagement
        .receive(establishment, &world.trust, NOW)
        .unwrap()
        .respond(&world.credential, &world.device_key)
        .unwrap()
}

fn in_person(runtime: &Runtime, world: &World) {
    let library = world.verifier("nanning-hotel");
    let asked = library.registered_attributes(Purpose::HotelCheckIn);
    // The hotel's purpose allows delegation: the desk asks for both documents, each signed.
    let delegation = library.delegation_allowed(Purpose::HotelCheckIn);
    let identity = ReaderIdentity {
        signer: &world.hotel.key,
        certificate: &world.hotel.certificate,
        relying_party: "nanning-hotel",
    };
    let app = desk(world, "nanning-hotel", Some(&world.hotel));
    let (mut ours, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        // As online: a round's sessions are started, answered by the phones (not timed),
        // then finished — back to back, as the service's are.
        let engagements: Vec<_> = (0..IN_PERSON_ROUND)
            .map(|_| {
                let engagement = Engagement::new(None).unwrap();
                let qr = engagement.qr_uri();
                (engagement, qr)
            })
            .collect();
        let started = Instant::now();
        let sessions: Vec<_> = engagements
            .iter()
            .map(|(_, qr)| {
                let read = DeviceEngagement::from_qr_uri(qr).unwrap();
                ReaderSession::start(&read, &identity, Purpose::HotelCheckIn, &asked, delegation)
                    .unwrap()
            })
            .collect();
        let mut timed = started.elapsed();
        let answers: Vec<_> = engagements
            .into_iter()
            .zip(&sessions)
            .map(|((engagement, _), (_, establishment))| {
                phone_in_person(world, engagement, establishment)
            })
            .collect();
        let started = Instant::now();
        for ((session, _), answer) in sessions.into_iter().zip(&answers) {
            let report = session.finish(&library, answer, NOW);
            assert!(report.accepted, "the library refused: {report:?}");
        }
        timed += started.elapsed();
        baseline.push(timed.as_secs_f64() / IN_PERSON_ROUND as f64);

        // A round's phones are listening before the service's clock starts.
        let phones: Vec<_> = (0..IN_PERSON_ROUND)
            .map(|_| {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let address = listener.local_addr().unwrap().to_string();
                let engagement = Engagement::new(Some(&address)).unwrap();
                let body = json!({"purpose": "hotel_check_in", "engagement": engagement.qr_uri()})
                    .to_string();
                (listener, engagement, body)
            })
            .collect();
        let cpu = std::thread::scope(|s| {
            let mut bodies = Vec::with_capacity(IN_PERSON_ROUND);
            let mut threads = Vec::with_capacity(IN_PERSON_ROUND);
            for (listener, engagement, body) in phones {
                bodies.push(body);
                threads.push(
                    std::thread::Builder::new()
                        .name(PHONE.into())
                        .spawn_scoped(s, move || {
                            let (stream, _) = listener.accept().unwrap();
                            stream.set_nodelay(true).unwrap();
                            let mut transport = Framed(stream);
                            let establishment = transport.receive().unwrap();
                            let answer = phone_in_person(world, engagement, &establishment);
                            transport.send(&answer).unwrap();
                        })
                        .unwrap(),
                );
            }
            // All of a round's sessions at once, as at a busy desk: while one waits for its
            // phone, the others are worked on.
            let before = cpu_but(PHONE);
            runtime.block_on(async {
                let mut sessions = tokio::task::JoinSet::new();
                for body in bodies {
                    let app = app.clone();
                    let request = Request::post("/verify/in-person")
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .unwrap();
                    sessions.spawn(async move { call(&app, request).await });
                }
                while let Some(done) = sessions.join_next().await {
                    let (status, body) = done.unwrap();
                    assert_eq!(status, 200);
                    assert!(
                        body.windows(15).any(|w| w == b"\"accepted\":true"),
                        "the service refused: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            });
            let cpu = cpu_but(PHONE) - before;
            for thread in threads {
                thread.join().unwrap();
            }
            cpu
        });
        ours.push(cpu / IN_PERSON_ROUND as f64);
    }
    report(
        "in-person verification (ISO 18013-5 over TCP; the service's CPU time)",
        "session",
        &mut ours,
        &mut baseline,
    );
}
