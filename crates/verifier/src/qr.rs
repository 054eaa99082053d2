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
//! [`MAX_FINDER_PATTERNS`] is refused. Each group of three that could be one code's corners
//! (modules alike, a near-square corner between legs alike) then goes to ZXing's detector
//! (`rxing`: the module size measured between the patterns, the version from it, the
//! alignment pattern searched for, a perspective transform, the modules sampled), at most
//! [`MAX_GROUPS_TRIED`] in a reading, half under each binarisation, and the modules to
//! `rqrr`'s decoder, which gives the content's bytes exactly. A mirrored code reads too.
//!
//! Two binarisations are tried, one after the other: a running average along the rows (as
//! `rqrr` and quirc do), which holds up under glare and weak contrast, and ZXing's local
//! blocks (`HybridBinarizer`), which holds up under blur. A picture is refused for too many
//! finder patterns only when neither reads a code.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The longest side read, in pixels. The desk page scales camera frames and uploads to
/// 1600 pixels a side; a QR code needs far fewer.
pub const MAX_SIDE: usize = 2048;

/// The most pixels read (3 MiP: a 1600 × 1600 upload or a 1920 × 1080 camera frame fit).
/// The reader holds at most about ten bytes a pixel while it works, beside the picture: one
/// for black and white, four for the regions' numbers, at most two for their sizes (half the
/// pixels are regions, a checkerboard) and under three for the flood fill's queue (at most
/// two thirds of the pixels wait in it, a comb); the second binarisation needs less, after.
pub const MAX_PIXELS: usize = 3 * 1024 * 1024;

/// The most finder patterns a picture may show. One QR code has three; room is left for a
/// second code and for look-alikes in its modules and in the background.
pub const MAX_FINDER_PATTERNS: usize = 8;

/// The most groups of three finder patterns given to ZXing's detector in one reading: half
/// under each binarisation, so that look-alikes under the first leave the second its tries.
/// Only groups that could be one code's corners are given (modules alike, a near-square
/// corner between legs alike), a real code's first or second; each is up to three searches
/// for the alignment pattern (windows of 8, 16 and 32 modules a side, which with large
/// modules span the picture), one perspective and one grid of at most 177 × 177 modules
/// sampled and decoded. Look-alikes drawn to pass the shape test still stop here.
pub const MAX_GROUPS_TRIED: usize = 16;

// Region sizes and pixel indices are u32, and a stone's size is multiplied by 100.
const _: () = assert!(MAX_PIXELS as u64 * 100 <= u32::MAX as u64);

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
    let first = read_black(width, height, &black, &mut (MAX_GROUPS_TRIED / 2), stop);
    match first {
        // A busy frame may show too many look-alikes under one binarisation and not the
        // other: both are tried before refusing it.
        Err(QrError::NotFound | QrError::TooManyFinderPatterns) => {}
        done => return done,
    }
    drop(black);
    let second = binarise_in_blocks(width, height, grey).and_then(|black| {
        checkpoint(stop)?;
        read_black(width, height, &black, &mut (MAX_GROUPS_TRIED / 2), stop)
    });
    match second {
        Err(QrError::NotFound) if first == Err(QrError::TooManyFinderPatterns) => first,
        second => second,
    }
}

/// The content of the first QR code whose finder patterns are found in `black` and whose
/// modules decode, giving at most `tries` more groups of three to the detector.
fn read_black(
    width: usize,
    height: usize,
    black: &[bool],
    tries: &mut usize,
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
                if !could_be_one_code([first, second, third]) {
                    continue;
                }
                let Some(left) = tries.checked_sub(1) else {
                    return Err(QrError::NotFound);
                };
                *tries = left;
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

/// Whether three finder patterns could be the corners of one QR code as a camera sees it:
/// their modules alike (within twice), and at one of them a corner between two legs alike
/// (within twice), neither far from square (53° to 127°), each spanning 10 to 260 modules
/// between centres (versions 1 to 40 span 14 to 170; a tilt shrinks the module estimate,
/// which comes from a pattern's area, faster than it shortens a leg). A camera tilted by
/// 60° halves one leg and a side's modules; the reader does not read such codes anyway.
/// Groups that fail cost ZXing's detector nothing.
fn could_be_one_code(three: [&FinderPattern; 3]) -> bool {
    let modules = three.map(|p| p.module);
    let (least, most) = modules
        .iter()
        .fold((f32::MAX, 0f32), |(l, m), &v| (l.min(v), m.max(v)));
    if !(least > 0.0 && most <= 2.0 * least) {
        return false;
    }
    let module = modules.iter().sum::<f32>() / 3.0;
    (0..3).any(|corner| {
        let at = three[corner];
        let [a, b] =
            [three[(corner + 1) % 3], three[(corner + 2) % 3]].map(|p| (p.x - at.x, p.y - at.y));
        let (la, lb) = (a.0.hypot(a.1), b.0.hypot(b.1));
        let cos = (a.0 * b.0 + a.1 * b.1) / (la * lb);
        let spans = |leg: f32| (10.0..=260.0).contains(&(leg / module));
        la <= 2.0 * lb && lb <= 2.0 * la && cos.abs() <= 0.6 && spans(la) && spans(lb)
    })
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
            let area = f64::from(sizes[*ring as usize]) + f64::from(sizes[*stone as usize]);
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
) -> Result<(Vec<u32>, Vec<u32>), QrError> {
    let mut labels = vec![0u32; width * height];
    let mut sizes = vec![0u32];
    // Pixel indices, below MAX_PIXELS: u32 halves the queue of an all-black picture.
    let mut pending: Vec<u32> = Vec::new();
    for start in 0..width * height {
        if start % width == 0 {
            checkpoint(stop)?;
        }
        if !black[start] || labels[start] != 0 {
            continue;
        }
        // At most MAX_PIXELS regions, so a region number fits in u32.
        let label = u32::try_from(sizes.len()).map_err(|_| QrError::TooLarge { width, height })?;
        let mut size = 0u32;
        labels[start] = label;
        // Below MAX_PIXELS, as every index here.
        pending.push(start as u32);
        while let Some(at) = pending.pop() {
            let at = at as usize;
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
                    pending.push(next as u32);
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

    /// `grey`, `side` pixels a side, mirrored left to right.
    fn mirrored(side: usize, grey: &[u8]) -> Vec<u8> {
        grey.chunks_exact(side)
            .flat_map(|row| row.iter().rev().copied())
            .collect()
    }

    #[test]
    fn reads_a_mirrored_code() {
        let content: Vec<u8> = (0..=255u8).cycle().take(395).collect();
        let (side, grey) = picture(&content, 4);
        assert_eq!(
            read_qr(side, side, &mirrored(side, &grey)).unwrap(),
            content
        );
    }

    /// A `side` pixels wide white picture of `height` rows with a finder pattern of `module`
    /// pixels a module centred at each of `centres` (in modules).
    fn finder_patterns_at(
        side: usize,
        height: usize,
        module: usize,
        centres: &[(usize, usize)],
    ) -> Vec<u8> {
        let mut grey = vec![255u8; side * height];
        for &(cx, cy) in centres {
            for my in 0..7 {
                for mx in 0..7 {
                    let ring = mx == 0 || mx == 6 || my == 0 || my == 6;
                    let stone = (2..=4).contains(&mx) && (2..=4).contains(&my);
                    if !(ring || stone) {
                        continue;
                    }
                    for dy in 0..module {
                        for dx in 0..module {
                            let (x, y) = ((cx + mx - 3) * module + dx, (cy + my - 3) * module + dy);
                            grey[y * side + x] = 0;
                        }
                    }
                }
            }
        }
        grey
    }

    #[test]
    fn only_groups_that_could_be_one_code_go_to_the_detector() {
        let (side, grey) = picture(b"mdoc:owBjMS4w", 3);
        let black = binarise(side, side, &grey, &AtomicBool::new(false)).unwrap();
        let found = finder_patterns(side, side, &black, &AtomicBool::new(false)).unwrap();
        assert!(could_be_one_code([&found[0], &found[1], &found[2]]));
        let at = |x, y, module| FinderPattern { x, y, module };
        let (a, b) = (at(100.0, 100.0, 4.0), at(300.0, 100.0, 4.0));
        // A square corner with legs of 50 modules; then each way of failing.
        assert!(could_be_one_code([&a, &b, &at(100.0, 300.0, 4.0)]));
        for (c, why) in [
            (at(100.0, 300.0, 9.0), "modules unlike"),
            (at(100.0, 600.0, 4.0), "legs unlike"),
            (at(500.0, 100.0, 4.0), "in a line"),
            (at(100.0, 130.0, 4.0), "too close"),
        ] {
            assert!(!could_be_one_code([&a, &b, &c]), "{why}");
        }
        assert!(!could_be_one_code([
            &at(0.0, 0.0, 1.0),
            &at(300.0, 0.0, 1.0),
            &at(0.0, 300.0, 1.0)
        ]));
        // Two patterns on one spot: no corner, and no panic.
        assert!(!could_be_one_code([&a, &a, &b]));

        // Three finder patterns of 1-pixel modules in a row above a code of 3-pixel ones: the
        // first groups in the order found are theirs, or a mix, and none could be a code. The
        // code's own is the first group tried, so one try reads it.
        let strip = finder_patterns_at(side, 20, 1, &[(5, 10), (25, 10), (45, 10)]);
        let grey = [strip, grey].concat();
        let height = grey.len() / side;
        let black = binarise(side, height, &grey, &AtomicBool::new(false)).unwrap();
        let stop = AtomicBool::new(false);
        assert_eq!(
            finder_patterns(side, height, &black, &stop).unwrap().len(),
            6
        );
        let mut tries = 1;
        assert_eq!(
            read_black(side, height, &black, &mut tries, &stop).unwrap(),
            b"mdoc:owBjMS4w"
        );
    }

    /// Eight finder patterns on a square lattice make over 30 groups that could each be a
    /// code's corners, and none is: the detector is given at most MAX_GROUPS_TRIED of them.
    #[test]
    fn the_detector_is_given_a_bounded_number_of_groups() {
        let (module, step) = (3, 24);
        let centres: Vec<_> = (0..3)
            .flat_map(|i| (0..3).map(move |j| (8 + i * step, 8 + j * step)))
            .take(8)
            .collect();
        let side = (16 + 2 * step) * module;
        let grey = finder_patterns_at(side, side, module, &centres);
        let black = binarise(side, side, &grey, &AtomicBool::new(false)).unwrap();
        let stop = AtomicBool::new(false);
        let found = finder_patterns(side, side, &black, &stop).unwrap();
        assert_eq!(found.len(), 8);
        let mut plausible = 0;
        for (i, first) in found.iter().enumerate() {
            for (j, second) in found.iter().enumerate().skip(i + 1) {
                for third in found.iter().skip(j + 1) {
                    plausible += usize::from(could_be_one_code([first, second, third]));
                }
            }
        }
        assert!(plausible > 30, "{plausible}");
        let mut tries = MAX_GROUPS_TRIED;
        assert_eq!(
            read_black(side, side, &black, &mut tries, &stop),
            Err(QrError::NotFound)
        );
        assert_eq!(tries, 0);
        assert_eq!(read_qr(side, side, &grey), Err(QrError::NotFound));
        // With no tries left a readable code is not read; with one it is.
        let (side, grey) = picture(b"mdoc:owBjMS4w", 3);
        let black = binarise(side, side, &grey, &stop).unwrap();
        for (tries, read) in [(0, false), (1, true)] {
            let mut left = tries;
            let content = read_black(side, side, &black, &mut left, &stop);
            assert_eq!(content.is_ok(), read, "{tries} tries: {content:?}");
        }
    }

    /// Sixteen faint finder patterns (grey 120 on 140) beside a code: the running average sees
    /// them and too many patterns, ZXing's blocks take the faint ones for white and read the
    /// code.
    #[test]
    fn too_many_patterns_under_one_binarisation_is_read_under_the_other() {
        let (side, code) = picture(b"mdoc:owBjMS4w", 3);
        // The patterns in its first 80 pixels: the running average darkens the strip's
        // last pixels, next to the code's white.
        let strip_width = 120;
        let centres: Vec<_> = (0..4)
            .flat_map(|i| (0..4).map(move |j| (4 + i * 10, 4 + j * 10)))
            .collect();
        let strip: Vec<u8> = finder_patterns_at(strip_width, side, 2, &centres)
            .into_iter()
            .map(|level| if level == 0 { 120 } else { 140 })
            .collect();
        let width = strip_width + side;
        let grey: Vec<u8> = strip
            .chunks_exact(strip_width)
            .zip(code.chunks_exact(side))
            .flat_map(|(left, right)| left.iter().chain(right).copied())
            .collect();
        let stop = AtomicBool::new(false);
        let black = binarise(width, side, &grey, &stop).unwrap();
        assert!(matches!(
            finder_patterns(width, side, &black, &stop),
            Err(QrError::TooManyFinderPatterns)
        ));
        assert_eq!(read_qr(width, side, &grey).unwrap(), b"mdoc:owBjMS4w");
        // With the code's modules right of and below its top-left finder pattern wiped,
        // nothing reads, and the refusal says why.
        let wiped: Vec<u8> = grey
            .chunks_exact(width)
            .enumerate()
            .flat_map(|(y, row)| {
                row.iter().enumerate().map(move |(x, &level)| {
                    let (cx, cy) = (x.saturating_sub(strip_width), y);
                    if x >= strip_width && cx >= 36 && cy >= 36 {
                        255
                    } else {
                        level
                    }
                })
            })
            .collect();
        assert_eq!(
            read_qr(width, side, &wiped),
            Err(QrError::TooManyFinderPatterns)
        );
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
