//! The population registry's data.
//!
//! - [`Generator`]: a deterministic, realistic synthetic population (`eid registry
//!   generate`), streamed as JSON Lines of [`eid_core::ResidentCard`].
//! - [`validate::check_jsonl`]: checks a registry file record by record (`eid registry
//!   validate`).

pub mod generate;
pub mod rng;
mod tables;
pub mod validate;

pub use generate::{GenerateError, Generator};
