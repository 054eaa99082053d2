//! The web pages, served by the platform with their assets compiled in: the citizen wallet
//! (`/wallet/`), the verifier desk (`/desk/`) and the authority console (`/console/`), in
//! Chinese and English. What they need beyond the services' own APIs is here: reading a QR
//! code from the desk's picture (`POST /web/decode`), drawing one for the console's printed
//! code (`POST /web/qr`) and the verification counts (`GET /web/stats`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use eid_core::Clock;
use eid_verifier::qr::QrError;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

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

/// How the desk's QR reader (`POST /web/decode`) is bounded, beyond the picture's own
/// limits in `eid_verifier::qr`.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Pictures read at once; a request beyond them is answered 503 `busy` at once. A
    /// picture still being read after its deadline keeps its place until it is done.
    pub at_once: usize,
    /// Pictures being received at once (each at most `MAX_PIXELS` bytes); a request beyond
    /// them is answered 503 `busy`. A reading place is taken only once the whole picture is
    /// in, so clients that send their pictures slowly cannot hold the readers.
    pub receiving: usize,
    /// From the request to the answer, receiving the picture included; after it the answer
    /// is 503 `timed_out` and the reading is told to stop.
    pub deadline: Duration,
}

impl Default for DecodeLimits {
    /// Two at once (the machine's other work goes on beside them), five seconds (a
    /// picture within the limits reads in well under one).
    fn default() -> Self {
        Self {
            at_once: 2,
            receiving: 16,
            deadline: Duration::from_secs(5),
        }
    }
}

/// The pages, their assets, the QR reader and the counts.
pub fn router(counts: Counts) -> Router {
    router_with_limits(counts, DecodeLimits::default())
}

/// [`router`], with the QR reader bounded by `limits`.
pub fn router_with_limits(counts: Counts, limits: DecodeLimits) -> Router {
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
    let reader = Arc::new(QrReader {
        permits: Arc::new(Semaphore::new(limits.at_once)),
        uploads: Arc::new(Semaphore::new(limits.receiving)),
        deadline: limits.deadline,
    });
    router
        .route("/web/stats", get(stats))
        .route(
            "/web/qr",
            post(draw).layer(axum::extract::DefaultBodyLimit::max(QR_REQUEST_LIMIT)),
        )
        .with_state(counts)
        .merge(
            Router::new()
                .route("/web/decode", post(decode))
                .with_state(reader),
        )
}

/// What the QR reader's requests share.
struct QrReader {
    permits: Arc<Semaphore>,
    uploads: Arc<Semaphore>,
    deadline: Duration,
}

#[derive(Deserialize)]
struct Size {
    width: usize,
    height: usize,
}

/// Tells a reading to stop when the request's handler ends: answered, past its deadline,
/// or dropped because the client went away.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The grey levels of a picture (width × height bytes) → the QR code's content: as text
/// when it is UTF-8 (a phone's `mdoc:` engagement), always as base64url bytes.
///
/// Anyone who reaches the desk's page can send pictures, so the work is bounded (see
/// `docs/threat-model.md`): the size is checked before the body is read, at most
/// [`DecodeLimits::at_once`] pictures are read at once (more are refused, not queued), the
/// reading runs off the async threads and the whole request has a deadline.
async fn decode(
    State(reader): State<Arc<QrReader>>,
    size: Result<Query<Size>, axum::extract::rejection::QueryRejection>,
    body: Body,
) -> Response {
    let Ok(Query(Size { width, height })) = size else {
        return decode_refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the picture's width and height in pixels are wanted: /web/decode?width=W&height=H"
                .into(),
        );
    };
    if let Err(e) = eid_verifier::qr::check_size(width, height) {
        return qr_refused(&e);
    }
    let busy = || {
        let mut response = decode_refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the reader is busy with other pictures: try again in a moment".into(),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        response
    };
    let Ok(receiving) = reader.uploads.clone().try_acquire_owned() else {
        return busy();
    };
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(stop.clone());
    let permits = reader.permits.clone();
    let work = async move {
        // check_size bounds width × height by MAX_PIXELS: that much is read, no more.
        let grey = axum::body::to_bytes(body, width * height).await.ok()?;
        drop(receiving);
        // A reading place only for a picture that is all here.
        let Ok(permit) = permits.try_acquire_owned() else {
            return Some(Err(()));
        };
        let read = tokio::task::spawn_blocking(move || {
            // The place is given back when the reading ends, not when the request does:
            // a reading past its deadline still counts against the limit.
            let _permit = permit;
            eid_verifier::qr::read_qr_unless_stopped(width, height, &grey, &stop)
        });
        Some(Ok(read.await))
    };
    match tokio::time::timeout(reader.deadline, work).await {
        Ok(Some(Err(()))) => busy(),
        Ok(Some(Ok(Ok(Ok(content))))) => axum::Json(json!({
            "text": std::str::from_utf8(&content).ok(),
            "bytes": eid_crypto::b64url(&content),
        }))
        .into_response(),
        Ok(Some(Ok(Ok(Err(e))))) => qr_refused(&e),
        Ok(None) => decode_refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "the body must be the picture's {} grey levels ({width} × {height}) and no more",
                width * height
            ),
        ),
        Ok(Some(Ok(Err(_)))) => {
            // A panic inside the reader (its libraries assert on some pictures): the picture is not
            // logged, only that it happened.
            tracing::error!(target: "eid::up", width, height, "the QR reader failed on a picture");
            decode_refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the picture could not be read".into(),
            )
        }
        Err(_) => decode_refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "timed_out",
            format!(
                "reading the picture took longer than {} s: try a smaller or sharper picture",
                reader.deadline.as_secs_f32()
            ),
        ),
    }
}

/// Why a picture gave no code, as the reader's answer.
fn qr_refused(e: &QrError) -> Response {
    let (status, code) = match e {
        QrError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        QrError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "picture_too_large"),
        QrError::TooManyFinderPatterns => {
            (StatusCode::UNPROCESSABLE_ENTITY, "too_many_finder_patterns")
        }
        QrError::Stopped => (StatusCode::SERVICE_UNAVAILABLE, "timed_out"),
        _ => (StatusCode::BAD_REQUEST, "invalid_request"),
    };
    decode_refused(status, code, e.to_string())
}

/// The reader's error body: `error` and `error_description`, as the authority's OAuth-style
/// errors (RFC 6749 §5.2).
/// The largest `POST /web/qr` body: a code of QR version 20-M (666 bytes) in base64url,
/// with room for the JSON around it.
const QR_REQUEST_LIMIT: usize = 2048;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Draw {
    /// The code's bytes, base64url.
    code: String,
}

/// Draws a QR code (byte mode, level M) as SVG for the console's printed code, whose bytes
/// the authority answered: the console has no QR encoder of its own.
async fn draw(body: Result<axum::Json<Draw>, axum::extract::rejection::JsonRejection>) -> Response {
    let refused = |description: String| {
        decode_refused(StatusCode::BAD_REQUEST, "invalid_request", description)
    };
    let axum::Json(Draw { code }) = match body {
        Ok(body) => body,
        Err(e) => return refused(e.body_text()),
    };
    let Ok(bytes) = eid_crypto::b64url_decode(&code) else {
        return refused("code: base64url bytes are wanted".into());
    };
    if bytes.len() > eid_mdoc::offline::QR_CAPACITY_PAPER {
        return refused(format!(
            "a code of {} bytes does not fit QR version 20-M ({} bytes)",
            bytes.len(),
            eid_mdoc::offline::QR_CAPACITY_PAPER
        ));
    }
    match qr_svg(&bytes) {
        Some(svg) => axum::Json(json!({ "svg": svg })).into_response(),
        None => refused("the code does not fit a QR code".into()),
    }
}

fn decode_refused(status: StatusCode, code: &str, description: String) -> Response {
    (
        status,
        axum::Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
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
