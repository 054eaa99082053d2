//! Identity proofing: the registry checks every enrolment shares ([`Authority::proof_identity`]:
//! the number's rules, the resident, the name, the card, each refusal with its code), and for
//! remote enrolment the face in a capture against the registry portrait (cargo
//! feature `face`: [`eid_face`], dlib's ResNet face embedding), and the card front read by
//! OCR to cross-check the number and the name (feature `ocr`: tesseract through `leptess`).
//!
//! The capture is two pictures, facing the camera and then with the head turned the way the
//! wallet asked ([`eid_face::head_turn`]): a photograph held up to the camera does not turn.
//! Limits, stated in `docs/authority.md`: the turn stops a still picture, not a video, a set
//! of photographs at several angles or pictures sent straight to the API; the threshold (0.6, dlib's) is calibrated only on the
//! public fixtures, and HOG detection misses small or turned faces.

use eid_core::ResidentIdNumber;
use eid_store::{CardState, RegistryEntry};

use crate::{ApiError, Authority};

pub use eid_face::ImageError;
#[cfg(feature = "face")]
pub use eid_face::{FaceMatcher, MODELS};

/// Reads the card front with tesseract (Simplified Chinese and English, one block of text)
/// and says whether the number and the name appear in it. OCR garbles labels but reads
/// names and numbers well (`../shared/PARTS.md`); it is a cross-check, never evidence alone.
#[cfg(feature = "ocr")]
pub fn card_front_matches(
    image: &[u8],
    id_number: &str,
    full_name: &str,
) -> Result<bool, ImageError> {
    let mut tess = leptess::LepTess::new(None, "chi_sim+eng")
        .map_err(|e| ImageError::Engine(format!("tesseract: {e}")))?;
    tess.set_image_from_mem(image)
        .map_err(|_| ImageError::NotAnImage("card front"))?;
    tess.set_variable(leptess::Variable::TesseditPagesegMode, "6")
        .map_err(|e| ImageError::Engine(format!("tesseract: {e}")))?;
    let text = tess
        .get_utf8_text()
        .map_err(|e| ImageError::Engine(format!("tesseract: {e}")))?;
    // Spaces are dropped: tesseract puts them between Chinese characters.
    let text: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let name: String = full_name.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(text.contains(&id_number.to_uppercase()) && text.contains(&name))
}

/// What remote enrolment checks besides the registry: the face, and optionally the card
/// front. Only a build with the `face` feature can make one; without it the authority has
/// none and refuses remote enrolment, pointing to the counter.
pub struct RemoteProofing {
    #[cfg(feature = "face")]
    face: FaceMatcher,
    /// Face templates by the SHA-256 of their portrait: a resident's offline codes are made
    /// again at every batch, from the same portrait.
    templates: std::sync::Mutex<std::collections::HashMap<[u8; 32], eid_face::Template>>,
    ocr: bool,
}

/// Templates kept at most; beyond, the memory starts again (a template is 129 bytes).
#[cfg(feature = "face")]
const TEMPLATES_KEPT: usize = 16_384;

impl std::fmt::Debug for RemoteProofing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteProofing")
            .field("ocr", &self.ocr)
            .finish_non_exhaustive()
    }
}

impl RemoteProofing {
    /// Face matching with `face`, and the card front read by OCR when `ocr` (which needs
    /// the `ocr` feature).
    #[cfg(feature = "face")]
    pub fn new(face: FaceMatcher, ocr: bool) -> Result<Self, ImageError> {
        if ocr && !cfg!(feature = "ocr") {
            return Err(ImageError::Engine(
                "OCR is configured but this build has no OCR (cargo feature ocr)".into(),
            ));
        }
        Ok(Self {
            face,
            templates: std::sync::Mutex::default(),
            ocr,
        })
    }

    /// The largest distance taken as the same person.
    pub fn threshold(&self) -> f64 {
        #[cfg(feature = "face")]
        return self.face.threshold();
        #[cfg(not(feature = "face"))]
        return 0.0;
    }

    /// The distance between the registry portrait and the capture facing the camera, and
    /// the head-turn challenge from it to the capture `turned` as `asked`
    /// ([`eid_face::head_turn`]).
    pub fn live_face_distance(
        &self,
        portrait: &[u8],
        facing: &[u8],
        turned: &[u8],
        asked: eid_face::Turn,
    ) -> Result<(f64, Result<f64, eid_face::NotLive>), ImageError> {
        #[cfg(feature = "face")]
        return self.face.live_distance(portrait, facing, turned, asked);
        #[cfg(not(feature = "face"))]
        {
            let _ = (portrait, facing, turned, asked);
            Err(ImageError::Engine("this build has no face matching".into()))
        }
    }

    /// The face template of the registry `portrait`, for an offline code whose purpose
    /// may see the face; made once per portrait (while kept).
    pub fn face_template(&self, portrait: &[u8]) -> Result<eid_face::Template, ImageError> {
        #[cfg(not(feature = "face"))]
        {
            let _ = (portrait, &self.templates);
            Err(ImageError::Engine("this build has no face matching".into()))
        }
        #[cfg(feature = "face")]
        {
            let digest = eid_crypto::sha256(portrait);
            let poisoned = |_| ImageError::Engine("the templates' lock is poisoned".into());
            if let Some(template) = self.templates.lock().map_err(poisoned)?.get(&digest) {
                return Ok(template.clone());
            }
            let template = self
                .face
                .embedding(portrait, "registry portrait", true)?
                .template();
            let mut templates = self.templates.lock().map_err(poisoned)?;
            if templates.len() >= TEMPLATES_KEPT {
                templates.clear();
            }
            templates.insert(digest, template.clone());
            Ok(template)
        }
    }

    /// Whether the card front shows the number and the name; `None` when OCR is off.
    pub fn card_front_matches(
        &self,
        front: &[u8],
        id_number: &str,
        full_name: &str,
    ) -> Result<Option<bool>, ImageError> {
        if !self.ocr {
            return Ok(None);
        }
        #[cfg(feature = "ocr")]
        return card_front_matches(front, id_number, full_name).map(Some);
        #[cfg(not(feature = "ocr"))]
        {
            let _ = (front, id_number, full_name);
            Ok(None)
        }
    }
}

/// Why identity proofing refused, each with its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofingRefusal {
    /// The number fails its own rules (length, region, date, checksum).
    InvalidNumber,
    /// No such resident.
    NotInRegistry,
    /// The name given is not the registered one.
    NameMismatch,
    /// The card was reported lost.
    CardReportedLost,
    /// The card was replaced by a newer one.
    CardReplaced,
    /// The card has expired.
    CardExpired,
    /// The resident is recorded as deceased.
    Deceased,
}

impl ProofingRefusal {
    /// The reason code.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidNumber => "invalid_number",
            Self::NotInRegistry => "not_in_registry",
            Self::NameMismatch => "name_mismatch",
            Self::CardReportedLost => "card_reported_lost",
            Self::CardReplaced => "card_replaced",
            Self::CardExpired => "card_expired",
            Self::Deceased => "deceased",
        }
    }

    /// What to tell the person.
    pub fn message(self) -> &'static str {
        match self {
            Self::InvalidNumber => "the identity number is not valid: check the 18 characters",
            Self::NotInRegistry => "no resident with this number is in the registry",
            Self::NameMismatch => "the name does not match the registry",
            Self::CardReportedLost => {
                "this card was reported lost: use the replacement card, or reinstate it at a counter"
            }
            Self::CardReplaced => "this card was replaced: use the newest card",
            Self::CardExpired => "this card has expired: renew it first",
            Self::Deceased => "the registry records this resident as deceased",
        }
    }
}

impl Authority {
    /// Identity proofing against the registry (what the counter officer's enrolment and
    /// remote enrolment share): the number's rules, the person, the name, the card. The
    /// registry entry it read, when every check passed: the one read of the registry.
    pub async fn proof_identity(
        &self,
        id_number: &str,
        full_name: &str,
    ) -> Result<Result<RegistryEntry, ProofingRefusal>, ApiError> {
        let today = self.clock.now().date();
        let Ok(number) = ResidentIdNumber::parse(id_number, today) else {
            return Ok(Err(ProofingRefusal::InvalidNumber));
        };
        let Some(entry) = self.store.resident(&number).await? else {
            return Ok(Err(ProofingRefusal::NotInRegistry));
        };
        if entry.card.full_name != full_name.trim() {
            return Ok(Err(ProofingRefusal::NameMismatch));
        }
        if entry.deceased {
            return Ok(Err(ProofingRefusal::Deceased));
        }
        match entry.state {
            CardState::ReportedLost => return Ok(Err(ProofingRefusal::CardReportedLost)),
            CardState::Replaced => return Ok(Err(ProofingRefusal::CardReplaced)),
            _ => {}
        }
        if !entry.card.card_expiry.is_valid_on(today) {
            return Ok(Err(ProofingRefusal::CardExpired));
        }
        Ok(Ok(entry))
    }
}
