//! The operator's routes: a newer trust list, health, readiness and metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eid_trust::VerifiedTrustList;
use serde_json::json;

use super::error::ApiError;
use super::state::Service;

/// `PUT /trust-list`: a newer signed trust list, checked against the root keys and the one
/// held.
pub(super) async fn replace_trust_list(
    State(service): State<Arc<Service>>,
    body: String,
) -> Result<Response, ApiError> {
    let now = service.clock.now();
    let mut verifier = service.verifier.write().map_err(|_| ApiError::poisoned())?;
    let newer = VerifiedTrustList::read(
        &body,
        &service.config.trust_roots,
        now,
        Some(verifier.trust()),
    )
    .map_err(|e| ApiError::BadRequest("trust_list_refused", e.to_string()))?;
    let version = newer.list().version;
    verifier.replace_trust(newer, now);
    Ok(axum::Json(json!({"trust_list_version": version})).into_response())
}

/// `GET /health`: the relying party, its trust list's version and the status lists held.
pub(super) async fn health(State(service): State<Arc<Service>>) -> Result<Response, ApiError> {
    let now = service.clock.now();
    let verifier = service.read()?;
    let lists: Vec<_> = verifier
        .statuses()
        .held()
        .into_iter()
        .map(|(uri, issuer, issued_at)| {
            json!({"uri": uri, "issuer": issuer, "age_seconds": (now - issued_at).whole_seconds()})
        })
        .collect();
    Ok(axum::Json(json!({
        "relying_party": verifier.relying_party(),
        "trust_list_version": verifier.trust().list().version,
        "status_lists": lists,
    }))
    .into_response())
}

/// `GET /ready`: 200 when the service can decide — its trust list in force, and a status
/// list held from every source it follows; 503 saying what is missing otherwise.
pub(super) async fn ready(State(service): State<Arc<Service>>) -> Result<Response, ApiError> {
    let now = service.clock.now();
    let verifier = service.read()?;
    let mut missing = Vec::new();
    if verifier.trust().list().next_update <= now {
        missing.push("the trust list has passed its next update: PUT a newer one");
    }
    let follows =
        !service.config.status_lists.is_empty() || !service.config.status_shards.is_empty();
    if follows && verifier.statuses().held().is_empty() {
        missing.push("no status list is held yet");
    }
    Ok(if missing.is_empty() {
        axum::Json(json!({"ready": true})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"ready": false, "missing": missing})),
        )
            .into_response()
    })
}

/// `GET /metrics`, Prometheus: requests, verification outcomes, the trust list and the
/// status lists held.
pub(super) async fn metrics(State(service): State<Arc<Service>>) -> Result<Response, ApiError> {
    let now = service.clock.now();
    let (version, held, oldest) = {
        let verifier = service.read()?;
        let held = verifier.statuses().held();
        let oldest = held
            .iter()
            .map(|(_, _, issued_at)| (now - *issued_at).whole_seconds())
            .max()
            .unwrap_or(0);
        (verifier.trust().list().version, held.len(), oldest)
    };
    Ok(eid_serve::metrics::render(
        &service.http,
        &[&service.outcomes],
        &[
            (
                "eid_trust_list_version",
                "The trust list version in force.",
                version as f64,
            ),
            (
                "eid_status_lists_held",
                "Status lists held, verified.",
                held as f64,
            ),
            (
                "eid_status_list_oldest_age_seconds",
                "Age of the oldest status list held.",
                oldest as f64,
            ),
        ],
    ))
}
