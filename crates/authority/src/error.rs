//! The one place where errors become HTTP responses: OAuth-style `error` /
//! `error_description` (RFC 6749 §5.2, RFC 6750 §3, OpenID4VCI 1.0 §8.3.1.2), internal
//! errors logged with the request id and never echoed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to a client. Descriptions never carry personal data.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with an OAuth error code.
    BadRequest(&'static str, String),
    /// 401 `invalid_token` with `WWW-Authenticate: Bearer` (RFC 6750 §3).
    InvalidToken(String),
    /// 401 for the admin API.
    Unauthorized,
    /// 403 with a code.
    Forbidden(&'static str, String),
    /// 404.
    NotFound(String),
    /// 406: the `Accept` header asks for a form not served.
    NotAcceptable(String),
    /// 422: a proofing refusal, with its reason code.
    Refused(&'static str, String),
    /// 429: too many failed attempts.
    TooManyAttempts(String),
    /// 503: the feature is not in this build or configuration.
    Unavailable(String),
    /// 503 with `Retry-After`: the database stayed busy; nothing was changed.
    Busy,
    /// 500: logged with the request id, not echoed.
    Internal(String),
}

/// Put on a 500 response so the request-id layer logs the cause with the id.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl<E: std::error::Error + 'static> From<E> for ApiError {
    fn from(e: E) -> Self {
        // Contention that outlasted the store's retries: nothing was changed, and the
        // caller (the hotline, a wallet) must see that and may try again — not a 500.
        if let Some(eid_store::StoreError::Busy { .. }) =
            (&e as &dyn std::error::Error).downcast_ref::<eid_store::StoreError>()
        {
            return Self::Busy;
        }
        Self::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, description) = match self {
            Self::BadRequest(code, d) => (StatusCode::BAD_REQUEST, code, d),
            Self::InvalidToken(d) => (StatusCode::UNAUTHORIZED, "invalid_token", d),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the admin API needs Authorization: Bearer <admin token>".into(),
            ),
            Self::Forbidden(code, d) => (StatusCode::FORBIDDEN, code, d),
            Self::NotFound(d) => (StatusCode::NOT_FOUND, "not_found", d),
            Self::NotAcceptable(d) => (StatusCode::NOT_ACCEPTABLE, "not_acceptable", d),
            Self::Refused(code, d) => (StatusCode::UNPROCESSABLE_ENTITY, code, d),
            Self::TooManyAttempts(d) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", d),
            Self::Unavailable(d) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", d),
            Self::Busy => {
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({
                        "error": "temporarily_unavailable",
                        "error_description": "the database stayed busy: nothing was changed; try again",
                    })),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return response;
            }
            Self::Internal(cause) => {
                let mut response = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({
                        "error": "server_error",
                        "error_description": "internal error; quote the x-request-id header when reporting it",
                    })),
                )
                    .into_response();
                response.extensions_mut().insert(InternalCause(cause));
                return response;
            }
        };
        // A framework or serde message may quote the input (an unknown field's name, a
        // value): never more than a short excerpt of it goes back.
        let description = eid_serve::cut(&description, 300);
        let bearer = status == StatusCode::UNAUTHORIZED;
        let mut response = (
            status,
            axum::Json(json!({ "error": code, "error_description": description })),
        )
            .into_response();
        if bearer {
            let challenge = format!("Bearer error=\"{code}\"");
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
