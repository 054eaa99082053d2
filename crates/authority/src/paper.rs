//! The printed code: for a resident without a smartphone, an officer at a counter prints a
//! signed code on paper for one purpose (`eid_mdoc::offline::issue_paper`), valid for a
//! few hours up to three days, with its own status entry so that the authority can withdraw
//! it like any credential. Only a purpose whose trust-list catalogue allows paper gets one
//! (`paper_allowed`, which needs the face match): nothing signs the paper when it is
//! shown, so the face template it carries is what ties it to her at the desk.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use eid_crypto::b64url;
use eid_store::NewCredential;
use eid_trust::Purpose;
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::{ApiError, Authority, credential};

/// The wallet provider a printed code is recorded under: no wallet holds it, and the trust
/// list lists no provider by this id.
pub const PAPER_PROVIDER: &str = eid_trust::model::PAPER_PROVIDER;
/// The configuration id of a printed code: this prefix and the purpose.
pub const CONFIG_PAPER_PREFIX: &str = "resident_identity_paper_";
/// How long a printed code is valid when the officer does not say.
pub const DEFAULT_HOURS: u32 = 24;

/// A printed code, as the counter's printer takes it.
#[derive(Debug, Serialize)]
pub struct PaperPrinted {
    /// The credential's id: what the console revokes it by.
    pub credential: String,
    /// The purpose it serves.
    pub purpose: Purpose,
    /// The code's bytes (QR byte mode), base64url.
    pub code: String,
    /// Its size in bytes.
    pub bytes: usize,
    /// Unix seconds: the end of its validity, to print beside it.
    pub expires_at: i64,
}

impl Authority {
    /// Prints a code for `purpose` for the resident in front of `officer`: the registry
    /// checks of a counter enrolment, the catalogue's leave for paper, the face template
    /// where the purpose sees the face, a status entry, the audit. She holds one live code
    /// per purpose: the one printed before for it is revoked (a lost paper is replaced).
    pub async fn print_paper(
        &self,
        id_number: &str,
        full_name: &str,
        purpose: Purpose,
        officer: &str,
        hours: u32,
    ) -> Result<PaperPrinted, ApiError> {
        let actor = format!("officer:{officer}");
        let most = eid_mdoc::offline::PAPER_MAX_VALIDITY.whole_hours();
        if hours == 0 || i64::from(hours) > most {
            return Err(ApiError::BadRequest(
                "invalid_request",
                format!("a printed code is valid for 1 to {most} hours, not {hours}"),
            ));
        }
        let catalogue = {
            let trust = self
                .trust
                .read()
                .map_err(|_| ApiError::Internal("the trust list lock is poisoned".into()))?;
            trust.list().purpose(purpose).cloned()
        };
        let Some(catalogue) = catalogue.filter(|c| c.paper_allowed) else {
            self.audit(
                &actor,
                "print",
                &self.pseudonym(id_number),
                "refused",
                "paper_not_allowed",
            )
            .await?;
            return Err(ApiError::Forbidden(
                "paper_not_allowed",
                format!(
                    "the trust list's catalogue does not allow a printed code for {purpose}: print one for a purpose that accepts paper"
                ),
            ));
        };
        let entry = self
            .counter_proofing(id_number, full_name, &actor, "print")
            .await?;
        let number = &entry.card.id_number;
        let template = match self.face_template_for(purpose, &entry).await {
            Ok(template) => template,
            Err(e) => {
                self.audit(
                    &actor,
                    "print",
                    &self.pseudonym(number.expose()),
                    "refused",
                    e.code(),
                )
                .await?;
                return Err(e);
            }
        };
        let configuration = format!("{CONFIG_PAPER_PREFIX}{purpose}");
        let now = self.clock.now();
        let signer = self.document_signer(now)?;
        let expires_at = self
            .valid_until(&entry, now, signer)
            .min(now + Duration::hours(i64::from(hours)));
        let id = self.secret_routed(16, number.expose(), false)?;
        let positions = self
            .store
            .record_credential(
                &NewCredential {
                    id: &id,
                    id_number: number,
                    provider: PAPER_PROVIDER,
                    // Its own "instance": a wallet-wide action never reaches another code.
                    wallet_instance: &id,
                    configuration: &configuration,
                    delegation: None,
                    issued_at: now.unix_timestamp(),
                    expires_at: expires_at.unix_timestamp(),
                },
                1,
                self.shard_size(),
                self.random.as_ref(),
            )
            .await?;
        let &[(shard, idx)] = positions.as_slice() else {
            return Err(ApiError::Internal(
                "a printed code's record holds one status entry".into(),
            ));
        };
        let mut attributes =
            credential::compact_attributes(&entry.card, now.date(), &catalogue.attributes);
        if let Some(template) = template {
            attributes.push((
                eid_mdoc::offline::FACE_TEMPLATE.to_owned(),
                eid_mdoc::issue::ElementValue::Bytes(template),
            ));
        }
        let status = eid_core::status::StatusListReference {
            idx,
            uri: self.status_uri(shard),
        };
        let printed = eid_mdoc::offline::issue_paper(
            &eid_mdoc::offline::PaperCodeRequest {
                purpose: purpose.as_str(),
                attributes: &attributes,
                issued_at: now,
                expires_at,
                status: Some(&status),
            },
            signer.signer(),
            signer.signer().verifying_key(),
        );
        let code = match printed {
            Ok(code) => code,
            Err(e) => {
                // Nothing was printed: the recorded entry is revoked.
                self.withdraw(&id, &actor, "recorded but not printed")
                    .await?;
                return Err(match e {
                    e @ eid_mdoc::offline::OfflineError::TooLargeForQr { .. } => {
                        ApiError::Forbidden("credential_request_denied", e.to_string())
                    }
                    e => ApiError::Internal(e.to_string()),
                });
            }
        };
        // One live code per purpose: once the new one is made, those printed before for it
        // (valid or suspended) are revoked — a failed print leaves them as they were.
        for held in self.store.credentials_of(number).await? {
            if held.provider == PAPER_PROVIDER
                && held.configuration == configuration
                && held.id != id
                && held.state != eid_store::CredentialState::Invalid
            {
                self.withdraw(&held.id, &actor, "replaced by a new printed code")
                    .await?;
            }
        }
        self.audit(
            &actor,
            "print",
            &format!("credential:{id}"),
            "ok",
            &format!(
                "printed code for {purpose}, valid until {}",
                expires_at.unix_timestamp()
            ),
        )
        .await?;
        Ok(PaperPrinted {
            credential: id,
            purpose,
            bytes: code.len(),
            code: b64url(&code),
            expires_at: expires_at.unix_timestamp(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrintPaper {
    id_number: String,
    full_name: String,
    purpose: String,
    officer: String,
    #[serde(default)]
    hours: Option<u32>,
}

pub(crate) async fn print_paper(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<PrintPaper>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PaperPrinted>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    let purpose = Purpose::parse(&body.purpose).ok_or_else(|| {
        ApiError::BadRequest(
            "invalid_request",
            format!(
                "unknown purpose {}: use one of the trust list's catalogue ({})",
                eid_serve::excerpt(&body.purpose),
                Purpose::ALL.map(Purpose::as_str).join(", ")
            ),
        )
    })?;
    let officer = crate::admin::officer(&body.officer)?;
    Ok(Json(
        authority
            .print_paper(
                &body.id_number,
                &body.full_name,
                purpose,
                officer,
                body.hours.unwrap_or(DEFAULT_HOURS),
            )
            .await?,
    ))
}
