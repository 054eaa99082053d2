//! The platform as `platform.json` describes it, the story's resident and her phones.

use std::path::PathBuf;

use base64::Engine;
use serde_json::{Value, json};

use super::calls::{StepFailed, failed, post};

/// The PIN of the demo's wallets.
pub(crate) const PIN: &str = "246810";

/// The platform as `platform.json` describes it, and where the demo's photographs are.
pub(crate) struct Platform {
    pub(crate) description: Value,
    pub(crate) photos: Option<PathBuf>,
    pub(crate) remote: bool,
}

impl Platform {
    pub(crate) fn provider(&self, index: usize) -> Result<String, StepFailed> {
        self.description["providers"][index]["api"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed("platform.json lists no such wallet provider"))
    }

    pub(crate) fn provider_id(&self, index: usize) -> String {
        self.description["providers"][index]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn desk(&self, id: &str) -> Result<String, StepFailed> {
        self.desk_entry(id)
            .and_then(|d| d["url"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| failed(format!("platform.json lists no desk {id}")))
    }

    pub(crate) fn authority(&self, key: &str) -> Result<&Value, StepFailed> {
        self.description["authorities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["key"] == key)
            .ok_or_else(|| failed(format!("platform.json lists no authority {key}")))
    }

    pub(crate) fn token(&self, field: &Value) -> Result<String, StepFailed> {
        let path = field
            .as_str()
            .ok_or_else(|| failed("platform.json names no token file"))?;
        std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| {
                failed(format!(
                    "{path}: {e} (run eid demo on the machine of eid up)"
                ))
            })
    }

    /// Whether `desk` compares the face of the person in front of it.
    fn compares_faces(&self, desk: &str) -> bool {
        self.desk_entry(desk)
            .is_some_and(|d| d["compares_faces"] == true)
    }

    /// Whether `desk`'s purpose requires a face match (the trust list's catalogue).
    pub(super) fn face_match_required(&self, desk: &str) -> bool {
        self.desk_entry(desk)
            .is_some_and(|d| d["face_match_required"] == true)
    }

    fn desk_entry(&self, desk: &str) -> Option<&Value> {
        self.description["desks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["id"] == desk)
    }

    /// The photograph `fixture` (base64) as the person at a desk, when the platform's desks
    /// compare faces and the fixtures are here; else none is taken.
    pub(super) fn face_at_desks(
        &self,
        fixture: Option<&str>,
    ) -> Result<Option<String>, StepFailed> {
        match fixture {
            Some(name) if self.photos.is_some() && self.compares_faces("nanning-airport") => {
                self.photo(name).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The fields of `resident`'s live capture (`face`, `face_turned`, `turn`), to merge into
    /// a remote enrolment or a lost report.
    pub(super) fn live_capture(&self, resident: &Resident) -> Result<Value, StepFailed> {
        let capture = resident
            .capture
            .as_ref()
            .ok_or_else(|| failed("the resident has no live capture among the fixtures"))?;
        Ok(json!({
            "face": self.photo(&capture.facing)?,
            "face_turned": self.photo(&capture.turned)?,
            "turn": capture.turn,
        }))
    }

    pub(super) fn photo(&self, name: &str) -> Result<String, StepFailed> {
        let dir = self
            .photos
            .as_ref()
            .ok_or_else(|| failed("no face fixtures (EID_PROOFING_DIR)"))?;
        let bytes = std::fs::read(dir.join(name))
            .map_err(|e| failed(format!("{}: {e}", dir.join(name).display())))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// A phone: a hosted wallet at a provider.
pub(crate) struct Phone {
    api: String,
    wallet: String,
}

impl Phone {
    pub(crate) async fn new(api: String) -> Result<Self, StepFailed> {
        let made = post(&format!("{api}/wallets"), None, json!({ "pin": PIN })).await?;
        let wallet = made["wallet"]
            .as_str()
            .ok_or_else(|| failed("the provider made no wallet"))?
            .to_owned();
        Ok(Self { api, wallet })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/wallets/{}{path}", self.api, self.wallet)
    }
}

/// The resident of the story.
pub(crate) struct Resident {
    pub(crate) id_number: String,
    pub(crate) full_name: String,
    pub(crate) portrait: Option<String>,
    pub(crate) selfie: Option<String>,
    /// Her live capture for remote enrolment and lost reports.
    pub(crate) capture: Option<crate::data::LiveCapture>,
}
