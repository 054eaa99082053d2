//! The platform in one process on loopback: the story plays (remote enrolment with the
//! face when the models are present, at the counter without them), a restart keeps every
//! state, and bad requests get clear refusals that change nothing.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap or a panic is a failed test"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eid_core::{OsRandom, SystemClock};
use eid_http::{HttpError, fetch, post_form, post_json};
use eid_platform::up::{Options, Running, start};
use serde_json::{Value, json};

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eid-platform-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn up(dir: &Path, proofing: Option<PathBuf>) -> Running {
    start(
        &Options {
            dir: dir.to_owned(),
            port: 0,
            proofing,
            topology: None,
        },
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        &mut |_| {},
    )
    .await
    .unwrap()
}

async fn play(base: &str, proofing: Option<&Path>) -> (bool, Vec<String>) {
    let mut lines = Vec::new();
    let all = eid_platform::demo::play(base, proofing, &mut |l| lines.push(l.to_owned())).await;
    (all, lines)
}

async fn post(url: &str, bearer: Option<&str>, body: Value) -> Result<Value, (u16, Value)> {
    match post_json(url, bearer, body.to_string()).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap()),
        Err(HttpError::Status(status, body)) => Err((
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )),
        Err(e) => panic!("{e}"),
    }
}

/// A GET with an optional bearer token (the admin API).
async fn fetch_with(url: &str, bearer: Option<&str>) -> Result<Vec<u8>, HttpError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    if status == 200 {
        Ok(body.into_bytes())
    } else {
        Err(HttpError::Status(status, body))
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// POSTs bytes; the status and the JSON answer.
async fn post_octets(url: &str, body: Vec<u8>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.write_all(&body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

async fn get(url: &str) -> Value {
    serde_json::from_slice(&fetch(url, "application/json").await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_plays_at_the_counter_without_face_matching() {
    let dir = folder("counter");
    let running = up(&dir, None).await;
    assert!(
        running
            .checks_off
            .iter()
            .any(|c| c.check.starts_with("face matching")),
        "face matching should be off without models"
    );
    let (all, lines) = play(&running.base, None).await;
    running.stop().await;
    let text = lines.join("\n");
    assert!(all, "{text}");
    assert!(text.contains("at the counter"), "{text}");
    assert!(text.contains("suspended by the hotline"), "{text}");
    assert_eq!(text.matches('✓').count(), 13, "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "face")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_story_plays_with_remote_enrolment_and_the_face() {
    let Some(proofing) = eid_core::testing::required_env("EID_PROOFING_DIR").map(PathBuf::from)
    else {
        return;
    };
    let dir = folder("face");
    let running = up(&dir, Some(proofing.clone())).await;
    assert!(
        !running
            .checks_off
            .iter()
            .any(|c| c.check.starts_with("face matching")),
        "face matching should be on"
    );
    let (all, lines) = play(&running.base, Some(&proofing)).await;
    running.stop().await;
    let text = lines.join("\n");
    assert!(all, "{text}");
    assert!(text.contains("remote, with her face"), "{text}");
    assert!(
        text.contains("reported from the new phone's wallet with her face"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The hosted wallet's move to a new phone: a lost report from a wallet without her
/// credentials suspends the old phone (a resident-wide reinstate brings it back), a move
/// from there is refused; once the new phone is enrolled with her face, "moving to this
/// phone" revokes the old one for good, and a resident-wide reinstate does not bring it back.
#[cfg(feature = "face")]
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

/// A new hosted wallet at the provider `api`, PIN 135790: its id.
async fn new_wallet(api: &str) -> String {
    post(&format!("{api}/wallets"), None, json!({"pin": "135790"}))
        .await
        .unwrap()["wallet"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A wallet enrolled at the counter: its id.
async fn enrolled_wallet(running: &Running, dir: &Path) -> String {
    let d = &running.description;
    let api = d["providers"][0]["api"].as_str().unwrap();
    let wallet = new_wallet(api).await;
    let resident = &d["demo_residents"][0];
    let token = std::fs::read_to_string(dir.join("nanning/admin-token")).unwrap();
    let offer = post(
        &format!("{}/authorities/nanning/admin/enrolments", running.base),
        Some(token.trim()),
        json!({"id_number": resident["id_number"], "full_name": resident["full_name"], "officer": "t"}),
    )
    .await
    .unwrap();
    post(
        &format!("{api}/wallets/{wallet}/enrol"),
        None,
        json!({"pin": "135790", "offer": offer["offer_uri"], "tx_code": offer["tx_code"]}),
    )
    .await
    .unwrap();
    wallet
}

async fn airport(running: &Running, wallet: &str, pin: &str) -> Result<Value, (u16, Value)> {
    let api = running.description["providers"][0]["api"].as_str().unwrap();
    let code = post(
        &format!("{api}/wallets/{wallet}/offline"),
        None,
        json!({"pin": pin, "purpose": "airport_security"}),
    )
    .await?;
    let report = post_form(
        &format!(
            "{}/desks/nanning-airport/verify/offline?purpose=airport_security",
            running.base
        ),
        code["code"].as_str().unwrap().to_owned(),
    )
    .await
    .unwrap();
    Ok(serde_json::from_slice(&report).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_keys_trust_list_wallets_and_credentials() {
    let dir = folder("restart");
    let running = up(&dir, None).await;
    let wallet = enrolled_wallet(&running, &dir).await;
    let operator = std::fs::read_to_string(dir.join("trust/operator-token")).unwrap();
    let widened = post(
        &format!("{}/trust/scopes", running.base),
        Some(operator.trim()),
        json!({"issuer": "cn-4501", "region": "nation"}),
    )
    .await
    .unwrap();
    assert_eq!(widened["trust_list_version"], 2);
    let residents = running.description["demo_residents"].clone();
    running.stop().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let keystore = dir.join(format!(
            "providers/superapp-a/wallets/{wallet}/keystore.json"
        ));
        for secret in [
            dir.join("nanning/ds.key.pem"),
            dir.join("nanning/admin-token"),
            dir.join("trust/root.key.pem"),
            dir.join("trust/operator-token"),
            keystore,
        ] {
            let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", secret.display());
        }
    }

    let running = up(&dir, None).await;
    assert_eq!(running.description["demo_residents"], residents);
    let list = fetch(&format!("{}/trust/list", running.base), "application/jwt")
        .await
        .unwrap();
    let payload = String::from_utf8(list).unwrap();
    let body = payload.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&eid_crypto::b64url_decode(body).unwrap()).unwrap();
    assert_eq!(claims["version"], 2, "{claims}");
    let versions = get(&format!("{}/trust/versions", running.base)).await;
    assert_eq!(versions[0]["version"], 2, "{versions}");
    assert_eq!(versions[1]["version"], 1, "{versions}");
    assert!(
        versions[0]["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["issuer"] == "cn-4501" && s["regions"][0] == "nation"),
        "{versions}"
    );
    let api = running.description["providers"][0]["api"].as_str().unwrap();
    let card = get(&format!("{api}/wallets/{wallet}")).await;
    assert_eq!(card["enrolled"], true, "{card}");
    // The authority's status list and the credential survived: the airport accepts.
    let mut report = Value::Null;
    for _ in 0..50 {
        report = airport(&running, &wallet, "135790").await.unwrap();
        if report["accepted"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(report["accepted"], true, "{report}");
    // The wallet remembers its issuer: a refresh (no new proofing) brings a new batch.
    let before = get(&format!("{api}/wallets/{wallet}")).await["credentials"]
        .as_array()
        .unwrap()
        .len();
    let refreshed = post(
        &format!("{api}/wallets/{wallet}/refresh"),
        None,
        json!({"pin": "135790"}),
    )
    .await
    .unwrap();
    assert_eq!(
        refreshed["credentials"].as_array().unwrap().len(),
        5,
        "{refreshed}"
    );
    let after = get(&format!("{api}/wallets/{wallet}")).await["credentials"]
        .as_array()
        .unwrap()
        .len();
    assert!(after > before, "{before} → {after}");
    let history = get(&format!("{api}/wallets/{wallet}/history")).await;
    assert!(
        !history["history"].as_array().unwrap().is_empty(),
        "{history}"
    );
    running.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_clearly_and_change_nothing() {
    let dir = folder("refusals");
    let running = up(&dir, None).await;
    let api = running.description["providers"][0]["api"]
        .as_str()
        .unwrap()
        .to_owned();
    // A weak PIN.
    let (status, body) = post(&format!("{api}/wallets"), None, json!({"pin": "12"}))
        .await
        .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let wallet = enrolled_wallet(&running, &dir).await;
    // A wrong PIN: no code, and the wallet still works with the right one.
    let (status, body) = airport(&running, &wallet, "000000").await.unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("wrong_pin")),
        "{body}"
    );
    let history = get(&format!("{api}/wallets/{wallet}/history")).await;
    assert_eq!(history["history"].as_array().unwrap().len(), 0, "{history}");
    // An unknown purpose, an unknown wallet.
    let (status, body) = post(
        &format!("{api}/wallets/{wallet}/offline"),
        None,
        json!({"pin": "135790", "purpose": "karaoke"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("karaoke"),
        "{body}"
    );
    let (status, _) = post(
        &format!("{api}/wallets/{}/offline", "0".repeat(32)),
        None,
        json!({"pin": "135790", "purpose": "airport_security"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 404);
    // An enrolment with neither an offer nor the photographs.
    let (status, body) = post(
        &format!("{api}/wallets/{wallet}/enrol"),
        None,
        json!({"pin": "135790", "id_number": "450102195609270671"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    // The trust list without the operator's token, or with a region that does not exist.
    let scopes = format!("{}/trust/scopes", running.base);
    let change = json!({"issuer": "cn-4501", "region": "nation"});
    let (status, _) = post(&scopes, None, change.clone()).await.unwrap_err();
    assert_eq!(status, 401);
    let (status, _) = post(&scopes, Some("not-the-token"), change)
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    let operator = std::fs::read_to_string(dir.join("trust/operator-token")).unwrap();
    let (status, body) = post(
        &scopes,
        Some(operator.trim()),
        json!({"issuer": "cn-4501", "region": "99"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_region")),
        "{body}"
    );
    let (status, _) = post(
        &scopes,
        Some(operator.trim()),
        json!({"issuer": "cn-9999", "region": "nation"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400);
    // Narrowing Nanning (accepted in all of Guangxi) to its own prefecture is refused.
    let (status, body) = post(
        &scopes,
        Some(operator.trim()),
        json!({"issuer": "cn-4501", "region": "4501"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("would_narrow")),
        "{body}"
    );
    // Online, a mistyped PIN leaves the bank's request waiting; the right one answers it.
    let bank = format!("{}/desks/nanning-bank", running.base);
    // (once the bank's desk holds Nanning's status list, published with the first credential)
    for _ in 0..100 {
        let health = get(&format!("{bank}/health")).await;
        if health["status_lists"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The bank's website starts a request, the wallet reads it: what each said.
    let bank_asks = async |wallet: &str| {
        let started = post(
            &format!("{bank}/vp/requests"),
            None,
            json!({"purpose": "bank_account_opening"}),
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
        (started, asked)
    };
    // Declined: the bank is told, and its page shows it instead of waiting.
    let (declined, asked) = bank_asks(&wallet).await;
    let said = post(
        &format!(
            "{api}/wallets/{wallet}/online/{}",
            asked["session"].as_str().unwrap()
        ),
        None,
        json!({"share": false}),
    )
    .await
    .unwrap();
    assert_eq!(
        (&said["shared"], &said["told"]),
        (&json!(false), &json!(true)),
        "{said}"
    );
    let outcome = get(&format!("{bank}{}", declined["result"].as_str().unwrap())).await;
    assert_eq!(
        outcome["report"]["reasons"][0]["reason"], "holder_declined",
        "{outcome}"
    );
    let (started, asked) = bank_asks(&wallet).await;
    assert_eq!(
        asked["consent"]["purpose"], "bank_account_opening",
        "{asked}"
    );
    let decide = format!(
        "{api}/wallets/{wallet}/online/{}",
        asked["session"].as_str().unwrap()
    );
    let (status, body) = post(&decide, None, json!({"share": true, "pin": "999999"}))
        .await
        .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("wrong_pin")),
        "{body}"
    );
    let (status, _) = post(&decide, None, json!({"share": true}))
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    let shared = post(&decide, None, json!({"share": true, "pin": "135790"}))
        .await
        .unwrap();
    assert_eq!(shared["shared"], true, "{shared}");
    let outcome = get(&format!("{bank}{}", started["result"].as_str().unwrap())).await;
    assert_eq!(outcome["report"]["accepted"], true, "{outcome}");
    // A wallet with nothing to show says so, and the bank is told no as well.
    let empty = new_wallet(&api).await;
    let (started, asked) = bank_asks(&empty).await;
    let (status, body) = post(
        &format!(
            "{api}/wallets/{empty}/online/{}",
            asked["session"].as_str().unwrap()
        ),
        None,
        json!({"share": true, "pin": "135790"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("no_credential")),
        "{body}"
    );
    let outcome = get(&format!("{bank}{}", started["result"].as_str().unwrap())).await;
    assert_eq!(
        outcome["report"]["reasons"][0]["reason"], "holder_declined",
        "{outcome}"
    );
    // Nor has it an offline code to show: said before the PIN is tried, so a wrong one is
    // not counted against it.
    let (status, body) = post(
        &format!("{api}/wallets/{empty}/offline"),
        None,
        json!({"purpose": "airport_security", "pin": "999999"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("no_credential")),
        "{body}"
    );
    // An offer from an issuer the provider does not work with is refused before any fetch.
    let (status, body) = post(
        &format!("{api}/wallets/{wallet}/enrol"),
        None,
        json!({"pin": "135790", "tx_code": "123456",
               "offer": "openid-credential-offer://?credential_offer=%7B%22credential_issuer%22%3A%22http%3A%2F%2F127.0.0.1%3A9%22%2C%22credential_configuration_ids%22%3A%5B%22resident_identity_mdoc%22%5D%2C%22grants%22%3A%7B%22urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code%22%3A%7B%22pre-authorized_code%22%3A%22x%22%2C%22tx_code%22%3A%7B%22length%22%3A6%7D%7D%7D%7D"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not from an issuing authority"),
        "{body}"
    );
    // The desk's QR reader: a picture of a code gives its bytes back; a wrong shape and a
    // blank picture are refused with what was wrong.
    let content = b"\x00\x01binary offline code\xff".to_vec();
    let code = qrcode::QrCode::with_error_correction_level(&content, qrcode::EcLevel::M).unwrap();
    let (modules, scale) = (code.width(), 4);
    let side = (modules + 8) * scale;
    let mut grey = vec![255u8; side * side];
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / scale).wrapping_sub(4), (y / scale).wrapping_sub(4));
            if mx < modules && my < modules && code[(mx, my)] == qrcode::Color::Dark {
                grey[y * side + x] = 0;
            }
        }
    }
    let decode = |w: usize, h: usize, body: Vec<u8>| {
        let url = format!("{}/web/decode?width={w}&height={h}", running.base);
        async move { post_octets(&url, body).await }
    };
    let (status, found) = decode(side, side, grey.clone()).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        eid_crypto::b64url_decode(found["bytes"].as_str().unwrap()).unwrap(),
        content
    );
    let (status, found) = decode(side, side + 1, grey).await;
    assert_eq!(status, 400, "{found}");
    let (status, found) = decode(64, 64, vec![255; 64 * 64]).await;
    assert_eq!(
        (status, found["error"].as_str()),
        (404, Some("not_found")),
        "{found}"
    );
    // The console's admin routes want the authority's token.
    let stats = format!("{}/authorities/nanning/admin/stats", running.base);
    let token = std::fs::read_to_string(dir.join("nanning/admin-token")).unwrap();
    assert!(matches!(
        fetch_with(&stats, None).await,
        Err(HttpError::Status(401, _))
    ));
    let counted: Value =
        serde_json::from_slice(&fetch_with(&stats, Some(token.trim())).await.unwrap()).unwrap();
    assert_eq!(counted["credentials"]["valid"], 5, "{counted}");
    assert!(
        !counted["issued_per_hour"].as_array().unwrap().is_empty(),
        "{counted}"
    );
    // Still version 1, and the wallet still presents.
    let health = get(&format!("{}/desks/nanning-airport/health", running.base)).await;
    assert_eq!(health["trust_list_version"], 1, "{health}");
    let report = airport(&running, &wallet, "135790").await.unwrap();
    assert!(report.get("accepted").is_some(), "{report}");
    running.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One raw HTTP/1.1 exchange: the status, the headers (lower-cased) and the body.
async fn exchange(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    stream
        .write_all(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let head = head.to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, head, body)
}

/// A request of the route walk: method, URL, headers, body.
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>);

/// Every service of the platform answers bad input in one shape — `{"error",
/// "error_description"}` as JSON, a 4xx status — and never echoes a large input back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_bad_input_in_one_json_error_shape() {
    let dir = folder("error-shape");
    let running = up(&dir, None).await;
    let base = running.base.clone();
    let authority = running.description["authorities"][0]["public"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = running.description["authorities"][0]["admin"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = std::fs::read_to_string(dir.join("nanning/admin-token")).unwrap();
    let token = token.trim();
    let operator = std::fs::read_to_string(dir.join("trust/operator-token")).unwrap();
    let operator = operator.trim();
    let api = running.description["providers"][0]["api"]
        .as_str()
        .unwrap()
        .to_owned();
    let desk = format!("{base}/desks/nanning-bank");
    // Under the server's URI limit (hyper answers 414 itself past 64 kB) in URLs, larger in
    // bodies.
    let long = "x".repeat(8_000);
    let big = "x".repeat(100_000);
    let bearer = format!("Bearer {token}");
    let operator_bearer = format!("Bearer {operator}");
    let json = ("Content-Type", "application/json");
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let admin_auth = ("Authorization", bearer.as_str());
    let cases: Vec<Case<'_>> = vec![
        // The authority's public listener.
        (
            "POST",
            format!("{authority}/token"),
            vec![form],
            b"grant_type=nope".to_vec(),
        ),
        (
            "POST",
            format!("{authority}/credential"),
            vec![json],
            b"{}".to_vec(),
        ),
        (
            "GET",
            format!("{authority}/status/{long}"),
            vec![],
            Vec::new(),
        ),
        ("GET", format!("{authority}/status/99"), vec![], Vec::new()),
        (
            "POST",
            format!("{authority}/refresh"),
            vec![json],
            b"not json".to_vec(),
        ),
        (
            "POST",
            format!("{authority}/lost"),
            vec![json],
            b"[1,2]".to_vec(),
        ),
        (
            "POST",
            format!("{authority}/enrolment"),
            vec![json],
            b"{\"x\":1}".to_vec(),
        ),
        ("DELETE", format!("{authority}/nonce"), vec![], Vec::new()),
        (
            "GET",
            format!("{authority}/no-such-route"),
            vec![],
            Vec::new(),
        ),
        // An unknown field's name is quoted by the parser: only an excerpt comes back.
        (
            "POST",
            format!("{authority}/refresh"),
            vec![json],
            format!("{{\"{big}\":1}}").into_bytes(),
        ),
        // Its admin listener, as eid up nests it.
        (
            "POST",
            format!("{admin}/admin/enrolments"),
            vec![json, admin_auth],
            b"{".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/credentials/nope/suspendd"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/credentials/nope/suspend"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/wallets/superapp-a/no-such-phone/suspend"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/suspend"),
            vec![json, admin_auth],
            b"{\"id_number\":\"450102199001010011\"}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/suspend"),
            vec![json, admin_auth],
            b"not json".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/reinstate"),
            vec![admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/rebind"),
            vec![json, admin_auth],
            b"{\"id_number\":1}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/registry/events"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "GET",
            format!("{admin}/admin/audit?limit=many"),
            vec![admin_auth],
            Vec::new(),
        ),
        (
            "GET",
            format!("{admin}/admin/credentials"),
            vec![],
            Vec::new(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/{long}"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        // A wallet provider.
        (
            "POST",
            format!("{api}/wallets"),
            vec![json],
            b"{\"pin\":".to_vec(),
        ),
        (
            "POST",
            format!("{api}/wallets/{}/offline", "0".repeat(32)),
            vec![json],
            format!("{{\"pin\":\"135790\",\"purpose\":\"{big}\"}}").into_bytes(),
        ),
        // A desk.
        (
            "POST",
            format!("{desk}/verify/offline?purpose={long}"),
            vec![],
            b"AAAA".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/verify/offline"),
            vec![],
            b"AAAA".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/verify/in-person"),
            vec![json],
            format!("{{\"engagement\":\"mdoc:x\",\"purpose\":\"{big}\"}}").into_bytes(),
        ),
        (
            "POST",
            format!("{desk}/verify/in-person"),
            vec![json],
            b"nope".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/vp/requests"),
            vec![json],
            b"{}".to_vec(),
        ),
        ("GET", format!("{desk}/vp/results/nope"), vec![], Vec::new()),
        ("GET", format!("{desk}/vp/request/nope"), vec![], Vec::new()),
        (
            "POST",
            format!("{desk}/vp/response"),
            vec![form],
            b"response=garbage".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/vp/response"),
            vec![json],
            b"{}".to_vec(),
        ),
        (
            "PUT",
            format!("{desk}/trust-list"),
            vec![],
            b"garbage".to_vec(),
        ),
        // The trust operator.
        (
            "POST",
            format!("{base}/trust/scopes"),
            vec![json],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{base}/trust/scopes"),
            vec![json, ("Authorization", operator_bearer.as_str())],
            b"{\"issuer\":1}".to_vec(),
        ),
    ];
    let mut wrong = Vec::new();
    for (method, url, headers, body) in &cases {
        let (status, head, text) = exchange(method, url, headers, body).await;
        let shown = url.replace(&long, "<8 kB>");
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let shaped = head.contains("content-type: application/json")
            && value["error"].is_string()
            && value["error_description"].is_string();
        // 4xx, or 503 where the feature is not in this build (remote enrolment's face).
        if !((400..500).contains(&status) || status == 503) || !shaped || text.len() > 2_000 {
            wrong.push(format!(
                "{method} {shown}: {status} {}",
                &text[..text.len().min(300)]
            ));
        }
        if status == 401 && !head.contains("www-authenticate: bearer") {
            wrong.push(format!(
                "{method} {shown}: 401 without WWW-Authenticate: Bearer"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The hotline's typos are not successes: an unknown phone 404, a number that breaks
    // its rules 422 with the rule.
    let (status, _, text) = exchange(
        "POST",
        &format!("{admin}/admin/wallets/superapp-a/no-such-phone/suspend"),
        &[json, admin_auth],
        b"{}",
    )
    .await;
    assert_eq!(status, 404, "{text}");
    let (status, _, text) = exchange(
        "POST",
        &format!("{admin}/admin/residents/suspend"),
        &[json, admin_auth],
        b"{\"id_number\":\"450102199001010011\"}",
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("invalid_number"), "{text}");
    // The OpenAPI document where the docs say: beside the admin routes too.
    let (status, _, text) = exchange(
        "GET",
        &format!("{admin}/admin/openapi.json"),
        &[admin_auth],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"openapi\""), "{text}");

    // The same scope twice: the second is a no-op that says so.
    let scope = br#"{"issuer":"cn-4501","region":"nation"}"#;
    let auth = [json, ("Authorization", operator_bearer.as_str())];
    let (status, _, first) = exchange("POST", &format!("{base}/trust/scopes"), &auth, scope).await;
    assert_eq!(status, 200, "{first}");
    let (status, _, second) = exchange("POST", &format!("{base}/trust/scopes"), &auth, scope).await;
    assert_eq!(status, 200, "{second}");
    let (first, second): (Value, Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&second).unwrap(),
    );
    assert_eq!(second["unchanged"], true, "{second}");
    assert_eq!(
        second["trust_list_version"], first["trust_list_version"],
        "{second}"
    );
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
