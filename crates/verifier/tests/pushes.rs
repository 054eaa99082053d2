//! The kill switch's last leg, over the network against a real authority: a verifier
//! fetches the authority's status list, follows its event stream, and refuses the moment
//! the authority suspends a lost phone's credentials.

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;
#[expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]
mod served;

use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use common::{NOW, World};
use eid_core::status::CredentialStatus;
use eid_trust::StatusFinding;
use eid_verifier::Verifier;
use eid_verifier::online::{Followed, fetch_status_list, follow_pushes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_reaches_a_following_verifier_within_a_second() {
    let world = World::new();
    let served = served::serve(&world).await;
    let reference = &served.reference;

    // The verifier fetches the list the credential points to.
    let mut verifier = Verifier::new(world.trust.clone(), "nanning-hotel", NOW);
    let token = fetch_status_list(&reference.uri).await.unwrap();
    verifier
        .store_status_list("cn-4501", &reference.uri, &token, NOW)
        .unwrap();
    let status = |verifier: &Verifier| match verifier.statuses().finding(
        Some("cn-4501"),
        Some(reference),
        NOW,
    ) {
        StatusFinding::Checked { status, .. } => status,
        StatusFinding::Undetermined(why) => panic!("{why}"),
    };
    assert_eq!(status(&verifier), CredentialStatus::Valid);
    let verifier = Arc::new(RwLock::new(verifier));

    // It follows the pushes.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let following = verifier.clone();
    let events = format!("{}/events", served.base);
    tokio::spawn(async move {
        follow_pushes(&events, &following, |f| {
            let _ = tx.send(f);
        })
        .await
    });
    assert_eq!(rx.recv().await, Some(Followed::Connected));

    // The holder reports the phone lost (the hotline's call to the admin listener).
    served.wallet_action("suspend").await;
    let pushed = tokio::time::timeout(StdDuration::from_secs(1), rx.recv())
        .await
        .expect("the suspension reached the verifier within a second")
        .unwrap();
    let Followed::Applied(push) = pushed else {
        panic!("{pushed:?}");
    };
    assert_eq!(
        (push.uri.as_str(), push.idx),
        (reference.uri.as_str(), reference.idx)
    );
    assert_eq!(
        status(&verifier.read().unwrap()),
        CredentialStatus::Suspended
    );

    // A refetched list says the same, signed.
    let token = fetch_status_list(&reference.uri).await.unwrap();
    let mut fresh = Verifier::new(world.trust.clone(), "nanning-hotel", NOW);
    fresh
        .store_status_list("cn-4501", &reference.uri, &token, NOW)
        .unwrap();
    assert_eq!(status(&fresh), CredentialStatus::Suspended);

    // The phone is found: the reinstatement's push does not lift the suspension (anyone on
    // the path could send one), but says the list is worth fetching now.
    served.wallet_action("reinstate").await;
    let pushed = tokio::time::timeout(StdDuration::from_secs(1), rx.recv())
        .await
        .expect("the reinstatement's push arrived within a second")
        .unwrap();
    let Followed::Eased(push) = pushed else {
        panic!("{pushed:?}");
    };
    assert_eq!(push.idx, reference.idx);
    assert_eq!(
        status(&verifier.read().unwrap()),
        CredentialStatus::Suspended
    );
}

#[tokio::test]
async fn fetching_says_what_went_wrong() {
    use eid_http::HttpError;
    // A scheme the client does not speak (https:// it does, since eid-http has TLS).
    assert!(matches!(
        fetch_status_list("ftp://example.invalid/status/0").await,
        Err(HttpError::Url(_))
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    assert!(matches!(
        fetch_status_list(&format!("http://{address}/status/0")).await,
        Err(HttpError::Connect { .. })
    ));
}
