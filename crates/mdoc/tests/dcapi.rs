//! ISO/IEC 18013-7 Annex C (`org-iso-mdoc` over the Digital Credentials API): the
//! SessionTranscript and EncryptionInfo against two independent captures
//! (`testdata/iso18013-7/annex-c`, PROVENANCE.md), and the sealed response opening only for
//! its request and origin, with its reader's key.

#![expect(
    clippy::unwrap_used,
    reason = "a test: a failed unwrap is a failed test"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_crypto::hpke::HpkeRecipient;
use eid_crypto::{Algorithm, VerifyingKey};
use eid_mdoc::MdocError;
use eid_mdoc::dcapi::{EncryptionInfo, open_response, seal_response, session_transcript};

/// `key value` lines of a vector file.
fn vector(name: &str) -> std::collections::HashMap<String, String> {
    let path = format!(
        "{}/../../testdata/iso18013-7/annex-c/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[test]
fn the_transcript_and_encryption_info_of_a_chrome_capture_hold_byte_for_byte() {
    let v = vector("android-chrome-capture.txt");
    let transcript = session_transcript(&v["encryption_info"], &v["origin"]);
    assert_eq!(hex::encode(&transcript), v["session_transcript"]);
    let bytes = URL_SAFE_NO_PAD.decode(&v["encryption_info"]).unwrap();
    let info = EncryptionInfo::parse(&bytes).unwrap();
    assert_eq!(hex::encode(&info.nonce), v["nonce"]);
    let point = hex::decode(format!("04{}{}", v["recipient_x"], v["recipient_y"])).unwrap();
    assert_eq!(info.recipient_public_key.sec1(), &point[..]);
    // Written again, it is the same bytes.
    assert_eq!(info.encode(), bytes);
}

#[test]
fn the_transcript_of_the_eu_age_verification_example_holds() {
    let v = vector("eu-age-verification.txt");
    assert_eq!(
        hex::encode(session_transcript(&v["encryption_info"], &v["origin"])),
        v["session_transcript"]
    );
    let bytes = URL_SAFE_NO_PAD.decode(&v["encryption_info"]).unwrap();
    assert_eq!(EncryptionInfo::parse(&bytes).unwrap().nonce.len(), 16);
    // The text is hashed as it came: the same info padded is another transcript.
    assert_ne!(
        session_transcript(&format!("{}=", v["encryption_info"]), &v["origin"]),
        session_transcript(&v["encryption_info"], &v["origin"])
    );
}

/// The reader's request parameters, as its text (base64url) and parsed.
fn request() -> (HpkeRecipient, String, EncryptionInfo) {
    let reader = HpkeRecipient::generate().unwrap();
    let info = EncryptionInfo {
        nonce: vec![7; 16],
        recipient_public_key: VerifyingKey::from_sec1(Algorithm::Es256, reader.public_point())
            .unwrap(),
    };
    let text = URL_SAFE_NO_PAD.encode(info.encode());
    (reader, text, info)
}

#[test]
fn a_sealed_response_opens_for_its_request_and_origin_with_its_readers_key_alone() {
    let (reader, text, info) = request();
    let origin = "https://bank.example";
    let transcript = session_transcript(&text, origin);
    let sealed = seal_response(b"DeviceResponse", &info, &transcript).unwrap();
    assert_eq!(
        open_response(&sealed, &reader, &transcript).unwrap(),
        b"DeviceResponse"
    );
    let refused = |transcript: &[u8], reader: &HpkeRecipient| {
        matches!(
            open_response(&sealed, reader, transcript),
            Err(MdocError::Algorithm(eid_crypto::CryptoError::Hpke))
        )
    };
    // Another origin; another request (its nonce); another reader's key.
    assert!(refused(
        &session_transcript(&text, "https://bank.example.evil"),
        &reader
    ));
    let (other_reader, other_text, _) = request();
    assert!(refused(&session_transcript(&other_text, origin), &reader));
    assert!(refused(&transcript, &other_reader));
    // Malformed answers say what is wrong.
    for (bytes, why) in [
        (&b"\x82\x65dcapi\xa0"[..], "enc and cipherText"),
        (&b"\x82\x64dcap\xa0"[..], "not of type"),
        (&b"\x81\x65dcapi"[..], "[\"dcapi\", data]"),
    ] {
        match open_response(bytes, &reader, &transcript) {
            Err(MdocError::Malformed(message)) => assert!(message.contains(why), "{message}"),
            other => panic!("{why}: {other:?}"),
        }
    }
}

#[test]
fn encryption_info_that_is_not_annex_cs_is_refused() {
    let (_, text, info) = request();
    let bytes = URL_SAFE_NO_PAD.decode(text).unwrap();
    let swap = |from: &[u8], to: &[u8]| {
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        [&bytes[..at], to, &bytes[at + from.len()..]].concat()
    };
    for (changed, why) in [
        (swap(b"\x65dcapi", b"\x65dcapx"), "not of type"),
        (
            EncryptionInfo {
                nonce: Vec::new(),
                ..info.clone()
            }
            .encode(),
            "nonce is empty",
        ),
        (
            swap(b"\x72recipientPublicKey", b"\x72recipientPublicKez"),
            "recipientPublicKey",
        ),
    ] {
        match EncryptionInfo::parse(&changed) {
            Err(MdocError::Malformed(message)) => assert!(message.contains(why), "{message}"),
            other => panic!("{why}: {other:?}"),
        }
    }
    assert_eq!(EncryptionInfo::parse(&info.encode()).unwrap(), info);
}
