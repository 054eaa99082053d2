//! Reference data, keys and the credential formats from the command line: usage, help, the
//! identity number, regions, the PKI, SD-JWT VC, mdoc, status lists.

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

/// The operator's path to an SM2 authority: `pki init --algorithm sm2`, a successor under
/// the same root (SM2 too), `pki verify`, and the trust list naming the issuer SM2SM3 from
/// its root; a P-256 issuer's entry refuses the SM2 offline key.
#[test]
fn an_sm2_pki_is_made_rolled_and_listed_as_sm2() {
    let dir = scratch("sm2-pki");
    let p = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let ok = |out: Output| {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    ok(eid(&[
        "pki",
        "init",
        "--out",
        &p("sm2"),
        "--algorithm",
        "sm2",
    ]));
    ok(eid(&[
        "pki",
        "successor",
        "--pki",
        &p("sm2"),
        "--name",
        "ds-2",
    ]));
    for name in ["ds.jwk", "ds-2.jwk"] {
        let jwk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("sm2").join(name)).unwrap()).unwrap();
        assert_eq!(
            (jwk["crv"].as_str(), jwk["alg"].as_str()),
            (Some("SM2"), Some("SM2SM3"))
        );
    }
    for ds in ["sm2/ds.pem", "sm2/ds-2.pem"] {
        ok(eid(&[
            "pki",
            "verify",
            "--trust",
            &p("sm2/iaca.pem"),
            &p(ds),
        ]));
    }
    ok(eid(&["pki", "init", "--out", &p("p256")]));
    // A P-256 DS under the SM2 root does not verify.
    let out = eid(&[
        "pki",
        "verify",
        "--trust",
        &p("sm2/iaca.pem"),
        &p("p256/ds.pem"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    ok(eid(&["trust", "init", "--out", &p("t")]));
    ok(eid(&[
        "trust",
        "add-issuer",
        "--list",
        &p("t/trust.json"),
        "--id",
        "cn-4501",
        "--name",
        "南宁",
        "--iaca",
        &p("sm2/iaca.pem"),
        "--offline-key",
        &p("sm2/ds.jwk"),
        "--offline-key",
        &p("sm2/ds-2.jwk"),
    ]));
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("t/trust.json")).unwrap()).unwrap();
    assert_eq!(list["issuers"][0]["algorithm"], "SM2SM3");
    assert_eq!(
        list["issuers"][0]["offline_keys"].as_array().unwrap().len(),
        2
    );
    let out = eid(&[
        "trust",
        "add-issuer",
        "--list",
        &p("t/trust.json"),
        "--id",
        "cn-3301",
        "--name",
        "杭州",
        "--iaca",
        &p("p256/iaca.pem"),
        "--offline-key",
        &p("sm2/ds.jwk"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("offline key of cn-3301 (its keys are ES256)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn pki_successor_certifies_the_next_document_signer_under_the_same_iaca() {
    let dir = scratch("successor");
    let pki = dir.join("pki");
    let p = |n: &str| pki.join(n).to_str().unwrap().to_owned();
    assert!(eid(&["pki", "init", "--out", &p("")]).status.success());
    let successor = |extra: &[&str]| {
        let mut args = vec!["pki", "successor", "--pki", pki.to_str().unwrap()];
        args.extend_from_slice(extra);
        eid(&args)
    };
    // Now, for a year: valid under the IACA at once, with its key and JWK beside it.
    let out = successor(&["--name", "ds-2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(printed["next"].as_str().unwrap().contains("[[successors]]"));
    for name in ["ds-2.pem", "ds-2.key.pem", "ds-2.jwk"] {
        assert!(pki.join(name).exists(), "{name}");
    }
    let out = eid(&["pki", "verify", "--trust", &p("iaca.pem"), &p("ds-2.pem")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // One that begins in 300 days is not valid yet, and says so.
    let in_days = |days| {
        (eid_core::Clock::now(&eid_core::SystemClock) + time::Duration::days(days))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let later = in_days(300);
    let out = successor(&["--name", "ds-3", "--from", &later]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = eid(&["pki", "verify", "--trust", &p("iaca.pem"), &p("ds-3.pem")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    // A key kept in an HSM: its public key certified, no private key written.
    assert!(
        eid(&[
            "keys",
            "generate",
            "--out",
            &p("hsm.pem"),
            "--public",
            &p("hsm.pub.pem")
        ])
        .status
        .success()
    );
    let out = successor(&["--name", "ds-hsm", "--public-key", &p("hsm.pub.pem")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(pki.join("ds-hsm.pem").exists() && !pki.join("ds-hsm.key.pem").exists());
    // Refused, writing nothing: the same name again, a bad name or time, too long a life,
    // and a successor outliving its IACA.
    let before = std::fs::read(pki.join("ds-2.key.pem")).unwrap();
    let late = in_days(3500);
    for (args, says) in [
        (vec!["--name", "ds-2"], "--force"),
        (vec!["--name", "../ds"], "--name"),
        (vec!["--name", "ds-4", "--from", "tomorrow"], "RFC 3339"),
        (vec!["--name", "ds-5", "--days", "500"], "457"),
        (
            // The IACA of `pki init` lives 3650 days.
            vec!["--name", "ds-6", "--from", late.as_str()],
            "roll the IACA over first",
        ),
    ] {
        let out = successor(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // No life at all; a stale key file beside an HSM key's certificate.
    let out = successor(&["--name", "ds-7", "--days", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--days"));
    std::fs::write(pki.join("ds-8.key.pem"), "old").unwrap();
    let out = successor(&["--name", "ds-8", "--public-key", &p("hsm.pub.pem")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ds-8.key.pem"));
    // An iaca.key.pem that is not the IACA's: the certificate would verify nowhere.
    let iaca_key = std::fs::read(pki.join("iaca.key.pem")).unwrap();
    std::fs::copy(pki.join("hsm.pem"), pki.join("iaca.key.pem")).unwrap();
    let out = successor(&["--name", "ds-9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(pki.join("iaca.key.pem"), iaca_key).unwrap();
    assert_eq!(std::fs::read(pki.join("ds-2.key.pem")).unwrap(), before);
    for name in [
        "ds-4.pem", "ds-5.pem", "ds-6.pem", "ds-7.pem", "ds-8.pem", "ds-9.pem",
    ] {
        assert!(!pki.join(name).exists(), "{name}");
    }
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
