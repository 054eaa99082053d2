//! Online: the bank through the verifier service, enrolment over OpenID4VCI.

use super::holder::*;
use super::*;

/// A JSON call to the verifier service (the bank's website back end); the body of a 200.
fn service_call(address: &str, method: &str, path: &str, body: &str) -> String {
    let (status, body) = http(
        address,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}: {body}");
    body
}

/// Online through the verifier service: the bank's service makes an OpenID4VP request, the
/// phone (`eid wallet present --online`) fetches it, checks it against the trust list, and
/// posts its encrypted answer; the bank's page reads the accepted report.
#[test]
fn the_bank_opens_an_account_online_through_the_verifier_service() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = scratch("online");
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let pin = "246810";
    let ok = |args: &[&str]| wallet_eid(args, pin);
    let uri = phone_with_an_mdoc(&dir, pin);
    nanning_status_list(&dir, uri, "5=valid", "valid.jwt");
    let mut service = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args([
            "verifier",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--relying-party",
            "nanning-bank",
            "--trust-list",
            &p("v1.jwt"),
            "--trust-jwk",
            &p("t/root.jwk"),
            "--reader-key",
            &p("bank/reader.key.pem"),
            "--reader-certificate",
            &p("bank/reader.pem"),
            "--status-list",
            &p("valid.jwt"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = BufReader::new(service.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let address = first
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let bank_asks = || -> serde_json::Value {
        serde_json::from_str(&service_call(
            &address,
            "POST",
            "/vp/requests",
            r#"{"purpose":"bank_account_opening"}"#,
        ))
        .unwrap()
    };
    let started = bank_asks();
    // Declined (no --yes, nothing typed): the bank is told, and its page says so.
    let declined = bank_asks();
    let said_no = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args([
            "wallet",
            "present",
            "--online",
            declined["invocation"].as_str().unwrap(),
            "--dir",
            &p("phone"),
            "--trust-list",
            &p("v1.jwt"),
            "--trust-jwk",
            &p("t/root.jwk"),
        ])
        .env("EID_WALLET_PIN", pin)
        .output()
        .unwrap();
    let declined: serde_json::Value = serde_json::from_str(&service_call(
        &address,
        "GET",
        declined["result"].as_str().unwrap(),
        "",
    ))
    .unwrap();
    let phone = ok(&[
        "wallet",
        "present",
        "--online",
        started["invocation"].as_str().unwrap(),
        "--dir",
        &p("phone"),
        "--trust-list",
        &p("v1.jwt"),
        "--trust-jwk",
        &p("t/root.jwk"),
        "--yes",
    ]);
    let said = String::from_utf8_lossy(&phone.stdout).into_owned();
    assert!(
        said.contains(
            "南宁银行青秀支行 (nanning-bank, region 450103) asks, for Bank account opening"
        ),
        "{said}"
    );
    let outcome: serde_json::Value = serde_json::from_str(&service_call(
        &address,
        "GET",
        started["result"].as_str().unwrap(),
        "",
    ))
    .unwrap();
    let _ = service.kill();
    let _ = service.wait();
    assert!(
        String::from_utf8_lossy(&said_no.stdout)
            .contains("Declined; the relying party was told no, and nothing else."),
        "{}{}",
        String::from_utf8_lossy(&said_no.stdout),
        String::from_utf8_lossy(&said_no.stderr)
    );
    assert_eq!(
        declined["report"]["reasons"][0]["reason"], "holder_declined",
        "{declined}"
    );
    assert_eq!(outcome["status"], "accepted", "{outcome}");
    // The phone's history says who saw what, when and why (names, not values).
    let history: serde_json::Value =
        serde_json::from_slice(&ok(&["wallet", "history", "--dir", &p("phone")]).stdout).unwrap();
    assert_eq!(history[0]["channel"], "online");
    assert_eq!(history[0]["relying_party"], "nanning-bank");
    assert_eq!(history[0]["purpose"], "bank_account_opening");
    assert!(
        history[0]["attributes"]
            .as_array()
            .unwrap()
            .contains(&"document_number".into())
    );
    assert!(!history.to_string().contains("450102199003071244"));
    let report = &outcome["report"];
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["channel"], "online");
    assert_eq!(
        report["attributes"]["document_number"],
        "450102199003071244"
    );
}

/// Enrolment from the phone against a running authority: the officer's counter enrolment
/// gives an offer and a code; the provider attests the phone's device key; `eid wallet
/// enrol` redeems the offer over OpenID4VCI and keeps every credential (mdoc, SD-JWT VC and
/// the three offline QR credentials), all bound to its key; the airport's scanner accepts
/// the phone's offline code made from what was issued, against the authority's served list.
#[test]
fn a_phone_enrols_over_openid4vci_and_shows_the_airport_its_code() {
    use std::io::BufRead;
    let dir = scratch("enrol");
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let pin = "246810";
    let ok = |args: &[&str]| wallet_eid(args, pin);
    two_cities_and_a_phone(&dir, pin);
    ok(&[
        "registry",
        "generate",
        "--count",
        "20",
        "--seed",
        "5",
        "--quiet",
        "--out",
        &p("r.jsonl"),
    ]);
    let db = format!("sqlite:{}", p("eid.db"));
    ok(&[
        "registry",
        "import",
        &p("r.jsonl"),
        "--quiet",
        "--database",
        &db,
    ]);
    let resident: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("r.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    // The issuer URL must be where the public listener is: take a free port first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("authority.toml"),
        format!(
            r#"issuer_url = "http://127.0.0.1:{port}"
public_listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:0"
database_url = "{db}"
trust_list = "{}"
trust_anchors = ["{}"]
[signer]
kind = "file"
key = "{}"
certificates = "{}"
"#,
            p("v1.jwt"),
            p("t/root.jwk"),
            p("nn/ds.key.pem"),
            p("nn/ds.pem"),
        ),
    )
    .unwrap();
    let token = "an-admin-token-for-the-enrolment-test";
    let mut authority = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(["authority", "serve", "--config", &p("authority.toml")])
        .env("EID_AUTHORITY_ADMIN_TOKEN", token)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(authority.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let admin = line
        .split("admin listener on http://")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .unwrap()
        .to_owned();
    let public = format!("127.0.0.1:{port}");
    let body = serde_json::json!({
        "id_number": resident["id_number"],
        "full_name": resident["full_name"],
        "officer": "officer-7",
    })
    .to_string();
    let (status, made) = http(
        &admin,
        &format!(
            "POST /admin/enrolments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let made: serde_json::Value = serde_json::from_str(&made).unwrap_or_default();
    assert!(status.contains("200"), "{status} {made}");
    ok(&[
        "provider",
        "attest",
        "--key",
        &p("a.pem"),
        "--provider",
        "superapp-a",
        "--instance",
        "phone-1",
        "--holder",
        &p("phone/device.pub.pem"),
        "--out",
        &p("attestation.jwt"),
    ]);
    let enrol_args = [
        "wallet",
        "enrol",
        "--dir",
        &p("phone"),
        "--offer",
        made["offer_uri"].as_str().unwrap(),
        "--tx-code",
        made["tx_code"].as_str().unwrap(),
        "--attestation",
        &p("attestation.jwt"),
    ];
    let enrolled = ok(&enrol_args);
    let enrolled: serde_json::Value = serde_json::from_slice(&enrolled.stdout).unwrap();
    assert_eq!(
        enrolled["credentials"].as_array().unwrap().len(),
        5,
        "{enrolled}"
    );
    let held: serde_json::Value =
        serde_json::from_slice(&ok(&["wallet", "list", "--dir", &p("phone")]).stdout).unwrap();
    let formats: Vec<&str> = held
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["format"].as_str().unwrap())
        .collect();
    assert_eq!(
        formats,
        [
            "mso_mdoc",
            "dc+sd-jwt",
            "eid_compact_cwt",
            "eid_compact_cwt",
            "eid_compact_cwt"
        ]
    );
    // Before expiry: a new batch without new proofing, kept beside the first.
    ok(&[
        "wallet",
        "refresh",
        "--dir",
        &p("phone"),
        "--authority",
        &format!("http://127.0.0.1:{port}"),
        "--attestation",
        &p("attestation.jwt"),
    ]);
    let held: serde_json::Value =
        serde_json::from_slice(&ok(&["wallet", "list", "--dir", &p("phone")]).stdout).unwrap();
    assert_eq!(held.as_array().unwrap().len(), 10, "{held}");
    // The same offer again: the code was used.
    let again = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(enrol_args)
        .env("EID_WALLET_PIN", pin)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already used"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // At the airport: the phone's code from what the authority issued, the list it serves.
    ok(&[
        "wallet",
        "present",
        "--offline",
        "--purpose",
        "airport_security",
        "--once",
        "--dir",
        &p("phone"),
        "--out",
        &p("code.bin"),
    ]);
    let (status, list) = http(
        &public,
        "GET /status/0 HTTP/1.1\r\nHost: x\r\nAccept: application/statuslist+jwt\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains("200"), "{status}");
    std::fs::write(dir.join("served.jwt"), list.trim()).unwrap();
    let desk = eid(&[
        "verify",
        "--offline-qr-file",
        &p("code.bin"),
        "--purpose",
        "airport_security",
        "--relying-party",
        "nanning-airport",
        "--trust-list",
        &p("v1.jwt"),
        "--trust-jwk",
        &p("t/root.jwk"),
        "--status-list",
        &p("served.jwt"),
    ]);
    authority.kill().unwrap();
    authority.wait().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&desk.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&desk.stderr)));
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["issuer"], "cn-4501");
    assert_eq!(report["wallet_provider"], "superapp-a");
    assert_eq!(
        report["attributes"]["document_number"],
        resident["id_number"]
    );
}

/// `eid verifier serve` refuses a face threshold outside (0, 2) and a face model folder it
/// cannot use, saying which and why, before it listens.
#[test]
fn the_verifier_service_refuses_bad_face_options() {
    let serve = |more: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_eid"))
            .args([
                "verifier",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--relying-party",
                "nanning-hotel",
                "--trust-list",
                "/nonexistent/v1.jwt",
                "--trust-jwk",
                "/nonexistent/root.jwk",
            ])
            .args(more)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    for bad in ["0", "2.5", "-1", "NaN"] {
        let said = serve(&[&format!("--face-threshold={bad}")]);
        assert!(
            said.contains("--face-threshold must lie between 0 and 2"),
            "{bad}: {said}"
        );
    }
    let said = serve(&["--face-models", "/nonexistent/models"]);
    if cfg!(feature = "face") {
        assert!(said.contains("--face-models"), "{said}");
        assert!(said.contains("fetch-proofing-data"), "{said}");
    } else {
        assert!(
            said.contains("needs a build with the face feature"),
            "{said}"
        );
    }
}
