//! A second-edition DeviceRequestInfo (ISO/IEC 18013-5, the `deviceRequestInfo` of a
//! DeviceRequest 1.1), as a phone receives it: parsed, and what parses writes back to CBOR
//! that parses to the same.
#![no_main]

use eid_mdoc::request::DeviceRequestInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = DeviceRequestInfo::parse(data) {
        assert_eq!(DeviceRequestInfo::parse(&info.encode()).ok(), Some(info));
    }
});
