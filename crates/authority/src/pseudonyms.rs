//! Pairwise pseudonyms for relying parties (`eid_trust::PSEUDONYM`), and their resolution
//! for a lawful request.
//!
//! Every resident credential (mdoc and SD-JWT VC, not the offline QR's compact one) carries,
//! for each relying party the trust list registers for a pseudonym, the item
//! `pseudonym:<relying party id>`: `eid_crypto::pseudonym` of the resident under the
//! authority's pseudonym key, for that relying party. The subject sealed is the first 17
//! digits of the identity number as a 64-bit big-endian integer (the 18th is their check
//! character), so a pseudonym is 24 bytes. It depends on the resident and the relying party
//! only: every instance of a batch, every re-issue and every new phone carries the same
//! one. The key is the authority's pseudonym key, the one all its replicas share (kept in
//! its store unless configured); only the authority resolves.
//!
//! The item holds the pseudonym sealed to the relying party's pseudonym key from the trust
//! list (`eid_crypto::pseudonym::seal_to`: HPKE, 105 bytes, base64url in the SD-JWT VC), so
//! that the wallet carrying every relying party's item learns none of them; the relying
//! party opens its own and reads the same pseudonym from every credential.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use eid_core::ResidentIdNumber;
use eid_crypto::{b64_decode, b64url_decode, pseudonym};
use serde::{Deserialize, Serialize};

use crate::{ApiError, Authority};

/// The subject sealed in a resident's pseudonyms: the first 17 digits as an integer.
fn subject(id_number: &ResidentIdNumber) -> [u8; 8] {
    let digits = id_number
        .expose()
        .bytes()
        .take(17)
        .fold(0u64, |n, d| n * 10 + u64::from(d.wrapping_sub(b'0')));
    digits.to_be_bytes()
}

/// The identity number whose [`subject`] `sealed` is, if it is one.
fn number_of(sealed: &[u8]) -> Option<ResidentIdNumber> {
    let digits = u64::from_be_bytes(sealed.try_into().ok()?);
    let first17 = format!("{digits:017}");
    let first17: [u8; 17] = first17.as_bytes().try_into().ok()?;
    let check = eid_core::id_number::check_character(&first17);
    let mut number = String::with_capacity(18);
    number.push_str(std::str::from_utf8(&first17).ok()?);
    number.push(char::from(check));
    ResidentIdNumber::parse_structure(&number).ok()
}

/// What an operator learns by resolving a pseudonym (no `Debug`: it holds a number).
#[derive(Serialize)]
pub struct Resolved {
    /// The resident's identity number.
    pub id_number: String,
    /// Whether the registry still holds the resident.
    pub in_registry: bool,
}

impl Authority {
    /// The resident's pseudonym for every relying party the trust list registers for one,
    /// each sealed to that party (credential items `pseudonym:<id>`, 105 bytes each).
    pub(crate) fn relying_party_pseudonyms(
        &self,
        id_number: &ResidentIdNumber,
    ) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
        // The parties and their keys, taken from the list; the sealing (an ECDH each) is done
        // after its lock is let go. A list signed before pseudonyms were sealed may register
        // one without a key: that relying party gets none (never one in the clear).
        let parties: Vec<(String, eid_crypto::Jwk)> = {
            let trust = self
                .trust
                .read()
                .map_err(|_| ApiError::Internal("the trust list lock is poisoned".into()))?;
            trust
                .list()
                .relying_parties
                .iter()
                .filter(|rp| rp.has_pseudonym())
                .filter_map(|rp| Some((rp.id.clone(), rp.pseudonym_key.clone()?)))
                .collect()
        };
        let subject = subject(id_number);
        parties
            .iter()
            .map(|(rp, key)| {
                let value = pseudonym::pseudonym(&self.settings.pseudonym_key, rp, &subject)
                    .map_err(|e| ApiError::Internal(format!("a pseudonym: {e}")))?;
                let point = key
                    .verifying_key()
                    .map_err(|e| ApiError::Internal(format!("a pseudonym key: {e}")))?;
                let sealed = pseudonym::seal_to(point.sec1(), rp, &value)
                    .map_err(|e| ApiError::Internal(format!("sealing a pseudonym: {e}")))?;
                Ok((eid_trust::pseudonym_item(rp), sealed))
            })
            .collect()
    }

    /// Whom a resolution found, as its audit entry names them: a keyed value of the number
    /// under a key of its own (HKDF of the pseudonym key), so that the holders of the admin
    /// token, who read the audit log and can learn the log's usual subject of any number,
    /// cannot tell whom an investigation is about.
    fn resolution_subject(&self, number: &ResidentIdNumber) -> Result<String, ApiError> {
        let key = eid_crypto::session::hkdf_sha256(
            &self.settings.pseudonym_key,
            b"eid resolution audit v1",
            b"",
        )
        .map_err(|e| ApiError::Internal(format!("the resolution audit key: {e}")))?;
        let tag = eid_crypto::session::hmac_sha256(&key[..], number.expose().as_bytes());
        Ok(format!("resolved:{}", &eid_crypto::b64url(&tag)[..16]))
    }

    /// Resolves `value` (base64url, as `relying_party` received it) to the resident, for
    /// `case_reference` (the lawful request's reference), by `officer`. Every well-formed
    /// attempt is in the audit log: who, for which relying party and case, and whom it found
    /// (as the log's keyed pseudonym of the number, never the number).
    pub async fn resolve_pseudonym(
        &self,
        relying_party: &str,
        value: &str,
        case_reference: &str,
        officer: &str,
    ) -> Result<Resolved, ApiError> {
        let text = |name: &str, value: &str, max: usize| {
            let ok = !value.trim().is_empty()
                && value.chars().count() <= max
                && !value.chars().any(char::is_control);
            if ok {
                Ok(())
            } else {
                Err(ApiError::BadRequest(
                    "invalid_request",
                    format!("{name} must be 1 to {max} characters without control characters"),
                ))
            }
        };
        let (officer, case_reference, relying_party, value) = (
            officer.trim(),
            case_reference.trim(),
            relying_party.trim(),
            value.trim(),
        );
        text("officer", officer, 64)?;
        text("case_reference", case_reference, 200)?;
        text("pseudonym", value, 64)?;
        if !eid_trust::model::is_pseudonym_id(relying_party) {
            return Err(ApiError::BadRequest(
                "invalid_request",
                "relying_party must be a relying party's id (1 to 64 of a-z, 0-9, '-', '.')".into(),
            ));
        }
        let actor = format!("officer:{officer}");
        // Quoted: a case reference cannot pass for another field of the entry.
        let detail = format!("relying_party={relying_party} case_reference={case_reference:?}");
        // As the SD-JWT VC and eid's verifier give it (base64url), or in standard base64.
        let found = b64url_decode(value)
            .or_else(|_| b64_decode(value))
            .ok()
            .and_then(|bytes| {
                pseudonym::resolve(&self.settings.pseudonym_key, relying_party, &bytes).ok()
            })
            .and_then(|sealed| number_of(&sealed));
        let Some(number) = found else {
            self.audit(
                &actor,
                "resolve_pseudonym",
                &format!("relying-party:{relying_party}"),
                "refused",
                &detail,
            )
            .await?;
            return Err(ApiError::Refused(
                "not_a_pseudonym",
                format!(
                    "this is not a pseudonym this authority made for relying party {relying_party}: check the relying party's id and that the value is copied whole, as base64url"
                ),
            ));
        };
        let in_registry = self.store.resident(&number).await?.is_some();
        self.audit(
            &actor,
            "resolve_pseudonym",
            &self.resolution_subject(&number)?,
            "ok",
            &detail,
        )
        .await?;
        Ok(Resolved {
            id_number: number.expose().to_owned(),
            in_registry,
        })
    }
}

/// The body of `POST /admin/pseudonyms/resolve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveRequest {
    relying_party: String,
    pseudonym: String,
    case_reference: String,
    officer: String,
}

/// The header carrying the resolution token.
const RESOLUTION_TOKEN: &str = "x-eid-resolution-token";

pub(crate) async fn resolve(
    State(authority): State<Arc<Authority>>,
    headers: HeaderMap,
    body: Result<Json<ResolveRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Resolved>, ApiError> {
    // The admin token opens the listener; resolving needs a secret of its own, which the
    // counters, the hotline and the providers' integrations do not hold.
    let Some(expected) = &authority.settings.resolution_token else {
        return Err(ApiError::Unavailable(
            "pseudonym resolution is not enabled on this authority: it needs its own secret (EID_AUTHORITY_RESOLUTION_TOKEN)".into(),
        ));
    };
    let given = headers
        .get(RESOLUTION_TOKEN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !eid_crypto::secrets_equal(given.as_bytes(), expected.as_bytes()) {
        // A holder of the admin token guessing the second secret leaves a trace.
        authority
            .audit(
                "admin",
                "resolve_pseudonym",
                "resolution-token",
                "refused",
                "resolution_denied",
            )
            .await?;
        return Err(ApiError::Forbidden(
            "resolution_denied",
            "resolving a pseudonym needs the resolution token in X-Eid-Resolution-Token (the admin token is not enough)".into(),
        ));
    }
    let Json(body) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    Ok(Json(
        authority
            .resolve_pseudonym(
                &body.relying_party,
                &body.pseudonym,
                &body.case_reference,
                &body.officer,
            )
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A number of valid structure with these 17 digits.
    fn number(first17: &str) -> ResidentIdNumber {
        let digits: [u8; 17] = first17.as_bytes().try_into().unwrap();
        let check = char::from(eid_core::id_number::check_character(&digits));
        ResidentIdNumber::parse_structure(&format!("{first17}{check}")).unwrap()
    }

    #[test]
    fn a_subject_gives_back_its_number_and_nothing_else_does() {
        for first17 in [
            "45010219900307001",
            "11010119000101000",
            "65280120231231999",
        ] {
            let number = number(first17);
            assert_eq!(number_of(&subject(&number)).unwrap(), number);
        }
        // More than 17 digits' worth, or not 8 bytes: no number.
        assert!(number_of(&u64::MAX.to_be_bytes()).is_none());
        assert!(number_of(&[0; 7]).is_none());
    }
}
