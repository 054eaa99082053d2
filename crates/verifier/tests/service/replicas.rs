//! Replicas sharing requests in Redis: started at one, answered at the other, sealed at rest.

use std::sync::Arc;

use eid_core::OsRandom;
use eid_http::{fetch, post_form};
use eid_wallet::online::{Held, receive};
use serde_json::{Value, json};

use crate::common::{NOW, World};
use crate::face::LastByte;
use crate::served;
use crate::{call, outcome, post_json, start_with};

/// Two replicas of the bank's verifier service behind one address (as HAProxy puts them),
/// sharing their online requests in Redis: a request started at one, with the customer's
/// photograph, is fetched, answered and collected at the other, the photograph's face
/// template matched there with the disclosed portrait; a second answer at the first finds
/// it closed; Redis holds
/// none of the answer's data in the clear; a replica with another sealing key, or without
/// Redis, answers 503 rather than guess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: EID_TEST_REDIS_URL (scripts/test starts one)"]
async fn an_online_request_started_at_one_replica_is_answered_and_collected_at_the_other() {
    use eid_verifier::sessions::RedisSessions;
    let Some(redis_url) = eid_core::testing::required_env("EID_TEST_REDIS_URL") else {
        return;
    };
    let world = World::new();
    let served = served::serve(&world).await;
    let front = "http://bank.front.invalid";
    let key = [7u8; 32];
    let replica = |key| {
        Some(
            Box::new(RedisSessions::new(&redis_url, "nanning-bank", key).unwrap())
                as Box<dyn eid_verifier::sessions::SessionStore>,
        )
    };
    // Both replicas compare faces (the stand-in model): the customer's photograph given to
    // one, its template kept in Redis, compared by the other when the answer comes.
    let faces = || Some(Arc::new(LastByte) as Arc<dyn eid_face::CompareFaces>);
    let a = start_with(
        &world,
        &served,
        "nanning-bank",
        true,
        Some(front),
        replica(key),
        faces(),
    )
    .await;
    let b = start_with(
        &world,
        &served,
        "nanning-bank",
        true,
        Some(front),
        replica(key),
        faces(),
    )
    .await;
    let (portrait, customer) = ([0xFF, 0xD8, 0xFF, 1, 2, 70], [0xFF, 0xD8, 0xFF, 3, 4, 70]);

    let started: Value = serde_json::from_slice(
        &post_json(
            &format!("{a}/vp/requests"),
            json!({"purpose": "bank_account_opening",
                   "face": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, customer)}),
        )
        .await,
    )
    .unwrap();
    let (client_id, request_uri) =
        eid_oid4vc::vp::parse_invocation(started["invocation"].as_str().unwrap()).unwrap();
    let path = request_uri.strip_prefix(front).unwrap().to_owned();
    let object = fetch(&format!("{b}{path}"), "application/oauth-authz-req+jwt")
        .await
        .unwrap();
    let mdoc = World::issue_with_portrait(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        served.reference.clone(),
        std::slice::from_ref(&world.nanning.ds.0),
        &portrait,
    );
    let pending = receive(
        &client_id,
        std::str::from_utf8(&object).unwrap(),
        &world.trust,
        NOW,
    )
    .unwrap();
    let answer = pending
        .respond(Held::Mdoc(&mdoc), &world.device_key, &OsRandom, NOW)
        .unwrap();
    assert_eq!(answer.response_uri, format!("{front}/vp/response"));
    post_form(&format!("{b}/vp/response"), answer.body.clone())
        .await
        .unwrap();
    let collected = outcome(&a, &started).await;
    assert_eq!(collected["status"], "accepted", "{collected}");
    assert_eq!(
        collected["report"]["presence"],
        json!({"matched": true, "score": 0.1, "threshold": 0.6}),
        "{collected}"
    );
    assert_eq!(
        collected["report"]["attributes"]["document_number"],
        "450103199003070024"
    );
    assert_eq!(outcome(&b, &started).await, collected);

    // The same answer again, at the replica that did not take it: the request is closed.
    let (status, body) = call("POST", &format!("{a}/vp/response"), answer.body).await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("answered already"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // In Redis: sealed, no attribute in the clear.
    let id = started["id"].as_str().unwrap();
    let mut redis = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(format!("eid:vp:nanning-bank:r:{id}"))
        .query(&mut redis)
        .unwrap();
    assert!(stored.len() > 100);
    let text = String::from_utf8_lossy(&stored);
    assert!(!text.contains("450103199003070024") && !text.contains("bank_account_opening"));
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("eid:vp:nanning-bank:r:{id}"))
        .query(&mut redis)
        .unwrap();
    assert!((890..=900).contains(&ttl), "{ttl}");

    // Another sealing key cannot open it: 503, not a guess.
    let stranger = start_with(
        &world,
        &served,
        "nanning-bank",
        true,
        Some(front),
        replica([8u8; 32]),
        None,
    )
    .await;
    let (status, body) = call("GET", &format!("{stranger}{path}"), String::new()).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    // Nothing listens: 503 too.
    let deaf = start_with(
        &world,
        &served,
        "nanning-bank",
        true,
        Some(front),
        Some(Box::new(
            RedisSessions::new("redis://127.0.0.1:1/", "nanning-bank", key).unwrap(),
        )),
        None,
    )
    .await;
    let (status, body) = call(
        "POST",
        &format!("{deaf}/vp/requests"),
        json!({"purpose": "bank_account_opening"}).to_string(),
    )
    .await;
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("unavailable"));
    // And it says it is not ready, where a replica whose Redis answers is.
    let (status, body) = call("GET", &format!("{deaf}/ready"), String::new()).await;
    assert_eq!(status, 503);
    assert!(
        String::from_utf8_lossy(&body)
            .contains("the shared store of online requests (Redis) does not answer"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, body) = call("GET", &format!("{a}/ready"), String::new()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// Two replicas of the bank's desk sharing their Digital Credentials API requests in Redis:
/// a request the page made at one is answered at the other, in `org-iso-mdoc` and in
/// `openid4vp-v1-signed` (each protocol's key kept sealed); a second answer, at either, finds
/// none waiting; an answer in a protocol the request did not offer leaves it waiting; Redis
/// holds nothing of the request in the clear, for the request's lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Redis: EID_TEST_REDIS_URL (scripts/test starts one)"]
async fn a_browser_request_made_at_one_replica_is_answered_at_the_other() {
    use eid_verifier::sessions::RedisSessions;
    use eid_wallet::dc_api::DigitalCredentialRequest;
    let Some(redis_url) = eid_core::testing::required_env("EID_TEST_REDIS_URL") else {
        return;
    };
    let world = World::new();
    let served = served::serve(&world).await;
    let front = "http://bank.front.invalid";
    let replica = || {
        Some(
            Box::new(RedisSessions::new(&redis_url, "nanning-bank", [9u8; 32]).unwrap())
                as Box<dyn eid_verifier::sessions::SessionStore>,
        )
    };
    let a = start_with(
        &world,
        &served,
        "nanning-bank",
        true,
        Some(front),
        replica(),
        None,
    )
    .await;
    let b = start_with(
        &world,
        &served,
        "nanning-bank",
        true,
        Some(front),
        replica(),
        None,
    )
    .await;
    let mdoc = World::issue_with_status(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        served.reference.clone(),
    );
    let mut redis = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    for (index, protocol) in [(0, "org-iso-mdoc"), (1, "openid4vp-v1-signed")] {
        let (status, body) = call(
            "POST",
            &format!("{a}/dc/requests"),
            json!({"purpose": "bank_account_opening"}).to_string(),
        )
        .await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let started: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(started["origin"], front);
        let response = started["response"].as_str().unwrap();
        let handle = response.rsplit('/').next().unwrap();
        let key = format!(
            "eid:vp:nanning-bank:d:{}",
            hex::encode(eid_crypto::sha256(handle.as_bytes()))
        );
        let stored: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut redis).unwrap();
        let text = String::from_utf8_lossy(&stored);
        assert!(stored.len() > 100 && !text.contains("bank_account_opening"));
        let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut redis).unwrap();
        assert!((290..=300).contains(&ttl), "{ttl}");
        // Counted among those waiting (their number is bounded) until answered.
        let digest = hex::encode(eid_crypto::sha256(handle.as_bytes()));
        let waiting = || {
            let mut command = redis::cmd("ZSCORE");
            command.arg("eid:vp:nanning-bank:dq").arg(&digest);
            command
        };
        let score: Option<i64> = waiting().query(&mut redis).unwrap();
        assert!(score.is_some());
        // Not offered (the bank's registration lists no web origin): still waiting after.
        let (status, body) = call(
            "POST",
            &format!("{b}{response}"),
            json!({"protocol": "openid4vp-v1-unsigned", "data": {}}).to_string(),
        )
        .await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("unsupported_protocol"));
        let entry = &started["digital"]["requests"][index];
        assert_eq!(entry["protocol"], protocol);
        let pending = eid_wallet::dc_api::receive(
            &DigitalCredentialRequest {
                protocol,
                data: &entry["data"],
                origin: front,
            },
            &world.trust,
            NOW,
        )
        .unwrap();
        let answer = pending
            .respond(Held::Mdoc(&mdoc), &world.device_key, &OsRandom, NOW)
            .unwrap();
        let posted = json!({"protocol": protocol, "data": answer});
        let report: Value =
            serde_json::from_slice(&post_json(&format!("{b}{response}"), posted.clone()).await)
                .unwrap();
        assert_eq!(report["accepted"], true, "{protocol}: {report}");
        for replica in [&a, &b] {
            let (status, body) =
                call("POST", &format!("{replica}{response}"), posted.to_string()).await;
            assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
            assert!(String::from_utf8_lossy(&body).contains("unknown_request"));
        }
        let gone: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(&mut redis).unwrap();
        assert_eq!(gone, None);
        let score: Option<i64> = waiting().query(&mut redis).unwrap();
        assert_eq!(score, None);
    }
}
