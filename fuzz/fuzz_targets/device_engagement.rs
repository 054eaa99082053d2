//! A DeviceEngagement from a QR code, as bytes and as an `mdoc:` URI.
#![no_main]

use eid_mdoc::engagement::DeviceEngagement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(engagement) = DeviceEngagement::parse(data) {
        let uri = DeviceEngagement::qr_uri(&engagement.bytes);
        assert_eq!(DeviceEngagement::from_qr_uri(&uri).ok(), Some(engagement));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = DeviceEngagement::from_qr_uri(text);
    }
});
