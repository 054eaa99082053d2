//! Issuing an mdoc (ISO 18013-5 §9.1.2): salted items, per-namespace digests, the MSO signed
//! with the document signer's key, the DS certificate in `x5chain`.

use eid_core::Random;
use eid_crypto::{Signer, VerifyingKey, sha256};
use minicbor::Encoder;
use minicbor::data::Tag;
use time::{Date, OffsetDateTime};

use crate::MdocError;
use crate::cose::CoseSign1;
use crate::model::StatusReference;
use crate::session::tag24;

/// A data element's value, as issued. Its `Debug` form shows the kind, never the value.
#[derive(Clone, PartialEq)]
pub enum ElementValue {
    /// tstr.
    Text(String),
    /// int.
    Int(i64),
    /// bool.
    Bool(bool),
    /// bstr (a portrait, for instance).
    Bytes(Vec<u8>),
    /// full-date, `#6.1004(tstr)` (RFC 8943).
    FullDate(Date),
    /// tdate, `#6.0(tstr)`.
    DateTime(OffsetDateTime),
    /// An array.
    Array(Vec<ElementValue>),
    /// A map with text keys.
    Map(Vec<(String, ElementValue)>),
}

impl std::fmt::Debug for ElementValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Text(_) => "text",
            Self::Int(_) => "int",
            Self::Bool(_) => "bool",
            Self::Bytes(_) => "bytes",
            Self::FullDate(_) => "full-date",
            Self::DateTime(_) => "tdate",
            Self::Array(_) => "array",
            Self::Map(_) => "map",
        };
        write!(f, "ElementValue({kind})")
    }
}

type EncodeResult = Result<(), minicbor::encode::Error<std::convert::Infallible>>;

impl ElementValue {
    fn encode(&self, e: &mut Encoder<&mut Vec<u8>>) -> EncodeResult {
        match self {
            Self::Text(t) => e.str(t).map(drop),
            Self::Int(i) => e.i64(*i).map(drop),
            Self::Bool(b) => e.bool(*b).map(drop),
            Self::Bytes(b) => e.bytes(b).map(drop),
            Self::FullDate(date) => e.tag(Tag::new(1004))?.str(&format_date(*date)).map(drop),
            Self::DateTime(t) => e.tag(Tag::new(0))?.str(&format_tdate(*t)).map(drop),
            Self::Array(items) => {
                e.array(items.len() as u64)?;
                items.iter().try_for_each(|i| i.encode(e))
            }
            Self::Map(entries) => {
                e.map(entries.len() as u64)?;
                entries.iter().try_for_each(|(k, v)| {
                    e.str(k)?;
                    v.encode(e)
                })
            }
        }
    }
}

fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// RFC 3339 without fractional seconds, in UTC (ISO 18013-5 §9.1.2.4 requires both).
fn format_tdate(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_date(t.date()),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A digest ID and the SHA-256 of its item.
type IdDigest = (u64, [u8; 32]);

/// What to issue.
pub struct IssueRequest<'a> {
    /// The document type.
    pub doc_type: &'a str,
    /// The data elements per namespace.
    pub name_spaces: &'a [(String, Vec<(String, ElementValue)>)],
    /// The holder's device key, put in the MSO.
    pub device_key: &'a VerifyingKey,
    /// `signed` and `validFrom`.
    pub valid_from: OffsetDateTime,
    /// `validUntil`.
    pub valid_until: OffsetDateTime,
    /// The status list reference (draft second edition), if any.
    pub status: Option<StatusReference>,
    /// The DS certificate chain (DER, DS first) for `x5chain`.
    pub x5chain: &'a [Vec<u8>],
}

fn encode_error<E>(_: E) -> MdocError {
    MdocError::Malformed("could not encode")
}

/// Issues `IssuerSigned` CBOR: every element gets a fresh 32-byte salt and a digest ID from
/// a random permutation, so that neither the IDs nor the salts reveal the elements' order.
pub fn issue(
    request: &IssueRequest<'_>,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<Vec<u8>, MdocError> {
    let mut name_spaces: Vec<(&str, Vec<Vec<u8>>)> = Vec::new();
    let mut digests: Vec<(&str, Vec<IdDigest>)> = Vec::new();
    for (ns, elements) in request.name_spaces {
        // One draw for the namespace: a 32-byte salt per element and a word per swap.
        let n = elements.len();
        let mut randomness = vec![0u8; n * 40];
        random
            .fill(&mut randomness)
            .map_err(|_| MdocError::Malformed("the random source failed"))?;
        let (salts, word_bytes) = randomness.split_at(n * 32);
        let mut words: Vec<u64> = word_bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        let ids = permutation(n, &mut words, random)?;
        let mut items = Vec::with_capacity(n);
        let mut ns_digests = Vec::with_capacity(n);
        for (((identifier, value), id), salt) in
            elements.iter().zip(ids).zip(salts.chunks_exact(32))
        {
            let mut item = Vec::with_capacity(96);
            let mut e = Encoder::new(&mut item);
            e.map(4)
                .and_then(|e| e.str("digestID"))
                .and_then(|e| e.u64(id))
                .and_then(|e| e.str("random"))
                .and_then(|e| e.bytes(salt))
                .and_then(|e| e.str("elementIdentifier"))
                .and_then(|e| e.str(identifier))
                .and_then(|e| e.str("elementValue"))
                .map_err(encode_error)?;
            value.encode(&mut e).map_err(encode_error)?;
            let item_bytes = tag24(&item);
            ns_digests.push((id, sha256(&item_bytes)));
            items.push(item_bytes);
        }
        ns_digests.sort_by_key(|(id, _)| *id);
        name_spaces.push((ns, items));
        digests.push((ns, ns_digests));
    }

    let mut mso = Vec::with_capacity(
        256 + 40
            * request
                .name_spaces
                .iter()
                .map(|(_, e)| e.len())
                .sum::<usize>(),
    );
    let mut e = Encoder::new(&mut mso);
    let fields = 6 + u64::from(request.status.is_some());
    e.map(fields)
        .and_then(|e| e.str("version"))
        .and_then(|e| e.str("1.0"))
        .map_err(encode_error)?;
    e.str("digestAlgorithm")
        .and_then(|e| e.str("SHA-256"))
        .map_err(encode_error)?;
    e.str("valueDigests")
        .and_then(|e| e.map(digests.len() as u64))
        .map_err(encode_error)?;
    for (ns, ns_digests) in &digests {
        e.str(ns)
            .and_then(|e| e.map(ns_digests.len() as u64))
            .map_err(encode_error)?;
        for (id, digest) in ns_digests {
            e.u64(*id)
                .and_then(|e| e.bytes(digest))
                .map_err(encode_error)?;
        }
    }
    e.str("deviceKeyInfo")
        .and_then(|e| e.map(1))
        .and_then(|e| e.str("deviceKey"))
        .map_err(encode_error)?;
    e.writer_mut()
        .extend_from_slice(&crate::model::cose_key_bytes(request.device_key.sec1()));
    e.str("docType")
        .and_then(|e| e.str(request.doc_type))
        .map_err(encode_error)?;
    let from = format_tdate(request.valid_from);
    e.str("validityInfo")
        .and_then(|e| e.map(3))
        .and_then(|e| e.str("signed"))
        .and_then(|e| e.tag(Tag::new(0)))
        .and_then(|e| e.str(&from))
        .and_then(|e| e.str("validFrom"))
        .and_then(|e| e.tag(Tag::new(0)))
        .and_then(|e| e.str(&from))
        .and_then(|e| e.str("validUntil"))
        .and_then(|e| e.tag(Tag::new(0)))
        .and_then(|e| e.str(&format_tdate(request.valid_until)))
        .map_err(encode_error)?;
    if let Some(status) = &request.status {
        e.str("status")
            .and_then(|e| e.map(1))
            .and_then(|e| e.str("status_list"))
            .and_then(|e| e.map(2))
            .and_then(|e| e.str("idx"))
            .and_then(|e| e.u64(status.idx))
            .and_then(|e| e.str("uri"))
            .and_then(|e| e.str(&status.uri))
            .map_err(encode_error)?;
    }
    let issuer_auth = CoseSign1::sign(signer, &tag24(&mso), request.x5chain, false)
        .map_err(MdocError::Algorithm)?;

    let items_len: usize = name_spaces
        .iter()
        .flat_map(|(_, items)| items.iter().map(Vec::len))
        .sum();
    let chain_len: usize = request.x5chain.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(items_len + mso.len() + chain_len + 256);
    let mut e = Encoder::new(&mut out);
    e.map(2)
        .and_then(|e| e.str("nameSpaces"))
        .and_then(|e| e.map(name_spaces.len() as u64))
        .map_err(encode_error)?;
    for (ns, items) in &name_spaces {
        e.str(ns)
            .and_then(|e| e.array(items.len() as u64))
            .map_err(encode_error)?;
        for item in items {
            e.writer_mut().extend_from_slice(item);
        }
    }
    e.str("issuerAuth").map_err(encode_error)?;
    issuer_auth.encode(&mut e).map_err(encode_error)?;
    Ok(out)
}

/// A random permutation of `0..n` (Fisher–Yates with rejection sampling), drawing its
/// randomness from `words` (refilled from `random` only when a draw is rejected).
fn permutation(n: usize, words: &mut Vec<u64>, random: &dyn Random) -> Result<Vec<u64>, MdocError> {
    let mut ids: Vec<u64> = (0..n as u64).collect();
    for i in (1..n).rev() {
        let bound = i as u64 + 1;
        let j = loop {
            let x = match words.pop() {
                Some(x) => x,
                None => {
                    let mut b = [0u8; 8];
                    random
                        .fill(&mut b)
                        .map_err(|_| MdocError::Malformed("the random source failed"))?;
                    u64::from_le_bytes(b)
                }
            };
            // Reject the top partial range so that x % bound is uniform.
            if x < u64::MAX - u64::MAX % bound {
                break x % bound;
            }
        };
        ids.swap(i, j as usize);
    }
    Ok(ids)
}
