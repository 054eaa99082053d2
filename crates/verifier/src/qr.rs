//! Reading a QR code from a picture, as a desk's camera or an uploaded image gives it: grey
//! levels (0 black … 255 white), row by row. The desk page sends them; the codes it finds
//! are offline codes (binary) or a phone's engagement (`mdoc:` text).
//!
//! The picture comes from anyone who can reach the desk's page, so its cost is bounded
//! before `rqrr` sees it. `rqrr` cannot be interrupted, and its search is combinatorial in
//! the finder patterns (the three squares in a QR code's corners, its "capstones") it
//! finds: for each one it tries every pair of others in line with it, on a fresh copy of
//! the whole picture. A picture tiled with finder patterns (512 × 512 pixels, 4096 of
//! them) kept it busy for minutes. Here the picture is binarised as `rqrr` would, the
//! finder patterns `rqrr` could accept are counted first in one pass, and a picture with
//! more than [`MAX_FINDER_PATTERNS`] is refused; `rqrr` then reads the same black and
//! white pixels.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

/// The longest side read, in pixels. The desk page scales camera frames and uploads to
/// 1600 pixels a side; a QR code needs far fewer.
pub const MAX_SIDE: usize = 2048;

/// The most pixels read (3 MiP: a 1600 × 1600 upload or a 1920 × 1080 camera frame fit).
/// The reader holds about six bytes a pixel while it works.
pub const MAX_PIXELS: usize = 3 * 1024 * 1024;

/// The most finder patterns a picture may show. One QR code has three; room is left for a
/// second code and for look-alikes in the background. `rqrr`'s grouping of finder
/// patterns costs up to n · ((n − 1) / 2)² trials, each on a copy of the picture: with
/// n = 8 that is at most about a hundred.
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

/// [`read_qr`], giving up with [`QrError::Stopped`] at its next step once `stop` is set. The
/// steps before `rqrr` look at `stop` on every row; `rqrr`'s own search, bounded by
/// [`MAX_FINDER_PATTERNS`], runs to its end.
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
    if count_finder_patterns(width, height, &black, MAX_FINDER_PATTERNS, stop)?
        > MAX_FINDER_PATTERNS
    {
        return Err(QrError::TooManyFinderPatterns);
    }
    let mut prepared =
        rqrr::PreparedImage::prepare_from_bitmap(width, height, |x, y| black[y * width + x]);
    drop(black);
    checkpoint(stop)?;
    for grid in prepared.detect_grids() {
        checkpoint(stop)?;
        let mut content = Vec::new();
        if grid.decode_to(&mut content).is_ok() {
            return Ok(content);
        }
    }
    Err(QrError::NotFound)
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

/// An upper bound on the finder patterns `rqrr` 0.11 finds in `black`, counted up to
/// `limit + 1`.
///
/// `rqrr` scans each row for black and white runs in the ratio 1:1:3:1:1 and takes the
/// hit as a finder pattern when the outer runs belong to one 4-connected black region
/// (the ring), the middle run to another (the stone), the stone is 10 % to 70 % the size
/// of the ring, and the ring was not taken yet; a ring once taken is never taken again.
/// Counting the distinct rings of the hits that pass the same tests (without the rest of
/// `rqrr`'s checks, which only turn hits down) bounds its count from above.
fn count_finder_patterns(
    width: usize,
    height: usize,
    black: &[bool],
    limit: usize,
    stop: &AtomicBool,
) -> Result<usize, QrError> {
    let (labels, sizes) = label_regions(width, height, black, stop)?;
    let mut rings = BTreeSet::new();
    for (row, labels) in black.chunks_exact(width).zip(labels.chunks_exact(width)) {
        checkpoint(stop)?;
        let mut test = |hit: Option<RunHit>| {
            let Some(hit) = hit else { return };
            let (left, stone, ring) = (labels[hit.left], labels[hit.stone], labels[hit.right]);
            let ratio = sizes[stone as usize] * 100 / sizes[ring as usize].max(1);
            if left == ring && stone != ring && 10 < ratio && ratio < 70 {
                rings.insert(ring);
            }
        };
        let Some((&first, rest)) = row.split_first() else {
            continue;
        };
        let mut scanner = LineScanner::new(first);
        for &pixel in rest {
            test(scanner.advance(pixel));
        }
        // As `rqrr` does: a white pixel past the end closes a pattern at the right edge.
        test(scanner.advance(false));
        if rings.len() > limit {
            break;
        }
    }
    Ok(rings.len())
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

/// `rqrr` 0.11's row scanner (`detect::LineScanner`), over black and white: the lengths of
/// the last five runs, tested each time a black run ends.
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
        // Each run within three quarters of the average module of its expected length.
        const EXPECTED: [usize; 5] = [1, 1, 3, 1, 1];
        let module = (self.runs[0] + self.runs[1] + self.runs[3] + self.runs[4]) / 4;
        let slack = module * 3 / 4;
        let fits = self.runs.iter().zip(EXPECTED).all(|(&run, expected)| {
            run + slack >= expected * module && run <= expected * module + slack
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
    fn finder_patterns(side: usize, module: usize) -> Vec<u8> {
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
        let found = count_finder_patterns(side, side, &black, 8, &AtomicBool::new(false));
        assert_eq!(found, Ok(3));
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
    /// after one pass over it.
    #[test]
    fn refuses_a_picture_tiled_with_finder_patterns() {
        for module in [1, 2, 3] {
            let grey = finder_patterns(512, module);
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
