//! A picture sent to the desk's QR reader (`POST /web/decode`): two bytes of width, two of
//! height, then grey levels.
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
        let _ = read_qr(width, height, &grey[..width * height]);
    }
});
