//! The status list itself (draft-ietf-oauth-status-list §4): a byte array of `bits`-wide
//! entries, index 0 in the least significant bits of byte 0, compressed with zlib (RFC 1950)
//! for its JSON (`lst` base64url) and CBOR (`lst` bstr) forms.
//!
//! ```text
//! StatusList = { "bits": 1 / 2 / 4 / 8, "lst": bstr, ? "aggregation_uri": tstr }
//! ```

use std::io::{Read, Write};

use eid_core::status::CredentialStatus;
use flate2::Compression;
use flate2::bufread::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde_json::{Value, json};

use crate::StatusError;

/// The default cap on an inflated list: 16 MiB holds 2^27 two-bit entries, eight times the
/// largest shard eid publishes; a list inflating beyond it is refused before it is held.
pub const DEFAULT_MAX_INFLATED: usize = 16 << 20;

/// Bits per entry (§4.1): 1, 2, 4 or 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bits(u8);

impl Bits {
    /// One bit: VALID or INVALID only.
    pub const ONE: Self = Self(1);
    /// Two bits: VALID, INVALID, SUSPENDED (and 0x03); what eid issues.
    pub const TWO: Self = Self(2);

    /// Checks `bits` against §4.1.
    pub fn new(bits: u64) -> Result<Self, StatusError> {
        match bits {
            1 | 2 | 4 | 8 => Ok(Self(bits as u8)),
            other => Err(StatusError::UnsupportedBits(other)),
        }
    }

    /// The number of bits.
    pub fn get(self) -> u8 {
        self.0
    }

    fn per_byte(self) -> u64 {
        8 / u64::from(self.0)
    }

    fn mask(self) -> u8 {
        ((1u16 << self.0) - 1) as u8
    }
}

/// A status value's name in the draft's registry (§7.1): VALID, INVALID, SUSPENDED, and
/// APPLICATION_SPECIFIC for 0x03 and 0x0C–0x0F; other values are unassigned.
pub fn status_name(value: u8) -> Option<&'static str> {
    match value {
        0 => Some("VALID"),
        1 => Some("INVALID"),
        2 => Some("SUSPENDED"),
        3 | 0x0C..=0x0F => Some("APPLICATION_SPECIFIC"),
        _ => None,
    }
}

/// Parses a status as given on a command line: a number or `valid`/`invalid`/`suspended`.
pub fn parse_status(text: &str) -> Option<u8> {
    match text.to_ascii_lowercase().as_str() {
        "valid" => Some(0),
        "invalid" => Some(1),
        "suspended" => Some(2),
        number => number.parse().ok(),
    }
}

/// The credential status a value means, for the three eid uses.
pub fn credential_status(value: u8) -> Option<CredentialStatus> {
    match value {
        0 => Some(CredentialStatus::Valid),
        1 => Some(CredentialStatus::Invalid),
        2 => Some(CredentialStatus::Suspended),
        _ => None,
    }
}

/// A status list in memory, uncompressed.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: Bits,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for StatusList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusList")
            .field("bits", &self.bits.0)
            .field("entries", &self.len())
            .finish()
    }
}

impl StatusList {
    /// A list of at least `entries` entries, all VALID (whole bytes: the size is rounded up
    /// to a multiple of `8 / bits`).
    pub fn new(bits: Bits, entries: u64) -> Result<Self, StatusError> {
        let bytes = entries.div_ceil(bits.per_byte());
        let bytes = usize::try_from(bytes).map_err(|_| StatusError::TooLarge(usize::MAX))?;
        if bytes > DEFAULT_MAX_INFLATED {
            return Err(StatusError::TooLarge(DEFAULT_MAX_INFLATED));
        }
        Ok(Self {
            bits,
            bytes: vec![0; bytes],
        })
    }

    /// A list over `bytes` as they are (index 0 in the low bits of byte 0).
    pub fn from_bytes(bits: Bits, bytes: Vec<u8>) -> Self {
        Self { bits, bytes }
    }

    /// Bits per entry.
    pub fn bits(&self) -> Bits {
        self.bits
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * self.bits.per_byte()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn locate(&self, index: u64) -> Result<(usize, u8), StatusError> {
        if index >= self.len() {
            return Err(StatusError::IndexOutOfRange {
                index,
                size: self.len(),
            });
        }
        let per = self.bits.per_byte();
        // In range: index / per < bytes.len(), which is a usize.
        let byte = (index / per) as usize;
        let shift = ((index % per) * u64::from(self.bits.0)) as u8;
        Ok((byte, shift))
    }

    /// The status at `index`.
    pub fn get(&self, index: u64) -> Result<u8, StatusError> {
        let (byte, shift) = self.locate(index)?;
        Ok((self.bytes[byte] >> shift) & self.bits.mask())
    }

    /// Sets the status at `index`.
    pub fn set(&mut self, index: u64, value: u8) -> Result<(), StatusError> {
        if value & !self.bits.mask() != 0 {
            return Err(StatusError::ValueTooWide {
                value,
                bits: self.bits.0,
            });
        }
        let (byte, shift) = self.locate(index)?;
        let mask = self.bits.mask() << shift;
        self.bytes[byte] = (self.bytes[byte] & !mask) | (value << shift);
        Ok(())
    }

    /// The zlib-compressed bytes (`lst`), at the best compression (the draft's examples use
    /// level 9; lists are compressed once per publication and fetched many times).
    pub fn compress(&self) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(
            Vec::with_capacity(self.bytes.len() / 8 + 64),
            Compression::best(),
        );
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(&self.bytes);
        encoder.finish().unwrap_or_default()
    }

    /// Inflates `lst`, refusing more than `max_inflated` bytes (checked while inflating,
    /// so a small bomb never grows in memory) and trailing bytes after the zlib stream.
    pub fn decompress(bits: Bits, lst: &[u8], max_inflated: usize) -> Result<Self, StatusError> {
        let mut decoder = ZlibDecoder::new(lst);
        let mut bytes = Vec::with_capacity(lst.len().saturating_mul(4).min(max_inflated));
        (&mut decoder)
            .take((max_inflated as u64).saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|_| StatusError::Malformed("lst is not zlib data"))?;
        if bytes.len() > max_inflated {
            return Err(StatusError::TooLarge(max_inflated));
        }
        if decoder.total_in() != lst.len() as u64 {
            return Err(StatusError::Malformed(
                "bytes after the end of the zlib stream",
            ));
        }
        Ok(Self { bits, bytes })
    }

    /// The JSON form `{"bits", "lst"}` (§4.2).
    pub fn to_json(&self) -> Value {
        json!({ "bits": self.bits.0, "lst": eid_crypto::b64url(&self.compress()) })
    }

    /// Reads the JSON form (§4.2); `aggregation_uri` is allowed and ignored.
    pub fn from_json(value: &Value, max_inflated: usize) -> Result<Self, StatusError> {
        let object = value
            .as_object()
            .ok_or(StatusError::Malformed("status_list is not an object"))?;
        let bits = object
            .get("bits")
            .and_then(Value::as_u64)
            .ok_or(StatusError::Malformed("status_list.bits is not a number"))?;
        let lst = object
            .get("lst")
            .and_then(Value::as_str)
            .ok_or(StatusError::Malformed("status_list.lst is not a string"))?;
        let lst = eid_crypto::b64url_decode(lst)
            .map_err(|_| StatusError::Malformed("status_list.lst is not base64url"))?;
        Self::decompress(Bits::new(bits)?, &lst, max_inflated)
    }

    /// Writes the CBOR form `{"bits", "lst"}` (§4.3).
    pub fn encode_cbor(&self, e: &mut minicbor::Encoder<&mut Vec<u8>>) {
        // Writing into a Vec cannot fail.
        let _ = e
            .map(2)
            .and_then(|e| e.str("bits"))
            .and_then(|e| e.u8(self.bits.0))
            .and_then(|e| e.str("lst"))
            .and_then(|e| e.bytes(&self.compress()));
    }

    /// Reads the CBOR form (§4.3) at the decoder's position.
    pub fn decode_cbor(
        d: &mut minicbor::Decoder<'_>,
        max_inflated: usize,
    ) -> Result<Self, StatusError> {
        let bad = |_| StatusError::Malformed("status_list is not a CBOR map of bits and lst");
        let n = d
            .map()
            .map_err(bad)?
            .ok_or(StatusError::Malformed("indefinite-length status_list"))?;
        let (mut bits, mut lst) = (None, None);
        for _ in 0..n {
            match d.str().map_err(bad)? {
                "bits" => bits = Some(d.u64().map_err(bad)?),
                "lst" => lst = Some(d.bytes().map_err(bad)?),
                _ => d.skip().map_err(bad)?,
            }
        }
        let (Some(bits), Some(lst)) = (bits, lst) else {
            return Err(StatusError::Malformed("status_list lacks bits or lst"));
        };
        Self::decompress(Bits::new(bits)?, lst, max_inflated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_get_every_width() {
        for bits in [1u64, 2, 4, 8] {
            let bits = Bits::new(bits).unwrap();
            let mut list = StatusList::new(bits, 1000).unwrap();
            let max = bits.mask();
            for i in 0..list.len() {
                list.set(i, (i % (u64::from(max) + 1)) as u8).unwrap();
            }
            for i in 0..list.len() {
                assert_eq!(list.get(i).unwrap(), (i % (u64::from(max) + 1)) as u8);
            }
            let back = StatusList::decompress(bits, &list.compress(), 1 << 20).unwrap();
            assert_eq!(back, list);
            assert_eq!(
                list.set(0, max.wrapping_add(1)).err(),
                (max < 255).then_some(StatusError::ValueTooWide {
                    value: max.wrapping_add(1),
                    bits: bits.get()
                })
            );
        }
        assert_eq!(Bits::new(3), Err(StatusError::UnsupportedBits(3)));
    }

    #[test]
    fn index_out_of_range_is_an_error() {
        let list = StatusList::new(Bits::TWO, 8).unwrap();
        assert_eq!(
            list.get(8),
            Err(StatusError::IndexOutOfRange { index: 8, size: 8 })
        );
    }

    /// A list that inflates beyond the cap is refused while inflating; so is a stream with
    /// bytes after its end.
    #[test]
    fn inflation_is_capped_and_trailing_bytes_refused() {
        let list = StatusList::new(Bits::ONE, 16 << 20).unwrap();
        let lst = list.compress();
        assert!(lst.len() < 20_000);
        assert_eq!(
            StatusList::decompress(Bits::ONE, &lst, 1 << 20),
            Err(StatusError::TooLarge(1 << 20))
        );
        let mut trailing = StatusList::new(Bits::ONE, 16).unwrap().compress();
        trailing.push(0);
        assert_eq!(
            StatusList::decompress(Bits::ONE, &trailing, 1 << 20),
            Err(StatusError::Malformed(
                "bytes after the end of the zlib stream"
            ))
        );
    }
}
