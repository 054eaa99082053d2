//! The one place where errors become HTTP responses: OAuth-style `error` /
//! `error_description` (RFC 6749 §5.2, RFC 6750 §3, OpenID4VCI 1.0 §8.3.1.2), internal
//! errors logged with the request id and never echoed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_serve::InternalCause;
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
    /// 503 with `Retry-After`: a database did not answer (restarting, cut off).
    Unreachable,
    /// 500: logged with the request id, not echoed.
    Internal(String),
}

impl<E: std::error::Error + 'static> From<E> for ApiError {
    fn from(e: E) -> Self {
        // Contention that outlasted the store's retries: nothing was changed, and the
        // caller (the hotline, a wallet) must see that and may try again — not a 500.
        if let Some(eid_store::StoreError::Busy { .. }) =
            (&e as &dyn std::error::Error).downcast_ref::<eid_store::StoreError>()
        {
            return Self::Busy;
        }
        // A database restarting or cut off: the caller may try again in a moment (the
        // cause is logged, not answered).
        if let Some(store) = (&e as &dyn std::error::Error).downcast_ref::<eid_store::StoreError>()
            && store.is_unreachable()
        {
            tracing::warn!(target: "eid::store", cause = %store, "a database did not answer");
            return Self::Unreachable;
        }
        Self::Internal(e.to_string())
    }
}

impl ApiError {
    /// The error code answered (a finite set: what metrics count by).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(code, _) | Self::Forbidden(code, _) | Self::Refused(code, _) => code,
            Self::InvalidToken(_) | Self::Unauthorized => "invalid_token",
            Self::NotFound(_) => "not_found",
            Self::NotAcceptable(_) => "not_acceptable",
            Self::TooManyAttempts(_) => "too_many_attempts",
            Self::Unavailable(_) => "unavailable",
            Self::Busy | Self::Unreachable => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
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
            Self::Busy | Self::Unreachable => {
                let description = if matches!(self, Self::Busy) {
                    "the database stayed busy: nothing was changed; try again"
                } else {
                    "a database did not answer: try again in a moment (making the same change again is safe)"
                };
                let mut response = (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({
                        "error": "temporarily_unavailable",
                        "error_description": description,
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
