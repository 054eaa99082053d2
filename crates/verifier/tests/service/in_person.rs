//! In person: a phone that hangs up, oversends or is not there is refused `transport_failed`.

use std::time::Duration as StdDuration;

use serde_json::{Value, json};

use crate::common::World;
use crate::served;
use crate::{post_json, start};

/// The desk's side of an in-person exchange with a phone that misbehaves: one that hangs up
/// without answering, one that announces a message above the limit, one that is not there.
/// Each is refused as `transport_failed`, saying what happened, and the desk goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_that_hangs_up_or_oversends_is_refused_in_person() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let world = World::new();
    let served = served::serve(&world).await;
    let hotel = start(&world, &served, "nanning-hotel", true).await;
    let ask = |address: String| {
        let engagement = eid_wallet::in_person::Engagement::new(Some(&address)).unwrap();
        json!({"purpose": "hotel_check_in", "engagement": engagement.qr_uri()})
    };
    // Reads the desk's request, then does `then` with the stream.
    async fn phone(
        listener: tokio::net::TcpListener,
        then: impl AsyncFnOnce(tokio::net::TcpStream),
    ) {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.unwrap();
        let mut establishment = vec![0u8; u32::from_be_bytes(header) as usize];
        stream.read_exact(&mut establishment).await.unwrap();
        then(stream).await;
    }
    let cases: [(&str, Option<u32>); 2] = [
        ("hangs up", None),
        (
            "oversends",
            Some(u32::try_from(eid_mdoc::MAX_LEN).unwrap() + 1),
        ),
    ];
    for (case, announced) in cases {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let peer = tokio::spawn(phone(listener, async move |mut stream| {
            if let Some(len) = announced {
                stream.write_all(&len.to_be_bytes()).await.unwrap();
                // Then keeps the connection open: the desk must not wait for the bytes.
                tokio::time::sleep(StdDuration::from_secs(30)).await;
            }
        }));
        let report: Value = serde_json::from_slice(
            &post_json(&format!("{hotel}/verify/in-person"), ask(address)).await,
        )
        .unwrap();
        assert_eq!(report["accepted"], false, "{case}: {report}");
        assert_eq!(
            report["reasons"][0]["reason"], "transport_failed",
            "{case}: {report}"
        );
        let message = report["reasons"][0]["message"].as_str().unwrap();
        match announced {
            None => assert!(
                message.ends_with("the phone hung up without answering"),
                "{message}"
            ),
            Some(_) => assert!(message.ends_with("above 1 MiB"), "{message}"),
        }
        assert!(!message.contains("os error"), "{message}");
        peer.abort();
    }
    // Nobody listens there any more.
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = gone.local_addr().unwrap().to_string();
    drop(gone);
    let report: Value = serde_json::from_slice(
        &post_json(&format!("{hotel}/verify/in-person"), ask(address)).await,
    )
    .unwrap();
    assert_eq!(
        report["reasons"][0]["reason"], "transport_failed",
        "{report}"
    );
    assert!(
        report["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{report}"
    );
}
