//! Status changes published to NATS JetStream as well as over SSE, read back from the
//! stream. Runs when `EID_TEST_NATS_ADDRESS` names a server with JetStream (`.ci/run` sets
//! it to the local one, starting it when missing); skips, saying so, otherwise.

use axum::http::StatusCode;
use base64::Engine;
use eid_authority::Event;
use eid_authority::config::NatsConfig;
use eid_authority::credential::CONFIG_SD_JWT;
use eid_authority::nats::{NatsConnection, NatsPublisher};
use serde_json::json;

use crate::common::*;

#[tokio::test]
#[ignore = "needs NATS JetStream: EID_TEST_NATS_ADDRESS (scripts/test starts one)"]
async fn status_changes_reach_a_jetstream_stream() {
    let Some(address) = eid_core::testing::required_env("EID_TEST_NATS_ADDRESS") else {
        return;
    };
    let pid = std::process::id();
    let config = NatsConfig {
        address: address.clone(),
        stream: format!("EID_TEST_{pid}"),
        subject_prefix: format!("eidtest.{pid}"),
    };
    let publisher = NatsPublisher::start(&config).await.unwrap();
    let world = World::new("sqlite::memory:")
        .await
        .map_authority(|a| a.with_publisher(Box::new(publisher)));

    let card = world.residents[15].clone();
    let (offer, tx_code) = enrol(&world, &card).await;
    let phone = Phone::new("alipay", "nats-phone", 3);
    obtain(&world, &offer, &tx_code, &phone, &[CONFIG_SD_JWT]).await;
    let (status, _) = send(
        &world.admin,
        admin_post("/admin/wallets/alipay/nats-phone/suspend", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Three status events and one wallet notice, in the stream in order.
    let mut reader = NatsConnection::connect(&address).await.unwrap();
    let mut events = Vec::new();
    for _ in 0..50 {
        let info = reader
            .api(
                &format!("$JS.API.STREAM.INFO.{}", config.stream),
                &json!({}),
            )
            .await
            .unwrap();
        if info["state"]["messages"].as_u64() == Some(4) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for seq in 1..=4 {
        let message = reader
            .api(
                &format!("$JS.API.STREAM.MSG.GET.{}", config.stream),
                &json!({"seq": seq}),
            )
            .await
            .unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(message["message"]["data"].as_str().unwrap())
            .unwrap();
        let subject = message["message"]["subject"].as_str().unwrap().to_owned();
        let event: Event = serde_json::from_slice(&data).unwrap();
        assert_eq!(
            subject,
            format!("{}.{}", config.subject_prefix, event.kind())
        );
        events.push(event);
    }
    let suspended = events
        .iter()
        .filter(|e| matches!(e, Event::Status { status, .. } if status == "SUSPENDED"))
        .count();
    assert_eq!(suspended, 3);
    assert!(events.iter().any(|e| matches!(e, Event::WalletNotice { wallet_instance, .. } if wallet_instance == "nats-phone")));
    reader
        .api(
            &format!("$JS.API.STREAM.DELETE.{}", config.stream),
            &json!({}),
        )
        .await
        .unwrap();
}
