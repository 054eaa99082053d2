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
mod common;
#[expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]
mod served;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_and_the_bank_accept_then_refuse_within_a_second_of_the_report() {
    let world = World::new();
    let served = served::serve(&world).await;
    let gate = start(&world, &served, "nanning-airport", false).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let compact = world.airport_credential(&served.reference);
    let mdoc = World::issue_with_status(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        served.reference.clone(),
    );

    let report = scan(&gate, &world, &compact).await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["channel"], "offline_qr");
    let report = bank_session(&bank, &world, &mdoc).await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["channel"], "online");
    assert_eq!(
        report["attributes"]["document_number"],
        "450103199003070024"
    );

    // The phone is reported lost: within a second both services refuse, from their caches.
    served.wallet_action("suspend").await;
    tokio::time::timeout(StdDuration::from_secs(1), async {
        let (mut gate_refused, mut bank_refused) = (false, false);
        while !(gate_refused && bank_refused) {
            gate_refused |=
                scan(&gate, &world, &compact).await["reasons"][0]["reason"] == "status_suspended";
            bank_refused |= bank_session(&bank, &world, &mdoc).await["reasons"][0]["reason"]
                == "status_suspended";
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
    })
    .await
    .expect("both services refuse within a second of the report");

    // The phone is found: the reinstatement's push cannot lift the suspension, but has the
    // gate fetch the signed list at once — accepted again within seconds, not after half
    // the staleness bound (minutes for airport security).
    served.wallet_action("reinstate").await;
    tokio::time::timeout(StdDuration::from_secs(4), async {
        while scan(&gate, &world, &compact).await["accepted"] != true {
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    })
    .await
    .expect("the gate accepts the reinstated phone within seconds");
}

/// The bank's desk service with an mdoc its authority serves the status of, and a Digital
/// Credentials API request it made for its page.
async fn bank_asks_the_browser() -> (World, served::Served, String, Vec<u8>, Value) {
    let world = World::new();
    let served = served::serve(&world).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let mdoc = World::issue_with_status(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        served.reference.clone(),
    );
    let (status, body) = call(
        "POST",
        &format!("{bank}/dc/requests"),
        json!({"purpose": "bank_account_opening"}).to_string(),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let started = serde_json::from_slice(&body).unwrap();
    (world, served, bank, mdoc, started)
}

/// The bank's page asks through the Digital Credentials API (ISO/IEC 18013-7 Annex C): the
/// service makes the request for its own origin, the wallet library answers it as the
/// phone's app would, the page posts the answer back and gets the report; the request is
/// gone after its answer. Each wrong call is refused, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_asks_through_the_browser_and_checks_the_answer() {
    use eid_wallet::dc_api::DigitalCredentialRequest;
    let (world, served, bank, mdoc, started) = bank_asks_the_browser().await;
    // Its page is served from its own origin.
    assert_eq!(started["origin"], bank);
    let entry = &started["digital"]["requests"][0];
    assert_eq!(entry["protocol"], "org-iso-mdoc");
    let handed = |origin| DigitalCredentialRequest {
        protocol: "org-iso-mdoc",
        data: &entry["data"],
        origin,
    };
    // A page elsewhere cannot use it.
    assert_eq!(
        eid_wallet::dc_api::receive(&handed("http://127.0.0.1:1"), &world.trust, NOW).unwrap_err(),
        eid_wallet::in_person::RequestRefused::ReaderSignature
    );
    let pending = eid_wallet::dc_api::receive(&handed(&bank), &world.trust, NOW).unwrap();
    assert_eq!(pending.consent.relying_party, "nanning-bank");
    let answer = pending
        .respond(Held::Mdoc(&mdoc), &world.device_key, &OsRandom, NOW)
        .unwrap();
    let respond_at = format!("{bank}{}", started["response"].as_str().unwrap());
    let posted = json!({"protocol": "org-iso-mdoc", "data": answer}).to_string();
    // Not a protocol asked in (unsigned is offered only where the bank's registration lists
    // its origin); not a DigitalCredential's fields: the request stays.
    for (body, code) in [
        (
            json!({"protocol": "openid4vp-v1-multisigned", "data": {}}),
            "unsupported_protocol",
        ),
        (
            json!({"protocol": "openid4vp-v1-unsigned", "data": {}}),
            "unsupported_protocol",
        ),
        (
            json!({"protocol": "org-iso-mdoc", "data": {}, "id": 1}),
            "invalid_request",
        ),
    ] {
        let (status, refused) = call("POST", &respond_at, body.to_string()).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&refused));
        assert!(String::from_utf8_lossy(&refused).contains(code));
    }
    let report: Value = serde_json::from_slice(
        &post_json(&respond_at, serde_json::from_str(&posted).unwrap()).await,
    )
    .unwrap();
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["channel"], "online");
    assert_eq!(
        report["attributes"]["document_number"],
        "450103199003070024"
    );
    // One answer per request; an unknown handle is as unknown.
    for url in [
        respond_at.clone(),
        format!("{bank}/dc/responses/nothing-here"),
    ] {
        let (status, body) = call("POST", &url, posted.clone()).await;
        assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("unknown_request"));
    }
    // A purpose the bank is not registered for is not asked; nor without a reader key.
    let (status, body) = call(
        "POST",
        &format!("{bank}/dc/requests"),
        json!({"purpose": "hotel_check_in"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("purpose_not_registered"));
    // Attributes beyond the bank's registration, or too many, are not asked (here or
    // online): a caller's list is never kept beyond what the registration allows.
    let many: Vec<String> = (0..65).map(|i| format!("a{i}")).collect();
    for route in ["dc/requests", "vp/requests"] {
        for (asked, code) in [
            (
                json!(["family_name", "vehicle_class"]),
                "beyond_registration",
            ),
            (json!(many), "at most 64 attributes"),
        ] {
            let (status, body) = call(
                "POST",
                &format!("{bank}/{route}"),
                json!({"purpose": "bank_account_opening", "attributes": asked}).to_string(),
            )
            .await;
            assert_eq!(status, 400, "{route}: {}", String::from_utf8_lossy(&body));
            assert!(String::from_utf8_lossy(&body).contains(code), "{route}");
        }
    }
    let gate = start(&world, &served, "nanning-airport", false).await;
    let (status, body) = call(
        "POST",
        &format!("{gate}/dc/requests"),
        json!({"purpose": "airport_security"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("not_configured"));
}

/// The same call offers OpenID4VP, signed with the bank's certificate and naming its origin;
/// the answer, bound to that origin, is taken once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bank_desk_takes_an_openid4vp_answer_through_the_browser() {
    use eid_wallet::dc_api::DigitalCredentialRequest;
    let (world, _served, bank, mdoc, started) = bank_asks_the_browser().await;
    let protocols: Vec<&str> = started["digital"]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["protocol"].as_str())
        .collect();
    // No unsigned request: the bank's registration lists no web origin.
    assert_eq!(protocols, ["org-iso-mdoc", "openid4vp-v1-signed"]);
    let entry = &started["digital"]["requests"][1];
    let pending = eid_wallet::dc_api::receive(
        &DigitalCredentialRequest {
            protocol: "openid4vp-v1-signed",
            data: &entry["data"],
            origin: &bank,
        },
        &world.trust,
        NOW,
    )
    .unwrap();
    let answer = pending
        .respond(Held::Mdoc(&mdoc), &world.device_key, &OsRandom, NOW)
        .unwrap();
    let respond_at = format!("{bank}{}", started["response"].as_str().unwrap());
    let posted = json!({"protocol": "openid4vp-v1-signed", "data": answer});
    let report: Value =
        serde_json::from_slice(&post_json(&respond_at, posted.clone()).await).unwrap();
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["format"], "mso_mdoc");
    let (status, _) = call("POST", &respond_at, posted.to_string()).await;
    assert_eq!(status, 404);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_takes_a_newer_trust_list_and_refuses_an_older_one() {
    let world = World::new();
    let served = served::serve(&world).await;
    let gate = start(&world, &served, "nanning-airport", false).await;
    // Version 2, made from the list in force (version 1).
    let (v2, _) =
        eid_trust::signed::sign(world.trust.list(), &world.root, NOW, Duration::days(7)).unwrap();
    let put = |body: String| {
        let url = format!("{gate}/trust-list");
        async move {
            let (status, body) = call("PUT", &url, body).await;
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let version = |v: &Value| v["trust_list_version"].as_u64().unwrap();
    let health = || async {
        serde_json::from_slice::<Value>(
            &fetch(&format!("{gate}/health"), "application/json")
                .await
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(version(&health().await), 1);
    let (status, body) = put(v2).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(version(&body), 2);
    // Version 1 again (a replayed list): refused, version 2 kept.
    let (v1, _) =
        eid_trust::signed::sign(&world.draft, &world.root, NOW, Duration::days(7)).unwrap();
    let (status, body) = put(v1).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "trust_list_refused");
    assert_eq!(version(&health().await), 2);
}

/// A stand-in face model for tests without the real one: a picture's face is its last byte,
/// and two pictures whose last bytes are within one of each other are the same person
/// (distance 0.1; else 0.9). Its templates hold the byte in every dimension.
struct LastByte;

impl LastByte {
    fn face(picture: &[u8]) -> Result<f64, eid_face::ImageError> {
        picture
            .last()
            .map(|&b| f64::from(b))
            .ok_or(eid_face::ImageError::NoFace("picture"))
    }

    fn of(template: &eid_face::Template) -> f64 {
        (template.embedding().0[0] * 512.0).round()
    }

    fn apart(a: f64, b: f64) -> f64 {
        if (a - b).abs() <= 1.0 { 0.1 } else { 0.9 }
    }
}

impl eid_face::CompareFaces for LastByte {
    fn distance(&self, reference: &[u8], live: &[u8]) -> Result<f64, eid_face::ImageError> {
        Ok(Self::apart(Self::face(reference)?, Self::face(live)?))
    }

    fn distance_to_template(
        &self,
        template: &eid_face::Template,
        live: &[u8],
    ) -> Result<f64, eid_face::ImageError> {
        Ok(Self::apart(Self::of(template), Self::face(live)?))
    }

    fn live_template(&self, live: &[u8]) -> Result<eid_face::Template, eid_face::ImageError> {
        let face = Self::face(live)? / 512.0;
        Ok(eid_face::Embedding([face; eid_face::DIMENSIONS]).template())
    }

    fn distance_from_template(
        &self,
        reference: &[u8],
        live: &eid_face::Template,
    ) -> Result<f64, eid_face::ImageError> {
        Ok(Self::apart(Self::face(reference)?, Self::of(live)))
    }

    fn threshold(&self) -> f64 {
        0.6
    }
}

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

/// With `--wallet-listen` the two routes a wallet calls listen apart from the requester's:
/// each listener serves its own routes and not the other's (both answer `/health`), and
/// every answer carries the request's id — the caller's when it is sane, else one made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallets_routes_and_the_requesters_listen_apart() {
    use eid_verifier::service::{requester_router, wallet_router};
    let world = World::new();
    let served = served::serve(&world).await;
    let requester = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wallet = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (at, wallet_at) = (
        format!("http://{}", requester.local_addr().unwrap()),
        format!("http://{}", wallet.local_addr().unwrap()),
    );
    let reader = &world.bank;
    let key = eid_crypto::SigningKey::from_pkcs8_der(&reader.key.to_pkcs8_der().unwrap()).unwrap();
    let service = Service::new(
        Verifier::new(world.trust.clone(), "nanning-bank", NOW),
        ServiceConfig {
            public_url: wallet_at.clone(),
            trust_roots: vec![world.root.verifying_key().clone()],
            status_lists: vec![served.reference.uri.clone()],
            status_shards: Vec::new(),
            events: Vec::new(),
            identity: Some((Arc::new(key) as Arc<dyn Signer>, reader.certificate.clone())),
            request_lifetime: Duration::minutes(5),
            face: None,
        },
        Arc::new(FixedClock(NOW)),
        Arc::new(OsRandom),
    );
    tokio::spawn(axum::serve(requester, requester_router(service.clone())).into_future());
    tokio::spawn(axum::serve(wallet, wallet_router(service)).into_future());
    let (status, body) = call(
        "POST",
        &format!("{at}/vp/requests"),
        json!({"purpose": "bank_account_opening"}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let started: Value = serde_json::from_slice(&body).unwrap();
    let request_uri = started["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(&format!("{wallet_at}/vp/request/")));
    let path = request_uri.strip_prefix(&wallet_at).unwrap();
    // The wallet's routes on the wallet listener only.
    let (status, _) = call("GET", request_uri, String::new()).await;
    assert_eq!(status, 200);
    let (status, _) = call("GET", &format!("{at}{path}"), String::new()).await;
    assert_eq!(status, 404);
    let (status, _) = call("POST", &format!("{at}/vp/response"), "error=x".into()).await;
    assert_eq!(status, 404);
    // The requester's on the requester's only.
    for (method, route) in [
        ("POST", "/vp/requests"),
        ("POST", "/dc/requests"),
        ("POST", "/verify/offline?purpose=airport_security"),
        ("POST", "/verify/in-person"),
        ("PUT", "/trust-list"),
        ("GET", "/metrics"),
        ("GET", "/ready"),
    ] {
        let (status, _) = call(method, &format!("{wallet_at}{route}"), "{}".into()).await;
        assert_eq!(status, 404, "{method} {route}");
    }
    for base in [&at, &wallet_at] {
        let (status, id, _) = call_with(
            "GET",
            &format!("{base}/health"),
            String::new(),
            Some("desk-7"),
        )
        .await;
        assert_eq!((status, id.as_deref()), (200, Some("desk-7")));
        // A request id that is not sane is replaced, on an error too.
        let (status, id, body) = call_with(
            "GET",
            &format!("{base}/nothing"),
            String::new(),
            Some("a b"),
        )
        .await;
        assert_eq!(status, 404);
        assert!(id.is_some_and(|id| id.starts_with("req-")));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "not_found");
    }
}

/// `/ready` once the status list is held; `/metrics` counts by route template and by
/// outcome code, never the request's id, its secret handle or anything disclosed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_routes_and_outcomes_never_what_was_asked_or_shown() {
    let world = World::new();
    let served = served::serve(&world).await;
    let bank = start(&world, &served, "nanning-bank", true).await;
    let (status, _) = call("GET", &format!("{bank}/ready"), String::new()).await;
    assert_eq!(status, 200);
    // A purpose of the catalogue the bank is not registered for: no request is made.
    let (status, body) = call(
        "POST",
        &format!("{bank}/vp/requests"),
        json!({"purpose": "hotel_check_in"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("purpose_not_registered"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (started, object, _) = public_request(&bank).await;
    phone_answers(&world, &served, &object).await;
    assert_eq!(outcome(&bank, &started).await["status"], "accepted");
    let (status, text) = call("GET", &format!("{bank}/metrics"), String::new()).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains(
            "eid_http_requests_total{route=\"/vp/request/{id}\",method=\"GET\",status=\"200\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("eid_verifications_total{channel=\"online\",outcome=\"accepted\"} 1\n"),
        "{text}"
    );
    let handle = started["result"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    for secret in [
        started["id"].as_str().unwrap(),
        handle,
        "450103199003070024",
        "韦",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

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

/// The face fixtures' folder and the model, or `None` (said) without `EID_PROOFING_DIR`.
#[cfg(feature = "face")]
fn face_model() -> Option<(std::path::PathBuf, eid_face::FaceMatcher)> {
    let dir = std::path::PathBuf::from(eid_core::testing::required_env("EID_PROOFING_DIR")?);
    let model = eid_face::FaceMatcher::load(&dir.join("models"), 0.6).unwrap();
    Some((dir.join("fixtures"), model))
}

/// A desk of `relying_party` with `model`, holding a trust list that requires a face match
/// for `purpose`.
#[cfg(feature = "face")]
async fn face_desk(
    world: &World,
    served: &served::Served,
    relying_party: &str,
    model: eid_face::FaceMatcher,
    purpose: Purpose,
) -> String {
    let desk = start_with(
        world,
        served,
        relying_party,
        relying_party.ends_with("hotel") || relying_party.ends_with("bank"),
        None,
        None,
        Some(Arc::new(model)),
    )
    .await;
    let (jws, _) = world.requiring_face_match(purpose);
    let (status, body) = call("PUT", &format!("{desk}/trust-list"), jws).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    desk
}

/// A desk of `relying_party` with the model, requiring a face match for `purpose`, and an
/// mdoc whose portrait is the fixture `obama.jpg`: the fixtures' folder, the world, its
/// authority, the desk's URL and the credential. `None` (said) without the models.
#[cfg(feature = "face")]
async fn portrait_desk(
    relying_party: &str,
    purpose: Purpose,
) -> Option<(std::path::PathBuf, World, served::Served, String, Vec<u8>)> {
    let (fixtures, model) = face_model()?;
    let world = World::new();
    let served = served::serve(&world).await;
    let desk = face_desk(&world, &served, relying_party, model, purpose).await;
    let credential = World::issue_with_portrait(
        &world.nanning,
        &world.device_key,
        "superapp-a",
        served.reference.clone(),
        std::slice::from_ref(&world.nanning.ds.0),
        &std::fs::read(fixtures.join("obama.jpg")).unwrap(),
    );
    Some((fixtures, world, served, desk, credential))
}

/// The hotel's desk compares the person in front of it with the portrait the phone
/// disclosed, with the real face model, once the trust list requires a match for check-in:
/// the holder's face (another photograph of them) is accepted, someone else's refused as
/// `face_mismatch`, no photograph or an unreadable one as `face_not_checked`.
#[cfg(feature = "face")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_hotel_desk_matches_the_face_in_front_of_it_with_the_portrait() {
    use base64::Engine;
    use eid_mdoc::transport::{Framed, Transport};
    let Some((fixtures, world, _served, hotel, credential)) =
        portrait_desk("nanning-hotel", Purpose::HotelCheckIn).await
    else {
        return;
    };
    let fixture = |name: &str| std::fs::read(fixtures.join(name)).unwrap();
    let (world, credential) = (Arc::new(world), Arc::new(credential));
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    // The head turn: obama3.jpg faces the camera, obama2.jpg is him turned to his right.
    let (facing, turned) = (b64(&fixture("obama3.jpg")), b64(&fixture("obama2.jpg")));
    let turn = |picture: &str, way: &str| Some((picture.to_owned(), way.to_owned()));
    let cases = [
        (Some(b64(&fixture("obama2.jpg"))), None, None),
        (
            Some(b64(&fixture("biden.jpg"))),
            None,
            Some("face_mismatch"),
        ),
        (None, None, Some("face_not_checked")),
        (
            Some("not a photograph".to_owned()),
            None,
            Some("face_not_checked"),
        ),
        (Some(b64(b"GIF89a")), None, Some("face_not_checked")),
        // Asked to turn right, he does: accepted, and said to be live.
        (Some(facing.clone()), turn(&turned, "right"), None),
        // Asked left; or a still photograph twice: refused for the head turn.
        (
            Some(facing.clone()),
            turn(&turned, "left"),
            Some("face_not_live"),
        ),
        (
            Some(facing.clone()),
            turn(&facing, "right"),
            Some("face_not_live"),
        ),
        // A turned photograph that is no picture: the head turn was not shown.
        (
            Some(facing.clone()),
            turn(&b64(b"GIF89a"), "right"),
            Some("face_not_live"),
        ),
    ];
    for (face, turned, refusal) in cases {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let engagement = eid_wallet::in_person::Engagement::new(Some(&address)).unwrap();
        let mut ask = json!({"purpose": "hotel_check_in", "engagement": engagement.qr_uri()});
        let asked_to_turn = turned.is_some();
        if let Some(face) = face {
            ask["face"] = face.into();
        }
        if let Some((picture, way)) = turned {
            ask["face_turned"] = picture.into();
            ask["turn"] = way.into();
        }
        let (world, credential) = (world.clone(), credential.clone());
        let phone = tokio::task::spawn_blocking(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut transport = Framed(stream);
            let establishment = transport.receive().unwrap();
            let answer = engagement
                .receive(&establishment, &world.trust, NOW)
                .unwrap()
                .respond(&credential, &world.device_key)
                .unwrap();
            transport.send(&answer).unwrap();
        });
        let report: Value =
            serde_json::from_slice(&post_json(&format!("{hotel}/verify/in-person"), ask).await)
                .unwrap();
        // A desk that refused before contacting the phone would leave it waiting for ever.
        tokio::time::timeout(StdDuration::from_secs(60), phone)
            .await
            .unwrap_or_else(|_| panic!("the desk never contacted the phone: {report}"))
            .unwrap();
        match refusal {
            None => {
                assert_eq!(report["accepted"], true, "{report}");
                assert_eq!(report["presence"]["matched"], true, "{report}");
                assert_eq!(report["presence"]["threshold"], 0.6, "{report}");
                let score = report["presence"]["score"].as_f64().unwrap();
                assert!(score < 0.6, "{report}");
                let live = if asked_to_turn {
                    json!(true)
                } else {
                    Value::Null
                };
                assert_eq!(report["presence"]["live"], live, "{report}");
            }
            Some(code) => {
                assert_eq!(report["accepted"], false, "{report}");
                assert_eq!(report["reasons"][0]["reason"], code, "{report}");
                assert_eq!(report["attributes"], json!({}), "{report}");
                if code == "face_not_live" {
                    assert_eq!(report["presence"]["live"], false, "{report}");
                }
            }
        }
    }
    // A turn that is neither way, a turned photograph without its way or without the first:
    // refused before the phone is contacted (none listens at this address).
    for (extra, says) in [
        (
            json!({"face": facing, "face_turned": turned, "turn": "up"}),
            "turn must be",
        ),
        (json!({"face": facing, "face_turned": turned}), "together"),
        (json!({"face_turned": turned, "turn": "right"}), "send face"),
        (
            json!({"face": facing, "face_turned": "not base64", "turn": "right"}),
            "not base64",
        ),
    ] {
        let engagement = eid_wallet::in_person::Engagement::new(Some("127.0.0.1:9")).unwrap();
        let mut ask = json!({"purpose": "hotel_check_in", "engagement": engagement.qr_uri()});
        ask.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, body) = call(
            "POST",
            &format!("{hotel}/verify/in-person"),
            ask.to_string(),
        )
        .await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
}

/// The airport gate, with only a scanner and the face model: the offline code carries the
/// holder's face template under the issuer's signature, and the gate matches the face in
/// front of it against it, once the trust list requires a match for airport security.
#[cfg(feature = "face")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_gate_matches_the_face_in_front_of_it_with_the_codes_template() {
    use base64::Engine;
    let Some((fixtures, model)) = face_model() else {
        return;
    };
    let fixture = |name: &str| std::fs::read(fixtures.join(name)).unwrap();
    let template = model
        .embedding(&fixture("obama.jpg"), "portrait", true)
        .unwrap()
        .template();
    let world = World::new();
    let served = served::serve(&world).await;
    let gate = face_desk(
        &world,
        &served,
        "nanning-airport",
        model,
        Purpose::AirportSecurity,
    )
    .await;
    let with_template = world.airport_credential_with(&served.reference, Some(template.as_bytes()));
    let without = world.airport_credential(&served.reference);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let cases = [
        (&with_template, Some(b64(&fixture("obama2.jpg"))), None),
        (
            &with_template,
            Some(b64(&fixture("biden.jpg"))),
            Some("face_mismatch"),
        ),
        (&with_template, None, Some("face_not_checked")),
        (
            &without,
            Some(b64(&fixture("obama2.jpg"))),
            Some("face_not_checked"),
        ),
    ];
    for (credential, face, refusal) in cases {
        let code = present_offline(credential, &world.device_key, NOW).unwrap();
        let mut body = json!({"code": eid_crypto::b64url(&code)});
        if let Some(face) = face {
            body["face"] = face.into();
        }
        let report: Value = serde_json::from_slice(
            &post_json(
                &format!("{gate}/verify/offline?purpose=airport_security"),
                body,
            )
            .await,
        )
        .unwrap();
        match refusal {
            None => {
                assert_eq!(report["accepted"], true, "{report}");
                assert_eq!(report["presence"]["matched"], true, "{report}");
                // The template served the comparison and goes no further.
                assert!(
                    report["attributes"].get("face_template").is_none(),
                    "{report}"
                );
                assert!(
                    report["attributes"].get("family_name").is_some(),
                    "{report}"
                );
            }
            Some(code) => {
                assert_eq!(report["reasons"][0]["reason"], code, "{report}");
                assert_eq!(report["attributes"], json!({}), "{report}");
            }
        }
    }
    // A body that is not the JSON form says what it should be.
    let (status, body) = call(
        "POST",
        &format!("{gate}/verify/offline?purpose=airport_security"),
        r#"{"face": "x"}"#.into(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains(r#"the body is not {\"code\", \"face\"}"#),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// The bank's page photographs the customer when it makes the request; the service keeps
/// only the photograph's face template and compares it, when the phone answers, with the
/// disclosed portrait, with the real model, once the trust list requires a match for
/// account opening: her face accepted, someone else's refused as `face_mismatch`, a request
/// made without a photograph refused as `face_not_checked`; a photograph with no face in it
/// is refused when the request is made (`face_unusable`).
#[cfg(feature = "face")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_bank_matches_the_customer_photographed_with_the_request() {
    use base64::Engine;
    let Some((fixtures, world, _served, bank, credential)) =
        portrait_desk("nanning-bank", Purpose::BankAccountOpening).await
    else {
        return;
    };
    let fixture = |name: &str| std::fs::read(fixtures.join(name)).unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let report = bank_session_with(
        &bank,
        &world,
        &credential,
        Some(b64(&fixture("obama2.jpg"))),
    )
    .await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["presence"]["matched"], true, "{report}");
    let report =
        bank_session_with(&bank, &world, &credential, Some(b64(&fixture("biden.jpg")))).await;
    assert_eq!(report["reasons"][0]["reason"], "face_mismatch", "{report}");
    assert_eq!(report["presence"]["matched"], false, "{report}");
    assert_eq!(report["attributes"], json!({}), "{report}");
    let report = bank_session_with(&bank, &world, &credential, None).await;
    assert_eq!(
        report["reasons"][0]["reason"], "face_not_checked",
        "{report}"
    );
    assert!(
        report["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no photograph of the person was taken when the request was made"),
        "{report}"
    );
    // The customer photographed facing the camera, then turned to his right as asked: the
    // answer says he was live. Asked left, or the same photograph twice: no request is made.
    let (facing, turned) = (b64(&fixture("obama3.jpg")), b64(&fixture("obama2.jpg")));
    let asked = json!({"purpose": "bank_account_opening", "face": facing, "face_turned": turned, "turn": "right"});
    let report = bank_session_asking(&bank, &world, &credential, asked).await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["presence"]["live"], true, "{report}");
    for (turned, way) in [(&turned, "left"), (&facing, "right")] {
        let (status, body) = call(
            "POST",
            &format!("{bank}/vp/requests"),
            json!({"purpose": "bank_account_opening", "face": facing, "face_turned": turned, "turn": way})
                .to_string(),
        )
        .await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("face_not_live") && body.contains("the head"),
            "{body}"
        );
    }
    // No face in the photograph: no request is made, and the page is told why.
    let (status, body) = call(
        "POST",
        &format!("{bank}/vp/requests"),
        json!({"purpose": "bank_account_opening", "face": b64(b"GIF89a")}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("face_unusable"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// A desk without a face model, under a trust list requiring a face match for its purpose,
/// refuses `face_not_supported` before asking anything: in person the phone is never
/// contacted, an offline code is not even read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_without_a_face_model_refuses_where_a_match_is_required_before_asking() {
    let world = World::new();
    let served = served::serve(&world).await;
    let hotel = start_with(&world, &served, "nanning-hotel", true, None, None, None).await;
    let gate = start_with(&world, &served, "nanning-airport", false, None, None, None).await;
    for (desk, purpose) in [
        (&hotel, Purpose::HotelCheckIn),
        (&gate, Purpose::AirportSecurity),
    ] {
        let (jws, _) = world.requiring_face_match(purpose);
        let (status, body) = call("PUT", &format!("{desk}/trust-list"), jws).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    let phone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    phone.set_nonblocking(true).unwrap();
    let address = phone.local_addr().unwrap().to_string();
    let engagement = eid_wallet::in_person::Engagement::new(Some(&address)).unwrap();
    let (status, body) = call(
        "POST",
        &format!("{hotel}/verify/in-person"),
        json!({"purpose": "hotel_check_in", "engagement": engagement.qr_uri()}).to_string(),
    )
    .await;
    let said = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{said}");
    assert!(
        said.contains("face_not_supported")
            && said.contains("hotel_check_in requires a face match"),
        "{said}"
    );
    assert!(phone.accept().is_err(), "the phone was contacted");
    let (status, body) = call(
        "POST",
        &format!("{gate}/verify/offline?purpose=airport_security"),
        "not even a code".into(),
    )
    .await;
    let said = String::from_utf8_lossy(&body);
    assert_eq!(status, 400, "{said}");
    assert!(said.contains("face_not_supported"), "{said}");
}

/// What a bank's request says of a bad photograph, before any request is made: not base64
/// (`invalid_request`), no face in it (`face_unusable`), or a photograph sent to a desk with
/// no face model (`face_not_supported`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_photograph_with_an_online_request_is_refused_saying_why() {
    let world = World::new();
    let served = served::serve(&world).await;
    let faces = Some(Arc::new(LastByte) as Arc<dyn eid_face::CompareFaces>);
    let bank = start_with(&world, &served, "nanning-bank", true, None, None, faces).await;
    let plain = start_with(&world, &served, "nanning-bank", true, None, None, None).await;
    for (desk, face, error, says) in [
        (&bank, "%%% not base64", "invalid_request", "not base64"),
        (&bank, "", "face_unusable", "no face"),
        (&plain, "AAAA", "face_not_supported", "no face model"),
    ] {
        let (status, body) = call(
            "POST",
            &format!("{desk}/vp/requests"),
            json!({"purpose": "bank_account_opening", "face": face}).to_string(),
        )
        .await;
        let said = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{said}");
        let said: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(said["error"], error, "{said}");
        assert!(
            said["error_description"].as_str().unwrap().contains(says),
            "{said}"
        );
    }
}
