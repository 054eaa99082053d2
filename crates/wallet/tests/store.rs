//! The wallet's store: no instance is ever shown to two relying parties, under either use
//! policy; refresh is asked for before the instances run out or expire; the history keeps
//! every presentation (names, never values) and exports as JSON; a retired key's instances
//! are never shown again; the store survives a restart; what it holds for someone else is
//! kept apart from the holder's own.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_wallet::store::{Presentation, UsePolicy, WalletStore, Whose};
use time::Duration;
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

async fn batch(store: &WalletStore, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            store
                .add(
                    Whose::Mine,
                    "mso_mdoc",
                    None,
                    &format!("batch-{i}"),
                    format!("credential {i}").as_bytes(),
                    NOW + Duration::days(30),
                )
                .await
                .unwrap(),
        );
    }
    ids
}

#[tokio::test]
async fn once_per_presentation_never_shows_an_instance_twice() {
    let store = WalletStore::open(":memory:", UsePolicy::OncePerPresentation)
        .await
        .unwrap();
    batch(&store, 2).await;
    // Asking whether one can be shown marks none.
    for _ in 0..3 {
        assert!(
            store
                .can_pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
                .await
                .unwrap()
        );
    }
    let first = store
        .pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
        .await
        .unwrap()
        .unwrap();
    let second = store
        .pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(second.credential, b"credential 1");
    // None left: the wallet needs a new batch, and knows it.
    assert!(
        !store
            .can_pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .pick(Whose::Mine, "mso_mdoc", None, "bank", NOW)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .needs_refresh("mso_mdoc", None, NOW, Duration::days(7), 1)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn per_relying_party_keeps_each_its_own_instance_and_shares_none() {
    let store = WalletStore::open(":memory:", UsePolicy::PerRelyingParty)
        .await
        .unwrap();
    batch(&store, 2).await;
    let hotel = store
        .pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
        .await
        .unwrap()
        .unwrap();
    let bank = store
        .pick(Whose::Mine, "mso_mdoc", None, "bank", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(hotel.id, bank.id);
    // The hotel again: the same instance; a third relying party: none left for it.
    let again = store
        .pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, hotel.id);
    assert!(
        store
            .can_pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .can_pick(Whose::Mine, "mso_mdoc", None, "airline", NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .pick(Whose::Mine, "mso_mdoc", None, "airline", NOW)
            .await
            .unwrap()
            .is_none()
    );
    // Other formats and purposes are kept apart.
    assert!(
        store
            .pick(
                Whose::Mine,
                "eid_compact_cwt",
                Some("airport_security"),
                "hotel",
                NOW
            )
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn what_is_held_for_someone_else_is_never_shown_as_the_holders_own() {
    let store = WalletStore::open(":memory:", UsePolicy::PerRelyingParty)
        .await
        .unwrap();
    let holding = store
        .add_holding("parent", "https://authority.example", NOW)
        .await
        .unwrap();
    let held = store
        .add(
            Whose::Held(holding),
            "mso_mdoc",
            None,
            "held-0",
            b"the child's",
            NOW + Duration::days(30),
        )
        .await
        .unwrap();
    // With none of her own, the holder has nothing of her own to show or to read, and the
    // refresh is hers alone: it is due although the wallet holds a fresh held instance.
    assert!(
        !store
            .can_pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
            .await
            .unwrap()
    );
    assert!(
        store
            .pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.newest(Whose::Mine, "mso_mdoc").await.unwrap(), None);
    assert!(
        store
            .needs_refresh("mso_mdoc", None, NOW, Duration::days(7), 1)
            .await
            .unwrap()
    );
    let own = batch(&store, 1).await;
    // Each is found by whose it is.
    let picked = store
        .pick(Whose::Held(holding), "mso_mdoc", None, "hotel", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(picked.id, held);
    assert_eq!(
        store
            .pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
            .await
            .unwrap()
            .unwrap()
            .id,
        own[0]
    );
    assert_eq!(
        store
            .newest(Whose::Held(holding), "mso_mdoc")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"the child's"[..])
    );
    // Another holding holds nothing.
    assert!(
        store
            .pick(Whose::Held(holding + 1), "mso_mdoc", None, "bank", NOW)
            .await
            .unwrap()
            .is_none()
    );
    let holdings = store.holdings().await.unwrap();
    assert_eq!(holdings.len(), 1);
    assert_eq!(
        (holdings[0].id, holdings[0].relationship.as_str()),
        (holding, "parent")
    );
    let listed = store.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.holding).collect::<Vec<_>>(),
        [Some(holding), None]
    );
}

#[tokio::test]
async fn expiry_retired_keys_and_refresh() {
    let store = WalletStore::open(":memory:", UsePolicy::OncePerPresentation)
        .await
        .unwrap();
    batch(&store, 3).await;
    assert!(
        !store
            .needs_refresh("mso_mdoc", None, NOW, Duration::days(7), 2)
            .await
            .unwrap()
    );
    // Within a week of expiry: refresh.
    assert!(
        store
            .needs_refresh(
                "mso_mdoc",
                None,
                NOW + Duration::days(24),
                Duration::days(7),
                2
            )
            .await
            .unwrap()
    );
    // Expired instances are never shown.
    assert!(
        store
            .pick(
                Whose::Mine,
                "mso_mdoc",
                None,
                "hotel",
                NOW + Duration::days(31)
            )
            .await
            .unwrap()
            .is_none()
    );
    // A lost phone's key: its instance is never shown again, the others are.
    assert_eq!(store.retire_key("batch-0").await.unwrap(), 1);
    let shown = store
        .pick(Whose::Mine, "mso_mdoc", None, "hotel", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shown.key_id, "batch-1");
}

#[tokio::test]
async fn the_history_keeps_every_presentation_and_exports_it() {
    let path = std::env::temp_dir().join(format!("eid-wallet-store-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let path = path.to_str().unwrap().to_owned();
    {
        let store = WalletStore::open(&path, UsePolicy::PerRelyingParty)
            .await
            .unwrap();
        let ids = batch(&store, 1).await;
        store
            .record(
                &Presentation {
                    at: NOW.unix_timestamp(),
                    channel: "in_person".into(),
                    relying_party: Some("nanning-hotel".into()),
                    relying_party_name: Some("南宁民族大道酒店".into()),
                    purpose: "hotel_check_in".into(),
                    attributes: vec!["family_name".into(), "document_number".into()],
                    held_for: Some("guardian".into()),
                },
                Some(ids[0]),
            )
            .await
            .unwrap();
        store
            .record(
                &Presentation {
                    at: NOW.unix_timestamp() + 60,
                    channel: "offline_qr".into(),
                    relying_party: None,
                    relying_party_name: None,
                    purpose: "airport_security".into(),
                    attributes: vec!["family_name".into()],
                    held_for: None,
                },
                None,
            )
            .await
            .unwrap();
    }
    // Reopened: all there.
    let store = WalletStore::open(&path, UsePolicy::PerRelyingParty)
        .await
        .unwrap();
    let history = store.history().await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].relying_party.as_deref(), Some("nanning-hotel"));
    assert_eq!(history[1].channel, "offline_qr");
    let exported: serde_json::Value =
        serde_json::from_str(&store.export_history().await.unwrap()).unwrap();
    assert_eq!(exported[0]["attributes"][1], "document_number");
    assert_eq!(exported[1]["purpose"], "airport_security");
    // A held credential's showing says in which relationship, and only that.
    assert_eq!(history[0].held_for.as_deref(), Some("guardian"));
    assert_eq!(exported[0]["held_for"], "guardian");
    assert_eq!(exported[1].get("held_for"), None);
    let _ = std::fs::remove_file(&path);
}
