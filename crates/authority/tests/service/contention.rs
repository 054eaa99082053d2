//! The hotline under load: 1,000 suspensions through the three admin routes (credential,
//! wallet, resident), each followed by a reinstatement, while four clients run full
//! issuance flows — on a SQLite file (several connections, one writer at a time) and on
//! PostgreSQL. Every call must succeed and change what it names, and every change must be
//! in the served lists afterwards.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::http::StatusCode;
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_core::ResidentCard;
use serde_json::json;

use crate::common::*;
use crate::issuance::fetch_list;

const SUSPENSIONS: usize = 1_000;
const TARGETS: usize = 12;
const ISSUERS: usize = 4;

#[tokio::test]
async fn thousand_suspensions_while_four_clients_issue_on_a_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("eid-contention-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("authority.db");
    let _ = std::fs::remove_file(&path);
    let world = World::new(&format!("sqlite:{}", path.display())).await;
    hotline_while_issuing(&world).await;
    world.authority.store().close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn thousand_suspensions_while_four_clients_issue_on_postgres() {
    on_postgres("authority_contention", hotline_while_issuing).await;
}

struct Target {
    card: ResidentCard,
    instance: String,
    credential: String,
}

async fn hotline_while_issuing(world: &World) {
    // The hotline's targets: a resident each, with a phone holding both formats.
    let mut targets = Vec::new();
    for (n, card) in world.residents.iter().take(TARGETS).enumerate() {
        let instance = format!("hotline-phone-{n}");
        let phone = Phone::new("wechat", &instance, 1);
        let (offer, tx_code) = enrol(world, card).await;
        obtain(
            world,
            &offer,
            &tx_code,
            &phone,
            &[CONFIG_MDOC, CONFIG_SD_JWT],
        )
        .await;
        let held = world
            .authority
            .store()
            .credentials_of(&card.id_number)
            .await
            .unwrap();
        targets.push(Target {
            card: card.clone(),
            instance,
            credential: held[0].id.clone(),
        });
    }

    let done = AtomicBool::new(false);
    let issued = AtomicU64::new(0);
    let issuer = async |client: usize| {
        let mut round = 0;
        while !done.load(Ordering::Relaxed) {
            // Residents the hotline never touches, each enrolled again and again.
            let others = &world.residents[TARGETS..];
            let card = &others[(client * 7 + round) % others.len()];
            let phone = Phone::new("alipay", &format!("issuer-{client}-{round}"), 1);
            let (offer, tx_code) = enrol(world, card).await;
            obtain(world, &offer, &tx_code, &phone, &[CONFIG_MDOC]).await;
            issued.fetch_add(1, Ordering::Relaxed);
            round += 1;
        }
    };
    let hotline = async {
        let mut failures = Vec::new();
        for n in 0..SUSPENSIONS {
            let target = &targets[n % TARGETS];
            let suspend = match n % 3 {
                0 => admin_post(
                    &format!("/admin/credentials/{}/suspend", target.credential),
                    json!({}),
                ),
                1 => admin_post(
                    &format!("/admin/wallets/wechat/{}/suspend", target.instance),
                    json!({}),
                ),
                _ => admin_post(
                    "/admin/residents/suspend",
                    json!({"id_number": target.card.id_number.expose()}),
                ),
            };
            let (status, body) = send(&world.admin, suspend).await;
            if status != StatusCode::OK || body["instances"].as_u64().unwrap_or(0) == 0 {
                failures.push(format!("suspension {n}: {status} {body}"));
            }
            // All but the last round of each target are reinstated, so the next
            // suspension changes something again.
            if n + TARGETS < SUSPENSIONS {
                let (status, body) = send(
                    &world.admin,
                    admin_post(
                        &format!("/admin/wallets/wechat/{}/reinstate", target.instance),
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
    let (failures, ..) = tokio::join!(hotline, issuer(0), issuer(1), issuer(2), issuer(3));
    assert!(
        failures.is_empty(),
        "{} hotline calls failed ({SUSPENSIONS} suspensions and their reinstatements); first: {:?}",
        failures.len(),
        failures.first()
    );
    assert!(
        issued.load(Ordering::Relaxed) >= ISSUERS as u64,
        "the issuing clients did not run alongside"
    );

    // Every target's last suspension is in the served lists: each of its instances
    // SUSPENDED (the last rounds suspended credential-only for some targets: then the
    // suspended batch is the one named).
    let store = world.authority.store();
    let mut shards = std::collections::BTreeMap::new();
    for target in &targets {
        for record in store.credentials_of(&target.card.id_number).await.unwrap() {
            if record.state != eid_store::CredentialState::Suspended {
                continue;
            }
            for (shard, idx) in record.instances {
                if let std::collections::btree_map::Entry::Vacant(slot) = shards.entry(shard) {
                    slot.insert(fetch_list(world, shard, false).await);
                }
                assert_eq!(
                    shards[&shard].token.list.get(idx).unwrap(),
                    2,
                    "shard {shard} entry {idx} is not SUSPENDED in the served list"
                );
            }
        }
        let suspended = store
            .credentials_of(&target.card.id_number)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.state == eid_store::CredentialState::Suspended)
            .count();
        assert!(suspended >= 1, "a target's last suspension is not stored");
    }
}
