//! The verifier service over HTTP on loopback, beside a real authority: it fetches the
//! authority's status list and follows its pushes; an airport gate checks offline QR codes,
//! a bank runs OpenID4VP with a phone that fetches the request and posts its answer over
//! HTTP; the phone is reported lost and both refuse within a second; a newer trust list is
//! put in force and an older one refused.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap or a panic is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
#[path = "../common/mod.rs"]
mod common;
#[expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]
#[path = "../served/mod.rs"]
mod served;

mod dc;
mod face;
#[cfg(feature = "face")]
mod face_model;
mod in_person;
mod ops;
mod replicas;
mod status;
mod vp;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::{NOW, World};
use eid_core::{FixedClock, OsRandom};
use eid_crypto::Signer;
use eid_http::{fetch, post_form};
use eid_mdoc::offline::{CompactCredential, present_offline};
use eid_trust::Purpose;
use eid_verifier::Verifier;
use eid_verifier::service::{Service, ServiceConfig, keep_fresh, router};
use eid_wallet::online::{Held, receive};
use serde_json::{Value, json};
use time::Duration;

/// A verifier service for `relying_party`, following `served`; returns its base URL.
async fn start(
    world: &World,
    served: &served::Served,
    relying_party: &str,
    identity: bool,
) -> String {
    start_with(world, served, relying_party, identity, None, None, None).await
}

/// [`start`], known to its clients as `public_url` (a load balancer's address in front of
/// replicas), keeping its online requests in `sessions` and comparing faces with `face`.
async fn start_with(
    world: &World,
    served: &served::Served,
    relying_party: &str,
    identity: bool,
    public_url: Option<&str>,
    sessions: Option<Box<dyn eid_verifier::sessions::SessionStore>>,
    face: Option<Arc<dyn eid_face::CompareFaces>>,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // The relying party's own reader key: a phone checks it against the registration.
    let reader = match relying_party {
        "nanning-hotel" => &world.hotel,
        "hangzhou-hotel" => &world.hangzhou_hotel,
        _ => &world.bank,
    };
    let identity = identity.then(|| {
        let key =
            eid_crypto::SigningKey::from_pkcs8_der(&reader.key.to_pkcs8_der().unwrap()).unwrap();
        (Arc::new(key) as Arc<dyn Signer>, reader.certificate.clone())
    });
    let service = Service::with_sessions(
        Verifier::new(world.trust.clone(), relying_party, NOW),
        ServiceConfig {
            public_url: public_url.map_or_else(|| base.clone(), str::to_owned),
            trust_roots: vec![world.root.verifying_key().clone()],
            status_lists: vec![served.reference.uri.clone()],
            status_shards: Vec::new(),
            events: vec![format!("{}/events", served.base)],
            identity,
            request_lifetime: Duration::minutes(5),
            face,
        },
        sessions.unwrap_or_else(|| Box::new(eid_verifier::sessions::LocalSessions::default())),
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    );
    tokio::spawn(keep_fresh(service.clone()));
    tokio::spawn(axum::serve(listener, router(service)).into_future());
    // Ready once the authority's list is held.
    for _ in 0..100 {
        let health: Value = serde_json::from_slice(
            &fetch(&format!("{base}/health"), "application/json")
                .await
                .unwrap(),
        )
        .unwrap();
        if health["status_lists"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            return base;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    panic!("the service never held the authority's status list");
}

/// POSTs a fresh code to the gate; the report.
async fn scan(gate: &str, world: &World, credential: &CompactCredential) -> Value {
    let code = present_offline(credential, &world.device_key, NOW).unwrap();
    let url = format!("{gate}/verify/offline?purpose=airport_security");
    // The text form (base64url) goes as a form-less POST body: post_form sends it as is.
    serde_json::from_slice(&post_form(&url, eid_crypto::b64url(&code)).await.unwrap()).unwrap()
}

/// The bank's website starts a request; the phone fetches it, checks it, answers over
/// HTTP; the bank's page reads the outcome.
async fn bank_session(bank: &str, world: &World, credential: &[u8]) -> Value {
    bank_session_with(bank, world, credential, None).await
}

/// [`bank_session`], the request made with the customer's photograph `face` (base64).
async fn bank_session_with(
    bank: &str,
    world: &World,
    credential: &[u8],
    face: Option<String>,
) -> Value {
    let mut asked = json!({"purpose": "bank_account_opening"});
    if let Some(face) = face {
        asked["face"] = face.into();
    }
    bank_session_asking(bank, world, credential, asked).await
}

/// [`bank_session_with`], the request made with `asked`.
async fn bank_session_asking(bank: &str, world: &World, credential: &[u8], asked: Value) -> Value {
    let started: Value =
        serde_json::from_slice(&post_json(&format!("{bank}/vp/requests"), asked).await).unwrap();
    let (client_id, request_uri) =
        eid_oid4vc::vp::parse_invocation(started["invocation"].as_str().unwrap()).unwrap();
    let request_object = fetch(&request_uri, "application/oauth-authz-req+jwt")
        .await
        .unwrap();
    let pending = receive(
        &client_id,
        std::str::from_utf8(&request_object).unwrap(),
        &world.trust,
        NOW,
    )
    .unwrap();
    assert_eq!(pending.consent.purpose, Purpose::BankAccountOpening);
    let answer = pending
        .respond(Held::Mdoc(credential), &world.device_key, &OsRandom, NOW)
        .unwrap();
    post_form(&answer.response_uri, answer.body).await.unwrap();
    let outcome: Value = serde_json::from_slice(
        &fetch(
            &format!("{bank}{}", started["result"].as_str().unwrap()),
            "application/json",
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert!(
        outcome["status"] == "accepted" || outcome["status"] == "refused",
        "{outcome}"
    );
    outcome["report"].clone()
}

/// One request with hyper's client (the bank's website back end, an operator): the status
/// and the body.
async fn call(method: &str, url: &str, body: String) -> (u16, Vec<u8>) {
    let (status, _, body) = call_with(method, url, body, None).await;
    (status, body)
}

/// [`call`] with an `x-request-id` of the caller's: the status, the request id answered, and
/// the body.
async fn call_with(
    method: &str,
    url: &str,
    body: String,
    request_id: Option<&str>,
) -> (u16, Option<String>, Vec<u8>) {
    use http_body_util::BodyExt;
    let parsed = url::Url::parse(url).unwrap();
    let address = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap());
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder();
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let request = request
        .method(method)
        .uri(match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        })
        .header(hyper::header::HOST, address)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, id, body)
}

async fn post_json(url: &str, body: Value) -> Vec<u8> {
    let (status, body) = call("POST", url, body.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    body
}

/// A request the bank's website starts, as anyone then sees it: what the start answered
/// (the id, the requester's secret `result` path, the invocation), the request object
/// fetched from its `request_uri`, and that object's content.
async fn public_request(bank: &str) -> (Value, String, eid_oid4vc::vp::AuthorizationRequest) {
    let started: Value = serde_json::from_slice(
        &post_json(
            &format!("{bank}/vp/requests"),
            json!({"purpose": "bank_account_opening"}),
        )
        .await,
    )
    .unwrap();
    let (_, request_uri) =
        eid_oid4vc::vp::parse_invocation(started["invocation"].as_str().unwrap()).unwrap();
    let object = fetch(&request_uri, "application/oauth-authz-req+jwt")
        .await
        .unwrap();
    let object = String::from_utf8(object).unwrap();
    let jws = eid_sdjwt::Jws::parse(&object).unwrap();
    let request = serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
    (started, object, request)
}

/// The phone's real answer to the request object `object`, with its mdoc, posted.
async fn phone_answers(world: &World, served: &served::Served, object: &str) {
    let mdoc = World::issue_with_status(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        served.reference.clone(),
    );
    let pending = receive(
        &eid_oid4vc::vp::x509_hash_client_id(&world.bank.certificate),
        object,
        &world.trust,
        NOW,
    )
    .unwrap();
    let answer = pending
        .respond(Held::Mdoc(&mdoc), &world.device_key, &OsRandom, NOW)
        .unwrap();
    post_form(&answer.response_uri, answer.body).await.unwrap();
}

/// The outcome at the requester's secret `result` path.
async fn outcome(bank: &str, started: &Value) -> Value {
    let result = format!("{bank}{}", started["result"].as_str().unwrap());
    serde_json::from_slice(&fetch(&result, "application/json").await.unwrap()).unwrap()
}
