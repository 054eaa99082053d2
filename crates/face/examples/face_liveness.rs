//! The head-turn challenge (`eid_face::head_turn`) measured on a labelled set of photographs:
//! how the yaw measure spreads over pictures of people facing a camera, whether one person's
//! pictures still match across turns, and how many photographs held up to the camera pass
//! as a live head turn when they are tilted or folded (the presentation attacks a still
//! picture can make):
//!
//! ```text
//! scripts/fetch-proofing-data && scripts/fetch-face-set
//! cargo run --release -p eid-face --features dlib --example face_liveness -- \
//!     /var/tmp/eid-proofing/models /var/tmp/eid-face-set
//! ```
//!
//! No picture here is of a person turning their head while filmed: no such set ships in a
//! registry package. So the rate at which real people pass is not measured; what is:
//!
//! - the yaw of each picture the model finds a face in (how far from 0 a face "looking at the
//!   camera" lies, which bounds how often a live person's first picture is refused);
//! - pairs of one person's pictures, the first looking at the camera and the second turned
//!   from it by at least `TURN_MIN`: how many pass the whole challenge (the turned one must
//!   still match, and must not be the first one's mirror image);
//! - one photograph and its mirror image (flipped, saved again as JPEG): the yaw changes sign,
//!   so the pair looks like a turn of twice the photograph's yaw; how many pass by the yaw
//!   alone, and how many pass the whole challenge;
//! - attacks: each picture whose face looks at the camera is shown to the camera as a flat
//!   print, tilted about its vertical axis, and folded along the vertical line through the
//!   nose (both halves back) and then tilted, as the warps below compute it with a pinhole
//!   camera two picture widths away. Each warped picture is put to `head_turn` as the turned
//!   picture after the unwarped one, asked the way its tilt turns it; the count of those
//!   that pass is the attack's success rate on this set.
//!
//! The output is Markdown, for docs/face-error-rates.md.

#![expect(
    clippy::print_stdout,
    reason = "the example prints its table, to paste into the docs"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use eid_face::{
    Embedding, FRONTAL_MAX, Face, FaceMatcher, ImageError, MIRROR_MIN, TURN_MIN, Turn, head_turn,
};
use image::{Rgb, RgbImage};

mod common;
use common::identities;

/// The matcher's threshold, as the services run it.
const THRESHOLD: f64 = 0.6;

/// The camera's distance from the picture, in picture widths.
const CAMERA: f64 = 2.0;

/// The attacks: (name, fold angle, tilts), in degrees.
const ATTACKS: [(&str, f64, [f64; 3]); 3] = [
    ("flat print, tilted", 0.0, [20.0, 40.0, 60.0]),
    ("folded 20° at the nose, tilted", 20.0, [0.0, 20.0, 40.0]),
    ("folded 40° at the nose, tilted", 40.0, [0.0, 20.0, 40.0]),
];

const USAGE: &str = "usage: face_liveness MODELS_DIR SET_DIR
  MODELS_DIR  dlib's two model files (scripts/fetch-proofing-data puts them in DIR/models)
  SET_DIR     one folder per identity, each with JPEG or PNG pictures of one face
              (scripts/fetch-face-set)";

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [models, set] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(models, set) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("face_liveness: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A picture the model found one face in.
struct Seen {
    identity: usize,
    name: String,
    picture: RgbImage,
    face: Face,
    /// Its mirror image's embedding, for the pictures that look at the camera.
    mirrored: Option<Embedding>,
}

/// What one attack did: tries, warped pictures with a face found, passes.
#[derive(Default)]
struct Tally {
    tries: usize,
    found: usize,
    passed: usize,
    /// The largest change of yaw the way the tilt turns, over the found ones.
    largest: f64,
}

fn run(models: &Path, set: &Path) -> Result<String, String> {
    let identities = identities(set)?;
    let matcher = FaceMatcher::load(models, THRESHOLD).map_err(|e| e.to_string())?;
    let mut seen = Vec::new();
    let mut missed = 0;
    for (index, identity) in identities.iter().enumerate() {
        for path in &identity.pictures {
            let name = format!(
                "{}/{}",
                identity.label,
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let picture = image::load_from_memory(&bytes)
                .map_err(|e| format!("cannot decode {name}: {e}"))?
                .to_rgb8();
            match matcher.face(&bytes, "face picture", false) {
                Ok(face) => {
                    let mirrored = if face.landmarks.yaw().abs() <= FRONTAL_MAX {
                        Some(
                            matcher
                                .mirrored(&bytes, "face picture")
                                .map_err(|e| format!("{name} mirrored: {e}"))?,
                        )
                    } else {
                        None
                    };
                    seen.push(Seen {
                        identity: index,
                        name,
                        picture,
                        face,
                        mirrored,
                    });
                }
                Err(ImageError::Engine(message)) => {
                    return Err(format!("the model failed on {name}: {message}"));
                }
                Err(_) => missed += 1,
            }
        }
    }
    if seen.is_empty() {
        return Err("the model found no face in the set".into());
    }
    let mut out = String::new();
    report(&matcher, &seen, missed, &mut out)
        .map_err(|e| format!("cannot format the report: {e}"))?;
    Ok(out)
}

fn report(
    matcher: &FaceMatcher,
    seen: &[Seen],
    missed: usize,
    out: &mut String,
) -> Result<(), String> {
    let fmt = |e: std::fmt::Error| e.to_string();
    let mut yaws: Vec<f64> = seen.iter().map(|s| s.face.landmarks.yaw()).collect();
    yaws.sort_by(f64::total_cmp);
    let facing = seen
        .iter()
        .filter(|s| s.face.landmarks.yaw().abs() <= FRONTAL_MAX)
        .count();
    let quantile = |q: f64| yaws[((yaws.len() - 1) as f64 * q).round() as usize];
    writeln!(
        out,
        "- **Yaw of {} pictures** (one face found; {missed} left out): smallest {:.3}, 5th percentile {:.3}, median {:.3}, 95th percentile {:.3}, largest {:.3}; {facing} of {} ({:.1} %) within ±{FRONTAL_MAX} (\"looks at the camera\").",
        seen.len(),
        quantile(0.0),
        quantile(0.05),
        quantile(0.5),
        quantile(0.95),
        quantile(1.0),
        seen.len(),
        100.0 * facing as f64 / seen.len() as f64
    )
    .map_err(fmt)?;
    if let (Some(low), Some(high)) = (
        seen.iter()
            .min_by(|a, b| a.face.landmarks.yaw().total_cmp(&b.face.landmarks.yaw())),
        seen.iter()
            .max_by(|a, b| a.face.landmarks.yaw().total_cmp(&b.face.landmarks.yaw())),
    ) {
        writeln!(
            out,
            "  Most turned: `{}` ({:.3}) and `{}` ({:.3}).",
            low.name,
            low.face.landmarks.yaw(),
            high.name,
            high.face.landmarks.yaw()
        )
        .map_err(fmt)?;
    }

    // One person's pictures, the first facing, the second turned from it by TURN_MIN or
    // more (asked that way): do they pass?
    let (mut turned_pairs, mut passed, mut nearest_mirror) = (0, 0, f64::INFINITY);
    for a in seen {
        let Some(mirrored) = &a.mirrored else {
            continue;
        };
        for b in seen.iter().filter(|b| b.identity == a.identity) {
            let change = b.face.landmarks.yaw() - a.face.landmarks.yaw();
            if change.abs() < TURN_MIN {
                continue;
            }
            turned_pairs += 1;
            nearest_mirror = nearest_mirror.min(mirrored.distance(&b.face.embedding));
            let asked = if change > 0.0 {
                Turn::Left
            } else {
                Turn::Right
            };
            if head_turn(&a.face, mirrored, &b.face, asked, THRESHOLD).is_ok() {
                passed += 1;
            }
        }
    }
    writeln!(
        out,
        "- **One person, turned**: {turned_pairs} ordered pairs of one person's pictures, the first looking at the camera and the second turned from it by ≥ {TURN_MIN}; {passed} pass the whole challenge; the turned picture's distance to the first one's mirror image is at least {nearest_mirror:.3} (a mirror image is refused at ≤ {MIRROR_MIN})."
    )
    .map_err(fmt)?;
    // One photograph and its mirror image, saved again as JPEG.
    let (mut tries, mut by_yaw, mut whole, mut farthest) = (0, 0, 0, 0f64);
    for a in seen {
        let Some(mirrored) = &a.mirrored else {
            continue;
        };
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(image::imageops::flip_horizontal(&a.picture))
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageOutputFormat::Jpeg(90),
            )
            .map_err(|e| format!("cannot encode a mirror image: {e}"))?;
        let Ok(flipped) = matcher.face(&jpeg, "mirror image", false) else {
            continue;
        };
        tries += 1;
        farthest = farthest.max(mirrored.distance(&flipped.embedding));
        let change = flipped.landmarks.yaw() - a.face.landmarks.yaw();
        let asked = if change > 0.0 {
            Turn::Left
        } else {
            Turn::Right
        };
        // By the yaw alone: a mirrored embedding far away stands for no mirror check.
        let elsewhere = Embedding([1.0; eid_face::DIMENSIONS]);
        if head_turn(&a.face, &elsewhere, &flipped, asked, THRESHOLD).is_ok() {
            by_yaw += 1;
        }
        if head_turn(&a.face, mirrored, &flipped, asked, THRESHOLD).is_ok() {
            whole += 1;
        }
    }
    writeln!(
        out,
        "- **A photograph and its mirror image**: {tries} pictures looking at the camera, each flipped and saved again as JPEG, asked the way the flip turns it: {by_yaw} pass by the yaw alone, {whole} pass the whole challenge; the flipped picture lies at most {farthest:.3} from the mirror image's embedding."
    )
    .map_err(fmt)?;
    writeln!(out).map_err(fmt)?;

    writeln!(
        out,
        "| attack (camera {CAMERA} picture widths away) | tilt | tries | face found | yaw change, largest | passed as a head turn |"
    )
    .map_err(fmt)?;
    writeln!(out, "|---|---|---|---|---|---|").map_err(fmt)?;
    let facing: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.face.landmarks.yaw().abs() <= FRONTAL_MAX)
        .collect();
    eprintln!("warping {} facing pictures…", facing.len());
    for (name, fold, tilts) in ATTACKS {
        for tilt in tilts {
            let mut tally = Tally::default();
            for s in &facing {
                // Both ways: asked to turn left, the attacker tilts the print that way.
                for (sign, asked) in [(1.0, Turn::Left), (-1.0, Turn::Right)] {
                    tally.tries += 1;
                    let nose = s.face.landmarks.0[4].0;
                    let warped = warp(&s.picture, nose, fold, sign * tilt);
                    let mut png = Vec::new();
                    warped
                        .write_to(
                            &mut std::io::Cursor::new(&mut png),
                            image::ImageOutputFormat::Png,
                        )
                        .map_err(|e| format!("cannot encode a warped picture: {e}"))?;
                    let Ok(turned) = matcher.face(&png, "warped picture", false) else {
                        continue;
                    };
                    tally.found += 1;
                    let change = (turned.landmarks.yaw() - s.face.landmarks.yaw()) * sign;
                    tally.largest = tally.largest.max(change);
                    let Some(mirrored) = &s.mirrored else {
                        continue;
                    };
                    if head_turn(&s.face, mirrored, &turned, asked, THRESHOLD).is_ok() {
                        tally.passed += 1;
                    }
                }
            }
            writeln!(
                out,
                "| {name} | {tilt}° | {} | {} | {:.3} | {} |",
                tally.tries,
                tally.found,
                tally.largest,
                rate(tally.passed, tally.tries)
            )
            .map_err(fmt)?;
        }
    }
    Ok(())
}

/// `count / total (percent)`.
fn rate(count: usize, total: usize) -> String {
    if total == 0 {
        return "— (no tries)".into();
    }
    format!(
        "{count} / {total} ({:.1} %)",
        100.0 * count as f64 / total as f64
    )
}

/// `picture` printed flat, folded along the vertical line at `fold_x` (pixels) by `fold`
/// degrees (each half turned back by that much), then turned about that line by `tilt`
/// degrees (positive: its right edge moves away), as a pinhole camera `CAMERA` picture
/// widths in front of it sees it (the focal length equal to the distance: unwarped, it is
/// the picture itself). Sampled bilinearly; what the picture does not cover is grey.
fn warp(picture: &RgbImage, fold_x: f64, fold: f64, tilt: f64) -> RgbImage {
    let (width, height) = picture.dimensions();
    let distance = CAMERA * f64::from(width);
    let centre_y = f64::from(height) / 2.0;
    let (left, right) = ((tilt - fold).to_radians(), (tilt + fold).to_radians());
    RgbImage::from_fn(width, height, |u, v| {
        // The camera looks at the fold line; u measured from it.
        let u = f64::from(u) + 0.5 - fold_x;
        let v = f64::from(v) + 0.5 - centre_y;
        let angle = if u < 0.0 { left } else { right };
        let denominator = distance * angle.cos() - u * angle.sin();
        if denominator <= 0.0 {
            return Rgb([128, 128, 128]);
        }
        let s = u * distance / denominator;
        let y = v * (distance + s * angle.sin()) / distance;
        sample(picture, s + fold_x, y + centre_y)
    })
}

/// The colour at (`x`, `y`), bilinearly; grey outside.
fn sample(picture: &RgbImage, x: f64, y: f64) -> Rgb<u8> {
    let (width, height) = picture.dimensions();
    let (x, y) = (x - 0.5, y - 0.5);
    if x < 0.0 || y < 0.0 || x > f64::from(width - 1) || y > f64::from(height - 1) {
        return Rgb([128, 128, 128]);
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
    let (fx, fy) = (x - f64::from(x0), y - f64::from(y0));
    let mut out = [0u8; 3];
    for (channel, value) in out.iter_mut().enumerate() {
        let at = |x, y| f64::from(picture.get_pixel(x, y)[channel]);
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        *value = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(out)
}
