//! SessionEstablishment and SessionData as they arrive over BLE/NFC/TCP, parsed and opened
//! by a device session. Never a panic.
#![no_main]

use eid_crypto::session::AgreementKey;
use eid_mdoc::engagement::DeviceEngagement;
use eid_mdoc::session::{Session, session_data, session_establishment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = session_establishment(data);
    let _ = session_data(data);
    let Ok(e_device) = AgreementKey::generate() else { return };
    let engagement = DeviceEngagement::encode(e_device.public_point());
    let _ = Session::for_device(&engagement, &e_device, data, None);
});
