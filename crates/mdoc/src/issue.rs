//! Issuing an mdoc (ISO 18013-5 §9.1.2): salted items, per-namespace digests, the MSO signed
//! with the document signer's key, the DS certificate in `x5chain`.

use eid_core::Random;
use eid_crypto::{Signer, VerifyingKey, sha256};
use time::{Date, OffsetDateTime};

use crate::MdocError;
use crate::cbor::{Out, TAG_ENCODED_CBOR};
use crate::model::StatusReference;

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

impl ElementValue {
    pub(crate) fn encode(&self, out: &mut Out) {
        match self {
            Self::Text(t) => {
                out.text(t);
            }
            Self::Int(i) => {
                out.int(*i);
            }
            Self::Bool(b) => {
                out.bool(*b);
            }
            Self::Bytes(b) => {
                out.bytes(b);
            }
            Self::FullDate(date) => {
                full_date(out.tag(1004), *date);
            }
            Self::DateTime(t) => {
                tdate(out.tag(0), *t);
            }
            Self::Array(items) => {
                out.array(items.len());
                items.iter().for_each(|i| i.encode(out));
            }
            Self::Map(entries) => {
                out.map(entries.len());
                for (k, v) in entries {
                    out.text(k);
                    v.encode(out);
                }
            }
        }
    }
}

/// Writes `n` as `N` decimal digits, zero-padded.
fn digits<const N: usize>(buf: &mut [u8], mut n: u32) {
    for b in buf[..N].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// `YYYY-MM-DD` into `buf[..10]`.
fn ymd(buf: &mut [u8], year: u32, date: Date) {
    digits::<4>(&mut buf[0..4], year);
    buf[4] = b'-';
    digits::<2>(&mut buf[5..7], u8::from(date.month()).into());
    buf[7] = b'-';
    digits::<2>(&mut buf[8..10], date.day().into());
}

/// full-date text (RFC 3339 `full-date`).
fn full_date(out: &mut Out, date: Date) {
    match u32::try_from(date.year()) {
        Ok(year) if year <= 9999 => out.ascii::<10>(|b| ymd(b, year, date)),
        // Years RFC 3339 cannot write; written as `time` does, and refused by readers.
        _ => out.text(&format!(
            "{}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )),
    };
}

/// tdate text: RFC 3339 without fractional seconds, in UTC (ISO 18013-5 §9.1.2.4 requires
/// both).
fn tdate(out: &mut Out, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let date = t.date();
    match u32::try_from(date.year()) {
        Ok(year) if year <= 9999 => out.ascii::<20>(|b| {
            ymd(b, year, date);
            b[10] = b'T';
            digits::<2>(&mut b[11..13], t.hour().into());
            b[13] = b':';
            digits::<2>(&mut b[14..16], t.minute().into());
            b[16] = b':';
            digits::<2>(&mut b[17..19], t.second().into());
            b[19] = b'Z';
        }),
        _ => out.text(&format!(
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            date.year(),
            u8::from(date.month()),
            date.day(),
            t.hour(),
            t.minute(),
            t.second()
        )),
    };
}

/// A namespace being issued: its name, its items' byte ranges, and their digests indexed by
/// digest ID (the IDs of a namespace are a permutation of `0..n`).
type Space<'a> = (&'a str, Vec<(usize, usize)>, Vec<[u8; 32]>);

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

/// Issues `IssuerSigned` CBOR: every element gets a fresh 32-byte salt and a digest ID from
/// a random permutation, so that neither the IDs nor the salts reveal the elements' order.
///
/// Written for speed: one random draw per credential, the tag-24 items back to back in one
/// buffer (hashed where they lie), the MSO written inside the `Sig_structure` it is signed
/// in, and issuerAuth written straight into the output.
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
    let mut items = Out::with_capacity(total * 128);
    let mut spaces: Vec<Space<'_>> = Vec::with_capacity(request.name_spaces.len());
    for (ns, elements) in request.name_spaces {
        let ids = permutation(elements.len(), &mut words, random)?;
        let mut ranges = Vec::with_capacity(elements.len());
        let mut ns_digests = vec![[0u8; 32]; elements.len()];
        for ((identifier, value), id) in elements.iter().zip(ids) {
            let salt = salts
                .next()
                .ok_or(MdocError::Malformed("ran out of salts"))?;
            // #6.24(bstr .cbor IssuerSignedItem), written in place: a one-byte length is
            // reserved (items are longer than 23 bytes) and widened in the rare item (a
            // portrait) longer than 255.
            let start = items.0.len();
            items.tag(TAG_ENCODED_CBOR);
            let head_at = items.0.len();
            items.raw(&[0x58, 0]);
            let body = items.0.len();
            items
                .map(4)
                .text("digestID")
                .uint(id)
                .text("random")
                .bytes(salt)
                .text("elementIdentifier")
                .text(identifier)
                .text("elementValue");
            value.encode(&mut items);
            let len = items.0.len() - body;
            match u8::try_from(len) {
                Ok(short) => items.0[head_at + 1] = short,
                Err(_) => {
                    let mut head = Out::with_capacity(9);
                    head.head(2, len as u64);
                    items.0.splice(head_at..body, head.0);
                }
            }
            if let Some(slot) = ns_digests.get_mut(id as usize) {
                *slot = sha256(&items.0[start..]);
            }
            ranges.push((start, items.0.len()));
        }
        spaces.push((ns, ranges, ns_digests));
    }

    let mso = mobile_security_object(request, &spaces);
    let protected = protected_header(signer.algorithm().cose_id());
    // Sig_structure (RFC 9052 §4.4) = [context, protected, h'', payload], the payload being
    // #6.24(bstr .cbor MSO); the payload's bytes are taken from it for issuerAuth.
    let mut tbs = Out::with_capacity(mso.len() + 32);
    tbs.array(4).text("Signature1").bytes(&protected).bytes(&[]);
    // The payload's length: the tag-24 head (two bytes) and the MSO's bstr head before it.
    let mut mso_head = Out::with_capacity(9);
    mso_head.head(2, mso.len() as u64);
    let payload_len = 2 + mso_head.0.len() + mso.len();
    tbs.head(2, payload_len as u64);
    let payload_start = tbs.0.len();
    tbs.tag(TAG_ENCODED_CBOR).raw(&mso_head.0).raw(&mso);
    let signature = signer.sign(&tbs.0).map_err(MdocError::Algorithm)?;
    let payload = &tbs.0[payload_start..];

    let chain_len: usize = request.x5chain.iter().map(Vec::len).sum();
    let mut out =
        Out::with_capacity(items.0.len() + payload.len() + chain_len + signature.len() + 128);
    out.map(2).text("nameSpaces").map(spaces.len());
    for (ns, ranges, _) in &spaces {
        out.text(ns).array(ranges.len());
        for (start, end) in ranges {
            out.raw(&items.0[*start..*end]);
        }
    }
    // issuerAuth: untagged COSE_Sign1 with x5chain in the unprotected header (§9.1.2.4).
    out.text("issuerAuth").array(4).bytes(&protected);
    match request.x5chain {
        [] => out.map(0),
        [one] => out.map(1).int(33).bytes(one),
        chain => {
            out.map(1).int(33).array(chain.len());
            chain.iter().fold(&mut out, |out, cert| out.bytes(cert))
        }
    };
    out.bytes(payload).bytes(&signature);
    Ok(out.0)
}

/// The protected header `{1: alg}`.
fn protected_header(alg: i64) -> Vec<u8> {
    let mut protected = Out::with_capacity(3);
    protected.map(1).int(1).int(alg);
    protected.0
}

/// The MSO CBOR (§9.1.2.4) for the digests computed.
fn mobile_security_object(request: &IssueRequest<'_>, spaces: &[Space<'_>]) -> Vec<u8> {
    let digests: usize = spaces.iter().map(|(_, _, d)| d.len()).sum();
    let mut e = Out::with_capacity(384 + 40 * digests);
    e.map(6 + usize::from(request.status.is_some()))
        .text("version")
        .text("1.0")
        .text("digestAlgorithm")
        .text("SHA-256")
        .text("valueDigests")
        .map(spaces.len());
    for (ns, _, ns_digests) in spaces {
        e.text(ns).map(ns_digests.len());
        for (id, digest) in ns_digests.iter().enumerate() {
            e.uint(id as u64).bytes(digest);
        }
    }
    e.text("deviceKeyInfo")
        .map(1)
        .text("deviceKey")
        .cose_key(request.device_key.sec1())
        .text("docType")
        .text(request.doc_type)
        .text("validityInfo")
        .map(3)
        .text("signed");
    tdate(e.tag(0), request.valid_from);
    e.text("validFrom");
    tdate(e.tag(0), request.valid_from);
    e.text("validUntil");
    tdate(e.tag(0), request.valid_until);
    if let Some(status) = &request.status {
        e.text("status").status_reference(status.idx, &status.uri);
    }
    e.0
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

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    fn text_of(write: impl FnOnce(&mut Out)) -> String {
        let mut out = Out::with_capacity(32);
        write(&mut out);
        minicbor::decode::<&str>(&out.0).unwrap().to_owned()
    }

    /// The hand-written dates say what `time`'s RFC 3339 formatter says (UTC, no fraction).
    #[test]
    fn dates_are_rfc3339() {
        for d in [
            date!(0005 - 01 - 09),
            date!(1990 - 03 - 07),
            date!(9999 - 12 - 31),
        ] {
            assert_eq!(text_of(|o| full_date(o, d)), d.to_string());
        }
        let t = datetime!(2026-11-23 08:05:09.75 +08:00);
        assert_eq!(text_of(|o| tdate(o, t)), "2026-11-23T00:05:09Z");
        assert_eq!(
            text_of(|o| tdate(o, datetime!(0999-01-02 03:04:05 UTC))),
            "0999-01-02T03:04:05Z"
        );
    }
}
