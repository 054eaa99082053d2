//! The move to a new phone (face models): a lost report suspends, the move revokes for good.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::{folder, new_wallet, post, up};

/// The hosted wallet's move to a new phone: a lost report from a wallet without her
/// credentials suspends the old phone (a resident-wide reinstate brings it back), a move
/// from there is refused; once the new phone is enrolled with her face, "moving to this
/// phone" revokes the old one for good, and a resident-wide reinstate does not bring it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn a_move_to_a_new_phone_revokes_the_old_one_for_good() {
    let Some(proofing) = eid_core::testing::required_env("EID_PROOFING_DIR").map(PathBuf::from)
    else {
        return;
    };
    let dir = folder("move");
    let running = up(&dir, Some(proofing.clone())).await;
    let d = running.description.clone();
    let resident = d["demo_residents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["authority"] == "nanning")
        .unwrap()
        .clone();
    let photo = |name: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(proofing.join("fixtures").join(name.as_str().unwrap())).unwrap())
    };
    let (card, face) = (photo(&resident["portrait"]), photo(&resident["selfie"]));
    // Her live capture (platform.json: facing, turned, the way) for the authority's liveness
    // challenge.
    let capture = &resident["capture"];
    let (facing, turned) = (photo(&capture["facing"]), photo(&capture["turned"]));
    let enrol = async |api: &str, wallet: &str| {
        post(
            &format!("{api}/wallets/{wallet}/enrol"),
            None,
            json!({"pin": "135790", "id_number": resident["id_number"],
                   "full_name": resident["full_name"], "card_front": card, "card_back": card,
                   "face": facing, "face_turned": turned, "turn": capture["turn"]}),
        )
        .await
        .unwrap()
    };
    let report = async |api: &str, wallet: &str, moving: bool| {
        post(
            &format!("{api}/wallets/{wallet}/report-lost"),
            None,
            json!({"pin": "135790", "id_number": resident["id_number"],
                   "full_name": resident["full_name"], "face": facing,
                   "face_turned": turned, "turn": capture["turn"], "move": moving}),
        )
        .await
    };
    // What airport security says of `wallet`'s next code, her in front of the desk (the
    // purpose requires a face match), once it says `expected`.
    let airport_until = async |api: &str, wallet: &str, expected: &str| {
        let mut report = Value::Null;
        for _ in 0..50 {
            let code = post(
                &format!("{api}/wallets/{wallet}/offline"),
                None,
                json!({"pin": "135790", "purpose": "airport_security"}),
            )
            .await
            .unwrap();
            report = post(
                &format!(
                    "{}/desks/nanning-airport/verify/offline?purpose=airport_security",
                    running.base
                ),
                None,
                json!({"code": code["code"], "face": face}),
            )
            .await
            .unwrap();
            let verdict = if report["accepted"] == true {
                "accepted"
            } else {
                report["reasons"][0]["reason"].as_str().unwrap_or_default()
            };
            if verdict == expected {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        report
    };
    let token = std::fs::read_to_string(dir.join("nanning/admin-token")).unwrap();
    let reinstate = async || {
        post(
            &format!(
                "{}/authorities/nanning/admin/residents/reinstate",
                running.base
            ),
            Some(token.trim()),
            json!({"id_number": resident["id_number"]}),
        )
        .await
        .unwrap()
    };
    let (a, b) = (
        d["providers"][0]["api"].as_str().unwrap(),
        d["providers"][1]["api"].as_str().unwrap(),
    );
    let old = new_wallet(a).await;
    enrol(a, &old).await;
    let report_ok = |r: &Value, expected: &str| {
        r["accepted"] == (expected == "accepted")
            && (expected == "accepted" || r["reasons"][0]["reason"] == expected)
    };
    let seen = airport_until(a, &old, "accepted").await;
    assert!(report_ok(&seen, "accepted"), "{seen}");

    // The lost report from the new phone, not yet enrolled: the old phone suspended.
    let new = new_wallet(b).await;
    let taken = report(b, &new, false).await.unwrap();
    assert_eq!(taken["wallets_suspended"], 1, "{taken}");
    let seen = airport_until(a, &old, "status_suspended").await;
    assert!(report_ok(&seen, "status_suspended"), "{seen}");
    // Moving to a wallet that holds nothing of hers is refused, and changes nothing.
    let (status, refused) = report(b, &new, true).await.unwrap_err();
    assert_eq!(
        (status, &refused["error"]),
        (422, &json!("authority_refused"))
    );
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("move_not_completed"),
        "{refused}"
    );
    // Found again: the hotline's resident-wide reinstate brings a lost phone back.
    let back = reinstate().await;
    assert!(back["instances"].as_u64().unwrap() > 0, "{back}");
    let seen = airport_until(a, &old, "accepted").await;
    assert!(report_ok(&seen, "accepted"), "{seen}");

    // The new phone enrolled with her face, then "moving to this phone".
    enrol(b, &new).await;
    let moved = report(b, &new, true).await.unwrap();
    assert_eq!(
        (&moved["moved"], &moved["wallets_revoked"]),
        (&json!(true), &json!(1)),
        "{moved}"
    );
    let seen = airport_until(a, &old, "status_invalid").await;
    assert!(report_ok(&seen, "status_invalid"), "{seen}");
    // The old phone found: a resident-wide reinstate changes nothing; the new one works.
    let back = reinstate().await;
    assert_eq!(back["instances"], 0, "{back}");
    let seen = airport_until(a, &old, "status_invalid").await;
    assert!(report_ok(&seen, "status_invalid"), "{seen}");
    let seen = airport_until(b, &new, "accepted").await;
    assert!(report_ok(&seen, "accepted"), "{seen}");
    running.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
