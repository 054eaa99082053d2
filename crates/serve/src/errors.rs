//! One error shape for every service: `{"error", "error_description"}` as JSON (the
//! OAuth form, RFC 6749 §5.2), and input quoted back only as a short excerpt.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// The header a request's id travels in, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// Put on a 500 response so that [`request_id`] logs the cause with the request's id; the
/// client sees only the id.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

/// Middleware every router runs first: the request's id (taken from `x-request-id` when it
/// is sane, else made) on the request and its response, errors in one JSON shape
/// ([`json_errors`]), and an internal error logged with the id, the method and the route's
/// template (never the path: a path can hold an id) and the cause a handler put on it
/// ([`InternalCause`]).
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let mut response = json_errors(next.run(request).await).await;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(target: "eid::http", request_id = %id, method = %method, route = %route, cause = %cause, "internal error");
    } else if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(target: "eid::http", request_id = %id, method = %method, route = %route, "internal error");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// A request id from a process-wide counter and the process id: unique per process run, no
/// randomness needed.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("req-{}-{n}", std::process::id())
}

/// Every error in one shape: a framework rejection (an unreadable body or path, a method
/// not allowed, a body too large) is plain text; it becomes `{"error", "error_description"}`
/// like the handlers' own errors, its text cut to an excerpt (a rejection may quote input).
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request",
    };
    let description = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        cut(text.trim(), 200)
    };
    let body = serde_json::to_vec(&serde_json::json!({
        "error": code,
        "error_description": description,
    }))
    .unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// `text` cut to at most `max` characters, with `…` where it was cut.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// At most the first 64 characters of a value taken from a request, quoted, for an error
/// message: enough to recognise, never the whole input echoed back.
pub fn excerpt(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", &value[..end]),
        None => format!("{value:?}"),
    }
}
