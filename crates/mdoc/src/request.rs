//! The reader's request (ISO 18013-5 §8.3.2.1.2.1) and its authentication (§9.1.4).
//!
//! ```cddl
//! DeviceRequest = { "version": tstr, "docRequests": [+ DocRequest],
//!                   ? "deviceRequestInfo": DeviceRequestInfoBytes,      ; 1.1
//!                   ? "readerAuthAll": [+ ReaderAuthAll] }               ; 1.1
//! DocRequest = { "itemsRequest": ItemsRequestBytes, ? "readerAuth": ReaderAuth }
//! ItemsRequestBytes = #6.24(bstr .cbor ItemsRequest)
//! ItemsRequest = { "docType": tstr, "nameSpaces": { + tstr => { + tstr => bool } },
//!                  ? "requestInfo": { * tstr => any } }
//! ReaderAuthenticationBytes = #6.24(bstr .cbor
//!     ["ReaderAuthentication", SessionTranscript, ItemsRequestBytes])
//! DeviceRequestInfoBytes = #6.24(bstr .cbor DeviceRequestInfo)
//! DeviceRequestInfo = { ? "useCases": [+ UseCase], * tstr => any }
//! UseCase = { "mandatory": bool, "documentSets": [+ [+ uint]],
//!             ? "purposeHints": { + tstr => int } }
//! ReaderAuthAll = COSE_Sign1                   ; detached payload:
//! ReaderAuthenticationAllBytes = #6.24(bstr .cbor ["ReaderAuthenticationAll",
//!     SessionTranscript, [+ ItemsRequestBytes], DeviceRequestInfoBytes / null])
//! ```
//!
//! `deviceRequestInfo` and `readerAuthAll` are the second edition's (version `"1.1"`): one
//! reader signature over every document asked for and the request's use cases, in place of
//! (or beside) one per document. A version `"1.0"` request is read as the first edition
//! reads it, its unknown keys skipped, so these two are read only from `"1.1"` on. A
//! `documentSets` entry names documents by their index in `docRequests`, and one naming a
//! document that is not there is refused.

use eid_crypto::{Signer, VerifyingKey};
use minicbor::Encoder;

use crate::MdocError;
use crate::cbor::{
    Out, array_len, decode_all, malformed, map_len, minor_of_version_1, skip, tagged_cbor,
};
use crate::cose::CoseSign1;
use crate::session::tag24;

/// What a reader asks for: per namespace, the elements and whether it intends to retain them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsRequest {
    /// The document type asked for.
    pub doc_type: String,
    /// (namespace, [(element, intent to retain)]).
    pub name_spaces: Vec<(String, Vec<(String, bool)>)>,
    /// `requestInfo` entries with text values (others are skipped when parsing). eid's
    /// readers name their purpose here as `"purpose"` (a trust-list purpose id), so that
    /// the holder can check the request against that purpose's registration.
    pub request_info: Vec<(String, String)>,
}

impl ItemsRequest {
    /// The ItemsRequest CBOR (what ItemsRequestBytes wraps).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let mut e = Encoder::new(&mut out);
        let _ = e
            .map(2 + u64::from(!self.request_info.is_empty()))
            .and_then(|e| e.str("docType"))
            .and_then(|e| e.str(&self.doc_type))
            .and_then(|e| e.str("nameSpaces"))
            .and_then(|e| e.map(self.name_spaces.len() as u64));
        for (ns, elements) in &self.name_spaces {
            let _ = e.str(ns).and_then(|e| e.map(elements.len() as u64));
            for (element, retain) in elements {
                let _ = e.str(element).and_then(|e| e.bool(*retain));
            }
        }
        if !self.request_info.is_empty() {
            let _ = e
                .str("requestInfo")
                .and_then(|e| e.map(self.request_info.len() as u64));
            for (key, value) in &self.request_info {
                let _ = e.str(key).and_then(|e| e.str(value));
            }
        }
        out
    }

    /// The `requestInfo` text value under `key`.
    pub fn info(&self, key: &str) -> Option<&str> {
        self.request_info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn decode(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d| {
            let (mut doc_type, mut name_spaces, mut request_info) = (None, Vec::new(), Vec::new());
            for _ in 0..map_len(d, "ItemsRequest")? {
                match d.str().map_err(malformed("ItemsRequest key"))? {
                    "docType" => doc_type = Some(d.str().map_err(malformed("docType"))?.to_owned()),
                    "nameSpaces" => {
                        for _ in 0..map_len(d, "nameSpaces")? {
                            let ns = d.str().map_err(malformed("namespace"))?.to_owned();
                            let mut elements = Vec::new();
                            for _ in 0..map_len(d, "DataElements")? {
                                let element = d.str().map_err(malformed("element"))?.to_owned();
                                elements.push((
                                    element,
                                    d.bool().map_err(malformed("IntentToRetain"))?,
                                ));
                            }
                            name_spaces.push((ns, elements));
                        }
                    }
                    "requestInfo" => {
                        for _ in 0..map_len(d, "requestInfo")? {
                            let key = d.str().map_err(malformed("requestInfo key"))?.to_owned();
                            if d.datatype().map_err(malformed("requestInfo"))?
                                == minicbor::data::Type::String
                            {
                                let value = d.str().map_err(malformed("requestInfo"))?;
                                request_info.push((key, value.to_owned()));
                            } else {
                                skip(d, "requestInfo")?;
                            }
                        }
                    }
                    _ => {
                        skip(d, "ItemsRequest")?;
                    }
                }
            }
            Ok(Self {
                doc_type: doc_type.ok_or(MdocError::Malformed("ItemsRequest without docType"))?,
                name_spaces,
                request_info,
            })
        })
    }
}

/// One document request, with ItemsRequestBytes as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRequest {
    /// ItemsRequestBytes as received (the whole tag-24 item).
    pub items_request_bytes: Vec<u8>,
    /// What they say.
    pub items_request: ItemsRequest,
    /// The reader's signature, when it authenticated.
    pub reader_auth: Option<CoseSign1>,
}

/// A parsed DeviceRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    /// `"1.0"` or `"1.1"`.
    pub version: String,
    /// The documents asked for.
    pub doc_requests: Vec<DocRequest>,
    /// `deviceRequestInfo` (1.1): DeviceRequestInfoBytes as received (the whole tag-24
    /// item, which readerAuthAll signs), and what it says.
    pub device_request_info: Option<(Vec<u8>, DeviceRequestInfo)>,
    /// `readerAuthAll` (1.1): the reader's signatures over the whole request.
    pub reader_auth_all: Vec<CoseSign1>,
}

/// The second edition's DeviceRequestInfo: how the documents asked for go together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRequestInfo {
    /// `useCases`: each a choice of document sets.
    pub use_cases: Vec<UseCase>,
}

/// One use case: the holder may answer with any one of its document sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseCase {
    /// Whether the reader needs this use case answered.
    pub mandatory: bool,
    /// The sets of documents that answer it, each by its index in `docRequests`.
    pub document_sets: Vec<Vec<u64>>,
    /// `purposeHints`: (domain, purpose code) as the reader gives them.
    pub purpose_hints: Vec<(String, i64)>,
}

impl DeviceRequestInfo {
    /// The DeviceRequestInfo CBOR (what DeviceRequestInfoBytes wraps).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Out::with_capacity(64);
        if self.use_cases.is_empty() {
            out.map(0);
            return out.0;
        }
        out.map(1).text("useCases").array(self.use_cases.len());
        for case in &self.use_cases {
            out.map(2 + usize::from(!case.purpose_hints.is_empty()))
                .text("mandatory")
                .bool(case.mandatory)
                .text("documentSets")
                .array(case.document_sets.len());
            for set in &case.document_sets {
                out.array(set.len());
                for index in set {
                    out.uint(*index);
                }
            }
            if !case.purpose_hints.is_empty() {
                out.text("purposeHints").map(case.purpose_hints.len());
                for (domain, code) in &case.purpose_hints {
                    out.text(domain).int(*code);
                }
            }
        }
        out.0
    }

    /// Parses DeviceRequestInfo CBOR (unknown keys skipped).
    pub fn parse(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d| {
            let mut use_cases = Vec::new();
            for _ in 0..map_len(d, "DeviceRequestInfo")? {
                if d.str().map_err(malformed("DeviceRequestInfo key"))? != "useCases" {
                    skip(d, "DeviceRequestInfo")?;
                    continue;
                }
                let cases = array_len(d, "useCases")?;
                if cases == 0 {
                    return Err(MdocError::Malformed("useCases is empty"));
                }
                for _ in 0..cases {
                    use_cases.push(UseCase::decode(d)?);
                }
            }
            Ok(Self { use_cases })
        })
    }
}

impl UseCase {
    fn decode(d: &mut minicbor::Decoder<'_>) -> Result<Self, MdocError> {
        let (mut mandatory, mut document_sets, mut purpose_hints) = (None, None, Vec::new());
        for _ in 0..map_len(d, "UseCase")? {
            match d.str().map_err(malformed("UseCase key"))? {
                "mandatory" => mandatory = Some(d.bool().map_err(malformed("mandatory"))?),
                "documentSets" => {
                    let mut sets = Vec::new();
                    for _ in 0..array_len(d, "documentSets")? {
                        let mut set = Vec::new();
                        for _ in 0..array_len(d, "DocumentSet")? {
                            set.push(d.u64().map_err(malformed("DocRequestID"))?);
                        }
                        if set.is_empty() {
                            return Err(MdocError::Malformed("a DocumentSet is empty"));
                        }
                        sets.push(set);
                    }
                    if sets.is_empty() {
                        return Err(MdocError::Malformed("documentSets is empty"));
                    }
                    document_sets = Some(sets);
                }
                "purposeHints" => {
                    for _ in 0..map_len(d, "purposeHints")? {
                        let domain = d.str().map_err(malformed("purposeHints key"))?.to_owned();
                        purpose_hints.push((domain, d.i64().map_err(malformed("purpose code"))?));
                    }
                }
                _ => {
                    skip(d, "UseCase")?;
                }
            }
        }
        Ok(Self {
            mandatory: mandatory.ok_or(MdocError::Malformed("UseCase without mandatory"))?,
            document_sets: document_sets
                .ok_or(MdocError::Malformed("UseCase without documentSets"))?,
            purpose_hints,
        })
    }
}

/// How a reader signs its request.
#[derive(Clone, Copy)]
pub enum ReaderSignature<'a> {
    /// Not at all.
    None,
    /// One `readerAuth` per document (first edition).
    PerDocument(&'a dyn Signer, &'a [Vec<u8>]),
    /// One `readerAuthAll` over the whole request (second edition, version `"1.1"`).
    All(&'a dyn Signer, &'a [Vec<u8>]),
}

/// `ReaderAuthenticationAllBytes` over the transcript (raw CBOR), every ItemsRequestBytes
/// and DeviceRequestInfoBytes (each as exchanged; `null` when there is none).
pub fn reader_authentication_all_bytes<'a>(
    session_transcript: &[u8],
    items_request_bytes: impl ExactSizeIterator<Item = &'a [u8]>,
    device_request_info_bytes: Option<&[u8]>,
) -> Vec<u8> {
    let mut inner = Out::with_capacity(session_transcript.len() + 256);
    inner
        .array(4)
        .text("ReaderAuthenticationAll")
        .raw(session_transcript)
        .array(items_request_bytes.len());
    for bytes in items_request_bytes {
        inner.raw(bytes);
    }
    match device_request_info_bytes {
        Some(bytes) => inner.raw(bytes),
        None => inner.raw(&[0xf6]),
    };
    tag24(&inner.0)
}

/// `ReaderAuthenticationBytes` over the transcript (raw CBOR) and ItemsRequestBytes as
/// exchanged.
pub fn reader_authentication_bytes(
    session_transcript: &[u8],
    items_request_bytes: &[u8],
) -> Vec<u8> {
    let mut inner = Vec::with_capacity(session_transcript.len() + items_request_bytes.len() + 24);
    let _ = Encoder::new(&mut inner)
        .array(3)
        .and_then(|e| e.str("ReaderAuthentication"));
    inner.extend_from_slice(session_transcript);
    inner.extend_from_slice(items_request_bytes);
    tag24(&inner)
}

impl DeviceRequest {
    /// A version `"1.1"` request for `items`, with `info` as its deviceRequestInfo when
    /// given, signed as `signature` says (each certificate chain in `x5chain`).
    pub fn encode_1_1(
        items: &[ItemsRequest],
        info: Option<&DeviceRequestInfo>,
        signature: ReaderSignature<'_>,
        session_transcript: &[u8],
    ) -> Result<Vec<u8>, MdocError> {
        if let Some(info) = info {
            let documents = items.len() as u64;
            let sets = info.use_cases.iter().flat_map(|case| &case.document_sets);
            if sets.flatten().any(|index| *index >= documents) {
                return Err(MdocError::Malformed(
                    "a document set names a document that is not asked for",
                ));
            }
        }
        let items_bytes: Vec<Vec<u8>> = items.iter().map(|item| tag24(&item.encode())).collect();
        let info_bytes = info.map(|info| tag24(&info.encode()));
        let mut out = Vec::with_capacity(256);
        let mut e = Encoder::new(&mut out);
        let all = matches!(signature, ReaderSignature::All(..));
        let _ = e
            .map(2 + u64::from(info_bytes.is_some()) + u64::from(all))
            .and_then(|e| e.str("version"))
            .and_then(|e| e.str("1.1"))
            .and_then(|e| e.str("docRequests"))
            .and_then(|e| e.array(items.len() as u64));
        for bytes in &items_bytes {
            let per_document = match signature {
                ReaderSignature::PerDocument(signer, x5chain) => Some((signer, x5chain)),
                _ => None,
            };
            let _ = e
                .map(1 + u64::from(per_document.is_some()))
                .and_then(|e| e.str("itemsRequest"));
            e.writer_mut().extend_from_slice(bytes);
            if let Some((signer, x5chain)) = per_document {
                let to_sign = reader_authentication_bytes(session_transcript, bytes);
                let auth = CoseSign1::sign(signer, &to_sign, x5chain, true)
                    .map_err(MdocError::Algorithm)?;
                let _ = e.str("readerAuth");
                auth.encode(&mut e)
                    .map_err(|_| MdocError::Malformed("could not encode"))?;
            }
        }
        if let Some(bytes) = &info_bytes {
            let _ = e.str("deviceRequestInfo");
            e.writer_mut().extend_from_slice(bytes);
        }
        if let ReaderSignature::All(signer, x5chain) = signature {
            let to_sign = reader_authentication_all_bytes(
                session_transcript,
                items_bytes.iter().map(Vec::as_slice),
                info_bytes.as_deref(),
            );
            let auth =
                CoseSign1::sign(signer, &to_sign, x5chain, true).map_err(MdocError::Algorithm)?;
            let _ = e.str("readerAuthAll").and_then(|e| e.array(1));
            auth.encode(&mut e)
                .map_err(|_| MdocError::Malformed("could not encode"))?;
        }
        Ok(out)
    }

    /// Checks every `readerAuthAll` signature over ReaderAuthenticationAllBytes built from
    /// `session_transcript`, each with the reader's key (from its certificate, once that has
    /// been checked against the relying party's registration): one that does not verify
    /// refuses the request.
    pub fn verify_reader_auth_all(
        &self,
        session_transcript: &[u8],
        reader_key: &VerifyingKey,
    ) -> Result<(), MdocError> {
        if self.reader_auth_all.is_empty() {
            return Err(MdocError::MissingReaderAuth);
        }
        let payload = reader_authentication_all_bytes(
            session_transcript,
            self.doc_requests
                .iter()
                .map(|doc| doc.items_request_bytes.as_slice()),
            self.device_request_info
                .as_ref()
                .map(|(bytes, _)| bytes.as_slice()),
        );
        self.reader_auth_all.iter().try_for_each(|auth| {
            auth.verify(reader_key, Some(&payload), MdocError::ReaderSignature)
        })
    }

    /// A request for `items`, signed by the reader's key when `reader` is given (its
    /// certificate chain in `x5chain`).
    pub fn encode(
        items: &[ItemsRequest],
        reader: Option<(&dyn Signer, &[Vec<u8>])>,
        session_transcript: &[u8],
    ) -> Result<Vec<u8>, MdocError> {
        let mut out = Vec::with_capacity(256);
        let mut e = Encoder::new(&mut out);
        let _ = e
            .map(2)
            .and_then(|e| e.str("version"))
            .and_then(|e| e.str("1.0"))
            .and_then(|e| e.str("docRequests"))
            .and_then(|e| e.array(items.len() as u64));
        for item in items {
            let bytes = tag24(&item.encode());
            let _ = e
                .map(1 + u64::from(reader.is_some()))
                .and_then(|e| e.str("itemsRequest"));
            e.writer_mut().extend_from_slice(&bytes);
            if let Some((signer, x5chain)) = reader {
                let to_sign = reader_authentication_bytes(session_transcript, &bytes);
                let auth = CoseSign1::sign(signer, &to_sign, x5chain, true)
                    .map_err(MdocError::Algorithm)?;
                let _ = e.str("readerAuth");
                auth.encode(&mut e)
                    .map_err(|_| MdocError::Malformed("could not encode"))?;
            }
        }
        Ok(out)
    }

    /// Parses DeviceRequest CBOR.
    pub fn parse(bytes: &[u8]) -> Result<Self, MdocError> {
        decode_all(bytes, |d| {
            let (mut version, mut doc_requests) = (None, Vec::new());
            let (mut info, mut reader_auth_all) = (None, Vec::new());
            for _ in 0..map_len(d, "DeviceRequest")? {
                match d.str().map_err(malformed("DeviceRequest key"))? {
                    "version" => version = Some(d.str().map_err(malformed("version"))?.to_owned()),
                    // Read after the version, whatever the order: kept raw until then.
                    "deviceRequestInfo" => {
                        let (raw, inner) = tagged_cbor(d, "DeviceRequestInfoBytes")?;
                        info = Some((raw.to_vec(), inner.to_vec()));
                    }
                    "readerAuthAll" => {
                        let signatures = array_len(d, "readerAuthAll")?;
                        if signatures == 0 {
                            return Err(MdocError::Malformed("readerAuthAll is empty"));
                        }
                        for _ in 0..signatures {
                            reader_auth_all.push(CoseSign1::decode(d)?);
                        }
                    }
                    "docRequests" => {
                        for _ in 0..array_len(d, "docRequests")? {
                            let (mut items, mut auth) = (None, None);
                            for _ in 0..map_len(d, "DocRequest")? {
                                match d.str().map_err(malformed("DocRequest key"))? {
                                    "itemsRequest" => {
                                        let (raw, inner) = tagged_cbor(d, "ItemsRequestBytes")?;
                                        items = Some((raw.to_vec(), ItemsRequest::decode(inner)?));
                                    }
                                    "readerAuth" => auth = Some(CoseSign1::decode(d)?),
                                    _ => {
                                        skip(d, "DocRequest")?;
                                    }
                                }
                            }
                            let (items_request_bytes, items_request) = items
                                .ok_or(MdocError::Malformed("DocRequest without itemsRequest"))?;
                            doc_requests.push(DocRequest {
                                items_request_bytes,
                                items_request,
                                reader_auth: auth,
                            });
                        }
                    }
                    _ => {
                        skip(d, "DeviceRequest")?;
                    }
                }
            }
            let version: String =
                version.ok_or(MdocError::Malformed("DeviceRequest without version"))?;
            let minor = minor_of_version_1(
                &version,
                "the DeviceRequest's major version is not 1: this phone cannot read it",
            )?;
            if minor == 0 {
                // As the first edition reads it: these keys are unknown there.
                return Ok(Self {
                    version,
                    doc_requests,
                    device_request_info: None,
                    reader_auth_all: Vec::new(),
                });
            }
            let device_request_info = match info {
                Some((raw, inner)) => {
                    let info = DeviceRequestInfo::parse(&inner)?;
                    let documents = doc_requests.len() as u64;
                    let sets = info.use_cases.iter().flat_map(|case| &case.document_sets);
                    if sets.flatten().any(|index| *index >= documents) {
                        return Err(MdocError::Malformed(
                            "a document set names a document that is not in docRequests",
                        ));
                    }
                    Some((raw, info))
                }
                None => None,
            };
            Ok(Self {
                version,
                doc_requests,
                device_request_info,
                reader_auth_all,
            })
        })
    }
}

impl DocRequest {
    /// Checks the reader's signature over ReaderAuthenticationBytes built from
    /// `session_transcript`, with the reader's key (from its certificate, once that has been
    /// checked against the relying party's registration).
    pub fn verify_reader_auth(
        &self,
        session_transcript: &[u8],
        reader_key: &VerifyingKey,
    ) -> Result<(), MdocError> {
        let auth = self
            .reader_auth
            .as_ref()
            .ok_or(MdocError::MissingReaderAuth)?;
        let payload = reader_authentication_bytes(session_transcript, &self.items_request_bytes);
        auth.verify(reader_key, Some(&payload), MdocError::ReaderSignature)
    }
}
