//! COSE_Sign1 and COSE_Mac0 (RFC 9052), kept as received: the protected header and payload
//! are verified as the bytes that arrived.

use eid_crypto::{Algorithm, Signer, VerifyingKey};
use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

use crate::MdocError;
use crate::cbor::{array_len, malformed, map_len, skip};

/// COSE header label `alg` (RFC 9052 §3.1).
const LABEL_ALG: i64 = 1;
/// COSE header label `crit` (RFC 9052 §3.1).
const LABEL_CRIT: i64 = 2;
/// COSE header label `x5chain` (RFC 9360 §2).
const LABEL_X5CHAIN: i64 = 33;
/// COSE header label `kid` (RFC 9052 §3.1).
const LABEL_KID: i64 = 4;
/// COSE header label `typ` (RFC 9596).
const LABEL_TYP: i64 = 16;
/// COSE_Sign1 tag.
const TAG_SIGN1: u64 = 18;
/// COSE_Mac0 tag.
const TAG_MAC0: u64 = 17;

/// What the protected and unprotected headers say, of what eid reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// `alg` from the **protected** header (an unprotected `alg` is ignored).
    pub alg: Option<i64>,
    /// `x5chain`: DER certificates, the signer's first (protected or unprotected).
    pub x5chain: Vec<Vec<u8>>,
    /// `typ` (RFC 9596) from the **protected** header, when it is a text string.
    pub typ: Option<String>,
    /// `kid` (protected, or else unprotected).
    pub kid: Option<Vec<u8>>,
}

/// A COSE_Sign1 with its protected header and payload as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSign1 {
    /// The serialized protected header, as received.
    pub protected: Vec<u8>,
    /// The headers read.
    pub headers: Headers,
    /// The payload, as received (`None` when detached).
    pub payload: Option<Vec<u8>>,
    /// The signature (raw `r || s` for ECDSA).
    pub signature: Vec<u8>,
}

/// A COSE_Mac0 with its protected header and payload as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseMac0 {
    /// The serialized protected header, as received.
    pub protected: Vec<u8>,
    /// The headers read.
    pub headers: Headers,
    /// The payload (`None` when detached, as ISO 18013-5 deviceMac is).
    pub payload: Option<Vec<u8>>,
    /// The tag.
    pub tag: Vec<u8>,
}

fn read_headers(d: &mut Decoder<'_>, protected: &[u8]) -> Result<Headers, MdocError> {
    let mut headers = Headers::default();
    if !protected.is_empty() {
        let mut p = Decoder::new(protected);
        let n = map_len(&mut p, "COSE protected header")?;
        for _ in 0..n {
            match p.datatype().map_err(malformed("COSE header label"))? {
                Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::I8
                | Type::I16
                | Type::I32
                | Type::I64 => {
                    let label = p.i64().map_err(malformed("COSE header label"))?;
                    match label {
                        LABEL_ALG if headers.alg.is_some() => {
                            return Err(MdocError::Malformed("COSE alg appears twice"));
                        }
                        LABEL_ALG => headers.alg = Some(p.i64().map_err(malformed("COSE alg"))?),
                        // RFC 9052 §3.1: eid understands no critical header extension.
                        LABEL_CRIT => {
                            return Err(MdocError::Malformed(
                                "COSE crit extensions are not supported",
                            ));
                        }
                        LABEL_X5CHAIN => headers.x5chain = read_x5chain(&mut p)?,
                        LABEL_TYP if p.datatype().ok() == Some(Type::String) => {
                            headers.typ = Some(p.str().map_err(malformed("COSE typ"))?.to_owned());
                        }
                        LABEL_KID => {
                            headers.kid = Some(p.bytes().map_err(malformed("COSE kid"))?.to_vec());
                        }
                        _ => {
                            skip(&mut p, "COSE header value")?;
                        }
                    }
                }
                _ => {
                    skip(&mut p, "COSE header label")?;
                    skip(&mut p, "COSE header value")?;
                }
            }
        }
        if p.position() != protected.len() {
            return Err(MdocError::TrailingData);
        }
    }
    let n = map_len(d, "COSE unprotected header")?;
    for _ in 0..n {
        let is_int = matches!(
            d.datatype().map_err(malformed("COSE header label"))?,
            Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::I8
                | Type::I16
                | Type::I32
                | Type::I64
        );
        let label = if is_int {
            Some(d.i64().map_err(malformed("COSE header label"))?)
        } else {
            None
        };
        if label == Some(LABEL_X5CHAIN) {
            if headers.x5chain.is_empty() {
                headers.x5chain = read_x5chain(d)?;
            } else {
                skip(d, "x5chain")?;
            }
        } else if label == Some(LABEL_KID) && headers.kid.is_none() {
            headers.kid = Some(d.bytes().map_err(malformed("COSE kid"))?.to_vec());
        } else {
            if !is_int {
                skip(d, "COSE header label")?;
            }
            skip(d, "COSE header value")?;
        }
    }
    Ok(headers)
}

/// x5chain is one bstr, or an array of them (RFC 9360 §2).
fn read_x5chain(d: &mut Decoder<'_>) -> Result<Vec<Vec<u8>>, MdocError> {
    match d.datatype().map_err(malformed("x5chain"))? {
        Type::Bytes => Ok(vec![d.bytes().map_err(malformed("x5chain"))?.to_vec()]),
        Type::Array => {
            let n = array_len(d, "x5chain")?;
            (0..n)
                .map(|_| Ok(d.bytes().map_err(malformed("x5chain"))?.to_vec()))
                .collect()
        }
        _ => Err(MdocError::Malformed("x5chain")),
    }
}

/// `(protected, headers, payload, signature or tag)` of a COSE structure.
type CoseParts = (Vec<u8>, Headers, Option<Vec<u8>>, Vec<u8>);

/// Reads `[protected, unprotected, payload, last]`, optionally tagged `tag`.
fn read_cose<'b>(
    d: &mut Decoder<'b>,
    tag: u64,
    what: &'static str,
) -> Result<CoseParts, MdocError> {
    if d.datatype().map_err(malformed(what))? == Type::Tag
        && d.tag().map_err(malformed(what))? != Tag::new(tag)
    {
        return Err(MdocError::Malformed(what));
    }
    if array_len(d, what)? != 4 {
        return Err(MdocError::Malformed(what));
    }
    let protected = d.bytes().map_err(malformed(what))?.to_vec();
    let headers = read_headers(d, &protected)?;
    let payload = match d.datatype().map_err(malformed(what))? {
        Type::Null => {
            d.null().map_err(malformed(what))?;
            None
        }
        _ => Some(d.bytes().map_err(malformed(what))?.to_vec()),
    };
    let last = d.bytes().map_err(malformed(what))?.to_vec();
    Ok((protected, headers, payload, last))
}

/// `Sig_structure` / `MAC_structure` (RFC 9052 §4.4, §6.3) with an empty external_aad:
/// `[context, protected, h'', payload]`, `context` being `"Signature1"` or `"MAC0"`.
pub fn to_be_signed(context: &str, protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 24);
    let mut e = Encoder::new(&mut out);
    // Writing to a Vec cannot fail.
    let _ = e
        .array(4)
        .and_then(|e| e.str(context))
        .and_then(|e| e.bytes(protected))
        .and_then(|e| e.bytes(&[]))
        .and_then(|e| e.bytes(payload));
    out
}

impl CoseSign1 {
    /// Reads a COSE_Sign1 (tagged 18 or untagged).
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, MdocError> {
        let (protected, headers, payload, signature) = read_cose(d, TAG_SIGN1, "COSE_Sign1")?;
        Ok(Self {
            protected,
            headers,
            payload,
            signature,
        })
    }

    /// The algorithm the protected header names, checked against the allow-list.
    pub fn algorithm(&self) -> Result<Algorithm, MdocError> {
        let alg = self.headers.alg.ok_or(MdocError::MissingAlgorithm)?;
        Algorithm::from_cose(alg).map_err(MdocError::Algorithm)
    }

    /// Verifies the signature with `key`, over the protected header and `detached` payload
    /// (or the embedded one) as received. The protected `alg` must be present, allowed and
    /// the key's; a signature that does not verify gives `bad_signature`.
    pub fn verify(
        &self,
        key: &VerifyingKey,
        detached: Option<&[u8]>,
        bad_signature: MdocError,
    ) -> Result<(), MdocError> {
        let alg = self.algorithm()?;
        let payload = detached.or(self.payload.as_deref()).unwrap_or_default();
        match key.verify_as(
            alg,
            &to_be_signed("Signature1", &self.protected, payload),
            &self.signature,
        ) {
            Ok(()) => Ok(()),
            Err(eid_crypto::CryptoError::BadSignature) => Err(bad_signature),
            Err(e) => Err(MdocError::Algorithm(e)),
        }
    }

    /// Signs `payload` with `signer`; `x5chain` goes in the unprotected header (ISO 18013-5
    /// §9.1.2.4). `detached` leaves the payload out of the structure.
    pub fn sign(
        signer: &dyn Signer,
        payload: &[u8],
        x5chain: &[Vec<u8>],
        detached: bool,
    ) -> Result<Self, eid_crypto::CryptoError> {
        let mut protected = Vec::with_capacity(3);
        let _ = Encoder::new(&mut protected)
            .map(1)
            .and_then(|e| e.i64(LABEL_ALG))
            .and_then(|e| e.i64(signer.algorithm().cose_id()));
        let signature = signer.sign(&to_be_signed("Signature1", &protected, payload))?;
        Ok(Self {
            protected,
            headers: Headers {
                alg: Some(signer.algorithm().cose_id()),
                x5chain: x5chain.to_vec(),
                ..Headers::default()
            },
            payload: (!detached).then(|| payload.to_vec()),
            signature,
        })
    }

    /// Writes the untagged COSE_Sign1 array (ISO 18013-5 uses it untagged in issuerAuth).
    pub fn encode(
        &self,
        e: &mut Encoder<&mut Vec<u8>>,
    ) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
        e.array(4)?.bytes(&self.protected)?;
        match self.headers.x5chain.as_slice() {
            [] => {
                e.map(0)?;
            }
            [one] => {
                e.map(1)?.i64(LABEL_X5CHAIN)?.bytes(one)?;
            }
            chain => {
                e.map(1)?.i64(LABEL_X5CHAIN)?.array(chain.len() as u64)?;
                for cert in chain {
                    e.bytes(cert)?;
                }
            }
        }
        match &self.payload {
            Some(p) => e.bytes(p)?,
            None => e.null()?,
        };
        e.bytes(&self.signature)?;
        Ok(())
    }
}

impl CoseMac0 {
    /// Reads a COSE_Mac0 (tagged 17 or untagged).
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, MdocError> {
        let (protected, headers, payload, tag) = read_cose(d, TAG_MAC0, "COSE_Mac0")?;
        Ok(Self {
            protected,
            headers,
            payload,
            tag,
        })
    }

    /// The `MAC_structure` to authenticate for `payload` (ISO 18013-5 §9.1.3.5 detaches it).
    pub fn to_be_maced(&self, payload: &[u8]) -> Vec<u8> {
        to_be_signed("MAC0", &self.protected, payload)
    }
}

#[cfg(test)]
mod tests {
    use eid_crypto::SigningKey;

    use super::*;

    #[test]
    fn sign_encode_decode_verify() {
        let key = SigningKey::generate().unwrap();
        let signed = CoseSign1::sign(&key, b"payload", &[vec![1, 2, 3]], false).unwrap();
        let mut bytes = Vec::new();
        signed.encode(&mut Encoder::new(&mut bytes)).unwrap();
        let back = CoseSign1::decode(&mut Decoder::new(&bytes)).unwrap();
        assert_eq!(back, signed);
        back.verify(key.verifying_key(), None, MdocError::IssuerSignature)
            .unwrap();
        assert_eq!(
            back.verify(
                key.verifying_key(),
                Some(b"other"),
                MdocError::IssuerSignature
            ),
            Err(MdocError::IssuerSignature)
        );
        let mut no_alg = back.clone();
        no_alg.headers.alg = None;
        assert_eq!(no_alg.algorithm(), Err(MdocError::MissingAlgorithm));
        let mut hmac = back;
        hmac.headers.alg = Some(5);
        assert!(matches!(hmac.algorithm(), Err(MdocError::Algorithm(_))));
    }

    #[test]
    fn crit_and_a_repeated_alg_are_refused() {
        // [h'A2 01 26 02 81 01' ({1: -7, 2: [1]}), {}, h'', h'']
        let crit = [
            0x84, 0x46, 0xa2, 0x01, 0x26, 0x02, 0x81, 0x01, 0xa0, 0x40, 0x40,
        ];
        assert!(matches!(
            CoseSign1::decode(&mut Decoder::new(&crit)),
            Err(MdocError::Malformed(_))
        ));
        // {1: -7, 1: -7}
        let twice = [0x84, 0x45, 0xa2, 0x01, 0x26, 0x01, 0x26, 0xa0, 0x40, 0x40];
        assert!(matches!(
            CoseSign1::decode(&mut Decoder::new(&twice)),
            Err(MdocError::Malformed(_))
        ));
    }
}
