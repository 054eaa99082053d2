//! Two replicas of one authority over one store, as two `eid authority serve` processes
//! behind a load balancer: everything they keep is shared through the store. A code
//! redeemed at both at once is granted once; a nonce from one is used once, at either;
//! issuance and the hotline through both at once never hand out an index twice, and every
//! acknowledged suspension is in both replicas' lists; requests cut off mid-way (the
//! replica's tasks dropped at any await point, as a killed process drops its transactions)
//! leave every credential whole — all its instances changed or none. On a store of two
//! partitions: SQLite files always, PostgreSQL databases on two servers when
//! `EID_TEST_POSTGRES_URL` and `EID_TEST_POSTGRES_URL_2` name them.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_oid4vc::credential::CredentialRequest;
use eid_store::CredentialState;
use serde_json::json;

use crate::common::*;
use crate::issuance::fetch_list;

const HOTLINE_CALLS: usize = 200;

#[tokio::test]
async fn two_replicas_on_two_sqlite_partitions() {
    let dir = std::env::temp_dir().join(format!("eid-replicas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let map = ["p0.db", "p1.db"]
        .map(|f| format!("sqlite:{}", dir.join(f).display()))
        .join(" ");
    two_replicas(&map).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
#[ignore = "needs two PostgreSQL servers: EID_TEST_POSTGRES_URL and _2 (scripts/test starts them)"]
async fn two_replicas_on_two_postgres_partitions() {
    let Some((scratches, map)) = eid_store::ScratchPostgres::on_two_servers("replicas")
        .await
        .unwrap()
    else {
        return;
    };
    two_replicas(&map).await;
    for scratch in scratches {
        scratch.drop_database().await.unwrap();
    }
}

fn token_form(code: &str, tx_code: &str) -> axum::http::Request<axum::body::Body> {
    form_post(
        "/token",
        &[
            ("grant_type", eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE),
            ("pre-authorized_code", code),
            ("tx_code", tx_code),
        ],
    )
}

async fn two_replicas(map: &str) {
    let a = World::new(map).await;
    let b = a.replica(map).await;
    assert_eq!(a.authority.store().partitions(), 2);
    let both = [&a, &b];

    // A code redeemed at both replicas at once is granted once.
    for (n, card) in a.residents.iter().take(6).enumerate() {
        let (offer, tx_code) = enrol(both[n % 2], card).await;
        let code = &offer.grants.pre_authorized_code.code;
        let (at_a, at_b) = tokio::join!(
            send(&a.public, token_form(code, &tx_code)),
            send(&b.public, token_form(code, &tx_code))
        );
        let granted = [&at_a, &at_b]
            .iter()
            .filter(|(status, _)| *status == StatusCode::OK)
            .count();
        assert_eq!(
            granted, 1,
            "one code granted {granted} times: {at_a:?} {at_b:?}"
        );
    }

    // A nonce from one replica is used once, at either.
    let card = &a.residents[6];
    let (offer, tx_code) = enrol(&b, card).await;
    let (status, token) = send(
        &a.public,
        token_form(&offer.grants.pre_authorized_code.code, &tx_code),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let access = token["access_token"].as_str().unwrap();
    let phone = Phone::new("wechat", "nonce-phone", 1);
    let c_nonce = nonce(&a).await;
    let request = |configuration| {
        CredentialRequest::with_jwt_proofs(configuration, phone.proofs(&a, &c_nonce))
    };
    let (status, body) = post_credential(&b, access, &request(CONFIG_MDOC)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post_credential(&a, access, &request(CONFIG_SD_JWT)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a nonce used twice: {body}"
    );
    assert_eq!(body["error"], "invalid_nonce", "{body}");

    // Issuance and the hotline through both replicas at once.
    let targets: Vec<_> = a.residents[7..13].to_vec();
    for (n, card) in targets.iter().enumerate() {
        let (offer, tx_code) = enrol(both[n % 2], card).await;
        let phone = Phone::new("wechat", &format!("target-{n}"), 1);
        obtain(both[(n + 1) % 2], &offer, &tx_code, &phone, &[CONFIG_MDOC]).await;
    }
    let done = AtomicBool::new(false);
    let issuer = async |client: usize| {
        let mut round = 0;
        while !done.load(Ordering::Relaxed) {
            let others = &a.residents[13..];
            let card = &others[(client * 5 + round) % others.len()];
            let phone = Phone::new("alipay", &format!("issuer-{client}-{round}"), 3);
            // Enrolled at one replica, redeemed and issued at the other.
            let (offer, tx_code) = enrol(both[(client + round) % 2], card).await;
            obtain(
                both[(client + round + 1) % 2],
                &offer,
                &tx_code,
                &phone,
                &[CONFIG_MDOC, CONFIG_SD_JWT],
            )
            .await;
            round += 1;
        }
        round
    };
    let hotline = async {
        let mut failures = Vec::new();
        for n in 0..HOTLINE_CALLS {
            let target = n % targets.len();
            let (status, body) = send(
                &both[n % 2].admin,
                admin_post(
                    &format!("/admin/wallets/wechat/target-{target}/suspend"),
                    json!({}),
                ),
            )
            .await;
            if status != StatusCode::OK || body["instances"].as_u64().unwrap_or(0) == 0 {
                failures.push(format!("suspension {n}: {status} {body}"));
            }
            if n + targets.len() < HOTLINE_CALLS {
                let (status, body) = send(
                    &both[(n + 1) % 2].admin,
                    admin_post(
                        &format!("/admin/wallets/wechat/target-{target}/reinstate"),
                        json!({}),
                    ),
                )
                .await;
                if status != StatusCode::OK || body["instances"].as_u64().unwrap_or(0) == 0 {
                    failures.push(format!("reinstatement {n}: {status} {body}"));
                }
            }
        }
        done.store(true, Ordering::Relaxed);
        failures
    };
    let (failures, r0, r1) = tokio::join!(hotline, issuer(0), issuer(1));
    assert!(failures.is_empty(), "{failures:?}");
    assert!(r0 + r1 >= 2, "the issuing clients did not run alongside");

    // Requests cut off mid-way: suspensions of every other resident started on replica A
    // and dropped after a few polls each, at whatever await point they reached.
    let store = a.authority.store();
    for (n, card) in a.residents[13..].iter().enumerate() {
        let request = send(
            &a.admin,
            admin_post(
                "/admin/residents/suspend",
                json!({"id_number": card.id_number.expose()}),
            ),
        );
        let polls = n % 7;
        let _ = tokio::time::timeout(std::time::Duration::from_micros(50 * polls as u64), request)
            .await;
    }

    // Over every credential of every resident: no index handed out twice, and each batch
    // whole in both replicas' lists.
    let mut seen = HashSet::new();
    let mut lists = BTreeMap::new();
    let mut suspended_targets = 0;
    for card in &a.residents {
        for record in store.credentials_of(&card.id_number).await.unwrap() {
            let expected = record.state.value();
            if targets.contains(card) && record.state == CredentialState::Suspended {
                suspended_targets += 1;
            }
            for &(shard, idx) in &record.instances {
                assert!(
                    seen.insert((shard, idx)),
                    "({shard}, {idx}) handed out twice"
                );
                for (r, replica) in both.iter().enumerate() {
                    if let std::collections::btree_map::Entry::Vacant(slot) =
                        lists.entry((r, shard))
                    {
                        slot.insert(fetch_list(replica, shard, false).await);
                    }
                    assert_eq!(
                        lists[&(r, shard)].token.list.get(idx).unwrap(),
                        expected,
                        "replica {r}: shard {shard} entry {idx} is not {:?}",
                        record.state
                    );
                }
            }
        }
    }
    assert_eq!(
        suspended_targets,
        targets.len(),
        "every target's last suspension stands"
    );
    assert!(seen.len() > 30, "too few instances issued: {}", seen.len());
    a.authority.store().close().await;
    b.authority.store().close().await;
}

/// A lost phone holding credentials of residents in both partitions, one partition failing
/// every change: the hotline is told 503 (not a success, not a 500), what did change is
/// audited, and the same call again finishes it.
#[tokio::test]
async fn a_freeze_that_one_partition_refuses_is_audited_in_part_and_answered_503() {
    use sqlx::Connection;
    let dir = std::env::temp_dir().join(format!("eid-partial-freeze-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = ["p0.db", "p1.db"].map(|f| format!("sqlite:{}", dir.join(f).display()));
    let world = World::new(&urls.join(" ")).await;
    let store = world.authority.store();
    // Two residents, one in each partition, their credentials on one phone.
    let first = world.residents[0].clone();
    let other = world
        .residents
        .iter()
        .find(|c| {
            store.partition_of(c.id_number.expose()) != store.partition_of(first.id_number.expose())
        })
        .unwrap()
        .clone();
    let phone = Phone::new("wechat", "shared-phone", 1);
    for card in [&first, &other] {
        let (offer, tx_code) = enrol(&world, card).await;
        obtain(&world, &offer, &tx_code, &phone, &[CONFIG_MDOC]).await;
    }
    let failing = store.partition_of(other.id_number.expose());
    let mut raw = sqlx::SqliteConnection::connect(&urls[failing])
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER down BEFORE UPDATE ON credentials BEGIN SELECT RAISE(ABORT, 'down'); END",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let suspend = || admin_post("/admin/wallets/wechat/shared-phone/suspend", json!({}));
    let (status, body) = send(&world.admin, suspend()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "unavailable", "{body}");
    let suspended_now = store.credentials_of(&first.id_number).await.unwrap();
    assert_eq!(suspended_now[0].state, CredentialState::Suspended);
    let audited = store.audit_log(100).await.unwrap();
    assert_eq!(
        audited.iter().filter(|e| e.action == "suspend").count(),
        1,
        "the part that changed is audited"
    );
    sqlx::query("DROP TRIGGER down")
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    let (status, body) = send(&world.admin, suspend()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["instances"], 1, "{body}");
    for card in [&first, &other] {
        let held = store.credentials_of(&card.id_number).await.unwrap();
        assert_eq!(held[0].state, CredentialState::Suspended);
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
