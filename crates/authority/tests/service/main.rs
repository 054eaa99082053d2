//! The authority service driven through its two routers, in-process: the OpenID4VCI
//! pre-authorized flow in both formats with batches, every proofing refusal, lifecycle
//! changes seen in the served status lists and as pushed events — on SQLite, and on
//! PostgreSQL when `EID_TEST_POSTGRES_URL` is set.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;
mod contention;
mod delegation;
mod issuance;
mod lifecycle;
mod nats;
mod paper;
mod pkcs11;
mod pseudonyms;
#[cfg(feature = "face")]
mod remote;
mod replicas;
mod rollover;
mod unreachable;
