//! The Digital Credentials API: the bank's page asks through the browser and checks the answer.

use eid_core::OsRandom;
use eid_wallet::online::Held;
use serde_json::{Value, json};

use crate::common::{NOW, World};
use crate::served;
use crate::{call, post_json, start};

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
