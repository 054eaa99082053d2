//! Device engagement (ISO 18013-5 §8.2.1.1) and the QR code that carries it.
//!
//! ```cddl
//! DeviceEngagement = { 0: tstr, 1: Security, ? 2: DeviceRetrievalMethods,
//!                      ? 5: OriginInfos, ? 6: Capabilities, * int => any }
//! Security = [ int, EDeviceKeyBytes ]          ; cipher suite 1
//! EDeviceKeyBytes = #6.24(bstr .cbor COSE_Key)
//! DeviceRetrievalMethods = [ + [ type: uint, version: uint, options: any ] ]
//! OriginInfos = [ * OriginInfo ]               ; ISO/IEC 18013-7
//! OriginInfo = { "cat": uint, "type": uint, "details": { * tstr => any } }
//! Capabilities = { * int => any }              ; 2, 3, 4: true when present
//! ```
//!
//! Keys 5 and 6 are the second edition's (version `"1.1"`): where the engagement was
//! offered (a web origin's domain, `cat` 1 `type` 1, `details` `{"domain": tstr}`) and what
//! the phone can do: 2 HandoverSessionEstablishmentSupport, 3 ReaderAuthAllSupport (it takes
//! one reader signature over the whole request, [`crate::request::DeviceRequest`]'s
//! `readerAuthAll`), 4 ExtendedRequestSupport (`deviceRequestInfo`, the second edition's
//! `requestInfo`). A version `"1.1"` engagement always carries key 5, empty when there is no
//! origin, as ISO/IEC 18013-7:2024 readers expect; a version `"1.0"` one carries neither
//! key, and Capabilities never come without OriginInfos. A reader of the first edition reads
//! a `"1.1"` engagement as it is (same major version; unknown keys are skipped), and so does
//! this one for keys it does not know. Capabilities 0 and 1 (MAC keys, ISO/IEC 18013-7) are
//! skipped: eid's sessions authenticate the device by signature.
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
use crate::cbor::tag24;
use crate::cbor::{
    Out, array_len, decode_all, malformed, map_len, minor_of_version_1, skip, tagged_cbor,
};
use crate::model::{cose_key, cose_key_bytes};

/// The URI scheme of a QR-code engagement (§8.2.2.3).
pub const QR_SCHEME: &str = "mdoc:";

/// The retrieval-method type eid uses for a session over TCP (not one of ISO 18013-5's).
pub const RETRIEVAL_TCP: u64 = 0x0e1d;

/// Where an engagement was offered (ISO/IEC 18013-7 OriginInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginInfo {
    /// `cat` 1, `type` 1: a web origin's domain; empty when the phone had it from no
    /// trusted source.
    Domain(String),
    /// Another category or type, not read further.
    Other {
        /// Its `cat`.
        cat: u64,
        /// Its `type`.
        kind: u64,
    },
}

/// What the phone says it can do (second edition, key 6). Only true values are ever sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// 2: HandoverSessionEstablishmentSupport.
    pub handover_session_establishment: bool,
    /// 3: ReaderAuthAllSupport, one reader signature over the whole request.
    pub reader_auth_all: bool,
    /// 4: ExtendedRequestSupport, `deviceRequestInfo` and the new `requestInfo` keys.
    pub extended_request: bool,
}

impl Capabilities {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

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
    /// Key 5 (version `"1.1"`): where the engagement was offered.
    pub origin_infos: Vec<OriginInfo>,
    /// Key 6 (version `"1.1"`): what the phone can do.
    pub capabilities: Capabilities,
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

    /// A version `"1.1"` engagement (second edition): as [`Self::encode_with_tcp`], with
    /// key 5 (`origin_infos`, possibly none) and key 6 (the capabilities that are true, when
    /// any is). [`OriginInfo::Other`] cannot be written: it is what a reader did not know.
    pub fn encode_1_1(
        e_device_point: &[u8; 65],
        tcp_address: Option<&str>,
        origin_infos: &[OriginInfo],
        capabilities: Capabilities,
    ) -> Result<Vec<u8>, MdocError> {
        let mut out = Out::with_capacity(160);
        out.map(3 + usize::from(tcp_address.is_some()) + usize::from(!capabilities.is_empty()))
            .uint(0)
            .text("1.1")
            .uint(1)
            .array(2)
            .uint(1)
            .raw(&tag24(&cose_key_bytes(e_device_point)));
        if let Some(address) = tcp_address {
            out.uint(2)
                .array(1)
                .array(3)
                .uint(RETRIEVAL_TCP)
                .uint(1)
                .map(1)
                .text("address")
                .text(address);
        }
        out.uint(5).array(origin_infos.len());
        for origin in origin_infos {
            let OriginInfo::Domain(domain) = origin else {
                return Err(MdocError::Malformed(
                    "only a domain OriginInfo can be written",
                ));
            };
            out.map(3)
                .text("cat")
                .uint(1)
                .text("type")
                .uint(1)
                .text("details")
                .map(1)
                .text("domain")
                .text(domain);
        }
        if !capabilities.is_empty() {
            let true_ones = [
                (2, capabilities.handover_session_establishment),
                (3, capabilities.reader_auth_all),
                (4, capabilities.extended_request),
            ]
            .into_iter()
            .filter(|(_, on)| *on);
            out.uint(6).map(true_ones.clone().count());
            for (key, _) in true_ones {
                out.uint(key).bool(true);
            }
        }
        Ok(out.0)
    }

    /// Parses DeviceEngagement CBOR: any version `"1.x"`, keys 5 and 6 only in `"1.1"` or
    /// later.
    pub fn parse(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d: &mut Decoder<'_>| {
            let (mut version, mut key, mut tcp_address) = (None, None, None);
            let (mut origin_infos, mut capabilities) = (None, None);
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
                    5 => {
                        let mut read = Vec::new();
                        for _ in 0..array_len(d, "OriginInfos")? {
                            read.push(origin_info(d)?);
                        }
                        origin_infos = Some(read);
                    }
                    6 => capabilities = Some(read_capabilities(d)?),
                    _ => {
                        skip(d, "DeviceEngagement")?;
                    }
                }
            }
            let version: String =
                version.ok_or(MdocError::Malformed("DeviceEngagement without version"))?;
            let minor = minor_of_version_1(
                &version,
                "the DeviceEngagement's major version is not 1: this reader cannot read it",
            )?;
            if minor == 0 && (origin_infos.is_some() || capabilities.is_some()) {
                return Err(MdocError::Malformed(
                    "OriginInfos and Capabilities (keys 5 and 6) need DeviceEngagement version 1.1",
                ));
            }
            if capabilities.is_some() && origin_infos.is_none() {
                return Err(MdocError::Malformed(
                    "Capabilities (key 6) without OriginInfos (key 5)",
                ));
            }
            Ok(Self {
                bytes: bytes.to_vec(),
                version,
                e_device_key: key
                    .ok_or(MdocError::Malformed("DeviceEngagement without Security"))?,
                tcp_address,
                origin_infos: origin_infos.unwrap_or_default(),
                capabilities: capabilities.unwrap_or_default(),
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

/// One OriginInfo: `{"cat", "type", "details"}`, all three required.
fn origin_info(d: &mut Decoder<'_>) -> Result<OriginInfo, MdocError> {
    let (mut cat, mut kind, mut domain, mut details) = (None, None, None, false);
    for _ in 0..map_len(d, "OriginInfo")? {
        match d.str().map_err(malformed("OriginInfo key"))? {
            "cat" => cat = Some(d.u64().map_err(malformed("OriginInfo cat"))?),
            "type" => kind = Some(d.u64().map_err(malformed("OriginInfo type"))?),
            "details" => {
                details = true;
                for _ in 0..map_len(d, "OriginInfo details")? {
                    match d.str().map_err(malformed("OriginInfo details key"))? {
                        "domain" => {
                            domain =
                                Some(d.str().map_err(malformed("OriginInfo domain"))?.to_owned());
                        }
                        _ => {
                            skip(d, "OriginInfo details")?;
                        }
                    }
                }
            }
            _ => {
                skip(d, "OriginInfo")?;
            }
        }
    }
    let (Some(cat), Some(kind), true) = (cat, kind, details) else {
        return Err(MdocError::Malformed(
            "OriginInfo needs cat, type and details",
        ));
    };
    match (cat, kind) {
        (1, 1) => domain.map(OriginInfo::Domain).ok_or(MdocError::Malformed(
            "a domain OriginInfo without its domain",
        )),
        _ => Ok(OriginInfo::Other { cat, kind }),
    }
}

/// Capabilities: 2, 3 and 4 read (2 and 3 must be true when present); other keys skipped.
fn read_capabilities(d: &mut Decoder<'_>) -> Result<Capabilities, MdocError> {
    let mut read = Capabilities::default();
    for _ in 0..map_len(d, "Capabilities")? {
        let key = d.i64().map_err(malformed("Capabilities key"))?;
        let flag = match key {
            2 => &mut read.handover_session_establishment,
            3 => &mut read.reader_auth_all,
            4 => &mut read.extended_request,
            _ => {
                skip(d, "Capabilities")?;
                continue;
            }
        };
        *flag = d
            .bool()
            .map_err(malformed("a capability is true or false"))?;
        if key != 4 && !*flag {
            return Err(MdocError::Malformed(
                "HandoverSessionEstablishmentSupport and ReaderAuthAllSupport are true when present",
            ));
        }
    }
    Ok(read)
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
