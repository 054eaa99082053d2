//! The move to a new phone (face models): a lost report suspends, the move revokes for good.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use eid_platform::up::Running;

use crate::{enrolled_wallet, folder, get, new_wallet, post, up};

/// The Nanning demo resident with a registry portrait, and her photographs (base64 JPEG):
/// the card, a selfie, and her live capture (platform.json: facing, turned, the way) for the
/// authority's liveness challenge.
struct Her {
    resident: Value,
    card: String,
    face: String,
    facing: String,
    turned: String,
}

impl Her {
    fn of(running: &Running, proofing: &Path) -> Self {
        let resident = running.description["demo_residents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["authority"] == "nanning")
            .unwrap()
            .clone();
        let photo = |name: &Value| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(
                std::fs::read(proofing.join("fixtures").join(name.as_str().unwrap())).unwrap(),
            )
        };
        let capture = &resident["capture"];
        Self {
            card: photo(&resident["portrait"]),
            face: photo(&resident["selfie"]),
            facing: photo(&capture["facing"]),
            turned: photo(&capture["turned"]),
            resident,
        }
    }

    /// Enrols `wallet` at the provider `api` with her face (PIN 135790).
    async fn enrol(&self, api: &str, wallet: &str) -> Value {
        let r = &self.resident;
        post(
            &format!("{api}/wallets/{wallet}/enrol"),
            None,
            json!({"pin": "135790", "id_number": r["id_number"], "full_name": r["full_name"],
                   "card_front": self.card, "card_back": self.card, "face": self.facing,
                   "face_turned": self.turned, "turn": r["capture"]["turn"]}),
        )
        .await
        .unwrap()
    }
}

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
    let her = Her::of(&running, &proofing);
    let (resident, face) = (&her.resident, &her.face);
    let enrol = async |api: &str, wallet: &str| her.enrol(api, wallet).await;
    let report = async |api: &str, wallet: &str, moving: bool| {
        post(
            &format!("{api}/wallets/{wallet}/report-lost"),
            None,
            json!({"pin": "135790", "id_number": resident["id_number"],
                   "full_name": resident["full_name"], "face": her.facing,
                   "face_turned": her.turned, "turn": resident["capture"]["turn"], "move": moving}),
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

/// The history survives a lost phone: the phone enrolled with her face backs its history up
/// at its provider, which keeps bytes that name no relying party, purpose or attribute;
/// her new phone, enrolled with her face at the same provider, restores it with her
/// recovery code (not with another), after which the old phone cannot add to it. A wallet
/// enrolled at the counter has no history secret and cannot back up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn a_new_phone_restores_the_history_its_provider_kept_unread() {
    let Some(proofing) = eid_core::testing::required_env("EID_PROOFING_DIR").map(PathBuf::from)
    else {
        return;
    };
    let dir = folder("history");
    let running = up(&dir, Some(proofing.clone())).await;
    let d = running.description.clone();
    let her = Her::of(&running, &proofing);
    let resident = &her.resident;
    let api = d["providers"][0]["api"].as_str().unwrap();
    let enrol = async |wallet: &str| her.enrol(api, wallet).await;
    let backup_state =
        async |wallet: &str| get(&format!("{api}/wallets/{wallet}")).await["backup"].clone();
    let show = async |wallet: &str, purpose: &str| {
        post(
            &format!("{api}/wallets/{wallet}/offline"),
            None,
            json!({"pin": "135790", "purpose": purpose}),
        )
        .await
        .unwrap()
    };
    let history = async |wallet: &str| -> Vec<Value> {
        get(&format!("{api}/wallets/{wallet}/history")).await["history"]
            .as_array()
            .unwrap()
            .clone()
    };

    // A wallet enrolled at the counter: no secret, no backup.
    let counter = enrolled_wallet(&running, &dir).await;
    assert_eq!(backup_state(&counter).await, "unavailable");
    let (status, refused) = post(
        &format!("{api}/wallets/{counter}/backup"),
        None,
        json!({"pin": "135790"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, &refused["error"]),
        (409, &json!("no_history_secret"))
    );

    // Her phone, enrolled with her face: one presentation, then the backup (the PIN
    // first), then another, sent as it is made.
    let old = new_wallet(api).await;
    enrol(&old).await;
    assert_eq!(backup_state(&old).await, "off");
    show(&old, "airport_security").await;
    let (status, refused) = post(
        &format!("{api}/wallets/{old}/backup"),
        None,
        json!({"pin": "000000"}),
    )
    .await
    .unwrap_err();
    assert_eq!((status, &refused["error"]), (403, &json!("wrong_pin")));
    let started = post(
        &format!("{api}/wallets/{old}/backup"),
        None,
        json!({"pin": "135790"}),
    )
    .await
    .unwrap();
    let code = started["recovery_code"].as_str().unwrap().to_owned();
    assert_eq!((code.len(), started["entries"].clone()), (23, json!(1)));
    assert_eq!(backup_state(&old).await, "on");
    show(&old, "rail_ticketing").await;
    let shown = history(&old).await;
    assert_eq!(shown.len(), 2);

    // What the provider keeps names no relying party, purpose, attribute or resident.
    let kept = std::fs::read(dir.join("providers/superapp-a/backups.db")).unwrap();
    for word in [
        "airport",
        "rail",
        "offline_qr",
        "portrait",
        "age_over",
        resident["id_number"].as_str().unwrap(),
    ] {
        assert!(
            !kept.windows(word.len()).any(|w| w == word.as_bytes()),
            "the provider's backups show {word}"
        );
    }

    // Her new phone at the same provider, enrolled with her face: the backup is there to
    // restore; not with another code, then with hers.
    let new = new_wallet(api).await;
    enrol(&new).await;
    assert_eq!(backup_state(&new).await, "restorable");
    let (status, refused) = post(
        &format!("{api}/wallets/{new}/backup"),
        None,
        json!({"pin": "135790"}),
    )
    .await
    .unwrap_err();
    assert_eq!((status, &refused["error"]), (409, &json!("backup_exists")));
    let (status, refused) = post(
        &format!("{api}/wallets/{new}/backup/restore"),
        None,
        json!({"pin": "135790", "recovery_code": "00000-00000-00000-00000"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, &refused["error"]),
        (422, &json!("wrong_recovery_code"))
    );
    assert!(
        history(&new).await.is_empty(),
        "a refused restore added nothing"
    );
    let restored = post(
        &format!("{api}/wallets/{new}/backup/restore"),
        None,
        json!({"pin": "135790", "recovery_code": code.to_lowercase()}),
    )
    .await
    .unwrap();
    assert_eq!(restored["restored"], 2, "{restored}");
    assert_eq!(history(&new).await, shown);
    assert_eq!(backup_state(&new).await, "on");

    // The old phone, found, adds nothing to the restored backup: a third phone restores
    // the two entries and the new phone's next one, not the old phone's.
    show(&old, "age_check").await;
    show(&new, "airport_security").await;
    let third = new_wallet(api).await;
    enrol(&third).await;
    let restored = post(
        &format!("{api}/wallets/{third}/backup/restore"),
        None,
        json!({"pin": "135790", "recovery_code": code}),
    )
    .await
    .unwrap();
    assert_eq!(restored["restored"], 3, "{restored}");
    let purposes: Vec<Value> = history(&third)
        .await
        .iter()
        .map(|e| e["purpose"].clone())
        .collect();
    assert!(!purposes.contains(&json!("age_check")), "{purposes:?}");

    // A fourth phone whose holder has lost her code starts over: the provider's backup is
    // replaced under a new code. The third phone's next entry finds it moved on: it says
    // its history is no longer backed up, and offers the restore.
    let fourth = new_wallet(api).await;
    enrol(&fourth).await;
    let over = post(
        &format!("{api}/wallets/{fourth}/backup"),
        None,
        json!({"pin": "135790", "over": true}),
    )
    .await
    .unwrap();
    let new_code = over["recovery_code"].as_str().unwrap();
    assert_ne!(new_code, code);
    assert_eq!(backup_state(&fourth).await, "on");
    assert_eq!(backup_state(&third).await, "on");
    show(&third, "rail_ticketing").await;
    assert_eq!(backup_state(&third).await, "restorable");
    running.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
