//! Reading a QR code from a picture, as a desk's camera or an uploaded image gives it: grey
//! levels (0 black … 255 white), row by row. The desk page sends them; the codes it finds
//! are offline codes (binary) or a phone's engagement (`mdoc:` text).
//!
//! The picture comes from anyone who can reach the desk's page, so its cost is bounded
//! before any search starts. A QR code is found by its finder patterns (the three squares in
//! its corners, each a black ring around a black stone), and trying every group of three
//! is combinatorial: a picture tiled with 4096 of them kept `rqrr`'s own search busy for
//! minutes, and ZXing's (`rxing`) is cubic in them too. Neither search runs here. The
//! picture is binarised, the finder patterns are found in one pass (a ring with a stone
//! inside, crossed by a row in the ratio 1:1:3:1:1), and a picture with more than
//! [`MAX_FINDER_PATTERNS`] is refused. Each group of three then goes to ZXing's detector
//! (`rxing`: the module size measured between the patterns, the version from it, the
//! alignment pattern searched for, a perspective transform, the modules sampled) and the
//! modules to `rqrr`'s decoder, which gives the content's bytes exactly.
//!
//! Two binarisations are tried, one after the other: a running average along the rows (as
//! `rqrr` and quirc do), which holds up under glare and weak contrast, and ZXing's local
//! blocks (`HybridBinarizer`), which holds up under blur.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The longest side read, in pixels. The desk page scales camera frames and uploads to
/// 1600 pixels a side; a QR code needs far fewer.
pub const MAX_SIDE: usize = 2048;

/// The most pixels read (3 MiP: a 1600 × 1600 upload or a 1920 × 1080 camera frame fit).
/// The reader holds about six bytes a pixel while it works.
pub const MAX_PIXELS: usize = 3 * 1024 * 1024;

/// The most finder patterns a picture may show. One QR code has three; room is left for a
/// second code and for look-alikes in its modules and in the background. Every group of
/// three is tried, each a bounded piece of work (one perspective, one grid of at most
/// 177 × 177 modules sampled and decoded): with 8 that is at most 56 groups.
pub const MAX_FINDER_PATTERNS: usize = 8;

/// Why no code came out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// Width or height zero, or the bytes not width × height.
    #[error("the picture must be width × height grey levels ({0})")]
    Shape(String),
    /// A side beyond [`MAX_SIDE`] or more than [`MAX_PIXELS`] in all.
    #[error(
        "the picture is {width} × {height} pixels; the reader takes at most {MAX_SIDE} a side and {MAX_PIXELS} pixels in all: scale it down"
    )]
    TooLarge {
        /// The width asked for.
        width: usize,
        /// The height asked for.
        height: usize,
    },
    /// More than [`MAX_FINDER_PATTERNS`] finder patterns: too costly to search.
    #[error(
        "the picture shows more than {MAX_FINDER_PATTERNS} finder patterns (the squares in a QR code's corners): show one QR code at a time"
    )]
    TooManyFinderPatterns,
    /// The caller no longer wanted the answer (its deadline passed, or its client left).
    #[error("reading the picture was stopped before it finished")]
    Stopped,
    /// No QR code could be read in it.
    #[error("no readable QR code in the picture")]
    NotFound,
}

/// Whether a picture of `width` × `height` may be read at all: callers check this before
/// receiving its pixels.
pub fn check_size(width: usize, height: usize) -> Result<(), QrError> {
    if width == 0 || height == 0 {
        return Err(QrError::Shape(format!("{width} × {height}")));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width.saturating_mul(height) > MAX_PIXELS {
        return Err(QrError::TooLarge { width, height });
    }
    Ok(())
}

/// The content of the first readable QR code in the picture.
pub fn read_qr(width: usize, height: usize, grey: &[u8]) -> Result<Vec<u8>, QrError> {
    read_qr_unless_stopped(width, height, grey, &AtomicBool::new(false))
}

/// [`read_qr`], giving up with [`QrError::Stopped`] at its next step once `stop` is set: on
/// every row of the passes over the picture, and between groups of finder patterns.
pub fn read_qr_unless_stopped(
    width: usize,
    height: usize,
    grey: &[u8],
    stop: &AtomicBool,
) -> Result<Vec<u8>, QrError> {
    check_size(width, height)?;
    if grey.len() != width * height {
        return Err(QrError::Shape(format!(
            "{} bytes for {width} × {height}",
            grey.len()
        )));
    }
    let black = binarise(width, height, grey, stop)?;
    match read_black(width, height, &black, stop) {
        Err(QrError::NotFound) => {}
        done => return done,
    }
    drop(black);
    let black = binarise_in_blocks(width, height, grey)?;
    checkpoint(stop)?;
    read_black(width, height, &black, stop)
}

/// The content of the first QR code whose finder patterns are found in `black` and whose
/// modules decode.
fn read_black(
    width: usize,
    height: usize,
    black: &[bool],
    stop: &AtomicBool,
) -> Result<Vec<u8>, QrError> {
    let found = finder_patterns(width, height, black, stop)?;
    if found.len() < 3 {
        return Err(QrError::NotFound);
    }
    let mut bits = bit_matrix(width, height)?;
    for (at, _) in black.iter().enumerate().filter(|(_, black)| **black) {
        // Within MAX_SIDE, so both fit in u32.
        bits.set((at % width) as u32, (at / width) as u32);
    }
    let detector = rxing::qrcode::detector::Detector::new(&bits);
    for (i, first) in found.iter().enumerate() {
        for (j, second) in found.iter().enumerate().skip(i + 1) {
            for third in found.iter().skip(j + 1) {
                checkpoint(stop)?;
                let mut three = [first, second, third].map(|pattern| {
                    rxing::qrcode::detector::FinderPattern::new(
                        pattern.x,
                        pattern.y,
                        pattern.module,
                    )
                });
                rxing::result_point_utils::orderBestPatterns(&mut three);
                let info = rxing::qrcode::detector::FinderPatternInfo::new(three);
                let Ok(located) = detector.processFinderPatternInfo(info) else {
                    continue;
                };
                let modules = rxing::common::DetectorRXingResult::getBits(&located);
                let size = modules.getWidth() as usize;
                let grid = rqrr::SimpleGrid::from_func(size, |x, y| {
                    // Within the grid's size, which is at most 177.
                    modules.get(x as u32, y as u32)
                });
                let mut content = Vec::new();
                if rqrr::Grid::new(grid).decode_to(&mut content).is_ok() {
                    return Ok(content);
                }
            }
        }
    }
    Err(QrError::NotFound)
}

fn bit_matrix(width: usize, height: usize) -> Result<rxing::common::BitMatrix, QrError> {
    let too_large = || QrError::TooLarge { width, height };
    let (w, h) = (
        u32::try_from(width).map_err(|_| too_large())?,
        u32::try_from(height).map_err(|_| too_large())?,
    );
    rxing::common::BitMatrix::new(w, h).map_err(|_| QrError::Shape(format!("{width} × {height}")))
}

/// Black and white pixels by ZXing's `HybridBinarizer`: each 8 × 8 block against the
/// average of the 5 × 5 blocks around it.
fn binarise_in_blocks(width: usize, height: usize, grey: &[u8]) -> Result<Vec<bool>, QrError> {
    use rxing::Binarizer as _;
    let shape = || QrError::Shape(format!("{width} × {height}"));
    let (w, h) = (
        u32::try_from(width).map_err(|_| shape())?,
        u32::try_from(height).map_err(|_| shape())?,
    );
    let source = rxing::Luma8Source::new(grey.to_vec(), w, h).map_err(|_| shape())?;
    let binarizer = rxing::common::HybridBinarizer::new(source);
    let matrix = binarizer
        .get_black_matrix()
        .map_err(|_| QrError::NotFound)?;
    Ok((0..width * height)
        .map(|at| matrix.get((at % width) as u32, (at / width) as u32))
        .collect())
}

fn checkpoint(stop: &AtomicBool) -> Result<(), QrError> {
    // Relaxed: the flag carries no data, only "give up"; being seen a row late is fine.
    if stop.load(Ordering::Relaxed) {
        Err(QrError::Stopped)
    } else {
        Ok(())
    }
}

/// Black (`true`) and white pixels, by the adaptive threshold `rqrr` 0.11 uses
/// (`PreparedImage::prepare`, after quirc): a running average over an eighth of the width,
/// run in both directions along each row, the pixel black when below 95 % of it. The
/// averages carry over from row to row, as there.
fn binarise(
    width: usize,
    height: usize,
    grey: &[u8],
    stop: &AtomicBool,
) -> Result<Vec<bool>, QrError> {
    let span = (width / 8).max(1);
    let mut black = vec![false; width * height];
    let mut row_average = vec![0usize; width];
    let (mut forward, mut backward) = (0usize, 0usize);
    for (y, (row, out)) in grey
        .chunks_exact(width)
        .zip(black.chunks_exact_mut(width))
        .enumerate()
    {
        checkpoint(stop)?;
        row_average.fill(0);
        for x in 0..width {
            let (v, u) = if y % 2 == 0 {
                (width - 1 - x, x)
            } else {
                (x, width - 1 - x)
            };
            backward = backward * (span - 1) / span + usize::from(row[v]);
            forward = forward * (span - 1) / span + usize::from(row[u]);
            row_average[v] += backward;
            row_average[u] += forward;
        }
        for ((pixel, level), average) in out.iter_mut().zip(row).zip(&row_average) {
            *pixel = usize::from(*level) < average * (100 - 5) / (200 * span);
        }
    }
    Ok(black)
}

/// Where a finder pattern lies, in pixels (the centre of a pixel at `x + 0.5`), and about
/// how many pixels a module covers.
struct FinderPattern {
    x: f32,
    y: f32,
    module: f32,
}

/// The finder patterns in `black`, or [`QrError::TooManyFinderPatterns`] when there are more
/// than [`MAX_FINDER_PATTERNS`].
///
/// A row crossing black and white runs in the ratio 1:1:3:1:1 is a hit when its outer runs
/// belong to one 4-connected black region (the ring), its middle run to another (the
/// stone), and the stone is 10 % to 70 % the size of the ring (a finder pattern's is 9 / 24,
/// 37 %). Each ring counts once, with the first stone found in it; its centre is the centre
/// of mass of ring and stone, its module the side of a square of a 33rd of their area.
fn finder_patterns(
    width: usize,
    height: usize,
    black: &[bool],
    stop: &AtomicBool,
) -> Result<Vec<FinderPattern>, QrError> {
    let (labels, sizes) = label_regions(width, height, black, stop)?;
    // Ring → stone, in the order found.
    let mut rings: Vec<(u32, u32)> = Vec::new();
    for (row, labels) in black.chunks_exact(width).zip(labels.chunks_exact(width)) {
        checkpoint(stop)?;
        let mut test = |hit: Option<RunHit>| {
            let Some(hit) = hit else { return };
            let (left, stone, ring) = (labels[hit.left], labels[hit.stone], labels[hit.right]);
            let ratio = sizes[stone as usize] * 100 / sizes[ring as usize].max(1);
            if left == ring
                && stone != ring
                && 10 < ratio
                && ratio < 70
                && !rings.iter().any(|(known, _)| *known == ring)
            {
                rings.push((ring, stone));
            }
        };
        let Some((&first, rest)) = row.split_first() else {
            continue;
        };
        let mut scanner = LineScanner::new(first);
        for &pixel in rest {
            test(scanner.advance(pixel));
        }
        // A white pixel past the end closes a pattern at the right edge.
        test(scanner.advance(false));
        if rings.len() > MAX_FINDER_PATTERNS {
            return Err(QrError::TooManyFinderPatterns);
        }
    }
    // The sums of x and of y over each ring and stone, in one more pass.
    let mut sums: BTreeMap<u32, (u64, u64)> = rings
        .iter()
        .flat_map(|&(ring, stone)| [(ring, (0, 0)), (stone, (0, 0))])
        .collect();
    for (y, labels) in labels.chunks_exact(width).enumerate() {
        checkpoint(stop)?;
        for (x, label) in labels.iter().enumerate() {
            if let Some((sum_x, sum_y)) = sums.get_mut(label) {
                *sum_x += x as u64;
                *sum_y += y as u64;
            }
        }
    }
    Ok(rings
        .iter()
        .map(|(ring, stone)| {
            let area = (sizes[*ring as usize] + sizes[*stone as usize]) as f64;
            let (ring, stone) = (sums[ring], sums[stone]);
            FinderPattern {
                x: ((ring.0 + stone.0) as f64 / area + 0.5) as f32,
                y: ((ring.1 + stone.1) as f64 / area + 0.5) as f32,
                module: (area / 33.0).sqrt() as f32,
            }
        })
        .collect())
}

/// Each black pixel's 4-connected region (1, 2, …; 0 for white) and each region's size in
/// pixels (indexed by region).
fn label_regions(
    width: usize,
    height: usize,
    black: &[bool],
    stop: &AtomicBool,
) -> Result<(Vec<u32>, Vec<usize>), QrError> {
    let mut labels = vec![0u32; width * height];
    let mut sizes = vec![0usize];
    let mut pending = Vec::new();
    for start in 0..width * height {
        if start % width == 0 {
            checkpoint(stop)?;
        }
        if !black[start] || labels[start] != 0 {
            continue;
        }
        // At most MAX_PIXELS regions, so a region number fits in u32.
        let label = u32::try_from(sizes.len()).map_err(|_| QrError::TooLarge { width, height })?;
        let mut size = 0;
        labels[start] = label;
        pending.push(start);
        while let Some(at) = pending.pop() {
            size += 1;
            let (x, y) = (at % width, at / width);
            let neighbours = [
                (x > 0).then(|| at - 1),
                (x + 1 < width).then(|| at + 1),
                (y > 0).then(|| at - width),
                (y + 1 < height).then(|| at + width),
            ];
            for next in neighbours.into_iter().flatten() {
                if black[next] && labels[next] == 0 {
                    labels[next] = label;
                    pending.push(next);
                }
            }
        }
        sizes.push(size);
    }
    Ok((labels, sizes))
}

/// Where a 1:1:3:1:1 run pattern lies on a row: the first pixel of its first, third and
/// fifth (black) runs.
struct RunHit {
    left: usize,
    stone: usize,
    right: usize,
}

/// A row scanner over black and white (after `rqrr` 0.11's `detect::LineScanner`): the
/// lengths of the last five runs, tested each time a black run ends.
struct LineScanner {
    runs: [usize; 5],
    last_black: bool,
    run: usize,
    changes: usize,
    position: usize,
}

impl LineScanner {
    fn new(first_black: bool) -> Self {
        Self {
            runs: [0; 5],
            last_black: first_black,
            run: 1,
            changes: 0,
            position: 0,
        }
    }

    fn advance(&mut self, black: bool) -> Option<RunHit> {
        self.position += 1;
        if black == self.last_black {
            self.run += 1;
            return None;
        }
        self.last_black = black;
        self.runs.rotate_left(1);
        self.runs[4] = self.run;
        self.run = 1;
        self.changes += 1;
        if black || self.changes < 5 {
            return None;
        }
        // As ZXing tests: each run within half a module of its expected length (1, 1, 3,
        // 1, 1), a module being a seventh of the five. In integers: |7·run − expected·total|
        // < expected·total / 2. (`rqrr`'s integer test misses the patterns of small modules
        // seen at a slant.)
        let total: usize = self.runs.iter().sum();
        let fits = total >= 7
            && self
                .runs
                .iter()
                .zip([1usize, 1, 3, 1, 1])
                .all(|(&run, expected)| {
                    2 * (7 * run).abs_diff(expected * total) < expected * total
                });
        fits.then(|| RunHit {
            left: self.position - self.runs.iter().sum::<usize>(),
            stone: self.position - self.runs[2..].iter().sum::<usize>(),
            right: self.position - self.runs[4],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QR code drawn as grey levels, `scale` pixels a module, with a quiet zone.
    fn picture(content: &[u8], scale: usize) -> (usize, Vec<u8>) {
        let code =
            qrcode::QrCode::with_error_correction_level(content, qrcode::EcLevel::M).unwrap();
        let modules = code.width();
        let side = (modules + 8) * scale;
        let mut grey = vec![255u8; side * side];
        for y in 0..modules {
            for x in 0..modules {
                if code[(x, y)] == qrcode::Color::Dark {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            grey[((y + 4) * scale + dy) * side + (x + 4) * scale + dx] = 0;
                        }
                    }
                }
            }
        }
        (side, grey)
    }

    /// A `side` × `side` picture tiled with finder patterns of `module` pixels a module, one
    /// module of white between them.
    fn tiled_with_finder_patterns(side: usize, module: usize) -> Vec<u8> {
        let period = 8 * module;
        let mut grey = vec![255u8; side * side];
        for y in 0..side / period * period {
            for x in 0..side / period * period {
                let (mx, my) = (x % period / module, y % period / module);
                let ring = mx < 7 && my < 7 && (mx == 0 || mx == 6 || my == 0 || my == 6);
                let stone = (2..=4).contains(&mx) && (2..=4).contains(&my);
                if ring || stone {
                    grey[y * side + x] = 0;
                }
            }
        }
        grey
    }

    #[test]
    fn reads_binary_content_back() {
        let content: Vec<u8> = (0..=255u8).cycle().take(395).collect();
        let (side, grey) = picture(&content, 4);
        assert_eq!(read_qr(side, side, &grey).unwrap(), content);
    }

    #[test]
    fn counts_the_three_finder_patterns_of_a_code() {
        let (side, grey) = picture(b"mdoc:owBjMS4w", 3);
        let black = binarise(side, side, &grey, &AtomicBool::new(false)).unwrap();
        let found = finder_patterns(side, side, &black, &AtomicBool::new(false)).unwrap();
        assert_eq!(found.len(), 3);
        // The top-left pattern's centre is 3.5 modules in from the code's corner, which is
        // 4 modules (the quiet zone) in from the picture's.
        let top_left = found
            .iter()
            .min_by(|a, b| (a.x + a.y).total_cmp(&(b.x + b.y)))
            .unwrap();
        assert!((top_left.x - 7.5 * 3.0).abs() < 0.01, "{}", top_left.x);
        assert!((top_left.y - 7.5 * 3.0).abs() < 0.01, "{}", top_left.y);
        assert!((top_left.module - 3.0).abs() < 0.01, "{}", top_left.module);
    }

    #[test]
    fn refuses_wrong_shapes_and_blank_pictures() {
        assert!(matches!(read_qr(0, 10, &[]), Err(QrError::Shape(_))));
        assert!(matches!(
            read_qr(MAX_SIDE + 1, 1, &[0; MAX_SIDE + 1]),
            Err(QrError::TooLarge { .. })
        ));
        assert_eq!(
            check_size(2048, 2048),
            Err(QrError::TooLarge {
                width: 2048,
                height: 2048
            })
        );
        assert_eq!(check_size(1600, 1600), Ok(()));
        assert_eq!(check_size(1920, 1080), Ok(()));
        assert!(matches!(read_qr(10, 10, &[0; 99]), Err(QrError::Shape(_))));
        assert_eq!(read_qr(64, 64, &[255; 64 * 64]), Err(QrError::NotFound));
    }

    /// A picture tiled with 4096 finder patterns kept `rqrr` busy for minutes; it is refused
    /// after one pass over it, with either binarisation.
    #[test]
    fn refuses_a_picture_tiled_with_finder_patterns() {
        for module in [1, 2, 3] {
            let grey = tiled_with_finder_patterns(512, module);
            assert_eq!(
                read_qr(512, 512, &grey),
                Err(QrError::TooManyFinderPatterns),
                "{module} pixels a module"
            );
        }
    }

    #[test]
    fn stops_when_asked() {
        let (side, grey) = picture(b"mdoc:owBjMS4w", 3);
        assert_eq!(
            read_qr_unless_stopped(side, side, &grey, &AtomicBool::new(true)),
            Err(QrError::Stopped)
        );
    }
}
