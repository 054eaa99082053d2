//! One error shape for every service: `{"error", "error_description"}` as JSON (the
//! OAuth form, RFC 6749 §5.2), and input quoted back only as a short excerpt.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

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
