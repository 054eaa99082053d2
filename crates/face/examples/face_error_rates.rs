//! The face matcher's false-reject and false-accept rates on a labelled set of photographs,
//! at the thresholds around the service's 0.6, by the embeddings and by a template on one side:
//!
//! ```text
//! scripts/fetch-proofing-data && scripts/fetch-face-set
//! cargo run --release -p eid-face --features dlib --example face_error_rates -- \
//!     /var/tmp/eid-proofing/models /var/tmp/eid-face-set
//! ```
//!
//! SET_DIR holds one folder per identity (the folder's name is the label; folders whose name
//! starts with `.` are skipped) with JPEG or PNG pictures of that one person. Each picture is
//! embedded as a desk embeds a live photograph (a second face refuses it); one with no face or
//! several is reported, counted and left out, and so is a byte-for-byte copy of a picture
//! already read (a desk never compares a photograph with itself; dlib's `johns` has one such
//! copy). Every pair of the rest is compared once: a pair
//! of one identity is genuine and must be accepted (distance ≤ threshold, as the services
//! decide), a pair of two is an impostor pair and must be refused. The template column takes
//! the first picture of the pair (in folder and file order) as the credential's template, as
//! an offline code carries it; the largest change of a distance is over either side as the
//! template. The output is Markdown, for docs/face-error-rates.md.

#![expect(
    clippy::print_stdout,
    reason = "the example prints its table, to paste into the docs"
)]

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use eid_face::{DIMENSIONS, Embedding, FaceMatcher, ImageError};

mod common;
use common::{Identity, identities};

/// The thresholds measured: the service's 0.6 and the steps either side of it.
const THRESHOLDS: [f64; 6] = [0.40, 0.45, 0.50, 0.55, 0.60, 0.65];

/// Below this distance two pictures are probably one photograph (see the report).
const SAME_PHOTOGRAPH: f64 = 0.10;

/// What a picture is called in the model's errors.
const WHAT: &str = "face picture";

const USAGE: &str = "usage: face_error_rates MODELS_DIR SET_DIR
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
            eprintln!("face_error_rates: {message}");
            ExitCode::FAILURE
        }
    }
}

/// A picture the model embedded.
struct Face {
    identity: usize,
    /// `label/file`, for the report.
    name: String,
    embedding: Embedding,
    /// The embedding read back from its template, as an offline code carries it.
    from_template: Embedding,
}

/// A picture left out, and why.
struct LeftOut {
    name: String,
    why: Why,
}

#[derive(Clone, PartialEq, Eq)]
enum Why {
    NoFace,
    SeveralFaces,
    Unreadable,
    /// The same bytes as the picture named.
    CopyOf(String),
}

/// One compared pair: the indices into the faces, and the two distances.
struct Pair {
    first: usize,
    second: usize,
    exact: f64,
    template: f64,
}

fn run(models: &Path, set: &Path) -> Result<String, String> {
    let identities = identities(set)?;
    let pictures: usize = identities.iter().map(|i| i.pictures.len()).sum();
    // The matcher's own threshold (the service's 0.6) is not used: each of THRESHOLDS is
    // applied to the distances below.
    let matcher = FaceMatcher::load(models, 0.6).map_err(|e| e.to_string())?;

    eprintln!(
        "embedding {pictures} pictures of {} identities…",
        identities.len()
    );
    let mut faces = Vec::new();
    let mut left_out = Vec::new();
    let mut read: Vec<(Vec<u8>, String)> = Vec::new();
    for (index, identity) in identities.iter().enumerate() {
        for path in &identity.pictures {
            let name = match path.file_name() {
                Some(file) => format!("{}/{}", identity.label, file.to_string_lossy()),
                None => identity.label.clone(),
            };
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if let Some((_, first)) = read.iter().find(|(seen, _)| *seen == bytes) {
                left_out.push(LeftOut {
                    name,
                    why: Why::CopyOf(first.clone()),
                });
                continue;
            }
            read.push((bytes.clone(), name.clone()));
            match matcher.embedding(&bytes, WHAT, false) {
                Ok(embedding) => {
                    let from_template = embedding.template().embedding();
                    faces.push(Face {
                        identity: index,
                        name,
                        embedding,
                        from_template,
                    });
                }
                Err(ImageError::NoFace(_)) => left_out.push(LeftOut {
                    name,
                    why: Why::NoFace,
                }),
                Err(ImageError::SeveralFaces(_)) => left_out.push(LeftOut {
                    name,
                    why: Why::SeveralFaces,
                }),
                Err(ImageError::Engine(message)) => {
                    return Err(format!("the model failed on {name}: {message}"));
                }
                Err(_) => left_out.push(LeftOut {
                    name,
                    why: Why::Unreadable,
                }),
            }
        }
    }
    if faces.len() < 2 {
        return Err(format!(
            "only {} of the {pictures} pictures had one face that the model found: nothing to compare",
            faces.len()
        ));
    }

    let mut genuine = Vec::new();
    let mut impostor = Vec::new();
    let mut largest_change: f64 = 0.0;
    for (i, a) in faces.iter().enumerate() {
        for (j, b) in faces.iter().enumerate().skip(i + 1) {
            let exact = a.embedding.distance(&b.embedding);
            let template = a.from_template.distance(&b.embedding);
            let other_way = b.from_template.distance(&a.embedding);
            largest_change = largest_change
                .max((template - exact).abs())
                .max((other_way - exact).abs());
            let pair = Pair {
                first: i,
                second: j,
                exact,
                template,
            };
            if a.identity == b.identity {
                genuine.push(pair);
            } else {
                impostor.push(pair);
            }
        }
    }

    report(
        set,
        &identities,
        &faces,
        &left_out,
        &genuine,
        &impostor,
        largest_change,
    )
    .map_err(|e| format!("cannot format the report: {e}"))
}

/// `count / total (percent)`.
fn rate(count: usize, total: usize) -> String {
    if total == 0 {
        return "— (no pairs)".into();
    }
    format!(
        "{count} / {total} ({:.2} %)",
        100.0 * count as f64 / total as f64
    )
}

fn by_distance(a: &f64, b: &f64) -> Ordering {
    a.total_cmp(b)
}

/// Smallest, median and largest of `values` (not empty).
fn spread(mut values: Vec<f64>) -> String {
    values.sort_by(by_distance);
    match (values.first(), values.get(values.len() / 2), values.last()) {
        (Some(low), Some(median), Some(high)) => {
            format!("{low:.3} / {median:.3} / {high:.3}")
        }
        _ => "—".into(),
    }
}

fn report(
    set: &Path,
    identities: &[Identity],
    faces: &[Face],
    left_out: &[LeftOut],
    genuine: &[Pair],
    impostor: &[Pair],
    largest_change: f64,
) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    let pictures: usize = identities.iter().map(|i| i.pictures.len()).sum();
    let used = identities
        .iter()
        .enumerate()
        .filter(|(index, _)| faces.iter().any(|f| f.identity == *index))
        .count();
    let count = |why: Why| left_out.iter().filter(|l| l.why == why).count();
    let copies = left_out
        .iter()
        .filter(|l| matches!(l.why, Why::CopyOf(_)))
        .count();
    writeln!(out, "Face set `{}`:", set.display())?;
    writeln!(out)?;
    writeln!(
        out,
        "- **{} identities, {pictures} pictures**; {} pictures of {used} identities compared.",
        identities.len(),
        faces.len()
    )?;
    writeln!(
        out,
        "- Left out: no face found {}, several faces {}, unreadable {}, a copy of another picture {copies}.",
        count(Why::NoFace),
        count(Why::SeveralFaces),
        count(Why::Unreadable)
    )?;
    for l in left_out {
        let why = match &l.why {
            Why::NoFace => "no face found".to_owned(),
            Why::SeveralFaces => "several faces".to_owned(),
            Why::Unreadable => "not a picture the model reads".to_owned(),
            Why::CopyOf(first) => format!("the same bytes as `{first}`"),
        };
        writeln!(out, "  - `{}`: {why}", l.name)?;
    }
    writeln!(
        out,
        "- {} genuine pairs (one identity), {} impostor pairs (two identities); a pair is accepted at distance ≤ threshold.",
        genuine.len(),
        impostor.len()
    )?;
    writeln!(out)?;

    writeln!(
        out,
        "| threshold | genuine pairs | impostor pairs | FRR | FAR | FRR, template | FAR, template | FAR upper 95 % bound |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    for threshold in THRESHOLDS {
        let rejected =
            |d: &dyn Fn(&Pair) -> f64| genuine.iter().filter(|p| d(p) > threshold).count();
        let accepted =
            |d: &dyn Fn(&Pair) -> f64| impostor.iter().filter(|p| d(p) <= threshold).count();
        let (frr, far) = (rejected(&|p| p.exact), accepted(&|p| p.exact));
        let (frr_t, far_t) = (rejected(&|p| p.template), accepted(&|p| p.template));
        // Rule of three: with no false accept in n independent trials, the rate is below 3/n
        // with 95 % confidence. With any accepted, it does not apply.
        let n = impostor.len();
        let bound = match (far, far_t) {
            (0, 0) => format!("{:.2} % (3/{n})", 300.0 / n as f64),
            (0, _) => format!("{:.2} % (3/{n}), not for the template", 300.0 / n as f64),
            _ => "— (false accepts seen)".into(),
        };
        writeln!(
            out,
            "| {threshold:.2} | {} | {} | {} | {} | {} | {} | {bound} |",
            genuine.len(),
            impostor.len(),
            rate(frr, genuine.len()),
            rate(far, impostor.len()),
            rate(frr_t, genuine.len()),
            rate(far_t, impostor.len()),
        )?;
    }
    writeln!(out)?;

    let exact = |pairs: &[Pair]| pairs.iter().map(|p| p.exact).collect::<Vec<_>>();
    let template = |pairs: &[Pair]| pairs.iter().map(|p| p.template).collect::<Vec<_>>();
    if !genuine.is_empty() && !impostor.is_empty() {
        writeln!(
            out,
            "Distances, smallest / median / largest: genuine {} (template {}), impostor {} (template {}).",
            spread(exact(genuine)),
            spread(template(genuine)),
            spread(exact(impostor)),
            spread(template(impostor)),
        )?;
    }
    let nearest = genuine
        .iter()
        .min_by(|a, b| by_distance(&a.exact, &b.exact));
    let farthest = genuine
        .iter()
        .max_by(|a, b| by_distance(&a.exact, &b.exact));
    let closest = impostor
        .iter()
        .min_by(|a, b| by_distance(&a.exact, &b.exact));
    if let Some(p) = nearest {
        // Two photographs of one person hardly come this close; one photograph cropped or
        // encoded twice does (dlib's `johns` has such pairs). Counted, not left out.
        let twice = genuine.iter().filter(|p| p.exact < SAME_PHOTOGRAPH).count();
        writeln!(
            out,
            "Closest genuine pair: `{}` ~ `{}`, {:.3}; {twice} genuine pairs are closer than {SAME_PHOTOGRAPH:.2} (probably one photograph twice).",
            faces[p.first].name, faces[p.second].name, p.exact
        )?;
    }
    if let Some(p) = farthest {
        writeln!(
            out,
            "Farthest genuine pair: `{}` ~ `{}`, {:.3}.",
            faces[p.first].name, faces[p.second].name, p.exact
        )?;
    }
    if let Some(p) = closest {
        writeln!(
            out,
            "Closest impostor pair: `{}` ~ `{}`, {:.3}.",
            faces[p.first].name, faces[p.second].name, p.exact
        )?;
    }
    writeln!(
        out,
        "Largest change of a distance by the template (either side the template, all {} pairs): {largest_change:.4} (bound √{DIMENSIONS}/512 = {:.4}).",
        genuine.len() + impostor.len(),
        (DIMENSIONS as f64).sqrt() / 512.0
    )?;
    writeln!(out)?;

    writeln!(
        out,
        "| identity | pictures compared | largest genuine distance | closest other identity | its distance |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    for (index, identity) in identities.iter().enumerate() {
        let mine =
            |p: &&Pair| faces[p.first].identity == index || faces[p.second].identity == index;
        let embedded = faces.iter().filter(|f| f.identity == index).count();
        let largest = genuine
            .iter()
            .filter(mine)
            .map(|p| p.exact)
            .max_by(by_distance)
            .map_or_else(|| "—".into(), |d| format!("{d:.3}"));
        let (other, nearest) = impostor
            .iter()
            .filter(mine)
            .min_by(|a, b| by_distance(&a.exact, &b.exact))
            .map_or_else(
                || ("—".into(), "—".into()),
                |p| {
                    let other = if faces[p.first].identity == index {
                        p.second
                    } else {
                        p.first
                    };
                    (
                        identities[faces[other].identity].label.clone(),
                        format!("{:.3}", p.exact),
                    )
                },
            );
        writeln!(
            out,
            "| {} | {embedded} / {} | {largest} | {other} | {nearest} |",
            identity.label,
            identity.pictures.len()
        )?;
    }
    Ok(out)
}
