//! Device engagement (ISO 18013-5 §8.2.1.1) and the QR code that carries it.
//!
//! ```cddl
//! DeviceEngagement = { 0: tstr, 1: Security, ? 2: DeviceRetrievalMethods, * int => any }
//! Security = [ int, EDeviceKeyBytes ]          ; cipher suite 1
//! EDeviceKeyBytes = #6.24(bstr .cbor COSE_Key)
//! ```

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_crypto::VerifyingKey;
use minicbor::{Decoder, Encoder};

use crate::MdocError;
use crate::cbor::{array_len, decode_all, malformed, map_len, skip, tagged_cbor};
use crate::model::{cose_key, cose_key_bytes};
use crate::session::tag24;

/// The URI scheme of a QR-code engagement (§8.2.2.3).
pub const QR_SCHEME: &str = "mdoc:";

/// A parsed DeviceEngagement, with the bytes it arrived as (the SessionTranscript embeds
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEngagement {
    /// The DeviceEngagement CBOR as received.
    pub bytes: Vec<u8>,
    /// `"1.0"` (or later).
    pub version: String,
    /// The device's ephemeral key, EDeviceKey.
    pub e_device_key: VerifyingKey,
}

impl DeviceEngagement {
    /// A QR engagement offering cipher suite 1 with the ephemeral key `e_device_point` (no
    /// retrieval methods: the transport is agreed out of band, as for TCP/WebSocket here).
    pub fn encode(e_device_point: &[u8; 65]) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        let mut e = Encoder::new(&mut out);
        let _ = e
            .map(2)
            .and_then(|e| e.u8(0))
            .and_then(|e| e.str("1.0"))
            .and_then(|e| e.u8(1))
            .and_then(|e| e.array(2))
            .and_then(|e| e.u8(1));
        out.extend_from_slice(&tag24(&cose_key_bytes(e_device_point)));
        out
    }

    /// Parses DeviceEngagement CBOR.
    pub fn parse(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d: &mut Decoder<'_>| {
            let (mut version, mut key) = (None, None);
            for _ in 0..map_len(d, "DeviceEngagement")? {
                match d.i64().map_err(malformed("DeviceEngagement key"))? {
                    0 => version = Some(d.str().map_err(malformed("version"))?.to_owned()),
                    1 => {
                        if array_len(d, "Security")? != 2 {
                            return Err(MdocError::Malformed(
                                "Security is [cipher suite, EDeviceKeyBytes]",
                            ));
                        }
                        if d.i64().map_err(malformed("cipher suite"))? != 1 {
                            return Err(MdocError::Malformed("only cipher suite 1 is defined"));
                        }
                        key = Some(
                            cose_key(tagged_cbor(d, "EDeviceKeyBytes")?.1)
                                .map_err(|_| MdocError::Malformed("EDeviceKey"))?,
                        );
                    }
                    _ => {
                        skip(d, "DeviceEngagement")?;
                    }
                }
            }
            Ok(Self {
                bytes: bytes.to_vec(),
                version: version.ok_or(MdocError::Malformed("DeviceEngagement without version"))?,
                e_device_key: key
                    .ok_or(MdocError::Malformed("DeviceEngagement without Security"))?,
            })
        })
    }

    /// The QR code's text: `mdoc:` and the engagement in base64url without padding.
    pub fn qr_uri(bytes: &[u8]) -> String {
        format!("{QR_SCHEME}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parses the QR code's text.
    pub fn from_qr_uri(uri: &str) -> Result<Self, MdocError> {
        let encoded = uri
            .strip_prefix(QR_SCHEME)
            .ok_or(MdocError::Malformed("the QR code is not an mdoc: URI"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(malformed("the mdoc: URI is not base64url"))?;
        Self::parse(&bytes)
    }
}
