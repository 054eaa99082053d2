//! Issuing an SD-JWT VC (RFC 9901 §4, draft-ietf-oauth-sd-jwt-vc §3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use eid_core::Random;
use eid_crypto::{Signer, VerifyingKey, b64url_into, sha256};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::{SdJwtError, StatusListReference, TYP_SD_JWT_VC};

/// The claims draft-ietf-oauth-sd-jwt-vc §3.2.2 forbids to be selectively disclosable: a
/// verifier needs them to check the credential at all. Verification refuses them hidden.
pub const VC_NEVER_DISCLOSABLE: [&str; 7] = ["iss", "iat", "nbf", "exp", "vct", "cnf", "status"];

/// Claims eid issues in the clear: [`VC_NEVER_DISCLOSABLE`] and eid's `wallet_provider` (the
/// trust-list id of the wallet provider the credential was issued into, which acceptance
/// checks against the provider's state; not personal data).
pub const ALWAYS_DISCLOSED: [&str; 8] = [
    "iss",
    "iat",
    "nbf",
    "exp",
    "vct",
    "cnf",
    "status",
    "wallet_provider",
];

/// Whether `name` is in [`ALWAYS_DISCLOSED`] (a `match`, which compiles to length checks
/// first: issuing asks this twice per claim).
fn always_disclosed(name: &str) -> bool {
    matches!(
        name,
        "iss" | "iat" | "nbf" | "exp" | "vct" | "cnf" | "status" | "wallet_provider"
    )
}

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

    /// The next 16 random bytes.
    fn next(&mut self) -> Result<[u8; 16], SdJwtError> {
        let at = self
            .0
            .len()
            .checked_sub(16)
            .ok_or(SdJwtError::Malformed("ran out of salts"))?;
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&self.0[at..]);
        self.0.truncate(at);
        Ok(salt)
    }
}

/// Appends `data` as a JSON string of its base64url form (which needs no escaping).
fn quoted_b64(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    b64url_into(out, data);
    out.push(b'"');
}

/// Issues the compact SD-JWT, ending in `~`, with every disclosure.
///
/// Written for speed: one random draw per credential; disclosures, digests, payload and
/// header written straight into byte buffers (salts and digests in base64url need no JSON
/// escaping); the issuer key's thumbprint computed once per key.
pub fn issue(
    request: &IssueRequest<'_>,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<String, SdJwtError> {
    let mut salts = Salts::draw(request.claims.len() + request.decoys, random)?;
    // The disclosures' text, written once in the order of the claims, each followed by `~`.
    let mut disclosures = Vec::with_capacity(96 * request.claims.len());
    let mut digests = Vec::with_capacity(request.claims.len() + request.decoys);
    let mut json = Vec::with_capacity(128);
    for (name, value) in request.claims {
        if always_disclosed(name) {
            continue;
        }
        if name == "_sd" || name == "_sd_alg" || name == "..." || has_reserved(value) {
            return Err(SdJwtError::ClaimNameCollision);
        }
        // [salt, name, value] (RFC 9901 §4.2.1), serialised straight from the claim.
        json.clear();
        json.push(b'[');
        quoted_b64(&mut json, &salts.next()?);
        json.push(b',');
        json_str(&mut json, name);
        json.push(b',');
        match value {
            Value::String(text) => json_str(&mut json, text),
            other => serde_json::to_writer(&mut json, other)
                .map_err(|_| SdJwtError::Malformed("claim value"))?,
        }
        json.push(b']');
        let start = disclosures.len();
        b64url_into(&mut disclosures, &json);
        digests.push(sha256(&disclosures[start..]));
        disclosures.push(b'~');
    }
    for _ in 0..request.decoys {
        // A decoy is the digest of a base64url salt (RFC 9901 §4.2.5).
        json.clear();
        b64url_into(&mut json, &salts.next()?);
        digests.push(sha256(&json));
    }
    // Sorted, so that the order reveals neither the claims' order nor which are decoys
    // (by the first eight bytes, which differ but with probability 2^-64; then by all).
    let head = |d: &[u8; 32]| u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    digests.sort_unstable_by(|a, b| head(a).cmp(&head(b)).then_with(|| a.cmp(b)));

    // The payload, written straight to JSON: the request's always-disclosed claims (those
    // eid sets below win), then `_sd`, `_sd_alg` and eid's own.
    let mut payload = Vec::with_capacity(320 + 46 * digests.len());
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
        if always_disclosed(name) && !overridden(name) {
            member(&mut payload, &mut first, name, value)?;
        }
    }
    if !first {
        payload.push(b',');
    }
    payload.extend_from_slice(b"\"_sd\":[");
    for (i, digest) in digests.iter().enumerate() {
        if i > 0 {
            payload.push(b',');
        }
        quoted_b64(&mut payload, digest);
    }
    payload.extend_from_slice(b"],\"_sd_alg\":\"sha-256\"");
    first = false;
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
    let point = request.holder_key.sec1();
    payload.extend_from_slice(b",\"cnf\":{\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":");
    quoted_b64(&mut payload, &point[1..33]);
    payload.extend_from_slice(b",\"y\":");
    quoted_b64(&mut payload, &point[33..]);
    payload.extend_from_slice(b"}}");
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
            signer.verifying_key().thumbprint(),
        )?;
    } else {
        let chain: Vec<String> = request.x5c.iter().map(|der| STANDARD.encode(der)).collect();
        member(&mut header, &mut first, "x5c", &chain)?;
    }
    header.push(b'}');

    let mut out =
        Vec::with_capacity((header.len() + payload.len()) * 4 / 3 + disclosures.len() + 100);
    b64url_into(&mut out, &header);
    out.push(b'.');
    b64url_into(&mut out, &payload);
    let signature = signer.sign(&out).map_err(SdJwtError::Crypto)?;
    out.push(b'.');
    b64url_into(&mut out, &signature);
    out.push(b'~');
    out.extend_from_slice(&disclosures);
    // Every byte written is JSON-free base64url or one of `.~`: this cannot fail.
    String::from_utf8(out).map_err(|_| SdJwtError::Malformed("non-ASCII output"))
}

/// Appends `text` as a JSON string, escaped exactly as `serde_json` escapes (`"`, `\\` and
/// control characters; everything else as UTF-8), with a fast path for the usual string
/// that needs no escaping.
fn json_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Serialising a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_disclosed_is_the_list() {
        for name in ALWAYS_DISCLOSED {
            assert!(always_disclosed(name));
        }
        for name in ["", "is", "iss ", "status_list", "given_name", "Iss"] {
            assert!(!always_disclosed(name));
        }
    }

    /// The fast path and the fallback both write what `serde_json` writes.
    #[test]
    fn json_str_escapes_as_serde_json() {
        for text in [
            "",
            "王秀英",
            "a\"b",
            "back\\slash",
            "tab\there",
            "\u{1}\u{1f}\u{7f}",
            "é/<>",
        ] {
            let mut out = b"x".to_vec();
            json_str(&mut out, text);
            assert_eq!(
                out,
                format!("x{}", serde_json::to_string(text).unwrap()).into_bytes()
            );
        }
    }
}
