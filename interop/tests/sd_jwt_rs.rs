//! eid ↔ sd-jwt-rs 0.7.1 (the OpenWallet Foundation's Rust SD-JWT), both directions:
//! each side verifies what the other issues and presents.

use eid_core::OsRandom;
use eid_crypto::{Jwk, Signer, SigningKey};
use eid_sdjwt::{
    IssueRequest, IssuerTrust, KeyBinding, KeyBindingCheck, UnverifiedSdJwt, VerifyOptions,
};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sd_jwt_rs::issuer::ClaimsForSelectiveDisclosureStrategy;
use sd_jwt_rs::{SDJWTHolder, SDJWTIssuer, SDJWTSerializationFormat, SDJWTVerifier};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

const AUD: &str = "https://verifier.example.cn";
const NONCE: &str = "interop-nonce-1";

fn now() -> OffsetDateTime {
    eid_core::Clock::now(&eid_core::SystemClock)
}

fn claims() -> Map<String, Value> {
    json!({
        "iss": "https://eid.example.cn/4501",
        "family_name": "王",
        "given_name": "秀英",
        "age_over_18": true,
        "resident_region": "450102",
    })
    .as_object()
    .unwrap()
    .clone()
}

fn eid_issue(issuer: &SigningKey, holder: &SigningKey) -> String {
    eid_sdjwt::issue(
        &IssueRequest {
            claims: &claims(),
            vct: eid_sdjwt::VCT_RESIDENT_IDENTITY,
            issuer: Some("https://eid.example.cn/4501"),
            holder_key: holder.verifying_key(),
            issued_at: now() - Duration::minutes(1),
            expires_at: Some(now() + Duration::days(30)),
            status: None,
            x5c: &[],
            decoys: 2,
        },
        issuer,
        &OsRandom,
    )
    .unwrap()
}

fn their_verify(presentation: &str, issuer: &SigningKey, kb: bool) -> Map<String, Value> {
    let pem = issuer.verifying_key().to_spki_pem();
    let verifier = SDJWTVerifier::new(
        presentation.to_owned(),
        Box::new(move |_, _| DecodingKey::from_ec_pem(pem.as_bytes()).unwrap()),
        kb.then(|| AUD.to_owned()),
        kb.then(|| NONCE.to_owned()),
        SDJWTSerializationFormat::Compact,
    )
    .unwrap_or_else(|e| panic!("sd-jwt-rs refused our presentation: {e:?}"));
    verifier.verified_claims.as_object().unwrap().clone()
}

fn our_verify(
    presentation: &str,
    issuer: &SigningKey,
    sd_jwt_vc: bool,
) -> eid_sdjwt::VerifiedSdJwt {
    let keys = [issuer.verifying_key().clone()];
    let check = KeyBindingCheck {
        audience: AUD,
        nonce: NONCE,
        max_age: Duration::minutes(5),
    };
    let options = VerifyOptions {
        trust: IssuerTrust {
            x5c: eid_sdjwt::X5cTrust::Roots(&[]),
            keys: &keys,
        },
        now: now(),
        leeway: Duration::seconds(30),
        sd_jwt_vc,
        expected_vct: &[],
        key_binding: Some(&check),
        status: None,
    };
    UnverifiedSdJwt::parse(presentation)
        .and_then(|sd| sd.verify(&options))
        .unwrap_or_else(|e| panic!("eid refused sd-jwt-rs's presentation: {e}"))
}

fn encoding_key(key: &SigningKey) -> EncodingKey {
    EncodingKey::from_ec_pem(key.to_pkcs8_pem().unwrap().as_bytes()).unwrap()
}

fn holder_jwk(key: &SigningKey) -> jsonwebtoken::jwk::Jwk {
    let jwk: Jwk = key.verifying_key().to_jwk();
    serde_json::from_value(serde_json::to_value(jwk).unwrap()).unwrap()
}

#[test]
fn sd_jwt_rs_verifies_what_eid_issues_and_presents() {
    let (issuer, holder) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let issued = eid_issue(&issuer, &holder);
    // The issued credential, all disclosures, no key binding.
    let all = their_verify(&issued, &issuer, false);
    assert_eq!(all["family_name"], "王");
    // Our presentation with key binding, two claims disclosed.
    let presentation = eid_sdjwt::present(
        &issued,
        &["age_over_18", "resident_region"],
        Some(&KeyBinding {
            signer: &holder,
            audience: AUD,
            nonce: NONCE,
            issued_at: now(),
        }),
    )
    .unwrap();
    let shown = their_verify(&presentation, &issuer, true);
    assert_eq!(shown["age_over_18"], true);
    assert_eq!(shown["resident_region"], "450102");
    assert!(shown.get("family_name").is_none());
    // Their holder presents our credential; we verify it.
    let mut their_holder = SDJWTHolder::new(issued, SDJWTSerializationFormat::Compact).unwrap();
    let mut disclose = Map::new();
    disclose.insert("age_over_18".into(), Value::Bool(true));
    let theirs = their_holder
        .create_presentation(
            disclose,
            Some(NONCE.into()),
            Some(AUD.into()),
            Some(encoding_key(&holder)),
            Some("ES256".into()),
        )
        .unwrap();
    let v = our_verify(&theirs, &issuer, true);
    assert_eq!(v.disclosed, ["age_over_18"]);
}

#[test]
fn eid_verifies_what_sd_jwt_rs_issues_and_presents() {
    let (issuer, holder) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let mut their_issuer = SDJWTIssuer::new(encoding_key(&issuer), Some("ES256".into()));
    let mut user_claims = Value::Object(claims());
    user_claims["exp"] = json!((now() + Duration::days(1)).unix_timestamp());
    user_claims["iat"] = json!((now() - Duration::minutes(1)).unix_timestamp());
    let issued = their_issuer
        .issue_sd_jwt(
            user_claims,
            ClaimsForSelectiveDisclosureStrategy::TopLevel,
            Some(holder_jwk(&holder)),
            true,
            SDJWTSerializationFormat::Compact,
        )
        .unwrap();
    // Their holder presents with key binding; we verify.
    let mut their_holder =
        SDJWTHolder::new(issued.clone(), SDJWTSerializationFormat::Compact).unwrap();
    let mut disclose = Map::new();
    disclose.insert("given_name".into(), Value::Bool(true));
    let theirs = their_holder
        .create_presentation(
            disclose,
            Some(NONCE.into()),
            Some(AUD.into()),
            Some(encoding_key(&holder)),
            Some("ES256".into()),
        )
        .unwrap();
    let v = our_verify(&theirs, &issuer, false);
    assert_eq!(v.claims["given_name"], "秀英");
    assert!(v.claims.get("family_name").is_none());
    // Our holder presents their credential; they verify it, and so do we.
    let ours = eid_sdjwt::present(
        &issued,
        &["family_name"],
        Some(&KeyBinding {
            signer: &holder,
            audience: AUD,
            nonce: NONCE,
            issued_at: now(),
        }),
    )
    .unwrap();
    assert_eq!(their_verify(&ours, &issuer, true)["family_name"], "王");
    assert_eq!(
        our_verify(&ours, &issuer, false).claims["family_name"],
        "王"
    );
}
