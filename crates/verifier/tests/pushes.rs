//! The kill switch's last leg, over the network against a real authority: a verifier
//! fetches the authority's status list, follows its event stream, and refuses the moment
//! the authority suspends a lost phone's credentials.

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{NOW, World};
use eid_authority::{Authority, Settings, admin_router, public_router};
use eid_core::status::{CredentialStatus, StatusListReference};
use eid_core::{FixedClock, OsRandom};
use eid_crypto::SigningKey;
use eid_store::{NewCredential, Store};
use eid_trust::{StatusFinding, TrustList, VerifiedTrustList};
use eid_verifier::Verifier;
use eid_verifier::online::{Followed, fetch_status_list, follow_pushes};
use time::Duration;
use tower::ServiceExt;

const ADMIN: &str = "admin-token-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_reaches_a_following_verifier_within_a_second() {
    let world = World::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());

    // The authority, with one credential of one instance held by wallet instance phone-1.
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let positions = store
        .record_credential(
            &NewCredential {
                id: "credential-1",
                id_number: "450103199003070024",
                provider: "superapp-a",
                wallet_instance: "phone-1",
                configuration: "resident_identity_mdoc",
                issued_at: (NOW - Duration::days(1)).unix_timestamp(),
                expires_at: (NOW + Duration::days(90)).unix_timestamp(),
            },
            1,
            64,
            &OsRandom,
        )
        .await
        .unwrap();
    let (shard, idx) = positions[0];
    let ds_key = SigningKey::from_pkcs8_der(&world.nanning.ds_key.to_pkcs8_der().unwrap()).unwrap();
    let authority = Arc::new(Authority::new(
        Settings::new(&base, ADMIN, [7; 32]),
        store,
        Arc::new(ds_key),
        vec![world.nanning.ds.0.clone()],
        VerifiedTrustList::dangerous_unsigned(TrustList::new(NOW)),
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    ));
    tokio::spawn(axum::serve(listener, public_router(authority.clone())).into_future());

    // The verifier fetches the list the credential points to.
    let reference = StatusListReference {
        idx,
        uri: format!("{base}/status/{shard}"),
    };
    let mut verifier = Verifier::new(world.trust.clone(), "nanning-hotel", NOW);
    let token = fetch_status_list(&reference.uri).await.unwrap();
    verifier
        .store_status_list("cn-4501", &reference.uri, &token, NOW)
        .unwrap();
    let status = |verifier: &RwLock<Verifier>| match verifier.read().unwrap().statuses().finding(
        Some("cn-4501"),
        Some(&reference),
        NOW,
    ) {
        StatusFinding::Checked { status, .. } => status,
        StatusFinding::Undetermined(why) => panic!("{why}"),
    };
    let verifier = Arc::new(RwLock::new(verifier));
    assert_eq!(status(&verifier), CredentialStatus::Valid);

    // It follows the pushes.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let following = verifier.clone();
    let events = format!("{base}/events");
    tokio::spawn(async move {
        follow_pushes(&events, &following, |f| {
            let _ = tx.send(f);
        })
        .await
    });
    assert_eq!(rx.recv().await, Some(Followed::Connected));

    // The holder reports the phone lost (the hotline's call to the admin listener).
    let response = admin_router(authority.clone())
        .oneshot(
            Request::post("/admin/wallets/superapp-a/phone-1/suspend")
                .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let pushed = tokio::time::timeout(StdDuration::from_secs(1), rx.recv())
        .await
        .expect("the suspension reached the verifier within a second")
        .unwrap();
    let Followed::Applied(push) = pushed else {
        panic!("{pushed:?}");
    };
    assert_eq!((push.uri.as_str(), push.idx), (reference.uri.as_str(), idx));
    assert_eq!(status(&verifier), CredentialStatus::Suspended);

    // A refetched list says the same, signed.
    let token = fetch_status_list(&reference.uri).await.unwrap();
    let mut fresh = Verifier::new(world.trust.clone(), "nanning-hotel", NOW);
    fresh
        .store_status_list("cn-4501", &reference.uri, &token, NOW)
        .unwrap();
    assert!(matches!(
        fresh
            .statuses()
            .finding(Some("cn-4501"), Some(&reference), NOW),
        StatusFinding::Checked {
            status: CredentialStatus::Suspended,
            ..
        }
    ));
}

#[tokio::test]
async fn fetching_says_what_went_wrong() {
    use eid_verifier::online::OnlineError;
    assert!(matches!(
        fetch_status_list("https://example.invalid/status/0").await,
        Err(OnlineError::Url(_))
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    assert!(matches!(
        fetch_status_list(&format!("http://{address}/status/0")).await,
        Err(OnlineError::Connect { .. })
    ));
}
