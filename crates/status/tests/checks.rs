//! eid-signed status list tokens in both forms: they read back, and each check a reader
//! makes has a test that breaks exactly that one thing and asserts the precise error.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use eid_core::OsRandom;
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
    AuthorityPki::generate(
        name,
        "CN",
        "https://eid.example.cn/4501",
        datetime!(2026-01-01 0:00 UTC),
        (3650, 450),
        &OsRandom,
    )
    .unwrap()
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
        &ReadOptions::new(TokenTrust { roots, keys: &[] }, now, Some(URI)),
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
                Some(URI),
            ),
        )
        .unwrap();
        assert_eq!(verified.format, format);
        assert_eq!(verified.signer.as_deref(), Some("南宁市公安局 DS"));
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
            read(&bytes, &ReadOptions::new(trust, NOW, Some(URI)))
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
                    Some(URI)
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
            Some(URI),
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
                Some(URI)
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
    let delta = eid_status::Delta::between(URI, (4, &old), (5, &new)).unwrap();
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
        Some(URI),
    );
    let read = eid_status::Delta::read(&signed, &options).unwrap();
    let mut copy = old.clone();
    assert_eq!(read.apply(&mut copy, 4), Ok(5));
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
                Some(URI)
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
                Some("https://x/1")
            )
        ),
        Err(StatusError::WrongSubject { .. })
    ));
    assert!(matches!(
        eid_status::Delta::read(&sign(&token(), &pki, TokenFormat::Cwt), &options),
        Err(StatusError::WrongType { .. })
    ));
}
