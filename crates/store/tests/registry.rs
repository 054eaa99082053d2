//! The registry store on both backends: the same checks on SQLite (in memory, always) and on
//! PostgreSQL when `EID_TEST_POSTGRES_URL` names a server (each run in a fresh database that
//! is dropped afterwards); without it the PostgreSQL test says it skipped.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_core::ResidentIdNumber;
use eid_core::identity::{CardExpiry, ResidentCard};
use eid_core::region::RegionCode;
use eid_store::{CardState, LifeEvent, Store, StoreError};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

/// Who the tests' changes of credential states are audited as.
const STAMP: eid_store::AuditStamp<'static> = eid_store::AuditStamp {
    actor: "test",
    action: "test",
    detail: "",
};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

fn population(count: u64, seed: u64) -> Vec<ResidentCard> {
    let mut out = Vec::new();
    eid_registry::generate::Generator::new(seed, date!(2026 - 11 - 23))
        .write_jsonl(count, &mut out, &mut |_| {})
        .unwrap();
    out.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect()
}

/// Everything the registry store promises, against one store.
async fn exercise(store: &Store) {
    let people = population(3000, 11);
    // Import in batches; a second import of the same records changes nothing.
    for batch in people.chunks(1000) {
        assert_eq!(store.import_residents(batch, NOW).await.unwrap(), 1000);
    }
    assert_eq!(store.resident_count().await.unwrap(), 3000);
    for batch in people.chunks(1000) {
        assert_eq!(store.import_residents(batch, NOW).await.unwrap(), 0);
    }
    assert_eq!(store.resident_count().await.unwrap(), 3000);

    // Lookup by number gives back the record as imported.
    let someone = &people[1234];
    let number = &someone.id_number;
    let entry = store.resident(number).await.unwrap().unwrap();
    assert_eq!(&entry.card, someone);
    assert_eq!(entry.state, CardState::Valid);
    assert!(!entry.deceased);
    assert!(
        store
            .resident(&ResidentIdNumber::parse_structure("11010519491231002X").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // Life events change the record and are kept in order.
    let events = [
        LifeEvent::CardReportedLost,
        LifeEvent::CardReplaced {
            issue_date: date!(2026 - 11 - 20),
            expiry: CardExpiry::On(date!(2046 - 11 - 20)),
        },
        LifeEvent::NameChanged {
            family_name: "韦".into(),
            given_name: "秀兰".into(),
        },
        LifeEvent::AddressChanged {
            address: "浙江省杭州市西湖区文三路1号".into(),
            residence_region: RegionCode::parse("330106").unwrap(),
        },
    ];
    for (i, event) in events.iter().enumerate() {
        store
            .record_event(number, event, NOW + Duration::minutes(i as i64), &STAMP)
            .await
            .unwrap();
        if i == 0 {
            let lost = store.resident(number).await.unwrap().unwrap();
            assert_eq!(lost.state, CardState::ReportedLost);
            assert!(!lost.card_usable_on(date!(2026 - 11 - 23)));
        }
    }
    let entry = store.resident(number).await.unwrap().unwrap();
    assert_eq!(entry.state, CardState::Valid);
    assert_eq!(entry.card.card_issue_date, date!(2026 - 11 - 20));
    assert_eq!(entry.card.full_name, "韦秀兰");
    assert_eq!(entry.card.residence_region.to_string(), "330106");
    assert!(entry.card_usable_on(date!(2026 - 11 - 23)));
    let recorded = store.life_events(number).await.unwrap();
    assert_eq!(
        recorded.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>(),
        events
    );
    assert_eq!(recorded[3].1, NOW + Duration::minutes(3));

    // A re-import after the events keeps the state; a changed record is replaced.
    let mut changed = people[..10].to_vec();
    changed[0].address = "新地址".into();
    assert_eq!(store.import_residents(&changed, NOW).await.unwrap(), 1);

    // Death.
    store
        .record_event(
            number,
            &LifeEvent::Death {
                date: date!(2026 - 11 - 22),
            },
            NOW,
            &STAMP,
        )
        .await
        .unwrap();
    let entry = store.resident(number).await.unwrap().unwrap();
    assert!(entry.deceased);
    assert!(!entry.card_usable_on(date!(2026 - 11 - 23)));

    // An unknown resident: a clear error, nothing written.
    assert!(matches!(
        store
            .record_event(
                &ResidentIdNumber::parse_structure("11010519491231002X").unwrap(),
                &LifeEvent::CardReportedLost,
                NOW,
                &STAMP
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.resident_count().await.unwrap(), 3000);
}

#[tokio::test]
async fn sqlite_in_memory() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    exercise(&store).await;
}

/// The in-memory storage keeps the same rules: the same suite, unchanged.
#[tokio::test]
async fn memory() {
    let store = Store::connect("memory:").await.unwrap();
    assert_eq!(store.backend_name(), "memory");
    exercise(&store).await;
}

#[tokio::test]
async fn sqlite_file_survives_reopening() {
    let dir = std::env::temp_dir().join(format!("eid-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("eid.db").display());
    let people = population(50, 3);
    {
        let store = Store::connect(&url).await.unwrap();
        store.import_residents(&people, NOW).await.unwrap();
        store.close().await;
    }
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.resident_count().await.unwrap(), 50);
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_row_whose_record_names_another_resident_is_not_handed_on() {
    use sqlx::Connection;
    let dir = std::env::temp_dir().join(format!("eid-store-swapped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("eid.db");
    let url = format!("sqlite:{}", path.display());
    let people = population(2, 5);
    let store = Store::connect(&url).await.unwrap();
    store.import_residents(&people, NOW).await.unwrap();
    // The first row's record replaced by the second resident's (a hand-edited database).
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE residents SET record = (SELECT record FROM residents WHERE id_number = ?1) WHERE id_number = ?2")
        .bind(people[1].id_number.expose())
        .bind(people[0].id_number.expose())
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    assert!(matches!(
        store.resident(&people[0].id_number).await,
        Err(StoreError::Corrupt("resident"))
    ));
    assert!(
        store
            .resident(&people[1].id_number)
            .await
            .unwrap()
            .is_some()
    );
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    assert!(matches!(
        Store::connect("mysql://localhost/eid").await,
        Err(StoreError::UnsupportedUrl)
    ));
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn postgres() {
    let Some(scratch) = eid_store::ScratchPostgres::create("registry")
        .await
        .unwrap()
    else {
        return;
    };
    let store = Store::connect(&scratch.url).await.unwrap();
    assert_eq!(store.backend_name(), "postgres");
    exercise(&store).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
}

/// Two life events for one resident at once — a new name and a new address — both stay in
/// the record: each is applied to the record as the other left it, never to a copy read
/// before the other wrote.
async fn two_events_at_once_keep_both(store: &Store) {
    let people = population(1, 9);
    store.import_residents(&people, NOW).await.unwrap();
    let number = &people[0].id_number;
    for i in 0..20 {
        let name = LifeEvent::NameChanged {
            family_name: "韦".into(),
            given_name: format!("秀兰{i}"),
        };
        let address = LifeEvent::AddressChanged {
            address: format!("浙江省杭州市西湖区文三路{i}号"),
            residence_region: RegionCode::parse("330106").unwrap(),
        };
        let (a, b) = tokio::join!(
            store.record_event(number, &name, NOW, &STAMP),
            store.record_event(number, &address, NOW, &STAMP)
        );
        a.unwrap();
        b.unwrap();
        let card = store.resident(number).await.unwrap().unwrap().card;
        assert_eq!(
            (card.given_name, card.address),
            (format!("秀兰{i}"), format!("浙江省杭州市西湖区文三路{i}号")),
            "round {i}"
        );
    }
    assert_eq!(store.life_events(number).await.unwrap().len(), 40);
}

#[tokio::test]
async fn two_events_at_once_keep_both_on_a_sqlite_file() {
    let dir = std::env::temp_dir().join(format!("eid-store-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&format!("sqlite:{}", dir.join("eid.db").display()))
        .await
        .unwrap();
    two_events_at_once_keep_both(&store).await;
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn two_events_at_once_keep_both_on_postgres() {
    let Some(scratch) = eid_store::ScratchPostgres::create("registry_events")
        .await
        .unwrap()
    else {
        return;
    };
    let store = Store::connect(&scratch.url).await.unwrap();
    two_events_at_once_keep_both(&store).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
}
