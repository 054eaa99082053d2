//! The PKI from the command line: an IACA and its document signers made, verified and
//! listed, in P-256 and in SM2, and a successor certified under the same IACA.

use super::*;

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
