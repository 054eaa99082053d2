//! A restart keeps the keys (private), the trust list, the wallets, the credentials, their status.

use eid_http::fetch;
use serde_json::{Value, json};

use crate::{airport, enrolled_wallet, folder, get, post, up};

/// Every desk of `running` answers `/ready` with 200: it holds the first status list of
/// each authority it follows, so it decides on the first credential it sees.
async fn desks_ready(running: &eid_platform::up::Running) {
    for desk in running.description["desks"].as_array().unwrap() {
        let url = format!("{}/ready", desk["url"].as_str().unwrap());
        let ready = fetch(&url, "application/json").await;
        assert!(ready.is_ok(), "{url}: {ready:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_keys_trust_list_wallets_and_credentials() {
    let dir = folder("restart");
    let running = up(&dir, None).await;
    // Up means the desks can decide, on a fresh folder and after a restart alike.
    desks_ready(&running).await;
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
            dir.join("desks/nanning-bank/pseudonym.key.pem"),
            keystore,
        ] {
            let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", secret.display());
        }
    }

    let running = up(&dir, None).await;
    desks_ready(&running).await;
    assert_eq!(running.description["demo_residents"], residents);
    // Each authority's and desk's own metrics, under the base URL.
    for (path, series) in [
        ("/authorities/nanning/metrics", "eid_outbox_pending "),
        ("/desks/nanning-airport/metrics", "eid_trust_list_version "),
    ] {
        let text = fetch(&format!("{}{path}", running.base), "text/plain")
            .await
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains(series), "{path}: {text}");
    }
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

/// A folder whose bank has no key for its pseudonyms (made before they were sealed) gets one
/// when it starts, in the next trust list it signs; a key written without its list being
/// signed (a start stopped between the two) is listed at the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_without_its_pseudonym_key_gets_one_in_the_next_trust_list() {
    let dir = folder("pseudonym-key");
    let key_file = dir.join("desks/nanning-bank/pseudonym.key.pem");
    up(&dir, None).await.stop().await;
    let first = std::fs::read_to_string(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let listed = async |version: u64| {
        let running = up(&dir, None).await;
        let list = fetch(&format!("{}/trust/list", running.base), "application/jwt")
            .await
            .unwrap();
        running.stop().await;
        let list = String::from_utf8(list).unwrap();
        let body = list.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&eid_crypto::b64url_decode(body).unwrap()).unwrap();
        assert_eq!(claims["version"], version, "{claims}");
        let bank = claims["relying_parties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|rp| rp["id"] == "nanning-bank")
            .unwrap()
            .clone();
        let key: eid_crypto::Jwk = serde_json::from_value(bank["pseudonym_key"].clone()).unwrap();
        key.verifying_key().unwrap().sec1().to_vec()
    };
    let in_list = listed(2).await;
    let made = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(made, first);
    let made = eid_crypto::hpke::HpkeRecipient::from_pkcs8_pem(&made).unwrap();
    assert_eq!(in_list, made.public_point());
    // A key in the folder that the list does not have.
    let other = eid_crypto::SigningKey::generate().unwrap();
    std::fs::write(&key_file, other.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    use eid_crypto::Signer;
    assert_eq!(listed(3).await, other.verifying_key().sec1());
}
