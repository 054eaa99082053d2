//! Device engagement (ISO 18013-5 §8.2.1.1) and the QR code that carries it.
//!
//! ```cddl
//! DeviceEngagement = { 0: tstr, 1: Security, ? 2: DeviceRetrievalMethods, * int => any }
//! Security = [ int, EDeviceKeyBytes ]          ; cipher suite 1
//! EDeviceKeyBytes = #6.24(bstr .cbor COSE_Key)
//! DeviceRetrievalMethods = [ + [ type: uint, version: uint, options: any ] ]
//! ```
//!
//! Phones carry the session over BLE or NFC (types 1–3 of §8.2.2.1). eid's command-line
//! wallet and its tests carry the same messages over TCP instead, announced as a retrieval
//! method of type [`RETRIEVAL_TCP`] — a value outside the standard's, private to eid — with
//! options `{"address": "host:port"}`. Readers that do not know the type ignore it.

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

/// The retrieval-method type eid uses for a session over TCP (not one of ISO 18013-5's).
pub const RETRIEVAL_TCP: u64 = 0x0e1d;

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
    /// Where the device listens, when it offers eid's TCP retrieval.
    pub tcp_address: Option<String>,
}

impl DeviceEngagement {
    /// A QR engagement offering cipher suite 1 with the ephemeral key `e_device_point` (no
    /// retrieval methods: the transport is agreed out of band).
    pub fn encode(e_device_point: &[u8; 65]) -> Vec<u8> {
        Self::encode_with_tcp(e_device_point, None)
    }

    /// As [`Self::encode`], announcing a TCP address to connect to when one is given.
    pub fn encode_with_tcp(e_device_point: &[u8; 65], tcp_address: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let mut e = Encoder::new(&mut out);
        let _ = e
            .map(2 + u64::from(tcp_address.is_some()))
            .and_then(|e| e.u8(0))
            .and_then(|e| e.str("1.0"))
            .and_then(|e| e.u8(1))
            .and_then(|e| e.array(2))
            .and_then(|e| e.u8(1));
        out.extend_from_slice(&tag24(&cose_key_bytes(e_device_point)));
        if let Some(address) = tcp_address {
            let _ = Encoder::new(&mut out)
                .u8(2)
                .and_then(|e| e.array(1))
                .and_then(|e| e.array(3))
                .and_then(|e| e.u64(RETRIEVAL_TCP))
                .and_then(|e| e.u8(1))
                .and_then(|e| e.map(1))
                .and_then(|e| e.str("address"))
                .and_then(|e| e.str(address));
        }
        out
    }

    /// Parses DeviceEngagement CBOR.
    pub fn parse(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d: &mut Decoder<'_>| {
            let (mut version, mut key, mut tcp_address) = (None, None, None);
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
                    2 => {
                        for _ in 0..array_len(d, "DeviceRetrievalMethods")? {
                            tcp_address = tcp_address.or(retrieval_method(d)?);
                        }
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
                tcp_address,
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

/// One DeviceRetrievalMethod: the address if it is eid's TCP method, else `None` (skipped).
fn retrieval_method(d: &mut Decoder<'_>) -> Result<Option<String>, MdocError> {
    if array_len(d, "DeviceRetrievalMethod")? != 3 {
        return Err(MdocError::Malformed(
            "DeviceRetrievalMethod is [type, version, options]",
        ));
    }
    let kind = d.u64().map_err(malformed("retrieval method type"))?;
    d.u64().map_err(malformed("retrieval method version"))?;
    if kind != RETRIEVAL_TCP {
        skip(d, "RetrievalOptions")?;
        return Ok(None);
    }
    let mut address = None;
    for _ in 0..map_len(d, "TCP options")? {
        match d.str().map_err(malformed("TCP option key"))? {
            "address" => address = Some(d.str().map_err(malformed("TCP address"))?.to_owned()),
            _ => {
                skip(d, "TCP options")?;
            }
        }
    }
    address.map(Some).ok_or(MdocError::Malformed(
        "the TCP retrieval method has no address",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eid_crypto::session::AgreementKey;

    #[test]
    fn a_tcp_address_travels_in_the_engagement() {
        let key = AgreementKey::generate().unwrap();
        let plain = DeviceEngagement::parse(&DeviceEngagement::encode(key.public_point())).unwrap();
        assert_eq!(plain.tcp_address, None);
        let bytes = DeviceEngagement::encode_with_tcp(key.public_point(), Some("127.0.0.1:4000"));
        let read = DeviceEngagement::from_qr_uri(&DeviceEngagement::qr_uri(&bytes)).unwrap();
        assert_eq!(read.tcp_address.as_deref(), Some("127.0.0.1:4000"));
        assert_eq!(read.e_device_key.sec1(), key.public_point());
        assert_eq!(read.bytes, bytes);
    }
}
