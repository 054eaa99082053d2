//! The person at the desk against the credential: the desk's photograph (or the template
//! of the one taken when an online request was made) compared with the disclosed portrait or
//! the offline code's face template, with the service's face model, on bounded places.

use std::sync::Arc;

use super::asking::Turned;
use super::error::ApiError;
use super::state::Service;
use crate::report::Report;

/// How long a check waits for a face comparison place before reporting the faces as not
/// compared (a desk's queue, not a refusal at the first busy moment).
pub(super) const FACE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `report` with the desk's face check applied (`Verifier::with_face_check`): the person at
/// the desk (`live`) compared, for an accepted report, without the verifier's lock and on
/// the bounded places.
pub(super) async fn with_face(
    service: &Arc<Service>,
    report: Report,
    live: Live,
) -> Result<Report, ApiError> {
    let mut report = if report.accepted {
        let check = face_check(service, &report, live).await;
        service.read()?.with_face_check(report, check)
    } else {
        report
    };
    // An offline code's template serves the comparison only: the desk has no other use for
    // a face signature, and the report does not carry it on.
    report.attributes.remove(eid_mdoc::offline::FACE_TEMPLATE);
    Ok(report)
}

/// What the person at the desk is compared with.
enum Reference {
    /// The disclosed portrait (in person, online).
    Portrait(Vec<u8>),
    /// The offline code's face template.
    Template(eid_face::Template),
}

/// The person at the desk, as the request gives them.
pub(super) enum Live {
    /// A photograph taken now (in person, offline), base64 as sent (`None`: none was sent),
    /// and the head turn's second one if the desk asked for a turn.
    Photograph(Option<String>, Option<Turned>),
    /// The template of the photograph taken when an online request was made (`None`: the
    /// request had none), and whether the person passed a head turn then.
    Template(Option<Vec<u8>>, bool),
}

/// The person at the desk, decoded.
enum Seen {
    Photograph(Vec<u8>, Option<(Vec<u8>, eid_face::Turn)>),
    Template(eid_face::Template, bool),
}

impl Live {
    /// A photograph as sent (base64), or why there is none.
    pub(super) fn decode(photograph: Option<&str>) -> Result<Vec<u8>, String> {
        use base64::Engine;
        let photograph = photograph.ok_or("no photograph of the person at the desk was sent")?;
        base64::engine::general_purpose::STANDARD
            .decode(photograph.trim())
            .map_err(|_| "the photograph is not base64 (standard alphabet)".into())
    }
}

/// The person at the desk (`live`) against the face `report` gives (the offline code's
/// template, or the disclosed portrait), with the service's face model. When every place
/// stays taken for [`FACE_WAIT`] the faces are not compared, and the report says so: a 503
/// would throw away an exchange the holder already consented to, or a code already counted.
async fn face_check(service: &Arc<Service>, report: &Report, live: Live) -> crate::FaceCheck {
    use crate::FaceCheck::NotCompared;
    use base64::Engine;
    let Some(model) = service.config.face.clone() else {
        return NotCompared("this desk has no face model".into());
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let live = match live {
        Live::Photograph(photograph, turned) => {
            let bytes = match Live::decode(photograph.as_deref()) {
                Ok(bytes) => bytes,
                Err(why) => return NotCompared(why),
            };
            Seen::Photograph(bytes, turned.map(|t| (t.picture, t.turn)))
        }
        Live::Template(None, _) => {
            return NotCompared(
                "no photograph of the person was taken when the request was made".into(),
            );
        }
        Live::Template(Some(bytes), live) => match eid_face::Template::from_bytes(&bytes) {
            Ok(template) => Seen::Template(template, live),
            Err(e) => return NotCompared(e.to_string()),
        },
    };
    // The offline code's template, else the disclosed portrait.
    let attribute = |name: &str| {
        report
            .attributes
            .get(name)
            .and_then(|p| p.as_str())
            .and_then(|p| b64.decode(p).ok())
    };
    let reference = match attribute(eid_mdoc::offline::FACE_TEMPLATE) {
        Some(bytes) => match eid_face::Template::from_bytes(&bytes) {
            Ok(template) => Reference::Template(template),
            Err(e) => return NotCompared(e.to_string()),
        },
        None => match attribute("portrait") {
            Some(portrait) => Reference::Portrait(portrait),
            None => {
                return NotCompared("the credential gave no portrait or face template".into());
            }
        },
    };
    let waited = tokio::time::timeout(FACE_WAIT, service.faces.clone().acquire_owned()).await;
    let Ok(Ok(place)) = waited else {
        return NotCompared(
            "every face comparison place stayed taken; the desk is overloaded: ask again in a moment"
                .into(),
        );
    };
    let compared = tokio::task::spawn_blocking(move || {
        let _place = place;
        let distance = match (&reference, &live) {
            (Reference::Portrait(portrait), Seen::Photograph(photograph, _)) => {
                model.distance(portrait, photograph)
            }
            (Reference::Template(template), Seen::Photograph(photograph, _)) => {
                model.distance_to_template(template, photograph)
            }
            (Reference::Portrait(portrait), Seen::Template(live, _)) => {
                model.distance_from_template(portrait, live)
            }
            (Reference::Template(template), Seen::Template(live, _)) => {
                Ok(template.embedding().distance(&live.embedding()))
            }
        }?;
        // The head turn, when the desk asked for one: the facing photograph is read again for
        // its landmarks, then its mirror image and the turned one (three more embeddings).
        let turned = match &live {
            Seen::Photograph(photograph, Some((turned, asked))) => {
                Some(match model.head_turn(photograph, turned, *asked) {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(not_live)) => Err(not_live.to_string()),
                    Err(e) => Err(e.to_string()),
                })
            }
            Seen::Template(_, true) => Some(Ok(())),
            Seen::Photograph(_, None) | Seen::Template(_, false) => None,
        };
        Ok::<_, eid_face::ImageError>((distance, model.threshold(), turned))
    })
    .await;
    match compared {
        Ok(Ok((distance, threshold, live))) => crate::FaceCheck::Compared {
            distance,
            threshold,
            live,
        },
        Ok(Err(e)) => NotCompared(e.to_string()),
        Err(_) => NotCompared("the face comparison failed".into()),
    }
}

/// The face template of the photograph an online request is made with, made now (the
/// photograph itself is not kept); none when none was sent (where the purpose requires a
/// face match, the answer is then refused `face_not_checked`, as at a desk that took no
/// photograph). With the head turn's second photograph, the turn is checked first: one that
/// fails refuses the request (`face_not_live`); `true` beside the template says it passed.
pub(super) async fn live_template(
    service: &Arc<Service>,
    photograph: Option<&str>,
    turned: Option<Turned>,
) -> Result<Option<(Vec<u8>, bool)>, ApiError> {
    let Some(photograph) = photograph else {
        return Ok(None);
    };
    let Some(model) = service.config.face.clone() else {
        return Err(ApiError::BadRequest(
            "face_not_supported",
            "this verifier has no face model: send the request without \"face\"".into(),
        ));
    };
    let photograph = Live::decode(Some(photograph)).map_err(ApiError::invalid)?;
    let turned = turned.map(|t| (t.picture, t.turn));
    // Nothing is lost by waiting here: no holder has answered yet.
    let place = service
        .face_templates
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::busy(
                "the place for the photograph's face template is taken; try again in a moment",
            )
        })?;
    let made = tokio::task::spawn_blocking(move || {
        let _place = place;
        let live = match &turned {
            Some((picture, turn)) => Some(model.head_turn(&photograph, picture, *turn)?),
            None => None,
        };
        Ok::<_, eid_face::ImageError>((model.live_template(&photograph)?, live))
    })
    .await
    .map_err(|_| ApiError::Internal("the face template's task panicked"))?;
    match made {
        Ok((_, Some(Err(not_live)))) => Err(ApiError::BadRequest(
            "face_not_live",
            format!("the customer did not pass the head turn: {not_live}"),
        )),
        Ok((template, live)) => Ok(Some((template.as_bytes().to_vec(), live.is_some()))),
        Err(e) => Err(ApiError::BadRequest("face_unusable", e.to_string())),
    }
}
