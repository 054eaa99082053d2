//! A guardian's hosted wallet holds another resident's credential (a delegation registered
//! at the counter) beside her own: it is kept apart and shown on the card as held for
//! someone else; the hotel, whose purpose allows it, asks for either — online and in
//! person — and its desk reports which it got; the bank, whose purpose does not, is never
//! shown it; the ward's freeze reaches the guardian's wallet.

use serde_json::{Value, json};

use crate::{desk_ready, engagement, enrolled_wallet, folder, get, post, up};

/// Whether `attributes` are of `resident` (the name on the card is the family name, then
/// the given name).
fn named(attributes: &Value, resident: &Value) -> bool {
    let (family, given) = (
        attributes["family_name"].as_str().unwrap_or_default(),
        attributes["given_name"].as_str().unwrap_or_default(),
    );
    !family.is_empty() && resident["full_name"].as_str() == Some(&format!("{family}{given}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardian_shows_her_wards_credential_where_the_purpose_allows_it() {
    let dir = folder("delegation");
    let running = up(&dir, None).await;
    let api = running.description["providers"][0]["api"]
        .as_str()
        .unwrap()
        .to_owned();
    let guardian = &running.description["demo_residents"][0];
    let wallet = enrolled_wallet(&running, &dir).await;
    // Another resident of Nanning's registry, an adult, whose guardian she becomes.
    let registry = std::fs::read_to_string(dir.join("nanning/residents.jsonl")).unwrap();
    let ward: Value = registry
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|r| {
            r["id_number"] != guardian["id_number"]
                && r["id_number"].as_str().is_some_and(|n| &n[6..10] < "2000")
        })
        .unwrap();
    let token = std::fs::read_to_string(dir.join("nanning/admin-token")).unwrap();
    let admin = format!("{}/authorities/nanning/admin", running.base);
    let offer = post(
        &format!("{admin}/delegations"),
        Some(token.trim()),
        json!({"id_number": ward["id_number"], "full_name": ward["full_name"],
               "holder_id_number": guardian["id_number"],
               "holder_full_name": guardian["full_name"],
               "relationship": "guardian", "officer": "t"}),
    )
    .await
    .unwrap();
    let enrolled = post(
        &format!("{api}/wallets/{wallet}/enrol"),
        None,
        json!({"pin": "135790", "offer": offer["offer_uri"], "tx_code": offer["tx_code"]}),
    )
    .await
    .unwrap();
    let holding = enrolled["holding"].as_i64().expect("a holding");
    // The card: hers as before, the ward's apart, as held for someone else.
    let card = get(&format!("{api}/wallets/{wallet}")).await;
    assert!(named(&card["attributes"], guardian), "{card}");
    assert_eq!(
        card["holdings"],
        json!([{
            "id": holding,
            "relationship": "guardian",
            "received_at": card["holdings"][0]["received_at"],
            "live": true,
            "attributes": card["holdings"][0]["attributes"],
        }])
    );
    assert!(named(&card["holdings"][0]["attributes"], &ward), "{card}");
    // Her own are fresh: no refresh is due (that held credentials are not counted as hers
    // is the store's test, `what_is_held_for_someone_else_is_never_shown_as_the_holders_own`).
    assert_eq!(card["needs_refresh"], false, "{card}");

    // Online, a desk asks; the wallet reads the request: what the holder is asked.
    let ask = async |desk: &str, purpose: &str| {
        let desk = format!("{}/desks/{desk}", running.base);
        desk_ready(&desk).await;
        let started = post(
            &format!("{desk}/vp/requests"),
            None,
            json!({ "purpose": purpose }),
        )
        .await
        .unwrap();
        let asked = post(
            &format!("{api}/wallets/{wallet}/online"),
            None,
            json!({"invocation": started["invocation"]}),
        )
        .await
        .unwrap();
        let decide = format!(
            "{api}/wallets/{wallet}/online/{}",
            asked["session"].as_str().unwrap()
        );
        let result = format!("{desk}{}", started["result"].as_str().unwrap());
        (asked["consent"].clone(), decide, result)
    };
    let share = async |decide: &str, held_for: Option<i64>| {
        post(
            decide,
            None,
            json!({"share": true, "pin": "135790", "held_for": held_for}),
        )
        .await
    };
    // The hotel accepts either: the holder chooses the ward's, and the desk sees the ward's
    // data, said to be held by a guardian.
    let (consent, decide, result) = ask("nanning-hotel", "hotel_check_in").await;
    assert_eq!(consent["delegation"], true, "{consent}");
    share(&decide, Some(holding)).await.unwrap();
    let outcome = get(&result).await;
    let report = &outcome["report"];
    assert_eq!(report["accepted"], true, "{outcome}");
    assert_eq!(report["delegated"], "guardian", "{outcome}");
    assert!(named(&report["attributes"], &ward), "{outcome}");
    // Her own, to the same hotel: not delegated.
    let (_, decide, result) = ask("nanning-hotel", "hotel_check_in").await;
    share(&decide, None).await.unwrap();
    let outcome = get(&result).await;
    assert_eq!(outcome["report"]["accepted"], true, "{outcome}");
    assert_eq!(outcome["report"].get("delegated"), None, "{outcome}");
    assert!(
        named(&outcome["report"]["attributes"], guardian),
        "{outcome}"
    );
    // A holding the wallet does not have.
    let (_, decide, _) = ask("nanning-hotel", "hotel_check_in").await;
    let (status, body) = share(&decide, Some(holding + 7)).await.unwrap_err();
    assert_eq!(
        (status, &body["error"]),
        (404, &json!("no_such_holding")),
        "{body}"
    );

    // The bank's purpose does not allow delegation: its request does not ask for it, and
    // the wallet will not show the ward's; the request waits for the holder's own.
    let (consent, decide, result) = ask("nanning-bank", "bank_account_opening").await;
    assert_eq!(consent["delegation"], false, "{consent}");
    let (status, body) = share(&decide, Some(holding)).await.unwrap_err();
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("delegation_not_accepted")),
        "{body}"
    );
    share(&decide, None).await.unwrap();
    let outcome = get(&result).await;
    assert_eq!(outcome["report"]["accepted"], true, "{outcome}");

    // In person (ISO 18013-5 over TCP): the phone shows its engagement QR, the desk asks,
    // the holder decides on the phone.
    let in_person = async |desk: &str, purpose: &str, held_for: Option<i64>| {
        let (shown, session) = engagement(&api, &wallet).await;
        let desk = format!("{}/desks/{desk}", running.base);
        desk_ready(&desk).await;
        let asks = tokio::spawn(post(
            format!("{desk}/verify/in-person").leak(),
            None,
            json!({"engagement": shown["engagement"], "purpose": purpose}),
        ));
        let mut state = Value::Null;
        for _ in 0..200 {
            state = get(&session).await;
            if state["state"] != "waiting" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(state["state"], "asking", "{state}");
        let decided = post(
            &session,
            None,
            json!({"share": true, "pin": "135790", "held_for": held_for}),
        )
        .await;
        if decided.is_err() {
            // The request still waits: her own, then.
            post(&session, None, json!({"share": true, "pin": "135790"}))
                .await
                .unwrap();
        }
        let report = asks.await.unwrap().unwrap();
        // The phone records the showing once the answer is sent: its session says so.
        for _ in 0..200 {
            if get(&session).await["state"] == "shared" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        (state["consent"].clone(), decided, report)
    };
    let (consent, decided, report) =
        in_person("nanning-hotel", "hotel_check_in", Some(holding)).await;
    assert_eq!(consent["delegation"], true, "{consent}");
    decided.unwrap();
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["delegated"], "guardian", "{report}");
    assert!(named(&report["attributes"], &ward), "{report}");
    // The bank in person: not asked, not shown; her own after the refusal.
    let (consent, decided, report) =
        in_person("nanning-bank", "bank_account_opening", Some(holding)).await;
    assert_eq!(consent["delegation"], false, "{consent}");
    let (status, body) = decided.unwrap_err();
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("delegation_not_accepted")),
        "{body}"
    );
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report.get("delegated"), None, "{report}");
    // Her history says which showings were of what she holds for someone else.
    let history = get(&format!("{api}/wallets/{wallet}/history")).await;
    let in_person: Vec<(&Value, &Value)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["channel"] == "in_person")
        .map(|entry| (&entry["relying_party"], &entry["held_for"]))
        .collect();
    assert_eq!(
        in_person,
        [
            (&json!("nanning-hotel"), &json!("guardian")),
            (&json!("nanning-bank"), &Value::Null)
        ],
        "{history}"
    );

    // She decides, and at once shows a new engagement QR (the next desk): the one she
    // decided for still gets its answer, and her history still keeps the showing.
    let (shown, session) = engagement(&api, &wallet).await;
    let hotel = format!("{}/desks/nanning-hotel", running.base);
    let asks = tokio::spawn(post(
        format!("{hotel}/verify/in-person").leak(),
        None,
        json!({"engagement": shown["engagement"], "purpose": "hotel_check_in"}),
    ));
    while get(&session).await["state"] == "waiting" {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = get(&format!("{api}/wallets/{wallet}/history")).await["history"]
        .as_array()
        .unwrap()
        .len();
    post(
        &session,
        None,
        json!({"share": true, "pin": "135790", "held_for": holding}),
    )
    .await
    .unwrap();
    engagement(&api, &wallet).await;
    let report = asks.await.unwrap().unwrap();
    assert_eq!(report["delegated"], "guardian", "{report}");
    let mut history = Value::Null;
    for _ in 0..100 {
        history = get(&format!("{api}/wallets/{wallet}/history")).await;
        if history["history"].as_array().unwrap().len() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let last = history["history"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (
            &last["channel"],
            &last["held_for"],
            history["history"].as_array().unwrap().len()
        ),
        (&json!("in_person"), &json!("guardian"), before + 1),
        "{history}"
    );

    // Through the Digital Credentials API (a web page's call, handed to her wallet by the
    // phone's platform): the hotel's request takes either, and she chooses the ward's.
    let digital = async |desk: &str, purpose: &str| {
        let desk = format!("{}/desks/{desk}", running.base);
        desk_ready(&desk).await;
        let started = post(
            &format!("{desk}/dc/requests"),
            None,
            json!({ "purpose": purpose }),
        )
        .await
        .unwrap();
        let entry = &started["digital"]["requests"][0];
        assert_eq!(entry["protocol"], "org-iso-mdoc", "{started}");
        let answered = post(
            &format!("{api}/wallets/{wallet}/digital-credentials"),
            None,
            json!({"protocol": entry["protocol"], "data": entry["data"],
                   "origin": started["origin"], "pin": "135790", "held_for": holding}),
        )
        .await;
        (
            answered,
            format!("{desk}{}", started["response"].as_str().unwrap()),
        )
    };
    let (answered, response) = digital("nanning-hotel", "hotel_check_in").await;
    let answer = answered.unwrap();
    let report = post(
        &response,
        None,
        json!({"protocol": answer["protocol"], "data": answer["data"]}),
    )
    .await
    .unwrap();
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["delegated"], "guardian", "{report}");
    assert!(named(&report["attributes"], &ward), "{report}");
    let history = get(&format!("{api}/wallets/{wallet}/history")).await;
    let last = history["history"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (&last["channel"], &last["held_for"]),
        (&json!("digital_credentials"), &json!("guardian")),
        "{history}"
    );
    // The bank's takes her own alone: the ward's is not shown, nothing is handed back.
    let (answered, _) = digital("nanning-bank", "bank_account_opening").await;
    let (status, body) = answered.unwrap_err();
    assert_eq!(
        (status, &body["error"]),
        (409, &json!("delegation_not_accepted")),
        "{body}"
    );

    // The ward's freeze (the hotline, resident-wide) reaches what the guardian holds.
    post(
        &format!("{admin}/residents/suspend"),
        Some(token.trim()),
        json!({"id_number": ward["id_number"]}),
    )
    .await
    .unwrap();
    let mut report = Value::Null;
    for _ in 0..100 {
        let (_, decide, result) = ask("nanning-hotel", "hotel_check_in").await;
        share(&decide, Some(holding)).await.unwrap();
        report = get(&result).await["report"].clone();
        if report["accepted"] == false {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        report["reasons"][0]["reason"], "status_suspended",
        "{report}"
    );
}
