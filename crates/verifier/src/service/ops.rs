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
    // Taken (it may carry revocations), but said when the relying party's pseudonym key
    // changed under the desk: `/ready` says so too until the desk has the key.
    match verifier.pseudonym_key_problem() {
        Some(problem) => {
            tracing::warn!(target: "eid::verifier", problem, "the new trust list's pseudonym key");
            Ok(
                axum::Json(json!({"trust_list_version": version, "pseudonym_key": problem}))
                    .into_response(),
            )
        }
        None => Ok(axum::Json(json!({"trust_list_version": version})).into_response()),
    }
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

/// `GET /ready`: 200 when the service can decide — its trust list in force, a status list
/// held from every source it follows, and the Redis it shares requests or codes through
/// answering; 503 saying what is missing otherwise.
pub(super) async fn ready(State(service): State<Arc<Service>>) -> Result<Response, ApiError> {
    let now = service.clock.now();
    let mut missing: Vec<String> = Vec::new();
    let replay_shared = {
        let verifier = service.read()?;
        if verifier.trust().list().next_update <= now {
            missing.push("the trust list has passed its next update: PUT a newer one".into());
        }
        // A trust list taken since the start may have given the relying party another key.
        if let Some(problem) = verifier.pseudonym_key_problem() {
            missing.push(problem.into());
        }
        verifier.offline_check_may_block()
    };
    // Every source followed: a desk holding one authority's list only cannot decide on the
    // other's credentials.
    let lists_missing = service.status_lists_missing();
    let lists_missing = (!lists_missing.is_empty()).then(|| {
        format!(
            "no status list is held yet from {}",
            lists_missing.join(", ")
        )
    });
    missing.extend(lists_missing);
    if service.sessions.may_block() || replay_shared {
        // Asked off the async workers: a Redis that does not answer holds the call until
        // the client's own timeouts.
        let asking = service.clone();
        let answers = tokio::task::spawn_blocking(move || {
            let sessions = asking.sessions.reachable().is_ok();
            let replay =
                !replay_shared || asking.read().is_ok_and(|v| v.replay_reachable().is_ok());
            (sessions, replay)
        })
        .await
        .map_err(|_| ApiError::Internal("a readiness check panicked"))?;
        if !answers.0 {
            missing.push("the shared store of online requests (Redis) does not answer".into());
        }
        if !answers.1 {
            missing.push("the shared memory of offline codes seen (Redis) does not answer".into());
        }
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
