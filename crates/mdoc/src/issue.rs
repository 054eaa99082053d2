//! Issuing an mdoc (ISO 18013-5 §9.1.2): salted items, per-namespace digests, the MSO signed
//! with the document signer's key, the DS certificate in `x5chain`.

use eid_core::Random;
use eid_crypto::{Signer, VerifyingKey, sha256};
use minicbor::Encoder;
use minicbor::data::Tag;
use time::{Date, OffsetDateTime};

use crate::MdocError;
use crate::cbor::TAG_ENCODED_CBOR;
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

/// A namespace being issued: its name, its items' byte ranges, their digests.
type Space<'a> = (&'a str, Vec<(usize, usize)>, Vec<IdDigest>);

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
///
/// Written for speed: one random draw per credential, the tag-24 items back to back in one
/// buffer (hashed where they lie), and issuerAuth written straight into the output.
pub fn issue(
    request: &IssueRequest<'_>,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<Vec<u8>, MdocError> {
    let total: usize = request.name_spaces.iter().map(|(_, e)| e.len()).sum();
    // One draw: a 32-byte salt per element and a word per element for the permutations.
    let mut randomness = vec![0u8; total * 40];
    random
        .fill(&mut randomness)
        .map_err(|_| MdocError::Malformed("the random source failed"))?;
    let (salt_bytes, word_bytes) = randomness.split_at(total * 32);
    let mut salts = salt_bytes.chunks_exact(32);
    let mut words: Vec<u64> = word_bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();

    // IssuerSignedItemBytes, back to back; per namespace their ranges and digests.
    let mut items = Vec::with_capacity(total * 128);
    let mut scratch = Vec::with_capacity(256);
    let mut spaces: Vec<Space<'_>> = Vec::with_capacity(request.name_spaces.len());
    for (ns, elements) in request.name_spaces {
        let ids = permutation(elements.len(), &mut words, random)?;
        let mut ranges = Vec::with_capacity(elements.len());
        let mut ns_digests = Vec::with_capacity(elements.len());
        for ((identifier, value), id) in elements.iter().zip(ids) {
            let salt = salts
                .next()
                .ok_or(MdocError::Malformed("ran out of salts"))?;
            scratch.clear();
            let mut e = Encoder::new(&mut scratch);
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
            let start = items.len();
            Encoder::new(&mut items)
                .tag(Tag::new(TAG_ENCODED_CBOR))
                .and_then(|e| e.bytes(&scratch))
                .map_err(encode_error)?;
            ns_digests.push((id, sha256(&items[start..])));
            ranges.push((start, items.len()));
        }
        ns_digests.sort_by_key(|(id, _)| *id);
        spaces.push((ns, ranges, ns_digests));
    }

    let mso = mobile_security_object(request, &spaces)?;
    let payload = tag24(&mso);
    let mut protected = Vec::with_capacity(3);
    Encoder::new(&mut protected)
        .map(1)
        .and_then(|e| e.i64(1))
        .and_then(|e| e.i64(signer.algorithm().cose_id()))
        .map_err(encode_error)?;
    let signature = signer
        .sign(&crate::cose::to_be_signed(
            "Signature1",
            &protected,
            &payload,
        ))
        .map_err(MdocError::Algorithm)?;

    let chain_len: usize = request.x5chain.iter().map(Vec::len).sum();
    let mut out =
        Vec::with_capacity(items.len() + payload.len() + chain_len + signature.len() + 128);
    let mut e = Encoder::new(&mut out);
    e.map(2)
        .and_then(|e| e.str("nameSpaces"))
        .and_then(|e| e.map(spaces.len() as u64))
        .map_err(encode_error)?;
    for (ns, ranges, _) in &spaces {
        e.str(ns)
            .and_then(|e| e.array(ranges.len() as u64))
            .map_err(encode_error)?;
        for (start, end) in ranges {
            e.writer_mut().extend_from_slice(&items[*start..*end]);
        }
    }
    // issuerAuth: untagged COSE_Sign1 with x5chain in the unprotected header (§9.1.2.4).
    e.str("issuerAuth")
        .and_then(|e| e.array(4))
        .and_then(|e| e.bytes(&protected))
        .map_err(encode_error)?;
    match request.x5chain {
        [] => e.map(0).map(drop),
        [one] => e
            .map(1)
            .and_then(|e| e.i64(33))
            .and_then(|e| e.bytes(one))
            .map(drop),
        chain => {
            e.map(1)
                .and_then(|e| e.i64(33))
                .and_then(|e| e.array(chain.len() as u64))
                .map_err(encode_error)?;
            chain.iter().try_for_each(|cert| e.bytes(cert).map(drop))
        }
    }
    .map_err(encode_error)?;
    e.bytes(&payload)
        .and_then(|e| e.bytes(&signature))
        .map_err(encode_error)?;
    Ok(out)
}

/// The MSO CBOR (§9.1.2.4) for the digests computed.
fn mobile_security_object(
    request: &IssueRequest<'_>,
    spaces: &[Space<'_>],
) -> Result<Vec<u8>, MdocError> {
    let digests: usize = spaces.iter().map(|(_, _, d)| d.len()).sum();
    let mut mso = Vec::with_capacity(384 + 40 * digests);
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
        .and_then(|e| e.map(spaces.len() as u64))
        .map_err(encode_error)?;
    for (ns, _, ns_digests) in spaces {
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
    Ok(mso)
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
