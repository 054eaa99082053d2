//! A store of several partitions (the shard map): residents spread over them, each found
//! where it routes; credentials issued in every partition get published shard numbers that
//! never collide and stay dense; one pseudonym key for every replica; a lost phone is found in whichever partition holds it;
//! secrets drawn without routing are refused; a store reopened with more partitions aligns
//! their shards. On SQLite files always, on PostgreSQL databases when
//! `EID_TEST_POSTGRES_URL` and `EID_TEST_POSTGRES_URL_2` name two servers.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::collections::HashSet;

use eid_core::identity::ResidentCard;
use eid_core::{OsRandom, Random, ResidentIdNumber};
use eid_store::{CredentialState, NewCredential, NewOffer, Selector, Store, StoreError};
use time::macros::{date, datetime};

/// Who the tests' changes of credential states are audited as.
const STAMP: eid_store::AuditStamp<'static> = eid_store::AuditStamp {
    actor: "test",
    action: "test",
    detail: "",
};

const NOW: i64 = 1_795_000_000;
/// Small shards, so that a few hundred credentials open several in every partition.
const SHARD: u64 = 64;

fn population(count: u64) -> Vec<ResidentCard> {
    let mut out = Vec::new();
    eid_registry::generate::Generator::new(17, date!(2026 - 11 - 23))
        .write_jsonl(count, &mut out, &mut |_| {})
        .unwrap();
    out.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect()
}

/// A random id that routes to `number`'s partition, as the authority draws them.
fn routed(store: &Store, number: &str) -> String {
    loop {
        let mut bytes = [0u8; 8];
        OsRandom.fill(&mut bytes).unwrap();
        let id = format!("cred-{}", u64::from_le_bytes(bytes));
        if store.partition_of(&id) == store.partition_of(number) {
            return id;
        }
    }
}

async fn exercise(store: &Store) {
    let residents = population(120);
    let now = datetime!(2026-11-23 12:00 UTC);
    assert_eq!(store.import_residents(&residents, now).await.unwrap(), 120);
    assert_eq!(store.import_residents(&residents, now).await.unwrap(), 0);
    assert_eq!(store.resident_count().await.unwrap(), 120);
    let used: HashSet<usize> = residents
        .iter()
        .map(|c| store.partition_of(c.id_number.expose()))
        .collect();
    assert_eq!(
        used.len(),
        store.partitions(),
        "every partition holds residents"
    );
    for card in &residents {
        let found = store.resident(&card.id_number).await.unwrap();
        assert_eq!(found.map(|e| e.card), Some(card.clone()));
    }

    // Two credentials of three instances each per resident: 720 instances over small shards.
    let mut positions = HashSet::new();
    let mut ids = Vec::new();
    for card in &residents {
        let number = card.id_number.expose();
        for configuration in ["sd_jwt", "mdoc"] {
            let id = routed(store, number);
            let wallet = format!("phone-{number}");
            let taken = store
                .record_credential(
                    &NewCredential {
                        id: &id,
                        id_number: &card.id_number,
                        provider: "wechat",
                        wallet_instance: &wallet,
                        configuration,
                        delegation: None,
                        issued_at: NOW,
                        expires_at: NOW + 86_400,
                    },
                    3,
                    SHARD,
                    &OsRandom,
                )
                .await
                .unwrap();
            for position in taken {
                assert!(positions.insert(position), "{position:?} handed out twice");
            }
            ids.push(id);
        }
    }
    assert_eq!(positions.len(), 720);
    // Published shards are dense from 0: a verifier walking them finds every one in use.
    let top = positions.iter().map(|&(shard, _)| shard).max().unwrap();
    for shard in 0..=top {
        assert!(
            store.shard_head(shard).await.unwrap().is_some(),
            "shard {shard} of 0..={top} is not published"
        );
    }
    assert_eq!(store.credential_counts().await.unwrap(), [240, 0, 0]);

    // A lost phone, wherever its resident's partition is.
    let card = &residents[7];
    let number = card.id_number.expose();
    let wallet = format!("phone-{number}");
    let changed = store
        .set_state(
            Selector::WalletInstance {
                provider: "wechat",
                instance: &wallet,
            },
            CredentialState::Suspended,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(changed.len(), 2);
    for record in &changed {
        for &(shard, idx) in &record.instances {
            let statuses = store.shard_statuses(shard).await.unwrap().unwrap();
            assert!(
                statuses.entries.contains(&(idx, 2)),
                "the suspension is not in published shard {shard}"
            );
        }
    }
    assert_eq!(
        store.credentials_of(&card.id_number).await.unwrap().len(),
        2
    );
    assert_eq!(
        store
            .resident_of_wallet(
                "wechat",
                &format!("phone-{}", residents[8].id_number.expose()),
                NOW
            )
            .await
            .unwrap(),
        Some(residents[8].id_number)
    );

    // The authority's pseudonym key: the first replica's, for every replica after it.
    let first = store.shared_key("pseudonym", [1; 32]).await.unwrap();
    assert_eq!(first, [1; 32]);
    assert_eq!(store.shared_key("pseudonym", [2; 32]).await.unwrap(), first);

    // A code whose hash routes elsewhere than its resident is refused, and nothing stored.
    let configurations = vec!["sd_jwt".to_owned()];
    let stray = (0..)
        .map(|n| format!("code-{n}"))
        .find(|code| store.partition_of(code) != store.partition_of(number))
        .unwrap();
    let refused = store
        .create_offer(&NewOffer {
            code_hash: &stray,
            id_number: &card.id_number,
            configurations: &configurations,
            tx_code_hash: None,
            expires_at: NOW + 600,
            wallet: None,
        })
        .await;
    assert!(
        matches!(refused, Err(StoreError::ShardMap(_))),
        "{refused:?}"
    );
}

/// Three partitions in memory: the same suite as on SQLite files and PostgreSQL servers.
#[tokio::test]
async fn memory() {
    let store = Store::connect("memory: memory: memory:").await.unwrap();
    assert_eq!((store.partitions(), store.backend_name()), (3, "memory"));
    exercise(&store).await;
}

#[tokio::test]
async fn sqlite_files() {
    // A folder with a space: a SQLite path is one URL, not a map of two.
    let dir = std::env::temp_dir().join(format!("eid partitions {}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = |n: usize| format!("sqlite:{}", dir.join(format!("p{n}.db")).display());
    let single = Store::connect(&url(9)).await.unwrap();
    assert_eq!(single.partitions(), 1);
    single.close().await;
    let dir = std::env::temp_dir().join(format!("eid-partitions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = |n: usize| format!("sqlite:{}", dir.join(format!("p{n}.db")).display());
    let map = (0..3).map(url).collect::<Vec<_>>().join(" ");
    let store = Store::connect(&map).await.unwrap();
    assert_eq!(store.partitions(), 3);
    exercise(&store).await;
    store.close().await;

    // The same databases in another order, or fewer of them, are refused before anything
    // is read: every resident would route elsewhere.
    let reordered = [1, 0, 2].map(url).join(" ");
    let refused = Store::connect(&reordered).await;
    assert!(
        matches!(&refused, Err(StoreError::PartitionMoved { place: 0, recorded }) if recorded == "1/3"),
        "{refused:?}"
    );
    let fewer = [0, 1].map(url).join(" ");
    let refused = Store::connect(&fewer).await;
    assert!(
        matches!(refused, Err(StoreError::PartitionMoved { .. })),
        "{refused:?}"
    );
    assert_eq!(
        Store::connect(&map)
            .await
            .unwrap()
            .resident_count()
            .await
            .unwrap(),
        120
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("eid partitions {}", std::process::id())),
    );
}

fn credential<'a>(id: &'a str, number: &'a ResidentIdNumber, wallet: &'a str) -> NewCredential<'a> {
    NewCredential {
        id,
        id_number: number,
        provider: "p",
        wallet_instance: wallet,
        configuration: "c",
        delegation: None,
        issued_at: NOW,
        expires_at: NOW + 1,
    }
}

#[tokio::test]
async fn reopening_aligns_the_shards_of_every_partition() {
    use sqlx::Connection;
    let dir = std::env::temp_dir().join(format!("eid-align-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = format!("sqlite:{}", dir.join("a.db").display());
    let b = format!("sqlite:{}", dir.join("b.db").display());
    let map = format!("{a} {b}");
    let store = Store::connect(&map).await.unwrap();
    for n in 0..100 {
        let number = eid_testing::number(n);
        let id = routed(&store, number.expose());
        store
            .record_credential(&credential(&id, &number, "w"), 1, SHARD, &OsRandom)
            .await
            .unwrap();
    }
    let mut top = 0;
    while store.shard_head(top + 1).await.unwrap().is_some() {
        top += 1;
    }
    assert!(top >= 3, "{top}");
    store.close().await;
    // As if the process died after a partition opened shards and before the other did:
    // partition 1 loses its empty shards above local 0.
    let mut raw = sqlx::SqliteConnection::connect(&b).await.unwrap();
    sqlx::query("DELETE FROM status_shards WHERE allocated = 0 AND shard > 0")
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    let reopened = Store::connect(&map).await.unwrap();
    for shard in 0..=top {
        assert!(
            reopened.shard_head(shard).await.unwrap().is_some(),
            "published shard {shard} missing after reopening"
        );
    }
    reopened.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_lost_phone_is_frozen_in_every_partition_that_answers() {
    use sqlx::Connection;
    let dir = std::env::temp_dir().join(format!("eid-partial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = ["a.db", "b.db"].map(|f| format!("sqlite:{}", dir.join(f).display()));
    let store = Store::connect(&urls.join(" ")).await.unwrap();
    // One phone holding credentials of residents in both partitions (a guardian's, say).
    let numbers: Vec<ResidentIdNumber> = (0..)
        .map(eid_testing::number)
        .scan(HashSet::new(), |seen, n| {
            Some((seen.insert(store.partition_of(n.expose())), n))
        })
        .filter_map(|(new, n)| new.then_some(n))
        .take(2)
        .collect();
    for number in &numbers {
        let id = routed(&store, number.expose());
        store
            .record_credential(&credential(&id, number, "phone"), 1, SHARD, &OsRandom)
            .await
            .unwrap();
    }
    // Partition 1 refuses every change (a server failing mid-way).
    let mut raw = sqlx::SqliteConnection::connect(&urls[1]).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER down BEFORE UPDATE ON credentials BEGIN SELECT RAISE(ABORT, 'down'); END",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    let phone = Selector::WalletInstance {
        provider: "p",
        instance: "phone",
    };
    let partly = store
        .set_state(phone, CredentialState::Suspended, 1_000, &STAMP)
        .await;
    let Err(StoreError::PartlyChanged { changed, .. }) = partly else {
        panic!("expected a partial change: {partly:?}");
    };
    assert_eq!(changed.len(), 1, "partition 0 is frozen all the same");
    // The partition that failed wrote none of its events; the other wrote its change's.
    assert!(store.outbox(1, 10).await.unwrap().is_empty());
    assert_eq!(store.outbox(0, 10).await.unwrap().len(), 2);
    sqlx::query("DROP TRIGGER down")
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    // The same call again finishes it.
    let rest = store
        .set_state(phone, CredentialState::Suspended, 1_000, &STAMP)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, changed[0].id);
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn what_she_holds_is_found_through_her_in_whichever_partition_holds_it() {
    let dir = std::env::temp_dir().join(format!("eid-held-by-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = ["a.db", "b.db"].map(|f| format!("sqlite:{}", dir.join(f).display()));
    let store = Store::connect(&urls.join(" ")).await.unwrap();
    // The guardian and her ward in different partitions: the ward's credential lives in
    // the ward's, and is held through the guardian's number.
    let guardian = eid_testing::number(0);
    let ward = (1..)
        .map(eid_testing::number)
        .find(|n| store.partition_of(n.expose()) != store.partition_of(guardian.expose()))
        .unwrap();
    let id = routed(&store, ward.expose());
    let held = NewCredential {
        delegation: Some(eid_store::Delegation {
            relationship: "guardian",
            holder: &guardian,
        }),
        ..credential(&id, &ward, "phone")
    };
    store
        .record_credential(&held, 1, SHARD, &OsRandom)
        .await
        .unwrap();
    let own = routed(&store, guardian.expose());
    store
        .record_credential(&credential(&own, &guardian, "phone"), 1, SHARD, &OsRandom)
        .await
        .unwrap();
    let held_by = Selector::HeldBy(&guardian);
    assert_eq!(store.credentials_held(held_by).await.unwrap(), 1);
    let changed = store
        .set_state(held_by, CredentialState::Suspended, 1_000, &STAMP)
        .await
        .unwrap();
    assert_eq!(
        changed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_shard_map_mixing_backends_or_too_long_is_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mixed = runtime.block_on(Store::connect("sqlite::memory: postgres://127.0.0.1:1/x"));
    assert!(matches!(mixed, Err(StoreError::ShardMap(_))), "{mixed:?}");
    let mixed = runtime.block_on(Store::connect("memory: sqlite::memory:"));
    assert!(matches!(mixed, Err(StoreError::ShardMap(_))), "{mixed:?}");
    let long = vec!["sqlite::memory:"; 65].join(" ");
    let long = runtime.block_on(Store::connect(&long));
    assert!(matches!(long, Err(StoreError::ShardMap(_))), "{long:?}");
    let empty = runtime.block_on(Store::connect("  "));
    assert!(
        matches!(empty, Err(StoreError::UnsupportedUrl)),
        "{empty:?}"
    );
}

#[tokio::test]
#[ignore = "needs two PostgreSQL servers: EID_TEST_POSTGRES_URL and _2 (scripts/test starts them)"]
async fn postgres() {
    let Some((scratches, map)) = eid_store::ScratchPostgres::on_two_servers("part")
        .await
        .unwrap()
    else {
        return;
    };
    let store = Store::connect(&map).await.unwrap();
    exercise(&store).await;
    store.close().await;
    for scratch in scratches {
        scratch.drop_database().await.unwrap();
    }
}
