//! CBOR reading on `minicbor`, with the limits and the raw-byte bookkeeping the formats need.

use minicbor::Decoder;
use minicbor::data::{Tag, Type};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{MAX_DEPTH, MAX_LEN, MdocError};

/// The tag that wraps embedded CBOR (RFC 8949 §3.4.5.1): `#6.24(bstr .cbor T)`.
pub(crate) const TAG_ENCODED_CBOR: u64 = 24;

/// `#6.24(bstr .cbor x)`.
pub fn tag24(cbor: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cbor.len() + 6);
    let _ = minicbor::Encoder::new(&mut out)
        .tag(Tag::new(TAG_ENCODED_CBOR))
        .and_then(|e| e.bytes(cbor));
    out
}
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

/// The minor version of a `"1.x"` structure version; another major version, or text that is
/// not `major.minor`, is refused (`what` names the structure).
pub(crate) fn minor_of_version_1(version: &str, what: &'static str) -> Result<u32, MdocError> {
    // Digits only: `parse` would take "+1" too.
    let number = |text: &str| {
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| text.parse::<u32>().ok()).flatten()
    };
    let parsed = version
        .split_once('.')
        .and_then(|(major, minor)| Some((number(major)?, number(minor)?)));
    match parsed {
        Some((1, minor)) => Ok(minor),
        Some(_) => Err(MdocError::Malformed(what)),
        None => Err(MdocError::Malformed("the version is not major.minor")),
    }
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

/// A CBOR writer into a `Vec<u8>` for the issuing path: definite lengths, preferred (shortest)
/// heads, and no error paths, since writing to memory cannot fail. minicbor's `Encoder`
/// goes through a fallible `Write` per head and was a tenth of issuing time.
pub(crate) struct Out(pub(crate) Vec<u8>);

impl Out {
    #[inline]
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// A head: major type and argument, in the shortest form (RFC 8949 §4.2.1).
    #[inline]
    pub(crate) fn head(&mut self, major: u8, n: u64) -> &mut Self {
        let m = major << 5;
        match n {
            0..=23 => self.0.push(m | n as u8),
            24..=0xff => self.0.extend_from_slice(&[m | 24, n as u8]),
            0x100..=0xffff => {
                self.0.push(m | 25);
                self.0.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.0.push(m | 26);
                self.0.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                self.0.push(m | 27);
                self.0.extend_from_slice(&n.to_be_bytes());
            }
        }
        self
    }

    #[inline]
    pub(crate) fn uint(&mut self, n: u64) -> &mut Self {
        self.head(0, n)
    }

    #[inline]
    pub(crate) fn int(&mut self, n: i64) -> &mut Self {
        match u64::try_from(n) {
            Ok(u) => self.head(0, u),
            // -1 - n, without overflow for i64::MIN.
            Err(_) => self.head(1, !(n as u64)),
        }
    }

    #[inline]
    pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64).raw(b)
    }

    #[inline]
    pub(crate) fn text(&mut self, t: &str) -> &mut Self {
        self.head(3, t.len() as u64).raw(t.as_bytes())
    }

    #[inline]
    pub(crate) fn array(&mut self, len: usize) -> &mut Self {
        self.head(4, len as u64)
    }

    #[inline]
    pub(crate) fn map(&mut self, len: usize) -> &mut Self {
        self.head(5, len as u64)
    }

    #[inline]
    pub(crate) fn tag(&mut self, tag: u64) -> &mut Self {
        self.head(6, tag)
    }

    #[inline]
    pub(crate) fn bool(&mut self, b: bool) -> &mut Self {
        self.0.push(if b { 0xf5 } else { 0xf4 });
        self
    }

    /// Bytes that are already CBOR.
    #[inline]
    pub(crate) fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }

    /// A P-256 COSE_Key (RFC 9053 §7.1.1: kty 2, crv 1, x -2, y -3) from an uncompressed
    /// SEC 1 point.
    pub(crate) fn cose_key(&mut self, point: &[u8; 65]) -> &mut Self {
        self.map(4)
            .int(1)
            .int(2)
            .int(-1)
            .int(1)
            .int(-2)
            .bytes(&point[1..33])
            .int(-3)
            .bytes(&point[33..])
    }

    /// A status list reference (Token Status List): `{"status_list": {"idx", "uri"}}`.
    pub(crate) fn status_reference(&mut self, idx: u64, uri: &str) -> &mut Self {
        self.map(1)
            .text("status_list")
            .map(2)
            .text("idx")
            .uint(idx)
            .text("uri")
            .text(uri)
    }

    /// A text string of exactly `N` ASCII bytes written by `fill` (dates).
    #[inline]
    pub(crate) fn ascii<const N: usize>(&mut self, fill: impl FnOnce(&mut [u8; N])) -> &mut Self {
        let mut buf = [0u8; N];
        fill(&mut buf);
        self.head(3, N as u64).raw(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's heads match minicbor's (preferred serialisation) at every length boundary.
    #[test]
    fn out_matches_minicbor() {
        let mut edges = vec![0u64, u64::MAX];
        for b in [23u64, 0xff, 0xffff, 0xffff_ffff] {
            edges.extend([b, b + 1]);
        }
        for n in edges {
            let mut ours = Out::with_capacity(16);
            ours.uint(n).tag(n).array(n as usize).map(n as usize);
            let mut theirs = Vec::new();
            let mut e = minicbor::Encoder::new(&mut theirs);
            e.u64(n).unwrap();
            e.tag(Tag::new(n)).unwrap();
            e.array(n).unwrap();
            e.map(n).unwrap();
            assert_eq!(ours.0, theirs, "{n}");
        }
        for i in [0i64, -1, -24, -25, -256, -257, -65537, i64::MIN, i64::MAX] {
            let mut ours = Out::with_capacity(16);
            ours.int(i);
            let mut theirs = Vec::new();
            minicbor::Encoder::new(&mut theirs).i64(i).unwrap();
            assert_eq!(ours.0, theirs, "{i}");
        }
        let long = "x".repeat(300);
        let mut ours = Out::with_capacity(700);
        ours.text(&long)
            .bytes(long.as_bytes())
            .bool(true)
            .bool(false);
        let mut theirs = Vec::new();
        minicbor::Encoder::new(&mut theirs)
            .str(&long)
            .and_then(|e| e.bytes(long.as_bytes()))
            .and_then(|e| e.bool(true))
            .and_then(|e| e.bool(false))
            .unwrap();
        assert_eq!(ours.0, theirs);
    }
}
