//! UniFFI's bindings generator, at the version the SDK is built with:
//! `cargo run -p eid-sdk --features bindgen --bin uniffi-bindgen -- generate --library
//! target/debug/libeid_sdk.so --language kotlin --out-dir …` (kotlin, swift, python).

fn main() {
    uniffi::uniffi_bindgen_main()
}
