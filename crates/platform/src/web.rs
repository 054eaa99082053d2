//! The web pages, served by the platform with their assets compiled in: the citizen wallet
//! (`/wallet/`), the verifier desk (`/desk/`) and the authority console (`/console/`), in
//! Chinese and English. What they need beyond the services' own APIs is here: reading a QR
//! code from the desk's picture (`POST /web/decode`) and the verification counts
//! (`GET /web/stats`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use eid_core::Clock;
use serde::Deserialize;
use serde_json::json;

const ASSETS: [(&str, &str, &str); 9] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("../web/index.html"),
    ),
    (
        "/wallet/",
        "text/html; charset=utf-8",
        include_str!("../web/wallet.html"),
    ),
    (
        "/desk/",
        "text/html; charset=utf-8",
        include_str!("../web/desk.html"),
    ),
    (
        "/console/",
        "text/html; charset=utf-8",
        include_str!("../web/console.html"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_str!("../web/app.css"),
    ),
    (
        "/assets/i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/i18n.js"),
    ),
    (
        "/assets/wallet.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/wallet.js"),
    ),
    (
        "/assets/desk.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/desk.js"),
    ),
    (
        "/assets/console.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/console.js"),
    ),
];

/// Verifications per hour (Unix hour start → count), as the desks answered them.
#[derive(Clone)]
pub struct Counts {
    per_hour: Arc<Mutex<BTreeMap<i64, u64>>>,
    clock: Arc<dyn Clock>,
}

impl Counts {
    /// Empty counts on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            per_hour: Arc::new(Mutex::new(BTreeMap::new())),
            clock,
        }
    }
}

/// Counts every answered verification of a desk (a middleware on its routes).
pub async fn count_verifications(
    State(counts): State<Counts>,
    request: Request,
    next: Next,
) -> Response {
    let verification = request.method() == axum::http::Method::POST
        && (request.uri().path().ends_with("/verify/offline")
            || request.uri().path().ends_with("/verify/in-person")
            || request.uri().path().ends_with("/vp/response"));
    let response = next.run(request).await;
    if verification && response.status().is_success() {
        let hour = counts.clock.now().unix_timestamp() / 3600 * 3600;
        if let Ok(mut per_hour) = counts.per_hour.lock() {
            *per_hour.entry(hour).or_default() += 1;
            // A day is what the console shows.
            while per_hour.len() > 48 {
                per_hour.pop_first();
            }
        }
    }
    response
}

/// The pages, their assets, the QR reader and the counts.
pub fn router(counts: Counts) -> Router {
    let mut router = Router::new();
    for (path, content_type, body) in ASSETS {
        router = router.route(
            path,
            get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }),
        );
    }
    for page in ["/wallet", "/desk", "/console"] {
        let to = format!("{page}/");
        router = router.route(
            page,
            get(move || async move { axum::response::Redirect::permanent(&to) }),
        );
    }
    router
        .route(
            "/web/decode",
            post(decode).layer(DefaultBodyLimit::max(
                eid_verifier::qr::MAX_SIDE * eid_verifier::qr::MAX_SIDE,
            )),
        )
        .route("/web/stats", get(stats))
        .with_state(counts)
}

#[derive(Deserialize)]
struct Size {
    width: usize,
    height: usize,
}

/// The grey levels of a picture (width × height bytes) → the QR code's content: as text
/// when it is UTF-8 (a phone's `mdoc:` engagement), always as base64url bytes.
async fn decode(Query(size): Query<Size>, body: Bytes) -> Response {
    let read = tokio::task::spawn_blocking(move || {
        eid_verifier::qr::read_qr(size.width, size.height, &body)
    })
    .await;
    match read {
        Ok(Ok(content)) => axum::Json(json!({
            "text": std::str::from_utf8(&content).ok(),
            "bytes": eid_crypto::b64url(&content),
        }))
        .into_response(),
        Ok(Err(eid_verifier::qr::QrError::NotFound)) => (
            StatusCode::NOT_FOUND,
            axum::Json(
                json!({"error": "not_found", "message": "no readable QR code in the picture"}),
            ),
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_request", "message": e.to_string()})),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn stats(State(counts): State<Counts>) -> Response {
    let per_hour = counts
        .per_hour
        .lock()
        .map(|m| {
            m.iter()
                .map(|(hour, count)| json!({"hour": hour, "count": count}))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    axum::Json(json!({ "verified_per_hour": per_hour })).into_response()
}

/// A QR code of `content` as an SVG picture (error correction M, as the offline code's
/// capacity is counted).
pub fn qr_svg(content: &[u8]) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(content, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
    )
}
