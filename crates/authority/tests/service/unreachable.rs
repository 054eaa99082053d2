//! A database that stops answering mid-way (a PostgreSQL server restarting, a cut link):
//! the hotline's call is answered 503 `temporarily_unavailable` with `Retry-After` — not a
//! 500 — and the same call succeeds once the database is back. Runs on PostgreSQL
//! (`EID_TEST_POSTGRES_URL`), reached through a forwarder the test cuts.

use axum::http::StatusCode;
use eid_authority::credential::CONFIG_SD_JWT;
use serde_json::json;
use tower::ServiceExt;

use crate::common::*;

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn a_database_that_does_not_answer_is_503_and_the_same_call_then_succeeds() {
    let Some(scratch) = eid_store::ScratchPostgres::create("unreachable")
        .await
        .unwrap()
    else {
        return;
    };
    // postgres://user:password@host:port/database, through the forwarder.
    let at = scratch.url.rfind('@').unwrap();
    let slash = at + scratch.url[at..].find('/').unwrap();
    let server = scratch.url[at + 1..slash].to_owned();
    let mut cable = Cable::new(&server).await;
    let through = format!(
        "{}@127.0.0.1:{}{}",
        &scratch.url[..at],
        cable.port,
        &scratch.url[slash..]
    );
    let world = World::new(&through).await;
    let card = world.residents[12].clone();
    let (offer, tx_code) = enrol(&world, &card).await;
    let phone = Phone::new("wechat", "cut-phone", 2);
    obtain(&world, &offer, &tx_code, &phone, &[CONFIG_SD_JWT]).await;

    cable.cut();
    let suspend = || admin_post("/admin/wallets/wechat/cut-phone/suspend", json!({}));
    let response = world.admin.clone().oneshot(suspend()).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    cable.restore().await;
    let mut answered = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        let (status, body) = send(&world.admin, suspend()).await;
        answered = status;
        if status == StatusCode::OK {
            assert_eq!(body["instances"], 2, "{body}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(answered, StatusCode::OK);
    world.authority.store().close().await;
    scratch.drop_database().await.unwrap();
}
