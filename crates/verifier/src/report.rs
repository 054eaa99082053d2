//! The verification report: what a clerk's screen, a JSON API and an audit log all show.

use eid_trust::{Purpose, Rejection};
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// How the presentation arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// ISO 18013-5 session after a QR engagement.
    InPerson,
    /// eid's single signed QR code, read by a scanner.
    OfflineQr,
    /// OpenID4VP.
    Online,
}

/// One reason to refuse. `reason` is a stable code, `message` says it in words; neither
/// carries personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable code: a policy rejection's (`status_suspended`, `issuer_not_authorised`, …)
    /// or `presentation_not_verified`, `holder_declined`, `wallet_refused`, `no_document`,
    /// `request_expired`, `state_mismatch`.
    pub reason: String,
    /// In words.
    pub message: String,
}

impl Reason {
    pub(crate) fn new(reason: &str, message: impl Into<String>) -> Self {
        Self {
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn policy(rejection: &Rejection) -> Self {
        let reason = serde_json::to_value(rejection)
            .ok()
            .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| "policy".to_owned());
        Self {
            reason,
            message: rejection.to_string(),
        }
    }
}

/// The outcome of one verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Accept.
    pub accepted: bool,
    /// How it came.
    pub channel: Channel,
    /// Who verified (trust-list id).
    pub relying_party: String,
    /// For what.
    pub purpose: Purpose,
    /// `mso_mdoc` or `dc+sd-jwt`, once parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// The issuer (trust-list id), when the credential chained to a listed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The wallet provider the credential names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_provider: Option<String>,
    /// A credential held for the resident by a parent or guardian: the relationship the
    /// credential names (the desk says so, and whom it is for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegated: Option<eid_core::Relationship>,
    /// The trust list version decided under.
    pub trust_list_version: u64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// The disclosed attributes and their values (a portrait as base64) — only when
    /// accepted: a refused presentation's data is not the relying party's to keep.
    pub attributes: Map<String, Value>,
    /// Every reason to refuse; empty when accepted.
    pub reasons: Vec<Reason>,
    /// The person at the desk against the credential's face, when the desk compared them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence: Option<Presence>,
}

/// The live face at the desk against the credential's: the same person when `score`, the
/// distance between the two faces (lower is closer), is at most `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Presence {
    /// Whether the faces matched.
    pub matched: bool,
    /// The distance between the faces.
    pub score: f64,
    /// The largest distance taken as the same person.
    pub threshold: f64,
    /// Whether the person passed the head-turn challenge (`eid_face::head_turn`), when the
    /// desk asked them to turn (a second photograph and the way asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
}

/// What the desk's face check came to, for [`crate::Verifier::with_face_check`].
#[derive(Debug, Clone, PartialEq)]
pub enum FaceCheck {
    /// Compared: the distance between the live face and the credential's, and the
    /// threshold it was held to.
    Compared {
        /// The distance.
        distance: f64,
        /// The largest distance taken as the same person.
        threshold: f64,
        /// The head-turn challenge, when asked: passed, or why not.
        live: Option<Result<(), String>>,
    },
    /// Not compared, and why in words (no photograph taken, no face found in it, no
    /// portrait disclosed, no face model at this desk).
    NotCompared(String),
}

impl Report {
    /// The reasons' codes, for tests and logs.
    pub fn codes(&self) -> Vec<&str> {
        self.reasons.iter().map(|r| r.reason.as_str()).collect()
    }
}
