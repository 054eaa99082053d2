//! ISO/IEC 18013-7 Annex C: an mdoc request and response over the W3C Digital Credentials
//! API (protocol `org-iso-mdoc`). The browser hands the reader's request to a wallet, with
//! the origin of the page that asked; the answer is encrypted to the reader with HPKE and
//! bound to that origin by the SessionTranscript.
//!
//! ```cddl
//! ; request data: { "deviceRequest": b64url(DeviceRequest),
//! ;                 "encryptionInfo": b64url(EncryptionInfo) }   (no padding)
//! EncryptionInfo = [ "dcapi", { "nonce": bstr, "recipientPublicKey": COSE_Key } ]
//! SessionTranscript = [ null, null, [ "dcapi", bstr .size 32 ] ]
//!   ; SHA-256 of CBOR [ Base64EncryptionInfo, SerializedOrigin ], the encryptionInfo
//!   ; text exactly as it came and the origin as the browser serialises it
//! ; response data: { "response": b64url(EncryptedResponse) }
//! EncryptedResponse = [ "dcapi", { "enc": bstr, "cipherText": bstr } ]
//! ```
//!
//! The DeviceResponse is sealed with HPKE base mode, DHKEM(P-256, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM ([`eid_crypto::hpke`]), to `recipientPublicKey`, with the
//! SessionTranscript's CBOR as `info` and no associated data; the device signs over the same
//! transcript. A response made for another origin or another request therefore neither
//! opens nor verifies.

use eid_crypto::VerifyingKey;
use eid_crypto::hpke::{HpkeRecipient, seal};
use minicbor::Decoder;

use crate::MdocError;
use crate::cbor::{Out, array_len, decode_all, malformed, map_len, skip};
use crate::model::cose_key;

/// The Digital Credentials API protocol identifier of Annex C.
pub const PROTOCOL: &str = "org-iso-mdoc";

/// The reader's encryption parameters: a fresh nonce and the key to seal the response to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionInfo {
    /// The reader's nonce (at least 16 bytes when eid makes it).
    pub nonce: Vec<u8>,
    /// The reader's HPKE public key.
    pub recipient_public_key: VerifyingKey,
}

impl EncryptionInfo {
    /// The EncryptionInfo CBOR.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Out::with_capacity(128);
        out.array(2)
            .text("dcapi")
            .map(2)
            .text("nonce")
            .bytes(&self.nonce)
            .text("recipientPublicKey")
            .cose_key(self.recipient_public_key.sec1());
        out.0
    }

    /// Parses EncryptionInfo CBOR.
    pub fn parse(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d: &mut Decoder<'_>| {
            if array_len(d, "EncryptionInfo")? != 2 {
                return Err(MdocError::Malformed(
                    "EncryptionInfo is [\"dcapi\", parameters]",
                ));
            }
            if d.str().map_err(malformed("EncryptionInfo type"))? != "dcapi" {
                return Err(MdocError::Malformed(
                    "EncryptionInfo is not of type \"dcapi\"",
                ));
            }
            let (mut nonce, mut key) = (None, None);
            for _ in 0..map_len(d, "EncryptionParameters")? {
                match d.str().map_err(malformed("EncryptionParameters key"))? {
                    "nonce" => nonce = Some(d.bytes().map_err(malformed("nonce"))?.to_vec()),
                    "recipientPublicKey" => {
                        key = Some(cose_key(skip(d, "recipientPublicKey")?)?);
                    }
                    _ => {
                        skip(d, "EncryptionParameters")?;
                    }
                }
            }
            let (Some(nonce), Some(recipient_public_key)) = (nonce, key) else {
                return Err(MdocError::Malformed(
                    "EncryptionInfo needs a nonce and a recipientPublicKey",
                ));
            };
            if nonce.is_empty() {
                return Err(MdocError::Malformed("the EncryptionInfo nonce is empty"));
            }
            Ok(Self {
                nonce,
                recipient_public_key,
            })
        })
    }
}

/// The Annex C SessionTranscript for the encryptionInfo text as exchanged (base64url, as it
/// stands in the request) and the origin of the page that asked.
pub fn session_transcript(encryption_info_b64: &str, origin: &str) -> Vec<u8> {
    let mut info = Out::with_capacity(encryption_info_b64.len() + origin.len() + 8);
    info.array(2).text(encryption_info_b64).text(origin);
    crate::session::hashed_handover_transcript("dcapi", &info.0)
}

/// The wallet's side: the DeviceResponse (device-signed over `session_transcript`) sealed
/// to the reader; returns EncryptedResponse CBOR.
pub fn seal_response(
    device_response: &[u8],
    encryption_info: &EncryptionInfo,
    session_transcript: &[u8],
) -> Result<Vec<u8>, MdocError> {
    let (enc, cipher_text) = seal(
        encryption_info.recipient_public_key.sec1(),
        session_transcript,
        &[],
        device_response,
    )
    .map_err(MdocError::Algorithm)?;
    let mut out = Out::with_capacity(cipher_text.len() + 96);
    out.array(2)
        .text("dcapi")
        .map(2)
        .text("enc")
        .bytes(&enc)
        .text("cipherText")
        .bytes(&cipher_text);
    Ok(out.0)
}

/// The reader's side: opens EncryptedResponse CBOR with its key under `session_transcript`;
/// returns the DeviceResponse CBOR (still to be verified over the same transcript).
pub fn open_response(
    encrypted_response: &[u8],
    recipient: &HpkeRecipient,
    session_transcript: &[u8],
) -> Result<Vec<u8>, MdocError> {
    let (enc, cipher_text) = decode_all(encrypted_response, |d: &mut Decoder<'_>| {
        if array_len(d, "EncryptedResponse")? != 2 {
            return Err(MdocError::Malformed(
                "EncryptedResponse is [\"dcapi\", data]",
            ));
        }
        if d.str().map_err(malformed("EncryptedResponse type"))? != "dcapi" {
            return Err(MdocError::Malformed(
                "EncryptedResponse is not of type \"dcapi\"",
            ));
        }
        let (mut enc, mut cipher_text) = (None, None);
        for _ in 0..map_len(d, "EncryptedResponseData")? {
            match d.str().map_err(malformed("EncryptedResponseData key"))? {
                "enc" => enc = Some(d.bytes().map_err(malformed("enc"))?.to_vec()),
                "cipherText" => {
                    cipher_text = Some(d.bytes().map_err(malformed("cipherText"))?.to_vec());
                }
                _ => {
                    skip(d, "EncryptedResponseData")?;
                }
            }
        }
        match (enc, cipher_text) {
            (Some(enc), Some(cipher_text)) => Ok((enc, cipher_text)),
            _ => Err(MdocError::Malformed(
                "EncryptedResponse needs enc and cipherText",
            )),
        }
    })?;
    recipient
        .open(&enc, session_transcript, &[], &cipher_text)
        .map_err(MdocError::Algorithm)
}
