//! One test per verification check: each changes exactly one thing of a good presentation
//! and asserts the precise error (STYLE.md, "Every check has a test that breaks it").

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_core::OsRandom;
use eid_crypto::x509::{self, AuthorityPki, TrustedIaca};
use eid_crypto::{Signer, SigningKey, b64url};
use eid_sdjwt::{
    CredentialStatus, IssueRequest, IssuerTrust, Jws, KeyBinding, KeyBindingCheck, SdJwtError,
    StatusCheck, StatusListReference, UnverifiedSdJwt, VerifiedSdJwt, VerifyOptions, X5cTrust,
    issue, present,
};
use serde_json::{Map, Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
const VCT: &str = "urn:eid:cn:resident:1";
const AUD: &str = "x509_hash:hotel-desk";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Setup {
    ds_key: SigningKey,
    ds_der: Vec<u8>,
    roots: Vec<TrustedIaca>,
    holder: SigningKey,
}

fn setup() -> Setup {
    let pki = eid_testing::authority(
        "南宁市公安局",
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 400),
    );
    let AuthorityPki { ds_key, ds, .. } = pki;
    Setup {
        roots: vec![TrustedIaca::new(&pki.iaca.0, NOW).unwrap()],
        ds_key,
        ds_der: ds.0,
        holder: SigningKey::generate().unwrap(),
    }
}

fn claims() -> Map<String, Value> {
    json!({
        "family_name": "王",
        "given_name": "秀英",
        "age_over_18": true,
        "address": {"region": "450102", "street": "民族大道100号"},
    })
    .as_object()
    .unwrap()
    .clone()
}

fn issued(s: &Setup) -> String {
    issue(
        &IssueRequest {
            claims: &claims(),
            vct: VCT,
            issuer: Some("https://eid.example.cn/4501"),
            holder_key: s.holder.verifying_key(),
            issued_at: NOW - Duration::days(1),
            expires_at: Some(NOW + Duration::days(30)),
            status: Some(StatusListReference {
                idx: 42,
                uri: "https://eid.example.cn/status/7".into(),
            }),
            x5c: std::slice::from_ref(&s.ds_der),
            decoys: 3,
        },
        &s.ds_key,
        &OsRandom,
    )
    .unwrap()
}

fn presented(s: &Setup, compact: &str, disclose: &[&str]) -> String {
    present(
        compact,
        disclose,
        Some(&KeyBinding {
            signer: &s.holder,
            audience: AUD,
            nonce: NONCE,
            issued_at: NOW,
        }),
    )
    .unwrap()
}

const CHECK: KeyBindingCheck<'static> = KeyBindingCheck {
    audience: AUD,
    nonce: NONCE,
    max_age: Duration::minutes(2),
};

fn verify_with<'a>(
    s: &'a Setup,
    compact: &str,
    change: impl FnOnce(&mut VerifyOptions<'a>),
) -> Result<VerifiedSdJwt, SdJwtError> {
    let mut options = VerifyOptions {
        trust: IssuerTrust {
            x5c: X5cTrust::Roots(&s.roots),
            keys: &[],
        },
        now: NOW,
        leeway: Duration::ZERO,
        sd_jwt_vc: true,
        expected_vct: &[VCT],
        key_binding: Some(&CHECK),
        status: None,
    };
    change(&mut options);
    UnverifiedSdJwt::parse(compact)?.verify(&options)
}

fn verify(s: &Setup, compact: &str) -> Result<VerifiedSdJwt, SdJwtError> {
    verify_with(s, compact, |_| {})
}

/// Re-signs a credential whose payload `change` altered, keeping its disclosures.
fn resigned(
    s: &Setup,
    compact: &str,
    change: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
) -> String {
    let sd = UnverifiedSdJwt::parse(compact).unwrap();
    let mut header = sd.issuer_jwt().header().clone();
    let mut payload = sd.issuer_jwt().payload().clone();
    change(&mut header, &mut payload);
    let jwt = Jws::sign(&header, &payload, &s.ds_key).unwrap();
    let rest = &compact[compact.find('~').unwrap()..];
    format!("{jwt}{rest}")
}

#[test]
fn issue_present_verify_discloses_only_what_was_chosen() {
    let s = setup();
    let v = verify(&s, &presented(&s, &issued(&s), &["age_over_18", "address"])).unwrap();
    assert_eq!(v.claims["age_over_18"], json!(true));
    assert_eq!(v.claims["address"]["region"], json!("450102"));
    assert!(!v.claims.contains_key("family_name") && !v.claims.contains_key("_sd"));
    let mut disclosed = v.disclosed.clone();
    disclosed.sort();
    assert_eq!(disclosed, ["address", "age_over_18"]);
    assert!(v.key_bound);
    assert_eq!(v.issuer_certificate.as_deref(), Some("南宁市公安局 DS"));
    assert_eq!(v.status_reference.as_ref().map(|r| r.idx), Some(42));
    assert!(!v.status_checked);
    // Asking for a claim the credential lacks is refused by the holder side.
    assert_eq!(
        present(&issued(&s), &["passport_number"], None).err(),
        Some(SdJwtError::NotDisclosable("passport_number".into()))
    );
}

#[test]
fn the_legacy_typ_is_accepted() {
    let s = setup();
    let compact = resigned(&s, &issued(&s), |h, _| {
        h.insert("typ".into(), json!("vc+sd-jwt"));
    });
    verify(&s, &presented(&s, &compact, &["age_over_18"])).unwrap();
}

#[test]
fn shape_and_size() {
    let s = setup();
    assert_eq!(
        verify(&s, "abc").err(),
        Some(SdJwtError::Malformed("an SD-JWT has at least one ~"))
    );
    assert_eq!(
        verify(&s, &"a".repeat(300 * 1024)).err(),
        Some(SdJwtError::TooLarge)
    );
    let good = issued(&s);
    let doubled = good.replacen('~', "~~", 1);
    assert_eq!(
        verify(&s, &doubled).err(),
        Some(SdJwtError::Malformed("empty disclosure between two ~"))
    );
}

#[test]
fn header_checks() {
    let s = setup();
    let good = issued(&s);
    let no_alg = resigned(&s, &good, |h, _| {
        h.remove("alg");
    });
    assert_eq!(
        verify(&s, &presented(&s, &no_alg, &[])).err(),
        Some(SdJwtError::MissingAlgorithm)
    );
    let hs256 = resigned(&s, &good, |h, _| {
        h.insert("alg".into(), json!("HS256"));
    });
    assert_eq!(
        verify(&s, &presented(&s, &hs256, &[])).err(),
        Some(SdJwtError::Algorithm(
            eid_crypto::CryptoError::UnsupportedAlgorithm("HS256".into())
        ))
    );
    let jwt = resigned(&s, &good, |h, _| {
        h.insert("typ".into(), json!("JWT"));
    });
    assert_eq!(
        verify(&s, &presented(&s, &jwt, &[])).err(),
        Some(SdJwtError::WrongType {
            expected: "dc+sd-jwt",
            found: Some("JWT".into())
        })
    );
}

#[test]
fn a_cached_ds_chain_is_checked_once_and_its_validity_at_every_use() {
    let s = setup();
    let cache = x509::DocumentSignerCache::new(s.roots.clone(), 8);
    let p = presented(&s, &issued(&s), &["age_over_18"]);
    for _ in 0..3 {
        let v = verify_with(&s, &p, |o| o.trust.x5c = X5cTrust::Cached(&cache)).unwrap();
        assert_eq!(v.issuer_root, Some(0));
        assert_eq!(v.issuer_certificate.as_deref(), Some("南宁市公安局 DS"));
    }
    assert_eq!(cache.chains_checked(), 1, "the chain is checked once");
    // The DS certificate (400 days from 2026-01-01) has expired: refused from the cache,
    // before anything else, although its chain was found good before.
    let later = datetime!(2027-03-01 12:00 UTC);
    assert!(matches!(
        verify_with(&s, &p, |o| {
            o.trust.x5c = X5cTrust::Cached(&cache);
            o.now = later;
        })
        .err(),
        Some(SdJwtError::IssuerCertificate(
            x509::CertificateError::OutsideValidity { role: "DS", .. }
        ))
    ));
    assert_eq!(cache.chains_checked(), 1);
    // Another set of roots is another cache: nothing checked under the first is trusted.
    let other = setup();
    let other_cache = x509::DocumentSignerCache::new(other.roots.clone(), 8);
    assert_eq!(
        verify_with(&s, &p, |o| o.trust.x5c = X5cTrust::Cached(&other_cache)).err(),
        Some(SdJwtError::IssuerCertificate(
            x509::CertificateError::Signature("DS")
        ))
    );
}

#[test]
fn issuer_trust_and_signature() {
    let s = setup();
    let p = presented(&s, &issued(&s), &["age_over_18"]);
    // Another authority's roots.
    let other = setup();
    assert_eq!(
        verify_with(&s, &p, |o| o.trust.x5c = X5cTrust::Roots(&other.roots)).err(),
        Some(SdJwtError::IssuerCertificate(
            x509::CertificateError::Signature("DS")
        ))
    );
    // No x5c and no trusted key.
    let no_x5c = resigned(&s, &issued(&s), |h, _| {
        h.remove("x5c");
    });
    assert_eq!(
        verify(&s, &presented(&s, &no_x5c, &[])).err(),
        Some(SdJwtError::UntrustedIssuer)
    );
    // A trusted JWK instead of x5c works.
    let keys = [s.ds_key.verifying_key().clone()];
    verify_with(&s, &presented(&s, &no_x5c, &[]), |o| o.trust.keys = &keys).unwrap();
    // A signature by another key (same length, same header).
    let (jwt, rest) = p.split_once('~').unwrap();
    let (input, _) = jwt.rsplit_once('.').unwrap();
    let forged = format!(
        "{input}.{}~{rest}",
        b64url(&other.ds_key.sign(input.as_bytes()).unwrap())
    );
    assert_eq!(verify(&s, &forged).err(), Some(SdJwtError::IssuerSignature));
}

#[test]
fn digest_checks() {
    let s = setup();
    let good = issued(&s);
    let p = presented(&s, &good, &["given_name"]);
    let disclosure = p.split('~').nth(1).unwrap().to_owned();

    // One byte of a disclosed element changed: its digest is no longer referenced.
    let mut bytes = disclosure.clone().into_bytes();
    bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
    let tampered = p.replacen(&disclosure, std::str::from_utf8(&bytes).unwrap(), 1);
    let tampered_issuance = good.replacen(&disclosure, std::str::from_utf8(&bytes).unwrap(), 1);
    let result = verify_with(&s, &tampered_issuance, |o| o.key_binding = None);
    assert!(
        matches!(
            result,
            Err(SdJwtError::UnreferencedDisclosure { .. } | SdJwtError::MalformedDisclosure { .. })
        ),
        "{result:?}"
    );
    let result = verify(&s, &tampered);
    assert!(
        matches!(
            result,
            Err(SdJwtError::UnreferencedDisclosure { .. } | SdJwtError::MalformedDisclosure { .. })
        ),
        "{result:?}"
    );

    // Not base64url JSON.
    let garbage = good.replacen(&disclosure, "bm90IGpzb24", 1);
    assert_eq!(
        verify_with(&s, &garbage, |o| o.key_binding = None).err(),
        Some(SdJwtError::MalformedDisclosure {
            index: good
                .split('~')
                .skip(1)
                .position(|d| d == disclosure)
                .unwrap()
        })
    );

    // A well-formed disclosure the issuer never signed.
    let stranger = b64url(br#"["c2FsdHNhbHRzYWx0", "nationality", "CN"]"#);
    let extra = format!("{good}{stranger}~");
    let index = extra.split('~').count() - 3;
    assert_eq!(
        verify_with(&s, &extra, |o| o.key_binding = None).err(),
        Some(SdJwtError::UnreferencedDisclosure { index })
    );

    // The same disclosure twice.
    let twice = format!("{good}{disclosure}~");
    assert_eq!(
        verify_with(&s, &twice, |o| o.key_binding = None).err(),
        Some(SdJwtError::DuplicateDigest)
    );

    // The same digest twice in _sd.
    let repeated = resigned(&s, &good, |_, p| {
        let sd = p["_sd"].as_array().unwrap().clone();
        let mut doubled = sd.clone();
        doubled.push(sd[0].clone());
        p.insert("_sd".into(), Value::Array(doubled));
    });
    assert_eq!(
        verify_with(&s, &repeated, |o| o.key_binding = None).err(),
        Some(SdJwtError::DuplicateDigest)
    );

    // A disclosed name that the payload already has in the clear.
    let collision = resigned(&s, &good, |_, p| {
        p.insert("given_name".into(), json!("秀"));
    });
    assert_eq!(
        verify_with(&s, &presented(&s, &collision, &["given_name"]), |_| {}).err(),
        Some(SdJwtError::ClaimNameCollision)
    );

    // An array-element disclosure referenced from _sd.
    let element = b64url(br#"["c2FsdHNhbHRzYWx0", "CN"]"#);
    let element_digest = b64url(&eid_crypto::sha256(element.as_bytes()));
    let misplaced = resigned(&s, &good, |_, p| {
        p["_sd"].as_array_mut().unwrap().push(json!(element_digest));
    });
    let misplaced = format!("{misplaced}{element}~");
    assert_eq!(
        verify_with(&s, &misplaced, |o| o.key_binding = None).err(),
        Some(SdJwtError::DisclosureShape)
    );

    // _sd that is not an array of strings.
    let bad_sd = resigned(&s, &good, |_, p| {
        p.insert("_sd".into(), json!("not an array"));
    });
    assert_eq!(
        verify_with(&s, &bad_sd, |o| o.key_binding = None).err(),
        Some(SdJwtError::MalformedSd)
    );

    // Another hash algorithm.
    let sha512 = resigned(&s, &good, |_, p| {
        p.insert("_sd_alg".into(), json!("sha-512"));
    });
    assert_eq!(
        verify_with(&s, &sha512, |o| o.key_binding = None).err(),
        Some(SdJwtError::UnsupportedSdAlg("sha-512".into()))
    );
}

#[test]
fn validity_and_type() {
    let s = setup();
    let p = presented(&s, &issued(&s), &["age_over_18"]);
    assert_eq!(
        verify_with(&s, &p, |o| {
            o.now = NOW + Duration::days(31);
            o.key_binding = None;
        })
        .err(),
        Some(SdJwtError::Expired)
    );
    assert_eq!(
        verify_with(&s, &p, |o| {
            o.now = NOW - Duration::days(2);
            o.key_binding = None;
        })
        .err(),
        Some(SdJwtError::NotYetValid)
    );
    let nbf = resigned(&s, &issued(&s), |_, p| {
        p.insert(
            "nbf".into(),
            json!((NOW + Duration::hours(1)).unix_timestamp()),
        );
    });
    assert_eq!(
        verify(&s, &presented(&s, &nbf, &[])).err(),
        Some(SdJwtError::NotYetValid)
    );
    let no_vct = resigned(&s, &issued(&s), |_, p| {
        p.remove("vct");
    });
    assert_eq!(
        verify(&s, &presented(&s, &no_vct, &[])).err(),
        Some(SdJwtError::MissingVct)
    );
    assert_eq!(
        verify_with(&s, &p, |o| o.expected_vct = &["urn:eid:cn:other"]).err(),
        Some(SdJwtError::WrongVct)
    );
    // Any one of the types expected.
    assert!(verify_with(&s, &p, |o| o.expected_vct = &["urn:eid:cn:other", VCT]).is_ok());
}

#[test]
fn key_binding_checks() {
    let s = setup();
    let good = issued(&s);
    let p = presented(&s, &good, &["age_over_18"]);
    verify(&s, &p).unwrap();

    // No KB-JWT where one is required.
    let no_kb = present(&good, &["age_over_18"], None).unwrap();
    assert_eq!(
        verify(&s, &no_kb).err(),
        Some(SdJwtError::MissingKeyBinding)
    );

    // No cnf in the credential.
    let no_cnf = resigned(&s, &good, |_, p| {
        p.remove("cnf");
    });
    assert_eq!(
        verify(&s, &presented(&s, &no_cnf, &[])).err(),
        Some(SdJwtError::MissingHolderKey)
    );

    // Signed by a key other than the holder's.
    let thief = SigningKey::generate().unwrap();
    let stolen = present(
        &good,
        &["age_over_18"],
        Some(&KeyBinding {
            signer: &thief,
            audience: AUD,
            nonce: NONCE,
            issued_at: NOW,
        }),
    )
    .unwrap();
    assert_eq!(
        verify(&s, &stolen).err(),
        Some(SdJwtError::KeyBindingSignature)
    );

    // Another audience, another nonce, too old, from the future.
    let with = |aud: &str, nonce: &str, iat: OffsetDateTime| {
        present(
            &good,
            &["age_over_18"],
            Some(&KeyBinding {
                signer: &s.holder,
                audience: aud,
                nonce,
                issued_at: iat,
            }),
        )
        .unwrap()
    };
    assert_eq!(
        verify(&s, &with("x509_hash:other", NONCE, NOW)).err(),
        Some(SdJwtError::WrongAudience)
    );
    assert_eq!(
        verify(&s, &with(AUD, "replayed", NOW)).err(),
        Some(SdJwtError::WrongNonce)
    );
    assert_eq!(
        verify(&s, &with(AUD, NONCE, NOW - Duration::minutes(3))).err(),
        Some(SdJwtError::KeyBindingTime)
    );
    assert_eq!(
        verify(&s, &with(AUD, NONCE, NOW + Duration::minutes(1))).err(),
        Some(SdJwtError::KeyBindingTime)
    );

    // A disclosure removed after the KB-JWT was made: sd_hash no longer matches.
    let two = presented(&s, &good, &["age_over_18", "given_name"]);
    let parts: Vec<&str> = two.split('~').collect();
    let one_less = format!("{}~{}~{}", parts[0], parts[1], parts[parts.len() - 1]);
    assert_eq!(
        verify(&s, &one_less).err(),
        Some(SdJwtError::SdHashMismatch)
    );

    // A KB-JWT of another typ.
    let kb_part = p.rsplit('~').next().unwrap();
    let kb = Jws::parse(kb_part).unwrap();
    let mut header = kb.header().clone();
    header.insert("typ".into(), json!("JWT"));
    let retyped = Jws::sign(&header, kb.payload(), &s.holder).unwrap();
    let retyped = p.replacen(kb_part, &retyped, 1);
    assert_eq!(
        verify(&s, &retyped).err(),
        Some(SdJwtError::WrongType {
            expected: "kb+jwt",
            found: Some("JWT".into())
        })
    );
}

struct FixedStatus(Result<CredentialStatus, String>);

impl StatusCheck for FixedStatus {
    fn status(&self, reference: &StatusListReference) -> Result<CredentialStatus, String> {
        assert_eq!(reference.idx, 42);
        self.0.clone()
    }
}

#[test]
fn status_checks() {
    let s = setup();
    let p = presented(&s, &issued(&s), &["age_over_18"]);
    let valid = FixedStatus(Ok(CredentialStatus::Valid));
    assert!(
        verify_with(&s, &p, |o| o.status = Some(&valid))
            .unwrap()
            .status_checked
    );
    let suspended = FixedStatus(Ok(CredentialStatus::Suspended));
    assert_eq!(
        verify_with(&s, &p, |o| o.status = Some(&suspended)).err(),
        Some(SdJwtError::Status("SUSPENDED"))
    );
    let revoked = FixedStatus(Ok(CredentialStatus::Invalid));
    assert_eq!(
        verify_with(&s, &p, |o| o.status = Some(&revoked)).err(),
        Some(SdJwtError::Status("INVALID (revoked)"))
    );
    let offline = FixedStatus(Err("list older than its ttl".into()));
    assert_eq!(
        verify_with(&s, &p, |o| o.status = Some(&offline)).err(),
        Some(SdJwtError::StatusUnavailable(
            "list older than its ttl".into()
        ))
    );
    let malformed = resigned(&s, &issued(&s), |_, p| {
        p.insert(
            "status".into(),
            json!({"status_list": {"idx": "forty-two"}}),
        );
    });
    assert_eq!(
        verify(&s, &presented(&s, &malformed, &[])).err(),
        Some(SdJwtError::MalformedStatus)
    );
}

#[test]
fn hostile_values_do_not_panic_and_reserved_claims_stay_in_the_clear() {
    let s = setup();
    let good = issued(&s);
    // An exp in the year 9999 with a leeway: no overflow, just not expired.
    let far = resigned(&s, &good, |_, p| {
        p.insert("exp".into(), json!(253_402_300_799_i64));
    });
    verify_with(&s, &presented(&s, &far, &[]), |o| {
        o.leeway = Duration::seconds(30)
    })
    .unwrap();
    // An absurd max_age is refused, not overflowed.
    let huge = KeyBindingCheck {
        audience: AUD,
        nonce: NONCE,
        max_age: Duration::MAX,
    };
    let result = verify_with(&s, &presented(&s, &good, &[]), |o| {
        o.key_binding = Some(Box::leak(Box::new(huge)))
    });
    assert_eq!(result.err(), Some(SdJwtError::KeyBindingTime));

    // exp hidden in a disclosure of an SD-JWT VC.
    let hidden = b64url(br#"["c2FsdHNhbHRzYWx0", "exp", 1]"#);
    let digest = b64url(&eid_crypto::sha256(hidden.as_bytes()));
    let no_exp = resigned(&s, &good, |_, p| {
        p.remove("exp");
        p["_sd"].as_array_mut().unwrap().push(json!(digest));
    });
    let no_exp = format!("{no_exp}{hidden}~");
    assert_eq!(
        verify_with(&s, &no_exp, |o| o.key_binding = None).err(),
        Some(SdJwtError::ClaimNameCollision)
    );

    // A JWS with critical extensions.
    let crit = resigned(&s, &good, |h, _| {
        h.insert("crit".into(), json!(["b64"]));
    });
    assert!(matches!(verify(&s, &crit), Err(SdJwtError::Malformed(_))));

    // The issuer refuses claim values a verifier would read as digests.
    let mut bad = claims();
    bad.insert("nested".into(), json!({"_sd": ["x"]}));
    let result = issue(
        &IssueRequest {
            claims: &bad,
            vct: VCT,
            issuer: None,
            holder_key: s.holder.verifying_key(),
            issued_at: NOW,
            expires_at: None,
            status: None,
            x5c: &[],
            decoys: 0,
        },
        &s.ds_key,
        &OsRandom,
    );
    assert_eq!(result.err(), Some(SdJwtError::ClaimNameCollision));
}

#[test]
fn a_disclosed_array_element_is_processed_once() {
    let s = setup();
    // An array element disclosure whose value looks like a placeholder: it is a literal.
    let element = b64url(br#"["c2FsdHNhbHRzYWx0", {"...": "literal"}]"#);
    let digest = b64url(&eid_crypto::sha256(element.as_bytes()));
    let compact = resigned(&s, &issued(&s), |_, p| {
        p.insert("list".into(), json!([{"...": digest}]));
    });
    let compact = format!("{compact}{element}~");
    let v = verify_with(&s, &compact, |o| o.key_binding = None).unwrap();
    assert_eq!(v.claims["list"], json!([{"...": "literal"}]));
}

/// The presentation with its KB-JWT's header and payload changed by `change` and signed
/// again by the holder (sd_hash still that of the presentation).
fn rebound(
    s: &Setup,
    presentation: &str,
    change: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
) -> String {
    let kb_part = presentation.rsplit('~').next().unwrap();
    let kb = Jws::parse(kb_part).unwrap();
    let (mut header, mut payload) = (kb.header().clone(), kb.payload().clone());
    change(&mut header, &mut payload);
    let signed = Jws::sign(&header, &payload, &s.holder).unwrap();
    format!(
        "{}{signed}",
        &presentation[..presentation.len() - kb_part.len()]
    )
}

#[test]
fn check_time_claims_that_are_not_numeric_dates() {
    let s = setup();
    let good = issued(&s);
    for name in ["exp", "nbf", "iat"] {
        let text = resigned(&s, &good, |_, p| {
            p.insert(name.into(), json!("2026-12-24"));
        });
        assert_eq!(
            verify(&s, &presented(&s, &text, &[])).err(),
            Some(SdJwtError::BadTime(name)),
            "{name}"
        );
    }
    // A number no date can be (beyond year 9999).
    let far = resigned(&s, &good, |_, p| {
        p.insert("nbf".into(), json!(1e20));
    });
    assert_eq!(
        verify(&s, &presented(&s, &far, &[])).err(),
        Some(SdJwtError::BadTime("nbf"))
    );
}

#[test]
fn check_key_binding_iat_is_present_and_numeric() {
    let s = setup();
    let p = presented(&s, &issued(&s), &["age_over_18"]);
    verify(&s, &rebound(&s, &p, |_, _| {})).unwrap();
    let no_iat = rebound(&s, &p, |_, kb| {
        kb.remove("iat");
    });
    assert_eq!(verify(&s, &no_iat).err(), Some(SdJwtError::BadTime("iat")));
    let text_iat = rebound(&s, &p, |_, kb| {
        kb.insert("iat".into(), json!("now"));
    });
    assert_eq!(
        verify(&s, &text_iat).err(),
        Some(SdJwtError::BadTime("iat"))
    );
}

#[test]
fn check_key_binding_alg_is_named_and_allowed() {
    let s = setup();
    let p = presented(&s, &issued(&s), &["age_over_18"]);
    let no_alg = rebound(&s, &p, |h, _| {
        h.remove("alg");
    });
    assert_eq!(
        verify(&s, &no_alg).err(),
        Some(SdJwtError::MissingAlgorithm)
    );
    let hs256 = rebound(&s, &p, |h, _| {
        h.insert("alg".into(), json!("HS256"));
    });
    assert_eq!(
        verify(&s, &hs256).err(),
        Some(SdJwtError::Algorithm(
            eid_crypto::CryptoError::UnsupportedAlgorithm("HS256".into())
        ))
    );
}

#[test]
fn check_x5c_shape() {
    let s = setup();
    let good = issued(&s);
    let says = SdJwtError::Malformed("x5c is not an array of base64 certificates");
    for x5c in [
        json!("MIIB"),
        json!([]),
        json!([42]),
        json!(["not base64!"]),
    ] {
        let bad = resigned(&s, &good, |h, _| {
            h.insert("x5c".into(), x5c.clone());
        });
        assert_eq!(
            verify(&s, &presented(&s, &bad, &[])).err(),
            Some(says.clone()),
            "{x5c}"
        );
    }
}

#[test]
fn check_cnf_jwk_is_a_usable_key() {
    let s = setup();
    let good = issued(&s);
    let mut jwk = s.holder.verifying_key().to_jwk();
    jwk.x = b64url(&[0u8; 32]);
    for cnf in [
        json!({"kid": "holder-1"}),
        json!({"jwk": "not an object"}),
        json!({"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}),
        json!({"jwk": jwk}),
    ] {
        let bad = resigned(&s, &good, |_, p| {
            p.insert("cnf".into(), cnf.clone());
        });
        // Refused as the credential is read, whether or not a key binding is asked for.
        assert_eq!(
            verify_with(&s, &bad, |o| o.key_binding = None).err(),
            Some(SdJwtError::MissingHolderKey),
            "{cnf}"
        );
    }
}
