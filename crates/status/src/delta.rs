//! A compact delta between two versions of one status list, for verifiers that keep a copy
//! (an airport's gates, a bank's back office): instead of the whole list after every change,
//! the entries that changed since the version they hold.
//!
//! This is eid's own format (the draft has none). A list's *version* is its token's `iat`
//! (unix seconds), so a verifier holding a verified token knows the version it has. Encoded
//! as CBOR `[uri, from_version, to_version, exp, bits, changes]`, `changes` being zlib over,
//! for each
//! change in index order, the gap from the previous index as a LEB128 varint and the new
//! value as one byte. Published signed like the lists: a COSE_Sign1 (`typ`
//! `application/eid-statuslist-delta+cwt`) by the same document signer, read through the
//! same checks ([`Delta::read`]); a verifier whose version does not match fetches the
//! whole signed list instead.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::bufread::ZlibDecoder;
use flate2::write::ZlibEncoder;
use minicbor::{Decoder, Encoder};

use crate::StatusError;
use crate::list::{Bits, StatusList};
use crate::token::{ReadOptions, SignerRef, cose_sign1, open_cose_sign1};

/// The COSE `typ` of a signed delta.
pub const TYP_DELTA: &str = "application/eid-statuslist-delta+cwt";

/// The most changes one delta may carry when read.
pub const MAX_DELTA_CHANGES: usize = 1 << 24;

/// The changes from one version of a list to a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The list's URI.
    pub uri: String,
    /// The version the changes apply to.
    pub from_version: u64,
    /// The version they give (the `iat` of the list after them; also when the delta was
    /// made).
    pub to_version: u64,
    /// After this (unix seconds) the delta must not be applied: a verifier whose deltas stop
    /// arriving falls back to fetching the list.
    pub expires_at: i64,
    /// Bits per entry of the list.
    pub bits: Bits,
    /// `(index, new value)`, in increasing index order.
    pub changes: Vec<(u64, u8)>,
}

impl Delta {
    /// The changes that turn `old` into `new` (two versions of the same list), valid until
    /// `expires_at`.
    pub fn between(
        uri: &str,
        (from_version, old): (u64, &StatusList),
        (to_version, new): (u64, &StatusList),
        expires_at: i64,
    ) -> Result<Self, StatusError> {
        if old.bits() != new.bits() || old.len() != new.len() {
            return Err(StatusError::Malformed(
                "a delta joins two versions of one list",
            ));
        }
        let per = u64::from(8 / old.bits().get());
        let mut changes = Vec::new();
        for (byte, (a, b)) in old.as_bytes().iter().zip(new.as_bytes()).enumerate() {
            if a == b {
                continue;
            }
            for k in 0..per {
                let index = byte as u64 * per + k;
                let value = new.get(index)?;
                if old.get(index)? != value {
                    changes.push((index, value));
                }
            }
        }
        Ok(Self {
            uri: uri.to_owned(),
            from_version,
            to_version,
            expires_at,
            bits: old.bits(),
            changes,
        })
    }

    /// The compact encoding; the changes must be in strictly increasing index order.
    pub fn encode(&self) -> Result<Vec<u8>, StatusError> {
        let mut raw = Vec::with_capacity(self.changes.len() * 4);
        let mut previous: Option<u64> = None;
        for &(index, value) in &self.changes {
            let mut gap = match previous {
                None => index,
                Some(p) if index > p => index - p,
                Some(_) => return Err(StatusError::Malformed("delta indices must increase")),
            };
            previous = Some(index);
            loop {
                let low = (gap & 0x7f) as u8;
                gap >>= 7;
                if gap == 0 {
                    raw.push(low);
                    break;
                }
                raw.push(low | 0x80);
            }
            raw.push(value);
        }
        let mut z = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2 + 64), Compression::best());
        let _ = z.write_all(&raw);
        let packed = z.finish().unwrap_or_default();
        let mut out = Vec::with_capacity(packed.len() + self.uri.len() + 40);
        let _ = Encoder::new(&mut out)
            .array(6)
            .and_then(|e| e.str(&self.uri))
            .and_then(|e| e.u64(self.from_version))
            .and_then(|e| e.u64(self.to_version))
            .and_then(|e| e.i64(self.expires_at))
            .and_then(|e| e.u8(self.bits.get()))
            .and_then(|e| e.bytes(&packed));
        Ok(out)
    }

    /// Reads the compact encoding: indices strictly increasing, values within `bits`, at
    /// most [`MAX_DELTA_CHANGES`] changes, nothing after the end.
    pub fn decode(bytes: &[u8]) -> Result<Self, StatusError> {
        const SHAPE: &str = "a delta is [uri, from, to, exp, bits, changes]";
        let bad = |_| StatusError::Malformed(SHAPE);
        let mut d = Decoder::new(bytes);
        if d.array().map_err(bad)? != Some(6) {
            return Err(StatusError::Malformed(SHAPE));
        }
        let uri = d.str().map_err(bad)?.to_owned();
        let from_version = d.u64().map_err(bad)?;
        let to_version = d.u64().map_err(bad)?;
        let expires_at = d.i64().map_err(bad)?;
        let bits = Bits::new(d.u64().map_err(bad)?)?;
        let packed = d.bytes().map_err(bad)?;
        if d.position() != bytes.len() {
            return Err(StatusError::Malformed("bytes after the delta"));
        }
        if to_version <= from_version {
            return Err(StatusError::Malformed("a delta goes to a later version"));
        }
        let cap = MAX_DELTA_CHANGES * 11;
        let mut raw = Vec::new();
        let mut z = ZlibDecoder::new(packed);
        (&mut z)
            .take((cap as u64).saturating_add(1))
            .read_to_end(&mut raw)
            .map_err(|_| StatusError::Malformed("the delta's changes are not zlib data"))?;
        if raw.len() > cap {
            return Err(StatusError::TooLarge(cap));
        }
        if z.total_in() != packed.len() as u64 {
            return Err(StatusError::Malformed(
                "bytes after the delta's zlib stream",
            ));
        }
        let mut changes = Vec::new();
        let mut at = 0usize;
        let mut previous: Option<u64> = None;
        while at < raw.len() {
            let mut gap = 0u64;
            let mut shift = 0u32;
            loop {
                let byte = *raw
                    .get(at)
                    .ok_or(StatusError::Malformed("a delta change is cut short"))?;
                at += 1;
                if shift > 63 || (shift == 63 && byte > 1) {
                    return Err(StatusError::Malformed("a delta index overflows"));
                }
                gap |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            let value = *raw
                .get(at)
                .ok_or(StatusError::Malformed("a delta change is cut short"))?;
            at += 1;
            let index = match previous {
                None => gap,
                Some(_) if gap == 0 => {
                    return Err(StatusError::Malformed("delta indices must increase"));
                }
                Some(p) => p
                    .checked_add(gap)
                    .ok_or(StatusError::Malformed("a delta index overflows"))?,
            };
            if u16::from(value) >= 1 << bits.get() {
                return Err(StatusError::ValueTooWide {
                    value,
                    bits: bits.get(),
                });
            }
            if changes.len() == MAX_DELTA_CHANGES {
                return Err(StatusError::TooLarge(MAX_DELTA_CHANGES));
            }
            changes.push((index, value));
            previous = Some(index);
        }
        Ok(Self {
            uri,
            from_version,
            to_version,
            expires_at,
            bits,
            changes,
        })
    }

    /// The delta signed by the list's signer.
    pub fn sign(
        &self,
        signer: &dyn eid_crypto::Signer,
        by: SignerRef<'_>,
    ) -> Result<Vec<u8>, StatusError> {
        cose_sign1(&self.encode()?, TYP_DELTA, signer, by)
    }

    /// Reads a signed delta: signature by a trusted signer, `typ`, and (when the options name
    /// one) the list URI.
    pub fn read(bytes: &[u8], options: &ReadOptions<'_>) -> Result<Self, StatusError> {
        let (payload, _) = open_cose_sign1(bytes, TYP_DELTA, options)?;
        let delta = Self::decode(&payload)?;
        let now = options.now.unix_timestamp();
        if i64::try_from(delta.to_version).map_or(true, |made| made > now) {
            return Err(StatusError::IssuedInFuture(
                i64::try_from(delta.to_version).unwrap_or(i64::MAX),
            ));
        }
        if delta.expires_at <= now {
            return Err(StatusError::Expired(delta.expires_at));
        }
        if let Some(expected) = options.expected_uri()
            && expected != delta.uri
        {
            return Err(StatusError::WrongSubject {
                found: delta.uri,
                expected: expected.to_owned(),
            });
        }
        Ok(delta)
    }

    /// Applies the delta to `list`, held at `version`; returns the new version. Nothing is
    /// changed unless every change applies.
    pub fn apply(&self, list: &mut StatusList, version: u64) -> Result<u64, StatusError> {
        if version != self.from_version {
            return Err(StatusError::DeltaVersion {
                delta_from: self.from_version,
                list: version,
            });
        }
        if list.bits() != self.bits {
            return Err(StatusError::Malformed(
                "the delta's bits are not the list's",
            ));
        }
        // Every change is checked before any is made: all or nothing.
        for &(index, value) in &self.changes {
            if index >= list.len() {
                return Err(StatusError::IndexOutOfRange {
                    index,
                    size: list.len(),
                });
            }
            if u16::from(value) >= 1 << self.bits.get() {
                return Err(StatusError::ValueTooWide {
                    value,
                    bits: self.bits.get(),
                });
            }
        }
        for &(index, value) in &self.changes {
            list.set(index, value)?;
        }
        Ok(self.to_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_apply() {
        let old = StatusList::new(Bits::TWO, 1 << 17).unwrap();
        let mut new = old.clone();
        for (i, v) in [(3u64, 1u8), (4, 2), (70_000, 1), (131_071, 2)] {
            new.set(i, v).unwrap();
        }
        let delta = Delta::between("https://x/1", (7, &old), (8, &new), 100).unwrap();
        assert_eq!(delta.changes.len(), 4);
        let back = Delta::decode(&delta.encode().unwrap()).unwrap();
        assert_eq!(back, delta);
        let mut copy = old.clone();
        assert_eq!(back.apply(&mut copy, 7), Ok(8));
        assert_eq!(copy, new);
        assert_eq!(
            back.apply(&mut copy, 8),
            Err(StatusError::DeltaVersion {
                delta_from: 7,
                list: 8
            })
        );
    }

    #[test]
    fn hostile_deltas_are_refused() {
        let mut delta = Delta {
            uri: "u".into(),
            from_version: 1,
            to_version: 2,
            expires_at: 100,
            bits: Bits::TWO,
            changes: vec![(5, 1), (5, 2)],
        };
        assert_eq!(
            delta.encode(),
            Err(StatusError::Malformed("delta indices must increase"))
        );
        // Written by hand: the same index twice, as a hostile issuer could.
        let repeated = [5u8, 1, 0, 2];
        assert_eq!(
            Delta::decode(&encoded_with(&delta, &repeated)),
            Err(StatusError::Malformed("delta indices must increase"))
        );
        delta.changes = vec![(5, 7)];
        assert_eq!(
            Delta::decode(&delta.encode().unwrap()),
            Err(StatusError::ValueTooWide { value: 7, bits: 2 })
        );
        // All or nothing: a good change before a bad one is not made either.
        delta.changes = vec![(3, 1), (1 << 20, 1)];
        let mut small = StatusList::new(Bits::TWO, 16).unwrap();
        assert!(matches!(
            Delta::decode(&delta.encode().unwrap())
                .unwrap()
                .apply(&mut small, 1),
            Err(StatusError::IndexOutOfRange { .. })
        ));
        assert_eq!(small, StatusList::new(Bits::TWO, 16).unwrap());
        delta.changes = vec![(3, 1)];
        let mut one_bit = StatusList::new(Bits::ONE, 16).unwrap();
        assert!(delta.apply(&mut one_bit, 1).is_err());
        // Shape: versions going back, trailing bytes, an overlong varint, another length.
        let mut back = delta.clone();
        back.to_version = 1;
        assert_eq!(
            Delta::decode(&back.encode().unwrap()),
            Err(StatusError::Malformed("a delta goes to a later version"))
        );
        let mut trailing = delta.encode().unwrap();
        trailing.push(0);
        assert_eq!(
            Delta::decode(&trailing),
            Err(StatusError::Malformed("bytes after the delta"))
        );
        let overlong = [0xffu8; 11];
        assert_eq!(
            Delta::decode(&encoded_with(&delta, &overlong)),
            Err(StatusError::Malformed("a delta index overflows"))
        );
        assert!(Delta::decode(&[0x85, 0x61, 0x75, 1, 2, 2, 0x40]).is_err());
    }

    /// `delta` encoded with `raw` as its (uncompressed) changes.
    fn encoded_with(delta: &Delta, raw: &[u8]) -> Vec<u8> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        z.write_all(raw).unwrap();
        let packed = z.finish().unwrap();
        let mut out = Vec::new();
        Encoder::new(&mut out)
            .array(6)
            .and_then(|e| e.str(&delta.uri))
            .and_then(|e| e.u64(delta.from_version))
            .and_then(|e| e.u64(delta.to_version))
            .and_then(|e| e.i64(delta.expires_at))
            .and_then(|e| e.u8(delta.bits.get()))
            .and_then(|e| e.bytes(&packed))
            .unwrap();
        out
    }
}
