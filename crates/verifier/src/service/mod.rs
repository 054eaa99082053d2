//! The verifier as a service (`eid verifier serve`): one relying party's desk, gate or
//! website back end, on every channel, keeping its trust and status lists fresh.
//!
//! | route | what |
//! |---|---|
//! | `POST /verify/offline?purpose=P` | an offline QR code's bytes (`application/octet-stream`, or base64url text) → report |
//! | `POST /verify/in-person` | `{"engagement": "mdoc:…", "purpose", ?"attributes"}`: connects to the phone over TCP, runs the ISO 18013-5 exchange → report |
//! | `POST /vp/requests` | `{"purpose", ?"attributes"}` → `{"id", "result", "invocation", "request_uri"}` (OpenID4VP); `result` is the requester's secret path to the outcome |
//! | `GET /vp/request/{id}` | the signed request object (`application/oauth-authz-req+jwt`) |
//! | `POST /vp/response` | the wallet's `direct_post.jwt` answer (`response=<JWE>`, or an error response as plain `error` and `state` fields) → `{"accepted"}`; a refused or declined answer leaves the request open (up to 5 answers), an accepted one closes it |
//! | `GET /vp/results/{handle}` | `{"status": "pending"}`, or `"accepted"` / `"refused"` with the report |
//! | `POST /dc/requests` | as `/vp/requests`, for the page's `navigator.credentials.get` (W3C Digital Credentials API: `org-iso-mdoc`, `openid4vp-v1-signed`, and `openid4vp-v1-unsigned` where the registration lists the page's origin) → `{"response", "origin", "digital"}` |
//! | `POST /dc/responses/{handle}` | the DigitalCredential's `{"protocol", "data"}` as the page received it → report; one answer per request |
//! | `PUT /trust-list` | a newer signed trust list (checked against the root keys and the one held) |
//! | `GET /health` | relying party, trust list version, status lists held and their age |
//! | `GET /ready` | 200 when it can decide (trust list in force, a status list held from each source followed), else 503 saying what is missing |
//! | `GET /metrics` | Prometheus: requests by route template, verifications by channel and outcome code, trust list version, status lists held |
//!
//! Two of them face the holder's wallet — `GET /vp/request/{id}` and `POST /vp/response` —
//! and the rest the requester (the desk's page, the bank's back end, the operator):
//! [`wallet_router`] and [`requester_router`] serve them on listeners of their own
//! (`eid verifier serve --wallet-listen`), [`router`] on one (`eid up`). Both answer
//! `GET /health`. The open online and Digital Credentials API requests are kept behind
//! [`crate::sessions::SessionStore`]: in the process, or in Redis for replicas.
//!
//! Every report is the [`Report`](crate::Report) JSON, with HTTP 200 whether accepted or refused; a request
//! that is not one (unknown purpose, unreadable body) gets 400 with `{"error", "error_description"}`
//! (the shape every eid service answers errors in; one error type maps them, and an internal
//! error is logged with the request's `x-request-id`, never answered).
//!
//! [`keep_fresh`] runs beside the routes: it fetches the configured status lists at start
//! and every half of the strictest staleness bound among the relying party's purposes (at
//! least 5 s, at most an hour) — every second while one is missing (not published yet, or
//! unreachable) — and follows the authority's pushed changes, reconnecting
//! with a growing pause (1 s to 30 s) and refetching every list after each reconnection —
//! pushes sent while disconnected are lost, the lists have them.

mod asking;
mod dc;
mod error;
mod face;
mod fresh;
mod in_person;
mod offline;
mod ops;
mod state;
mod vp;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

pub use fresh::keep_fresh;
pub use state::{Service, ServiceConfig};

/// Every route on one listener: the requester's and the wallet's.
pub fn router(service: Arc<Service>) -> Router {
    layered(requester_routes().merge(wallet_routes()), service)
}

/// The routes that face the requester: the desk's page, the bank's back end, the operator.
pub fn requester_router(service: Arc<Service>) -> Router {
    layered(requester_routes(), service)
}

/// The routes that face the holder's wallet, and `GET /health` for the load balancer.
pub fn wallet_router(service: Arc<Service>) -> Router {
    layered(wallet_routes().route("/health", get(ops::health)), service)
}

fn requester_routes() -> Router<Arc<Service>> {
    Router::new()
        .route("/verify/offline", post(offline::verify_offline))
        .route("/verify/in-person", post(in_person::verify_in_person))
        .route("/vp/requests", post(vp::create_request))
        .route("/vp/results/{handle}", get(vp::request_outcome))
        .route("/dc/requests", post(dc::create_dc_request))
        .route("/dc/responses/{handle}", post(dc::dc_response))
        .route("/trust-list", put(ops::replace_trust_list))
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
}

fn wallet_routes() -> Router<Arc<Service>> {
    Router::new()
        .route("/vp/request/{id}", get(vp::request_object))
        .route("/vp/response", post(vp::response))
}

/// What every request goes through: its metrics, then its id (errors in one JSON shape,
/// an internal one logged with the id).
fn layered(routes: Router<Arc<Service>>, service: Arc<Service>) -> Router {
    let http = service.http.clone();
    routes
        .with_state(service)
        .layer(axum::middleware::from_fn_with_state(
            http,
            eid_serve::metrics::track,
        ))
        .layer(axum::middleware::from_fn(eid_serve::request_id))
}
