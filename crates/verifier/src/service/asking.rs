//! What a route reads from a request before anything is asked of a holder: the purpose, a
//! face model where the purpose needs one, the head turn's fields, the relying party's
//! reader key, its registration and the attributes asked for.

use std::sync::Arc;

use eid_crypto::Signer;
use eid_trust::Purpose;

use super::error::ApiError;
use super::state::Service;
use crate::Verifier;

/// The most attributes one request may name.
const MAX_ATTRIBUTES: usize = 64;

/// The purpose named `name` in the catalogue.
pub(super) fn purpose(name: &str) -> Result<Purpose, ApiError> {
    Purpose::parse(name).ok_or_else(|| {
        ApiError::BadRequest(
            "unknown_purpose",
            format!(
                "{} is not a purpose of the catalogue",
                eid_serve::excerpt(name)
            ),
        )
    })
}

/// The person at the desk as a request sends them (the fields of every route that compares
/// faces; each request body lists them itself: a flattened struct would have serde buffer
/// every unknown field).
pub(super) struct Photographs {
    /// A photograph of the person (JPEG or PNG, base64): at the desk, or the customer in
    /// front of the requester's camera.
    pub(super) face: Option<String>,
    /// The head turn: a second photograph, the person's head turned to their `turn`.
    pub(super) face_turned: Option<String>,
    pub(super) turn: Option<String>,
}

/// The head turn's second photograph as a request gives it, and the way asked.
pub(super) struct Turned {
    pub(super) picture: Vec<u8>,
    pub(super) turn: eid_face::Turn,
}

impl Photographs {
    /// The photograph as sent, and the head turn's second one decoded: `face_turned` and
    /// `turn` both or neither, and with a first photograph.
    pub(super) fn read(self) -> Result<(Option<String>, Option<Turned>), ApiError> {
        let Self {
            face,
            face_turned,
            turn,
        } = self;
        let (picture, turn) = match (face_turned, turn) {
            (None, None) => return Ok((face, None)),
            (Some(picture), Some(turn)) => (picture, turn),
            _ => {
                return Err(ApiError::invalid(
                    "send face_turned and turn together (the head turn's second photograph and the way the person was asked to turn), or neither",
                ));
            }
        };
        if face.is_none() {
            return Err(ApiError::invalid(
                "face_turned is the head turn's second photograph: send face, the first (facing the camera), with it",
            ));
        }
        let turn = turn.parse().map_err(|()| {
            ApiError::invalid(
                "turn must be \"left\" or \"right\": the way the person was asked to turn their head in face_turned",
            )
        })?;
        use base64::Engine;
        let picture = base64::engine::general_purpose::STANDARD
            .decode(picture.trim())
            .map_err(|_| ApiError::invalid("face_turned is not base64 (standard alphabet)"))?;
        Ok((face, Some(Turned { picture, turn })))
    }
}

/// Where `purpose` requires a face match and this desk has no face model, every check would
/// be refused `face_not_checked` after the holder consented (or the code was counted):
/// refused before anything is asked, saying why.
pub(super) fn face_model_if_needed(service: &Service, purpose: Purpose) -> Result<(), ApiError> {
    if service.config.face.is_some() {
        return Ok(());
    }
    let required = service
        .read()?
        .trust()
        .list()
        .purpose(purpose)
        .is_some_and(|p| p.face_match_required);
    if required {
        return Err(ApiError::BadRequest(
            "face_not_supported",
            format!(
                "{purpose} requires a face match, and this desk has no face model (eid verifier serve --face-models): nothing was asked of the holder"
            ),
        ));
    }
    Ok(())
}

/// What a route that asks a phone reads first, in this order: the purpose, a face model if
/// the purpose needs one, the photographs, and the relying party's reader key and
/// certificate (`channel` says in the refusal what needs them).
pub(super) struct Asking {
    pub(super) purpose: Purpose,
    pub(super) face: Option<String>,
    pub(super) turned: Option<Turned>,
    pub(super) signer: Arc<dyn Signer>,
    pub(super) certificate: Vec<u8>,
}

impl Asking {
    pub(super) fn read(
        service: &Service,
        purpose_name: &str,
        photographs: Photographs,
        channel: &str,
    ) -> Result<Self, ApiError> {
        let purpose = purpose(purpose_name)?;
        face_model_if_needed(service, purpose)?;
        let (face, turned) = photographs.read()?;
        let Some((signer, certificate)) = service.config.identity.clone() else {
            return Err(ApiError::BadRequest(
                "not_configured",
                format!("this verifier has no reader key and certificate ({channel} needs them)"),
            ));
        };
        Ok(Self {
            purpose,
            face,
            turned,
            signer,
            certificate,
        })
    }
}

/// A request for a purpose this relying party is not registered for would be refused by
/// every wallet and every check: it is not made.
pub(super) fn registered(verifier: &Verifier, purpose: Purpose) -> Result<(), ApiError> {
    let registered = verifier
        .trust()
        .list()
        .relying_party(verifier.relying_party())
        .is_some_and(|rp| rp.purposes.contains_key(&purpose));
    if !registered {
        return Err(ApiError::BadRequest(
            "purpose_not_registered",
            format!(
                "{} is not registered for {} in the trust list",
                verifier.relying_party(),
                purpose.as_str()
            ),
        ));
    }
    Ok(())
}

/// The attributes a request asks for: those `given`, each once — every one registered for
/// this relying party and `purpose` (a wallet would refuse the rest, and a caller's list is
/// not kept beyond what the registration allows) — or, when none are given, all of those.
pub(super) fn asked_attributes(
    verifier: &Verifier,
    purpose: Purpose,
    given: Option<Vec<String>>,
) -> Result<Vec<String>, ApiError> {
    let registered = verifier.registered_attributes(purpose);
    let Some(given) = given else {
        return Ok(registered);
    };
    if given.len() > MAX_ATTRIBUTES {
        return Err(ApiError::invalid(format!(
            "at most {MAX_ATTRIBUTES} attributes may be asked for"
        )));
    }
    let mut asked: Vec<String> = Vec::with_capacity(given.len());
    for attribute in given {
        if !registered.contains(&attribute) {
            return Err(ApiError::BadRequest(
                "beyond_registration",
                format!(
                    "{} is not registered for {} at {purpose}: a wallet would refuse the request",
                    eid_serve::excerpt(&attribute),
                    verifier.relying_party()
                ),
            ));
        }
        if !asked.contains(&attribute) {
            asked.push(attribute);
        }
    }
    Ok(asked)
}
