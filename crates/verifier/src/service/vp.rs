//! OpenID4VP over the relying party's own routes: the requester makes a request and polls
//! its outcome; the wallet fetches the signed request object and posts its answer
//! (`direct_post.jwt`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::asking::{Asking, Photographs, asked_attributes, registered};
use super::error::ApiError;
use super::face::{Live, live_template, with_face};
use super::state::Service;
use crate::openid4vp::OnlineTerms;
use crate::sessions::{Online, Taken};

/// Answers taken for one request before it stops listening (a refused answer does not
/// close a request: anyone can read the request object and post a well-formed refusal).
const MAX_ANSWERS: u32 = 5;

/// `POST /vp/requests` and `POST /dc/requests`.
#[derive(Deserialize)]
pub(super) struct NewRequest {
    pub(super) purpose: String,
    #[serde(default)]
    pub(super) attributes: Option<Vec<String>>,
    /// A photograph of the person the request is for (a bank's customer in front of its
    /// camera), compared with the portrait the answer discloses: only its face template is
    /// kept with the request.
    #[serde(default)]
    face: Option<String>,
    /// The head turn: a second photograph, the customer's head turned to their `turn`;
    /// checked when the request is made (a request whose photographs fail it is not made).
    #[serde(default)]
    face_turned: Option<String>,
    #[serde(default)]
    turn: Option<String>,
}

impl NewRequest {
    pub(super) fn photographs(&mut self) -> Photographs {
        Photographs {
            face: self.face.take(),
            face_turned: self.face_turned.take(),
            turn: self.turn.take(),
        }
    }
}

pub(super) async fn create_request(
    State(service): State<Arc<Service>>,
    body: Result<axum::Json<NewRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let axum::Json(mut new) = body?;
    let photographs = new.photographs();
    let Asking {
        purpose,
        face,
        turned,
        signer,
        certificate,
    } = Asking::read(&service, &new.purpose, photographs, "online")?;
    let now = service.clock.now();
    let base = service.config.public_url.trim_end_matches('/');
    let made = {
        let verifier = service.read()?;
        registered(&verifier, purpose)?;
        let attributes = asked_attributes(&verifier, purpose, new.attributes)?;
        verifier.online_request(
            &OnlineTerms {
                purpose,
                attributes: Some(&attributes),
                intent_to_retain: false,
                signer: signer.as_ref(),
                certificate: &certificate,
                request_base: &format!("{base}/vp/request"),
                response_uri: &format!("{base}/vp/response"),
                lifetime: service.config.request_lifetime,
            },
            now,
            service.random.as_ref(),
        )
    }
    .map_err(|e| ApiError::BadRequest("request_failed", e.to_string()))?;
    // The face work last: a request refused above costs none.
    let face = live_template(&service, face.as_deref(), turned).await?;
    let handle = service.handle()?;
    let id = made.session.id.clone();
    let mut online = Online::new(made.session, made.request_object, handle.clone(), None);
    if let Some((template, live)) = face {
        online.face = Some(template);
        online.face_live = live;
    }
    service
        .in_store(move |sessions| sessions.open(online, now))
        .await?;
    Ok(axum::Json(json!({
        "id": id,
        "result": format!("/vp/results/{handle}"),
        "invocation": made.invocation,
        "request_uri": made.request_uri,
    }))
    .into_response())
}

/// `GET /vp/request/{id}`: the signed request object, while it may be answered.
pub(super) async fn request_object(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match service
        .in_store(move |sessions| sessions.request_object(&id))
        .await?
    {
        Some((object, expires_at)) if expires_at > service.clock.now() => Ok((
            [(header::CONTENT_TYPE, "application/oauth-authz-req+jwt")],
            object,
        )
            .into_response()),
        _ => Err(ApiError::NotFound(
            "not_found",
            "no such request, or it expired".into(),
        )),
    }
}

/// An answer posted to the response URI.
enum Answer {
    /// `response=<JWE>`: a presentation or an error response, encrypted.
    Encrypted(String),
    /// `error=…&state=…` in the clear (OpenID4VP §8.5 with `direct_post`).
    Error { error: String, state: String },
}

/// `POST /vp/response`: the wallet's answer.
pub(super) async fn response(
    State(service): State<Arc<Service>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // One pass over the form (the answer is kilobytes); the first of each field counts.
    let (mut jwe, mut error, mut state) = (None, None, None);
    for (name, value) in url::form_urlencoded::parse(&body) {
        let slot = match &*name {
            "response" => &mut jwe,
            "error" => &mut error,
            "state" => &mut state,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.into_owned());
        }
    }
    let answer = match (jwe, error, state) {
        (Some(jwe), _, _) => Answer::Encrypted(jwe),
        (None, Some(error), Some(state)) => Answer::Error { error, state },
        (None, Some(_), None) => {
            return Err(ApiError::invalid("the error response has no state"));
        }
        (None, None, _) => {
            return Err(ApiError::invalid(
                "the answer has no response parameter (nor an error)",
            ));
        }
    };
    // The request is found by the JWE's kid (the key was made for it), read before
    // opening, or by the state of a plain error response.
    let kid = match &answer {
        Answer::Encrypted(jwe) => jwe
            .split('.')
            .next()
            .and_then(|h| eid_crypto::b64url_decode(h).ok())
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
            .and_then(|h| h.get("kid").and_then(|k| k.as_str()).map(str::to_owned))
            .ok_or_else(|| ApiError::invalid("the answer names no request (kid)"))?,
        Answer::Error { state, .. } => {
            let state = state.clone();
            service
                .in_store(move |sessions| sessions.by_state(&state))
                .await?
                .ok_or_else(|| ApiError::invalid("no such request (state)"))?
        }
    };
    // Taken, checked and put back by a task of its own: a client that hangs up mid-way
    // (dropping this handler) cannot leave the request taken and its outcome unwritten.
    tokio::spawn(answer_request(service, kid, answer))
        .await
        .map_err(|_| ApiError::Internal("the answer's check panicked"))?
}

/// Takes request `kid`, checks `answer` against it and puts it back with the outcome (the
/// request itself is all that is held over the decryption and the checks).
async fn answer_request(
    service: Arc<Service>,
    kid: String,
    answer: Answer,
) -> Result<Response, ApiError> {
    let taken = {
        let kid = kid.clone();
        service
            .in_store(move |sessions| sessions.take(&kid, MAX_ANSWERS))
            .await?
    };
    let mut online = match taken {
        Taken::Got(online) => *online,
        Taken::Missing => return Err(ApiError::invalid("no such request")),
        Taken::Answered => return Err(ApiError::invalid("this request was answered already")),
        Taken::NoMoreAnswers => {
            return Err(ApiError::invalid("this request takes no more answers"));
        }
        Taken::Busy => {
            return Err(ApiError::Conflict(
                "busy",
                "another answer to this request is being checked; try again in a moment".into(),
            ));
        }
    };
    // Checked in place: decrypting and verifying an answer is pure computation (no store,
    // no network; the body is bounded) of about 150 µs, and a hop to the blocking pool cost
    // a third as much again (the service benchmark).
    let now = service.clock.now();
    let checked = service.read().map(|v| match &answer {
        Answer::Encrypted(jwe) => v.verify_online(&online.session, jwe, now),
        Answer::Error { error, state } => v.wallet_error(&online.session, error, Some(state), now),
    });
    // The customer photographed with the request against the disclosed portrait.
    let report = match checked {
        Ok(report) => {
            let live = Live::Template(online.face.clone(), online.face_live);
            with_face(&service, report, live).await.ok()
        }
        Err(_) => None,
    };
    online.answers += 1;
    // The latest answer's report stands until one is accepted, which closes the request.
    if let Some(report) = &report {
        online.accepted = report.accepted;
        online.report = serde_json::to_value(report).ok();
        service.notice(report);
    }
    // The customer's face template is kept no longer than it can serve.
    if online.accepted || online.answers >= MAX_ANSWERS {
        online.face = None;
    }
    let accepted = online.accepted;
    service
        .in_store(move |sessions| sessions.put_back(online))
        .await?;
    Ok(axum::Json(json!({ "accepted": accepted })).into_response())
}

/// `GET /vp/results/{handle}`: by the requester's secret handle (the request's id is
/// public), pending or the report.
pub(super) async fn request_outcome(
    State(service): State<Arc<Service>>,
    Path(handle): Path<String>,
) -> Result<Response, ApiError> {
    match service
        .in_store(move |sessions| sessions.outcome(&handle))
        .await?
    {
        // The report holds the disclosed attributes: no cache keeps it.
        Some(Some(report)) => Ok((
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(json!({
                "status": if report["accepted"] == true { "accepted" } else { "refused" },
                "report": report,
            })),
        )
            .into_response()),
        Some(None) => Ok(axum::Json(json!({"status": "pending"})).into_response()),
        None => Err(ApiError::NotFound("not_found", "no such request".into())),
    }
}
