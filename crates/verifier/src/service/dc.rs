//! The W3C Digital Credentials API: the relying party's page asks for a request, passes it to
//! `navigator.credentials.get`, and passes the wallet's answer back. The requests wait in the
//! store of requests, so that any replica of the desk takes the answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::asking::{Asking, asked_attributes, registered};
use super::error::ApiError;
use super::face::{Live, live_template, with_face};
use super::state::Service;
use super::vp::NewRequest;
use crate::dc_api::MdocDcApiRequest;
use crate::in_person::ReaderIdentity;
use crate::report::Report;
use crate::sessions::{DcPending, DcTaken};

/// Digital Credentials API requests being made at once in this process (each signs two or
/// three requests and may make a face template); more are refused with 503 `busy` at once.
/// Those waiting for their answer are bounded by the store, asked before the work with these
/// counted in (`SessionStore::dc_room`).
const DC_MAKING: usize = 64;

/// The origin the relying party's page calls the Digital Credentials API from: the origin of
/// the service's public URL (the page is served from the same site as its desk service).
fn page_origin(public_url: &str) -> Option<String> {
    let url = url::Url::parse(public_url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// A place among [`DC_MAKING`], given back when dropped.
struct Making<'a>(&'a AtomicUsize);

impl<'a> Making<'a> {
    fn take(service: &'a Service) -> Result<Self, ApiError> {
        let making = &service.dc_making;
        if making.fetch_add(1, Ordering::AcqRel) >= DC_MAKING {
            making.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::busy(
                "too many Digital Credentials API requests are being made; try again in a moment",
            ));
        }
        Ok(Self(making))
    }
}

impl Drop for Making<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `POST /dc/requests`: a Digital Credentials API request for the page at this service's
/// origin, as for `/vp/requests` (purpose, attributes, the customer's photographs), in each
/// protocol the wallet may answer: `org-iso-mdoc` (ISO/IEC 18013-7 Annex C),
/// `openid4vp-v1-signed`, and `openid4vp-v1-unsigned` where the relying party's registration
/// lists the origin (OpenID4VP 1.0 Appendix A). The answer comes back to
/// `POST /dc/responses/{handle}`.
pub(super) async fn create_dc_request(
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
    } = Asking::read(
        &service,
        &new.purpose,
        photographs,
        "the Digital Credentials API",
    )?;
    let origin = page_origin(&service.config.public_url).ok_or_else(|| {
        ApiError::BadRequest(
            "not_configured",
            "this verifier's public URL has no web origin for the Digital Credentials API".into(),
        )
    })?;
    let now = service.clock.now();
    let (attributes, origin_registered, relying_party, delegation) = {
        let verifier = service.read()?;
        registered(&verifier, purpose)?;
        let origin_registered = verifier
            .trust()
            .list()
            .relying_party(verifier.relying_party())
            .is_some_and(|rp| rp.web_origins.contains(&origin));
        (
            asked_attributes(&verifier, purpose, new.attributes)?,
            origin_registered,
            verifier.relying_party().to_owned(),
            verifier.delegation_allowed(purpose),
        )
    };
    // A place first: a full service does none of the work below.
    let place = Making::take(&service)?;
    let making = service.dc_making.load(Ordering::Acquire);
    if !service
        .in_store(move |sessions| sessions.dc_room(making, now))
        .await?
    {
        return Err(ApiError::busy(
            "too many Digital Credentials API requests are waiting for an answer; try again in a moment",
        ));
    }
    let failed = |e: &dyn std::fmt::Display| ApiError::BadRequest("request_failed", e.to_string());
    let (mdoc, mdoc_entry) = MdocDcApiRequest::new(
        &ReaderIdentity {
            signer: signer.as_ref(),
            certificate: &certificate,
            relying_party: &relying_party,
        },
        purpose,
        &attributes,
        false,
        delegation,
        &origin,
    )
    .map_err(|e| failed(&e))?;
    let ((signed, signed_entry), unsigned) = {
        let verifier = service.read()?;
        let terms = |signer| crate::openid4vp::DcApiTerms {
            purpose,
            attributes: Some(&attributes),
            intent_to_retain: false,
            signer,
            origin: &origin,
            lifetime: service.config.request_lifetime,
        };
        let signed = verifier
            .dc_api_request(
                &terms(Some((signer.as_ref(), &certificate))),
                now,
                service.random.as_ref(),
            )
            .map_err(|e| failed(&e))?;
        let unsigned = origin_registered
            .then(|| verifier.dc_api_request(&terms(None), now, service.random.as_ref()))
            .transpose()
            .map_err(|e| failed(&e))?;
        (signed, unsigned)
    };
    let mut requests = vec![mdoc_entry, signed_entry];
    let unsigned = unsigned.map(|(session, entry)| {
        requests.push(entry);
        session
    });
    let face = live_template(&service, face.as_deref(), turned).await?;
    let handle = service.handle()?;
    let pending = DcPending {
        mdoc,
        signed,
        unsigned,
        expires: now + service.config.request_lifetime,
        face_live: face.as_ref().is_some_and(|(_, live)| *live),
        face: face.map(|(template, _)| template),
    };
    {
        let handle = handle.clone();
        service
            .in_store(move |sessions| sessions.open_dc(&handle, pending, now))
            .await?;
    }
    drop(place);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "response": format!("/dc/responses/{handle}"),
            "origin": origin,
            "digital": { "requests": requests },
        })),
    )
        .into_response())
}

/// What the page passes back: the DigitalCredential's protocol and data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DcAnswer {
    protocol: String,
    data: serde_json::Value,
}

/// `POST /dc/responses/{handle}`: the wallet's answer as the page received it, opened,
/// verified, the customer's face checked; the report. One answer per request: the request
/// is gone after it.
pub(super) async fn dc_response(
    State(service): State<Arc<Service>>,
    Path(handle): Path<String>,
    body: Result<axum::Json<DcAnswer>, JsonRejection>,
) -> Result<axum::Json<Report>, ApiError> {
    let axum::Json(answer) = body?;
    let known = [
        eid_mdoc::dcapi::PROTOCOL,
        eid_oid4vc::vp::PROTOCOL_SIGNED,
        eid_oid4vc::vp::PROTOCOL_UNSIGNED,
    ];
    if !known.contains(&answer.protocol.as_str()) {
        return Err(ApiError::BadRequest(
            "unsupported_protocol",
            format!(
                "{} is not a protocol a desk asks in ({})",
                eid_serve::excerpt(&answer.protocol),
                known.join(", ")
            ),
        ));
    }
    let now = service.clock.now();
    let unsigned = answer.protocol == eid_oid4vc::vp::PROTOCOL_UNSIGNED;
    let pending = match service
        .in_store(move |sessions| sessions.take_dc(&handle, unsigned, now))
        .await?
    {
        DcTaken::Got(pending) => *pending,
        DcTaken::NotOffered => {
            return Err(ApiError::BadRequest(
                "unsupported_protocol",
                "this request was not offered as openid4vp-v1-unsigned (the relying party's registration does not list the page's origin)".into(),
            ));
        }
        DcTaken::Missing => {
            return Err(ApiError::NotFound(
                "unknown_request",
                "no such request waiting: answered already, expired, or never made here".into(),
            ));
        }
    };
    let report = {
        let verifier = service.read()?;
        let session = match answer.protocol.as_str() {
            eid_oid4vc::vp::PROTOCOL_SIGNED => Some(&pending.signed),
            eid_oid4vc::vp::PROTOCOL_UNSIGNED => pending.unsigned.as_ref(),
            _ => None,
        };
        match session {
            Some(session) => verifier.verify_dc_api(session, &answer.data, now),
            None => pending.mdoc.finish(&verifier, &answer.data, now),
        }
    };
    let live = Live::Template(pending.face, pending.face_live);
    let report = with_face(&service, report, live).await?;
    service.notice(&report);
    Ok(axum::Json(report))
}
