//! The one place where the service's errors become HTTP responses, in the shape every eid
//! service answers errors in: `{"error", "error_description"}` (RFC 6749 §5.2). A refused
//! credential is not an error: it is a report, with 200.

use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_serve::InternalCause;
use serde_json::json;

use crate::sessions::SessionError;

/// An error answered to a client. Descriptions never carry personal data, and quote input
/// only as an excerpt.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400 with a code: the request is not one this route takes (unknown purpose,
    /// unreadable body, a purpose the relying party is not registered for…).
    BadRequest(&'static str, String),
    /// 404 with a code: no such request (answered, expired, or never made here).
    NotFound(&'static str, String),
    /// 409 with a code: another answer to the same request is being checked.
    Conflict(&'static str, String),
    /// 503 with `Retry-After: 1` and a code: every place is taken (`busy`), or the shared
    /// store of requests did not answer (`unavailable`); nothing was decided.
    Unavailable(&'static str, String),
    /// 500: logged with the request id, not echoed.
    Internal(&'static str),
}

impl ApiError {
    /// 400 `invalid_request`.
    pub(crate) fn invalid(description: impl Into<String>) -> Self {
        Self::BadRequest("invalid_request", description.into())
    }

    /// 503 `busy`.
    pub(crate) fn busy(description: impl Into<String>) -> Self {
        Self::Unavailable("busy", description.into())
    }

    /// 500: a lock poisoned by a panic, a task that did not finish.
    pub(crate) fn poisoned() -> Self {
        Self::Internal("the verifier's lock is poisoned")
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self::invalid(e.body_text())
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        Self::Unavailable("unavailable", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, description) = match self {
            Self::BadRequest(code, d) => (StatusCode::BAD_REQUEST, code, d),
            Self::NotFound(code, d) => (StatusCode::NOT_FOUND, code, d),
            Self::Conflict(code, d) => (StatusCode::CONFLICT, code, d),
            Self::Unavailable(code, d) => (StatusCode::SERVICE_UNAVAILABLE, code, d),
            Self::Internal(cause) => {
                let mut response = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({
                        "error": "server_error",
                        "error_description": "internal error; quote the x-request-id header when reporting it",
                    })),
                )
                    .into_response();
                response
                    .extensions_mut()
                    .insert(InternalCause(cause.to_owned()));
                return response;
            }
        };
        let mut response = (
            status,
            axum::Json(json!({
                "error": code,
                "error_description": eid_serve::cut(&description, 300),
            })),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
