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
    let check = move |service: &Service| {
        let verifier = service.read()?;
        let requested = verifier.registered_attributes(purpose);
        Ok::<_, ApiError>(verifier.verify_offline(
            &code,
            &Check {
                purpose,
                requested: &requested,
                channel: Channel::OfflineQr,
                now: service.clock.now(),
            },
        ))
    };
    // Off the async workers where the check may wait on the shared replay memory (Redis);
    // in place where it is the process's: the check is then pure computation of about
    // 140 µs on a bounded body, and the hop cost half as much again
    // (`cargo bench -p eid-verifier --bench service`).
    let verified = if service.read()?.offline_check_may_block() {
        let checking = service.clone();
        tokio::task::spawn_blocking(move || check(&checking))
            .await
            .map_err(|_| ApiError::Internal("the offline check's task panicked"))??
    } else {
        check(&service)?
    };
    let verified = with_face(&service, verified, Live::Photograph(face, turned)).await?;
    service.notice(&verified);
    Ok(axum::Json(verified))
}
