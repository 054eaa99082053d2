//! The issuance store on both backends: offers redeemed once (with the transaction code and
//! its failure limit), tokens, single-use nonces, credentials with random status indices,
//! lifecycle transitions and the audit log — on SQLite always, on PostgreSQL when
//! `EID_TEST_POSTGRES_URL` is set.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::sync::LazyLock;

use eid_core::{OsRandom, Random, ResidentIdNumber};
use eid_store::{
    AuditEntry, CredentialState, Delegation, NewCredential, NewOffer, OutgoingItem, Redemption,
    Selector, Store,
};

/// Who the tests' changes of credential states are audited as.
const STAMP: eid_store::AuditStamp<'static> = eid_store::AuditStamp {
    actor: "test",
    action: "test",
    detail: "",
};

const NOW: i64 = 1_795_000_000;
const SHARD: u64 = 1 << 17;

/// A resident of the registry, so that reinstating (which needs a valid card) can happen.
async fn resident(store: &Store) -> String {
    let mut out = Vec::new();
    eid_registry::generate::Generator::new(3, time::macros::date!(2026 - 11 - 23))
        .write_jsonl(1, &mut out, &mut |_| {})
        .unwrap();
    let card: eid_core::ResidentCard =
        serde_json::from_slice(out.split(|&b| b == b'\n').next().unwrap()).unwrap();
    store
        .import_residents(
            std::slice::from_ref(&card),
            time::macros::datetime!(2026-11-23 0:00 UTC),
        )
        .await
        .unwrap();
    card.id_number.expose().to_owned()
}

const NUMBER: &str = "450102199001011231";

/// [`NUMBER`], typed.
static TYPED: LazyLock<ResidentIdNumber> =
    LazyLock::new(|| ResidentIdNumber::parse_structure(NUMBER).unwrap());

fn credential<'a>(id: &'a str, wallet: &'a str) -> NewCredential<'a> {
    NewCredential {
        id,
        id_number: &TYPED,
        provider: "wechat",
        wallet_instance: wallet,
        configuration: "resident_identity_sd_jwt",
        delegation: None,
        issued_at: NOW,
        expires_at: NOW + 86_400,
    }
}

/// A wallet holding its resident's own credential and another resident's held for her
/// (delegated): it is still its resident's alone; the holding is listed as delegated, a
/// wallet-wide change reaches it, and so does a change to what its holder holds — that one
/// alone, not her own.
async fn delegated(store: &Store) {
    let other = ResidentIdNumber::parse_structure(&resident(store).await).unwrap();
    store
        .record_credential(&credential("own", "w-d"), 1, SHARD, &OsRandom)
        .await
        .unwrap();
    let mut held = credential("held", "w-d");
    held.id_number = &other;
    held.configuration = "resident_identity_delegated_parent_sd_jwt";
    held.delegation = Some(Delegation {
        relationship: "parent",
        holder: &TYPED,
    });
    store
        .record_credential(&held, 1, SHARD, &OsRandom)
        .await
        .unwrap();
    assert_eq!(
        store
            .resident_of_wallet("wechat", "w-d", NOW)
            .await
            .unwrap(),
        Some(*TYPED)
    );
    let records = store.credentials_of(&other).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].delegation.as_deref(), Some("parent"));
    assert_eq!(
        store.credentials_of(&TYPED).await.unwrap()[0].delegation,
        None
    );
    let recent = store.recent_credentials(10).await.unwrap();
    assert!(
        recent
            .iter()
            .any(|(c, _)| c.id == "held" && c.delegation.as_deref() == Some("parent"))
    );
    let changed = store
        .set_state(
            Selector::WalletInstance {
                provider: "wechat",
                instance: "w-d",
            },
            CredentialState::Suspended,
            NOW,
            &STAMP,
        )
        .await
        .unwrap();
    let mut ids: Vec<(&str, Option<&str>)> = changed
        .iter()
        .map(|c| (c.id.as_str(), c.delegation.as_deref()))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [("held", Some("parent")), ("own", None)]);
    // What she holds, selected by her: the held one, not her own; nothing for the ward.
    let held_by = |number| Selector::HeldBy(number);
    assert_eq!(store.credentials_held(held_by(&TYPED)).await.unwrap(), 1);
    assert_eq!(store.credentials_held(held_by(&other)).await.unwrap(), 0);
    let revoked = store
        .set_state(held_by(&TYPED), CredentialState::Invalid, NOW, &STAMP)
        .await
        .unwrap();
    assert_eq!(
        revoked.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["held"]
    );
    let own = store.credentials_of(&TYPED).await.unwrap();
    let own = own.iter().find(|c| c.id == "own").unwrap();
    assert_eq!(own.state, CredentialState::Suspended);
}

async fn exercise(store: &Store) {
    let configurations = vec!["a".to_owned(), "b".to_owned()];
    let offer = |code: &'static str, tx: Option<&'static str>| NewOffer {
        code_hash: code,
        id_number: &TYPED,
        configurations: &configurations,
        tx_code_hash: tx,
        expires_at: NOW + 600,
        wallet: None,
    };
    store.create_offer(&offer("c1", Some("tx"))).await.unwrap();
    store.create_offer(&offer("c2", None)).await.unwrap();

    // Unknown, then a missing and a wrong transaction code, then the right one, once.
    let redeem = |code, tx, now| store.redeem_offer(code, tx, now, "t1", NOW + 300, 3);
    assert_eq!(
        redeem("nope", None, NOW).await.unwrap(),
        Redemption::UnknownCode
    );
    assert_eq!(
        redeem("c1", None, NOW).await.unwrap(),
        Redemption::TxCodeRequired
    );
    assert_eq!(
        redeem("c1", Some("bad"), NOW).await.unwrap(),
        Redemption::WrongTxCode { attempts_left: 2 }
    );
    assert_eq!(
        redeem("c1", Some("tx"), NOW).await.unwrap(),
        Redemption::Granted {
            id_number: *TYPED,
            configurations: configurations.clone(),
        }
    );
    assert_eq!(
        redeem("c1", Some("tx"), NOW).await.unwrap(),
        Redemption::AlreadyRedeemed
    );
    // An expired offer.
    assert_eq!(
        store
            .redeem_offer("c2", None, NOW + 600, "t2", NOW + 900, 3)
            .await
            .unwrap(),
        Redemption::Expired
    );
    // Three wrong codes void an offer.
    store.create_offer(&offer("c3", Some("tx"))).await.unwrap();
    for left in [2, 1, 0] {
        assert_eq!(
            store
                .redeem_offer("c3", Some("x"), NOW, "t3", NOW + 300, 3)
                .await
                .unwrap(),
            Redemption::WrongTxCode {
                attempts_left: left
            }
        );
    }
    assert_eq!(
        store
            .redeem_offer("c3", Some("tx"), NOW, "t3", NOW + 300, 3)
            .await
            .unwrap(),
        Redemption::Expired
    );

    // The token grants until it expires; each configuration is issued once per token.
    let grant = store.access_grant("t1", NOW).await.unwrap().unwrap();
    assert_eq!(grant.configurations, configurations);
    assert!(store.access_grant("t1", NOW + 300).await.unwrap().is_none());
    assert!(store.mark_issued("t1", "a").await.unwrap());
    assert!(!store.mark_issued("t1", "a").await.unwrap());
    store.unmark_issued("t1", "a").await.unwrap();
    assert!(store.mark_issued("t1", "a").await.unwrap());

    // Nonces are used once and expire.
    store.create_nonce("n1", NOW, NOW + 60).await.unwrap();
    store.create_nonce("n2", NOW, NOW + 60).await.unwrap();
    assert!(store.consume_nonce("n1", NOW).await.unwrap());
    assert!(!store.consume_nonce("n1", NOW).await.unwrap());
    assert!(!store.consume_nonce("n2", NOW + 60).await.unwrap());

    // Credentials get distinct random indices in shard 0.
    let random: &dyn Random = &OsRandom;
    let first = store
        .record_credential(&credential("cred-1", "phone-1"), 3, SHARD, random)
        .await
        .unwrap();
    let second = store
        .record_credential(&credential("cred-2", "phone-1"), 3, SHARD, random)
        .await
        .unwrap();
    let third = store
        .record_credential(&credential("cred-3", "phone-2"), 2, SHARD, random)
        .await
        .unwrap();
    let mut all: Vec<_> = first.iter().chain(&second).chain(&third).copied().collect();
    assert!(all.iter().all(|&(shard, idx)| shard == 0 && idx < SHARD));
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 8);
    let shard = store.shard_statuses(0).await.unwrap().unwrap();
    assert_eq!((shard.size, shard.entries.len()), (SHARD, 0));
    assert!(store.shard_statuses(1).await.unwrap().is_none());

    // Lost phone-1: both its credentials suspended, every instance; phone-2 untouched.
    let changed = store
        .set_state(
            Selector::WalletInstance {
                provider: "wechat",
                instance: "phone-1",
            },
            CredentialState::Suspended,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(
        changed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["cred-1", "cred-2"]
    );
    let mut instances = first.clone();
    instances.sort_unstable();
    assert_eq!(changed[0].instances, instances);
    let after = store.shard_statuses(0).await.unwrap().unwrap();
    assert_eq!(after.entries.len(), 6);
    assert!(after.entries.iter().all(|&(_, s)| s == 2));
    assert!(after.version > shard.version);
    // Suspending again changes nothing; reinstating one credential brings it back.
    assert!(
        store
            .set_state(
                Selector::Credential("cred-1"),
                CredentialState::Suspended,
                1_000,
                &STAMP
            )
            .await
            .unwrap()
            .is_empty()
    );
    // A credential is reinstated only while its resident's card is valid: this resident is
    // not in the registry, so nothing comes back.
    assert!(
        store
            .set_state(
                Selector::Credential("cred-1"),
                CredentialState::Valid,
                1_000,
                &STAMP
            )
            .await
            .unwrap()
            .is_empty()
    );
    // Revoking the resident: everything INVALID, for good.
    let revoked = store
        .set_state(
            Selector::Resident(&TYPED),
            CredentialState::Invalid,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(revoked.len(), 3);
    assert!(
        store
            .set_state(
                Selector::Credential("cred-2"),
                CredentialState::Valid,
                1_000,
                &STAMP
            )
            .await
            .unwrap()
            .is_empty()
    );
    let records = store.credentials_of(&TYPED).await.unwrap();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|c| c.state == CredentialState::Invalid));
    let final_shard = store.shard_statuses(0).await.unwrap().unwrap();
    assert_eq!(final_shard.entries.len(), 8);
    assert!(final_shard.entries.iter().all(|&(_, s)| s == 1));

    // Audit and rate-limit bookkeeping.
    for action in ["issue", "suspend"] {
        store
            .audit(&AuditEntry {
                at: NOW,
                actor: "admin".into(),
                action: action.into(),
                subject: "credential:cred-1".into(),
                outcome: "ok".into(),
                detail: String::new(),
            })
            .await
            .unwrap();
    }
    // Newest first: the two just written, then one entry per credential each change above
    // moved, written with the change.
    let log = store.audit_log(10).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["suspend", "issue", "test", "test", "test", "test", "test"]
    );
    assert!(
        log[2..].iter().all(|e| e.subject.starts_with("credential:")
            && e.outcome == "ok"
            && e.actor == "test"),
        "{log:?}"
    );
    store
        .record_proofing_failure("number:x", NOW - 7200)
        .await
        .unwrap();
    store
        .record_proofing_failure("number:x", NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .proofing_failures_since("number:x", NOW - 3600)
            .await
            .unwrap(),
        1
    );
}

/// Reinstating needs the resident's valid card; voiding closes pending offers and tokens.
async fn reinstate_and_void(store: &Store) {
    let number = resident(store).await;
    let typed_number = ResidentIdNumber::parse_structure(&number).unwrap();
    let random: &dyn Random = &OsRandom;
    let mut c = credential("r-1", "phone");
    c.id_number = &typed_number;
    store.record_credential(&c, 2, SHARD, random).await.unwrap();
    let suspend = store
        .set_state(
            Selector::Resident(&typed_number),
            CredentialState::Suspended,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(suspend.len(), 1);
    let configurations = vec!["a".to_owned()];
    store
        .create_offer(&NewOffer {
            code_hash: "v1",
            id_number: &typed_number,
            configurations: &configurations,
            tx_code_hash: None,
            expires_at: NOW + 600,
            wallet: Some("wechat/phone"),
        })
        .await
        .unwrap();
    store
        .create_offer(&NewOffer {
            code_hash: "v2",
            id_number: &typed_number,
            configurations: &configurations,
            tx_code_hash: None,
            expires_at: NOW + 600,
            wallet: None,
        })
        .await
        .unwrap();
    // The token carries the offer's wallet binding.
    assert!(matches!(
        store
            .redeem_offer("v1", None, NOW, "vt1", NOW + 300, 3)
            .await
            .unwrap(),
        Redemption::Granted { .. }
    ));
    let grant = store.access_grant("vt1", NOW).await.unwrap().unwrap();
    assert_eq!(grant.wallet.as_deref(), Some("wechat/phone"));
    // Voiding: the unredeemed offer and the live token are gone.
    assert_eq!(store.void_pending(&typed_number).await.unwrap(), 2);
    assert!(store.access_grant("vt1", NOW).await.unwrap().is_none());
    assert_eq!(
        store
            .redeem_offer("v2", None, NOW, "vt2", NOW + 300, 3)
            .await
            .unwrap(),
        Redemption::AlreadyRedeemed
    );
    // The card valid: reinstated.
    let back = store
        .set_state(
            Selector::Resident(&typed_number),
            CredentialState::Valid,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    // Revocation is final, for a resident whose card is valid: neither reinstated nor
    // suspended again.
    let mut r = credential("r-2", "old-phone");
    r.id_number = &typed_number;
    store.record_credential(&r, 1, SHARD, random).await.unwrap();
    let revoked = store
        .set_state(
            Selector::Credential("r-2"),
            CredentialState::Invalid,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(revoked.len(), 1);
    for to in [CredentialState::Valid, CredentialState::Suspended] {
        assert!(
            store
                .set_state(Selector::Credential("r-2"), to, 1_000, &STAMP)
                .await
                .unwrap()
                .is_empty(),
            "{to:?}"
        );
    }
    // Suspending the resident moves only what is valid; the shard's version moves once.
    let (shard, _) = back[0].instances[0];
    let (_, before) = store.shard_head(shard).await.unwrap().unwrap();
    // The card reported lost: no reinstating.
    let suspended = store
        .set_state(
            Selector::Resident(&typed_number),
            CredentialState::Suspended,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    assert_eq!(
        suspended.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["r-1"]
    );
    assert_eq!(
        store.shard_head(shard).await.unwrap().unwrap().1,
        before + 1
    );
    store
        .record_event(
            &typed_number,
            &eid_store::LifeEvent::CardReportedLost,
            time::OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
            &STAMP,
        )
        .await
        .unwrap();
    assert!(
        store
            .set_state(
                Selector::Resident(&typed_number),
                CredentialState::Valid,
                1_000,
                &STAMP
            )
            .await
            .unwrap()
            .is_empty()
    );
}

/// A shard fills to three quarters, then a new one opens (on an empty store).
async fn fills_shards(store: &Store) {
    let random: &dyn Random = &OsRandom;
    let small = 8;
    let a = store
        .record_credential(&credential("s-1", "p"), 3, small, random)
        .await
        .unwrap();
    assert!(a.iter().all(|&(s, _)| s == 0), "{a:?}");
    let b = store
        .record_credential(&credential("s-2", "p"), 3, small, random)
        .await
        .unwrap();
    assert!(
        b.iter().all(|&(s, _)| s == 0),
        "six of eight is three quarters"
    );
    let c = store
        .record_credential(&credential("s-3", "p"), 1, small, random)
        .await
        .unwrap();
    assert!(c.iter().all(|&(s, _)| s == 1));
}

/// A change writes its events to the outbox with it (one per instance and a notice to the
/// wallet), a refused one writes none; rows leave only by name, and a seq is never reused.
async fn outbox(store: &Store) {
    let random: &dyn Random = &OsRandom;
    let taken = store
        .record_credential(&credential("o-1", "phone"), 2, SHARD, random)
        .await
        .unwrap();
    assert_eq!(
        store.outbox_lag().await,
        (0, None, 0),
        "issuing is no event"
    );
    store
        .set_state(
            Selector::Credential("o-1"),
            CredentialState::Suspended,
            1_000,
            &STAMP,
        )
        .await
        .unwrap();
    // Revoked, then not reinstatable: the refused change writes nothing.
    store
        .set_state(
            Selector::Credential("o-1"),
            CredentialState::Invalid,
            1_001,
            &STAMP,
        )
        .await
        .unwrap();
    let refused = store
        .set_state(
            Selector::Credential("o-1"),
            CredentialState::Valid,
            1_002,
            &STAMP,
        )
        .await
        .unwrap();
    assert!(refused.is_empty());
    store
        .enqueue_notice(&TYPED, "wechat", "phone", "new_enrolment", 1_003)
        .await
        .unwrap();
    let rows = store.outbox(0, 100).await.unwrap();
    assert_eq!(rows.len(), 7, "{rows:?}");
    assert!(rows.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");
    let statuses: Vec<_> = rows
        .iter()
        .filter_map(|r| match &r.item {
            OutgoingItem::Status { shard, idx, state } => Some(((*shard, *idx), *state, r.at)),
            OutgoingItem::Notice { .. } => None,
        })
        .collect();
    let mut suspended: Vec<_> = statuses
        .iter()
        .filter(|s| s.1 == CredentialState::Suspended)
        .map(|s| s.0)
        .collect();
    suspended.sort_unstable();
    let mut expected = taken.clone();
    expected.sort_unstable();
    assert_eq!(
        suspended, expected,
        "one event per instance, where it is published"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.1 == CredentialState::Invalid && s.2 == 1_001)
            .count(),
        2
    );
    let notices: Vec<_> = rows
        .iter()
        .filter_map(|r| match &r.item {
            OutgoingItem::Notice {
                provider,
                wallet_instance,
                notice,
            } => Some((provider.as_str(), wallet_instance.as_str(), notice.as_str())),
            OutgoingItem::Status { .. } => None,
        })
        .collect();
    assert_eq!(
        notices,
        [
            ("wechat", "phone", "credentials_suspended"),
            ("wechat", "phone", "credentials_invalid"),
            ("wechat", "phone", "new_enrolment"),
        ]
    );
    assert_eq!(store.outbox_lag().await, (7, Some(1_000), 0));
    // Only the rows named leave.
    store
        .outbox_done(0, &[rows[1].seq, rows[5].seq])
        .await
        .unwrap();
    let left: Vec<i64> = store
        .outbox(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(
        left,
        [
            rows[0].seq,
            rows[2].seq,
            rows[3].seq,
            rows[4].seq,
            rows[6].seq
        ]
    );
    assert_eq!(
        store.outbox(0, 2).await.unwrap().len(),
        2,
        "the limit holds"
    );
    store.outbox_done(0, &left).await.unwrap();
    assert_eq!(store.outbox_lag().await, (0, None, 0));
    store
        .enqueue_notice(&TYPED, "wechat", "phone", "new_enrolment", 1_004)
        .await
        .unwrap();
    let next = store.outbox(0, 100).await.unwrap();
    assert!(next[0].seq > rows[6].seq, "a seq is never given twice");
}

/// The in-memory storage keeps the same rules: the same suite, unchanged.
#[tokio::test]
async fn memory() {
    let store = Store::connect("memory:").await.unwrap();
    assert_eq!(store.backend_name(), "memory");
    exercise(&store).await;
    fills_shards(&Store::connect("memory:").await.unwrap()).await;
    reinstate_and_void(&Store::connect("memory:").await.unwrap()).await;
    outbox(&Store::connect("memory:").await.unwrap()).await;
    delegated(&Store::connect("memory:").await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_in_memory() {
    exercise(&Store::connect("sqlite::memory:").await.unwrap()).await;
    fills_shards(&Store::connect("sqlite::memory:").await.unwrap()).await;
    reinstate_and_void(&Store::connect("sqlite::memory:").await.unwrap()).await;
    outbox(&Store::connect("sqlite::memory:").await.unwrap()).await;
    delegated(&Store::connect("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn postgres() {
    let Some(scratch) = eid_store::ScratchPostgres::create("issuance")
        .await
        .unwrap()
    else {
        return;
    };
    let store = Store::connect(&scratch.url).await.unwrap();
    exercise(&store).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
    let scratch = eid_store::ScratchPostgres::create("shards")
        .await
        .unwrap()
        .unwrap();
    let store = Store::connect(&scratch.url).await.unwrap();
    fills_shards(&store).await;
    reinstate_and_void(&store).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
    let scratch = eid_store::ScratchPostgres::create("outbox")
        .await
        .unwrap()
        .unwrap();
    let store = Store::connect(&scratch.url).await.unwrap();
    outbox(&store).await;
    delegated(&store).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
}

/// Credentials held for someone else, recorded before their holder was (migration 0008):
/// rows of the 0007 schema, `(id, resident, wallet, issued_at, delegation)`, and whose
/// number 0008 must find as each one's holder.
fn before_held_by() -> (String, [(&'static str, Option<ResidentIdNumber>); 4]) {
    let n = eid_testing::number;
    let rows = [
        // Her own first, then her ward's in the same phone: hers.
        ("g-own", n(1), "phone", 100, None),
        ("w-held", n(2), "phone", 200, Some("guardian")),
        // A ward's received before anyone's own: no one found.
        ("w2-held", n(3), "phone-2", 50, Some("parent")),
        ("g2-own", n(4), "phone-2", 100, None),
        // A tablet two residents shared before it: no one can tell whose.
        ("a-own", n(5), "tablet", 10, None),
        ("b-own", n(6), "tablet", 20, None),
        ("w3-held", n(7), "tablet", 30, Some("guardian")),
        // The ward's own in the phone that holds hers is not her holder.
        ("w4-own", n(8), "phone-4", 10, None),
        ("w4-held", n(8), "phone-4", 20, Some("parent")),
    ];
    let sql = rows
        .iter()
        .map(|(id, number, wallet, at, delegation)| {
            let delegation = delegation.map_or("NULL".to_owned(), |d| format!("'{d}'"));
            format!(
                "INSERT INTO credentials (id, id_number, provider, wallet_instance, configuration, \
                 issued_at, expires_at, delegation) VALUES ('{id}', '{}', 'p', '{wallet}', 'c', \
                 {at}, {}, {delegation});",
                number.expose(),
                at + 1_000
            )
        })
        .collect();
    let found = [
        ("w-held", Some(n(1))),
        ("w2-held", None),
        ("w3-held", None),
        ("w4-held", None),
    ];
    (sql, found)
}

/// The store at `url` (whose `pool` is open) brought to 0007 with `backend`'s migrations,
/// given the rows of [`before_held_by`], then opened as the authority opens it (0008 runs):
/// what each holder's selector reaches is what the backfill found.
async fn held_as_found_after_0008<DB>(pool: sqlx::Pool<DB>, backend: &str, url: &str)
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
{
    let (sql, found) = before_held_by();
    let migrations = sqlx::migrate::Migrator::new(std::path::Path::new(backend))
        .await
        .unwrap();
    migrations.run_to(7, &pool).await.unwrap();
    // The tests' own constants.
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = Store::connect(url).await.unwrap();
    for number in (1..=8).map(eid_testing::number) {
        let expected = found
            .iter()
            .filter(|(_, holder)| holder.as_ref() == Some(&number))
            .count() as u64;
        assert_eq!(
            store
                .credentials_held(Selector::HeldBy(&number))
                .await
                .unwrap(),
            expected,
            "held by {number:?}"
        );
    }
    store.close().await;
}

#[tokio::test]
async fn migration_0008_finds_the_holder_of_what_was_held_before_it_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("eid-0008-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("store.db").display());
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    held_as_found_after_0008(pool, "migrations/sqlite", &url).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn migration_0008_finds_the_holder_of_what_was_held_before_it_on_postgres() {
    let Some(scratch) = eid_store::ScratchPostgres::create("held_by").await.unwrap() else {
        return;
    };
    let pool = sqlx::PgPool::connect(&scratch.url).await.unwrap();
    held_as_found_after_0008(pool, "migrations/postgres", &scratch.url).await;
    scratch.drop_database().await.unwrap();
}

/// Issues `n` credentials of one instance each, named `prefix-i`; their positions.
async fn issue_some(store: &Store, prefix: &str, n: usize, shard: u64) -> Vec<(u64, u64)> {
    let mut taken = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        taken.extend(
            store
                .record_credential(&credential(&id, "phone"), 1, shard, &OsRandom)
                .await
                .unwrap(),
        );
    }
    taken
}

#[tokio::test]
async fn a_restored_store_hands_out_no_index_it_may_have_lost() {
    const SMALL: u64 = 16;
    let dir = std::env::temp_dir().join(format!("eid-restore-{}", std::process::id()));
    let backups = dir.join("backup");
    std::fs::create_dir_all(&backups).unwrap();
    let url = format!("sqlite:{}", dir.join("eid.db").display());
    let store = Store::connect(&url).await.unwrap();
    issue_some(&store, "before", 10, SMALL).await;
    // The backup, taken while the store serves; then more is issued and lost with the disk.
    let written = store.backup_into(&backups).await.unwrap();
    assert_eq!(written, [backups.join("partition-0.db")]);
    let lost = issue_some(&store, "lost", 30, SMALL).await;
    let lost_top = lost.iter().map(|&(shard, _)| shard).max().unwrap();
    assert!(
        lost_top >= 2,
        "the lost credentials opened shards the backup never saw"
    );
    store.close().await;
    std::fs::copy(&written[0], dir.join("eid.db")).unwrap();

    let store = Store::connect(&url).await.unwrap();
    assert_eq!(
        store.credential_counts().await.unwrap()[0],
        10,
        "the backup's credentials"
    );
    let first = store.seal_for_restore(4, SMALL).await.unwrap();
    assert!(
        first > lost_top,
        "fresh shards begin past any the lost credentials used"
    );
    let after = issue_some(&store, "after", 10, SMALL).await;
    assert!(
        after.iter().all(|&(shard, _)| shard >= first),
        "{after:?} in a sealed shard"
    );
    assert!(after.iter().all(|p| !lost.contains(p)));
    // A second backup into the same folder is refused rather than overwriting the first.
    assert!(store.backup_into(&backups).await.is_err());
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs a PostgreSQL client tool (`pg_dump`, `pg_restore`), failing the test with its
/// output when it fails.
fn pg_tool(tool: &str, args: &[&str]) {
    let output = std::process::Command::new(tool)
        .args(args)
        .output()
        .map_err(|e| format!("{tool} (from PostgreSQL's client tools): {e}"))
        .unwrap();
    assert!(
        output.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Issues `n` credentials of one instance each over every partition of `store` (residents
/// of each in turn, each id routed to its resident's partition); their positions.
async fn issue_spread(store: &Store, prefix: &str, n: usize, shard: u64) -> Vec<(u64, u64)> {
    let mut residents: Vec<ResidentIdNumber> = Vec::new();
    for sequence in 1.. {
        let number = eid_testing::number(sequence);
        if store.partition_of(number.expose()) == residents.len() {
            residents.push(number);
            if residents.len() == store.partitions() {
                break;
            }
        }
    }
    let mut taken = Vec::new();
    for i in 0..n {
        let number = &residents[i % residents.len()];
        let id = (0..)
            .map(|k| format!("{prefix}-{i}-{k}"))
            .find(|id| store.partition_of(id) == store.partition_of(number.expose()))
            .unwrap();
        let credential = NewCredential {
            id_number: number,
            ..credential(&id, "phone")
        };
        taken.extend(
            store
                .record_credential(&credential, 1, shard, &OsRandom)
                .await
                .unwrap(),
        );
    }
    taken
}

#[tokio::test]
#[ignore = "needs two PostgreSQL servers: EID_TEST_POSTGRES_URL and _2 (scripts/test starts them), and pg_dump"]
async fn a_postgres_shard_map_restored_by_pg_restore_hands_out_no_index_it_may_have_lost() {
    const SMALL: u64 = 16;
    let Some((mut scratches, map)) = eid_store::ScratchPostgres::on_two_servers("restore")
        .await
        .unwrap()
    else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("eid-pg-restore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&map).await.unwrap();
    issue_spread(&store, "before", 20, SMALL).await;
    // The procedure of docs/authority.md: `pg_dump -Fc` of each partition's database while
    // the authority serves; then more is issued and lost.
    let dumps: Vec<String> = (0..scratches.len())
        .map(|n| {
            dir.join(format!("partition-{n}.dump"))
                .display()
                .to_string()
        })
        .collect();
    for (scratch, dump) in scratches.iter().zip(&dumps) {
        pg_tool(
            "pg_dump",
            &["--format=custom", "--file", dump, &scratch.url],
        );
    }
    let lost = issue_spread(&store, "lost", 60, SMALL).await;
    let lost_top = lost.iter().map(|&(shard, _)| shard).max().unwrap();
    store.close().await;
    // Every replica stopped, the databases lost; each made again, empty, and its dump
    // restored into it.
    for (scratch, dump) in scratches.iter_mut().zip(&dumps) {
        scratch.recreate().await.unwrap();
        pg_tool(
            "pg_restore",
            &["--single-transaction", "--dbname", &scratch.url, dump],
        );
    }

    let store = Store::connect(&map).await.unwrap();
    let counts = store.credential_counts().await.unwrap();
    assert_eq!(counts[0], 20, "the dumps' credentials: {counts:?}");
    let first = store.seal_for_restore(8, SMALL).await.unwrap();
    assert!(
        first > lost_top,
        "fresh shards ({first}) begin past any the lost credentials used ({lost_top})"
    );
    let after = issue_spread(&store, "after", 40, SMALL).await;
    assert!(
        after.iter().all(|&(shard, _)| shard >= first),
        "{after:?} in a sealed shard"
    );
    assert!(after.iter().all(|p| !lost.contains(p)));
    store.close().await;
    for scratch in scratches {
        scratch.drop_database().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_memory_store_says_it_has_nothing_to_back_up() {
    let store = Store::connect("memory:").await.unwrap();
    let dir = std::env::temp_dir();
    let error = store.backup_into(&dir).await.unwrap_err().to_string();
    assert!(error.contains("nothing to back up"), "{error}");
}

/// A registry life event, the state change of the resident's credentials, their outbox
/// events and their audit entries are one transaction: when the outbox or the audit log
/// refuses a row, neither the event, nor the resident's new record, nor the revocation, nor
/// any event or entry is stored; once it accepts, all of them are. `refuse` makes every
/// insert into one of the two tables fail; `accept` undoes it.
async fn a_life_event_is_stored_with_its_revocation(
    store: &Store,
    refuse: impl AsyncFnOnce(),
    accept: impl AsyncFnOnce(),
) {
    let number = ResidentIdNumber::parse_structure(&resident(store).await).unwrap();
    let mut c = credential("e-1", "phone");
    c.id_number = &number;
    store
        .record_credential(&c, 2, SHARD, &OsRandom)
        .await
        .unwrap();
    let queued = store.outbox(0, 100).await.unwrap().len();
    let event = eid_store::LifeEvent::NameChanged {
        family_name: "韦".into(),
        given_name: "秀兰".into(),
    };
    let at = time::OffsetDateTime::from_unix_timestamp(NOW).unwrap();
    let before = store.resident(&number).await.unwrap().unwrap();

    let audited = async || {
        store
            .audit_log(100)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.subject == "credential:e-1" && e.action == "test")
            .count()
    };
    refuse().await;
    let failed = store.record_event(&number, &event, at, &STAMP).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(audited().await, 0);
    assert!(store.life_events(&number).await.unwrap().is_empty());
    assert_eq!(store.resident(&number).await.unwrap().unwrap(), before);
    let held = store.credentials_of(&number).await.unwrap();
    assert_eq!(held[0].state, CredentialState::Valid);
    assert_eq!(store.outbox(0, 100).await.unwrap().len(), queued);

    accept().await;
    let changed = store
        .record_event(&number, &event, at, &STAMP)
        .await
        .unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].instances.len(), 2);
    assert_eq!(store.life_events(&number).await.unwrap().len(), 1);
    assert_eq!(
        store
            .resident(&number)
            .await
            .unwrap()
            .unwrap()
            .card
            .full_name,
        "韦秀兰"
    );
    let held = store.credentials_of(&number).await.unwrap();
    assert_eq!(held[0].state, CredentialState::Invalid);
    // Two status events and the wallet's notice; one audit entry.
    assert_eq!(store.outbox(0, 100).await.unwrap().len(), queued + 3);
    assert_eq!(audited().await, 1);
}

#[tokio::test]
async fn a_life_event_and_its_revocation_are_one_transaction_on_sqlite() {
    for table in ["outbox", "audit_log"] {
        let dir =
            std::env::temp_dir().join(format!("eid-life-event-{table}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("eid.db").display());
        let store = Store::connect(&url).await.unwrap();
        let side = sqlx::SqlitePool::connect(&url).await.unwrap();
        a_life_event_is_stored_with_its_revocation(
            &store,
            async || {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE TRIGGER refuse BEFORE INSERT ON {table}
                     BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
                )))
                .execute(&side)
                .await
                .unwrap();
            },
            async || {
                sqlx::raw_sql("DROP TRIGGER refuse")
                    .execute(&side)
                    .await
                    .unwrap();
            },
        )
        .await;
        side.close().await;
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn a_life_event_and_its_revocation_are_one_transaction_on_postgres() {
    for table in ["outbox", "audit_log"] {
        let Some(scratch) = eid_store::ScratchPostgres::create(&format!("life_event_{table}"))
            .await
            .unwrap()
        else {
            return;
        };
        let store = Store::connect(&scratch.url).await.unwrap();
        let side = sqlx::PgPool::connect(&scratch.url).await.unwrap();
        a_life_event_is_stored_with_its_revocation(
            &store,
            async || {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                     $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
                     CREATE TRIGGER refuse BEFORE INSERT ON {table}
                     FOR EACH ROW EXECUTE FUNCTION refuse();"
                )))
                .execute(&side)
                .await
                .unwrap();
            },
            async || {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP TRIGGER refuse ON {table}"
                )))
                .execute(&side)
                .await
                .unwrap();
            },
        )
        .await;
        side.close().await;
        store.close().await;
        scratch.drop_database().await.unwrap();
    }
}

/// A reinstatement while a life event holds the resident's row — her card reported lost,
/// not yet committed: the reinstatement waits for the event and then reinstates nothing
/// (it reads the row as the event left it, not as it was when the reinstatement began).
#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn a_reinstatement_waits_for_a_card_reported_lost_at_that_moment_on_postgres() {
    let Some(scratch) = eid_store::ScratchPostgres::create("reinstate_race")
        .await
        .unwrap()
    else {
        return;
    };
    let store = Store::connect(&scratch.url).await.unwrap();
    let number = resident(&store).await;
    let typed = ResidentIdNumber::parse_structure(&number).unwrap();
    let phone = NewCredential {
        id_number: &typed,
        ..credential("race-1", "phone")
    };
    store
        .record_credential(&phone, 1, SHARD, &OsRandom)
        .await
        .unwrap();
    store
        .set_state(
            Selector::Credential("race-1"),
            CredentialState::Suspended,
            NOW,
            &STAMP,
        )
        .await
        .unwrap();
    // The life event's transaction, by hand: the card reported lost, not yet committed.
    let side = sqlx::PgPool::connect(&scratch.url).await.unwrap();
    let mut event = side.begin().await.unwrap();
    sqlx::query("UPDATE residents SET card_state = 'reported_lost' WHERE id_number = $1")
        .bind(&number)
        .execute(&mut *event)
        .await
        .unwrap();
    let reinstating = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .set_state(
                    Selector::Credential("race-1"),
                    CredentialState::Valid,
                    NOW + 1,
                    &STAMP,
                )
                .await
        }
    });
    // Until the reinstatement is seen waiting on a lock (not merely not started yet).
    let mut waiting = false;
    for _ in 0..100 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&side)
        .await
        .unwrap();
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        waiting && !reinstating.is_finished(),
        "the reinstatement waits for the resident's row"
    );
    event.commit().await.unwrap();
    let changed = reinstating.await.unwrap().unwrap();
    assert!(changed.is_empty(), "{changed:?}");
    let held = store.credentials_of(&typed).await.unwrap();
    assert_eq!(held[0].state, CredentialState::Suspended);
    side.close().await;
    store.close().await;
    scratch.drop_database().await.unwrap();
}
