//! The trust list as published: a compact JWS (`typ` `eid-trust-list+jwt`) signed by the
//! national root key, whose payload is the [`TrustList`] JSON. Verifiers read it only through
//! [`VerifiedTrustList::read`] and replace a cached one only by a newer version.

use eid_crypto::x509::TrustedIaca;
use eid_crypto::{Signer, VerifyingKey};
use eid_sdjwt::Jws;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::TrustError;
use crate::model::{self, TrustList};

/// The JWS `typ` of a signed trust list (eid's own media type).
pub const TYP_TRUST_LIST: &str = "eid-trust-list+jwt";

/// The largest signed trust list read (a national list of thousands of relying parties is a
/// few megabytes).
pub const MAX_TRUST_LIST_LEN: usize = 32 << 20;

/// Signs `list` as version `list.version + 1`, issued `now`, next update after `valid_for`.
/// Returns the compact JWS and the list as signed.
pub fn sign(
    list: &TrustList,
    root: &dyn Signer,
    now: OffsetDateTime,
    valid_for: Duration,
) -> Result<(String, TrustList), TrustError> {
    let mut signed = list.clone();
    signed.version = list
        .version
        .checked_add(1)
        .ok_or(TrustError::Malformed("the version cannot go higher"))?;
    signed.issued_at = now;
    signed.next_update = now
        .checked_add(valid_for)
        .ok_or(TrustError::Malformed("next_update out of range"))?;
    check_consistent(&signed)?;
    // Checked when signing, not when reading: a list signed before pseudonyms were sealed
    // is still read (its relying parties without a key get no pseudonym).
    if let Some(rp) = signed
        .relying_parties
        .iter()
        .find(|rp| rp.has_pseudonym() && rp.pseudonym_key.is_none())
    {
        return Err(TrustError::Content(format!(
            "relying party {} is registered for a pseudonym but has no pseudonym key: each is sealed to it (eid trust set-pseudonym-key)",
            rp.id
        )));
    }
    let mut header = Map::new();
    header.insert("alg".into(), root.algorithm().jose_name().into());
    header.insert("typ".into(), TYP_TRUST_LIST.into());
    header.insert("kid".into(), root.verifying_key().thumbprint().into());
    let Value::Object(payload) =
        serde_json::to_value(&signed).map_err(|_| TrustError::Malformed("trust list"))?
    else {
        return Err(TrustError::Malformed("trust list"));
    };
    let jws = Jws::sign(&header, &payload, root).map_err(|_| TrustError::Signing)?;
    Ok((jws, signed))
}

/// Identifiers are unique within their kind, every purpose has one catalogue entry, and no
/// relying party is registered for more than its purpose's catalogue allows.
pub fn check_consistent(list: &TrustList) -> Result<(), TrustError> {
    fn unique<'a>(
        kind: &'static str,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<(), TrustError> {
        let mut seen = std::collections::BTreeSet::new();
        for id in ids {
            if !seen.insert(id) {
                return Err(TrustError::Duplicate {
                    kind,
                    id: id.to_owned(),
                });
            }
        }
        Ok(())
    }
    unique("issuer", list.issuers.iter().map(|i| i.id.as_str()))?;
    unique(
        "wallet provider",
        list.wallet_providers.iter().map(|p| p.id.as_str()),
    )?;
    unique(
        "relying party",
        list.relying_parties.iter().map(|r| r.id.as_str()),
    )?;
    unique("purpose", list.purposes.iter().map(|p| p.purpose.as_str()))?;
    if list
        .wallet_providers
        .iter()
        .any(|p| p.id == model::PAPER_PROVIDER)
    {
        return Err(TrustError::Content(format!(
            "wallet provider id {:?} is reserved for the printed code, which no wallet holds",
            model::PAPER_PROVIDER
        )));
    }
    for jwk in &list.next_root_keys {
        jwk.verifying_key()
            .map_err(|e| TrustError::BadKey(format!("announced next root key: {e}")))?;
    }
    let portrait = |attributes: &[String]| attributes.iter().any(|a| a == "portrait");
    if let Some(p) = list
        .purposes
        .iter()
        .find(|p| p.face_match_required && !portrait(&p.attributes))
    {
        return Err(TrustError::FaceMatchWithoutPortrait {
            purpose: p.purpose,
            relying_party: None,
        });
    }
    if let Some(p) = list
        .purposes
        .iter()
        .find(|p| p.paper_allowed && !p.face_match_required)
    {
        return Err(TrustError::PaperWithoutFaceMatch { purpose: p.purpose });
    }
    // A web origin names the one relying party whose pages it serves: a wallet takes an
    // unsigned request from it to be that party's.
    let mut origins = std::collections::BTreeMap::new();
    for rp in &list.relying_parties {
        for origin in &rp.web_origins {
            if !model::is_web_origin(origin) {
                return Err(TrustError::Content(format!(
                    "relying party {}: {origin:?} is not a web origin (https://host[:port], or http:// on loopback)",
                    rp.id
                )));
            }
            if let Some(other) = origins.insert(origin.as_str(), rp.id.as_str()) {
                return Err(TrustError::Content(format!(
                    "the web origin {origin} is registered for both {other} and {}: an origin is one relying party's",
                    rp.id
                )));
            }
        }
    }
    // A catalogue names the attribute `pseudonym`, never an item of one (which would let a
    // registration ask for another relying party's).
    if let Some(p) = list
        .purposes
        .iter()
        .find(|p| p.attributes.iter().any(|a| model::is_pseudonym_item(a)))
    {
        return Err(TrustError::Content(format!(
            "the catalogue of {} lists a pseudonym item: it may list the attribute {}",
            p.purpose,
            model::PSEUDONYM
        )));
    }
    let with_pseudonym: Vec<&str> = list.pseudonym_relying_parties().collect();
    for id in &with_pseudonym {
        pseudonym_id_allowed(id)?;
    }
    // A pseudonym is sealed to its relying party's key: a P-256 public key.
    for rp in &list.relying_parties {
        if let Some(key) = &rp.pseudonym_key {
            key.verifying_key().map_err(|e| {
                TrustError::Content(format!(
                    "relying party {}: its pseudonym key is not a P-256 public key: {e}",
                    rp.id
                ))
            })?;
        }
    }
    if with_pseudonym.len() > model::MAX_PSEUDONYM_RELYING_PARTIES {
        return Err(TrustError::Content(format!(
            "{} relying parties have a pseudonym, more than the {} a list holds",
            with_pseudonym.len(),
            model::MAX_PSEUDONYM_RELYING_PARTIES
        )));
    }
    // A reader certificate is one relying party's: the phone takes a request signed with it
    // to be that party's (and gives that party's pseudonym).
    let mut certificates = std::collections::BTreeMap::new();
    for rp in &list.relying_parties {
        if let Some(certificate) = &rp.certificate
            && let Some(other) = certificates.insert(certificate.as_str(), rp.id.as_str())
        {
            return Err(TrustError::Content(format!(
                "one reader certificate is registered for both {other} and {}: a certificate is one relying party's",
                rp.id
            )));
        }
    }
    for rp in &list.relying_parties {
        for (purpose, attributes) in &rp.purposes {
            let allowed = list
                .purpose(*purpose)
                .ok_or(TrustError::UnknownPurpose(purpose.as_str().to_owned()))?;
            if let Some(extra) = attributes.iter().find(|a| !allowed.attributes.contains(a)) {
                return Err(TrustError::AttributeBeyondPurpose {
                    attribute: extra.clone(),
                    purpose: *purpose,
                });
            }
            if allowed.face_match_required && !portrait(attributes) {
                return Err(TrustError::FaceMatchWithoutPortrait {
                    purpose: *purpose,
                    relying_party: Some(rp.id.clone()),
                });
            }
        }
    }
    Ok(())
}

/// Refuses `id` for a relying party with a pseudonym unless [`model::is_pseudonym_id`].
pub(crate) fn pseudonym_id_allowed(id: &str) -> Result<(), TrustError> {
    if model::is_pseudonym_id(id) {
        return Ok(());
    }
    Err(TrustError::Content(format!(
        "relying party id {id:?} cannot have a pseudonym: it names an item of every credential, so it must be 1 to 64 lower-case letters, digits, '-' and '.'"
    )))
}

/// An issuer's IACA roots that parse, are of the issuer's algorithm and are within their
/// validity at `now`.
fn usable_roots(
    issuer: &model::IssuingAuthority,
    now: OffsetDateTime,
) -> impl Iterator<Item = TrustedIaca> + '_ {
    use base64::Engine;
    issuer
        .iaca_roots
        .iter()
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .filter_map(move |der| TrustedIaca::new_allowing(&der, now, &[issuer.algorithm]).ok())
}

/// An issuer's keys (status list or offline) that parse as keys of its algorithm.
fn issuer_keys<'a>(
    issuer: &'a model::IssuingAuthority,
    keys: &'a [eid_crypto::Jwk],
) -> impl Iterator<Item = VerifyingKey> + 'a {
    keys.iter()
        .filter_map(|jwk| jwk.verifying_key_allowing(&[issuer.algorithm]).ok())
}

/// A trust list whose signature, type, times and consistency were checked.
#[derive(Debug, Clone)]
pub struct VerifiedTrustList {
    list: TrustList,
    /// The root key that signed it (none for [`VerifiedTrustList::dangerous_unsigned`]).
    signed_by: Option<VerifyingKey>,
}

impl VerifiedTrustList {
    /// Reads a signed trust list: the signature by one of the national `root_keys`, `typ`,
    /// `issued_at` not in the future, `next_update` not passed, the content consistent — and,
    /// when the reader holds one, a version newer than `cached` (a replayed older list would
    /// undo a suspension or a narrowed scope).
    ///
    /// When `cached` announces root keys ([`TrustList::next_root_keys`]), they and only they
    /// may sign the next list, whatever `root_keys` says: the national root rolls over
    /// without every verifier's configuration changing on the same day, and a root the
    /// held list no longer names is refused even where a configuration still names it.
    pub fn read(
        jws: &str,
        root_keys: &[VerifyingKey],
        now: OffsetDateTime,
        cached: Option<&Self>,
    ) -> Result<Self, TrustError> {
        if jws.len() > MAX_TRUST_LIST_LEN {
            return Err(TrustError::TooLarge(MAX_TRUST_LIST_LEN));
        }
        let jws = Jws::parse(jws.trim()).map_err(|_| TrustError::Malformed("not a compact JWS"))?;
        if jws.typ() != Some(TYP_TRUST_LIST) {
            return Err(TrustError::WrongType(jws.typ().map(str::to_owned)));
        }
        // The held list's announced keys, when it names any, are the whole set: the
        // configured keys only bootstrap a reader, so a retired root stays retired.
        let announced: Vec<VerifyingKey> = cached.map(Self::next_root_keys).unwrap_or_default();
        let trusted = if announced.is_empty() {
            root_keys
        } else {
            &announced[..]
        };
        let mut signed_by = None;
        for key in trusted {
            match jws.verify(key) {
                Ok(()) => {
                    signed_by = Some(key.clone());
                    break;
                }
                // Another key, or a key of another algorithm during a rollover: try the next.
                Err(
                    eid_crypto::CryptoError::BadSignature
                    | eid_crypto::CryptoError::AlgorithmMismatch { .. },
                ) => {}
                Err(e) => return Err(TrustError::Algorithm(e)),
            }
        }
        let Some(signed_by) = signed_by else {
            return Err(TrustError::BadSignature);
        };
        let list: TrustList = serde_json::from_value(Value::Object(jws.payload().clone()))
            .map_err(|e| TrustError::Content(e.to_string()))?;
        if list.issued_at > now {
            return Err(TrustError::IssuedInFuture(list.issued_at));
        }
        if list.next_update <= now {
            return Err(TrustError::Stale(list.next_update));
        }
        if let Some(old) = cached
            && list.version <= old.list.version
        {
            return Err(TrustError::Rollback {
                cached: old.list.version,
                offered: list.version,
            });
        }
        check_consistent(&list)?;
        Ok(Self {
            list,
            signed_by: Some(signed_by),
        })
    }

    /// The root key that signed the list.
    pub fn signed_by(&self) -> Option<&VerifyingKey> {
        self.signed_by.as_ref()
    }

    /// The root keys the list announces for the lists after it, that parse.
    pub fn next_root_keys(&self) -> Vec<VerifyingKey> {
        self.list
            .next_root_keys
            .iter()
            .filter_map(|jwk| jwk.verifying_key().ok())
            .collect()
    }

    /// The list.
    pub fn list(&self) -> &TrustList {
        &self.list
    }

    /// Every issuer's IACA roots usable at `now`, with the issuer each belongs to: what a
    /// verifier passes to credential verification (`IssuerTrust::roots`); the verified
    /// credential's root index maps back to the issuer through the second vector. Roots
    /// that are malformed or outside their validity are left out.
    pub fn roots(&self, now: OffsetDateTime) -> (Vec<TrustedIaca>, Vec<String>) {
        self.list
            .issuers
            .iter()
            .flat_map(|issuer| usable_roots(issuer, now).map(|root| (root, issuer.id.clone())))
            .unzip()
    }

    /// What may sign the status lists of `issuer`'s credentials: its own IACA roots usable
    /// at `now` and its own status list keys — never another issuer's, which could
    /// otherwise answer for this issuer's credentials under any `sub`.
    pub fn issuer_status_trust(
        &self,
        issuer: &str,
        now: OffsetDateTime,
    ) -> (Vec<TrustedIaca>, Vec<VerifyingKey>) {
        let Some(entry) = self.list.issuer(issuer) else {
            return (Vec::new(), Vec::new());
        };
        let roots = usable_roots(entry, now).collect();
        let keys = issuer_keys(entry, &entry.status_list_keys).collect();
        (roots, keys)
    }

    /// Every listed issuer's offline-QR keys that parse, with the issuer's id.
    pub fn offline_keys(&self) -> Vec<(String, VerifyingKey)> {
        self.list
            .issuers
            .iter()
            .flat_map(|issuer| {
                issuer_keys(issuer, &issuer.offline_keys).map(|key| (issuer.id.clone(), key))
            })
            .collect()
    }

    /// For tests of the policy: a list taken as verified without a signature.
    pub fn dangerous_unsigned(list: TrustList) -> Self {
        Self {
            list,
            signed_by: None,
        }
    }
}
