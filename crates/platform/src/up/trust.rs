//! The trust list as `eid up` serves and changes it: the signed list and its versions, and
//! the operator's scope change — signed, put in force at every authority and desk of this
//! process, and pushed to desk replicas that run as their own processes.

use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_authority::Authority;
use eid_core::Clock;
use eid_core::region::Scope;
use eid_trust::{AcceptanceScope, Purpose};
use eid_verifier::service::Service;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::refused;
use crate::data::Data;

/// What the trust-list routes share.
pub(super) struct TrustControl {
    pub(super) data: tokio::sync::Mutex<Data>,
    pub(super) operator_token: String,
    pub(super) shared: Arc<RwLock<eid_trust::VerifiedTrustList>>,
    pub(super) authorities: Vec<Arc<Authority>>,
    pub(super) services: Vec<Arc<Service>>,
    /// The desks run as their own processes: each replica's URL.
    pub(super) desk_replicas: Vec<String>,
    pub(super) clock: Arc<dyn Clock>,
}

pub(super) async fn trust_list(State(control): State<Arc<TrustControl>>) -> Response {
    let data = control.data.lock().await;
    (
        [(axum::http::header::CONTENT_TYPE, "application/jwt")],
        data.trust_jws.clone(),
    )
        .into_response()
}

/// How long a desk replica may take to say which version it holds, or to take a new one.
const DESK_PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Gives the trust list `jws` (version `version`) to every desk replica that holds an older
/// one, all at once; how many could not be reached or refused it.
async fn push_to_desks(replicas: &[String], jws: &str, version: u64) -> usize {
    let mut pushes = JoinSet::new();
    for replica in replicas {
        let base = replica.trim_end_matches('/').to_owned();
        let jws = jws.to_owned();
        pushes.spawn(tokio::time::timeout(DESK_PUSH_TIMEOUT, async move {
            let held = eid_http::fetch(&format!("{base}/health"), "application/json")
                .await
                .ok()
                .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
                .and_then(|health| health["trust_list_version"].as_u64());
            if held.is_some_and(|held| held >= version) {
                return Ok(());
            }
            eid_http::put_text(&format!("{base}/trust-list"), "application/jwt", jws)
                .await
                .map(|_| ())
                .map_err(|e| format!("the desk at {base} did not take trust list v{version}: {e}"))
        }));
    }
    let mut unreached = 0;
    while let Some(done) = pushes.join_next().await {
        let failed = match done {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(why))) => Some(why),
            Ok(Err(_)) => Some(format!(
                "a desk did not answer within {DESK_PUSH_TIMEOUT:?}"
            )),
            Err(_) => Some("a push to a desk failed".to_owned()),
        };
        if let Some(why) = failed {
            tracing::warn!(target: "eid::up", "{why}");
            unreached += 1;
        }
    }
    unreached
}

/// In front mode: every 30 s, each desk replica run elsewhere that holds an older trust
/// list than the one in force (started before a scope change, not reached by it, or since
/// the list was signed again) is given the current one.
pub(super) async fn keep_desks_current(control: Arc<TrustControl>) {
    loop {
        let (jws, version) = {
            let data = control.data.lock().await;
            (data.trust_jws.clone(), data.trust.list().version)
        };
        push_to_desks(&control.desk_replicas, &jws, version).await;
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
}

/// Whether `wide` contains all of `narrow`.
fn covers(wide: Scope, narrow: Scope) -> bool {
    match (wide, narrow) {
        (Scope::Nation, _) => true,
        (Scope::Province(p), Scope::Province(q)) => p == q,
        (Scope::Province(p), Scope::Prefecture(q)) => q / 100 == p,
        (Scope::Province(p), Scope::County(c)) => c.province_digits() == p,
        (Scope::Prefecture(p), Scope::Prefecture(q)) => p == q,
        (Scope::Prefecture(p), Scope::County(c)) => c.prefecture_digits() == p,
        (Scope::County(a), Scope::County(b)) => a == b,
        _ => false,
    }
}

/// The trust list now in force, as JSON (what the console shows).
pub(super) async fn trust_list_json(State(control): State<Arc<TrustControl>>) -> Response {
    Json(control.data.lock().await.list.clone()).into_response()
}

/// Every version signed, newest first: version, when, each issuer's regions.
pub(super) async fn trust_versions(State(control): State<Arc<TrustControl>>) -> Response {
    let path = control.data.lock().await.dir.join(crate::data::HISTORY);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(target: "eid::up", file = %path.display(), cause = %e, "the trust list's history could not be read");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the trust list's history could not be read".into(),
            );
        }
    };
    let mut versions: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    versions.reverse();
    Json(versions).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScopeChange {
    /// The issuer's trust-list id (`cn-4501`).
    issuer: String,
    /// `nation`, a province (`45`), a prefecture (`4501`) or a county.
    region: String,
}

/// The operator widens (or narrows) an issuer's acceptance: the next trust-list version,
/// signed and handed at once to the authorities, the wallets and every desk.
pub(super) async fn set_scope(
    State(control): State<Arc<TrustControl>>,
    headers: HeaderMap,
    body: Result<Json<ScopeChange>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer
        .is_some_and(|b| eid_crypto::secrets_equal(b.as_bytes(), control.operator_token.as_bytes()))
    {
        return refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the operator token (eid-data/trust/operator-token) is required".into(),
        );
    }
    let Json(change) = match body {
        Ok(body) => body,
        Err(e) => return refused(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()),
    };
    let region = match Scope::parse(&change.region) {
        Ok(scope) => scope,
        Err(e) => return refused(StatusCode::BAD_REQUEST, "invalid_region", e.to_string()),
    };
    let now = control.clock.now();
    let mut data = control.data.lock().await;
    let mut list = data.list.clone();
    let Some(issuer) = list.issuers.iter().find(|i| i.id == change.issuer) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "unknown_issuer",
            format!(
                "no issuer {} in the trust list",
                eid_serve::excerpt(&change.issuer)
            ),
        );
    };
    // Widening only: every region accepted so far stays accepted (narrowing, which
    // strands credentials already in use, is a decision for the signing ceremony).
    if let Some(kept) = issuer.scopes.iter().find(|s| !covers(region, s.region)) {
        return refused(
            StatusCode::BAD_REQUEST,
            "would_narrow",
            format!(
                "{} would no longer cover {}, where {} is accepted now: give a region that contains it",
                change.region, kept.region, change.issuer
            ),
        );
    }
    // The same scope again changes nothing: no new version is signed, and the answer says so.
    if issuer.scopes.len() == 1 && issuer.scopes.iter().all(|s| s.region == region) {
        return Json(json!({
            "trust_list_version": list.version,
            "issuer": change.issuer,
            "region": change.region,
            "unchanged": true,
            "note": "the issuer is already accepted in exactly this region: no new version was signed",
        }))
        .into_response();
    }
    let since = issuer.scopes.first().map_or(now, |s| s.valid_from);
    if let Err(e) = eid_trust::edit::set_scope(
        &mut list,
        &change.issuer,
        AcceptanceScope {
            region,
            purposes: Purpose::ALL.to_vec(),
            valid_from: since,
            valid_until: None,
        },
        false,
    ) {
        return refused(StatusCode::BAD_REQUEST, "refused", e.to_string());
    }
    if let Err(e) = data.publish(list, now) {
        return refused(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string());
    }
    let trust = data.trust.clone();
    if let Ok(mut shared) = control.shared.write() {
        *shared = trust.clone();
    }
    for authority in &control.authorities {
        authority.set_trust_list(trust.clone());
    }
    for service in &control.services {
        if let Ok(mut verifier) = service.verifier().write() {
            verifier.replace_trust(trust.clone(), now);
        }
    }
    // Desks run elsewhere are told over HTTP, all at once and after the folder is free
    // again; one not reached now is given the list by `keep_desks_current` within 30 s.
    let jws = data.trust_jws.clone();
    drop(data);
    let unreached = push_to_desks(&control.desk_replicas, &jws, trust.list().version).await;
    let mut answer = json!({ "trust_list_version": trust.list().version, "issuer": change.issuer, "region": change.region });
    if unreached > 0 {
        answer["desks_not_reached"] = json!(unreached);
    }
    Json(answer).into_response()
}
