//! The outbox into NATS JetStream: status changes stored once in the stream whatever
//! delivers them twice, kept in the outbox while NATS is down and delivered when it is
//! back, and followed by `GET /events` from the stream, resuming from `Last-Event-ID`.
//! Runs when `EID_TEST_NATS_ADDRESS` names a server with JetStream (`.ci/run` sets it to
//! the local one, starting it when missing); skips, saying so, otherwise.

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode};
use base64::Engine;
use eid_authority::Event;
use eid_authority::config::NatsConfig;
use eid_authority::credential::CONFIG_SD_JWT;
use eid_authority::nats::NatsConnection;
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tower::ServiceExt;

use crate::common::*;

fn config(address: &str, tag: &str) -> NatsConfig {
    let unique = format!("{}_{tag}", std::process::id());
    NatsConfig {
        address: address.to_owned(),
        stream: format!("EID_TEST_{}", unique.to_ascii_uppercase()),
        subject_prefix: format!("eidtest.{unique}"),
        replicas: 1,
    }
}

/// A world whose authority relays to `config`, with one wallet holding a batch of three.
async fn world_with(config: &NatsConfig, resident: usize, instance: &str) -> World {
    let world = World::new("sqlite::memory:")
        .await
        .map_authority(|a| a.with_nats(config.clone()))
        .await;
    obtain_for(&world, resident, instance).await;
    world
}

async fn obtain_for(world: &World, resident: usize, instance: &str) {
    let card = world.residents[resident].clone();
    let (offer, tx_code) = enrol(world, &card).await;
    let phone = Phone::new("alipay", instance, 3);
    obtain(world, &offer, &tx_code, &phone, &[CONFIG_SD_JWT]).await;
}

async fn suspend(world: &World, instance: &str) {
    let (status, body) = send(
        &world.admin,
        admin_post(
            &format!("/admin/wallets/alipay/{instance}/suspend"),
            json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits until the stream holds `n` messages (at most ten seconds).
async fn wait_for_messages(reader: &mut NatsConnection, stream: &str, n: u64) -> Value {
    let mut info = Value::Null;
    for _ in 0..100 {
        // Not found yet: the relay makes it on its first pass.
        if let Ok(answer) = reader
            .api(&format!("$JS.API.STREAM.INFO.{stream}"), &json!({}))
            .await
        {
            info = answer;
        }
        if info["state"]["messages"].as_u64() == Some(n) {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        info["state"]["messages"].as_u64(),
        Some(n),
        "the stream did not come to {n} messages: {info}"
    );
    info
}

/// Message `seq` of the stream: its subject, headers and event.
async fn message(reader: &mut NatsConnection, stream: &str, seq: u64) -> (String, String, Event) {
    let message = reader
        .api(
            &format!("$JS.API.STREAM.MSG.GET.{stream}"),
            &json!({"seq": seq}),
        )
        .await
        .unwrap();
    let decode = |field: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(message["message"][field].as_str().unwrap_or_default())
            .unwrap()
    };
    let subject = message["message"]["subject"].as_str().unwrap().to_owned();
    let headers = String::from_utf8(decode("hdrs")).unwrap();
    (
        subject,
        headers,
        serde_json::from_slice(&decode("data")).unwrap(),
    )
}

async fn delete_stream(reader: &mut NatsConnection, stream: &str) {
    reader
        .api(&format!("$JS.API.STREAM.DELETE.{stream}"), &json!({}))
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs NATS JetStream: EID_TEST_NATS_ADDRESS (scripts/test starts one)"]
async fn status_changes_are_stored_once_in_a_jetstream_stream() {
    let Some(address) = eid_core::testing::required_env("EID_TEST_NATS_ADDRESS") else {
        return;
    };
    let config = config(&address, "once");
    let world = world_with(&config, 15, "nats-phone").await;
    suspend(&world, "nats-phone").await;

    // Three status events and one wallet notice, each under its outbox row's message id.
    let mut reader = NatsConnection::connect(&address).await.unwrap();
    wait_for_messages(&mut reader, &config.stream, 4).await;
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for seq in 1..=4 {
        let (subject, headers, event) = message(&mut reader, &config.stream, seq).await;
        assert_eq!(
            subject,
            format!("{}.{}", config.subject_prefix, event.kind())
        );
        let id = headers
            .lines()
            .find_map(|l| l.strip_prefix("Nats-Msg-Id:"))
            .expect("a message id")
            .trim()
            .to_owned();
        ids.push(id);
        events.push(event);
    }
    let suspended = events
        .iter()
        .filter(|e| matches!(e, Event::Status { status, .. } if status == "SUSPENDED"))
        .count();
    assert_eq!(suspended, 3);
    assert!(events.iter().any(|e| matches!(e, Event::WalletNotice { wallet_instance, notice, .. } if wallet_instance == "nats-phone" && notice == "credentials_suspended")));
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "one id per row");
    // The outbox is empty, and a row delivered again (a relay killed before it deleted
    // it, or another replica's) is dropped by JetStream.
    let metrics = metrics(&world).await;
    assert!(metrics.contains("\neid_outbox_pending 0\n"), "{metrics}");
    assert!(
        metrics.contains("eid_outbox_published_total{result=\"stored\"} 4"),
        "{metrics}"
    );
    let (subject, _, event) = message(&mut reader, &config.stream, 1).await;
    let again = reader
        .publish_unique(&subject, &ids[0], &serde_json::to_vec(&event).unwrap())
        .await
        .unwrap();
    assert!(again, "a known message id is a duplicate");
    wait_for_messages(&mut reader, &config.stream, 4).await;
    delete_stream(&mut reader, &config.stream).await;
}

async fn metrics(world: &World) -> String {
    let response = world
        .admin
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

async fn ready(world: &World) -> (StatusCode, Value) {
    send(
        &world.admin,
        Request::get("/ready").body(Body::empty()).unwrap(),
    )
    .await
}

#[tokio::test]
#[ignore = "needs NATS JetStream: EID_TEST_NATS_ADDRESS (scripts/test starts one)"]
async fn events_wait_in_the_outbox_while_nats_is_away() {
    let Some(address) = eid_core::testing::required_env("EID_TEST_NATS_ADDRESS") else {
        return;
    };
    let mut cable = Cable::new(&address).await;
    let config = config(&format!("127.0.0.1:{}", cable.port), "away");
    let world = world_with(&config, 16, "away-phone").await;
    let mut reader = NatsConnection::connect(&address).await.unwrap();
    // The relay made the stream and answers.
    for _ in 0..50 {
        if ready(&world).await.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready(&world).await.0, StatusCode::OK);

    cable.cut();
    suspend(&world, "away-phone").await;
    // The change is made and its events wait: /ready and /metrics say so.
    let mut said = (StatusCode::OK, Value::Null);
    for _ in 0..100 {
        said = ready(&world).await;
        if said.0 == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(said.0, StatusCode::SERVICE_UNAVAILABLE, "{}", said.1);
    assert!(said.1.to_string().contains("NATS"), "{}", said.1);
    let waiting = metrics(&world).await;
    assert!(waiting.contains("\neid_outbox_pending 4\n"), "{waiting}");
    assert!(waiting.contains("\neid_broker_up 0\n"), "{waiting}");
    let info = reader
        .api(
            &format!("$JS.API.STREAM.INFO.{}", config.stream),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(info["state"]["messages"], 0, "nothing reached the stream");

    cable.restore().await;
    wait_for_messages(&mut reader, &config.stream, 4).await;
    for _ in 0..50 {
        if ready(&world).await.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready(&world).await.0, StatusCode::OK);
    assert!(metrics(&world).await.contains("\neid_outbox_pending 0\n"));
    delete_stream(&mut reader, &config.stream).await;
}

/// Opens `GET /events`, resuming after `last` when given.
async fn open_events(world: &World, last: Option<u64>) -> BodyDataStream {
    let mut request = Request::get("/events");
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = world
        .public
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body().into_data_stream()
}

/// The next `n` events with their ids, waiting at most five seconds each.
async fn next_events(stream: &mut BodyDataStream, n: usize) -> Vec<(u64, Event)> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    while events.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("an event within five seconds")
            .unwrap()
            .unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let id = block.lines().find_map(|l| l.strip_prefix("id: "));
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(id), Some(data)) = (id, data) {
                events.push((id.parse().unwrap(), serde_json::from_str(data).unwrap()));
            }
        }
    }
    events
}

#[tokio::test]
#[ignore = "needs NATS JetStream: EID_TEST_NATS_ADDRESS (scripts/test starts one)"]
async fn a_reader_of_events_resumes_from_its_last_event_id() {
    let Some(address) = eid_core::testing::required_env("EID_TEST_NATS_ADDRESS") else {
        return;
    };
    let config = config(&address, "resume");
    let world = world_with(&config, 17, "first-phone").await;
    obtain_for(&world, 18, "second-phone").await;
    let mut reader = NatsConnection::connect(&address).await.unwrap();
    let mut events = open_events(&world, None).await;
    // The consumer exists before the change is made.
    tokio::time::sleep(Duration::from_millis(300)).await;
    suspend(&world, "first-phone").await;
    let first = next_events(&mut events, 3).await;
    assert!(
        first
            .iter()
            .all(|(_, e)| matches!(e, Event::Status { status, .. } if status == "SUSPENDED"))
    );
    let last = first.iter().map(|(id, _)| *id).max().unwrap();
    drop(events);

    // Changed while no one reads: the next reader, from the last id it saw, gets exactly
    // what it missed (the wallet notices go to another subject).
    suspend(&world, "second-phone").await;
    wait_for_messages(&mut reader, &config.stream, 8).await;
    let mut resumed = open_events(&world, Some(last)).await;
    let missed = next_events(&mut resumed, 3).await;
    assert!(
        missed.iter().all(|(id, _)| *id > last),
        "{missed:?} after {last}"
    );
    let first_entries: Vec<_> = first.iter().map(|(_, e)| e.clone()).collect();
    assert!(missed.iter().all(|(_, e)| !first_entries.contains(e)));
    // From the start of the stream: all six status events, in order.
    let mut everything = open_events(&world, Some(0)).await;
    let all = next_events(&mut everything, 6).await;
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
    delete_stream(&mut reader, &config.stream).await;
}

#[tokio::test]
#[ignore = "needs NATS JetStream: EID_TEST_NATS_ADDRESS (scripts/test starts one)"]
async fn a_reader_that_saw_no_event_yet_resumes_from_where_it_connected() {
    let Some(address) = eid_core::testing::required_env("EID_TEST_NATS_ADDRESS") else {
        return;
    };
    let config = config(&address, "position");
    let world = world_with(&config, 19, "third-phone").await;
    let mut reader = NatsConnection::connect(&address).await.unwrap();
    // The stream's first block is the reader's resume point: an id, no event.
    let mut events = open_events(&world, None).await;
    let chunk = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the resume point at once")
        .unwrap()
        .unwrap();
    let block = std::str::from_utf8(&chunk).unwrap();
    assert!(!block.contains("data:"), "{block}");
    let position: u64 = block
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("an id")
        .parse()
        .unwrap();
    // The connection goes before any event came; a change is made meanwhile.
    drop(events);
    suspend(&world, "third-phone").await;
    wait_for_messages(&mut reader, &config.stream, position + 4).await;
    // From that id the reader gets what it would otherwise have lost.
    let mut resumed = open_events(&world, Some(position)).await;
    let missed = next_events(&mut resumed, 3).await;
    assert!(
        missed.iter().all(|(id, e)| *id > position
            && matches!(e, Event::Status { status, .. } if status == "SUSPENDED")),
        "{missed:?} after {position}"
    );
    delete_stream(&mut reader, &config.stream).await;
}

#[tokio::test]
#[ignore = "needs NATS JetStream: EID_TEST_NATS_ADDRESS (scripts/test starts one)"]
async fn a_reader_that_goes_gives_its_slot_back_on_a_quiet_stream() {
    let Some(address) = eid_core::testing::required_env("EID_TEST_NATS_ADDRESS") else {
        return;
    };
    let config = config(&address, "slots");
    let world = World::new("sqlite::memory:")
        .await
        .map_authority(|a| a.with_nats(config.clone()))
        .await;
    // The relay makes the stream on its first pass.
    let mut reader = NatsConnection::connect(&address).await.unwrap();
    wait_for_messages(&mut reader, &config.stream, 0).await;
    // Every slot taken by a reader, then all of them gone, with no event in between.
    let mut readers = Vec::new();
    for _ in 0..eid_authority::MAX_EVENT_STREAMS {
        readers.push(open_events(&world, None).await);
    }
    let (status, _) = send(
        &world.public,
        Request::get("/events").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the cap holds");
    drop(readers);
    let mut opened = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = world
            .public
            .clone()
            .oneshot(Request::get("/events").body(Body::empty()).unwrap())
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            opened = true;
            break;
        }
    }
    assert!(
        opened,
        "the slots came back within five seconds, with no event"
    );
    delete_stream(&mut reader, &config.stream).await;
}
