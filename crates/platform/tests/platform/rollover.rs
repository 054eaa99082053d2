//! Keys over the years: `eid up` started again and again with a clock moved across two
//! document signers' lives and an IACA root's rolls each key over before it ends, lists
//! what verifiers need in the trust list, and the story plays at every stage.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use eid_core::Clock;
use eid_http::fetch;
use eid_testing::TestClock;
use serde_json::Value;
use time::Duration;

use crate::{folder, play, up_at, up_with};

/// The DS certificate (DER) that signed the authority's status list shard 0 now.
async fn status_signer(public: &str) -> Vec<u8> {
    let token = fetch(&format!("{public}/status/0"), "application/statuslist+jwt")
        .await
        .unwrap();
    let token = String::from_utf8(token).unwrap();
    let header = token.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&eid_crypto::b64url_decode(header).unwrap()).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(header["x5c"][0].as_str().unwrap())
        .unwrap()
}

fn certificate(dir: &Path, file: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(dir.join("nanning").join(file)).unwrap();
    eid_crypto::pem::decode("CERTIFICATE", &text).unwrap()
}

/// Generation `n`'s certificate file of `kind` (`ds`, `iaca`).
fn file(kind: &str, n: usize) -> String {
    if n == 1 {
        format!("{kind}.pem")
    } else {
        format!("{kind}-{n}.pem")
    }
}

fn ds_file(n: usize) -> String {
    file("ds", n)
}

fn count(dir: &Path, kind: &str) -> usize {
    (1..)
        .take_while(|n| dir.join("nanning").join(file(kind, *n)).exists())
        .count()
}

/// The trust list the platform serves now: its version, and in Nanning's entry the IACA
/// roots and offline keys.
async fn listed(base: &str) -> (u64, Vec<Value>, Vec<Value>) {
    let list = served_list(base).await;
    let issuer = list["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "cn-4501")
        .unwrap()
        .clone();
    (
        list["version"].as_u64().unwrap(),
        issuer["iaca_roots"].as_array().unwrap().clone(),
        issuer["offline_keys"].as_array().unwrap().clone(),
    )
}

/// The trust list the platform serves now (its payload).
async fn served_list(base: &str) -> Value {
    let jws = fetch(&format!("{base}/trust/list"), "application/jwt")
        .await
        .unwrap();
    let jws = String::from_utf8(jws).unwrap();
    let payload = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&eid_crypto::b64url_decode(payload).unwrap()).unwrap()
}

/// `eid up --algorithm sm2`: both authorities' roots and document signers are SM2, the
/// trust list names both issuers `SM2SM3`, the status lists are signed with SM2, and the
/// whole demo plays (the offline code at the airport, in person at the hotel, online at the
/// bank, a lost phone) at every start. Started again — and asked for P-256 — the folder keeps
/// SM2: a start with nothing to roll signs no new list version (its SM2 offline keys are
/// read as listed), the successor DS is SM2 and signs the status lists two hours into its
/// first day, and the next root, made before the first ends, is SM2 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sm2_platform_plays_the_demo_and_rolls_over_in_sm2() {
    use eid_crypto::Algorithm;
    let dir = folder("sm2");
    let t0 = eid_core::SystemClock.now();
    let clock = Arc::new(TestClock::new(t0));
    let mut version = None;
    for (later, asked, (signers, roots), same_list) in [
        (Duration::ZERO, Algorithm::Sm2Sm3, (1, 1), false),
        (Duration::ZERO, Algorithm::Es256, (1, 1), true),
        (Duration::days(400), Algorithm::Es256, (2, 1), false),
        (
            Duration::days(400) + Duration::hours(2),
            Algorithm::Es256,
            (2, 1),
            true,
        ),
        (Duration::days(3100), Algorithm::Es256, (3, 2), false),
    ] {
        let stage = format!("{later} asking {asked:?}");
        clock.set(t0 + later);
        let running = up_with(&dir, None, clock.clone(), asked).await;
        assert_eq!(
            (count(&dir, "ds"), count(&dir, "iaca")),
            (signers, roots),
            "{stage}"
        );
        for n in 1..=signers {
            let (key, _, _) =
                eid_crypto::x509::document_signer_terms(&certificate(&dir, &ds_file(n))).unwrap();
            assert_eq!(key.algorithm(), Algorithm::Sm2Sm3, "{stage}: DS {n}");
        }
        for n in 1..=roots {
            let root = eid_crypto::x509::TrustedIaca::as_of_first_day(&certificate(
                &dir,
                &file("iaca", n),
            ))
            .unwrap();
            assert_eq!(root.algorithm(), Algorithm::Sm2Sm3, "{stage}: root {n}");
        }
        for authority in running.description["authorities"].as_array().unwrap() {
            assert_eq!(authority["algorithm"], "SM2SM3", "{stage}");
        }
        let list = served_list(&running.base).await;
        for issuer in list["issuers"].as_array().unwrap() {
            assert_eq!(issuer["algorithm"], "SM2SM3", "{stage}: {}", issuer["id"]);
        }
        if same_list {
            assert_eq!(
                list["version"].as_u64(),
                version,
                "{stage}: nothing rolled, no new version"
            );
        }
        let (all, lines) = play(&running.base, None).await;
        assert!(all, "{stage}: {lines:#?}");
        // The demo widens Nanning's scope once: the version the next start begins from.
        version = served_list(&running.base).await["version"].as_u64();
        let public = running.description["authorities"][0]["public"]
            .as_str()
            .unwrap()
            .to_owned();
        let token = fetch(&format!("{public}/status/0"), "application/statuslist+jwt")
            .await
            .unwrap();
        let header = String::from_utf8(token).unwrap();
        let header: Value = serde_json::from_slice(
            &eid_crypto::b64url_decode(header.split('.').next().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "SM2SM3", "{stage}");
        if later == Duration::days(400) + Duration::hours(2) {
            assert_eq!(
                status_signer(&public).await,
                certificate(&dir, &ds_file(2)),
                "{stage}"
            );
        }
        running.stop().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A P-256 folder started with `--algorithm sm2` stays P-256: the option makes new folders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p256_folder_asked_for_sm2_stays_p256() {
    let dir = folder("p256-stays");
    let clock = Arc::new(TestClock::new(eid_core::SystemClock.now()));
    up_at(&dir, None, clock.clone()).await.stop().await;
    let running = up_with(&dir, None, clock, eid_crypto::Algorithm::Sm2Sm3).await;
    for authority in running.description["authorities"].as_array().unwrap() {
        assert_eq!(authority["algorithm"], "ES256");
    }
    let (key, _, _) =
        eid_crypto::x509::document_signer_terms(&certificate(&dir, &ds_file(1))).unwrap();
    assert_eq!(key.algorithm(), eid_crypto::Algorithm::Es256);
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_roll_over_across_two_document_signer_lives_and_a_root_with_the_story_at_each_stage() {
    let dir = folder("rollover");
    let t0 = eid_core::SystemClock.now();
    let clock = Arc::new(TestClock::new(t0));
    let day = |d: i64| t0 + Duration::days(d);
    // (start on day, DS files, IACA files, roots listed, offline keys listed, and whether
    // a successor made at this start signs two hours on). The first IACA runs from the day
    // before t0 for 3,650 days (to day 3,649), each DS for 450 days from when it is made.
    let stages: [(i64, usize, usize, usize, usize, bool); 9] = [
        (0, 1, 1, 1, 1, false),
        // DS 1 ends on day 449: DS 2 made 90 days ahead, both keys offline.
        (400, 2, 1, 1, 2, true),
        // DS 1 ended: its key leaves the offline keys.
        (460, 2, 1, 1, 1, false),
        // DS 2 ends on day 850: DS 3.
        (800, 3, 1, 1, 2, true),
        (860, 3, 1, 1, 1, false),
        // The root ends within 630 days: IACA 2 listed beside it. DS 3 ended while the
        // platform was down: DS 4, still under IACA 1 (it ends before the root does).
        (3100, 4, 2, 2, 1, false),
        // DS 4 ends on day 3,550: DS 5, under IACA 2 (IACA 1 ends too soon).
        (3480, 5, 2, 2, 2, true),
        // DS 4 ended: IACA 1, still valid, signs nothing more and leaves the list.
        (3600, 5, 2, 1, 1, false),
        // IACA 1 ended too.
        (3700, 5, 2, 1, 1, false),
    ];
    for (at, signers, roots, roots_listed, offline, hand_over) in stages {
        // At a hand-over the platform starts again two hours on: the successor, made at
        // the first start, signs from its second hour. (Moving a running platform's clock
        // would leave its desks' status lists two hours old at once: status_too_old.)
        let starts: &[Duration] = if hand_over {
            &[Duration::ZERO, Duration::hours(2)]
        } else {
            &[Duration::ZERO]
        };
        let mut first_start = None;
        for later in starts {
            clock.set(day(at) + *later);
            let running = up_at(&dir, None, clock.clone()).await;
            let stage = format!("day {at} + {later}");
            assert_eq!(count(&dir, "ds"), signers, "{stage}");
            assert_eq!(count(&dir, "iaca"), roots, "{stage}");
            let (version, listed_roots, offline_keys) = listed(&running.base).await;
            assert_eq!(
                (listed_roots.len(), offline_keys.len()),
                (roots_listed, offline),
                "{stage}"
            );
            // The newest root and DS key are among those listed.
            let newest_root = base64::engine::general_purpose::STANDARD
                .encode(certificate(&dir, &file("iaca", roots)));
            assert!(
                listed_roots.contains(&Value::String(newest_root)),
                "{stage}"
            );
            let newest_key =
                eid_crypto::x509::document_signer_terms(&certificate(&dir, &ds_file(signers)))
                    .unwrap()
                    .0
                    .to_jwk();
            assert!(
                offline_keys
                    .iter()
                    .any(|k| k["x"] == newest_key.x && k["y"] == newest_key.y),
                "{stage}"
            );
            // Started again with nothing to roll over, the platform signs no new version.
            match first_start {
                None => first_start = Some(version),
                Some(before) => assert_eq!(version, before, "{stage}"),
            }
            let (all, lines) = play(&running.base, None).await;
            assert!(all, "{stage}: {lines:#?}");
            // The status lists are signed by the key that issues: the one before in the
            // successor's first hour, then the successor.
            let public = running.description["authorities"][0]["public"]
                .as_str()
                .unwrap()
                .to_owned();
            let signing = if hand_over && later.is_zero() {
                signers - 1
            } else {
                signers
            };
            assert_eq!(
                status_signer(&public).await,
                certificate(&dir, &ds_file(signing)),
                "{stage}"
            );
            running.stop().await;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_without_its_roots_key_gets_a_new_root_at_its_first_successor() {
    let dir = folder("rollover-old");
    let t0 = eid_core::SystemClock.now();
    let clock = Arc::new(TestClock::new(t0));
    up_at(&dir, None, clock.clone()).await.stop().await;
    // As folders made before the IACA's key was kept.
    std::fs::remove_file(dir.join("nanning/iaca.key.pem")).unwrap();
    for (later, signers, keys_listed) in [
        // The first start after the upgrade lists a new root (with its key) beside the old,
        // ahead of any DS under it.
        (Duration::days(10), 1, 1),
        // DS 2 under the new root; DS 1 still has work ahead.
        (Duration::days(400), 2, 2),
        (Duration::days(400) + Duration::hours(2), 2, 2),
    ] {
        clock.set(t0 + later);
        let running = up_at(&dir, None, clock.clone()).await;
        assert_eq!((count(&dir, "ds"), count(&dir, "iaca")), (signers, 2));
        assert!(dir.join("nanning/iaca-2.key.pem").exists());
        let (_, roots, keys) = listed(&running.base).await;
        assert_eq!((roots.len(), keys.len()), (2, keys_listed), "{later}");
        let (all, lines) = play(&running.base, None).await;
        assert!(all, "{later}: {lines:#?}");
        running.stop().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_cut_short_after_renewing_a_reader_certificate_registers_it_at_the_next() {
    let dir = folder("rollover-cut");
    let clock = Arc::new(TestClock::new(eid_core::SystemClock.now()));
    up_at(&dir, None, clock.clone()).await.stop().await;
    // Killed after the hotel's new reader key and certificate were written, and while
    // `list.json` (the signed list's readable copy) was half written.
    let desk = eid_platform::data::DESKS[0];
    let (key, certificate) =
        eid_platform::data::rollover::new_reader(&desk, clock.now(), &eid_core::OsRandom).unwrap();
    eid_platform::data::rollover::write_reader(
        &dir.join("desks").join(desk.id),
        &key,
        &certificate,
    )
    .unwrap();
    std::fs::write(dir.join("trust/list.json"), "{\"vers").unwrap();
    let running = up_at(&dir, None, clock.clone()).await;
    let jws = fetch(&format!("{}/trust/list", running.base), "application/jwt")
        .await
        .unwrap();
    let payload = String::from_utf8(jws).unwrap();
    let list: Value = serde_json::from_slice(
        &eid_crypto::b64url_decode(payload.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    let hotel = list["relying_parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rp| rp["id"] == desk.id)
        .unwrap()
        .clone();
    assert_eq!(
        hotel["certificate"],
        base64::engine::general_purpose::STANDARD.encode(&certificate)
    );
    // The hotel checks in with the new certificate, in person.
    let (all, lines) = play(&running.base, None).await;
    assert!(all, "{lines:#?}");
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
