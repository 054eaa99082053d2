//! eid-signed status list tokens in both forms: they read back, and each check a reader
//! makes has a test that breaks exactly that one thing and asserts the precise error.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_crypto::x509::{AuthorityPki, CertificateError, TrustedIaca};
use eid_crypto::{Signer, SigningKey};
use eid_status::{
    Bits, ReadOptions, SignerRef, StatusError, StatusList, StatusListToken, TokenFormat,
    TokenTrust, read,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);
const URI: &str = "https://eid.example.cn/status/4501/0";

fn pki(name: &str) -> AuthorityPki {
    eid_testing::authority(
        name,
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
    )
}

fn token() -> StatusListToken {
    let mut list = StatusList::new(Bits::TWO, 1 << 17).unwrap();
    list.set(5, 1).unwrap();
    list.set(77_777, 2).unwrap();
    StatusListToken {
        uri: URI.into(),
        issued_at: NOW - Duration::minutes(5),
        expires_at: Some(NOW + Duration::days(1)),
        ttl: Some(300),
        list,
    }
}

fn sign(token: &StatusListToken, pki: &AuthorityPki, format: TokenFormat) -> Vec<u8> {
    let chain = [pki.ds.0.clone()];
    match format {
        TokenFormat::Jwt => token
            .sign_jwt(&pki.ds_key, SignerRef::Certificates(&chain))
            .unwrap()
            .into_bytes(),
        TokenFormat::Cwt => token
            .sign_cwt(&pki.ds_key, SignerRef::Certificates(&chain))
            .unwrap(),
    }
}

fn read_with(
    bytes: &[u8],
    roots: &[TrustedIaca],
    now: OffsetDateTime,
) -> Result<StatusListToken, StatusError> {
    read(
        bytes,
        &ReadOptions::new(TokenTrust { roots, keys: &[] }, now, URI),
    )
    .map(|v| v.token)
}

const FORMATS: [TokenFormat; 2] = [TokenFormat::Jwt, TokenFormat::Cwt];

#[test]
fn both_forms_read_back_through_the_ds_chain() {
    let pki = pki("南宁市公安局");
    let roots = [pki.trusted_root(NOW).unwrap()];
    for format in FORMATS {
        let verified = read(
            &sign(&token(), &pki, format),
            &ReadOptions::new(
                TokenTrust {
                    roots: &roots,
                    keys: &[],
                },
                NOW,
                URI,
            ),
        )
        .unwrap();
        assert_eq!(verified.format, format);
        assert_eq!(
            verified.signed_by,
            eid_status::SignedBy::Certificate {
                root: 0,
                common_name: Some("南宁市公安局 DS".into())
            }
        );
        assert_eq!(verified.token, token(), "{format:?}");
    }
}

#[test]
fn a_trusted_key_without_certificate_reads_too() {
    let key = SigningKey::generate().unwrap();
    let jwt = token().sign_jwt(&key, SignerRef::KeyId("k1")).unwrap();
    let cwt = token().sign_cwt(&key, SignerRef::KeyId("k1")).unwrap();
    let keys = [key.verifying_key().clone()];
    let trust = TokenTrust {
        roots: &[],
        keys: &keys,
    };
    for bytes in [jwt.into_bytes(), cwt] {
        assert_eq!(
            read(&bytes, &ReadOptions::new(trust, NOW, URI))
                .unwrap()
                .token,
            token()
        );
        let other = [SigningKey::generate().unwrap().verifying_key().clone()];
        assert_eq!(
            read(
                &bytes,
                &ReadOptions::new(
                    TokenTrust {
                        roots: &[],
                        keys: &other
                    },
                    NOW,
                    URI
                )
            )
            .err(),
            Some(StatusError::UntrustedSigner)
        );
    }
}

#[test]
fn check_signature() {
    let pki = pki("A");
    let roots = [pki.trusted_root(NOW).unwrap()];
    for format in FORMATS {
        let mut bytes = sign(&token(), &pki, format);
        // The last byte is in the signature in both forms (base64url's last character can
        // carry spare bits, so the JWT's is changed two characters earlier).
        let at = bytes.len() - if format == TokenFormat::Jwt { 3 } else { 1 };
        bytes[at] = if bytes[at] == b'A' {
            b'B'
        } else {
            bytes[at] ^ 1
        };
        if format == TokenFormat::Jwt && !bytes[at].is_ascii_alphanumeric() {
            bytes[at] = b'C';
        }
        assert_eq!(
            read_with(&bytes, &roots, NOW),
            Err(StatusError::BadSignature),
            "{format:?}"
        );
    }
}

#[test]
fn check_signer_certificate_chains_to_a_trusted_root() {
    let (pki, stranger) = (pki("A"), pki("B"));
    let roots = [stranger.trusted_root(NOW).unwrap()];
    for format in FORMATS {
        assert_eq!(
            read_with(&sign(&token(), &pki, format), &roots, NOW),
            Err(StatusError::SignerCertificate(
                CertificateError::UntrustedIssuer
            )),
            "{format:?}"
        );
    }
}

#[test]
fn check_type() {
    let pki = pki("A");
    let roots = [pki.trusted_root(NOW).unwrap()];
    // A JWT typed as something else, signed by the right key.
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), "ES256".into());
    header.insert("typ".into(), "JWT".into());
    use base64::Engine;
    header.insert(
        "x5c".into(),
        vec![base64::engine::general_purpose::STANDARD.encode(&pki.ds.0)].into(),
    );
    let jwt = String::from_utf8(sign(&token(), &pki, TokenFormat::Jwt)).unwrap();
    let payload = eid_sdjwt::Jws::parse(&jwt).unwrap().payload().clone();
    let retyped = eid_sdjwt::Jws::sign(&header, &payload, &pki.ds_key).unwrap();
    assert_eq!(
        read_with(retyped.as_bytes(), &roots, NOW),
        Err(StatusError::WrongType {
            found: Some("JWT".into()),
            expected: "statuslist+jwt"
        })
    );
    // A COSE_Sign1 without the CWT typ: an mdoc-style signature over the same claims.
    let cwt = sign(&token(), &pki, TokenFormat::Cwt);
    let original = eid_mdoc::cose::CoseSign1::decode(&mut minicbor::Decoder::new(&cwt)).unwrap();
    let untyped = eid_mdoc::cose::CoseSign1::sign(
        &pki.ds_key,
        original.payload.as_deref().unwrap(),
        std::slice::from_ref(&pki.ds.0),
        false,
    )
    .unwrap();
    let mut bytes = Vec::new();
    untyped
        .encode(&mut minicbor::Encoder::new(&mut bytes))
        .unwrap();
    assert_eq!(
        read_with(&bytes, &roots, NOW),
        Err(StatusError::WrongType {
            found: None,
            expected: "application/statuslist+cwt"
        })
    );
}

#[test]
fn check_expiry_and_issue_time() {
    let pki = pki("A");
    let roots = [pki.trusted_root(NOW).unwrap()];
    let exp = (NOW + Duration::days(1)).unix_timestamp();
    let iat = (NOW - Duration::minutes(5)).unix_timestamp();
    for format in FORMATS {
        let bytes = sign(&token(), &pki, format);
        assert_eq!(
            read_with(&bytes, &roots, NOW + Duration::days(1)),
            Err(StatusError::Expired(exp)),
            "{format:?}"
        );
        assert_eq!(
            read_with(&bytes, &roots, NOW - Duration::minutes(6)),
            Err(StatusError::IssuedInFuture(iat)),
            "{format:?}"
        );
    }
}

#[test]
fn check_subject_is_the_uri_fetched() {
    let pki = pki("A");
    let roots = [pki.trusted_root(NOW).unwrap()];
    for format in FORMATS {
        let mut other = token();
        other.uri = "https://eid.example.cn/status/4501/1".into();
        assert_eq!(
            read_with(&sign(&other, &pki, format), &roots, NOW),
            Err(StatusError::WrongSubject {
                found: other.uri.clone(),
                expected: URI.into()
            }),
            "{format:?}"
        );
    }
}

#[test]
fn check_inflated_size_is_capped() {
    let pki = pki("A");
    let roots = [pki.trusted_root(NOW).unwrap()];
    for format in FORMATS {
        let bytes = sign(&token(), &pki, format);
        let mut options = ReadOptions::new(
            TokenTrust {
                roots: &roots,
                keys: &[],
            },
            NOW,
            URI,
        );
        options.max_inflated = 1024;
        assert_eq!(
            read(&bytes, &options).err(),
            Some(StatusError::TooLarge(1024)),
            "{format:?}"
        );
    }
}

#[test]
fn check_algorithm_is_named() {
    let key = SigningKey::generate().unwrap();
    let mut header = serde_json::Map::new();
    header.insert("typ".into(), "statuslist+jwt".into());
    let jwt = String::from_utf8(
        token()
            .sign_jwt(&key, SignerRef::KeyId("k"))
            .unwrap()
            .into_bytes(),
    )
    .unwrap();
    let payload = eid_sdjwt::Jws::parse(&jwt).unwrap().payload().clone();
    let no_alg = eid_sdjwt::Jws::sign(&header, &payload, &key).unwrap();
    let keys = [key.verifying_key().clone()];
    assert_eq!(
        read(
            no_alg.as_bytes(),
            &ReadOptions::new(
                TokenTrust {
                    roots: &[],
                    keys: &keys
                },
                NOW,
                URI
            )
        )
        .err(),
        Some(StatusError::MissingAlgorithm)
    );
    assert_eq!(key.algorithm(), eid_crypto::Algorithm::Es256);
}

#[test]
fn signed_deltas_read_back_and_their_checks_break() {
    let pki = pki("A");
    let roots = [pki.trusted_root(NOW).unwrap()];
    let old = token().list;
    let mut new = old.clone();
    new.set(9, 2).unwrap();
    let delta = eid_status::Delta::between(
        URI,
        (4, &old),
        ((NOW - Duration::minutes(1)).unix_timestamp() as u64, &new),
        (NOW + Duration::hours(1)).unix_timestamp(),
    )
    .unwrap();
    let chain = [pki.ds.0.clone()];
    let signed = delta
        .sign(&pki.ds_key, SignerRef::Certificates(&chain))
        .unwrap();
    let options = ReadOptions::new(
        TokenTrust {
            roots: &roots,
            keys: &[],
        },
        NOW,
        URI,
    );
    let read = eid_status::Delta::read(&signed, &options).unwrap();
    let mut copy = old.clone();
    assert_eq!(
        read.apply(&mut copy, 4),
        Ok((NOW - Duration::minutes(1)).unix_timestamp() as u64)
    );
    assert_eq!(copy, new);
    // A changed signature byte; another signer; another list; a status list in its place.
    let mut forged = signed.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        eid_status::Delta::read(&forged, &options).err(),
        Some(StatusError::BadSignature)
    );
    let stranger = self::pki("B");
    let other_roots = [stranger.trusted_root(NOW).unwrap()];
    assert_eq!(
        eid_status::Delta::read(
            &signed,
            &ReadOptions::new(
                TokenTrust {
                    roots: &other_roots,
                    keys: &[]
                },
                NOW,
                URI
            )
        )
        .err(),
        Some(StatusError::SignerCertificate(
            CertificateError::UntrustedIssuer
        ))
    );
    assert!(matches!(
        eid_status::Delta::read(
            &signed,
            &ReadOptions::new(
                TokenTrust {
                    roots: &roots,
                    keys: &[]
                },
                NOW,
                "https://x/1"
            )
        ),
        Err(StatusError::WrongSubject { .. })
    ));
    assert!(matches!(
        eid_status::Delta::read(&sign(&token(), &pki, TokenFormat::Cwt), &options),
        Err(StatusError::WrongType { .. })
    ));
}

/// A JWT status list token with `payload` edited by `edit`, signed by `key` (kid form).
fn edited_jwt(
    key: &SigningKey,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Vec<u8> {
    let jwt = token().sign_jwt(key, SignerRef::KeyId("k")).unwrap();
    let parsed = eid_sdjwt::Jws::parse(&jwt).unwrap();
    let mut payload = parsed.payload().clone();
    edit(&mut payload);
    eid_sdjwt::Jws::sign(parsed.header(), &payload, key)
        .unwrap()
        .into_bytes()
}

/// A CWT status list token over hand-written `claims`, signed by `key`.
fn cwt_with_claims(key: &SigningKey, claims: &[u8]) -> Vec<u8> {
    eid_status::token::cose_sign1(
        claims,
        "application/statuslist+cwt",
        key,
        SignerRef::KeyId("k"),
    )
    .unwrap()
}

#[test]
fn required_claims_and_their_shapes() {
    let key = SigningKey::generate().unwrap();
    let keys = [key.verifying_key().clone()];
    let options = ReadOptions::new(
        TokenTrust {
            roots: &[],
            keys: &keys,
        },
        NOW,
        URI,
    );
    for (name, says) in [
        ("sub", "sub is missing or not a string"),
        ("iat", "iat is missing"),
        ("status_list", "status_list is missing"),
    ] {
        let bytes = edited_jwt(&key, |p| {
            p.remove(name);
        });
        assert_eq!(
            read(&bytes, &options).err(),
            Some(StatusError::Malformed(says)),
            "{name}"
        );
    }
    let zero_ttl = edited_jwt(&key, |p| {
        p.insert("ttl".into(), 0.into());
    });
    assert_eq!(
        read(&zero_ttl, &options).err(),
        Some(StatusError::Malformed(
            "ttl must be a positive number of seconds"
        ))
    );
    // The long media type names the same type (RFC 7515 §4.1.9).
    let jwt = token().sign_jwt(&key, SignerRef::KeyId("k")).unwrap();
    let parsed = eid_sdjwt::Jws::parse(&jwt).unwrap();
    let mut header = parsed.header().clone();
    header.insert("typ".into(), "application/statuslist+jwt".into());
    let long = eid_sdjwt::Jws::sign(&header, parsed.payload(), &key).unwrap();
    assert_eq!(read(long.as_bytes(), &options).unwrap().token, token());

    // CWT: a claim twice, and bytes after the claims.
    let list = token().list;
    let mut claims = Vec::new();
    let mut e = minicbor::Encoder::new(&mut claims);
    e.map(4)
        .unwrap()
        .i64(2)
        .unwrap()
        .str(URI)
        .unwrap()
        .i64(6)
        .unwrap();
    e.i64((NOW - Duration::minutes(1)).unix_timestamp())
        .unwrap();
    e.i64(65533).unwrap();
    list.encode_cbor(&mut e);
    e.i64(65533).unwrap();
    list.encode_cbor(&mut e);
    assert_eq!(
        read(&cwt_with_claims(&key, &claims), &options).err(),
        Some(StatusError::Malformed("a CWT claim appears twice"))
    );
    let mut claims = Vec::new();
    let mut e = minicbor::Encoder::new(&mut claims);
    e.map(3)
        .unwrap()
        .i64(2)
        .unwrap()
        .str(URI)
        .unwrap()
        .i64(6)
        .unwrap();
    e.i64((NOW - Duration::minutes(1)).unix_timestamp())
        .unwrap();
    e.i64(65533).unwrap();
    list.encode_cbor(&mut e);
    assert!(read(&cwt_with_claims(&key, &claims), &options).is_ok());
    claims.push(0);
    assert_eq!(
        read(&cwt_with_claims(&key, &claims), &options).err(),
        Some(StatusError::Malformed("bytes after the CWT claims"))
    );
    let mut whole = cwt_with_claims(&key, &claims[..claims.len() - 1]);
    whole.push(0);
    assert_eq!(
        read(&whole, &options).err(),
        Some(StatusError::Malformed("bytes after the COSE_Sign1"))
    );
    assert_eq!(
        read(&vec![b'e'; eid_status::token::MAX_TOKEN_LEN + 1], &options).err(),
        Some(StatusError::TooLarge(eid_status::token::MAX_TOKEN_LEN))
    );
}

#[test]
fn check_signer_certificate_validity_and_x5c_shape() {
    let pki = pki("A");
    let roots = [pki.trusted_root(NOW).unwrap()];
    // The DS certificate is valid for 450 days from 2026-01-01: a list read after that.
    let late = datetime!(2027-06-01 0:00 UTC);
    let mut late_token = token();
    late_token.issued_at = late - Duration::minutes(1);
    late_token.expires_at = Some(late + Duration::days(1));
    let chain = [pki.ds.0.clone()];
    let jwt = late_token
        .sign_jwt(&pki.ds_key, SignerRef::Certificates(&chain))
        .unwrap();
    let roots_late = [TrustedIaca::new(&pki.iaca.0, late).unwrap()];
    assert!(matches!(
        read(
            jwt.as_bytes(),
            &ReadOptions::new(
                TokenTrust {
                    roots: &roots_late,
                    keys: &[]
                },
                late,
                URI
            )
        ),
        Err(StatusError::SignerCertificate(
            CertificateError::OutsideValidity { .. }
        ))
    ));
    // x5c that is not base64.
    let good = String::from_utf8(sign(&token(), &pki, TokenFormat::Jwt)).unwrap();
    let parsed = eid_sdjwt::Jws::parse(&good).unwrap();
    let mut header = parsed.header().clone();
    header.insert("x5c".into(), vec!["not base64!"].into());
    let bad = eid_sdjwt::Jws::sign(&header, parsed.payload(), &pki.ds_key).unwrap();
    assert_eq!(
        read_with(bad.as_bytes(), &roots, NOW),
        Err(StatusError::Malformed("x5c is not base64"))
    );
}

#[test]
fn referenced_token_status_claim_in_json() {
    use eid_status::token::reference_from_json;
    let good = serde_json::json!({"status_list": {"idx": 7, "uri": URI}});
    assert_eq!(
        reference_from_json(&good).unwrap(),
        eid_core::status::StatusListReference {
            idx: 7,
            uri: URI.into()
        }
    );
    for (bad, says) in [
        (serde_json::json!({}), "status has no status_list"),
        (
            serde_json::json!({"status_list": {"uri": URI}}),
            "status_list.idx is not a number",
        ),
        (
            serde_json::json!({"status_list": {"idx": -1, "uri": URI}}),
            "status_list.idx is not a number",
        ),
        (
            serde_json::json!({"status_list": {"idx": 1, "uri": 5}}),
            "status_list.uri is not a string",
        ),
    ] {
        assert_eq!(reference_from_json(&bad), Err(StatusError::Malformed(says)));
    }
}

/// A COSE_Sign1 tagged 18 with the protected header `{? 1: alg, 16: typ}`, signed by `key`
/// over `payload` whatever `alg` says; the payload left out (nil) when `detached`.
fn cose_with_alg(key: &SigningKey, alg: Option<i64>, payload: &[u8], detached: bool) -> Vec<u8> {
    let mut protected = Vec::new();
    let mut e = minicbor::Encoder::new(&mut protected);
    e.map(1 + u64::from(alg.is_some())).unwrap();
    if let Some(alg) = alg {
        e.i64(1).unwrap().i64(alg).unwrap();
    }
    e.i64(16)
        .unwrap()
        .str("application/statuslist+cwt")
        .unwrap();
    let signature = key
        .sign(&eid_mdoc::cose::to_be_signed(
            "Signature1",
            &protected,
            payload,
        ))
        .unwrap();
    let mut out = Vec::new();
    let mut e = minicbor::Encoder::new(&mut out);
    e.tag(minicbor::data::Tag::new(18))
        .unwrap()
        .array(4)
        .unwrap()
        .bytes(&protected)
        .unwrap()
        .map(1)
        .unwrap()
        .i64(4)
        .unwrap()
        .bytes(b"k")
        .unwrap();
    if detached {
        e.null().unwrap();
    } else {
        e.bytes(payload).unwrap();
    }
    e.bytes(&signature).unwrap();
    out
}

/// The CWT claims of `token()`, as `sign_cwt` writes them.
fn cwt_claims(key: &SigningKey) -> Vec<u8> {
    let cwt = token().sign_cwt(key, SignerRef::KeyId("k")).unwrap();
    eid_mdoc::cose::CoseSign1::decode(&mut minicbor::Decoder::new(&cwt))
        .unwrap()
        .payload
        .unwrap()
}

#[test]
fn check_algorithm_is_allowed() {
    let key = SigningKey::generate().unwrap();
    let keys = [key.verifying_key().clone()];
    let options = ReadOptions::new(
        TokenTrust {
            roots: &[],
            keys: &keys,
        },
        NOW,
        URI,
    );
    // JWT: HS256 in the header over an ES256 signature that is otherwise good.
    let jwt = token().sign_jwt(&key, SignerRef::KeyId("k")).unwrap();
    let parsed = eid_sdjwt::Jws::parse(&jwt).unwrap();
    let mut header = parsed.header().clone();
    header.insert("alg".into(), "HS256".into());
    let hs256 = eid_sdjwt::Jws::sign(&header, parsed.payload(), &key).unwrap();
    assert_eq!(
        read(hs256.as_bytes(), &options).err(),
        Some(StatusError::Algorithm(
            eid_crypto::CryptoError::UnsupportedAlgorithm("HS256".into())
        ))
    );
    // CWT: ES384 (-35) in the protected header.
    let claims = cwt_claims(&key);
    assert_eq!(
        read(&cose_with_alg(&key, Some(-7), &claims, false), &options)
            .unwrap()
            .token,
        token()
    );
    assert_eq!(
        read(&cose_with_alg(&key, Some(-35), &claims, false), &options).err(),
        Some(StatusError::Algorithm(
            eid_crypto::CryptoError::UnsupportedAlgorithm("-35".into())
        ))
    );
}

#[test]
fn check_cwt_algorithm_is_named() {
    let key = SigningKey::generate().unwrap();
    let keys = [key.verifying_key().clone()];
    let options = ReadOptions::new(
        TokenTrust {
            roots: &[],
            keys: &keys,
        },
        NOW,
        URI,
    );
    assert_eq!(
        read(
            &cose_with_alg(&key, None, &cwt_claims(&key), false),
            &options
        )
        .err(),
        Some(StatusError::MissingAlgorithm)
    );
}

#[test]
fn check_cose_sign1_carries_its_payload() {
    let key = SigningKey::generate().unwrap();
    let keys = [key.verifying_key().clone()];
    let options = ReadOptions::new(
        TokenTrust {
            roots: &[],
            keys: &keys,
        },
        NOW,
        URI,
    );
    // Signed over the claims, then detached; and signed over nothing at all.
    for signed_over in [cwt_claims(&key), Vec::new()] {
        assert_eq!(
            read(&cose_with_alg(&key, Some(-7), &signed_over, true), &options).err(),
            Some(StatusError::Malformed("the COSE_Sign1 has no payload")),
            "{} bytes signed",
            signed_over.len()
        );
    }
}
