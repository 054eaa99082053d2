//! The national trust list built, signed and shown from the command line.

use super::*;

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
    // Rail accepts printed codes: its face match is not waived before paper is refused, and
    // paper goes only where the face must match.
    let face = |required: &str| {
        eid(&[
            "trust",
            "set-face-match",
            "--list",
            &p(&list),
            "--purpose",
            "rail_ticketing",
            "--required",
            required,
        ])
    };
    let paper = |purpose: &str, allowed: &str| {
        eid(&[
            "trust",
            "set-paper",
            "--list",
            &p(&list),
            "--purpose",
            purpose,
            "--allowed",
            allowed,
        ])
    };
    let refused = face("false");
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("cannot waive the face match for rail_ticketing")
            && said.contains("set-paper --purpose rail_ticketing --allowed false"),
        "{said}"
    );
    assert_eq!(std::fs::read(&list).unwrap(), before);
    let refused = paper("welfare", "true");
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("cannot accept printed codes for welfare")
            && said.contains("a printed code binds to no device"),
        "{said}"
    );
    assert_eq!(std::fs::read(&list).unwrap(), before);
    for step in [
        paper("rail_ticketing", "false"),
        face("false"),
        face("true"),
        paper("rail_ticketing", "true"),
    ] {
        assert_eq!(step.status.code(), Some(0), "{step:?}");
    }
    assert_eq!(std::fs::read(&list).unwrap(), before);
    // Welfare offices stop taking a guardian's credential for the resident.
    let delegation = |purpose: &str| {
        eid(&[
            "trust",
            "set-delegation",
            "--list",
            &p(&list),
            "--purpose",
            purpose,
            "--allowed",
            "false",
        ])
    };
    let refused = delegation("pension");
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(std::fs::read(&list).unwrap(), before);
    assert_eq!(delegation("welfare").status.code(), Some(0));

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
        "rail_ticketing — Rail ticketing (real-name ticket check); status at most 1 h old; the face must match; a printed code is accepted; a parent's or guardian's credential for the resident is accepted\n",
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

/// A relying party registered for a pseudonym: the list is signed only once the key its
/// pseudonyms are sealed to is registered, and its desk serves only with the private half
/// of that key.
#[test]
fn a_relying_party_with_a_pseudonym_is_signed_and_served_only_with_its_key() {
    let dir = scratch("pseudonym-key");
    let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        let out = eid(args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |args: &[&str]| {
        let (done, said) = run(args);
        assert!(done, "{args:?}: {said}");
    };
    ok(&["trust", "init", "--out", &p("t")]);
    let list = p("t/trust.json");
    ok(&[
        "trust",
        "add-rp",
        "--list",
        &list,
        "--id",
        "bank-450103",
        "--name",
        "南宁银行",
        "--region",
        "450103",
        "--purpose",
        "bank_account_opening:family_name,portrait,pseudonym",
    ]);
    let sign = || {
        run(&[
            "trust",
            "sign",
            "--list",
            &list,
            "--key",
            &p("t/root.key.pem"),
            "--out",
            &p("v1.jwt"),
        ])
    };
    let (done, said) = sign();
    assert!(!done);
    assert!(
        said.contains("bank-450103 is registered for a pseudonym but has no pseudonym key"),
        "{said}"
    );
    for name in ["bank", "other"] {
        ok(&[
            "keys",
            "generate",
            "--out",
            &p(&format!("{name}.key.pem")),
            "--public",
            &p(&format!("{name}.pub.pem")),
            "--jwk",
            &p(&format!("{name}.jwk")),
        ]);
    }
    // Refused: a relying party the list does not have, a file that is no JWK.
    let before = std::fs::read(&list).unwrap();
    for (id, key, says) in [
        ("bank-nobody", "bank.jwk", "no relying party bank-nobody"),
        ("bank-450103", "bank.pub.pem", "is not a JWK"),
    ] {
        let (done, said) = run(&[
            "trust",
            "set-pseudonym-key",
            "--list",
            &list,
            "--id",
            id,
            "--key",
            &p(key),
        ]);
        assert!(!done && said.contains(says), "{said}");
        assert_eq!(std::fs::read(&list).unwrap(), before);
    }
    ok(&[
        "trust",
        "set-pseudonym-key",
        "--list",
        &list,
        "--id",
        "bank-450103",
        "--key",
        &p("bank.jwk"),
    ]);
    let (done, said) = sign();
    assert!(done, "{said}");

    // The desk: without a key, or with another, it does not start, and says why.
    let serve = |key: Option<&str>| {
        let mut args = vec![
            "verifier".to_owned(),
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--relying-party".into(),
            "bank-450103".into(),
            "--trust-list".into(),
            p("v1.jwt"),
            "--trust-jwk".into(),
            p("t/root.jwk"),
        ];
        if let Some(key) = key {
            args.extend(["--pseudonym-key".into(), p(key)]);
        }
        Command::new(env!("CARGO_BIN_EXE_eid"))
            .args(&args)
            .env_remove("EID_VERIFIER_PSEUDONYM_KEY")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    for (key, says) in [
        (
            None,
            "bank-450103 (--pseudonym-key, EID_VERIFIER_PSEUDONYM_KEY): the trust list registers a pseudonym key for this relying party, and this desk has none",
        ),
        (
            Some("other.key.pem"),
            "this desk's pseudonym key is not the one the trust list registers",
        ),
        (Some("bank.pub.pem"), "is not a P-256 PKCS#8 key"),
    ] {
        let out = serve(key).wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && said.contains(says),
            "{key:?}: {said}"
        );
    }
    // With its own key it serves.
    let mut desk = serve(Some("bank.key.pem"));
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(desk.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    desk.kill().unwrap();
    desk.wait().unwrap();
    assert!(first.contains("http://127.0.0.1:"), "{first}");
}
