//! `POST /verify/offline`: an offline QR code's bytes, checked against the purpose, with the
//! desk's photograph compared where one is sent.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;

use super::asking::{Photographs, face_model_if_needed, purpose};
use super::error::ApiError;
use super::face::{Live, with_face};
use super::state::Service;
use crate::report::Report;
use crate::{Channel, Check};

#[derive(Deserialize)]
pub(super) struct PurposeQuery {
    purpose: String,
}

/// `{"code": base64url, "face": base64 photograph}`: a desk that matches faces; with
/// `"face_turned"` and `"turn"`, the head turn too.
#[derive(Deserialize)]
struct WithFace {
    code: String,
    #[serde(default)]
    face: Option<String>,
    #[serde(default)]
    face_turned: Option<String>,
    #[serde(default)]
    turn: Option<String>,
}

pub(super) async fn verify_offline(
    State(service): State<Arc<Service>>,
    Query(query): Query<PurposeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<Report>, ApiError> {
    let purpose = purpose(&query.purpose)?;
    face_model_if_needed(&service, purpose)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut face = None;
    let mut turned = None;
    let code = if content_type.starts_with("application/octet-stream") {
        body.to_vec()
    } else if content_type.starts_with("application/json") {
        let with_face = serde_json::from_slice::<WithFace>(&body).map_err(|e| {
            ApiError::invalid(format!("the body is not {{\"code\", \"face\"}}: {e}"))
        })?;
        let code = eid_crypto::b64url_decode(with_face.code.trim())
            .map_err(|_| ApiError::invalid("the code is not base64url"))?;
        (face, turned) = Photographs {
            face: with_face.face,
            face_turned: with_face.face_turned,
            turn: with_face.turn,
        }
        .read()?;
        code
    } else {
        std::str::from_utf8(&body)
            .ok()
            .and_then(|t| eid_crypto::b64url_decode(t.trim()).ok())
            .ok_or_else(|| {
                ApiError::invalid(
                    "send the code's bytes as application/octet-stream, or as base64url text",
                )
            })?
    };
    // Off the async workers: the check may wait on the shared replay memory (Redis).
    let checking = service.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let verifier = checking.read()?;
        let requested = verifier.registered_attributes(purpose);
        Ok::<_, ApiError>(verifier.verify_offline(
            &code,
            &Check {
                purpose,
                requested: &requested,
                channel: Channel::OfflineQr,
                now: checking.clock.now(),
            },
        ))
    })
    .await
    .map_err(|_| ApiError::Internal("the offline check's task panicked"))??;
    let verified = with_face(&service, verified, Live::Photograph(face, turned)).await?;
    service.notice(&verified);
    Ok(axum::Json(verified))
}
