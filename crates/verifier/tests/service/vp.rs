//! OpenID4VP: the outcome is the requester's alone; a forged refusal or a decline closes nothing.

use eid_core::OsRandom;
use eid_http::post_form;
use serde_json::json;

use crate::common::World;
use crate::served;
use crate::{call, outcome, phone_answers, public_request, start};

/// The request's id is public (in the invocation and the answer's `kid`): it gives no
/// outcome; and an answer anyone can make from the public request object (here: a JWE to
/// its key with garbage inside) does not close the request — the phone's answer still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outcome_is_the_requesters_and_a_forged_refusal_does_not_close_the_request() {
    let world = World::new();
    let served = served::serve(&world).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let (started, object, request) = public_request(&bank).await;
    let id = started["id"].as_str().unwrap();
    let (status, _) = call("GET", &format!("{bank}/vp/results/{id}"), String::new()).await;
    assert_eq!(status, 404);
    let forged = eid_crypto::jwe::encrypt(
        &eid_crypto::jwe::Recipient {
            key: request.encryption_key().unwrap(),
            enc: eid_crypto::jwe::Enc::A128Gcm,
            apu: b"",
            apv: b"",
        },
        json!({"vp_token": {"mdoc": ["AAAA"]}, "state": request.state})
            .to_string()
            .as_bytes(),
        &OsRandom,
    )
    .unwrap();
    let body = format!(
        "response={}",
        url::form_urlencoded::byte_serialize(forged.as_bytes()).collect::<String>()
    );
    post_form(&format!("{bank}/vp/response"), body)
        .await
        .unwrap();
    let refused = outcome(&bank, &started).await;
    assert_eq!(refused["status"], "refused", "{refused}");
    phone_answers(&world, &served, &object).await;
    let accepted = outcome(&bank, &started).await;
    assert_eq!(accepted["status"], "accepted", "{accepted}");
}

/// The holder declines: an error response (`access_denied`) in the clear, found by its
/// `state`, makes the outcome `refused` with `holder_declined`, so the bank's page stops
/// waiting. Anyone who read the request object could send it, so it does not close the
/// request either; an error response without a state, or with an unknown one, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_request_says_so_and_stays_open() {
    let world = World::new();
    let served = served::serve(&world).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let (started, object, request) = public_request(&bank).await;
    let response_uri = format!("{bank}/vp/response");
    let (status, body) = call("POST", &response_uri, "error=access_denied".into()).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _) = call(
        "POST",
        &response_uri,
        "error=access_denied&state=not-a-request".into(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(outcome(&bank, &started).await["status"], "pending");
    post_form(
        &response_uri,
        format!(
            "error=access_denied&error_description=no&state={}",
            request.state.unwrap()
        ),
    )
    .await
    .unwrap();
    let declined = outcome(&bank, &started).await;
    assert_eq!(declined["status"], "refused", "{declined}");
    assert_eq!(
        declined["report"]["reasons"][0]["reason"],
        "holder_declined"
    );
    // The holder changes their mind: the answer still counts.
    phone_answers(&world, &served, &object).await;
    assert_eq!(outcome(&bank, &started).await["status"], "accepted");
}
