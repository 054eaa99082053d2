//! An issuer key in SoftHSM 2 through PKCS#11: a token is initialised, a P-256 key pair
//! generated on it (never extractable), and its signatures verify with the public key read
//! from the token — the same `Signer` the issuer uses with a key file. Skips, saying so,
//! where SoftHSM is not installed (`.ci/run` installs it).
//!
//! SoftHSM reads its configuration from `SOFTHSM2_CONF`, which `.cargo/config.toml` points
//! at `/tmp/eid-softhsm/softhsm2.conf`; this test writes that file and a fresh token folder.

use std::path::Path;

use eid_crypto::pkcs11::{Pkcs11Signer, fresh_softhsm_store, init_token};
use eid_crypto::{CryptoError, Signer};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[test]
#[ignore = "needs SoftHSM 2 (scripts/test installs it)"]
fn softhsm_key_signs_es256() {
    let module = Path::new(MODULE);
    let Some(conf) = eid_core::testing::required_env("SOFTHSM2_CONF") else {
        return;
    };
    if eid_core::testing::required_file(module).is_none() {
        return;
    }
    fresh_softhsm_store(Path::new(&conf)).unwrap();

    // Initialise the free token and set the user PIN.
    init_token(module, "eid-issuer", "so-pin-1234", "user-pin-1234").unwrap();

    let signer = Pkcs11Signer::generate(module, "eid-issuer", "user-pin-1234", "ds-4501").unwrap();
    let message = b"the MSO or the JWS signing input";
    let signature = signer.sign(message).unwrap();
    assert_eq!(signature.len(), 64);
    signer.verifying_key().verify(message, &signature).unwrap();
    assert!(
        signer
            .verifying_key()
            .verify(b"another message", &signature)
            .is_err()
    );

    // Opened again by label, it is the same key. (A module is initialised once per process:
    // an issuer holds one signer per key and shares it; this one is closed first.)
    let public = signer.verifying_key().clone();
    drop(signer);
    let again = Pkcs11Signer::open(module, "eid-issuer", "user-pin-1234", "ds-4501").unwrap();
    assert_eq!(again.verifying_key(), &public);
    again
        .verifying_key()
        .verify(message, &again.sign(message).unwrap())
        .unwrap();

    // A wrong PIN, a missing key, a missing token: clear errors, no PIN in them.
    for result in [
        Pkcs11Signer::open(module, "eid-issuer", "wrong-pin", "ds-4501").err(),
        Pkcs11Signer::open(module, "eid-issuer", "user-pin-1234", "ds-9999").err(),
        Pkcs11Signer::open(module, "no-such-token", "user-pin-1234", "ds-4501").err(),
    ] {
        let Some(CryptoError::Pkcs11(message)) = result else {
            panic!("expected a PKCS#11 error");
        };
        assert!(!message.contains("pin-1234"), "{message}");
    }
}
