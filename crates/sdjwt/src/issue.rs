//! Issuing an SD-JWT VC (RFC 9901 §4, draft-ietf-oauth-sd-jwt-vc §3).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use eid_core::Random;
use eid_crypto::{Signer, VerifyingKey, b64url, sha256};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::{SdJwtError, StatusListReference, TYP_SD_JWT_VC};

/// Claims that are never selectively disclosable: the verifier needs them to check the
/// credential at all (draft-ietf-oauth-sd-jwt-vc §3.2.2).
pub const ALWAYS_DISCLOSED: [&str; 7] = ["iss", "iat", "nbf", "exp", "vct", "cnf", "status"];

/// What to issue.
pub struct IssueRequest<'a> {
    /// The credential's claims. Every top-level claim except [`ALWAYS_DISCLOSED`] becomes
    /// selectively disclosable; the listed ones stay in the clear (values set below win).
    pub claims: &'a Map<String, Value>,
    /// The credential type (`vct`).
    pub vct: &'a str,
    /// The issuer identifier (`iss`), if any.
    pub issuer: Option<&'a str>,
    /// The holder's device key, put in `cnf.jwk`.
    pub holder_key: &'a VerifyingKey,
    /// `iat`.
    pub issued_at: OffsetDateTime,
    /// `exp`, if the credential expires.
    pub expires_at: Option<OffsetDateTime>,
    /// `status.status_list`, if the credential has one.
    pub status: Option<StatusListReference>,
    /// The DS certificate chain (DER, DS first) for the `x5c` header.
    pub x5c: &'a [Vec<u8>],
    /// How many decoy digests to add to `_sd` (RFC 9901 §4.2.5), hiding how many claims
    /// the credential has.
    pub decoys: usize,
}

/// Random bytes for every salt and decoy of one credential, drawn in one call: one system
/// call instead of one per claim (RFC 9901 §4.2.1 recommends 128-bit salts).
struct Salts(Vec<u8>);

impl Salts {
    fn draw(count: usize, random: &dyn Random) -> Result<Self, SdJwtError> {
        let mut bytes = vec![0u8; count * 16];
        random
            .fill(&mut bytes)
            .map_err(|_| SdJwtError::Crypto(eid_crypto::CryptoError::SigningFailed))?;
        Ok(Self(bytes))
    }

    fn next(&mut self) -> Result<String, SdJwtError> {
        let at = self
            .0
            .len()
            .checked_sub(16)
            .ok_or(SdJwtError::Malformed("ran out of salts"))?;
        let salt = b64url(&self.0[at..]);
        self.0.truncate(at);
        Ok(salt)
    }
}

/// Issues the compact SD-JWT, ending in `~`, with every disclosure.
pub fn issue(
    request: &IssueRequest<'_>,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<String, SdJwtError> {
    let mut salts = Salts::draw(request.claims.len() + request.decoys, random)?;
    // The disclosures' text, written once in the order of the claims, each followed by `~`.
    let mut disclosures = String::with_capacity(64 * request.claims.len());
    let mut digests = Vec::with_capacity(request.claims.len() + request.decoys);
    let mut json = Vec::with_capacity(128);
    for (name, value) in request.claims {
        if ALWAYS_DISCLOSED.contains(&name.as_str()) {
            continue;
        }
        if name == "_sd" || name == "_sd_alg" || name == "..." || has_reserved(value) {
            return Err(SdJwtError::ClaimNameCollision);
        }
        // [salt, name, value] (RFC 9901 §4.2.1), serialised straight from the claim.
        json.clear();
        json.push(b'[');
        serde_json::to_writer(&mut json, &salts.next()?)
            .map_err(|_| SdJwtError::Malformed("salt"))?;
        json.push(b',');
        serde_json::to_writer(&mut json, name).map_err(|_| SdJwtError::Malformed("claim name"))?;
        json.push(b',');
        serde_json::to_writer(&mut json, value)
            .map_err(|_| SdJwtError::Malformed("claim value"))?;
        json.push(b']');
        let start = disclosures.len();
        URL_SAFE_NO_PAD.encode_string(&json, &mut disclosures);
        digests.push(b64url(&sha256(&disclosures.as_bytes()[start..])));
        disclosures.push('~');
    }
    for _ in 0..request.decoys {
        digests.push(b64url(&sha256(salts.next()?.as_bytes())));
    }
    // Sorted, so that the order reveals neither the claims' order nor which are decoys.
    digests.sort();

    // The payload, written straight to JSON: the request's always-disclosed claims (those
    // eid sets below win), then `_sd`, `_sd_alg` and eid's own.
    let mut payload = Vec::with_capacity(256 + 48 * digests.len());
    let mut first = true;
    payload.push(b'{');
    let overridden = |name: &str| match name {
        "iss" => request.issuer.is_some(),
        "exp" => request.expires_at.is_some(),
        "status" => request.status.is_some(),
        "vct" | "iat" | "cnf" => true,
        _ => false,
    };
    for (name, value) in request.claims {
        if ALWAYS_DISCLOSED.contains(&name.as_str()) && !overridden(name) {
            member(&mut payload, &mut first, name, value)?;
        }
    }
    member(&mut payload, &mut first, "_sd", &digests)?;
    member(&mut payload, &mut first, "_sd_alg", "sha-256")?;
    if let Some(iss) = request.issuer {
        member(&mut payload, &mut first, "iss", iss)?;
    }
    member(&mut payload, &mut first, "vct", request.vct)?;
    member(
        &mut payload,
        &mut first,
        "iat",
        &request.issued_at.unix_timestamp(),
    )?;
    if let Some(exp) = request.expires_at {
        member(&mut payload, &mut first, "exp", &exp.unix_timestamp())?;
    }
    member(
        &mut payload,
        &mut first,
        "cnf",
        &json!({ "jwk": request.holder_key.to_jwk() }),
    )?;
    if let Some(status) = &request.status {
        member(
            &mut payload,
            &mut first,
            "status",
            &json!({ "status_list": status }),
        )?;
    }
    payload.push(b'}');

    let mut header = Vec::with_capacity(
        64 + request
            .x5c
            .iter()
            .map(|c| c.len() * 4 / 3 + 4)
            .sum::<usize>(),
    );
    let mut first = true;
    header.push(b'{');
    member(
        &mut header,
        &mut first,
        "alg",
        signer.algorithm().jose_name(),
    )?;
    member(&mut header, &mut first, "typ", TYP_SD_JWT_VC)?;
    if request.x5c.is_empty() {
        member(
            &mut header,
            &mut first,
            "kid",
            &signer.verifying_key().to_jwk().thumbprint(),
        )?;
    } else {
        let chain: Vec<String> = request.x5c.iter().map(|der| STANDARD.encode(der)).collect();
        member(&mut header, &mut first, "x5c", &chain)?;
    }
    header.push(b'}');

    let mut out =
        String::with_capacity((header.len() + payload.len()) * 4 / 3 + disclosures.len() + 100);
    URL_SAFE_NO_PAD.encode_string(&header, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
    let signature = signer.sign(out.as_bytes()).map_err(SdJwtError::Crypto)?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
    out.push('~');
    out.push_str(&disclosures);
    Ok(out)
}

/// Whether a claim value holds `_sd` or `...` keys, which a verifier would read as digests.
fn has_reserved(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.contains_key("_sd") || map.contains_key("...") || map.values().any(has_reserved)
        }
        Value::Array(items) => items.iter().any(has_reserved),
        _ => false,
    }
}

/// Appends `"key":value` to a JSON object being written.
fn member(
    out: &mut Vec<u8>,
    first: &mut bool,
    key: &str,
    value: &(impl serde::Serialize + ?Sized),
) -> Result<(), SdJwtError> {
    if !*first {
        out.push(b',');
    }
    *first = false;
    serde_json::to_writer(&mut *out, key).map_err(|_| SdJwtError::Malformed("claim name"))?;
    out.push(b':');
    serde_json::to_writer(&mut *out, value).map_err(|_| SdJwtError::Malformed("claim value"))
}
