//! The structures a reader receives (ISO/IEC 18013-5:2021 §8.3.2.1.2.2, §9.1.2.4), each with
//! the CDDL it follows. Tag-24 items keep the bytes they arrived as: those bytes are what is
//! hashed and signed.

use std::collections::BTreeMap;

use eid_crypto::{Algorithm, VerifyingKey};
use minicbor::Decoder;
use minicbor::data::Type;
use time::OffsetDateTime;

use crate::MdocError;
use crate::cbor::{array_len, decode_all, malformed, map_len, skip, tagged_cbor, tdate};
use crate::cose::{CoseMac0, CoseSign1};

/// ```cddl
/// IssuerSignedItemBytes = #6.24(bstr .cbor IssuerSignedItem)
/// IssuerSignedItem = { "digestID": uint, "random": bstr,
///                      "elementIdentifier": tstr, "elementValue": any }
/// ```
///
/// Its `Debug` form shows the identifier and digest ID, never the value or the salt.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerSignedItem {
    /// The whole `#6.24(bstr)` item as received: its SHA-256 is the MSO's digest.
    pub bytes: Vec<u8>,
    /// Index into the MSO's digests for this namespace.
    pub digest_id: u64,
    /// The salt (≥ 16 bytes when eid issues).
    pub random: Vec<u8>,
    /// The data element's identifier.
    pub element_identifier: String,
    /// The element's value: raw CBOR as received.
    pub element_value: Vec<u8>,
}

impl std::fmt::Debug for IssuerSignedItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerSignedItem")
            .field("digest_id", &self.digest_id)
            .field("element_identifier", &self.element_identifier)
            .finish_non_exhaustive()
    }
}

impl IssuerSignedItem {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, MdocError> {
        let (bytes, inner) = tagged_cbor(d, "IssuerSignedItemBytes")?;
        decode_all(inner, |d| {
            let n = map_len(d, "IssuerSignedItem")?;
            let (mut digest_id, mut random, mut element_identifier, mut element_value) =
                (None, None, None, None);
            for _ in 0..n {
                match d.str().map_err(malformed("IssuerSignedItem key"))? {
                    "digestID" => digest_id = Some(d.u64().map_err(malformed("digestID"))?),
                    "random" => random = Some(d.bytes().map_err(malformed("random"))?.to_vec()),
                    "elementIdentifier" => {
                        element_identifier =
                            Some(d.str().map_err(malformed("elementIdentifier"))?.to_owned());
                    }
                    "elementValue" => element_value = Some(skip(d, "elementValue")?.to_vec()),
                    _ => {
                        skip(d, "IssuerSignedItem")?;
                    }
                }
            }
            Ok(Self {
                bytes: bytes.to_vec(),
                digest_id: digest_id
                    .ok_or(MdocError::Malformed("IssuerSignedItem without digestID"))?,
                random: random.ok_or(MdocError::Malformed("IssuerSignedItem without random"))?,
                element_identifier: element_identifier.ok_or(MdocError::Malformed(
                    "IssuerSignedItem without elementIdentifier",
                ))?,
                element_value: element_value.ok_or(MdocError::Malformed(
                    "IssuerSignedItem without elementValue",
                ))?,
            })
        })
    }
}

/// ```cddl
/// IssuerSigned = { ? "nameSpaces": IssuerNameSpaces, "issuerAuth": IssuerAuth }
/// IssuerNameSpaces = { + NameSpace => [ + IssuerSignedItemBytes ] }
/// IssuerAuth = COSE_Sign1 ; payload: MobileSecurityObjectBytes
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSigned {
    /// The disclosed items per namespace, in the order received.
    pub name_spaces: Vec<(String, Vec<IssuerSignedItem>)>,
    /// The issuer's signature over the MSO.
    pub issuer_auth: CoseSign1,
    /// issuerAuth as received, so that a holder passes it on byte for byte.
    pub issuer_auth_bytes: Vec<u8>,
}

impl IssuerSigned {
    /// Decodes a complete IssuerSigned (as `eid credential issue` writes it).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, Self::decode)
    }

    pub(crate) fn decode(d: &mut Decoder<'_>) -> Result<Self, MdocError> {
        let n = map_len(d, "IssuerSigned")?;
        let (mut name_spaces, mut issuer_auth, mut issuer_auth_bytes) =
            (Vec::new(), None, Vec::new());
        for _ in 0..n {
            match d.str().map_err(malformed("IssuerSigned key"))? {
                "nameSpaces" => {
                    let spaces = map_len(d, "IssuerNameSpaces")?;
                    for _ in 0..spaces {
                        let ns = d.str().map_err(malformed("NameSpace"))?.to_owned();
                        let items = array_len(d, "IssuerSignedItemBytes array")?;
                        let items = (0..items)
                            .map(|_| IssuerSignedItem::decode(d))
                            .collect::<Result<Vec<_>, _>>()?;
                        name_spaces.push((ns, items));
                    }
                }
                "issuerAuth" => {
                    let start = d.position();
                    issuer_auth = Some(CoseSign1::decode(d)?);
                    issuer_auth_bytes = d.input()[start..d.position()].to_vec();
                }
                _ => {
                    skip(d, "IssuerSigned")?;
                }
            }
        }
        Ok(Self {
            name_spaces,
            issuer_auth: issuer_auth
                .ok_or(MdocError::Malformed("IssuerSigned without issuerAuth"))?,
            issuer_auth_bytes,
        })
    }
}

/// The MSO's validity (§9.1.2.4): `signed`, `validFrom`, `validUntil`, `expectedUpdate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityInfo {
    /// When the MSO was signed.
    pub signed: OffsetDateTime,
    /// Start of validity.
    pub valid_from: OffsetDateTime,
    /// End of validity.
    pub valid_until: OffsetDateTime,
    /// When the issuer expects to update it.
    pub expected_update: Option<OffsetDateTime>,
}

/// The status reference of the draft second edition: `"status": {"status_list": {"idx", "uri"}}`.
pub use eid_core::status::StatusListReference as StatusReference;

/// ```cddl
/// MobileSecurityObjectBytes = #6.24(bstr .cbor MobileSecurityObject)
/// MobileSecurityObject = { "version": tstr, "digestAlgorithm": tstr,
///   "valueDigests": { + NameSpace => { + DigestID => Digest } },
///   "deviceKeyInfo": DeviceKeyInfo, "docType": tstr, "validityInfo": ValidityInfo,
///   ? "status": { "status_list": { "idx": uint, "uri": tstr } } }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileSecurityObject {
    /// `"1.0"`.
    pub version: String,
    /// `"SHA-256"` (the only one eid accepts).
    pub digest_algorithm: String,
    /// The digests per namespace and digest ID.
    pub value_digests: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
    /// The holder's device key (COSE_Key), as received.
    pub device_key: Vec<u8>,
    /// The document type.
    pub doc_type: String,
    /// Validity.
    pub validity: ValidityInfo,
    /// Status list reference, when present.
    pub status: Option<StatusReference>,
}

impl MobileSecurityObject {
    /// Decodes `MobileSecurityObjectBytes` (the issuerAuth payload).
    pub fn from_payload(payload: &[u8]) -> Result<Self, MdocError> {
        let (_, inner) = decode_all(payload, |d| tagged_cbor(d, "MobileSecurityObjectBytes"))?;
        decode_all(inner, |d| {
            let n = map_len(d, "MobileSecurityObject")?;
            let mut mso = (None, None, None, None, None, None, None);
            for _ in 0..n {
                match d.str().map_err(malformed("MobileSecurityObject key"))? {
                    "version" => mso.0 = Some(d.str().map_err(malformed("version"))?.to_owned()),
                    "digestAlgorithm" => {
                        mso.1 = Some(d.str().map_err(malformed("digestAlgorithm"))?.to_owned())
                    }
                    "valueDigests" => {
                        let mut all = BTreeMap::new();
                        for _ in 0..map_len(d, "valueDigests")? {
                            let ns = d
                                .str()
                                .map_err(malformed("valueDigests namespace"))?
                                .to_owned();
                            let mut digests = BTreeMap::new();
                            for _ in 0..map_len(d, "DigestIDs")? {
                                let id = d.u64().map_err(malformed("DigestID"))?;
                                let digest = d.bytes().map_err(malformed("Digest"))?.to_vec();
                                if digests.insert(id, digest).is_some() {
                                    return Err(MdocError::Malformed("a DigestID appears twice"));
                                }
                            }
                            if all.insert(ns, digests).is_some() {
                                return Err(MdocError::Malformed(
                                    "a namespace appears twice in valueDigests",
                                ));
                            }
                        }
                        mso.2 = Some(all);
                    }
                    "deviceKeyInfo" => {
                        for _ in 0..map_len(d, "DeviceKeyInfo")? {
                            match d.str().map_err(malformed("DeviceKeyInfo key"))? {
                                "deviceKey" => mso.3 = Some(skip(d, "deviceKey")?.to_vec()),
                                _ => {
                                    skip(d, "DeviceKeyInfo")?;
                                }
                            }
                        }
                    }
                    "docType" => mso.4 = Some(d.str().map_err(malformed("docType"))?.to_owned()),
                    "validityInfo" => {
                        let (mut signed, mut from, mut until, mut update) =
                            (None, None, None, None);
                        for _ in 0..map_len(d, "ValidityInfo")? {
                            match d.str().map_err(malformed("ValidityInfo key"))? {
                                "signed" => signed = Some(tdate(d, "signed")?),
                                "validFrom" => from = Some(tdate(d, "validFrom")?),
                                "validUntil" => until = Some(tdate(d, "validUntil")?),
                                "expectedUpdate" => update = Some(tdate(d, "expectedUpdate")?),
                                _ => {
                                    skip(d, "ValidityInfo")?;
                                }
                            }
                        }
                        mso.5 = Some(ValidityInfo {
                            signed: signed
                                .ok_or(MdocError::Malformed("ValidityInfo without signed"))?,
                            valid_from: from
                                .ok_or(MdocError::Malformed("ValidityInfo without validFrom"))?,
                            valid_until: until
                                .ok_or(MdocError::Malformed("ValidityInfo without validUntil"))?,
                            expected_update: update,
                        });
                    }
                    "status" => mso.6 = Some(read_status(d)?),
                    _ => {
                        skip(d, "MobileSecurityObject")?;
                    }
                }
            }
            Ok(Self {
                version: mso.0.ok_or(MdocError::Malformed("MSO without version"))?,
                digest_algorithm: mso
                    .1
                    .ok_or(MdocError::Malformed("MSO without digestAlgorithm"))?,
                value_digests: mso
                    .2
                    .ok_or(MdocError::Malformed("MSO without valueDigests"))?,
                device_key: mso.3.ok_or(MdocError::Malformed("MSO without deviceKey"))?,
                doc_type: mso.4.ok_or(MdocError::Malformed("MSO without docType"))?,
                validity: mso
                    .5
                    .ok_or(MdocError::Malformed("MSO without validityInfo"))?,
                status: mso.6,
            })
        })
    }

    /// The holder's device key from the COSE_Key (kty EC2, crv P-256).
    pub fn device_key(&self) -> Result<VerifyingKey, MdocError> {
        cose_key(&self.device_key)
    }
}

/// Reads the `status` map of an MSO or compact credential (`{"status_list": {idx, uri}}`).
pub(crate) fn read_status(d: &mut Decoder<'_>) -> Result<StatusReference, MdocError> {
    let mut found = None;
    for _ in 0..map_len(d, "status")? {
        match d.str().map_err(malformed("status key"))? {
            "status_list" => {
                let (mut idx, mut uri) = (None, None);
                for _ in 0..map_len(d, "status_list")? {
                    match d.str().map_err(malformed("status_list key"))? {
                        "idx" => idx = Some(d.u64().map_err(malformed("idx"))?),
                        "uri" => uri = Some(d.str().map_err(malformed("uri"))?.to_owned()),
                        _ => {
                            skip(d, "status_list")?;
                        }
                    }
                }
                found = Some(StatusReference {
                    idx: idx.ok_or(MdocError::Malformed("status_list without idx"))?,
                    uri: uri.ok_or(MdocError::Malformed("status_list without uri"))?,
                });
            }
            _ => {
                skip(d, "status")?;
            }
        }
    }
    found.ok_or(MdocError::Malformed("status without status_list"))
}

/// The COSE_Key of an uncompressed P-256 point (RFC 9053 §7.1.1: kty 2, crv 1, x, y).
pub fn cose_key_bytes(point: &[u8; 65]) -> Vec<u8> {
    let mut out = crate::cbor::Out::with_capacity(77);
    out.cose_key(point);
    out.0
}

/// A P-256 COSE_Key (RFC 9053 §7.1.1: kty 2, crv 1, x -2, y -3).
pub fn cose_key(bytes: &[u8]) -> Result<VerifyingKey, MdocError> {
    let bad = |_| MdocError::MalformedDeviceKey;
    decode_all(bytes, |d| {
        let n = d.map().map_err(bad)?.ok_or(MdocError::MalformedDeviceKey)?;
        let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
        for _ in 0..n {
            let label = d.i64().map_err(bad)?;
            match label {
                1 => kty = Some(d.i64().map_err(bad)?),
                -1 => crv = Some(d.i64().map_err(bad)?),
                -2 => x = Some(d.bytes().map_err(bad)?.to_vec()),
                -3 => match d.datatype().map_err(bad)? {
                    Type::Bytes => y = Some(d.bytes().map_err(bad)?.to_vec()),
                    _ => return Err(MdocError::MalformedDeviceKey), // compressed points refused
                },
                _ => {
                    skip(d, "COSE_Key").map_err(|_| MdocError::MalformedDeviceKey)?;
                }
            }
        }
        let (Some(2), Some(1), Some(x), Some(y)) = (kty, crv, x, y) else {
            return Err(MdocError::MalformedDeviceKey);
        };
        if x.len() != 32 || y.len() != 32 {
            return Err(MdocError::MalformedDeviceKey);
        }
        let point = [&[0x04][..], &x, &y].concat();
        VerifyingKey::from_sec1(Algorithm::Es256, &point).map_err(|_| MdocError::MalformedDeviceKey)
    })
}

/// ```cddl
/// DeviceSigned = { "nameSpaces": DeviceNameSpacesBytes, "deviceAuth": DeviceAuth }
/// DeviceAuth = { "deviceSignature": COSE_Sign1 } / { "deviceMac": COSE_Mac0 }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSigned {
    /// `DeviceNameSpacesBytes` as received (the whole tag-24 item).
    pub name_spaces_bytes: Vec<u8>,
    /// The device's authentication.
    pub device_auth: DeviceAuth,
}

/// How the device authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceAuth {
    /// ECDSA with the device key.
    Signature(CoseSign1),
    /// HMAC with a key agreed between the device key and the reader's ephemeral key.
    Mac(CoseMac0),
}

/// ```cddl
/// Document = { "docType": DocType, "issuerSigned": IssuerSigned,
///              "deviceSigned": DeviceSigned, ? "errors": Errors }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The document type.
    pub doc_type: String,
    /// The issuer's data.
    pub issuer_signed: IssuerSigned,
    /// The device's data and authentication.
    pub device_signed: DeviceSigned,
}

/// ```cddl
/// DeviceResponse = { "version": tstr, ? "documents": [+ Document],
///                    ? "documentErrors": [+ DocumentError], "status": uint }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceResponse {
    /// `"1.0"`.
    pub version: String,
    /// The documents returned.
    pub documents: Vec<Document>,
    /// 0 OK, 10 general error, 11 CBOR decoding error, 12 CBOR validation error.
    pub status: u64,
}

impl DeviceResponse {
    /// Decodes a DeviceResponse; refuses trailing bytes and oversized input.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d| {
            let n = map_len(d, "DeviceResponse")?;
            let (mut version, mut documents, mut status) = (None, Vec::new(), None);
            for _ in 0..n {
                match d.str().map_err(malformed("DeviceResponse key"))? {
                    "version" => version = Some(d.str().map_err(malformed("version"))?.to_owned()),
                    "documents" => {
                        let count = array_len(d, "documents")?;
                        documents = (0..count)
                            .map(|_| document(d))
                            .collect::<Result<Vec<_>, _>>()?;
                    }
                    "status" => status = Some(d.u64().map_err(malformed("status"))?),
                    _ => {
                        skip(d, "DeviceResponse")?;
                    }
                }
            }
            Ok(Self {
                version: version.ok_or(MdocError::Malformed("DeviceResponse without version"))?,
                documents,
                status: status.ok_or(MdocError::Malformed("DeviceResponse without status"))?,
            })
        })
    }
}

fn document(d: &mut Decoder<'_>) -> Result<Document, MdocError> {
    let n = map_len(d, "Document")?;
    let (mut doc_type, mut issuer_signed, mut device_signed) = (None, None, None);
    for _ in 0..n {
        match d.str().map_err(malformed("Document key"))? {
            "docType" => doc_type = Some(d.str().map_err(malformed("docType"))?.to_owned()),
            "issuerSigned" => issuer_signed = Some(IssuerSigned::decode(d)?),
            "deviceSigned" => {
                let (mut ns, mut auth) = (None, None);
                for _ in 0..map_len(d, "DeviceSigned")? {
                    match d.str().map_err(malformed("DeviceSigned key"))? {
                        "nameSpaces" => {
                            ns = Some(tagged_cbor(d, "DeviceNameSpacesBytes")?.0.to_vec())
                        }
                        "deviceAuth" => {
                            if map_len(d, "DeviceAuth")? != 1 {
                                return Err(MdocError::Malformed(
                                    "DeviceAuth holds exactly one of deviceSignature, deviceMac",
                                ));
                            }
                            auth = Some(match d.str().map_err(malformed("DeviceAuth key"))? {
                                "deviceSignature" => DeviceAuth::Signature(CoseSign1::decode(d)?),
                                "deviceMac" => DeviceAuth::Mac(CoseMac0::decode(d)?),
                                _ => return Err(MdocError::Malformed("DeviceAuth")),
                            });
                        }
                        _ => {
                            skip(d, "DeviceSigned")?;
                        }
                    }
                }
                device_signed = Some(DeviceSigned {
                    name_spaces_bytes: ns
                        .ok_or(MdocError::Malformed("DeviceSigned without nameSpaces"))?,
                    device_auth: auth
                        .ok_or(MdocError::Malformed("DeviceSigned without deviceAuth"))?,
                });
            }
            _ => {
                skip(d, "Document")?;
            }
        }
    }
    Ok(Document {
        doc_type: doc_type.ok_or(MdocError::Malformed("Document without docType"))?,
        issuer_signed: issuer_signed
            .ok_or(MdocError::Malformed("Document without issuerSigned"))?,
        device_signed: device_signed
            .ok_or(MdocError::Malformed("Document without deviceSigned"))?,
    })
}

/// An element value (raw CBOR, as verified) as JSON for reports: text, numbers, booleans and
/// null as themselves; byte strings as standard base64; full-date and tdate as their text;
/// arrays and maps recursively (non-text map keys as their text form).
pub fn element_to_json(raw: &[u8]) -> Result<serde_json::Value, MdocError> {
    decode_all(raw, |d| to_json(d, 0))
}

fn to_json(d: &mut Decoder<'_>, depth: usize) -> Result<serde_json::Value, MdocError> {
    use base64::Engine;
    use serde_json::Value;
    if depth > crate::MAX_DEPTH {
        return Err(MdocError::TooLarge);
    }
    let bad = malformed("element value");
    Ok(match d.datatype().map_err(&bad)? {
        Type::Bool => Value::Bool(d.bool().map_err(&bad)?),
        Type::Null | Type::Undefined => {
            d.skip().map_err(&bad)?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64().map_err(&bad)?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::from(d.i64().map_err(&bad)?),
        Type::F16 | Type::F32 | Type::F64 => Value::from(d.f64().map_err(&bad)?),
        Type::String => Value::String(d.str().map_err(&bad)?.to_owned()),
        Type::Bytes => Value::String(
            base64::engine::general_purpose::STANDARD.encode(d.bytes().map_err(&bad)?),
        ),
        Type::Tag => {
            d.tag().map_err(&bad)?;
            to_json(d, depth + 1)?
        }
        Type::Array => {
            let n = array_len(d, "element value")?;
            Value::Array(
                (0..n)
                    .map(|_| to_json(d, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Map => {
            let n = map_len(d, "element value")?;
            let mut map = serde_json::Map::new();
            for _ in 0..n {
                let key = match to_json(d, depth + 1)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                map.insert(key, to_json(d, depth + 1)?);
            }
            Value::Object(map)
        }
        _ => {
            return Err(MdocError::Malformed(
                "element value of an unsupported CBOR type",
            ));
        }
    })
}
