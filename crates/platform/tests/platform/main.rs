//! The platform in one process on loopback: the story plays (remote enrolment with the
//! face when the models are present, at the counter without them), a restart keeps every
//! state, and bad requests get clear refusals that change nothing.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap or a panic is a failed test"
)]

mod delegation;
mod error_shape;
#[cfg(feature = "face")]
mod moving;
mod refusals;
mod restart;
mod rollover;
mod story;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eid_core::{Clock, OsRandom, SystemClock};
use eid_http::{HttpError, fetch, post_form, post_json};
use eid_platform::up::{Options, Running, start};
use serde_json::{Value, json};

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eid-platform-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn up(dir: &Path, proofing: Option<PathBuf>) -> Running {
    up_at(dir, proofing, Arc::new(SystemClock)).await
}

async fn up_at(dir: &Path, proofing: Option<PathBuf>, clock: Arc<dyn Clock>) -> Running {
    up_with(dir, proofing, clock, eid_crypto::Algorithm::Es256).await
}

/// `eid up --algorithm`: `algorithm` for a new folder's authorities.
async fn up_with(
    dir: &Path,
    proofing: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    algorithm: eid_crypto::Algorithm,
) -> Running {
    start(
        &Options {
            dir: dir.to_owned(),
            port: 0,
            proofing,
            topology: None,
            algorithm,
        },
        clock,
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

async fn get(url: &str) -> Value {
    serde_json::from_slice(&fetch(url, "application/json").await.unwrap()).unwrap()
}

/// Waits until the desk at `desk` holds Nanning's status list (published with the first
/// credential), for at most ten seconds.
async fn desk_ready(desk: &str) {
    for _ in 0..100 {
        let health = get(&format!("{desk}/health")).await;
        if health["status_lists"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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

/// The hosted wallet `wallet` at `api` shows an engagement QR for a desk: what it shows
/// (`engagement`, the QR's URI) and the session's URL (its state; the holder's decision).
async fn engagement(api: &str, wallet: &str) -> (Value, String) {
    let shown = post(
        &format!("{api}/wallets/{wallet}/in-person"),
        None,
        json!({}),
    )
    .await
    .unwrap();
    let session = format!(
        "{api}/wallets/{wallet}/in-person/{}",
        shown["session"].as_str().unwrap()
    );
    (shown, session)
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
