//! The face with the real model (`EID_PROOFING_DIR`): the hotel's, the gate's, the bank's match.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use eid_mdoc::offline::present_offline;
use eid_trust::Purpose;
use serde_json::{Value, json};

use crate::common::{NOW, World};
use crate::served;
use crate::{bank_session_asking, bank_session_with, call, post_json, start_with};

/// The face fixtures' folder and the model, or `None` (said) without `EID_PROOFING_DIR`.
fn face_model() -> Option<(std::path::PathBuf, eid_face::FaceMatcher)> {
    let dir = std::path::PathBuf::from(eid_core::testing::required_env("EID_PROOFING_DIR")?);
    let model = eid_face::FaceMatcher::load(&dir.join("models"), 0.6).unwrap();
    Some((dir.join("fixtures"), model))
}

/// A desk of `relying_party` with `model`, holding a trust list that requires a face match
/// for `purpose`.
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

/// A code printed at a counter, at the airport gate whose catalogue accepts paper (and so
/// requires the face): her face in front of it is accepted as a printed code, another's
/// refused, none refused — the paper alone is never enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_gate_matches_the_face_in_front_of_it_with_a_printed_codes_template() {
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
    let gate = start_with(
        &world,
        &served,
        "nanning-airport",
        false,
        None,
        None,
        Some(Arc::new(model)),
    )
    .await;
    let (jws, _) = world.with_paper(Purpose::AirportSecurity, true);
    let (status, body) = call("PUT", &format!("{gate}/trust-list"), jws).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let attributes = [
        (
            "family_name".to_owned(),
            eid_mdoc::issue::ElementValue::Text("韦".into()),
        ),
        (
            eid_mdoc::offline::FACE_TEMPLATE.to_owned(),
            eid_mdoc::issue::ElementValue::Bytes(template.as_bytes().to_vec()),
        ),
    ];
    let paper = eid_mdoc::offline::issue_paper(
        &eid_mdoc::offline::PaperCodeRequest {
            purpose: "airport_security",
            attributes: &attributes,
            issued_at: NOW - time::Duration::hours(1),
            expires_at: NOW + time::Duration::hours(23),
            status: Some(&served.reference),
        },
        &world.nanning.ds_key,
        eid_crypto::Signer::verifying_key(&world.nanning.ds_key),
    )
    .unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    for (face, refusal) in [
        (Some(b64(&fixture("obama2.jpg"))), None),
        (Some(b64(&fixture("biden.jpg"))), Some("face_mismatch")),
        (None, Some("face_not_checked")),
    ] {
        let mut body = json!({"code": eid_crypto::b64url(&paper)});
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
        assert_eq!(report["format"], "eid_paper_code", "{report}");
        match refusal {
            None => {
                assert_eq!(report["accepted"], true, "{report}");
                assert_eq!(report["presence"]["matched"], true, "{report}");
            }
            Some(code) => {
                assert_eq!(report["reasons"][0]["reason"], code, "{report}");
                assert_eq!(report["attributes"], json!({}), "{report}");
            }
        }
    }
}
