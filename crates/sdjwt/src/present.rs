//! Presenting: keep the chosen disclosures, add a key binding JWT (RFC 9901 §4.3).

use eid_crypto::Signer;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::disclosure::digest_of;
use crate::{Jws, SdJwtError, TYP_KB_JWT, UnverifiedSdJwt};

/// The key binding to add to a presentation.
pub struct KeyBinding<'a> {
    /// The holder's device key (the one in `cnf.jwk`).
    pub signer: &'a dyn Signer,
    /// The verifier (`aud`).
    pub audience: &'a str,
    /// The verifier's nonce.
    pub nonce: &'a str,
    /// `iat`.
    pub issued_at: OffsetDateTime,
}

/// A presentation of `issued` disclosing the top-level claims named in `disclose` (and the
/// disclosures nested inside them), with a KB-JWT when `key_binding` is given.
pub fn present(
    issued: &str,
    disclose: &[&str],
    key_binding: Option<&KeyBinding<'_>>,
) -> Result<String, SdJwtError> {
    let sd_jwt = UnverifiedSdJwt::parse(issued)?;
    let all = sd_jwt.disclosures();
    // Names are the top-level claims: disclosures whose digest is in the payload's own `_sd`.
    let top_level: Vec<&str> = sd_jwt
        .issuer_jwt()
        .payload()
        .get("_sd")
        .and_then(Value::as_array)
        .map(|digests| digests.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let named = |d: &crate::Disclosure, name: &str| {
        d.name.as_deref() == Some(name) && top_level.contains(&d.digest())
    };
    for name in disclose {
        if !all.iter().any(|d| named(d, name)) {
            return Err(SdJwtError::NotDisclosable((*name).to_owned()));
        }
    }
    // Keep the named disclosures, then any disclosure whose digest appears inside a kept one.
    let mut keep: Vec<bool> = all
        .iter()
        .map(|d| disclose.iter().any(|n| named(d, n)))
        .collect();
    loop {
        let referenced: Vec<String> = all
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(d, _)| d.value.to_string())
            .collect();
        let mut changed = false;
        for (i, d) in all.iter().enumerate() {
            if !keep[i]
                && referenced
                    .iter()
                    .any(|text| text.contains(&format!("\"{}\"", d.digest())))
            {
                keep[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let jwt_end = issued
        .find('~')
        .ok_or(SdJwtError::Malformed("an SD-JWT has at least one ~"))?;
    let mut out = issued[..=jwt_end].to_owned();
    for (d, k) in all.iter().zip(&keep) {
        if *k {
            out.push_str(d.as_str());
            out.push('~');
        }
    }
    if let Some(kb) = key_binding {
        let mut header = Map::new();
        header.insert("alg".into(), json!(kb.signer.algorithm().jose_name()));
        header.insert("typ".into(), json!(TYP_KB_JWT));
        let mut payload = Map::new();
        payload.insert("iat".into(), json!(kb.issued_at.unix_timestamp()));
        payload.insert("aud".into(), Value::String(kb.audience.to_owned()));
        payload.insert("nonce".into(), Value::String(kb.nonce.to_owned()));
        payload.insert("sd_hash".into(), Value::String(digest_of(&out)));
        out.push_str(&Jws::sign(&header, &payload, kb.signer)?);
    }
    Ok(out)
}
