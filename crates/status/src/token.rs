//! Status List Tokens (draft-ietf-oauth-status-list §5): the list signed by its issuer, as
//! a JWT (`typ` `statuslist+jwt`) or a CWT (COSE_Sign1, `typ` `application/statuslist+cwt`),
//! and reading one back: signature to a trusted key, type, `sub`, `iat`, `exp`, `ttl`.
//!
//! ```text
//! JWT payload: { "sub": uri, "iat": n, ? "exp": n, ? "ttl": n, "status_list": StatusList }
//! CWT claims:  { 2: uri, 6: n, ? 4: n, ? 65534: n, 65533: StatusList }
//! ```

use eid_core::status::StatusListReference;
use eid_crypto::x509::{TrustedIaca, verify_document_signer};
use eid_crypto::{CryptoError, Signer, VerifyingKey};
use eid_mdoc::cose::{CoseSign1, to_be_signed};
use eid_sdjwt::Jws;
use minicbor::{Decoder, Encoder};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::StatusError;
use crate::list::{DEFAULT_MAX_INFLATED, StatusList};

/// `typ` of the JWT form (§5.1).
pub const TYP_JWT: &str = "statuslist+jwt";
/// `typ` of the CWT form (§5.2), COSE header 16.
pub const TYP_CWT: &str = "application/statuslist+cwt";

const CLAIM_SUB: i64 = 2;
const CLAIM_EXP: i64 = 4;
const CLAIM_IAT: i64 = 6;
const CLAIM_TTL: i64 = 65534;
const CLAIM_STATUS_LIST: i64 = 65533;
/// The referenced token's `status` claim in a CWT (§6.3).
const CLAIM_STATUS: i64 = 65535;

/// The largest token eid reads (the compressed list is inside it).
pub const MAX_TOKEN_LEN: usize = 8 << 20;

/// A token's two forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// Compact JWS.
    Jwt,
    /// COSE_Sign1, tagged 18.
    Cwt,
}

/// How the token names its signer.
#[derive(Debug, Clone, Copy)]
pub enum SignerRef<'a> {
    /// The DS certificate chain (DER, signer first): `x5c` / COSE `x5chain`, validated by
    /// readers to a trusted IACA root.
    Certificates(&'a [Vec<u8>]),
    /// A key id for readers that trust the key itself.
    KeyId(&'a str),
}

/// What a status list token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListToken {
    /// `sub`: the URI the list is published at, which referenced tokens name.
    pub uri: String,
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `exp`, after which the list must not be used.
    pub expires_at: Option<OffsetDateTime>,
    /// `ttl` in seconds: how long a reader may cache it before fetching again.
    pub ttl: Option<u64>,
    /// The list.
    pub list: StatusList,
}

impl StatusListToken {
    /// Signs the JWT form.
    pub fn sign_jwt(&self, signer: &dyn Signer, by: SignerRef<'_>) -> Result<String, StatusError> {
        let mut header = Map::new();
        header.insert("alg".into(), signer.algorithm().jose_name().into());
        header.insert("typ".into(), TYP_JWT.into());
        match by {
            SignerRef::Certificates(chain) => {
                use base64::Engine;
                let chain: Vec<Value> = chain
                    .iter()
                    .map(|der| base64::engine::general_purpose::STANDARD.encode(der).into())
                    .collect();
                header.insert("x5c".into(), Value::Array(chain));
            }
            SignerRef::KeyId(kid) => {
                header.insert("kid".into(), kid.into());
            }
        }
        let mut payload = Map::new();
        payload.insert("sub".into(), self.uri.clone().into());
        payload.insert("iat".into(), self.issued_at.unix_timestamp().into());
        if let Some(exp) = self.expires_at {
            payload.insert("exp".into(), exp.unix_timestamp().into());
        }
        if let Some(ttl) = self.ttl {
            payload.insert("ttl".into(), ttl.into());
        }
        payload.insert("status_list".into(), self.list.to_json());
        Jws::sign(&header, &payload, signer).map_err(|e| match e {
            eid_sdjwt::SdJwtError::Crypto(c) => StatusError::Signing(c),
            _ => StatusError::Signing(CryptoError::SigningFailed),
        })
    }

    /// Signs the CWT form: a COSE_Sign1 tagged 18 with `alg` and `typ` protected and the
    /// certificate chain or key id unprotected (as the draft's example).
    pub fn sign_cwt(&self, signer: &dyn Signer, by: SignerRef<'_>) -> Result<Vec<u8>, StatusError> {
        let mut claims = Vec::with_capacity(self.list.as_bytes().len() / 4 + 128);
        let mut e = Encoder::new(&mut claims);
        let count = 3 + u64::from(self.expires_at.is_some()) + u64::from(self.ttl.is_some());
        let _ = e
            .map(count)
            .and_then(|e| e.i64(CLAIM_SUB))
            .and_then(|e| e.str(&self.uri))
            .and_then(|e| e.i64(CLAIM_IAT))
            .and_then(|e| e.i64(self.issued_at.unix_timestamp()));
        if let Some(exp) = self.expires_at {
            let _ = e.i64(CLAIM_EXP).and_then(|e| e.i64(exp.unix_timestamp()));
        }
        if let Some(ttl) = self.ttl {
            let _ = e.i64(CLAIM_TTL).and_then(|e| e.u64(ttl));
        }
        let _ = e.i64(CLAIM_STATUS_LIST);
        self.list.encode_cbor(&mut e);
        cose_sign1(&claims, TYP_CWT, signer, by)
    }
}

/// A COSE_Sign1 tagged 18 over `payload`, with `alg` and `typ` protected and the
/// certificate chain or key id unprotected (as the draft's example).
pub fn cose_sign1(
    payload: &[u8],
    typ: &str,
    signer: &dyn Signer,
    by: SignerRef<'_>,
) -> Result<Vec<u8>, StatusError> {
    let mut protected = Vec::with_capacity(32);
    let _ = Encoder::new(&mut protected)
        .map(2)
        .and_then(|e| e.i64(1))
        .and_then(|e| e.i64(signer.algorithm().cose_id()))
        .and_then(|e| e.i64(16))
        .and_then(|e| e.str(typ));
    let signature = signer
        .sign(&to_be_signed("Signature1", &protected, payload))
        .map_err(StatusError::Signing)?;
    let mut out = Vec::with_capacity(payload.len() + 1024);
    let mut e = Encoder::new(&mut out);
    let _ = e
        .tag(minicbor::data::Tag::new(18))
        .and_then(|e| e.array(4))
        .and_then(|e| e.bytes(&protected));
    let _ = match by {
        SignerRef::Certificates([one]) => {
            e.map(1).and_then(|e| e.i64(33)).and_then(|e| e.bytes(one))
        }
        SignerRef::Certificates(chain) => {
            let _ = e
                .map(1)
                .and_then(|e| e.i64(33))
                .and_then(|e| e.array(chain.len() as u64));
            chain.iter().try_fold(&mut e, |e, cert| e.bytes(cert))
        }
        SignerRef::KeyId(kid) => e
            .map(1)
            .and_then(|e| e.i64(4))
            .and_then(|e| e.bytes(kid.as_bytes())),
    };
    let _ = e.bytes(payload).and_then(|e| e.bytes(&signature));
    Ok(out)
}

/// Reads a COSE_Sign1 whose protected `typ` must be `typ`, verified by a trusted signer:
/// its payload and who signed it.
pub(crate) fn open_cose_sign1(
    bytes: &[u8],
    typ: &'static str,
    options: &ReadOptions<'_>,
) -> Result<(Vec<u8>, SignedBy), StatusError> {
    if bytes.len() > MAX_TOKEN_LEN {
        return Err(StatusError::TooLarge(MAX_TOKEN_LEN));
    }
    let mut d = Decoder::new(bytes);
    let cose = CoseSign1::decode(&mut d).map_err(|_| StatusError::Malformed("not a COSE_Sign1"))?;
    if d.position() != bytes.len() {
        return Err(StatusError::Malformed("bytes after the COSE_Sign1"));
    }
    if cose.headers.typ.as_deref() != Some(typ) {
        return Err(StatusError::WrongType {
            found: cose.headers.typ.clone(),
            expected: typ,
        });
    }
    // Before the signature, which would otherwise be checked over no bytes: a detached
    // payload gets its own error, not the signature's.
    let no_payload = || StatusError::Malformed("the COSE_Sign1 has no payload");
    if cose.payload.is_none() {
        return Err(no_payload());
    }
    let signer = signer_key(
        cose.headers.x5chain.first().map(Vec::as_slice),
        &|key| {
            cose.verify(key, None, eid_mdoc::MdocError::IssuerSignature)
                .map_err(|e| match e {
                    eid_mdoc::MdocError::IssuerSignature => StatusError::BadSignature,
                    eid_mdoc::MdocError::MissingAlgorithm => StatusError::MissingAlgorithm,
                    eid_mdoc::MdocError::Algorithm(c) => StatusError::Algorithm(c),
                    _ => StatusError::Malformed("COSE"),
                })
        },
        options,
    )?;
    let payload = cose.payload.ok_or_else(no_payload)?;
    Ok((payload, signer))
}

/// The keys a reader trusts for status lists.
#[derive(Debug, Clone, Copy)]
pub struct TokenTrust<'a> {
    /// IACA roots: tokens carrying a DS certificate chain must validate to one of them.
    pub roots: &'a [TrustedIaca],
    /// Keys trusted directly, for tokens that carry none.
    pub keys: &'a [VerifyingKey],
}

/// How to read a token.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions<'a> {
    /// Trusted signers: for a credential's status, only its own issuer's roots and keys
    /// (another issuer could otherwise answer for it under any `sub`).
    pub trust: TokenTrust<'a>,
    /// The reader's time, for `iat`, `exp` and the certificate's validity.
    pub now: OffsetDateTime,
    /// Cap on the inflated list.
    pub max_inflated: usize,
    expected_uri: Option<&'a str>,
}

impl<'a> ReadOptions<'a> {
    /// Options for a token fetched from `uri`: its `sub` must equal it (§8.3), with the
    /// default inflation cap.
    pub fn new(trust: TokenTrust<'a>, now: OffsetDateTime, uri: &'a str) -> Self {
        Self {
            trust,
            now,
            max_inflated: DEFAULT_MAX_INFLATED,
            expected_uri: Some(uri),
        }
    }

    /// Options that accept any `sub`: for inspecting a file, never for a credential's
    /// status (a list for another URI would answer for it).
    pub fn dangerous_any_subject(trust: TokenTrust<'a>, now: OffsetDateTime) -> Self {
        Self {
            trust,
            now,
            max_inflated: DEFAULT_MAX_INFLATED,
            expected_uri: None,
        }
    }

    /// The URI `sub` must equal, if one was given.
    pub fn expected_uri(&self) -> Option<&'a str> {
        self.expected_uri
    }
}

/// Which trusted signer a token was verified with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    /// A DS certificate chaining to `trust.roots[root]`.
    Certificate {
        /// Index into [`TokenTrust::roots`].
        root: usize,
        /// The DS certificate's common name.
        common_name: Option<String>,
    },
    /// `trust.keys[key]` directly.
    Key(usize),
}

/// A token whose signature, type, subject and times were checked. Only [`read`] makes one.
#[derive(Debug, Clone)]
pub struct VerifiedStatusList {
    /// What the token says.
    pub token: StatusListToken,
    /// The form it came in.
    pub format: TokenFormat,
    /// Who signed it, of the trusted signers given.
    pub signed_by: SignedBy,
    _checked: Checked,
}

/// Made only by [`read`] after every check.
#[derive(Debug, Clone)]
struct Checked;

/// Reads and verifies a token in either form: text starting `ey` is a JWT, anything else
/// is read as a CWT.
pub fn read(bytes: &[u8], options: &ReadOptions<'_>) -> Result<VerifiedStatusList, StatusError> {
    if bytes.len() > MAX_TOKEN_LEN {
        return Err(StatusError::TooLarge(MAX_TOKEN_LEN));
    }
    let trimmed = bytes.trim_ascii();
    if trimmed.starts_with(b"ey") {
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| StatusError::Malformed("a JWT is ASCII text"))?;
        read_jwt(text, options)
    } else {
        read_cwt(bytes, options)
    }
}

/// Finds the trusted signer: the certificate chain's root when the token carries one,
/// otherwise the first trusted key that verifies (keys of another algorithm are passed
/// over, so that a key rollover to a new algorithm does not stop the search).
fn signer_key(
    chain: Option<&[u8]>,
    verify: &dyn Fn(&VerifyingKey) -> Result<(), StatusError>,
    options: &ReadOptions<'_>,
) -> Result<SignedBy, StatusError> {
    if let Some(der) = chain {
        let ds = verify_document_signer(der, options.trust.roots, options.now)
            .map_err(StatusError::SignerCertificate)?;
        verify(&ds.key)?;
        return Ok(SignedBy::Certificate {
            root: ds.iaca_index,
            common_name: ds.common_name,
        });
    }
    for (i, key) in options.trust.keys.iter().enumerate() {
        match verify(key) {
            Ok(()) => return Ok(SignedBy::Key(i)),
            Err(
                StatusError::BadSignature
                | StatusError::Algorithm(CryptoError::AlgorithmMismatch { .. }),
            ) => {}
            Err(e) => return Err(e),
        }
    }
    Err(StatusError::UntrustedSigner)
}

fn crypto_error(e: CryptoError) -> StatusError {
    match e {
        CryptoError::BadSignature => StatusError::BadSignature,
        CryptoError::MissingAlgorithm => StatusError::MissingAlgorithm,
        other => StatusError::Algorithm(other),
    }
}

fn read_jwt(text: &str, options: &ReadOptions<'_>) -> Result<VerifiedStatusList, StatusError> {
    let jws = Jws::parse(text).map_err(|_| StatusError::Malformed("not a compact JWS"))?;
    // RFC 7515 §4.1.9: "statuslist+jwt" and "application/statuslist+jwt" are one type.
    if !matches!(jws.typ(), Some(TYP_JWT | "application/statuslist+jwt")) {
        return Err(StatusError::WrongType {
            found: jws.typ().map(str::to_owned),
            expected: TYP_JWT,
        });
    }
    let x5c = match jws.header().get("x5c") {
        None => None,
        Some(chain) => {
            use base64::Engine;
            let first = chain
                .as_array()
                .and_then(|c| c.first())
                .and_then(Value::as_str)
                .ok_or(StatusError::Malformed(
                    "x5c is not an array of base64 certificates",
                ))?;
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(first)
                    .map_err(|_| StatusError::Malformed("x5c is not base64"))?,
            )
        }
    };
    let signer = signer_key(
        x5c.as_deref(),
        &|key| jws.verify(key).map_err(crypto_error),
        options,
    )?;
    let payload = jws.payload();
    let uri = payload
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(StatusError::Malformed("sub is missing or not a string"))?;
    let time = |name: &'static str| -> Result<Option<i64>, StatusError> {
        match payload.get(name) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or(StatusError::Malformed(name)),
        }
    };
    let iat = time("iat")?.ok_or(StatusError::Malformed("iat is missing"))?;
    let exp = time("exp")?;
    let ttl = match payload.get("ttl") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(StatusError::Malformed("ttl"))?),
    };
    let list = StatusList::from_json(
        payload
            .get("status_list")
            .ok_or(StatusError::Malformed("status_list is missing"))?,
        options.max_inflated,
    )?;
    finish(uri, iat, exp, ttl, list, TokenFormat::Jwt, signer, options)
}

fn read_cwt(bytes: &[u8], options: &ReadOptions<'_>) -> Result<VerifiedStatusList, StatusError> {
    let (claims, signer) = open_cose_sign1(bytes, TYP_CWT, options)?;
    let claims = claims.as_slice();

    let bad = |_| StatusError::Malformed("the CWT claims are not a CBOR map");
    let mut d = Decoder::new(claims);
    let n = d
        .map()
        .map_err(bad)?
        .ok_or(StatusError::Malformed("indefinite-length CWT claims"))?;
    let (mut uri, mut iat, mut exp, mut ttl, mut list) = (None, None, None, None, None);
    let mut seen = Vec::with_capacity(8);
    for _ in 0..n {
        let label = match d.datatype().map_err(bad)? {
            minicbor::data::Type::String => {
                d.skip().map_err(bad)?;
                d.skip().map_err(bad)?;
                continue;
            }
            _ => d.i64().map_err(bad)?,
        };
        // RFC 8949 §5.6: a map with a repeated key is not valid; one with two status lists
        // would also inflate twice.
        if seen.contains(&label) {
            return Err(StatusError::Malformed("a CWT claim appears twice"));
        }
        seen.push(label);
        match label {
            CLAIM_SUB => uri = Some(d.str().map_err(bad)?.to_owned()),
            CLAIM_IAT => iat = Some(d.i64().map_err(bad)?),
            CLAIM_EXP => exp = Some(d.i64().map_err(bad)?),
            CLAIM_TTL => ttl = Some(d.u64().map_err(bad)?),
            CLAIM_STATUS_LIST => {
                list = Some(StatusList::decode_cbor(&mut d, options.max_inflated)?)
            }
            _ => d.skip().map_err(bad)?,
        }
    }
    if d.position() != claims.len() {
        return Err(StatusError::Malformed("bytes after the CWT claims"));
    }
    let uri = uri.ok_or(StatusError::Malformed("sub is missing"))?;
    let iat = iat.ok_or(StatusError::Malformed("iat is missing"))?;
    let list = list.ok_or(StatusError::Malformed("status_list is missing"))?;
    finish(&uri, iat, exp, ttl, list, TokenFormat::Cwt, signer, options)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the checked fields of either form"
)]
fn finish(
    uri: &str,
    iat: i64,
    exp: Option<i64>,
    ttl: Option<u64>,
    list: StatusList,
    format: TokenFormat,
    signed_by: SignedBy,
    options: &ReadOptions<'_>,
) -> Result<VerifiedStatusList, StatusError> {
    if ttl == Some(0) {
        return Err(StatusError::Malformed(
            "ttl must be a positive number of seconds",
        ));
    }
    let now = options.now.unix_timestamp();
    if iat > now {
        return Err(StatusError::IssuedInFuture(iat));
    }
    if let Some(exp) = exp
        && exp <= now
    {
        return Err(StatusError::Expired(exp));
    }
    if let Some(expected) = options.expected_uri
        && expected != uri
    {
        return Err(StatusError::WrongSubject {
            found: uri.to_owned(),
            expected: expected.to_owned(),
        });
    }
    let at = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t)
            .map_err(|_| StatusError::Malformed("time out of range"))
    };
    Ok(VerifiedStatusList {
        token: StatusListToken {
            uri: uri.to_owned(),
            issued_at: at(iat)?,
            expires_at: exp.map(at).transpose()?,
            ttl,
            list,
        },
        format,
        signed_by,
        _checked: Checked,
    })
}

/// The referenced token's `status` claim in JSON (§6.1): `{"status_list": {"idx", "uri"}}`.
pub fn reference_from_json(status: &Value) -> Result<StatusListReference, StatusError> {
    let entry = status
        .get("status_list")
        .ok_or(StatusError::Malformed("status has no status_list"))?;
    let idx = entry
        .get("idx")
        .and_then(Value::as_u64)
        .ok_or(StatusError::Malformed("status_list.idx is not a number"))?;
    let uri = entry
        .get("uri")
        .and_then(Value::as_str)
        .ok_or(StatusError::Malformed("status_list.uri is not a string"))?;
    Ok(StatusListReference {
        idx,
        uri: uri.to_owned(),
    })
}

/// The referenced token's `status` claim (65535) from CWT claims (§6.3).
pub fn reference_from_cwt_claims(claims: &[u8]) -> Result<StatusListReference, StatusError> {
    let bad = |_| StatusError::Malformed("the CWT status claim");
    let mut d = Decoder::new(claims);
    let n = d
        .map()
        .map_err(bad)?
        .ok_or(StatusError::Malformed("indefinite map"))?;
    for _ in 0..n {
        let label = if d.datatype().map_err(bad)? == minicbor::data::Type::String {
            d.skip().map_err(bad)?;
            None
        } else {
            Some(d.i64().map_err(bad)?)
        };
        if label == Some(CLAIM_STATUS) {
            let entries = d
                .map()
                .map_err(bad)?
                .ok_or(StatusError::Malformed("indefinite map"))?;
            for _ in 0..entries {
                if d.str().map_err(bad)? != "status_list" {
                    d.skip().map_err(bad)?;
                    continue;
                }
                let fields = d
                    .map()
                    .map_err(bad)?
                    .ok_or(StatusError::Malformed("indefinite map"))?;
                let (mut idx, mut uri) = (None, None);
                for _ in 0..fields {
                    match d.str().map_err(bad)? {
                        "idx" => idx = Some(d.u64().map_err(bad)?),
                        "uri" => uri = Some(d.str().map_err(bad)?.to_owned()),
                        _ => d.skip().map_err(bad)?,
                    }
                }
                let (Some(idx), Some(uri)) = (idx, uri) else {
                    return Err(StatusError::Malformed("status_list lacks idx or uri"));
                };
                return Ok(StatusListReference { idx, uri });
            }
            return Err(StatusError::Malformed("status has no status_list"));
        }
        d.skip().map_err(bad)?;
    }
    Err(StatusError::Malformed("the CWT has no status claim"))
}

/// A JSON view of a verified list's entries, for people and for the CLI.
pub fn statuses_json(list: &StatusList, indices: &[u64]) -> Result<Value, StatusError> {
    let entries = indices
        .iter()
        .map(|&index| {
            let value = list.get(index)?;
            Ok(json!({
                "index": index,
                "status": value,
                "name": crate::list::status_name(value),
            }))
        })
        .collect::<Result<Vec<_>, StatusError>>()?;
    Ok(Value::Array(entries))
}
