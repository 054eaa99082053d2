//! OpenID4VCI input from wallets: key proofs with their key attestations (verified against a
//! fixed provider key), credential offer URIs, and credential requests. The first byte picks
//! which. Never a panic.
#![no_main]

use eid_crypto::{Algorithm, VerifyingKey};
use eid_oid4vc::credential::CredentialRequest;
use eid_oid4vc::offer::CredentialOffer;
use eid_oid4vc::proof::{ProofPolicy, verify_key_proofs};
use eid_trust::model::{ProviderState, WalletProvider};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(data) else { return };
    match which % 3 {
        0 => {
            // The P-256 generator point as the provider's attestation key.
            let g = [
                0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5,
                0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4,
                0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a,
                0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33,
                0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
            ];
            let Ok(key) = VerifyingKey::from_sec1(Algorithm::Es256, &g) else { return };
            let providers = [WalletProvider {
                id: "wechat".into(),
                name: "WeChat".into(),
                attestation_keys: vec![key.to_jwk()],
                state: ProviderState::Active,
            }];
            let storage = ["iso_18045_high".to_owned()];
            let policy = ProofPolicy {
                audience: "https://authority.example",
                now: time::macros::datetime!(2026-11-23 10:00 UTC),
                max_proof_age: time::Duration::minutes(5),
                providers: &providers,
                key_storage: &storage,
            };
            let proofs: Vec<&str> = text.lines().take(8).collect();
            let _ = verify_key_proofs(&proofs, &policy);
        }
        1 => {
            if let Ok(offer) = CredentialOffer::from_uri(text) {
                let _ = CredentialOffer::from_uri(&offer.to_uri());
            }
        }
        _ => {
            if let Ok(request) = serde_json::from_str::<CredentialRequest>(text) {
                let _ = request.jwt_proofs(3);
            }
        }
    }
});
