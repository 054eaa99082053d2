//! CBOR reading on `minicbor`, with the limits and the raw-byte bookkeeping the formats need.

use minicbor::Decoder;
use minicbor::data::{Tag, Type};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{MAX_DEPTH, MAX_LEN, MdocError};

/// The tag that wraps embedded CBOR (RFC 8949 §3.4.5.1): `#6.24(bstr .cbor T)`.
pub(crate) const TAG_ENCODED_CBOR: u64 = 24;
/// RFC 8949 standard date/time string.
pub(crate) const TAG_TDATE: u64 = 0;

pub(crate) fn malformed<E>(what: &'static str) -> impl Fn(E) -> MdocError {
    move |_| MdocError::Malformed(what)
}

/// Checks the size limit and that `f` consumes exactly the whole input.
pub(crate) fn decode_all<'b, T>(
    bytes: &'b [u8],
    f: impl FnOnce(&mut Decoder<'b>) -> Result<T, MdocError>,
) -> Result<T, MdocError> {
    if bytes.len() > MAX_LEN {
        return Err(MdocError::TooLarge);
    }
    let mut d = Decoder::new(bytes);
    let value = f(&mut d)?;
    if d.position() != bytes.len() {
        return Err(MdocError::TrailingData);
    }
    Ok(value)
}

/// Reads a definite-length map header.
pub(crate) fn map_len(d: &mut Decoder<'_>, what: &'static str) -> Result<u64, MdocError> {
    d.map()
        .map_err(malformed(what))?
        .ok_or(MdocError::Malformed(what))
}

/// Reads a definite-length array header.
pub(crate) fn array_len(d: &mut Decoder<'_>, what: &'static str) -> Result<u64, MdocError> {
    d.array()
        .map_err(malformed(what))?
        .ok_or(MdocError::Malformed(what))
}

/// Skips one data item, refusing nesting deeper than [`MAX_DEPTH`]; returns its raw bytes.
pub(crate) fn skip<'b>(d: &mut Decoder<'b>, what: &'static str) -> Result<&'b [u8], MdocError> {
    let start = d.position();
    skip_depth(d, what, 0)?;
    Ok(&d.input()[start..d.position()])
}

fn skip_depth(d: &mut Decoder<'_>, what: &'static str, depth: usize) -> Result<(), MdocError> {
    if depth > MAX_DEPTH {
        return Err(MdocError::TooLarge);
    }
    match d.datatype().map_err(malformed(what))? {
        Type::Array => {
            let n = array_len(d, what)?;
            for _ in 0..n {
                skip_depth(d, what, depth + 1)?;
            }
        }
        Type::Map => {
            let n = map_len(d, what)?;
            for _ in 0..n.saturating_mul(2) {
                skip_depth(d, what, depth + 1)?;
            }
        }
        Type::Tag => {
            d.tag().map_err(malformed(what))?;
            skip_depth(d, what, depth + 1)?;
        }
        Type::ArrayIndef | Type::MapIndef | Type::BytesIndef | Type::StringIndef => {
            return Err(MdocError::Malformed(
                "indefinite-length items are not accepted",
            ));
        }
        _ => d.skip().map_err(malformed(what))?,
    }
    Ok(())
}

/// Reads `#6.24(bstr)`: returns the raw bytes of the whole tagged item (what ISO 18013-5
/// hashes and signs) and the embedded CBOR.
pub(crate) fn tagged_cbor<'b>(
    d: &mut Decoder<'b>,
    what: &'static str,
) -> Result<(&'b [u8], &'b [u8]), MdocError> {
    let start = d.position();
    if d.tag().map_err(malformed(what))? != Tag::new(TAG_ENCODED_CBOR) {
        return Err(MdocError::Malformed(what));
    }
    let inner = d.bytes().map_err(malformed(what))?;
    Ok((&d.input()[start..d.position()], inner))
}

/// Reads a tdate (`#6.0(tstr)`, RFC 3339).
pub(crate) fn tdate(d: &mut Decoder<'_>, what: &'static str) -> Result<OffsetDateTime, MdocError> {
    if d.tag().map_err(malformed(what))? != Tag::new(TAG_TDATE) {
        return Err(MdocError::Malformed(what));
    }
    let text = d.str().map_err(malformed(what))?;
    OffsetDateTime::parse(text, &Rfc3339).map_err(malformed(what))
}
