//! The `eid` binary as a user drives it.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn eid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eid-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn generate(out: &Path, seed: &str) -> Output {
    eid(&[
        "registry",
        "generate",
        "--count",
        "20000",
        "--seed",
        seed,
        "--as-of",
        "2026-11-23",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn generate_is_deterministic_and_every_record_validates() {
    let dir = scratch("generate");
    let (a, b, c) = (
        dir.join("a.jsonl"),
        dir.join("b.jsonl"),
        dir.join("c.jsonl"),
    );
    assert!(generate(&a, "7").status.success());
    assert!(generate(&b, "7").status.success());
    assert!(generate(&c, "8").status.success());
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 20_000);
    assert_eq!(
        bytes,
        std::fs::read(&b).unwrap(),
        "same seed, different files"
    );
    assert_ne!(bytes, std::fs::read(&c).unwrap(), "other seed, same file");
    assert!(!dir.join("a.partial").exists());

    let out = eid(&[
        "registry",
        "validate",
        "--as-of",
        "2026-11-23",
        a.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], 20_000);

    // One changed digit in one number: that record fails, the exit code says so.
    let text = String::from_utf8(bytes).unwrap();
    let first = text.lines().next().unwrap();
    let number = &first[first.find("\"id_number\":\"").unwrap() + 13..][..18];
    let digit = number.as_bytes()[10];
    let other = if digit == b'0' { "1" } else { "0" };
    let tampered = format!("{}{}{}", &number[..10], other, &number[11..]);
    std::fs::write(&b, text.replacen(number, &tampered, 1)).unwrap();
    let out = eid(&[
        "registry",
        "validate",
        "--as-of",
        "2026-11-23",
        b.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["invalid"], 1);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&tampered));
    std::fs::remove_dir_all(dir).unwrap();
}

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
fn pki_init_verify_and_keys_generate() {
    let dir = scratch("pki");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for d in [&a, &b] {
        let out = eid(&["pki", "init", "--out", d.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for name in ["iaca.pem", "iaca.key.pem", "ds.pem", "ds.key.pem", "ds.jwk"] {
        assert!(a.join(name).exists(), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(a.join("ds.key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "private keys are readable by their owner only"
        );
    }
    let path = |d: &Path, n: &str| d.join(n).to_str().unwrap().to_owned();
    let out = eid(&[
        "pki",
        "verify",
        "--trust",
        &path(&a, "iaca.pem"),
        &path(&a, "ds.pem"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // b's DS was not issued by a's root.
    let out = eid(&[
        "pki",
        "verify",
        "--trust",
        &path(&a, "iaca.pem"),
        &path(&b, "ds.pem"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    // Both roots carry the same name: the signature is what tells them apart.
    assert!(String::from_utf8_lossy(&out.stdout).contains("signature does not verify"));
    // Either root of a list will do.
    let trust = format!("{},{}", path(&b, "iaca.pem"), path(&a, "iaca.pem"));
    assert_eq!(
        eid(&["pki", "verify", "--trust", &trust, &path(&a, "ds.pem")])
            .status
            .code(),
        Some(0)
    );

    // A second init into the same folder is refused and changes nothing.
    let before = std::fs::read(a.join("ds.key.pem")).unwrap();
    std::fs::remove_file(a.join("iaca.pem")).unwrap();
    let out = eid(&["pki", "init", "--out", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert!(!a.join("iaca.pem").exists(), "nothing was written");
    assert_eq!(std::fs::read(a.join("ds.key.pem")).unwrap(), before);

    let out = eid(&[
        "keys",
        "generate",
        "--out",
        &path(&dir, "h.pem"),
        "--public",
        &path(&dir, "h.pub.pem"),
        "--jwk",
        &path(&dir, "h.jwk"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let jwk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("h.jwk")).unwrap()).unwrap();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert!(
        std::fs::read_to_string(dir.join("h.pem"))
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(dir.join("h.pub.pem"))
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    std::fs::remove_dir_all(dir).unwrap();
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

#[test]
fn trust_list_built_signed_and_shown_from_the_command_line() {
    let dir = scratch("trust");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let ok = |args: &[&str]| {
        let out = eid(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let (t, list) = (dir.join("t"), dir.join("t/trust.json"));
    ok(&["trust", "init", "--out", &p(&t)]);
    ok(&["pki", "init", "--out", &p(&dir.join("nn"))]);
    ok(&[
        "keys",
        "generate",
        "--out",
        &p(&dir.join("w.pem")),
        "--public",
        &p(&dir.join("w.pub")),
        "--jwk",
        &p(&dir.join("w.jwk")),
    ]);
    ok(&[
        "trust",
        "add-issuer",
        "--list",
        &p(&list),
        "--id",
        "cn-4501",
        "--name",
        "南宁市公安局",
        "--iaca",
        &p(&dir.join("nn/iaca.pem")),
    ]);
    ok(&[
        "trust",
        "set-scope",
        "--list",
        &p(&list),
        "--issuer",
        "cn-4501",
        "--region",
        "4501",
        "--purposes",
        "all",
    ]);
    ok(&[
        "trust",
        "add-provider",
        "--list",
        &p(&list),
        "--id",
        "superapp-a",
        "--name",
        "Super-app A",
        "--key",
        &p(&dir.join("w.jwk")),
    ]);
    ok(&[
        "trust",
        "add-rp",
        "--list",
        &p(&list),
        "--id",
        "hotel-330106-0001",
        "--name",
        "杭州西湖酒店",
        "--region",
        "330106",
        "--purpose",
        "hotel_check_in",
        "--purpose",
        "age_check:age_over_18",
    ]);

    // Refused changes say why, exit 2, and leave the draft as it was.
    let before = std::fs::read(&list).unwrap();
    for (args, says) in [
        (
            vec!["--purpose", "age_check:birth_date"],
            "not allowed for the purpose age_check",
        ),
        (vec!["--purpose", "karaoke"], "is not a purpose"),
        (
            vec!["--purpose", "welfare", "--region", "999999"],
            "not a known county code",
        ),
        (
            vec!["--purpose", "hotel_check_in:family_name,given_name"],
            "hotel_check_in requires a face match, but the registration of x does not ask for the portrait",
        ),
    ] {
        let mut full = vec![
            "trust",
            "add-rp",
            "--list",
            list.to_str().unwrap(),
            "--id",
            "x",
            "--name",
            "x",
        ];
        if !args.contains(&"--region") {
            full.extend(["--region", "450102"]);
        }
        full.extend(args.iter().copied());
        let out = eid(&full);
        assert_eq!(out.status.code(), Some(2), "{full:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(&list).unwrap(), before);
    }
    // Whether a purpose requires the face: welfare does not see the portrait, so it cannot
    // (refused, the draft unchanged); the operator may require it for age checks no more
    // than for welfare; and turning rail's off and on again leaves the draft as it was.
    for purpose in ["welfare", "age_check"] {
        let out = eid(&[
            "trust",
            "set-face-match",
            "--list",
            &p(&list),
            "--purpose",
            purpose,
            "--required",
            "true",
        ]);
        assert_eq!(out.status.code(), Some(2));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains(&format!("cannot require a face match for {purpose}"))
                && said.contains("does not ask for the portrait"),
            "{said}"
        );
        assert_eq!(std::fs::read(&list).unwrap(), before);
    }
    for required in ["false", "true"] {
        ok(&[
            "trust",
            "set-face-match",
            "--list",
            &p(&list),
            "--purpose",
            "rail_ticketing",
            "--required",
            required,
        ]);
    }
    assert_eq!(std::fs::read(&list).unwrap(), before);

    let v1 = dir.join("v1.jwt");
    ok(&[
        "trust",
        "sign",
        "--list",
        &p(&list),
        "--key",
        &p(&t.join("root.key.pem")),
        "--out",
        &p(&v1),
    ]);
    let shown = ok(&[
        "trust",
        "show",
        &p(&v1),
        "--trust-jwk",
        &p(&t.join("root.jwk")),
    ]);
    let text = String::from_utf8(shown.stdout).unwrap();
    for line in [
        "National trust list, version 1 — signature verified",
        "cn-4501 — 南宁市公安局",
        "accepted in 4501 广西壮族自治区南宁市 for hotel_check_in",
        "superapp-a — Super-app A: active",
        "hotel-330106-0001 — 杭州西湖酒店 in 330106 浙江省杭州市西湖区",
        "age_check: age_over_18",
        "airport_security — Airport security check; status at most 15 min old; the face must match",
        "welfare — Welfare benefits; status at most 24 h old\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    // A Nanning credential, presented to the Hangzhou hotel under version 1: rejected with
    // the reason naming issuer, region and purpose.
    std::fs::write(
        dir.join("claims.json"),
        r#"{"family_name":"韦","given_name":"秀兰","document_number":"450102199003071244","wallet_provider":"superapp-a"}"#,
    )
    .unwrap();
    let status_uri = "https://eid.example.cn/status/4501/0";
    ok(&[
        "credential",
        "issue",
        "--format",
        "dc+sd-jwt",
        "--pki",
        &p(&dir.join("nn")),
        "--holder",
        &p(&dir.join("w.pub")),
        "--claims",
        &p(&dir.join("claims.json")),
        "--status-uri",
        status_uri,
        "--status-index",
        "77",
        "--out",
        &p(&dir.join("cred.txt")),
    ]);
    ok(&[
        "status-list",
        "create",
        "--bits",
        "2",
        "--size",
        "131072",
        "--pki",
        &p(&dir.join("nn")),
        "--uri",
        status_uri,
        "--out",
        &p(&dir.join("status.jwt")),
    ]);
    ok(&[
        "credential",
        "present",
        "--format",
        "dc+sd-jwt",
        "--credential",
        &p(&dir.join("cred.txt")),
        "--holder-key",
        &p(&dir.join("w.pem")),
        "--disclose",
        "family_name,given_name,document_number",
        "--aud",
        "hotel-330106-0001",
        "--nonce",
        "n-1",
        "--out",
        &p(&dir.join("pres.txt")),
    ]);
    let check = |list: &Path| {
        eid(&[
            "trust",
            "check",
            &p(&dir.join("pres.txt")),
            "--trust-list",
            &p(list),
            "--trust-jwk",
            &p(&t.join("root.jwk")),
            "--relying-party",
            "hotel-330106-0001",
            "--purpose",
            "hotel_check_in",
            "--status-list",
            &p(&dir.join("status.jwt")),
            "--nonce",
            "n-1",
        ])
    };
    let out = check(&v1);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["reasons"][0]["reason"], "issuer_not_authorised",
        "{report}"
    );
    assert_eq!(report["reasons"][0]["region"], "330106");
    assert_eq!(report["reasons"].as_array().unwrap().len(), 1, "{report}");

    // Version 2 widens the scope; the draft follows the versions signed.
    ok(&[
        "trust",
        "set-scope",
        "--list",
        &p(&list),
        "--issuer",
        "cn-4501",
        "--region",
        "nation",
        "--purposes",
        "hotel_check_in",
        "--add",
    ]);
    let v2 = dir.join("v2.jwt");
    ok(&[
        "trust",
        "sign",
        "--list",
        &p(&list),
        "--key",
        &p(&t.join("root.key.pem")),
        "--out",
        &p(&v2),
    ]);
    let text = String::from_utf8(
        ok(&[
            "trust",
            "show",
            &p(&v2),
            "--trust-jwk",
            &p(&t.join("root.jwk")),
        ])
        .stdout,
    )
    .unwrap();
    assert!(
        text.contains("version 2")
            && text.contains("accepted in the whole nation for hotel_check_in"),
        "{text}"
    );
    // The same presentation, nothing reissued, is accepted under version 2.
    let out = check(&v2);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Another root, or a changed byte: exit 1 with the reason.
    let other = dir.join("o");
    ok(&["trust", "init", "--out", &p(&other)]);
    let out = eid(&[
        "trust",
        "show",
        &p(&v2),
        "--trust-jwk",
        &p(&other.join("root.jwk")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not signed by a trusted national root key")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn registry_import_is_idempotent_and_stops_at_a_bad_line_keeping_what_came_before() {
    let dir = scratch("import");
    let file = dir.join("p.jsonl");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let db = format!("sqlite:{}", p(&dir.join("store/eid.db")));
    assert!(
        eid(&[
            "registry",
            "generate",
            "--count",
            "700",
            "--seed",
            "9",
            "--as-of",
            "2026-11-23",
            "--quiet",
            "--out",
            &p(&file)
        ])
        .status
        .success()
    );
    let import = |path: &Path| {
        eid(&[
            "registry",
            "import",
            &p(path),
            "--quiet",
            "--batch",
            "300",
            "--database",
            &db,
        ])
    };
    let report =
        |out: &Output| -> serde_json::Value { serde_json::from_slice(&out.stdout).unwrap() };
    let first = import(&file);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(report(&first)["new_or_changed"], 700);
    let again = import(&file);
    assert_eq!(report(&again)["new_or_changed"], 0);
    assert_eq!(report(&again)["residents_in_store"], 700);

    // A bad line: exit 2, its number in the message, no record content, earlier lines kept.
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let other = dir.join("other.jsonl");
    std::fs::write(
        &other,
        format!(
            "{}\n{{\"id_number\": \"x\"}}\n{}\n",
            lines[..2].join("\n"),
            lines[2]
        ),
    )
    .unwrap();
    let db2 = format!("sqlite:{}", p(&dir.join("store/other.db")));
    let bad = eid(&[
        "registry",
        "import",
        &p(&other),
        "--quiet",
        "--database",
        &db2,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("line 3 of") && said.contains("the 2 records before it are imported"),
        "{said}"
    );
    let id = &lines[0][14..32];
    assert!(!said.contains(id), "{said}");
    let recount = eid(&[
        "registry",
        "import",
        &p(&other),
        "--quiet",
        "--database",
        &db2,
    ]);
    assert_eq!(recount.status.code(), Some(2));

    // A bad line after two full batches (one of them still being written when the line
    // is read): every record before it is kept.
    let late = dir.join("late.jsonl");
    std::fs::write(
        &late,
        format!("{}\n{{}}\n{}\n", lines[..650].join("\n"), lines[650]),
    )
    .unwrap();
    let db3 = format!("sqlite:{}", p(&dir.join("store/late.db")));
    let import_late = |path: &Path| {
        eid(&[
            "registry",
            "import",
            &p(path),
            "--quiet",
            "--batch",
            "300",
            "--database",
            &db3,
        ])
    };
    let stopped = import_late(&late);
    assert_eq!(stopped.status.code(), Some(2));
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        said.contains("line 651 of") && said.contains("the 650 records"),
        "{said}"
    );
    let kept = dir.join("kept.jsonl");
    std::fs::write(&kept, format!("{}\n", lines[..650].join("\n"))).unwrap();
    let again = import_late(&kept);
    assert_eq!(
        report(&again)["new_or_changed"],
        0,
        "a record before the bad line was lost"
    );
    assert_eq!(report(&again)["residents_in_store"], 650);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One HTTP/1.1 exchange on loopback: the status line and the body.
fn http(address: &str, request: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// What `eid authority serve` needs, made with the command line in `dir`: the PKI, a
/// signed trust list (Nanning with one wallet provider), 20 residents imported into `db`
/// (a URL or a shard map) and `authority.toml` listening on any free ports. Returns the
/// configuration's path and the registry file.
fn authority_files(dir: &Path, db: &str) -> (PathBuf, PathBuf) {
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let ok = |args: &[&str]| {
        let out = eid(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let (t, list) = (dir.join("t"), dir.join("t/trust.json"));
    ok(&["pki", "init", "--out", &p(&dir.join("pki"))]);
    ok(&["trust", "init", "--out", &p(&t)]);
    ok(&[
        "keys",
        "generate",
        "--out",
        &p(&dir.join("w.pem")),
        "--public",
        &p(&dir.join("w.pub")),
        "--jwk",
        &p(&dir.join("w.jwk")),
    ]);
    ok(&[
        "trust",
        "add-issuer",
        "--list",
        &p(&list),
        "--id",
        "cn-4501",
        "--name",
        "南宁市公安局",
        "--iaca",
        &p(&dir.join("pki/iaca.pem")),
    ]);
    ok(&[
        "trust",
        "set-scope",
        "--list",
        &p(&list),
        "--issuer",
        "cn-4501",
        "--region",
        "4501",
        "--purposes",
        "all",
    ]);
    ok(&[
        "trust",
        "add-provider",
        "--list",
        &p(&list),
        "--id",
        "superapp-a",
        "--name",
        "A",
        "--key",
        &p(&dir.join("w.jwk")),
    ]);
    ok(&[
        "trust",
        "sign",
        "--list",
        &p(&list),
        "--key",
        &p(&t.join("root.key.pem")),
        "--out",
        &p(&dir.join("v1.jwt")),
    ]);
    let registry = dir.join("r.jsonl");
    ok(&[
        "registry",
        "generate",
        "--count",
        "20",
        "--seed",
        "5",
        "--quiet",
        "--out",
        &p(&registry),
    ]);
    ok(&[
        "registry",
        "import",
        &p(&registry),
        "--quiet",
        "--database",
        db,
    ]);
    let config = dir.join("authority.toml");
    std::fs::write(
        &config,
        format!(
            r#"issuer_url = "http://127.0.0.1:8080"
public_listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
database_url = "{db}"
trust_list = "{}"
trust_anchors = ["{}"]
[signer]
kind = "file"
key = "{}"
certificates = "{}"
"#,
            p(&dir.join("v1.jwt")),
            p(&t.join("root.jwk")),
            p(&dir.join("pki/ds.key.pem")),
            p(&dir.join("pki/ds.pem")),
        ),
    )
    .unwrap();
    (config, registry)
}

#[test]
fn authority_serves_from_a_configuration_file() {
    let dir = scratch("authority");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let db = format!("sqlite:{}", p(&dir.join("eid.db")));
    let (config, _) = authority_files(&dir, &db);
    let token = "an-admin-token-for-the-test";
    let run = |sub: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_eid"));
        command
            .args(["authority", sub, "--config", &p(&config)])
            .env("EID_AUTHORITY_ADMIN_TOKEN", token);
        command
    };
    // Without the admin token the configuration is refused, saying which setting.
    let out = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(["authority", "check", "--config", &p(&config)])
        .env_remove("EID_AUTHORITY_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin_token"));
    let out = run("check").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (mut child, (public, admin)) = serve_authority(&config, token);
    let (status, body) = http(
        &public,
        "GET /.well-known/openid-credential-issuer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(status.contains("200"), "{status}");
    assert!(
        body.contains("\"credential_issuer\":\"http://127.0.0.1:8080\""),
        "{body}"
    );
    let (status, _) = http(
        &admin,
        "POST /admin/audit HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(status.contains("401"), "{status}");
    let (status, body) = http(
        &admin,
        &format!(
            "GET /admin/audit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(status.contains("200"), "{status} {body}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Starts `eid authority serve --config CONFIG` with the admin token; returns the process
/// and the public and admin listeners' addresses, from the line it prints when ready.
fn serve_authority(config: &Path, token: &str) -> (std::process::Child, (String, String)) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(["authority", "serve", "--config", config.to_str().unwrap()])
        .env("EID_AUTHORITY_ADMIN_TOKEN", token)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let address = |after: &str| {
        line.split(after)
            .nth(1)
            .and_then(|rest| rest.split([',', ' ']).next())
            .unwrap()
            .to_owned()
    };
    let listeners = (
        address("public listener on http://"),
        address("admin listener on http://"),
    );
    (child, listeners)
}

/// One HTTP/1.1 exchange that may fail (the server may be gone): `None` when it did.
fn try_http(address: &str, request: &str) -> Option<(String, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.lines().next()?.to_owned();
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// Two `eid authority serve` processes over one store of two partitions, as two replicas
/// behind a load balancer: counter enrolments through both at once, one replica killed
/// with SIGKILL mid-burst. Every enrolment either acknowledged is redeemed at the
/// survivor, exactly once; nothing the killed one acknowledged is lost.
#[test]
fn a_replica_killed_mid_burst_loses_no_acknowledged_enrolment() {
    let dir = scratch("replicas");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let map = format!(
        "sqlite:{} sqlite:{}",
        p(&dir.join("p0.db")),
        p(&dir.join("p1.db"))
    );
    let (config, registry) = authority_files(&dir, &map);
    let token = "an-admin-token-for-the-test";
    let start = || serve_authority(&config, token);
    let (mut survivor, (public, admin_a)) = start();
    let (mut doomed, (_, admin_b)) = start();
    let residents: Vec<(String, String)> = std::fs::read_to_string(&registry)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["id_number"].as_str().unwrap().to_owned(),
                v["full_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // One enrolment at `admin`: the offer's code and transaction code once acknowledged.
    let enrol = |admin: &str, n: usize| -> Option<Option<(String, String)>> {
        let (number, name) = &residents[n % residents.len()];
        let body = serde_json::json!({"id_number": number, "full_name": name, "officer": "o-1"})
            .to_string();
        let (status, body) = try_http(
            admin,
            &format!(
                "POST /admin/enrolments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )?;
        // A resident the registry refuses (an expired card, say), or an answer cut off by
        // the kill: not acknowledged.
        let body: serde_json::Value = match serde_json::from_str(&body) {
            Ok(body) if status.contains("200") => body,
            _ => return Some(None),
        };
        let offer =
            eid_oid4vc::offer::CredentialOffer::from_uri(body["offer_uri"].as_str()?).ok()?;
        Some(Some((
            offer.grants.pre_authorized_code.code,
            body["tx_code"].as_str()?.to_owned(),
        )))
    };
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let acknowledged_by_b = std::thread::scope(|scope| {
        // The doomed replica takes enrolments until it is gone.
        let at_b = scope.spawn(|| {
            let (mut n, mut ok) = (0, 0);
            while let Some(done) = enrol(&admin_b, 2 * n + 1) {
                ok += usize::from(done.is_some());
                acknowledged.lock().unwrap().extend(done);
                n += 1;
            }
            ok
        });
        let mut n = 0;
        while n < 60 {
            if let Some(done) = enrol(&admin_a, 2 * n).unwrap() {
                acknowledged.lock().unwrap().push(done);
            }
            n += 1;
            if n == 20 {
                // SIGKILL, whatever it was doing — once both have acknowledged some.
                while acknowledged.lock().unwrap().len() < 25 {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                doomed.kill().unwrap();
            }
        }
        at_b.join().unwrap()
    });
    doomed.wait().unwrap();
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        acknowledged_by_b > 0,
        "the killed replica acknowledged no enrolment before it died"
    );
    assert!(
        acknowledged.len() > 40,
        "{} acknowledged",
        acknowledged.len()
    );
    let redeem = |code: &str, tx_code: &str| {
        let form = format!(
            "grant_type={}&pre-authorized_code={code}&tx_code={tx_code}",
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code"
        );
        http(
            &public,
            &format!(
                "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
                form.len()
            ),
        )
    };
    for (code, tx_code) in &acknowledged {
        let (status, body) = redeem(code, tx_code);
        assert!(
            status.contains("200"),
            "an acknowledged offer is lost: {status} {body}"
        );
        let (status, body) = redeem(code, tx_code);
        assert!(
            status.contains("400") && body.contains("invalid_grant"),
            "redeemed twice: {status} {body}"
        );
    }
    survivor.kill().unwrap();
    survivor.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `eid` with the wallet's PIN in the environment; fails the test unless it succeeds.
fn wallet_eid(args: &[&str], pin: &str) -> Output {
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
fn two_cities_and_a_phone(dir: &Path, pin: &str) {
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
    // offline code is made for airport or rail).
    for purpose in [
        "hotel_check_in",
        "bank_account_opening",
        "airport_security",
        "rail_ticketing",
    ] {
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
fn wallet_refuses_another_phones_credential(dir: &Path, credential: &str) {
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
fn phone_with_an_mdoc(dir: &Path, pin: &str) -> &'static str {
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
fn issue_mdoc(dir: &Path, holder: &str, out: &str) {
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
fn nanning_status_list(dir: &Path, uri: &str, set: &str, file: &str) {
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
