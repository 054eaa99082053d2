//! A face template read from an offline code (outside bytes): any bytes, never a panic; what
//! reads is 129 bytes of version 1, its values within the scale, and it round-trips.
#![no_main]

use eid_face::{DIMENSIONS, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(template) = Template::from_bytes(data) else { return };
    assert_eq!(template.as_bytes(), data);
    let embedding = template.embedding();
    assert_eq!(embedding.0.len(), DIMENSIONS);
    assert!(embedding.0.iter().all(|v| v.abs() <= 128.0 / 256.0));
    assert_eq!(embedding.template(), template);
});
