//! A picture sent to the desk's QR reader (`POST /web/decode`): two bytes of width, two of
//! height, then grey levels. The same picture is also read enlarged (each pixel a square of
//! two to four), so that pictures of up to 1020 pixels a side, whose large modules make the
//! detector search wide areas, are read too without inputs of megabytes.
#![no_main]

use eid_verifier::qr::read_qr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let width = usize::from(u16::from_le_bytes([data[0], data[1]]) % 256);
    let height = usize::from(u16::from_le_bytes([data[2], data[3]]) % 256);
    let grey = &data[4..];
    // Any size is refused or read; a matching size exercises the detector.
    let _ = read_qr(width, height, grey);
    if width > 0 && height > 0 && grey.len() >= width * height {
        let picture = &grey[..width * height];
        let _ = read_qr(width, height, picture);
        // The width's high byte picks the enlargement: 2, 3 or 4 (0 and 1: none).
        let scale = usize::from(data[1] % 5);
        if scale >= 2 {
            let enlarged: Vec<u8> = picture
                .chunks_exact(width)
                .flat_map(|row| {
                    let row: Vec<u8> = row
                        .iter()
                        .flat_map(|&level| std::iter::repeat_n(level, scale))
                        .collect();
                    std::iter::repeat_n(row, scale).flatten()
                })
                .collect();
            let _ = read_qr(width * scale, height * scale, &enlarged);
        }
    }
});
