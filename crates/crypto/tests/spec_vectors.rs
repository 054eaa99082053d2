//! Known-answer tests against the specs' published examples in `testdata`
//! (see its PROVENANCE.md). They are part of the repository.

#![expect(
    clippy::panic,
    reason = "a spec vector missing from the repository fails the test"
)]

use std::path::PathBuf;

use eid_crypto::{Algorithm, Jwk, Signer, SigningKey, b64url_decode};

fn testdata(path: &str) -> Option<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let file = root.join(path);
    match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(_) => {
            panic!(
                "{} is missing: the spec vectors are part of the repository (testdata/)",
                file.display()
            );
        }
    }
}

#[test]
fn rfc9901_section_5_1_issuer_signature_verifies_with_the_published_key() {
    let (Some(jws), Some(jwk)) = (
        testdata("sd-jwt/rfc9901/s5_1_issuer_signed_jwt.txt"),
        testdata("sd-jwt/keys/issuer.public.jwk.json"),
    ) else {
        return;
    };
    let key = serde_json::from_str::<Jwk>(&jwk)
        .unwrap()
        .verifying_key()
        .unwrap();
    let jws = jws.trim();
    let (signing_input, signature) = jws.rsplit_once('.').unwrap();
    let signature = b64url_decode(signature).unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&b64url_decode(signing_input.split('.').next().unwrap()).unwrap())
            .unwrap();
    let alg = Algorithm::from_jose(header["alg"].as_str().unwrap()).unwrap();
    key.verify_as(alg, signing_input.as_bytes(), &signature)
        .unwrap();
    // One flipped bit of the signing input and it no longer verifies.
    let mut tampered = signing_input.as_bytes().to_vec();
    tampered[signing_input.len() - 1] ^= 1;
    assert!(key.verify(&tampered, &signature).is_err());
}

#[test]
fn published_private_keys_match_their_public_keys() {
    for who in ["issuer", "holder"] {
        let (Some(private), Some(public)) = (
            testdata(&format!("sd-jwt/keys/{who}.private.jwk.json")),
            testdata(&format!("sd-jwt/keys/{who}.public.jwk.json")),
        ) else {
            return;
        };
        let key = SigningKey::from_jwk_json(&private).unwrap();
        let public = serde_json::from_str::<Jwk>(&public)
            .unwrap()
            .verifying_key()
            .unwrap();
        assert_eq!(key.verifying_key(), &public, "{who}");
        let sig = key.sign(b"eid").unwrap();
        public.verify(b"eid", &sig).unwrap();
    }
}

#[test]
fn openid4vp_b_2_6_1_jwk_thumbprint() {
    let Some(inputs) = testdata("openid4vp/session_transcript/redirect_inputs.json") else {
        return;
    };
    let inputs: serde_json::Value = serde_json::from_str(&inputs).unwrap();
    let jwk: Jwk = serde_json::from_value(inputs["verifier_encryption_jwk"].clone()).unwrap();
    assert_eq!(
        hex::encode(jwk.thumbprint_sha256().unwrap()),
        inputs["jwk_thumbprint_sha256_hex"]
    );
    assert_eq!(jwk.thumbprint(), inputs["jwk_thumbprint_b64url"]);
}

#[test]
fn openid4vci_issuer_jwk_kid_is_its_thumbprint() {
    let Some(jwks) = testdata("openid4vci/derived/issuer_jwks.normalized.json") else {
        return;
    };
    let jwks: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    let key = &jwks["jwks"]["keys"][0];
    let jwk: Jwk = serde_json::from_value(key.clone()).unwrap();
    assert_eq!(
        key["kid"].as_str().unwrap(),
        format!(
            "urn:ietf:params:oauth:jwk-thumbprint:sha-256:{}",
            jwk.thumbprint()
        )
    );
}
