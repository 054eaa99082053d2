//! The demo's HTTP calls: a JSON answer, or the step's failure saying what happened.

use eid_http::{HttpError, fetch, post_json};
use serde_json::Value;

/// One step's failure: what was expected and what happened.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StepFailed(String);

impl StepFailed {
    pub(crate) fn new(what: impl Into<String>) -> Self {
        Self(what.into())
    }
}

pub(super) fn failed(what: impl Into<String>) -> StepFailed {
    StepFailed(what.into())
}

pub(super) fn http(what: &str) -> impl Fn(HttpError) -> StepFailed + '_ {
    move |e| match e {
        HttpError::Status(status, body) => failed(format!("{what}: HTTP {status}: {body}")),
        e => failed(format!("{what}: {e}")),
    }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Value, StepFailed> {
    serde_json::from_slice(bytes).map_err(|e| failed(format!("an answer is not JSON: {e}")))
}

pub(crate) async fn get(url: &str) -> Result<Value, StepFailed> {
    parse(&fetch(url, "application/json").await.map_err(http(url))?)
}

pub(crate) async fn post(
    url: &str,
    bearer: Option<&str>,
    body: Value,
) -> Result<Value, StepFailed> {
    parse(
        &post_json(url, bearer, body.to_string())
            .await
            .map_err(http(url))?,
    )
}

/// `base` with `more`'s fields (both objects).
pub(super) fn merged(mut base: Value, more: Value) -> Value {
    if let (Some(base), Value::Object(more)) = (base.as_object_mut(), more) {
        base.extend(more);
    }
    base
}
