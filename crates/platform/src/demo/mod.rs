//! `eid demo`: the story against a running platform, over HTTP only (what `GET
//! /platform.json` describes): a Nanning resident enrols into a wallet of super-app A,
//! checks in at a Nanning hotel in person, passes airport security by offline QR, opens a
//! bank account online; a Hangzhou hotel refuses her pilot-city credential until the
//! operator authorises Nanning nationally; her phone is lost and every desk refuses it; a
//! new phone (super-app B) is enrolled and accepted while the old one stays refused.
//!
//! With face matching on, enrolment is remote (her selfie against the registry portrait),
//! the lost phone is reported from the new phone's wallet with her face (suspended), and
//! once the new phone is enrolled she moves to it: the old phone's credentials are revoked
//! for good (`status_invalid`). With it off, enrolment is at the counter (the officer's
//! offer) and the hotline suspends the phone.
//!
//! It plays again and again against the same platform, from any folder of its machine (the
//! token files are named by absolute path): each run enrols new phones, and a step whose
//! outcome an earlier run already made true — Nanning accepted nationwide — is said as
//! such instead of checked.

mod calls;
mod exchanges;
mod narration;
mod platform;
mod story;

use std::path::Path;

pub use calls::StepFailed;
pub(crate) use calls::{get, post};
pub(crate) use exchanges::{enrol, in_person, offline, online, wait_for_lists};
pub(crate) use narration::accepted_but_for_the_face;
pub(crate) use platform::{PIN, Phone, Platform, Resident};

/// Plays the story against the platform at `base`; `say` hears each step and its verdict.
/// Whether every step behaved as the story says.
pub async fn play(base: &str, proofing: Option<&Path>, say: &mut dyn FnMut(&str)) -> bool {
    match story::story(base, proofing, say).await {
        Ok(all) => all,
        Err(e) => {
            say(&format!("   ✗ the story could not go on: {e}"));
            false
        }
    }
}
