//! Verification: [`UnverifiedSdJwt`] → [`VerifiedSdJwt`], every check over the bytes received.
//!
//! Order (RFC 9901 §7.1, §7.3; draft-ietf-oauth-sd-jwt-vc §3.2): size; shape; `typ`; `alg`;
//! issuer key (x5c chain to a trusted IACA, or a trusted JWK); issuer signature; `_sd_alg`;
//! every disclosure's digest, once each; validity (`nbf`, `iat`, `exp`); `vct`; key binding
//! (`cnf.jwk`, KB-JWT `typ`, signature, `aud`, `nonce`, `iat`, `sd_hash`); status.
//! Each check returns a proof value that only it constructs; [`VerifiedSdJwt`] cannot be
//! built without all of them.

use std::collections::{HashMap, HashSet};

use eid_core::status::{CredentialStatus, StatusCheck, StatusListReference};
use eid_crypto::x509::{DocumentSignerCache, TrustedIaca, verify_document_signer};
use eid_crypto::{Jwk, VerifyingKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::disclosure::digest_of;
use crate::{
    Disclosure, Jws, MAX_DEPTH, MAX_LEN, SdJwtError, TYP_KB_JWT, TYP_SD_JWT_VC,
    TYP_SD_JWT_VC_LEGACY,
};

/// A parsed SD-JWT whose parts are kept exactly as received. Nothing in it is trusted.
/// Its `Debug` form shows no claim values.
#[derive(Debug, Clone)]
pub struct UnverifiedSdJwt {
    issuer_jwt: Jws,
    disclosures: Vec<Disclosure>,
    key_binding: Option<(Jws, String)>,
}

/// The DS certificate's common name and the index of the trusted root it chained to, when
/// the issuer came by `x5c`.
type IssuerCertificate = (Option<String>, Option<usize>);

/// Where the issuer's key may come from.
#[derive(Debug, Clone, Copy)]
pub struct IssuerTrust<'a> {
    /// The trusted IACA roots, for issuer JWTs carrying the DS certificate in `x5c`.
    pub x5c: X5cTrust<'a>,
    /// Trusted issuer keys, for issuer JWTs without `x5c`.
    pub keys: &'a [VerifyingKey],
}

/// How the DS certificate in `x5c` is chained to a trusted IACA root.
#[derive(Debug, Clone, Copy)]
pub enum X5cTrust<'a> {
    /// To one of these roots, checked in full on every verification.
    Roots(&'a [TrustedIaca]),
    /// Through a verifier's cache of checked signers, to the cache's own roots: each DS
    /// certificate's chain once, the validity of the DS and of its root at every use (what
    /// a verifier does, as for mdoc: the authority puts the same DS in every credential).
    Cached(&'a DocumentSignerCache),
}

impl X5cTrust<'_> {
    /// The roots a chain may end in: [`VerifiedSdJwt::issuer_root`] indexes them.
    pub fn roots(&self) -> &[TrustedIaca] {
        match self {
            X5cTrust::Roots(roots) => roots,
            X5cTrust::Cached(cache) => cache.roots(),
        }
    }
}

/// What the verifier expects of the key binding.
#[derive(Debug, Clone)]
pub struct KeyBindingCheck<'a> {
    /// This verifier's identifier, the KB-JWT's `aud`.
    pub audience: &'a str,
    /// This transaction's nonce.
    pub nonce: &'a str,
    /// How old the KB-JWT's `iat` may be.
    pub max_age: Duration,
}

/// What verification needs besides the credential.
#[derive(Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The issuer trust anchors.
    pub trust: IssuerTrust<'a>,
    /// The time to verify at.
    pub now: OffsetDateTime,
    /// Tolerance for clocks that disagree, applied to `nbf`, `iat` and `exp`.
    pub leeway: Duration,
    /// Verify as an SD-JWT VC: `typ` `dc+sd-jwt` (or the legacy `vc+sd-jwt`), `vct` required.
    pub sd_jwt_vc: bool,
    /// The `vct` values accepted (any one of them); empty accepts any.
    pub expected_vct: &'a [&'a str],
    /// The key binding required; `None` accepts a presentation without one (and then does
    /// not check one that is present beyond its shape). Verifiers of presentations always set it.
    pub key_binding: Option<&'a KeyBindingCheck<'a>>,
    /// The status source; `None` leaves the status unchecked and says so in
    /// [`VerifiedSdJwt::status_checked`].
    pub status: Option<&'a dyn StatusCheck>,
}

/// A verified SD-JWT: only [`UnverifiedSdJwt::verify`] makes one. Its `Debug` form names
/// the disclosed claims but shows none of their values.
#[derive(Clone)]
pub struct VerifiedSdJwt {
    /// The processed payload: disclosed claims in place, `_sd`, `_sd_alg` and undisclosed
    /// digests removed.
    pub claims: Map<String, Value>,
    /// The names of the disclosed object properties, in the order of the disclosures.
    pub disclosed: Vec<String>,
    /// The issuer key that signed.
    pub issuer_key: VerifyingKey,
    /// The DS certificate's common name, when the issuer came by `x5c`.
    pub issuer_certificate: Option<String>,
    /// Which of the trusted IACA roots the `x5c` certificate chained to (an index into
    /// [`X5cTrust::roots`]); `None` when a trusted key signed without `x5c`.
    pub issuer_root: Option<usize>,
    /// The holder key from `cnf.jwk`, when present.
    pub holder_key: Option<VerifyingKey>,
    /// Whether a key binding JWT was verified.
    pub key_bound: bool,
    /// The status reference, when present.
    pub status_reference: Option<StatusListReference>,
    /// Whether the status was checked (and found valid).
    pub status_checked: bool,
    _proofs: Proofs,
}

impl std::fmt::Debug for VerifiedSdJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedSdJwt")
            .field("disclosed", &self.disclosed)
            .field("issuer_certificate", &self.issuer_certificate)
            .field("key_bound", &self.key_bound)
            .field("status_checked", &self.status_checked)
            .finish_non_exhaustive()
    }
}

/// The proofs only the checks construct.
#[derive(Debug, Clone)]
struct Proofs {
    _signature: SignatureChecked,
    _digests: DigestsChecked,
    _validity: ValidityChecked,
    _binding: BindingChecked,
    _status: StatusChecked,
}
#[derive(Debug, Clone)]
struct SignatureChecked(());
#[derive(Debug, Clone)]
struct DigestsChecked(());
#[derive(Debug, Clone)]
struct ValidityChecked(());
#[derive(Debug, Clone)]
struct BindingChecked(());
#[derive(Debug, Clone)]
struct StatusChecked(());

impl UnverifiedSdJwt {
    /// Splits `JWT~D1~…~Dn~[KB-JWT]`, decoding each part. Refuses oversized input.
    pub fn parse(compact: &str) -> Result<Self, SdJwtError> {
        if compact.len() > MAX_LEN {
            return Err(SdJwtError::TooLarge);
        }
        let Some(last_tilde) = compact.rfind('~') else {
            return Err(SdJwtError::Malformed("an SD-JWT has at least one ~"));
        };
        let (body, kb) = compact.split_at(last_tilde + 1);
        let mut parts = body[..body.len() - 1].split('~');
        let issuer_jwt = Jws::parse(parts.next().unwrap_or_default())?;
        let disclosures = parts
            .enumerate()
            .map(|(i, raw)| {
                if raw.is_empty() {
                    Err(SdJwtError::Malformed("empty disclosure between two ~"))
                } else {
                    Disclosure::parse(raw, i)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key_binding = if kb.is_empty() {
            None
        } else {
            Some((Jws::parse(kb)?, body.to_owned()))
        };
        Ok(Self {
            issuer_jwt,
            disclosures,
            key_binding,
        })
    }

    /// The issuer-signed JWT (unverified).
    pub fn issuer_jwt(&self) -> &Jws {
        &self.issuer_jwt
    }

    /// The disclosures (unverified).
    pub fn disclosures(&self) -> &[Disclosure] {
        &self.disclosures
    }

    /// Runs every check; see the module documentation for the order.
    pub fn verify(&self, options: &VerifyOptions<'_>) -> Result<VerifiedSdJwt, SdJwtError> {
        let header = self.issuer_jwt.header();
        if options.sd_jwt_vc {
            match self.issuer_jwt.typ() {
                Some(TYP_SD_JWT_VC | TYP_SD_JWT_VC_LEGACY) => {}
                other => {
                    return Err(SdJwtError::WrongType {
                        expected: TYP_SD_JWT_VC,
                        found: other.map(str::to_owned),
                    });
                }
            }
        }
        self.issuer_jwt.algorithm()?;
        let (issuer_key, (issuer_certificate, issuer_root), signature) =
            self.check_issuer_signature(header, options)?;
        let payload = self.issuer_jwt.payload();
        let (claims, disclosed, digests) = self.check_digests(payload, options.sd_jwt_vc)?;
        let validity = check_validity(payload, options)?;
        if options.sd_jwt_vc {
            let vct = payload
                .get("vct")
                .and_then(Value::as_str)
                .ok_or(SdJwtError::MissingVct)?;
            if !options.expected_vct.is_empty() && !options.expected_vct.contains(&vct) {
                return Err(SdJwtError::WrongVct);
            }
        }
        let holder_key = holder_key(payload)?;
        let (key_bound, binding) = self.check_key_binding(holder_key.as_ref(), options)?;
        let status_reference = status_reference(payload)?;
        let (status_checked, status) = check_status(status_reference.as_ref(), options)?;
        Ok(VerifiedSdJwt {
            claims,
            disclosed,
            issuer_key,
            issuer_certificate,
            issuer_root,
            holder_key,
            key_bound,
            status_reference,
            status_checked,
            _proofs: Proofs {
                _signature: signature,
                _digests: digests,
                _validity: validity,
                _binding: binding,
                _status: status,
            },
        })
    }

    fn check_issuer_signature(
        &self,
        header: &Map<String, Value>,
        options: &VerifyOptions<'_>,
    ) -> Result<(VerifyingKey, IssuerCertificate, SignatureChecked), SdJwtError> {
        if let Some(x5c) = header.get("x5c") {
            let first = x5c
                .as_array()
                .and_then(|chain| chain.first())
                .and_then(Value::as_str)
                .ok_or(SdJwtError::Malformed(
                    "x5c is not an array of base64 certificates",
                ))?;
            let der = eid_crypto::b64_decode(first)
                .map_err(|_| SdJwtError::Malformed("x5c is not an array of base64 certificates"))?;
            let ds = match options.trust.x5c {
                X5cTrust::Roots(roots) => verify_document_signer(&der, roots, options.now),
                X5cTrust::Cached(cache) => cache.verify(&der, options.now),
            }
            .map_err(SdJwtError::IssuerCertificate)?;
            self.issuer_jwt.verify(&ds.key).map_err(signature_error)?;
            return Ok((
                ds.key,
                (ds.common_name, Some(ds.iaca_index)),
                SignatureChecked(()),
            ));
        }
        if options.trust.keys.is_empty() {
            return Err(SdJwtError::UntrustedIssuer);
        }
        for key in options.trust.keys {
            match self.issuer_jwt.verify(key) {
                Ok(()) => return Ok((key.clone(), (None, None), SignatureChecked(()))),
                Err(eid_crypto::CryptoError::BadSignature) => {}
                Err(e) => return Err(signature_error(e)),
            }
        }
        Err(SdJwtError::IssuerSignature)
    }

    fn check_digests(
        &self,
        payload: &Map<String, Value>,
        sd_jwt_vc: bool,
    ) -> Result<Processed, SdJwtError> {
        match payload.get("_sd_alg") {
            None => {}
            Some(Value::String(alg)) if alg == "sha-256" => {}
            Some(other) => {
                return Err(SdJwtError::UnsupportedSdAlg(
                    other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_owned),
                ));
            }
        }
        let mut by_digest: HashMap<&str, usize> = HashMap::new();
        for (i, d) in self.disclosures.iter().enumerate() {
            if by_digest.insert(d.digest(), i).is_some() {
                return Err(SdJwtError::DuplicateDigest);
            }
        }
        let mut state = Processing {
            disclosures: &self.disclosures,
            by_digest,
            used: vec![false; self.disclosures.len()],
            seen: HashSet::new(),
            sd_jwt_vc,
        };
        let mut claims = payload.clone();
        claims.remove("_sd_alg");
        let mut processed = Value::Object(claims);
        state.process(&mut processed, 0)?;
        if let Some(index) = state.used.iter().position(|used| !used) {
            return Err(SdJwtError::UnreferencedDisclosure { index });
        }
        let Value::Object(claims) = processed else {
            return Err(SdJwtError::Malformed("the payload is not an object"));
        };
        let disclosed = self
            .disclosures
            .iter()
            .filter_map(|d| d.name.clone())
            .collect();
        Ok((claims, disclosed, DigestsChecked(())))
    }

    fn check_key_binding(
        &self,
        holder_key: Option<&VerifyingKey>,
        options: &VerifyOptions<'_>,
    ) -> Result<(bool, BindingChecked), SdJwtError> {
        let Some(expected) = options.key_binding else {
            return Ok((false, BindingChecked(())));
        };
        let Some((kb, presented)) = &self.key_binding else {
            return Err(SdJwtError::MissingKeyBinding);
        };
        let holder_key = holder_key.ok_or(SdJwtError::MissingHolderKey)?;
        if kb.typ() != Some(TYP_KB_JWT) {
            return Err(SdJwtError::WrongType {
                expected: TYP_KB_JWT,
                found: kb.typ().map(str::to_owned),
            });
        }
        kb.algorithm()?;
        kb.verify(holder_key).map_err(|e| match e {
            eid_crypto::CryptoError::BadSignature => SdJwtError::KeyBindingSignature,
            other => SdJwtError::Algorithm(other),
        })?;
        let claims = kb.payload();
        if claims.get("aud").and_then(Value::as_str) != Some(expected.audience) {
            return Err(SdJwtError::WrongAudience);
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(expected.nonce) {
            return Err(SdJwtError::WrongNonce);
        }
        let iat = numeric_date(claims, "iat")?.ok_or(SdJwtError::BadTime("iat"))?;
        let (earliest, latest) = window(
            options.now,
            expected
                .max_age
                .checked_add(options.leeway)
                .ok_or(SdJwtError::KeyBindingTime)?,
            options.leeway,
        )
        .map_err(|_| SdJwtError::KeyBindingTime)?;
        if iat > latest || iat < earliest {
            return Err(SdJwtError::KeyBindingTime);
        }
        // RFC 9901 §4.3.1: the hash of everything before the KB-JWT, as received.
        if claims.get("sd_hash").and_then(Value::as_str) != Some(digest_of(presented).as_str()) {
            return Err(SdJwtError::SdHashMismatch);
        }
        Ok((true, BindingChecked(())))
    }
}

fn signature_error(e: eid_crypto::CryptoError) -> SdJwtError {
    match e {
        eid_crypto::CryptoError::BadSignature => SdJwtError::IssuerSignature,
        other => SdJwtError::Algorithm(other),
    }
}

/// The processed claims, the disclosed names, and the proof that every digest was checked.
type Processed = (Map<String, Value>, Vec<String>, DigestsChecked);

/// RFC 9901 §7.1 steps 3–5: replace digests by what their disclosures disclose.
struct Processing<'a> {
    disclosures: &'a [Disclosure],
    by_digest: HashMap<&'a str, usize>,
    used: Vec<bool>,
    seen: HashSet<String>,
    sd_jwt_vc: bool,
}

impl Processing<'_> {
    /// The disclosure of `digest`, if one came; a digest met twice is an error. The
    /// digest is kept (moved, not copied) to find repeats.
    fn take(&mut self, digest: String) -> Result<Option<usize>, SdJwtError> {
        let found = self.by_digest.get(digest.as_str()).copied();
        if !self.seen.insert(digest) {
            return Err(SdJwtError::DuplicateDigest);
        }
        Ok(found.inspect(|&i| self.used[i] = true))
    }

    fn process(&mut self, value: &mut Value, depth: usize) -> Result<(), SdJwtError> {
        if depth > MAX_DEPTH {
            return Err(SdJwtError::TooLarge);
        }
        match value {
            Value::Object(map) => {
                let sd = map.remove("_sd");
                // The values the issuer wrote in the clear first, then the disclosed ones
                // (already processed when inserted): nothing is processed twice.
                for (_, v) in map.iter_mut() {
                    self.process(v, depth + 1)?;
                }
                let Some(sd) = sd else {
                    return Ok(());
                };
                let Value::Array(digests) = sd else {
                    return Err(SdJwtError::MalformedSd);
                };
                for digest in digests {
                    let Value::String(digest) = digest else {
                        return Err(SdJwtError::MalformedSd);
                    };
                    let Some(i) = self.take(digest)? else {
                        continue; // a decoy, or a claim not disclosed
                    };
                    let d = &self.disclosures[i];
                    let Some(name) = &d.name else {
                        return Err(SdJwtError::DisclosureShape);
                    };
                    if name == "_sd" || name == "..." || map.contains_key(name) {
                        return Err(SdJwtError::ClaimNameCollision);
                    }
                    // draft-ietf-oauth-sd-jwt-vc §3.2.2.2: these must be in the clear, or a
                    // holder could hide an expiry or a status.
                    if depth == 0
                        && self.sd_jwt_vc
                        && crate::issue::VC_NEVER_DISCLOSABLE.contains(&name.as_str())
                    {
                        return Err(SdJwtError::ClaimNameCollision);
                    }
                    let mut disclosed = d.value.clone();
                    self.process(&mut disclosed, depth + 1)?;
                    map.insert(name.clone(), disclosed);
                }
            }
            Value::Array(items) => {
                let mut kept = Vec::with_capacity(items.len());
                for mut item in std::mem::take(items) {
                    let digest = match &item {
                        Value::Object(map) if map.len() == 1 && map.contains_key("...") => Some(
                            map.get("...")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                                .ok_or(SdJwtError::MalformedSd)?,
                        ),
                        _ => None,
                    };
                    match digest {
                        Some(digest) => {
                            let Some(i) = self.take(digest)? else {
                                continue;
                            };
                            let d = &self.disclosures[i];
                            if d.name.is_some() {
                                return Err(SdJwtError::DisclosureShape);
                            }
                            let mut disclosed = d.value.clone();
                            self.process(&mut disclosed, depth + 1)?;
                            kept.push(disclosed);
                        }
                        None => {
                            self.process(&mut item, depth + 1)?;
                            kept.push(item);
                        }
                    }
                }
                *items = kept;
            }
            _ => {}
        }
        Ok(())
    }
}

fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<OffsetDateTime>, SdJwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => {
            let seconds = v
                .as_i64()
                .or_else(|| v.as_f64().map(|f| f.floor() as i64))
                .ok_or(SdJwtError::BadTime(name))?;
            OffsetDateTime::from_unix_timestamp(seconds)
                .map(Some)
                .map_err(|_| SdJwtError::BadTime(name))
        }
    }
}

/// `(now - before, now + after)`, refusing a window outside the representable range.
fn window(
    now: OffsetDateTime,
    before: Duration,
    after: Duration,
) -> Result<(OffsetDateTime, OffsetDateTime), SdJwtError> {
    let earliest = now
        .checked_sub(before)
        .ok_or(SdJwtError::BadTime("now - leeway"))?;
    let latest = now
        .checked_add(after)
        .ok_or(SdJwtError::BadTime("now + leeway"))?;
    Ok((earliest, latest))
}

fn check_validity(
    payload: &Map<String, Value>,
    options: &VerifyOptions<'_>,
) -> Result<ValidityChecked, SdJwtError> {
    // Arithmetic only on the verifier's own time and leeway, never on the credential's
    // values (an `exp` in the year 9999 plus a leeway would overflow).
    let (earliest, latest) = window(options.now, options.leeway, options.leeway)?;
    if numeric_date(payload, "exp")?.is_some_and(|exp| earliest >= exp) {
        return Err(SdJwtError::Expired);
    }
    let not_before = |name| -> Result<bool, SdJwtError> {
        Ok(numeric_date(payload, name)?.is_some_and(|t| latest < t))
    };
    if not_before("nbf")? || not_before("iat")? {
        return Err(SdJwtError::NotYetValid);
    }
    Ok(ValidityChecked(()))
}

fn holder_key(payload: &Map<String, Value>) -> Result<Option<VerifyingKey>, SdJwtError> {
    let Some(cnf) = payload.get("cnf") else {
        return Ok(None);
    };
    let jwk = cnf.get("jwk").ok_or(SdJwtError::MissingHolderKey)?;
    // Read in place: a `&Value` is a deserializer, no copy of the key's members needed.
    let jwk = Jwk::deserialize(jwk).map_err(|_| SdJwtError::MissingHolderKey)?;
    jwk.verifying_key()
        .map(Some)
        .map_err(|_| SdJwtError::MissingHolderKey)
}

fn status_reference(
    payload: &Map<String, Value>,
) -> Result<Option<StatusListReference>, SdJwtError> {
    let Some(status) = payload.get("status") else {
        return Ok(None);
    };
    let list = status
        .get("status_list")
        .ok_or(SdJwtError::MalformedStatus)?;
    StatusListReference::deserialize(list)
        .map(Some)
        .map_err(|_| SdJwtError::MalformedStatus)
}

fn check_status(
    reference: Option<&StatusListReference>,
    options: &VerifyOptions<'_>,
) -> Result<(bool, StatusChecked), SdJwtError> {
    let (Some(reference), Some(source)) = (reference, options.status) else {
        return Ok((false, StatusChecked(())));
    };
    match source
        .status(reference)
        .map_err(SdJwtError::StatusUnavailable)?
    {
        CredentialStatus::Valid => Ok((true, StatusChecked(()))),
        CredentialStatus::Invalid => Err(SdJwtError::Status("INVALID (revoked)")),
        CredentialStatus::Suspended => Err(SdJwtError::Status("SUSPENDED")),
    }
}
