//! Every check of a `jwt` key proof and its key attestation, each broken alone.

use eid_crypto::{Signer, SigningKey, VerifyingKey};
use eid_oid4vc::ProofError;
use eid_oid4vc::proof::{KeyAttestation, ProofPolicy, key_proof, verify_key_proofs};
use eid_sdjwt::Jws;
use eid_trust::model::{ProviderState, WalletProvider};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
const ISSUER: &str = "https://authority.example";

struct Fixture {
    provider_key: SigningKey,
    holders: Vec<SigningKey>,
    providers: Vec<WalletProvider>,
    storage: Vec<String>,
}

fn key() -> SigningKey {
    SigningKey::generate().unwrap_or_else(|e| unreachable!("{e}"))
}

fn fixture() -> Fixture {
    let provider_key = key();
    let providers = vec![WalletProvider {
        id: "wechat".into(),
        name: "WeChat".into(),
        attestation_keys: vec![provider_key.verifying_key().to_jwk()],
        state: ProviderState::Active,
    }];
    Fixture {
        provider_key,
        holders: (0..3).map(|_| key()).collect(),
        providers,
        storage: vec!["iso_18045_high".into(), "iso_18045_moderate".into()],
    }
}

impl Fixture {
    fn policy(&self) -> ProofPolicy<'_> {
        ProofPolicy {
            audience: ISSUER,
            now: NOW,
            max_proof_age: Duration::minutes(5),
            providers: &self.providers,
            key_storage: &self.storage,
        }
    }

    fn keys(&self) -> Vec<VerifyingKey> {
        self.holders
            .iter()
            .map(|k| k.verifying_key().clone())
            .collect()
    }

    fn attestation_with(&self, keys: &[VerifyingKey], storage: &[&str], instance: &str) -> String {
        KeyAttestation {
            provider: "wechat",
            wallet_instance: instance,
            keys,
            key_storage: storage,
            user_authentication: &["iso_18045_high"],
            issued_at: NOW - Duration::minutes(1),
            expires_at: NOW + Duration::hours(1),
        }
        .sign(&self.provider_key)
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn attestation(&self) -> String {
        self.attestation_with(&self.keys(), &["iso_18045_high"], "wallet-1")
    }

    fn proofs(&self, attestation: &str) -> Vec<String> {
        self.holders
            .iter()
            .map(|h| key_proof(h, ISSUER, "n-1", NOW, Some(attestation)).unwrap_or_default())
            .collect()
    }

    fn check(&self, proofs: &[String]) -> Result<usize, ProofError> {
        let refs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        verify_key_proofs(&refs, &self.policy()).map(|v| v.len())
    }
}

/// A JWS with any header and claims, signed by `key`.
fn jws(header: Value, claims: Value, key: &dyn Signer) -> String {
    let (Value::Object(h), Value::Object(c)) = (header, claims) else {
        unreachable!()
    };
    Jws::sign(&h, &c, key).unwrap_or_default()
}

/// The proof of holder 0 with its header and claims changed by `edit`.
fn proof_edited(
    f: &Fixture,
    edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
) -> String {
    let mut header = json!({
        "typ": "openid4vci-proof+jwt", "alg": "ES256",
        "jwk": f.holders[0].verifying_key().to_jwk(), "key_attestation": f.attestation(),
    });
    let mut claims = json!({"aud": ISSUER, "iat": NOW.unix_timestamp(), "nonce": "n-1"});
    if let (Value::Object(h), Value::Object(c)) = (&mut header, &mut claims) {
        edit(h, c);
    }
    jws(header, claims, &f.holders[0])
}

/// An attestation of holder 0's key with its header and claims changed by `edit`.
fn attestation_edited(
    f: &Fixture,
    signer: &dyn Signer,
    edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
) -> String {
    let mut header = json!({"typ": "key-attestation+jwt", "alg": "ES256"});
    let mut claims = json!({
        "iss": "wechat", "sub": "wallet-1", "iat": NOW.unix_timestamp(),
        "exp": (NOW + Duration::hours(1)).unix_timestamp(),
        "attested_keys": [f.holders[0].verifying_key().to_jwk()],
        "key_storage": ["iso_18045_high"],
    });
    if let (Value::Object(h), Value::Object(c)) = (&mut header, &mut claims) {
        edit(h, c);
    }
    jws(header, claims, signer)
}

fn with_attestation(f: &Fixture, attestation: String) -> String {
    proof_edited(f, |h, _| {
        h.insert("key_attestation".into(), Value::String(attestation));
    })
}

#[test]
fn a_batch_of_three_with_one_attestation_verifies() {
    let f = fixture();
    let proofs = f.proofs(&f.attestation());
    let refs: Vec<&str> = proofs.iter().map(String::as_str).collect();
    let verified = verify_key_proofs(&refs, &f.policy()).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(verified.len(), 3);
    for (proof, holder) in verified.iter().zip(&f.holders) {
        assert_eq!(&proof.key, holder.verifying_key());
        assert_eq!(proof.nonce, "n-1");
        assert_eq!(proof.attestation.provider, "wechat");
        assert_eq!(proof.attestation.wallet_instance, "wallet-1");
    }
}

#[test]
fn proof_typ_is_checked() {
    let f = fixture();
    let p = proof_edited(&f, |h, _| {
        h.insert("typ".into(), json!("JWT"));
    });
    assert_eq!(f.check(&[p]), Err(ProofError::ProofType));
}

#[test]
fn proof_without_alg_is_its_own_error() {
    let f = fixture();
    let p = proof_edited(&f, |h, _| {
        h.remove("alg");
    });
    assert_eq!(f.check(&[p]), Err(ProofError::MissingAlgorithm));
}

#[test]
fn proof_alg_outside_the_allow_list_is_refused() {
    let f = fixture();
    let p = proof_edited(&f, |h, _| {
        h.insert("alg".into(), json!("none"));
    });
    assert_eq!(f.check(&[p]), Err(ProofError::Algorithm));
    // SM2 is in eid's allow-list for issuers that a trust list names so, never for holder
    // keys: said as the algorithm, before any signature is checked.
    let p = proof_edited(&f, |h, _| {
        h.insert("alg".into(), json!("SM2SM3"));
    });
    assert_eq!(f.check(&[p]), Err(ProofError::Algorithm));
}

#[test]
fn proof_without_jwk_or_kid_is_refused() {
    let f = fixture();
    let p = proof_edited(&f, |h, _| {
        h.remove("jwk");
    });
    assert_eq!(f.check(&[p]), Err(ProofError::MissingKey));
    // A kid by position among attested keys without kids names the key (OpenID4VCI 1.0).
    let p = proof_edited(&f, |h, _| {
        h.remove("jwk");
        h.insert("kid".into(), json!("0"));
    });
    assert_eq!(f.check(&[p]), Ok(1));
}

#[test]
fn proof_jwk_with_a_private_part_is_refused() {
    let f = fixture();
    let p = proof_edited(&f, |h, _| {
        if let Some(Value::Object(jwk)) = h.get_mut("jwk") {
            jwk.insert("d".into(), json!("AAAA"));
        }
    });
    assert_eq!(f.check(&[p]), Err(ProofError::BadKey));
}

#[test]
fn proof_signed_by_another_key_than_its_jwk_is_refused() {
    let f = fixture();
    let p = proof_edited(&f, |h, _| {
        h.insert("jwk".into(), json!(f.holders[1].verifying_key().to_jwk()));
    });
    assert_eq!(f.check(&[p]), Err(ProofError::Signature));
}

#[test]
fn proof_for_another_issuer_is_refused() {
    let f = fixture();
    let p = proof_edited(&f, |_, c| {
        c.insert("aud".into(), json!("https://other.example"));
    });
    assert_eq!(f.check(&[p]), Err(ProofError::Audience));
}

#[test]
fn proof_too_old_or_from_the_future_is_refused() {
    let f = fixture();
    for iat in [NOW - Duration::minutes(6), NOW + Duration::minutes(2)] {
        let p = proof_edited(&f, |_, c| {
            c.insert("iat".into(), json!(iat.unix_timestamp()));
        });
        assert_eq!(f.check(&[p]), Err(ProofError::IssuedAt));
    }
    let p = proof_edited(&f, |_, c| {
        c.remove("iat");
    });
    assert_eq!(f.check(&[p]), Err(ProofError::IssuedAt));
}

#[test]
fn proof_without_nonce_is_refused() {
    let f = fixture();
    let p = proof_edited(&f, |_, c| {
        c.remove("nonce");
    });
    assert_eq!(f.check(&[p]), Err(ProofError::MissingNonce));
}

#[test]
fn proof_without_key_attestation_is_refused() {
    let f = fixture();
    let p = proof_edited(&f, |h, _| {
        h.remove("key_attestation");
    });
    assert_eq!(f.check(&[p]), Err(ProofError::MissingAttestation));
}

#[test]
fn attestation_that_is_not_a_jws_is_refused() {
    let f = fixture();
    let p = with_attestation(&f, "not-a-jwt".into());
    assert!(matches!(
        f.check(&[p]),
        Err(ProofError::AttestationMalformed(_))
    ));
}

#[test]
fn attestation_typ_is_checked() {
    let f = fixture();
    let a = attestation_edited(&f, &f.provider_key, |h, _| {
        h.insert("typ".into(), json!("JWT"));
    });
    assert_eq!(
        f.check(&[with_attestation(&f, a)]),
        Err(ProofError::AttestationType)
    );
}

#[test]
fn attestation_alg_is_checked() {
    let f = fixture();
    for alg in ["RS256", "SM2SM3"] {
        let a = attestation_edited(&f, &f.provider_key, |h, _| {
            h.insert("alg".into(), json!(alg));
        });
        assert_eq!(
            f.check(&[with_attestation(&f, a)]),
            Err(ProofError::AttestationAlgorithm),
            "{alg}"
        );
    }
}

#[test]
fn attestation_from_an_unlisted_provider_is_refused() {
    let f = fixture();
    let a = attestation_edited(&f, &f.provider_key, |_, c| {
        c.insert("iss".into(), json!("rogue-app"));
    });
    assert_eq!(
        f.check(&[with_attestation(&f, a)]),
        Err(ProofError::UnknownProvider)
    );
}

#[test]
fn attestation_from_a_suspended_provider_is_refused() {
    let mut f = fixture();
    let p = f.proofs(&f.attestation());
    f.providers[0].state = ProviderState::Suspended;
    assert_eq!(
        f.check(&p),
        Err(ProofError::ProviderSuspended("wechat".into()))
    );
}

#[test]
fn attestation_signed_by_a_key_not_of_its_provider_is_refused() {
    let f = fixture();
    let a = attestation_edited(&f, &key(), |_, _| {});
    assert_eq!(
        f.check(&[with_attestation(&f, a)]),
        Err(ProofError::AttestationSignature)
    );
}

#[test]
fn attestation_expired_or_from_the_future_is_refused() {
    let f = fixture();
    let expired = attestation_edited(&f, &f.provider_key, |_, c| {
        c.insert("exp".into(), json!(NOW.unix_timestamp()));
    });
    let future = attestation_edited(&f, &f.provider_key, |_, c| {
        c.insert(
            "iat".into(),
            json!((NOW + Duration::minutes(5)).unix_timestamp()),
        );
    });
    for a in [expired, future] {
        assert_eq!(
            f.check(&[with_attestation(&f, a)]),
            Err(ProofError::AttestationExpired)
        );
    }
}

#[test]
fn attestation_without_wallet_instance_is_refused() {
    let f = fixture();
    let a = attestation_edited(&f, &f.provider_key, |_, c| {
        c.remove("sub");
    });
    assert_eq!(
        f.check(&[with_attestation(&f, a)]),
        Err(ProofError::MissingWalletInstance)
    );
}

#[test]
fn proof_key_not_among_the_attested_keys_is_refused() {
    let f = fixture();
    let a = attestation_edited(&f, &f.provider_key, |_, c| {
        c.insert(
            "attested_keys".into(),
            json!([f.holders[1].verifying_key().to_jwk()]),
        );
    });
    assert_eq!(
        f.check(&[with_attestation(&f, a)]),
        Err(ProofError::KeyNotAttested)
    );
}

#[test]
fn key_storage_below_the_accepted_levels_is_refused() {
    let f = fixture();
    let a = f.attestation_with(&f.keys(), &["iso_18045_basic"], "wallet-1");
    assert_eq!(f.check(&f.proofs(&a)), Err(ProofError::KeyStorage));
    let none = attestation_edited(&f, &f.provider_key, |_, c| {
        c.remove("key_storage");
    });
    assert_eq!(
        f.check(&[with_attestation(&f, none)]),
        Err(ProofError::KeyStorage)
    );
}

#[test]
fn a_batch_from_two_wallet_instances_or_with_a_repeated_key_is_refused() {
    let f = fixture();
    let keys = f.keys();
    let a1 = f.attestation_with(&keys, &["iso_18045_high"], "wallet-1");
    let a2 = f.attestation_with(&keys, &["iso_18045_high"], "wallet-2");
    let mixed = vec![
        key_proof(&f.holders[0], ISSUER, "n-1", NOW, Some(&a1)).unwrap_or_default(),
        key_proof(&f.holders[1], ISSUER, "n-1", NOW, Some(&a2)).unwrap_or_default(),
    ];
    assert!(
        matches!(f.check(&mixed), Err(ProofError::Malformed(m)) if m.contains("different wallet"))
    );
    let repeated = vec![
        key_proof(&f.holders[0], ISSUER, "n-1", NOW, Some(&a1)).unwrap_or_default(),
        key_proof(&f.holders[0], ISSUER, "n-1", NOW, Some(&a1)).unwrap_or_default(),
    ];
    assert!(matches!(f.check(&repeated), Err(ProofError::Malformed(m)) if m.contains("same key")));
}

#[test]
fn one_proof_naming_an_attested_key_by_kid_binds_the_whole_attested_batch() {
    let f = fixture();
    // Attested keys with kids, as OpenID4VCI 1.0 wallets send them; one proof signed by "k1".
    let keys: Vec<Value> = f
        .holders
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut jwk = serde_json::to_value(h.verifying_key().to_jwk()).unwrap_or_default();
            jwk["kid"] = json!(format!("k{i}"));
            jwk
        })
        .collect();
    let a = attestation_edited(&f, &f.provider_key, |_, c| {
        c.insert("attested_keys".into(), Value::Array(keys));
    });
    let proof = |kid: &str, signer: &SigningKey| {
        jws(
            json!({"typ": "openid4vci-proof+jwt", "alg": "ES256", "kid": kid, "key_attestation": a}),
            json!({"aud": ISSUER, "iat": NOW.unix_timestamp(), "nonce": "n-1"}),
            signer,
        )
    };
    let refs = [proof("k1", &f.holders[1])];
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let verified = verify_key_proofs(&refs, &f.policy()).unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(&verified[0].key, f.holders[1].verifying_key());
    assert_eq!(eid_oid4vc::proof::keys_to_bind(&verified), f.keys());
    // A kid naming no attested key, or signed by another key than the one it names.
    assert_eq!(
        f.check(&[proof("k9", &f.holders[1])]),
        Err(ProofError::KeyNotAttested)
    );
    assert_eq!(
        f.check(&[proof("k0", &f.holders[1])]),
        Err(ProofError::Signature)
    );
}

#[test]
fn attestation_without_exp_is_refused() {
    let f = fixture();
    let a = attestation_edited(&f, &f.provider_key, |_, c| {
        c.remove("exp");
    });
    assert_eq!(
        f.check(&[with_attestation(&f, a)]),
        Err(ProofError::AttestationExpired)
    );
}
