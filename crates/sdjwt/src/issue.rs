//! Issuing an SD-JWT VC (RFC 9901 §4, draft-ietf-oauth-sd-jwt-vc §3).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use eid_core::Random;
use eid_crypto::{Signer, VerifyingKey, b64url_fixed_into, b64url_push, sha256};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{SdJwtError, StatusListReference, TYP_SD_JWT_VC};

/// The claims draft-ietf-oauth-sd-jwt-vc §3.2.2 forbids to be selectively disclosable: a
/// verifier needs them to check the credential at all. Verification refuses them hidden.
pub const VC_NEVER_DISCLOSABLE: [&str; 7] = ["iss", "iat", "nbf", "exp", "vct", "cnf", "status"];

/// Claims eid issues in the clear: [`VC_NEVER_DISCLOSABLE`], eid's `wallet_provider` (the
/// trust-list id of the wallet provider the credential was issued into, which acceptance
/// checks against the provider's state; not personal data) and `delegation` (in a delegated
/// credential, the holder's relationship to the resident, which a desk must see).
pub const ALWAYS_DISCLOSED: [&str; 9] = [
    "iss",
    "iat",
    "nbf",
    "exp",
    "vct",
    "cnf",
    "status",
    "wallet_provider",
    "delegation",
];

/// Whether `name` is in [`ALWAYS_DISCLOSED`] (a `match`, which compiles to length checks
/// first: issuing asks this twice per claim).
fn always_disclosed(name: &str) -> bool {
    matches!(
        name,
        "iss" | "iat" | "nbf" | "exp" | "vct" | "cnf" | "status" | "wallet_provider" | "delegation"
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
fn quoted_b64<const N: usize>(out: &mut Vec<u8>, data: &[u8; N]) {
    out.push(b'"');
    b64url_fixed_into(out, data);
    out.push(b'"');
}

/// Issues the compact SD-JWT, ending in `~`, with every disclosure.
///
/// Written for speed: one random draw per credential; disclosures, digests, payload and
/// header written straight into byte buffers (salts and digests in base64url need no JSON
/// escaping, eid's own claims are written without `serde_json`); the issuer key's
/// thumbprint computed once per key; five buffers of its own, the output sized exactly.
pub fn issue(
    request: &IssueRequest<'_>,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<String, SdJwtError> {
    let mut salts = Salts::draw(request.claims.len() + request.decoys, random)?;
    // The disclosures' text, written once in the order of the claims, each followed by `~`.
    let mut disclosures = String::with_capacity(96 * request.claims.len());
    let mut digests = Vec::with_capacity(request.claims.len() + request.decoys);
    // One scratch buffer for each disclosure's JSON, then the header's and the payload's.
    let mut json = Vec::with_capacity(
        384 + 46 * digests.capacity()
            + request
                .x5c
                .iter()
                .map(|c| c.len() * 4 / 3 + 4)
                .sum::<usize>(),
    );
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
        json_value(&mut json, value)?;
        json.push(b']');
        let start = disclosures.len();
        b64url_push(&mut disclosures, &json);
        digests.push(sha256(&disclosures.as_bytes()[start..]));
        disclosures.push('~');
    }
    for _ in 0..request.decoys {
        // A decoy is the digest of a base64url salt (RFC 9901 §4.2.5).
        json.clear();
        b64url_fixed_into(&mut json, &salts.next()?);
        digests.push(sha256(&json));
    }
    // Sorted, so that the order reveals neither the claims' order nor which are decoys
    // (by the first eight bytes, which differ but with probability 2^-64; then by all).
    let head = |d: &[u8; 32]| u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    digests.sort_unstable_by(|a, b| head(a).cmp(&head(b)).then_with(|| a.cmp(b)));

    // The header's JSON, then the payload's after it in the same buffer.
    json.clear();
    json.extend_from_slice(b"{\"alg\":");
    json_str(&mut json, signer.algorithm().jose_name());
    json.extend_from_slice(b",\"typ\":");
    json_str(&mut json, TYP_SD_JWT_VC);
    if request.x5c.is_empty() {
        json.extend_from_slice(b",\"kid\":");
        json_str(&mut json, signer.verifying_key().thumbprint());
    } else {
        // Standard base64 (RFC 7515 §4.1.6) needs no JSON escaping either.
        json.extend_from_slice(b",\"x5c\":[");
        for (i, der) in request.x5c.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            let start = json.len() + 1;
            json.push(b'"');
            json.resize(start + base64::encoded_len(der.len(), true).unwrap_or(0), 0);
            STANDARD
                .encode_slice(der, &mut json[start..])
                .map_err(|_| SdJwtError::Malformed("x5c certificate"))?;
            json.push(b'"');
        }
        json.push(b']');
    }
    json.push(b'}');
    let header_len = json.len();

    // The payload: the request's always-disclosed claims (those eid sets below win), then
    // `_sd`, `_sd_alg` and eid's own.
    json.push(b'{');
    let overridden = |name: &str| match name {
        "iss" => request.issuer.is_some(),
        "exp" => request.expires_at.is_some(),
        "status" => request.status.is_some(),
        "vct" | "iat" | "cnf" => true,
        _ => false,
    };
    for (name, value) in request.claims {
        if always_disclosed(name) && !overridden(name) {
            json_str(&mut json, name);
            json.push(b':');
            json_value(&mut json, value)?;
            json.push(b',');
        }
    }
    json.extend_from_slice(b"\"_sd\":[");
    for (i, digest) in digests.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        quoted_b64(&mut json, digest);
    }
    json.extend_from_slice(b"],\"_sd_alg\":\"sha-256\"");
    if let Some(iss) = request.issuer {
        json.extend_from_slice(b",\"iss\":");
        json_str(&mut json, iss);
    }
    json.extend_from_slice(b",\"vct\":");
    json_str(&mut json, request.vct);
    json.extend_from_slice(b",\"iat\":");
    json_int(&mut json, request.issued_at.unix_timestamp());
    if let Some(exp) = request.expires_at {
        json.extend_from_slice(b",\"exp\":");
        json_int(&mut json, exp.unix_timestamp());
    }
    let point = request.holder_key.sec1();
    json.extend_from_slice(b",\"cnf\":{\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":");
    let (x, y) = (point[1..].first_chunk::<32>(), point.last_chunk::<32>());
    let (Some(x), Some(y)) = (x, y) else {
        return Err(SdJwtError::Malformed("holder key"));
    };
    quoted_b64(&mut json, x);
    json.extend_from_slice(b",\"y\":");
    quoted_b64(&mut json, y);
    json.extend_from_slice(b"}}");
    if let Some(status) = &request.status {
        json.extend_from_slice(b",\"status\":{\"status_list\":");
        serde_json::to_writer(&mut json, status)
            .map_err(|_| SdJwtError::Malformed("status reference"))?;
        json.push(b'}');
    }
    json.push(b'}');
    let (header, payload) = json.split_at(header_len);

    let b64_len = |n: usize| n / 3 * 4 + [0, 2, 3][n % 3];
    let signature_len = signer.algorithm().signature_len();
    let mut out = String::with_capacity(
        b64_len(header.len())
            + b64_len(payload.len())
            + b64_len(signature_len)
            + 3
            + disclosures.len(),
    );
    b64url_push(&mut out, header);
    out.push('.');
    b64url_push(&mut out, payload);
    let signature = signer.sign(out.as_bytes()).map_err(SdJwtError::Crypto)?;
    out.push('.');
    b64url_push(&mut out, &signature);
    out.push('~');
    out.push_str(&disclosures);
    Ok(out)
}

/// Appends a claim value as JSON, as `serde_json` writes it: strings, booleans and integers
/// directly, anything else through `serde_json`.
fn json_value(out: &mut Vec<u8>, value: &Value) -> Result<(), SdJwtError> {
    match value {
        Value::String(text) => json_str(out, text),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) if let Some(int) = n.as_i64() => json_int(out, int),
        other => serde_json::to_writer(&mut *out, other)
            .map_err(|_| SdJwtError::Malformed("claim value"))?,
    }
    Ok(())
}

/// Appends an integer in decimal, as JSON and `serde_json` write it.
fn json_int(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `text` as a JSON string, escaped exactly as `serde_json` escapes (`"`, `\\` and
/// control characters; everything else as UTF-8), with a fast path for the usual string
/// that needs no escaping (checked without an early exit, which the compiler vectorises).
fn json_str(out: &mut Vec<u8>, text: &str) {
    let plain = text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
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

    /// Claim values and integers are written as `serde_json` writes them.
    #[test]
    fn json_value_and_int_write_as_serde_json() {
        for int in [
            0,
            1,
            -1,
            9,
            10,
            36,
            1990,
            -1990,
            1_790_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = b"x".to_vec();
            json_int(&mut out, int);
            assert_eq!(out, format!("x{int}").into_bytes());
        }
        for value in [
            serde_json::json!(true),
            serde_json::json!(false),
            serde_json::json!(null),
            serde_json::json!(0),
            serde_json::json!(-7),
            serde_json::json!(u64::MAX),
            serde_json::json!(1.5),
            serde_json::json!("秀英"),
            serde_json::json!("a\"b"),
            serde_json::json!({"street": "民族大道", "nr": 100}),
            serde_json::json!([1, "two", false]),
        ] {
            let mut out = b"x".to_vec();
            json_value(&mut out, &value).unwrap();
            assert_eq!(
                out,
                format!("x{}", serde_json::to_string(&value).unwrap()).into_bytes()
            );
        }
    }
}
