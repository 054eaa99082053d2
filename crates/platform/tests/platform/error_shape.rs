//! Every route of every service answers bad input in one JSON error shape, never echoing it back.

use serde_json::Value;

use crate::{dechunk, folder, up};

/// One raw HTTP/1.1 exchange: the status, the headers (lower-cased) and the body.
async fn exchange(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    stream
        .write_all(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.write_all(body).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let head = head.to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, head, body)
}

/// A request of the route walk: method, URL, headers, body.
type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Vec<u8>);

/// Every service of the platform answers bad input in one shape — `{"error",
/// "error_description"}` as JSON, a 4xx status — and never echoes a large input back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_bad_input_in_one_json_error_shape() {
    let dir = folder("error-shape");
    let running = up(&dir, None).await;
    let base = running.base.clone();
    let authority = running.description["authorities"][0]["public"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = running.description["authorities"][0]["admin"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = std::fs::read_to_string(dir.join("nanning/admin-token")).unwrap();
    let token = token.trim();
    let operator = std::fs::read_to_string(dir.join("trust/operator-token")).unwrap();
    let operator = operator.trim();
    let api = running.description["providers"][0]["api"]
        .as_str()
        .unwrap()
        .to_owned();
    let desk = format!("{base}/desks/nanning-bank");
    // Under the server's URI limit (hyper answers 414 itself past 64 kB) in URLs, larger in
    // bodies.
    let long = "x".repeat(8_000);
    let big = "x".repeat(100_000);
    let bearer = format!("Bearer {token}");
    let operator_bearer = format!("Bearer {operator}");
    let json = ("Content-Type", "application/json");
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let admin_auth = ("Authorization", bearer.as_str());
    let cases: Vec<Case<'_>> = vec![
        // The authority's public listener.
        (
            "POST",
            format!("{authority}/token"),
            vec![form],
            b"grant_type=nope".to_vec(),
        ),
        (
            "POST",
            format!("{authority}/credential"),
            vec![json],
            b"{}".to_vec(),
        ),
        (
            "GET",
            format!("{authority}/status/{long}"),
            vec![],
            Vec::new(),
        ),
        ("GET", format!("{authority}/status/99"), vec![], Vec::new()),
        (
            "POST",
            format!("{authority}/refresh"),
            vec![json],
            b"not json".to_vec(),
        ),
        (
            "POST",
            format!("{authority}/lost"),
            vec![json],
            b"[1,2]".to_vec(),
        ),
        (
            "POST",
            format!("{authority}/enrolment"),
            vec![json],
            b"{\"x\":1}".to_vec(),
        ),
        ("DELETE", format!("{authority}/nonce"), vec![], Vec::new()),
        (
            "GET",
            format!("{authority}/no-such-route"),
            vec![],
            Vec::new(),
        ),
        // An unknown field's name is quoted by the parser: only an excerpt comes back.
        (
            "POST",
            format!("{authority}/refresh"),
            vec![json],
            format!("{{\"{big}\":1}}").into_bytes(),
        ),
        // Its admin listener, as eid up nests it.
        (
            "POST",
            format!("{admin}/admin/enrolments"),
            vec![json, admin_auth],
            b"{".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/credentials/nope/suspendd"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/credentials/nope/suspend"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/wallets/superapp-a/no-such-phone/suspend"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/suspend"),
            vec![json, admin_auth],
            b"{\"id_number\":\"450102199001010011\"}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/suspend"),
            vec![json, admin_auth],
            b"not json".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/reinstate"),
            vec![admin_auth],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/rebind"),
            vec![json, admin_auth],
            b"{\"id_number\":1}".to_vec(),
        ),
        (
            "POST",
            format!("{admin}/admin/registry/events"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        (
            "GET",
            format!("{admin}/admin/audit?limit=many"),
            vec![admin_auth],
            Vec::new(),
        ),
        (
            "GET",
            format!("{admin}/admin/credentials"),
            vec![],
            Vec::new(),
        ),
        (
            "POST",
            format!("{admin}/admin/residents/{long}"),
            vec![json, admin_auth],
            b"{}".to_vec(),
        ),
        // A wallet provider.
        (
            "POST",
            format!("{api}/wallets"),
            vec![json],
            b"{\"pin\":".to_vec(),
        ),
        (
            "POST",
            format!("{api}/wallets/{}/offline", "0".repeat(32)),
            vec![json],
            format!("{{\"pin\":\"135790\",\"purpose\":\"{big}\"}}").into_bytes(),
        ),
        // A desk.
        (
            "POST",
            format!("{desk}/verify/offline?purpose={long}"),
            vec![],
            b"AAAA".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/verify/offline"),
            vec![],
            b"AAAA".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/verify/in-person"),
            vec![json],
            format!("{{\"engagement\":\"mdoc:x\",\"purpose\":\"{big}\"}}").into_bytes(),
        ),
        (
            "POST",
            format!("{desk}/verify/in-person"),
            vec![json],
            b"nope".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/vp/requests"),
            vec![json],
            b"{}".to_vec(),
        ),
        ("GET", format!("{desk}/vp/results/nope"), vec![], Vec::new()),
        ("GET", format!("{desk}/vp/request/nope"), vec![], Vec::new()),
        (
            "POST",
            format!("{desk}/vp/response"),
            vec![form],
            b"response=garbage".to_vec(),
        ),
        (
            "POST",
            format!("{desk}/vp/response"),
            vec![json],
            b"{}".to_vec(),
        ),
        (
            "PUT",
            format!("{desk}/trust-list"),
            vec![],
            b"garbage".to_vec(),
        ),
        // The trust operator.
        (
            "POST",
            format!("{base}/trust/scopes"),
            vec![json],
            b"{}".to_vec(),
        ),
        (
            "POST",
            format!("{base}/trust/scopes"),
            vec![json, ("Authorization", operator_bearer.as_str())],
            b"{\"issuer\":1}".to_vec(),
        ),
    ];
    let mut wrong = Vec::new();
    for (method, url, headers, body) in &cases {
        let (status, head, text) = exchange(method, url, headers, body).await;
        let shown = url.replace(&long, "<8 kB>");
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let shaped = head.contains("content-type: application/json")
            && value["error"].is_string()
            && value["error_description"].is_string();
        // 4xx, or 503 where the feature is not in this build (remote enrolment's face).
        if !((400..500).contains(&status) || status == 503) || !shaped || text.len() > 2_000 {
            wrong.push(format!(
                "{method} {shown}: {status} {}",
                &text[..text.len().min(300)]
            ));
        }
        if status == 401 && !head.contains("www-authenticate: bearer") {
            wrong.push(format!(
                "{method} {shown}: 401 without WWW-Authenticate: Bearer"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The hotline's typos are not successes: an unknown phone 404, a number that breaks
    // its rules 422 with the rule.
    let (status, _, text) = exchange(
        "POST",
        &format!("{admin}/admin/wallets/superapp-a/no-such-phone/suspend"),
        &[json, admin_auth],
        b"{}",
    )
    .await;
    assert_eq!(status, 404, "{text}");
    let (status, _, text) = exchange(
        "POST",
        &format!("{admin}/admin/residents/suspend"),
        &[json, admin_auth],
        b"{\"id_number\":\"450102199001010011\"}",
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("invalid_number"), "{text}");
    // The OpenAPI document where the docs say: beside the admin routes too.
    let (status, _, text) = exchange(
        "GET",
        &format!("{admin}/admin/openapi.json"),
        &[admin_auth],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"openapi\""), "{text}");

    // The same scope twice: the second is a no-op that says so.
    let scope = br#"{"issuer":"cn-4501","region":"nation"}"#;
    let auth = [json, ("Authorization", operator_bearer.as_str())];
    let (status, _, first) = exchange("POST", &format!("{base}/trust/scopes"), &auth, scope).await;
    assert_eq!(status, 200, "{first}");
    let (status, _, second) = exchange("POST", &format!("{base}/trust/scopes"), &auth, scope).await;
    assert_eq!(status, 200, "{second}");
    let (first, second): (Value, Value) = (
        serde_json::from_str(&first).unwrap(),
        serde_json::from_str(&second).unwrap(),
    );
    assert_eq!(second["unchanged"], true, "{second}");
    assert_eq!(
        second["trust_list_version"], first["trust_list_version"],
        "{second}"
    );
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
