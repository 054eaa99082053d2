//! The `eid` binary as a user drives it, by concern.

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

mod authority;
mod formats;
mod holder;
mod online;
mod pki;
mod registry;
mod trust;
