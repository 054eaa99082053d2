//! The authority service from a configuration file, and its replicas under faults.

use super::*;

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

#[test]
fn backup_then_restored_seals_the_shards_the_backup_may_not_know() {
    let dir = scratch("backup");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let db = format!("sqlite:{}", p(&dir.join("eid.db")));
    let (config, _) = authority_files(&dir, &db);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_eid"))
            .args(["authority"])
            .args(args)
            .args(["--config", &p(&config)])
            .env("EID_AUTHORITY_ADMIN_TOKEN", "an-admin-token-for-the-test")
            .output()
            .unwrap()
    };
    let out = run(&["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let backup = dir.join("backup-1");
    let out = run(&["backup", "--out", &p(&backup)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(backup.join("partition-0.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o077;
        assert_eq!(mode(&backup), 0, "the backup folder is the owner's alone");
        assert_eq!(mode(&backup.join("partition-0.db")), 0);
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("keys"));
    // Never over an earlier backup.
    let out = run(&["backup", "--out", &p(&backup)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    // Restored: the backup copied back, then the shards sealed before serving.
    std::fs::copy(backup.join("partition-0.db"), dir.join("eid.db")).unwrap();
    let out = run(&["restored", "--skip-shards", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["restored", "--skip-shards", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["next_shard"], 3);
    std::fs::remove_dir_all(&dir).unwrap();
}
