//! For tests that need something outside the repository: a database server, a message
//! broker, a face model, an HSM module.
//!
//! Such a test is marked `#[ignore = "needs …"]`, so a plain `cargo nextest run` lists it as
//! skipped, by name, in the runner's summary. `scripts/test` (which `.ci/run` calls) installs
//! and starts what they need and runs them with `--run-ignored all`. There, [`required_env`]
//! and [`required_file`] hand the test its setting — or, when it is missing, say on standard
//! error that the test skipped and why, and **fail** when `CI` is set: CI installs and starts
//! everything, so a missing service there is a broken pipeline, not a skip.

use std::path::{Path, PathBuf};

/// The value of `var` (non-empty), or `None` after saying why the test skipped; a panic under
/// CI.
pub fn required_env(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => missing(&format!("{var} is not set (scripts/test sets it)")),
    }
}

/// `path` when it exists, or `None` after saying why the test skipped; a panic under CI.
pub fn required_file(path: &Path) -> Option<PathBuf> {
    if path.exists() {
        Some(path.to_owned())
    } else {
        missing(&format!(
            "{} is absent (scripts/test installs it)",
            path.display()
        ))
    }
}

#[expect(
    clippy::panic,
    reason = "for tests only: a service CI should have started is missing, which fails the run"
)]
fn missing<T>(why: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{why}; under CI every test runs");
    }
    eprintln!("skipped: {why}");
    None
}
