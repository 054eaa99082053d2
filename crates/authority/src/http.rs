//! The two routers and what every request goes through: a request id (taken from
//! `x-request-id` when it is sane, else made), internal errors logged with it, and on the
//! admin listener the bearer token.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use eid_crypto::secrets_equal;

use crate::{
    ApiError, Authority, OPENAPI, admin, delegation, enrolment, issuance, metadata, paper,
    pseudonyms, status,
};

/// The public listener: OpenID4VCI, status lists, events, remote enrolment, OpenAPI.
pub fn public_router(authority: Arc<Authority>) -> Router {
    authority.start_relay();
    Router::new()
        .route(
            "/.well-known/openid-credential-issuer",
            get(metadata::issuer_metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::authorization_server_metadata),
        )
        .route("/token", post(issuance::token))
        .route("/nonce", post(issuance::nonce))
        .route("/credential", post(issuance::credential))
        .route("/status/{shard}", get(status::status_list))
        .route("/events", get(status::status_events))
        .route(
            "/enrolment",
            // Three images in base64 and the attestation.
            post(enrolment::remote_enrolment).layer(DefaultBodyLimit::max(
                enrolment::MAX_IMAGE * 3 * 4 / 3 + (64 << 10),
            )),
        )
        .route("/refresh", post(enrolment::refresh))
        .route(
            "/lost",
            // One face image in base64 and the wallet's proof.
            post(enrolment::report_lost).layer(DefaultBodyLimit::max(
                enrolment::MAX_IMAGE * 4 / 3 + (64 << 10),
            )),
        )
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .with_state(authority.clone())
        .layer(middleware::from_fn_with_state(
            authority.http.clone(),
            eid_serve::metrics::track,
        ))
        .layer(middleware::from_fn(eid_serve::request_id))
}

/// The admin listener: counter enrolment, lifecycle, registry events, audit; every route
/// behind `Authorization: Bearer <admin token>`.
pub fn admin_router(authority: Arc<Authority>) -> Router {
    authority.start_relay();
    Router::new()
        .route("/admin/enrolments", post(admin::counter_enrolment))
        .route(
            "/admin/credentials/{id}/{action}",
            post(admin::credential_action),
        )
        .route(
            "/admin/wallets/{provider}/{instance}/{action}",
            post(admin::wallet_action),
        )
        .route("/admin/residents/{action}", post(admin::resident_action))
        .route("/admin/rebind", post(admin::rebind))
        .route("/admin/paper", post(paper::print_paper))
        .route("/admin/delegations", post(delegation::register_delegation))
        .route("/admin/pseudonyms/resolve", post(pseudonyms::resolve))
        .route("/admin/registry/events", post(admin::registry_event))
        .route("/admin/audit", get(admin::audit_log))
        .route("/admin/credentials", get(admin::credentials))
        .route("/admin/stats", get(admin::stats))
        .route("/admin/events/wallets", get(status::wallet_events))
        .route("/openapi.json", get(openapi))
        // Where `eid up` nests the admin listener (`/authorities/<key>/admin/…`), the
        // document sits beside the routes it describes too.
        .route("/admin/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            authority.clone(),
            admin_auth,
        ))
        // For the load balancer and Prometheus, without the token: nothing personal here.
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(authority.clone())
        .layer(middleware::from_fn_with_state(
            authority.http.clone(),
            eid_serve::metrics::track,
        ))
        .layer(middleware::from_fn(eid_serve::request_id))
}

/// Alive: the process answers.
async fn health() -> Response {
    axum::Json(serde_json::json!({"alive": true})).into_response()
}

/// Ready to serve: every partition of the store answers and the issuer key signs. 503 names
/// what does not (never how it failed in detail: the log has that, with the request id).
async fn ready(State(authority): State<Arc<Authority>>) -> Response {
    let mut missing = Vec::new();
    // Published shards 0..P are each partition's first local shard: one read each.
    for shard in 0..authority.store.partitions() as u64 {
        if authority.store.shard_head(shard).await.is_err() {
            missing.push(format!("store partition {shard} does not answer"));
        }
    }
    match authority.signers.at(authority.clock.now()) {
        None => missing.push("no document signer is valid now".to_owned()),
        Some(ds) if ds.signer().sign(b"eid ready").is_err() => {
            missing.push("the issuer key does not sign".to_owned());
        }
        Some(_) => {}
    }
    // A successor's problem is for the operator (`/metrics`, and the next start refuses):
    // taking this replica out now would not help.
    let now = authority.clock.now();
    missing.extend(
        authority
            .signers_refused()
            .into_iter()
            .filter(|(from, _)| *from <= now)
            .map(|(_, problem)| problem),
    );
    if !authority.broker_up() {
        missing.push("NATS does not answer (events wait in the outbox)".to_owned());
    }
    if missing.is_empty() {
        axum::Json(serde_json::json!({"ready": true})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"ready": false, "missing": missing})),
        )
            .into_response()
    }
}

/// Prometheus: both listeners' requests, the status changes made, issuance outcomes, and
/// the outbox: rows waiting and the age of the oldest, partitions not answering, rows
/// published.
async fn metrics(State(authority): State<Arc<Authority>>) -> Response {
    let now = authority.clock.now().unix_timestamp();
    let (pending, oldest, unanswered) = authority.store.outbox_lag().await;
    let oldest = oldest.map_or(0, |at| (now - at).max(0)) as f64;
    let broker = if authority.broker_up() { 1.0 } else { 0.0 };
    let covered = authority.signers.covered_until(authority.clock.now());
    let refused = authority.signers_refused().len() as f64;
    let signers_left = (covered.unix_timestamp() - now).max(0) as f64;
    let (lists_held, newest_version) = authority.lists_held();
    eid_serve::metrics::render(
        &authority.http,
        &[
            &authority.changes,
            &authority.issuance_outcomes,
            &authority.relayed,
            &authority.lists_signed,
        ],
        &[
            (
                "eid_status_lists_held",
                "Status lists this replica holds signed, in either form (a shard's JWT and CWT count apart).",
                lists_held as f64,
            ),
            (
                "eid_status_list_version_newest",
                "The newest version among the status lists this replica holds signed (0: none yet); a change bumps its own shard's version, which need not be the newest.",
                newest_version as f64,
            ),
            (
                "eid_outbox_pending",
                "Events written with their change and not yet delivered, in the partitions that answer (counted up to 100000 each).",
                pending as f64,
            ),
            (
                "eid_outbox_partitions_unanswered",
                "Store partitions whose outbox could not be read just now.",
                unanswered as f64,
            ),
            (
                "eid_outbox_oldest_seconds",
                "Age of the oldest event waiting in the outbox (0: none waits).",
                oldest,
            ),
            (
                "eid_document_signer_seconds_left",
                "Seconds until no configured DS certificate is valid (the end of unbroken coverage from now): alert well before a credential's validity (a successor goes under [[successors]]).",
                signers_left,
            ),
            (
                "eid_document_signer_problems",
                "Document signers (current or successors) that verifiers under the trust list would refuse: a chain to no listed IACA, a key missing from the issuer's offline keys.",
                refused,
            ),
            (
                "eid_broker_up",
                "1 when the last delivery to NATS succeeded (always 1 without NATS).",
                broker,
            ),
        ],
    )
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

async fn not_found(request: Request) -> ApiError {
    ApiError::NotFound(format!(
        "no endpoint {}",
        eid_serve::excerpt(request.uri().path())
    ))
}

/// Compares the bearer token with the configured one in constant time (over their hashes).
async fn admin_auth(
    State(authority): State<Arc<Authority>>,
    request: Request,
    next: Next,
) -> Response {
    let configured = &authority.settings.admin_token;
    let given = issuance::bearer(request.headers()).unwrap_or_default();
    if configured.is_empty() || !secrets_equal(given.as_bytes(), configured.as_bytes()) {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}
