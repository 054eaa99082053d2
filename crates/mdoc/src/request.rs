//! The reader's request (ISO 18013-5 §8.3.2.1.2.1) and its authentication (§9.1.4).
//!
//! ```cddl
//! DeviceRequest = { "version": tstr, "docRequests": [+ DocRequest] }
//! DocRequest = { "itemsRequest": ItemsRequestBytes, ? "readerAuth": ReaderAuth }
//! ItemsRequestBytes = #6.24(bstr .cbor ItemsRequest)
//! ItemsRequest = { "docType": tstr, "nameSpaces": { + tstr => { + tstr => bool } },
//!                  ? "requestInfo": { * tstr => any } }
//! ReaderAuthenticationBytes = #6.24(bstr .cbor
//!     ["ReaderAuthentication", SessionTranscript, ItemsRequestBytes])
//! ```

use eid_crypto::{Signer, VerifyingKey};
use minicbor::Encoder;

use crate::MdocError;
use crate::cbor::{array_len, decode_all, malformed, map_len, skip, tagged_cbor};
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
    /// `"1.0"`.
    pub version: String,
    /// The documents asked for.
    pub doc_requests: Vec<DocRequest>,
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
            for _ in 0..map_len(d, "DeviceRequest")? {
                match d.str().map_err(malformed("DeviceRequest key"))? {
                    "version" => version = Some(d.str().map_err(malformed("version"))?.to_owned()),
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
            Ok(Self {
                version: version.ok_or(MdocError::Malformed("DeviceRequest without version"))?,
                doc_requests,
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
