//! The holder's wallet against desks: in person in two terminals, and the offline QR.

use super::*;

/// Runs `eid` with the wallet's PIN in the environment; fails the test unless it succeeds.
pub(crate) fn wallet_eid(args: &[&str], pin: &str) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(args)
        .env("EID_WALLET_PIN", pin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// In `dir`: a trust root (`t/`), Nanning's PKI (`nn/`, its DS key also its offline key),
/// a hotel's reader (`hotel/`), super-app A's key (`a.jwk`), a phone's wallet (`phone/`),
/// a bank's request-signing certificate (`bank/`), and trust list `v1.jwt` with Nanning
/// accepted in Guangxi, super-app A, a Nanning hotel, the Nanning airport and a Nanning bank.
pub(crate) fn two_cities_and_a_phone(dir: &Path, pin: &str) {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let ok = |args: &[&str]| wallet_eid(args, pin);
    ok(&["trust", "init", "--out", &p("t")]);
    ok(&["pki", "init", "--out", &p("nn")]);
    ok(&[
        "pki",
        "reader",
        "--out",
        &p("hotel"),
        "--name",
        "南宁民族大道酒店",
        "--uri",
        "https://hotel.example",
    ]);
    ok(&[
        "keys",
        "generate",
        "--out",
        &p("a.pem"),
        "--public",
        &p("a.pub"),
        "--jwk",
        &p("a.jwk"),
    ]);
    ok(&["wallet", "init", "--dir", &p("phone")]);
    let list = p("t/trust.json");
    ok(&[
        "trust",
        "add-issuer",
        "--list",
        &list,
        "--id",
        "cn-4501",
        "--name",
        "南宁市公安局",
        "--iaca",
        &p("nn/iaca.pem"),
        "--offline-key",
        &p("nn/ds.jwk"),
    ]);
    ok(&[
        "trust",
        "set-scope",
        "--list",
        &list,
        "--issuer",
        "cn-4501",
        "--region",
        "45",
        "--purposes",
        "all",
    ]);
    ok(&[
        "trust",
        "add-provider",
        "--list",
        &list,
        "--id",
        "superapp-a",
        "--name",
        "Super-app A",
        "--key",
        &p("a.jwk"),
    ]);
    ok(&[
        "trust",
        "add-rp",
        "--list",
        &list,
        "--id",
        "nanning-hotel",
        "--name",
        "南宁民族大道酒店",
        "--region",
        "450102",
        "--purpose",
        "hotel_check_in",
        "--certificate",
        &p("hotel/reader.pem"),
    ]);
    ok(&[
        "pki",
        "reader",
        "--out",
        &p("bank"),
        "--name",
        "南宁银行青秀支行",
        "--uri",
        "https://bank.example",
    ]);
    ok(&[
        "trust",
        "add-rp",
        "--list",
        &list,
        "--id",
        "nanning-bank",
        "--name",
        "南宁银行青秀支行",
        "--region",
        "450103",
        "--purpose",
        "bank_account_opening",
        "--certificate",
        &p("bank/reader.pem"),
    ]);
    ok(&[
        "trust",
        "add-rp",
        "--list",
        &list,
        "--id",
        "nanning-airport",
        "--name",
        "南宁吴圩国际机场",
        "--region",
        "450122",
        "--purpose",
        "airport_security",
    ]);
    // These desks and the authority run without a face model: the operator waives the
    // catalogue's face matches (else every check is refused `face_not_checked`, and no
    // offline code is made for airport or rail), and so paper first where it is allowed.
    for purpose in [
        "hotel_check_in",
        "bank_account_opening",
        "airport_security",
        "rail_ticketing",
    ] {
        ok(&[
            "trust",
            "set-paper",
            "--list",
            &list,
            "--purpose",
            purpose,
            "--allowed",
            "false",
        ]);
        ok(&[
            "trust",
            "set-face-match",
            "--list",
            &list,
            "--purpose",
            purpose,
            "--required",
            "false",
        ]);
    }
    ok(&[
        "trust",
        "sign",
        "--list",
        &list,
        "--key",
        &p("t/root.key.pem"),
        "--out",
        &p("v1.jwt"),
    ]);
}

/// `eid wallet add` of a credential bound to another key: exit 2, the wallet unchanged.
pub(crate) fn wallet_refuses_another_phones_credential(dir: &Path, credential: &str) {
    let wallet = dir.join("phone");
    let list = || eid(&["wallet", "list", "--dir", wallet.to_str().unwrap()]).stdout;
    let before = list();
    let out = eid(&[
        "wallet",
        "add",
        "--dir",
        wallet.to_str().unwrap(),
        "--credential",
        credential,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bound to another device key"));
    assert_eq!(list(), before);
}

/// `two_cities_and_a_phone`, with Nanning's mdoc in the phone's wallet; its status list URI.
pub(crate) fn phone_with_an_mdoc(dir: &Path, pin: &str) -> &'static str {
    two_cities_and_a_phone(dir, pin);
    let phone = dir.join("phone");
    issue_mdoc(
        dir,
        &dir.join("phone/device.pub.pem").display().to_string(),
        "cred.cbor",
    );
    wallet_eid(
        &[
            "wallet",
            "add",
            "--dir",
            phone.to_str().unwrap(),
            "--credential",
            dir.join("cred.cbor").to_str().unwrap(),
        ],
        pin,
    );
    "https://nanning.eid.example/status/0"
}

/// Nanning's mdoc for the holder key `holder` (status entry 5 of
/// `https://nanning.eid.example/status/0`), written to `out` in `dir`.
pub(crate) fn issue_mdoc(dir: &Path, holder: &str, out: &str) {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    std::fs::write(
        dir.join("claims.json"),
        r#"{"cn.eid.resident.1":{"family_name":"韦","given_name":"秀兰","document_number":"450102199003071244","birth_date":"1990-03-07"},"cn.eid.wallet.1":{"provider":"superapp-a"}}"#,
    )
    .unwrap();
    wallet_eid(
        &[
            "credential",
            "issue",
            "--format",
            "mso_mdoc",
            "--pki",
            &p("nn"),
            "--holder",
            holder,
            "--claims",
            &p("claims.json"),
            "--status-uri",
            "https://nanning.eid.example/status/0",
            "--status-index",
            "5",
            "--out",
            &p(out),
        ],
        "",
    );
}

/// Nanning's 2-bit status list at `uri` with one entry `set` (`9=valid`), into `file`.
pub(crate) fn nanning_status_list(dir: &Path, uri: &str, set: &str, file: &str) {
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    wallet_eid(
        &[
            "status-list",
            "create",
            "--bits",
            "2",
            "--size",
            "1024",
            "--set",
            set,
            "--pki",
            &p("nn"),
            "--uri",
            uri,
            "--out",
            &p(file),
        ],
        "",
    );
}

/// Two terminals play phone and desk: `eid wallet present --in-person` prints the
/// engagement QR code and its text, `eid verify --engagement` completes the exchange and
/// prints the verdict; then the same with the credential suspended in the desk's list.
#[test]
fn two_terminals_play_phone_and_desk_in_person() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = scratch("in-person");
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let pin = "246810";
    let ok = |args: &[&str]| wallet_eid(args, pin);
    let uri = phone_with_an_mdoc(&dir, pin);
    // A credential bound to another key is refused, and the wallet keeps what it had.
    ok(&[
        "keys",
        "generate",
        "--out",
        &p("other.pem"),
        "--public",
        &p("other.pub"),
    ]);
    issue_mdoc(&dir, &p("other.pub"), "other.cbor");
    wallet_refuses_another_phones_credential(&dir, &p("other.cbor"));

    for (status, accepted, file) in [
        ("5=valid", true, "valid.jwt"),
        ("5=suspended", false, "suspended.jwt"),
    ] {
        nanning_status_list(&dir, uri, status, file);
        let mut phone = Command::new(env!("CARGO_BIN_EXE_eid"))
            .args([
                "wallet",
                "present",
                "--in-person",
                "--dir",
                &p("phone"),
                "--trust-list",
                &p("v1.jwt"),
                "--trust-jwk",
                &p("t/root.jwk"),
                "--yes",
            ])
            .env("EID_WALLET_PIN", pin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(phone.stdout.take().unwrap()).lines();
        let engagement = lines
            .by_ref()
            .map(Result::unwrap)
            .find(|line| line.starts_with("mdoc:"))
            .unwrap();
        let desk = eid(&[
            "verify",
            "--engagement",
            &engagement,
            "--purpose",
            "hotel_check_in",
            "--relying-party",
            "nanning-hotel",
            "--reader-key",
            &p("hotel/reader.key.pem"),
            "--reader-certificate",
            &p("hotel/reader.pem"),
            "--trust-list",
            &p("v1.jwt"),
            "--trust-jwk",
            &p("t/root.jwk"),
            "--status-list",
            &p(file),
        ]);
        let report: serde_json::Value = serde_json::from_slice(&desk.stdout).unwrap();
        let rest: Vec<String> = lines.map(Result::unwrap).collect();
        let phone = phone.wait_with_output().unwrap();
        assert!(
            phone.status.success(),
            "phone: {rest:?} {}\ndesk: {report}",
            String::from_utf8_lossy(&phone.stderr)
        );
        assert!(
            rest[0].starts_with(
                "南宁民族大道酒店 (nanning-hotel, region 450102) asks, for Hotel check-in"
            ),
            "{rest:?}"
        );
        assert_eq!(rest[1], "Shared with nanning-hotel.");
        assert_eq!(report["accepted"], accepted, "{report}");
        if accepted {
            assert_eq!(desk.status.code(), Some(0));
            assert_eq!(report["attributes"]["family_name"], "韦");
            assert_eq!(report["wallet_provider"], "superapp-a");
        } else {
            assert_eq!(desk.status.code(), Some(1));
            assert_eq!(report["reasons"][0]["reason"], "status_suspended");
            assert!(report["attributes"].as_object().unwrap().is_empty());
        }
    }
}

/// The offline QR at the airport: Nanning issues the phone a compact credential for
/// airport security, the phone prints its code (terminal QR and base64url text, and the
/// bytes to a file as a scanner would deliver them), the airport's scanner desk accepts it;
/// with the credential suspended in the desk's status list, refused; a code for another
/// phone's key is refused by the wallet, which keeps what it had.
#[test]
fn the_airport_scanner_accepts_the_phones_offline_qr() {
    let dir = scratch("offline-qr");
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let pin = "246810";
    let ok = |args: &[&str]| wallet_eid(args, pin);
    two_cities_and_a_phone(&dir, pin);
    std::fs::write(
        dir.join("airport.json"),
        r#"{"family_name":"韦","given_name":"秀兰","document_number":"450102199003071244","portrait":"/9j/4AAQ"}"#,
    )
    .unwrap();
    let uri = "https://nanning.eid.example/status/0";
    let issue = |holder: &str, out: &str| {
        ok(&[
            "credential",
            "issue-offline",
            "--pki",
            &p("nn"),
            "--holder",
            holder,
            "--claims",
            &p("airport.json"),
            "--purpose",
            "airport_security",
            "--provider",
            "superapp-a",
            "--status-uri",
            uri,
            "--status-index",
            "9",
            "--out",
            out,
        ])
    };
    issue(&p("phone/device.pub.pem"), &p("airport.cbor"));
    let added = ok(&[
        "wallet",
        "add",
        "--dir",
        &p("phone"),
        "--credential",
        &p("airport.cbor"),
    ]);
    assert!(String::from_utf8_lossy(&added.stdout).contains("airport_security"));
    ok(&[
        "keys",
        "generate",
        "--out",
        &p("b.pem"),
        "--public",
        &p("b.pub"),
    ]);
    issue(&p("b.pub"), &p("other.cbor"));
    wallet_refuses_another_phones_credential(&dir, &p("other.cbor"));

    for (status, accepted, file) in [
        ("9=valid", true, "valid.jwt"),
        ("9=suspended", false, "suspended.jwt"),
    ] {
        nanning_status_list(&dir, uri, status, file);
        let phone = ok(&[
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
        let printed = String::from_utf8_lossy(&phone.stdout).into_owned();
        assert!(printed.contains("QR version"), "{printed}");
        let text = printed.lines().last().unwrap().to_owned();
        let code = std::fs::read(dir.join("code.bin")).unwrap();
        assert!(code.len() <= 412, "{} bytes", code.len());
        for given in [
            ["--offline-qr", text.as_str()],
            ["--offline-qr-file", &p("code.bin")],
        ] {
            let desk = eid(&[
                "verify",
                given[0],
                given[1],
                "--purpose",
                "airport_security",
                "--relying-party",
                "nanning-airport",
                "--trust-list",
                &p("v1.jwt"),
                "--trust-jwk",
                &p("t/root.jwk"),
                "--status-list",
                &p(file),
            ]);
            let report: serde_json::Value = serde_json::from_slice(&desk.stdout)
                .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&desk.stderr)));
            assert_eq!(report["accepted"], accepted, "{report}");
            assert_eq!(report["channel"], "offline_qr");
            if accepted {
                assert_eq!(desk.status.code(), Some(0));
                assert_eq!(
                    report["attributes"]["document_number"],
                    "450102199003071244"
                );
                assert!(report["attributes"]["portrait_sha256"].is_string());
            } else {
                assert_eq!(desk.status.code(), Some(1));
                assert_eq!(report["reasons"][0]["reason"], "status_suspended");
            }
        }
    }
}
