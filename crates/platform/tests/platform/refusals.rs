//! Bad requests to wallets, desks, the operator, the console: clear refusals that change nothing.

use eid_http::HttpError;
use serde_json::{Value, json};

use crate::{
    airport, dechunk, desk_ready, engagement, enrolled_wallet, folder, get, new_wallet, post, up,
};

/// A GET with an optional bearer token (the admin API).
async fn fetch_with(url: &str, bearer: Option<&str>) -> Result<Vec<u8>, HttpError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let auth = bearer
        .map(|b| format!("Authorization: Bearer {b}\r\n"))
        .unwrap_or_default();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n{auth}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    if status == 200 {
        Ok(body.into_bytes())
    } else {
        Err(HttpError::Status(status, body))
    }
}

/// POSTs bytes; the status and the JSON answer.
async fn post_octets(url: &str, body: Vec<u8>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.write_all(&body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_clearly_and_change_nothing() {
    let dir = folder("refusals");
    let running = up(&dir, None).await;
    let api = running.description["providers"][0]["api"]
        .as_str()
        .unwrap()
        .to_owned();
    // A weak PIN.
    let (status, body) = post(&format!("{api}/wallets"), None, json!({"pin": "12"}))
        .await
        .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let wallet = enrolled_wallet(&running, &dir).await;
    // A wrong PIN: no code, and the wallet still works with the right one.
    let (status, body) = airport(&running, &wallet, "000000").await.unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("wrong_pin")),
        "{body}"
    );
    let history = get(&format!("{api}/wallets/{wallet}/history")).await;
    assert_eq!(history["history"].as_array().unwrap().len(), 0, "{history}");
    // An unknown purpose, an unknown wallet.
    let (status, body) = post(
        &format!("{api}/wallets/{wallet}/offline"),
        None,
        json!({"pin": "135790", "purpose": "karaoke"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("karaoke"),
        "{body}"
    );
    let (status, _) = post(
        &format!("{api}/wallets/{}/offline", "0".repeat(32)),
        None,
        json!({"pin": "135790", "purpose": "airport_security"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 404);
    // An enrolment with neither an offer nor the photographs.
    let (status, body) = post(
        &format!("{api}/wallets/{wallet}/enrol"),
        None,
        json!({"pin": "135790", "id_number": "450102195609270671"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    // A remote enrolment for a resident of a region no authority of the platform serves
    // (Beijing's 1101), or with no region code at all: refused before anything is sent.
    for (number, said) in [
        ("110101199003074514", "serves region 1101"),
        ("45x102195609270671", "six-digit region code"),
    ] {
        let (status, body) = post(
            &format!("{api}/wallets/{wallet}/enrol"),
            None,
            json!({"pin": "135790", "id_number": number, "full_name": "张三",
                   "card_front": "", "card_back": "", "face": "", "face_turned": "", "turn": "left"}),
        )
        .await
        .unwrap_err();
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error_description"].as_str().unwrap().contains(said),
            "{number}: {body}"
        );
    }
    // In person, a decision before any desk has asked: nothing to decide, said so; the
    // session still waits for the desk.
    let (_, session) = engagement(&api, &wallet).await;
    let (status, body) = post(&session, None, json!({"share": true, "pin": "135790"}))
        .await
        .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("not_asking")),
        "{body}"
    );
    assert_eq!(get(&session).await["state"], "waiting");
    // The trust list without the operator's token, or with a region that does not exist.
    let scopes = format!("{}/trust/scopes", running.base);
    let change = json!({"issuer": "cn-4501", "region": "nation"});
    let (status, _) = post(&scopes, None, change.clone()).await.unwrap_err();
    assert_eq!(status, 401);
    let (status, _) = post(&scopes, Some("not-the-token"), change)
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    let operator = std::fs::read_to_string(dir.join("trust/operator-token")).unwrap();
    let (status, body) = post(
        &scopes,
        Some(operator.trim()),
        json!({"issuer": "cn-4501", "region": "99"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_region")),
        "{body}"
    );
    let (status, _) = post(
        &scopes,
        Some(operator.trim()),
        json!({"issuer": "cn-9999", "region": "nation"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400);
    // Narrowing Nanning (accepted in all of Guangxi) to its own prefecture is refused.
    let (status, body) = post(
        &scopes,
        Some(operator.trim()),
        json!({"issuer": "cn-4501", "region": "4501"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("would_narrow")),
        "{body}"
    );
    // Online, a mistyped PIN leaves the bank's request waiting; the right one answers it.
    let bank = format!("{}/desks/nanning-bank", running.base);
    desk_ready(&bank).await;
    // The bank's website starts a request, the wallet reads it: what each said.
    let bank_asks = async |wallet: &str| {
        let started = post(
            &format!("{bank}/vp/requests"),
            None,
            json!({"purpose": "bank_account_opening"}),
        )
        .await
        .unwrap();
        let asked = post(
            &format!("{api}/wallets/{wallet}/online"),
            None,
            json!({"invocation": started["invocation"]}),
        )
        .await
        .unwrap();
        (started, asked)
    };
    // Declined: the bank is told, and its page shows it instead of waiting.
    let (declined, asked) = bank_asks(&wallet).await;
    let said = post(
        &format!(
            "{api}/wallets/{wallet}/online/{}",
            asked["session"].as_str().unwrap()
        ),
        None,
        json!({"share": false}),
    )
    .await
    .unwrap();
    assert_eq!(
        (&said["shared"], &said["told"]),
        (&json!(false), &json!(true)),
        "{said}"
    );
    let outcome = get(&format!("{bank}{}", declined["result"].as_str().unwrap())).await;
    assert_eq!(
        outcome["report"]["reasons"][0]["reason"], "holder_declined",
        "{outcome}"
    );
    let (started, asked) = bank_asks(&wallet).await;
    assert_eq!(
        asked["consent"]["purpose"], "bank_account_opening",
        "{asked}"
    );
    let decide = format!(
        "{api}/wallets/{wallet}/online/{}",
        asked["session"].as_str().unwrap()
    );
    let (status, body) = post(&decide, None, json!({"share": true, "pin": "999999"}))
        .await
        .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("wrong_pin")),
        "{body}"
    );
    let (status, _) = post(&decide, None, json!({"share": true}))
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    let shared = post(&decide, None, json!({"share": true, "pin": "135790"}))
        .await
        .unwrap();
    assert_eq!(shared["shared"], true, "{shared}");
    let outcome = get(&format!("{bank}{}", started["result"].as_str().unwrap())).await;
    assert_eq!(outcome["report"]["accepted"], true, "{outcome}");
    // A wallet with nothing to show says so, and the bank is told no as well.
    let empty = new_wallet(&api).await;
    let (started, asked) = bank_asks(&empty).await;
    let (status, body) = post(
        &format!(
            "{api}/wallets/{empty}/online/{}",
            asked["session"].as_str().unwrap()
        ),
        None,
        json!({"share": true, "pin": "135790"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("no_credential")),
        "{body}"
    );
    let outcome = get(&format!("{bank}{}", started["result"].as_str().unwrap())).await;
    assert_eq!(
        outcome["report"]["reasons"][0]["reason"], "holder_declined",
        "{outcome}"
    );
    // Nor has it an offline code to show: said before the PIN is tried, so a wrong one is
    // not counted against it.
    let (status, body) = post(
        &format!("{api}/wallets/{empty}/offline"),
        None,
        json!({"purpose": "airport_security", "pin": "999999"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("no_credential")),
        "{body}"
    );
    // An offer from an issuer the provider does not work with is refused before any fetch.
    let (status, body) = post(
        &format!("{api}/wallets/{wallet}/enrol"),
        None,
        json!({"pin": "135790", "tx_code": "123456",
               "offer": "openid-credential-offer://?credential_offer=%7B%22credential_issuer%22%3A%22http%3A%2F%2F127.0.0.1%3A9%22%2C%22credential_configuration_ids%22%3A%5B%22resident_identity_mdoc%22%5D%2C%22grants%22%3A%7B%22urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code%22%3A%7B%22pre-authorized_code%22%3A%22x%22%2C%22tx_code%22%3A%7B%22length%22%3A6%7D%7D%7D%7D"}),
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not from an issuing authority"),
        "{body}"
    );
    // The desk's QR reader: a picture of a code gives its bytes back; a wrong shape and a
    // blank picture are refused with what was wrong.
    let content = b"\x00\x01binary offline code\xff".to_vec();
    let code = qrcode::QrCode::with_error_correction_level(&content, qrcode::EcLevel::M).unwrap();
    let (modules, scale) = (code.width(), 4);
    let side = (modules + 8) * scale;
    let mut grey = vec![255u8; side * side];
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / scale).wrapping_sub(4), (y / scale).wrapping_sub(4));
            if mx < modules && my < modules && code[(mx, my)] == qrcode::Color::Dark {
                grey[y * side + x] = 0;
            }
        }
    }
    let decode = |w: usize, h: usize, body: Vec<u8>| {
        let url = format!("{}/web/decode?width={w}&height={h}", running.base);
        async move { post_octets(&url, body).await }
    };
    let (status, found) = decode(side, side, grey.clone()).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        eid_crypto::b64url_decode(found["bytes"].as_str().unwrap()).unwrap(),
        content
    );
    let (status, found) = decode(side, side + 1, grey).await;
    assert_eq!(status, 400, "{found}");
    let (status, found) = decode(64, 64, vec![255; 64 * 64]).await;
    assert_eq!(
        (status, found["error"].as_str()),
        (404, Some("not_found")),
        "{found}"
    );
    // The console's admin routes want the authority's token.
    let stats = format!("{}/authorities/nanning/admin/stats", running.base);
    let token = std::fs::read_to_string(dir.join("nanning/admin-token")).unwrap();
    assert!(matches!(
        fetch_with(&stats, None).await,
        Err(HttpError::Status(401, _))
    ));
    let counted: Value =
        serde_json::from_slice(&fetch_with(&stats, Some(token.trim())).await.unwrap()).unwrap();
    assert_eq!(counted["credentials"]["valid"], 5, "{counted}");
    assert!(
        !counted["issued_per_hour"].as_array().unwrap().is_empty(),
        "{counted}"
    );
    // Still version 1, and the wallet still presents.
    let health = get(&format!("{}/desks/nanning-airport/health", running.base)).await;
    assert_eq!(health["trust_list_version"], 1, "{health}");
    let report = airport(&running, &wallet, "135790").await.unwrap();
    assert!(report.get("accepted").is_some(), "{report}");
    running.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
