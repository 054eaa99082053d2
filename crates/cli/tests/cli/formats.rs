//! Reference data and the credential formats from the command line: usage, help, the
//! identity number, regions, SD-JWT VC, mdoc, status lists. The PKI is in `pki.rs`.

use super::*;

#[test]
fn usage_and_io_errors_exit_2_with_a_message() {
    let out = eid(&["registry", "validate", "/nonexistent/registry.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not open"));
    let out = eid(&[
        "registry",
        "generate",
        "--count",
        "1",
        "--out",
        "/tmp/x",
        "--as-of",
        "23.11.2026",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
    let out = eid(&[
        "registry",
        "generate",
        "--count",
        "1",
        "--out",
        "/nonexistent/dir/p.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not create"));
}

#[test]
fn help_is_grouped_by_role_and_version_prints() {
    let out = eid(&["--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Authority:"), "{help}");
    assert!(
        help.contains("national mobile electronic identity"),
        "{help}"
    );
    let out = eid(&["--version"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("eid {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn id_number_check_prints_only_the_masked_form() {
    let out = eid(&["id-number", "check", "11010519491231002X"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("110105********002X") && !text.contains("19491231"),
        "{text}"
    );
    let out = eid(&["id-number", "check", "110105194912310021"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("check character")
    );
}

#[test]
fn region_contains_exits_by_answer() {
    assert_eq!(
        eid(&["region", "contains", "4501", "450102"]).status.code(),
        Some(0)
    );
    assert_eq!(
        eid(&["region", "contains", "33", "450102"]).status.code(),
        Some(1)
    );
    let out = eid(&["region", "contains", "4599", "450102"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a GB/T 2260"));
}

#[test]
fn sd_jwt_round_trip_says_exactly_why_when_one_thing_changes() {
    let dir = scratch("sdjwt");
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    assert!(eid(&["pki", "init", "--out", &p("pki")]).status.success());
    assert!(
        eid(&[
            "keys",
            "generate",
            "--out",
            &p("h.pem"),
            "--public",
            &p("h.pub.pem")
        ])
        .status
        .success()
    );
    std::fs::write(
        dir.join("claims.json"),
        r#"{"family_name":"王","given_name":"秀英","age_over_18":true,"resident_region":"450102"}"#,
    )
    .unwrap();
    let out = eid(&[
        "credential",
        "issue",
        "--format",
        "dc+sd-jwt",
        "--pki",
        &p("pki"),
        "--holder",
        &p("h.pub.pem"),
        "--claims",
        &p("claims.json"),
        "--valid-for",
        "30d",
        "--out",
        &p("cred.txt"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = eid(&[
        "credential",
        "present",
        "--format",
        "dc+sd-jwt",
        "--credential",
        &p("cred.txt"),
        "--holder-key",
        &p("h.pem"),
        "--disclose",
        "age_over_18",
        "--aud",
        "hotel",
        "--nonce",
        "n1",
        "--out",
        &p("pres.txt"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trust = p("pki/iaca.pem");
    let verify = |file: &str, extra: &[&str]| {
        let mut args = vec![
            "credential",
            "verify",
            "--format",
            "dc+sd-jwt",
            "--trust",
            &trust,
        ];
        args.extend_from_slice(extra);
        args.push(file);
        let out = eid(&args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        (out.status.code(), report)
    };
    let (code, report) = verify(&p("pres.txt"), &["--aud", "hotel", "--nonce", "n1"]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["claims"]["age_over_18"], true);
    assert!(
        report["claims"].get("family_name").is_none(),
        "not disclosed"
    );

    let failed = |report: &serde_json::Value| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["result"] == "failed")
            .map(|c| c["check"].clone())
    };
    // Another nonce.
    let (code, report) = verify(&p("pres.txt"), &["--aud", "hotel", "--nonce", "n2"]);
    assert_eq!(
        (code, failed(&report)),
        (Some(1), Some("key_binding".into())),
        "{report}"
    );
    assert!(report["reason"].as_str().unwrap().contains("nonce"));
    // After the validity.
    let (code, report) = verify(
        &p("pres.txt"),
        &[
            "--aud",
            "hotel",
            "--nonce",
            "n1",
            "--at",
            "2030-01-01T00:00:00Z",
        ],
    );
    assert_eq!(code, Some(1), "{report}");
    // One byte of the disclosed element changed.
    let text = std::fs::read_to_string(dir.join("pres.txt")).unwrap();
    let disclosure = text.split('~').nth(1).unwrap();
    let mut bytes = disclosure.as_bytes().to_vec();
    bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
    std::fs::write(
        dir.join("tampered.txt"),
        text.replacen(disclosure, std::str::from_utf8(&bytes).unwrap(), 1),
    )
    .unwrap();
    let (code, report) = verify(&p("tampered.txt"), &["--aud", "hotel", "--nonce", "n1"]);
    assert_eq!(
        (code, failed(&report)),
        (Some(1), Some("digests".into())),
        "{report}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mdoc_round_trip_says_exactly_why_when_one_thing_changes() {
    let dir = scratch("mdoc");
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    assert!(eid(&["pki", "init", "--out", &p("pki")]).status.success());
    assert!(
        eid(&[
            "keys",
            "generate",
            "--out",
            &p("h.pem"),
            "--public",
            &p("h.pub.pem")
        ])
        .status
        .success()
    );
    std::fs::write(
        dir.join("claims.json"),
        r#"{"cn.eid.resident.1":{"family_name":"Wang","given_name":"Xiuying","birth_date":"1990-03-07","age_over_18":true,"portrait":"/9j/4AAQ"}}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = eid(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "credential",
        "issue",
        "--format",
        "mso_mdoc",
        "--pki",
        &p("pki"),
        "--holder",
        &p("h.pub.pem"),
        "--claims",
        &p("claims.json"),
        "--valid-for",
        "30d",
        "--out",
        &p("cred.cbor"),
    ]);
    for (name, nonce) in [("st1.cbor", "n1"), ("st2.cbor", "n2")] {
        run(&[
            "credential",
            "session-transcript",
            "--oid4vp",
            "--client-id",
            "x509_hash:bank",
            "--nonce",
            nonce,
            "--response-uri",
            "https://bank.example.cn/r",
            "--out",
            &p(name),
        ]);
    }
    run(&[
        "credential",
        "present",
        "--format",
        "mso_mdoc",
        "--credential",
        &p("cred.cbor"),
        "--holder-key",
        &p("h.pem"),
        "--disclose",
        "given_name,age_over_18",
        "--session-transcript",
        &p("st1.cbor"),
        "--out",
        &p("resp.cbor"),
    ]);
    let trust = p("pki/iaca.pem");
    let verify = |file: &str, extra: &[&str]| {
        let mut args = vec![
            "credential",
            "verify",
            "--format",
            "mso_mdoc",
            "--trust",
            &trust,
        ];
        args.extend_from_slice(extra);
        args.push(file);
        let out = eid(&args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let failed = report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["result"] == "failed"))
            .map(|c| c["check"].as_str().unwrap().to_owned());
        (out.status.code(), failed, report)
    };
    let st1 = p("st1.cbor");
    let (code, _, report) = verify(&p("resp.cbor"), &["--session-transcript", &st1]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        report["claims"]["cn.eid.resident.1"]["given_name"],
        "Xiuying"
    );
    assert!(
        report["claims"]["cn.eid.resident.1"]
            .get("birth_date")
            .is_none(),
        "not disclosed"
    );

    // Another transcript (nonce n2).
    let (code, failed, _) = verify(&p("resp.cbor"), &["--session-transcript", &p("st2.cbor")]);
    assert_eq!((code, failed.as_deref()), (Some(1), Some("device_auth")));
    // After the validity.
    let (code, failed, _) = verify(
        &p("resp.cbor"),
        &["--session-transcript", &st1, "--at", "2027-06-01T00:00:00Z"],
    );
    assert_eq!(code, Some(1));
    assert!(
        matches!(failed.as_deref(), Some("validity" | "issuer_trust")),
        "{failed:?}"
    );
    // One byte of a disclosed element.
    let mut bytes = std::fs::read(dir.join("resp.cbor")).unwrap();
    let at = bytes.windows(7).position(|w| w == b"Xiuying").unwrap();
    bytes[at] = b'Y';
    std::fs::write(dir.join("tampered.cbor"), bytes).unwrap();
    let (code, failed, report) = verify(&p("tampered.cbor"), &["--session-transcript", &st1]);
    assert_eq!(
        (code, failed.as_deref()),
        (Some(1), Some("digests")),
        "{report}"
    );
    assert!(report["reason"].as_str().unwrap().contains("given_name"));
    // A present without a transcript is refused with a clear message.
    let out = eid(&[
        "credential",
        "present",
        "--format",
        "mso_mdoc",
        "--credential",
        &p("cred.cbor"),
        "--holder-key",
        &p("h.pem"),
        "--disclose",
        "age_over_18",
        "--out",
        &p("x.cbor"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--session-transcript"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn status_list_create_and_read_in_both_forms() {
    let dir = scratch("status");
    let pki = dir.join("pki");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    assert!(eid(&["pki", "init", "--out", &p(&pki)]).status.success());
    let uri = "https://eid.example.cn/status/4501/0";
    for form in ["jwt", "cwt"] {
        let out = dir.join(format!("list.{form}"));
        let made = eid(&[
            "status-list",
            "create",
            "--bits",
            "2",
            "--size",
            "131072",
            "--set",
            "3=suspended,9=invalid,10=1",
            "--pki",
            &p(&pki),
            "--uri",
            uri,
            "--format",
            form,
            "--ttl",
            "300",
            "--out",
            &p(&out),
        ]);
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let read = eid(&[
            "status-list",
            "read",
            &p(&out),
            "--trust",
            &p(&pki.join("iaca.pem")),
            "--uri",
            uri,
            "--index",
            "3,4,9,10",
        ]);
        assert!(
            read.status.success(),
            "{}",
            String::from_utf8_lossy(&read.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
        let statuses: Vec<u64> = report["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_u64().unwrap())
            .collect();
        assert_eq!(statuses, [2, 0, 1, 1], "{form}");
        assert_eq!(report["format"], form);
        assert_eq!(report["ttl"], 300);
        // Fetched from another URI: refused, exit 1, with the reason.
        let wrong = eid(&[
            "status-list",
            "read",
            &p(&out),
            "--trust",
            &p(&pki.join("iaca.pem")),
            "--uri",
            "https://eid.example.cn/status/4501/1",
            "--index",
            "3",
        ]);
        assert_eq!(wrong.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&wrong.stdout)
                .contains("is for https://eid.example.cn/status/4501/0")
        );
    }
    // Bad input: a clear message, exit 2, nothing written.
    let bad = dir.join("bad.jwt");
    for (set, says) in [
        ("3=revoked", "is not a status"),
        ("3", "INDEX=STATUS"),
        ("999999=1", "outside the list"),
        ("3=7", "does not fit in 2 bits"),
    ] {
        let out = eid(&[
            "status-list",
            "create",
            "--bits",
            "2",
            "--size",
            "16",
            "--set",
            set,
            "--pki",
            &p(&pki),
            "--uri",
            uri,
            "--out",
            &p(&bad),
        ]);
        assert_eq!(out.status.code(), Some(2), "{set}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{set}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!bad.exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
