//! The offline single QR: a compact presentation for one purpose that a desk with only a
//! scanner can check, with no link back to the phone (`docs/formats.md`, "Offline QR").
//!
//! An mdoc cannot go in one QR code: its MSO carries a digest of every element and its
//! `x5chain` the document signer's certificate, about 1.5 KiB before any value, where QR
//! version 15 at level M holds [`QR_CAPACITY`] bytes. So the issuer signs, next to the
//! mdoc, a **compact credential** per purpose: a CWT (RFC 8392) holding only that purpose's
//! attributes in clear, the portrait as its SHA-256 digest, the holder's device key (`cnf`,
//! RFC 8747), the status list reference (Token Status List, claim 65535) and the wallet
//! provider, identified by a short `kid` the trust list publishes. The wallet shows it
//! wrapped in a **device-signed presentation** that names the purpose and the second it was
//! made; a desk accepts it for [`MAX_AGE`] after that.
//!
//! ```cddl
//! OfflinePresentation = [
//!   1,                          ; format version
//!   credential: bstr,           ; the compact credential: COSE_Sign1 (untagged)
//!   presented_at: uint,         ; Unix seconds, by the phone's clock
//!   device_auth: COSE_Sign1,    ; detached payload: OfflineAuthentication
//! ]
//! OfflineAuthentication = ["EidOfflineAuthentication", credential: bstr,
//!                          purpose: tstr, presented_at: uint]
//! CompactCredential = COSE_Sign1 with protected {1: alg, 4: kid} and payload CompactClaims
//! CompactClaims = {
//!   6: uint, 4: uint,                      ; iat, exp
//!   8: {1: COSE_Key},                      ; cnf: the device key, P-256, compressed
//!                                          ; ({1: 2, -1: 1, -2: x, -3: bool}, RFC 9053)
//!   ? 65535: {"status_list": {"idx": uint, "uri": tstr}},
//!   "p": tstr,                             ; the purpose (trust-list name)
//!   "w": tstr,                             ; the wallet provider (trust-list id)
//!   "a": {* (uint / tstr) => any},         ; the attributes, by label or by name
//! }
//! ```
//!
//! Every byte counts: the device key is a compressed point, and the attributes of the
//! resident credential go by the one-byte labels of [`ATTRIBUTE_LABELS`] (other names by
//! their text). The portrait goes as `portrait_sha256` (label 8): its digest, not the
//! image; where the desk is to match the holder's face, the issuer adds the face template
//! (`face_template`, label 20, 129 bytes), and the code may then reach QR version 20 at
//! level M ([`QR_CAPACITY_WITH_FACE`]) instead of 15. An issuer refuses to make a
//! credential whose presentation would not fit the code ([`OfflineError::TooLargeForQr`]): a purpose whose attributes are long (a hotel's,
//! with the whole address) is presented in person or online instead.
//!
//! A **printed code** serves a resident without a smartphone: a counter prints, on paper,
//! a compact credential with no device key and no wallet provider ([`issue_paper`]),
//! valid for at most [`PAPER_MAX_VALIDITY`], for one purpose whose catalogue allows paper.
//! Nothing signs it when it is shown: whoever holds the paper holds the code, so only the
//! face at the desk (the template it carries) ties it to the resident, and its status entry
//! lets the authority withdraw it.
//!
//! ```cddl
//! PaperCode = [
//!   2,                          ; format version: a printed code
//!   credential: bstr,           ; a compact credential without 8 (cnf) and "w"
//! ]
//! ```

use std::collections::BTreeMap;

use eid_crypto::{CryptoError, Signer, VerifyingKey, sha256};
use minicbor::Decoder;
use minicbor::data::Type;
use time::{Duration, OffsetDateTime};

use crate::MdocError;
use crate::cbor::{Out, array_len, decode_all, malformed, map_len, skip};
use crate::cose::{CoseSign1, to_be_signed};
use crate::issue::ElementValue;
use crate::model::StatusReference;

/// The bytes QR version 15 holds at error-correction level M in byte mode.
pub const QR_CAPACITY: usize = 412;
/// The bytes QR version 20 holds at level M in byte mode: the bound of a code that carries
/// the holder's face template ([`FACE_TEMPLATE`]), which a phone's screen still shows to
/// a desk's scanner.
pub const QR_CAPACITY_WITH_FACE: usize = 666;
/// The attribute that carries the holder's face template (`eid_face::Template`, 129
/// bytes), under the issuer's signature, for a desk to match the face in front of it.
pub const FACE_TEMPLATE: &str = "face_template";
/// How long after it was made a presentation is accepted.
pub const MAX_AGE: Duration = Duration::seconds(60);
/// How far ahead of the desk's clock a phone's clock may be.
pub const CLOCK_LEEWAY: Duration = Duration::seconds(5);
/// The attribute that carries the portrait's SHA-256 digest in place of the image.
pub const PORTRAIT_DIGEST: &str = "portrait_sha256";
/// The format version this module writes and reads.
const VERSION: u64 = 1;
/// The format version of a printed code ([`issue_paper`]).
const PAPER_VERSION: u64 = 2;
/// The longest a printed code may be valid (`exp` − `iat`): a desk refuses a longer one
/// ([`OfflineError::PaperValidityTooLong`]), whoever signed it.
pub const PAPER_MAX_VALIDITY: Duration = Duration::hours(72);
/// The bytes a printed code may take: QR version 20 at level M, as a phone's code with a
/// face template, which a desk's scanner reads from paper as from a screen.
pub const QR_CAPACITY_PAPER: usize = QR_CAPACITY_WITH_FACE;
/// The context string of the device's signature.
const CONTEXT: &str = "EidOfflineAuthentication";
/// Bytes of the key identifier: the first bytes of the key's RFC 7638 thumbprint.
pub const KID_LEN: usize = 8;

/// The attribute labels of the compact credential: the resident credential's elements, by
/// the number its map key carries. Fixed: a label is never reused for another name.
pub const ATTRIBUTE_LABELS: [(u64, &str); 20] = [
    (1, "family_name"),
    (2, "given_name"),
    (3, "sex"),
    (4, "ethnicity"),
    (5, "birth_date"),
    (6, "address"),
    (7, "document_number"),
    (8, PORTRAIT_DIGEST),
    (9, "issuing_authority"),
    (10, "issue_date"),
    (11, "expiry_date"),
    (12, "age_in_years"),
    (13, "birth_year"),
    (14, "resident_region"),
    (15, "age_over_14"),
    (16, "age_over_16"),
    (17, "age_over_18"),
    (18, "age_over_60"),
    (19, "age_over_65"),
    (20, FACE_TEMPLATE),
];

/// Bytes a presentation adds to its credential: the array, version, the credential's
/// byte-string head, the time and the device's COSE_Sign1.
const PRESENTATION_OVERHEAD: usize = 1 + 1 + 3 + 5 + (1 + 4 + 1 + 1 + 2 + 64);
/// Bytes a printed code adds to its credential: the array, version and byte-string head.
const PAPER_OVERHEAD: usize = 1 + 1 + 3;

/// CWT claim keys (RFC 8392 §4, RFC 8747, Token Status List).
const CLAIM_EXP: i64 = 4;
const CLAIM_IAT: i64 = 6;
const CLAIM_CNF: i64 = 8;
const CLAIM_STATUS: i64 = 65535;
/// `cnf` member holding a COSE_Key (RFC 8747 §3.2).
const CNF_COSE_KEY: i64 = 1;

/// Why an offline presentation is refused, each check its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    /// Not the structure above.
    #[error("not an eid offline presentation: {0}")]
    Unreadable(MdocError),
    /// A format version this desk does not read.
    #[error(
        "offline presentation format version {0} is not supported (1: a phone's code, 2: a printed code)"
    )]
    UnsupportedVersion(u64),
    /// A printed code whose credential is bound to a phone's key: a phone's credential is
    /// shown by the phone, signed afresh, never as a copy.
    #[error(
        "this printed code holds a credential bound to a phone: it is shown by the phone's wallet, not on paper"
    )]
    DeviceBound,
    /// A phone's presentation whose credential is bound to no device key (a printed code's
    /// credential): there is no key to check the device signature with.
    #[error("the credential in this phone's code is bound to no device key")]
    NotBoundToADevice,
    /// A printed code valid for longer than [`PAPER_MAX_VALIDITY`].
    #[error(
        "this printed code is valid for {hours} h; a printed code may be valid for 72 h at most"
    )]
    PaperValidityTooLong {
        /// Its validity, in whole hours.
        hours: i64,
    },
    /// The credential's `kid` names no key of a listed issuer.
    #[error("the compact credential is signed by a key the trust list does not list")]
    UnknownIssuerKey,
    /// The issuer's signature does not verify.
    #[error("the issuer signature over the compact credential does not verify")]
    IssuerSignature,
    /// The credential's `iat` is after now.
    #[error("the compact credential is not valid yet")]
    NotYetValid,
    /// The credential's `exp` has passed.
    #[error("the compact credential has expired")]
    Expired,
    /// The credential is for another purpose than the desk's.
    #[error("the presentation is for {presented}, this desk checks for {expected}")]
    PurposeMismatch {
        /// The purpose the credential was issued for.
        presented: String,
        /// The desk's purpose.
        expected: String,
    },
    /// Made more than [`MAX_AGE`] ago: a screenshot or a replay.
    #[error(
        "the presentation was made {seconds} s ago; an offline QR is accepted for 60 s (a screenshot or a replayed code?)"
    )]
    TooOld {
        /// Its age.
        seconds: i64,
    },
    /// Made after now (beyond the leeway).
    #[error("the presentation is dated {seconds} s ahead of this desk's clock")]
    FromTheFuture {
        /// How far ahead.
        seconds: i64,
    },
    /// The device signature does not verify with the credential's device key.
    #[error(
        "the device signature does not verify (altered, or not made by the phone the credential is bound to)"
    )]
    DeviceSignature,
    /// The signing key is not the one the credential is bound to (holder side).
    #[error("this key is not the device key the compact credential is bound to")]
    NotTheDeviceKey,
    /// The presentation would not fit QR version 15-M (issuer side).
    #[error(
        "a presentation of this compact credential would take {bytes} bytes; a QR code of version {version}-M holds {capacity}"
    )]
    TooLargeForQr {
        /// Its size.
        bytes: usize,
        /// The largest QR version allowed (15, or 20 with a face template).
        version: u8,
        /// The bytes it holds.
        capacity: usize,
    },
    /// A signing key failed.
    #[error("signing failed: {0}")]
    Signing(CryptoError),
}

impl From<MdocError> for OfflineError {
    fn from(e: MdocError) -> Self {
        Self::Unreadable(e)
    }
}

/// What the issuer puts in a compact credential.
pub struct CompactCredentialRequest<'a> {
    /// The purpose it serves (trust-list name, `airport_security`).
    pub purpose: &'a str,
    /// The wallet provider holding it (trust-list id).
    pub provider: &'a str,
    /// That purpose's attributes; a `portrait` given as bytes goes in as its digest.
    pub attributes: &'a [(String, ElementValue)],
    /// The holder's device key for this instance.
    pub device_key: &'a VerifyingKey,
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `exp`.
    pub expires_at: OffsetDateTime,
    /// Its entry in the issuer's status list.
    pub status: Option<&'a StatusReference>,
}

/// The key identifier of `key` in a compact credential's header (see [`KID_LEN`]).
pub fn key_id(key: &VerifyingKey) -> Result<[u8; KID_LEN], CryptoError> {
    let thumbprint = key.to_jwk().thumbprint_sha256()?;
    let mut kid = [0u8; KID_LEN];
    kid.copy_from_slice(&thumbprint[..KID_LEN]);
    Ok(kid)
}

/// Issues a compact credential (the untagged COSE_Sign1 bytes), signed by `signer` whose
/// public key the trust list publishes among the issuer's offline keys.
pub fn issue_compact(
    request: &CompactCredentialRequest<'_>,
    signer: &dyn Signer,
    signer_key: &VerifyingKey,
) -> Result<Vec<u8>, OfflineError> {
    let credential = sign_claims(
        &Claims {
            purpose: request.purpose,
            bearer: Some((request.device_key, request.provider)),
            attributes: request.attributes,
            issued_at: request.issued_at,
            expires_at: request.expires_at,
            status: request.status,
        },
        signer,
        signer_key,
    )?;
    let (version, capacity) = if request.attributes.iter().any(|(n, _)| n == FACE_TEMPLATE) {
        (20, QR_CAPACITY_WITH_FACE)
    } else {
        (15, QR_CAPACITY)
    };
    fits(credential.len() + PRESENTATION_OVERHEAD, version, capacity)?;
    Ok(credential)
}

/// What the counter prints on paper for a resident without a smartphone.
pub struct PaperCodeRequest<'a> {
    /// The purpose it serves (trust-list name); the catalogue must allow paper for it.
    pub purpose: &'a str,
    /// That purpose's attributes, as for [`CompactCredentialRequest::attributes`].
    pub attributes: &'a [(String, ElementValue)],
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `exp`: at most [`PAPER_MAX_VALIDITY`] after `iat`.
    pub expires_at: OffsetDateTime,
    /// Its entry in the issuer's status list.
    pub status: Option<&'a StatusReference>,
}

/// Issues a printed code ([`PaperCode`](self)): a compact credential bound to no device,
/// in the version-2 envelope, ready for a QR code on paper. Refuses a validity beyond
/// [`PAPER_MAX_VALIDITY`] and a code beyond [`QR_CAPACITY_PAPER`].
pub fn issue_paper(
    request: &PaperCodeRequest<'_>,
    signer: &dyn Signer,
    signer_key: &VerifyingKey,
) -> Result<Vec<u8>, OfflineError> {
    if request.expires_at <= request.issued_at {
        return Err(MdocError::MalformedValidity.into());
    }
    paper_validity(request.expires_at - request.issued_at)?;
    let credential = sign_claims(
        &Claims {
            purpose: request.purpose,
            bearer: None,
            attributes: request.attributes,
            issued_at: request.issued_at,
            expires_at: request.expires_at,
            status: request.status,
        },
        signer,
        signer_key,
    )?;
    fits(credential.len() + PAPER_OVERHEAD, 20, QR_CAPACITY_PAPER)?;
    let mut out = Out::with_capacity(credential.len() + PAPER_OVERHEAD);
    out.array(2).uint(PAPER_VERSION).bytes(&credential);
    Ok(out.0)
}

/// At most [`PAPER_MAX_VALIDITY`]; a longer one is told in hours, rounded up.
fn paper_validity(validity: Duration) -> Result<(), OfflineError> {
    if validity > PAPER_MAX_VALIDITY {
        return Err(OfflineError::PaperValidityTooLong {
            hours: (validity.whole_seconds() + 3599) / 3600,
        });
    }
    Ok(())
}

fn fits(bytes: usize, version: u8, capacity: usize) -> Result<(), OfflineError> {
    if bytes > capacity {
        return Err(OfflineError::TooLargeForQr {
            bytes,
            version,
            capacity,
        });
    }
    Ok(())
}

/// The claims of either kind of compact credential: a phone's names its device key and
/// provider (`bearer`), a printed one neither.
struct Claims<'a> {
    purpose: &'a str,
    bearer: Option<(&'a VerifyingKey, &'a str)>,
    attributes: &'a [(String, ElementValue)],
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    status: Option<&'a StatusReference>,
}

fn sign_claims(
    request: &Claims<'_>,
    signer: &dyn Signer,
    signer_key: &VerifyingKey,
) -> Result<Vec<u8>, OfflineError> {
    let mut protected = Out::with_capacity(16);
    protected
        .map(2)
        .int(1)
        .int(signer.algorithm().cose_id())
        .int(4)
        .bytes(&key_id(signer_key).map_err(OfflineError::Signing)?);
    let protected = protected.0;

    let mut claims = Out::with_capacity(256);
    // iat, exp, p, a; cnf and w for a phone's; the status where there is one.
    claims.map(
        4 + if request.bearer.is_some() { 2 } else { 0 } + usize::from(request.status.is_some()),
    );
    claims
        .int(CLAIM_IAT)
        .uint(unix(request.issued_at))
        .int(CLAIM_EXP)
        .uint(unix(request.expires_at));
    if let Some((device_key, _)) = request.bearer {
        let point = device_key.compressed();
        claims
            .int(CLAIM_CNF)
            .map(1)
            .int(CNF_COSE_KEY)
            .map(4)
            .int(1)
            .int(2)
            .int(-1)
            .int(1)
            .int(-2)
            .bytes(&point[1..])
            .int(-3)
            .bool(point[0] == 0x03);
    }
    if let Some(status) = request.status {
        claims
            .int(CLAIM_STATUS)
            .status_reference(status.idx, &status.uri);
    }
    claims.text("p").text(request.purpose);
    if let Some((_, provider)) = request.bearer {
        claims.text("w").text(provider);
    }
    claims.text("a").map(request.attributes.len());
    for (name, value) in request.attributes {
        let digest;
        let (name, value) = match (name.as_str(), value) {
            ("portrait", ElementValue::Bytes(image)) => {
                digest = ElementValue::Bytes(sha256(image).to_vec());
                (PORTRAIT_DIGEST, &digest)
            }
            (name, value) => (name, value),
        };
        match ATTRIBUTE_LABELS.iter().find(|(_, n)| *n == name) {
            Some((label, _)) => claims.uint(*label),
            None => claims.text(name),
        };
        value.encode(&mut claims);
    }
    let payload = claims.0;
    let signature = signer
        .sign(&to_be_signed("Signature1", &protected, &payload))
        .map_err(OfflineError::Signing)?;
    let mut out = Out::with_capacity(protected.len() + payload.len() + 80);
    out.array(4)
        .bytes(&protected)
        .map(0)
        .bytes(&payload)
        .bytes(&signature);
    Ok(out.0)
}

fn unix(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp()).unwrap_or(0)
}

/// A compact credential's claims as read (not yet verified).
#[derive(Clone, PartialEq, Eq)]
pub struct CompactClaims {
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `exp`.
    pub expires_at: OffsetDateTime,
    /// The device key; none in a printed code's credential.
    pub device_key: Option<VerifyingKey>,
    /// The status list reference.
    pub status: Option<StatusReference>,
    /// The purpose.
    pub purpose: String,
    /// The wallet provider; none in a printed code's credential.
    pub provider: Option<String>,
    /// Attribute name → its raw CBOR value.
    pub attributes: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for CompactClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names, never values.
        f.debug_struct("CompactClaims")
            .field("purpose", &self.purpose)
            .field("provider", &self.provider)
            .field("attributes", &self.attributes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A compact credential as the wallet holds it. Its `Debug` form shows the claims' names.
#[derive(Clone, PartialEq, Eq)]
pub struct CompactCredential {
    /// The bytes, as issued.
    pub bytes: Vec<u8>,
    /// The COSE_Sign1.
    pub signed: CoseSign1,
    /// The claims.
    pub claims: CompactClaims,
}

impl std::fmt::Debug for CompactCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactCredential")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl CompactCredential {
    /// Reads a compact credential (no signature checked: see [`verify_offline`]).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, OfflineError> {
        let signed = decode_all(bytes, CoseSign1::decode)?;
        let payload = signed
            .payload
            .as_deref()
            .ok_or(MdocError::Malformed("compact credential without payload"))?;
        let claims = decode_all(payload, read_claims)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            signed,
            claims,
        })
    }
}

fn time_claim(d: &mut Decoder<'_>, what: &'static str) -> Result<OffsetDateTime, MdocError> {
    let t = d.u64().map_err(malformed(what))?;
    i64::try_from(t)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .ok_or(MdocError::Malformed(what))
}

fn read_claims(d: &mut Decoder<'_>) -> Result<CompactClaims, MdocError> {
    let (mut iat, mut exp, mut key, mut status) = (None, None, None, None);
    let (mut purpose, mut provider, mut attributes) = (None, None, None);
    let twice = |seen: bool| {
        if seen {
            Err(MdocError::Malformed(
                "a compact credential claim appears twice",
            ))
        } else {
            Ok(())
        }
    };
    for _ in 0..map_len(d, "compact credential claims")? {
        match d.datatype().map_err(malformed("claim key"))? {
            Type::String => match d.str().map_err(malformed("claim key"))? {
                "p" => {
                    twice(purpose.is_some())?;
                    purpose = Some(d.str().map_err(malformed("purpose"))?.to_owned());
                }
                "w" => {
                    twice(provider.is_some())?;
                    provider = Some(d.str().map_err(malformed("provider"))?.to_owned());
                }
                "a" => {
                    twice(attributes.is_some())?;
                    let mut map = BTreeMap::new();
                    for _ in 0..map_len(d, "attributes")? {
                        let name = match d.datatype().map_err(malformed("attribute label"))? {
                            Type::String => {
                                d.str().map_err(malformed("attribute name"))?.to_owned()
                            }
                            _ => {
                                let label = d.u64().map_err(malformed("attribute label"))?;
                                let (_, name) = ATTRIBUTE_LABELS
                                    .iter()
                                    .find(|(l, _)| *l == label)
                                    .ok_or(MdocError::Malformed("unknown attribute label"))?;
                                (*name).to_owned()
                            }
                        };
                        let value = skip(d, "attribute value")?.to_vec();
                        if map.insert(name, value).is_some() {
                            return Err(MdocError::Malformed("an attribute appears twice"));
                        }
                    }
                    attributes = Some(map);
                }
                _ => {
                    skip(d, "claim")?;
                }
            },
            _ => match d.i64().map_err(malformed("claim key"))? {
                CLAIM_IAT => {
                    twice(iat.is_some())?;
                    iat = Some(time_claim(d, "iat")?);
                }
                CLAIM_EXP => {
                    twice(exp.is_some())?;
                    exp = Some(time_claim(d, "exp")?);
                }
                CLAIM_CNF => {
                    twice(key.is_some())?;
                    let mut found = None;
                    for _ in 0..map_len(d, "cnf")? {
                        if d.i64().map_err(malformed("cnf member"))? == CNF_COSE_KEY {
                            found = Some(compressed_cose_key(d)?);
                        } else {
                            skip(d, "cnf member")?;
                        }
                    }
                    key = Some(found.ok_or(MdocError::Malformed("cnf without a COSE_Key"))?);
                }
                CLAIM_STATUS => {
                    twice(status.is_some())?;
                    status = Some(crate::model::read_status(d)?);
                }
                _ => {
                    skip(d, "claim")?;
                }
            },
        }
    }
    let (Some(issued_at), Some(expires_at)) = (iat, exp) else {
        return Err(MdocError::Malformed(
            "compact credential without iat or exp",
        ));
    };
    if expires_at <= issued_at {
        return Err(MdocError::MalformedValidity);
    }
    // A phone's credential names its device key and its provider; a printed one neither.
    if key.is_some() != provider.is_some() {
        return Err(MdocError::Malformed(
            "a compact credential has both cnf and a provider, or neither",
        ));
    }
    Ok(CompactClaims {
        issued_at,
        expires_at,
        device_key: key,
        status,
        purpose: purpose.ok_or(MdocError::Malformed("compact credential without purpose"))?,
        provider,
        attributes: attributes.ok_or(MdocError::Malformed(
            "compact credential without attributes",
        ))?,
    })
}

/// A P-256 COSE_Key with a compressed point: `{1: 2, -1: 1, -2: x, -3: bool}` (RFC 9053
/// §7.1.1: `y` as the sign bit).
fn compressed_cose_key(d: &mut Decoder<'_>) -> Result<VerifyingKey, MdocError> {
    let bad = |_| MdocError::MalformedDeviceKey;
    let (mut kty, mut crv, mut x, mut y) = (None, None, None, None);
    for _ in 0..map_len(d, "COSE_Key")? {
        match d.i64().map_err(bad)? {
            1 => kty = Some(d.i64().map_err(bad)?),
            -1 => crv = Some(d.i64().map_err(bad)?),
            -2 => x = Some(d.bytes().map_err(bad)?),
            -3 => y = Some(d.bool().map_err(bad)?),
            _ => {
                skip(d, "COSE_Key").map_err(|_| MdocError::MalformedDeviceKey)?;
            }
        }
    }
    let (Some(2), Some(1), Some(x), Some(odd)) = (kty, crv, x, y) else {
        return Err(MdocError::MalformedDeviceKey);
    };
    let point = [&[if odd { 0x03 } else { 0x02 }][..], x].concat();
    VerifyingKey::from_compressed(eid_crypto::Algorithm::Es256, &point)
        .map_err(|_| MdocError::MalformedDeviceKey)
}

fn authentication_bytes(credential: &[u8], purpose: &str, presented_at: u64) -> Vec<u8> {
    let mut out = Out::with_capacity(credential.len() + 64);
    out.array(4)
        .text(CONTEXT)
        .bytes(credential)
        .text(purpose)
        .uint(presented_at);
    out.0
}

/// The wallet's side: wraps `credential` into a presentation signed now by `device`, which
/// must hold the key the credential is bound to. Made again while the QR is shown (every [`MAX_AGE`] / 2
/// or so), since a desk accepts it for [`MAX_AGE`].
pub fn present_offline(
    credential: &CompactCredential,
    device: &dyn Signer,
    now: OffsetDateTime,
) -> Result<Vec<u8>, OfflineError> {
    let bound = credential
        .claims
        .device_key
        .as_ref()
        .map(VerifyingKey::sec1);
    if bound != Some(device.verifying_key().sec1()) {
        return Err(OfflineError::NotTheDeviceKey);
    }
    let presented_at = unix(now);
    let signed = CoseSign1::sign(
        device,
        &authentication_bytes(&credential.bytes, &credential.claims.purpose, presented_at),
        &[],
        true,
    )
    .map_err(OfflineError::Signing)?;
    let mut out = Out::with_capacity(credential.bytes.len() + 100);
    out.array(4)
        .uint(VERSION)
        .bytes(&credential.bytes)
        .uint(presented_at);
    let mut auth = Vec::with_capacity(80);
    signed
        .encode(&mut minicbor::Encoder::new(&mut auth))
        .map_err(|_| OfflineError::Unreadable(MdocError::Malformed("device_auth")))?;
    out.raw(&auth);
    Ok(out.0)
}

/// An issuer key a desk accepts compact credentials from.
#[derive(Debug, Clone)]
pub struct OfflineIssuerKey {
    /// The issuer's trust-list id.
    pub issuer: String,
    /// The key's identifier ([`key_id`]).
    pub kid: [u8; KID_LEN],
    /// The key.
    pub key: VerifyingKey,
}

/// What a desk checks a presentation against.
#[derive(Debug, Clone, Copy)]
pub struct OfflineCheck<'a> {
    /// The issuers' offline keys from the trust list.
    pub keys: &'a [OfflineIssuerKey],
    /// The desk's purpose.
    pub purpose: &'a str,
    /// Now.
    pub now: OffsetDateTime,
}

/// A presentation that passed every check of this format.
#[derive(Debug, Clone)]
pub struct VerifiedOffline {
    /// The issuer whose key signed the credential.
    pub issuer: String,
    /// The credential's claims.
    pub claims: CompactClaims,
    /// When the phone made the presentation; for a printed code, when it was printed
    /// (`iat`).
    pub presented_at: OffsetDateTime,
    /// Whether it is a printed code (version 2, bound to no device): the desk's replay
    /// memory does not apply, and only a purpose whose catalogue allows paper accepts it.
    pub printed: bool,
    /// What identifies the code for a desk's replay memory: SHA-256 of the credential, the
    /// second it was presented and the `r` of the device's signature — not of the
    /// presentation's bytes, which a copier could re-encode (a longer CBOR head) or re-sign
    /// (ECDSA's `s` ↔ `n − s`, same `r`) into other bytes that still verify.
    pub digest: [u8; 32],
}

/// The desk's side: every check, in order — structure and version, the issuer key by `kid`,
/// the issuer signature, the credential's validity, the purpose; then for a phone's code
/// the presentation's age and the device signature, for a printed code that it is bound to
/// no device and valid for at most [`PAPER_MAX_VALIDITY`]. Status and acceptance policy
/// come after (the verifier's), and so does whether the purpose accepts paper.
pub fn verify_offline(
    bytes: &[u8],
    check: &OfflineCheck<'_>,
) -> Result<VerifiedOffline, OfflineError> {
    if bytes.len() > crate::MAX_LEN {
        return Err(MdocError::TooLarge.into());
    }
    let mut d = Decoder::new(bytes);
    let members = array_len(&mut d, "offline presentation")?;
    // The version first: a later version may be shaped differently after it.
    let version = d.u64().map_err(malformed("version"))?;
    let (credential_bytes, shown) = match (version, members) {
        (VERSION, 4) => {
            let credential = d.bytes().map_err(malformed("credential"))?;
            let presented_at = d.u64().map_err(malformed("presented_at"))?;
            (credential, Some((presented_at, CoseSign1::decode(&mut d)?)))
        }
        (PAPER_VERSION, 2) => (d.bytes().map_err(malformed("credential"))?, None),
        (VERSION, _) => {
            return Err(MdocError::Malformed("an offline presentation has 4 members").into());
        }
        (PAPER_VERSION, _) => {
            return Err(MdocError::Malformed("a printed code has 2 members").into());
        }
        (version, _) => return Err(OfflineError::UnsupportedVersion(version)),
    };
    if d.position() != bytes.len() {
        return Err(MdocError::TrailingData.into());
    }
    let credential = CompactCredential::from_cbor(credential_bytes)?;
    let kid = credential
        .signed
        .headers
        .kid
        .as_deref()
        .ok_or(MdocError::Malformed("compact credential without kid"))?;
    credential.signed.algorithm()?;
    let mut candidates = check.keys.iter().filter(|k| k.kid[..] == *kid).peekable();
    if candidates.peek().is_none() {
        return Err(OfflineError::UnknownIssuerKey);
    }
    let mut issuer = None;
    for candidate in candidates {
        match credential
            .signed
            .verify(&candidate.key, None, MdocError::IssuerSignature)
        {
            Ok(()) => {
                issuer = Some(candidate);
                break;
            }
            Err(MdocError::IssuerSignature) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let issuer = issuer.ok_or(OfflineError::IssuerSignature)?;
    let claims = credential.claims;
    // A printed code may be read seconds after it was signed: the clocks' leeway.
    if check.now + CLOCK_LEEWAY < claims.issued_at {
        return Err(OfflineError::NotYetValid);
    }
    if check.now >= claims.expires_at {
        return Err(OfflineError::Expired);
    }
    if claims.purpose != check.purpose {
        return Err(OfflineError::PurposeMismatch {
            presented: claims.purpose,
            expected: check.purpose.to_owned(),
        });
    }
    let Some((presented_at, device_auth)) = shown else {
        // A printed code: nothing is signed when it is shown.
        if claims.device_key.is_some() {
            return Err(OfflineError::DeviceBound);
        }
        paper_validity(claims.expires_at - claims.issued_at)?;
        return Ok(VerifiedOffline {
            issuer: issuer.issuer.clone(),
            presented_at: claims.issued_at,
            claims,
            printed: true,
            digest: sha256(credential_bytes),
        });
    };
    let device_key = claims
        .device_key
        .as_ref()
        .ok_or(OfflineError::NotBoundToADevice)?;
    let made = i64::try_from(presented_at)
        .ok()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .ok_or(MdocError::Malformed("presented_at"))?;
    let age = check.now - made;
    if age > MAX_AGE {
        return Err(OfflineError::TooOld {
            seconds: age.whole_seconds(),
        });
    }
    if -age > CLOCK_LEEWAY {
        return Err(OfflineError::FromTheFuture {
            seconds: (-age).whole_seconds(),
        });
    }
    device_auth
        .verify(
            device_key,
            Some(&authentication_bytes(
                credential_bytes,
                &claims.purpose,
                presented_at,
            )),
            MdocError::DeviceSignature,
        )
        .map_err(|e| match e {
            MdocError::DeviceSignature => OfflineError::DeviceSignature,
            e => OfflineError::Unreadable(e),
        })?;
    Ok(VerifiedOffline {
        issuer: issuer.issuer.clone(),
        claims,
        presented_at: made,
        printed: false,
        digest: sha256(
            &[
                credential_bytes,
                &presented_at.to_be_bytes(),
                // ECDSA's r: the same for s and n − s, new for every signature the phone makes.
                device_auth.signature.get(..32).unwrap_or_default(),
            ]
            .concat(),
        ),
    })
}
