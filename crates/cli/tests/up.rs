//! `eid up` as a user runs it: it makes its data folder, says what to open and which checks
//! are off, stops cleanly on Ctrl-C (SIGINT) — within seconds even with a request that never
//! ends — and a second start keeps the folder.

#![expect(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `eid up` in `dir` on `port`, reads its output until it is up, sends SIGINT and
/// returns everything it printed and whether it exited 0.
fn up_and_interrupt(dir: &std::path::Path, port: u16) -> (String, bool) {
    let (mut child, mut out, mut printed) = start_up(dir, port);
    interrupt(&child);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    printed.push_str(&rest);
    (printed, status.success())
}

fn interrupt(child: &std::process::Child) {
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Waits for `child` to exit, at most `limit`: its exit status and how long it took, or
/// nothing (and the child killed) when it did not exit in time.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<(std::process::ExitStatus, Duration)> {
    #[expect(
        clippy::disallowed_methods,
        reason = "how long the process took to stop, for the record and the hang guard"
    )]
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((status, started.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A request to the base port that announces a body and never sends it: the handler waits
/// for it as long as the connection is open.
fn request_that_never_ends(port: u16) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(
            b"POST /trust/scopes HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        )
        .unwrap();
    // The server reads the head and starts the handler: a moment is enough. Were it not,
    // the test would pass without testing; it cannot fail because of it.
    std::thread::sleep(Duration::from_millis(500));
    stream
}

/// Starts `eid up` in `dir` on `port` and reads its output until it is up.
fn start_up(
    dir: &std::path::Path,
    port: u16,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    String,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(["up", "--port", &port.to_string()])
        .env_remove("EID_PROOFING_DIR")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "eid up ended before it was up: {printed}"
        );
        printed.push_str(&line);
        if line.contains("the story: eid demo --against") {
            break;
        }
    }
    (child, out, printed)
}

/// A base port whose next two are free too (the authorities'), below Linux's ephemeral range
/// (32768 and up): a port the kernel hands out for other tests' connections could be taken
/// between a stop and the next start on the same port.
fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let port = 20_000 + (hasher.finish() % 12_000) as u16;
        if (0..=2).all(|i| std::net::TcpListener::bind(("127.0.0.1", port + i)).is_ok()) {
            return port;
        }
    }
}

#[test]
fn up_starts_stops_on_ctrl_c_and_keeps_its_folder() {
    let dir = std::env::temp_dir().join(format!("eid-up-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    // `--data eid-data`, said by absolute path (the folder it was started in, resolved).
    let data = dir.canonicalize().unwrap().join("eid-data");

    let (printed, clean) = up_and_interrupt(&dir, port);
    assert!(clean, "{printed}");
    assert!(
        printed.contains(&format!(
            "first start: making the platform in {}",
            data.display()
        )),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("http://127.0.0.1:{port}/platform.json")),
        "{printed}"
    );
    assert!(printed.contains("OFF: face matching"), "{printed}");
    assert!(
        printed.contains(&format!(
            "with the token in {}",
            data.join("nanning/admin-token").display()
        )),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "stopped; everything is kept in {}",
            data.display()
        )),
        "{printed}"
    );
    let list = std::fs::read(dir.join("eid-data/trust/list.jws")).unwrap();
    let db = dir.join("eid-data/nanning/authority.db");
    assert!(db.exists());

    let (printed, clean) = up_and_interrupt(&dir, port);
    assert!(clean, "{printed}");
    assert!(!printed.contains("first start"), "{printed}");
    assert_eq!(
        std::fs::read(dir.join("eid-data/trust/list.jws")).unwrap(),
        list
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn up_stops_within_seconds_with_a_request_that_never_ends() {
    let dir = std::env::temp_dir().join(format!("eid-up-stuck-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();

    // One Ctrl-C: open requests get a grace period, then are dropped.
    let (mut child, mut out, mut printed) = start_up(&dir, port);
    let stuck = request_that_never_ends(port);
    interrupt(&child);
    // Ten seconds is a guard against a hang (the bound is about three), not a measure.
    let stopped = wait_at_most(&mut child, Duration::from_secs(10));
    std::io::Read::read_to_string(&mut out, &mut printed).unwrap();
    let (status, took) = stopped.unwrap_or_else(|| panic!("still running after 10 s: {printed}"));
    println!("stopped in {took:?} with a request open");
    assert!(status.success(), "{printed}");
    assert!(
        printed.contains(&format!(
            "stopped; everything is kept in {}",
            dir.canonicalize().unwrap().join("eid-data").display()
        )),
        "{printed}"
    );
    drop(stuck);

    // A second Ctrl-C stops at once.
    let (mut child, mut out, mut printed) = start_up(&dir, port);
    let stuck = request_that_never_ends(port);
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(200));
    interrupt(&child);
    let stopped = wait_at_most(&mut child, Duration::from_secs(10));
    std::io::Read::read_to_string(&mut out, &mut printed).unwrap();
    let (status, took) = stopped.unwrap_or_else(|| panic!("still running after 10 s: {printed}"));
    println!("stopped in {took:?} after a second Ctrl-C");
    assert!(status.success(), "{printed}");
    assert!(printed.contains("stopped at once"), "{printed}");
    drop(stuck);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_plays_the_story_on_its_own_platform_and_exits_0() {
    // Without the face models: enrolment at the counter, the hotline for the lost phone.
    let output = Command::new(env!("CARGO_BIN_EXE_eid"))
        .arg("demo")
        .env_remove("EID_PROOFING_DIR")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for step in [
        "Enrolment",
        "A Nanning hotel checks her in",
        "Airport security",
        "A bank opens an account",
        "a Hangzhou hotel refuses",
        "The national authorisation",
        "Her phone is lost",
        "The new phone",
        "Every step behaved as the story says.",
    ] {
        assert!(printed.contains(step), "{step}: {printed}");
    }
    assert!(!printed.contains('✗'), "{printed}");
}

/// The whole story against `eid up`, its standard error read throughout: every line is one
/// JSON object, each request is logged by its route template with its status and latency,
/// and no demo resident's identity number or name appears in any line.
#[test]
fn the_logs_of_the_whole_story_name_no_one() {
    let dir = std::env::temp_dir().join(format!("eid-up-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let (mut child, mut out, mut printed) = start_up(&dir, port);
    let errors = child.stderr.take().unwrap();
    let reading = std::thread::spawn(move || {
        BufReader::new(errors)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let demo = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(["demo", "--against", &format!("http://127.0.0.1:{port}")])
        .env_remove("EID_PROOFING_DIR")
        .output()
        .unwrap();
    let story = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "{story}");
    // The load tool, every kind of operation for a few seconds: its last line is one JSON
    // object, nothing failed, and the server's CPU time was read.
    let base = format!("http://127.0.0.1:{port}");
    let load = Command::new(env!("CARGO_BIN_EXE_eid"))
        .args(["bench", "load", "--against", &base, "--scenario", "mixed"])
        .args(["--duration", "4s", "--concurrency", "2"])
        .args(["--server-metrics", &format!("{base}/metrics")])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&load.stdout);
    assert!(load.status.success(), "{said}");
    let last: serde_json::Value = serde_json::from_str(said.lines().last().unwrap()).unwrap();
    for field in ["throughput", "p50_ms", "p99_ms", "p999_ms", "errors"] {
        assert!(last[field].is_number(), "{field} in {last}");
    }
    assert_eq!(last["errors"], 0, "{said}");
    assert!(last["succeeded"].as_u64().unwrap() >= 20, "{said}");
    assert!(last["server_cpu_seconds"].as_f64().unwrap() > 0.0, "{said}");
    for wrong in [
        &["--scenario", "everything"][..],
        &["--scenario", "issue", "--rate", "0"],
        &["--scenario", "issue", "--duration", "5 parsecs"],
    ] {
        let refused = Command::new(env!("CARGO_BIN_EXE_eid"))
            .args(["bench", "load", "--against", &base])
            .args(wrong)
            .output()
            .unwrap();
        let error = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{wrong:?}");
        // The error names the option and the value given.
        let said = format!("{} {}", wrong[wrong.len() - 2], wrong[wrong.len() - 1]);
        assert!(error.contains(&said), "{wrong:?}: {error}");
    }
    interrupt(&child);
    assert!(child.wait().unwrap().success());
    std::io::Read::read_to_string(&mut out, &mut printed).unwrap();
    let lines = reading.join().unwrap();

    let residents: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("eid-data/demo-residents.json")).unwrap())
            .unwrap();
    let mut residents = residents.as_array().unwrap().clone();
    assert!(!residents.is_empty());
    // And those the load tool enrolled (from the head of the authority's list).
    let listed = std::fs::read_to_string(dir.join("eid-data/nanning/residents.jsonl")).unwrap();
    residents.extend(
        listed
            .lines()
            .take(40)
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
    );
    let mut requests = 0;
    for line in &lines {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|_| panic!("a log line that is not JSON: {line}"));
        if event["route"].is_string() {
            requests += 1;
            assert!(
                event["status"].is_u64()
                    && event["latency_ms"].is_f64()
                    && event["request_id"]
                        .as_str()
                        .is_some_and(|id| !id.is_empty()),
                "{line}"
            );
        }
        for resident in &residents {
            let (number, name) = (
                resident["id_number"].as_str().unwrap(),
                resident["full_name"].as_str().unwrap(),
            );
            // The number, also without its check character; the name, also its given name
            // alone (the characters after the one-character surname).
            let given: String = name.chars().skip(1).collect();
            let mut personal = vec![number, &number[..17], name];
            if given.chars().count() >= 2 {
                personal.push(&given);
            }
            for personal in personal {
                assert!(!line.contains(personal), "{personal} logged: {line}");
            }
        }
    }
    // The story's requests, each logged (enrolments, presentations, the hotline, …).
    assert!(
        requests > 30,
        "{requests} requests logged of:\n{}",
        lines.join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
