//! Changes to a draft trust list, each checked before it is made: what `eid trust add-issuer`,
//! `add-provider`, `add-rp` and `set-scope` do. A refused change leaves the list as it was.

use std::collections::BTreeMap;

use eid_core::region::RegionCode;
use eid_crypto::x509::TrustedIaca;
use eid_crypto::{Algorithm, Jwk};
use time::OffsetDateTime;

use crate::TrustError;
use crate::model::{
    AcceptanceScope, IssuingAuthority, MAX_PSEUDONYM_RELYING_PARTIES, PSEUDONYM, Purpose,
    RelyingParty, TrustList, WalletProvider,
};

/// Puts `entry` in `entries` by `id`: a new id is added; an existing one is replaced only
/// with `replace`.
fn put<T>(
    entries: &mut Vec<T>,
    entry: T,
    id: impl Fn(&T) -> &str,
    kind: &'static str,
    replace: bool,
) -> Result<(), TrustError> {
    match entries.iter().position(|e| id(e) == id(&entry)) {
        Some(_) if !replace => Err(TrustError::Duplicate {
            kind,
            id: id(&entry).to_owned(),
        }),
        Some(at) => {
            entries[at] = entry;
            Ok(())
        }
        None => {
            entries.push(entry);
            Ok(())
        }
    }
}

/// Adds an issuing authority with its IACA roots (DER, each checked against the Annex B
/// IACA profile at `now`) and status list keys, accepted nowhere until a scope is set. The
/// roots name the issuer's algorithm (ES256, or SM2 with SM3): all of them, and its status
/// list keys, must be of that one.
pub fn add_issuer(
    list: &mut TrustList,
    id: &str,
    name: &str,
    iaca_roots: &[Vec<u8>],
    status_list_keys: Vec<Jwk>,
    now: OffsetDateTime,
    replace: bool,
) -> Result<(), TrustError> {
    use base64::Engine;
    if iaca_roots.is_empty() {
        return Err(TrustError::BadKey(
            "an issuer needs at least one IACA root".into(),
        ));
    }
    let mut algorithm = None;
    for der in iaca_roots {
        let root = TrustedIaca::new_allowing(der, now, &[Algorithm::Es256, Algorithm::Sm2Sm3])
            .map_err(|e| TrustError::BadKey(format!("IACA root of {id}: {e}")))?;
        if *algorithm.get_or_insert(root.algorithm()) != root.algorithm() {
            return Err(TrustError::BadKey(format!(
                "the IACA roots of {id} are of two algorithms: an issuer's keys are of one (list the other as another issuer)"
            )));
        }
    }
    let algorithm = algorithm.unwrap_or(Algorithm::Es256);
    for jwk in &status_list_keys {
        jwk.verifying_key_allowing(&[algorithm]).map_err(|e| {
            TrustError::BadKey(format!(
                "status list key of {id} (its roots are {}): {e}",
                algorithm.jose_name()
            ))
        })?;
    }
    if let Some(old) = list.issuer(id)
        && old.algorithm != algorithm
    {
        return Err(TrustError::BadKey(format!(
            "{id} is listed with {} keys and these roots are {}: an issuer's keys are of one algorithm, so list the new ones under another id",
            old.algorithm.jose_name(),
            algorithm.jose_name()
        )));
    }
    let (scopes, offline_keys) = list
        .issuer(id)
        .map(|i| (i.scopes.clone(), i.offline_keys.clone()))
        .unwrap_or_default();
    let entry = IssuingAuthority {
        id: id.to_owned(),
        name: name.to_owned(),
        algorithm,
        iaca_roots: iaca_roots
            .iter()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
            .collect(),
        status_list_keys,
        offline_keys,
        scopes,
    };
    put(&mut list.issuers, entry, |e| &e.id, "issuer", replace)
}

fn issuer_mut<'a>(
    list: &'a mut TrustList,
    issuer: &str,
) -> Result<&'a mut IssuingAuthority, TrustError> {
    list.issuers
        .iter_mut()
        .find(|i| i.id == issuer)
        .ok_or_else(|| TrustError::NotFound {
            kind: "issuer",
            id: issuer.to_owned(),
        })
}

/// Sets where and for what an issuer's credentials are accepted: `scope` replaces every
/// scope it had, or with `add` joins them.
pub fn set_scope(
    list: &mut TrustList,
    issuer: &str,
    scope: AcceptanceScope,
    add: bool,
) -> Result<(), TrustError> {
    if scope.purposes.is_empty() {
        return Err(TrustError::UnknownPurpose(String::new()));
    }
    if scope
        .valid_until
        .is_some_and(|until| until <= scope.valid_from)
    {
        return Err(TrustError::Content(
            "a scope's valid_until must be after its valid_from".into(),
        ));
    }
    let entry = issuer_mut(list, issuer)?;
    if !add {
        entry.scopes.clear();
    }
    entry.scopes.push(scope);
    Ok(())
}

/// Sets the keys that sign an issuer's compact credentials for the offline QR (replacing
/// those it had; none takes its offline QR out of use).
pub fn set_offline_keys(
    list: &mut TrustList,
    issuer: &str,
    keys: Vec<Jwk>,
) -> Result<(), TrustError> {
    let entry = issuer_mut(list, issuer)?;
    for jwk in &keys {
        jwk.verifying_key_allowing(&[entry.algorithm])
            .map_err(|e| {
                TrustError::BadKey(format!(
                    "offline key of {issuer} (its keys are {}): {e}",
                    entry.algorithm.jose_name()
                ))
            })?;
    }
    entry.offline_keys = keys;
    Ok(())
}

/// Adds a wallet provider (or, with `replace`, changes one: suspending it is this).
pub fn add_provider(
    list: &mut TrustList,
    provider: WalletProvider,
    replace: bool,
) -> Result<(), TrustError> {
    if provider.id == crate::model::PAPER_PROVIDER {
        return Err(TrustError::Content(format!(
            "wallet provider id {:?} is reserved for the printed code, which no wallet holds",
            provider.id
        )));
    }
    for jwk in &provider.attestation_keys {
        jwk.verifying_key()
            .map_err(|e| TrustError::BadKey(format!("attestation key of {}: {e}", provider.id)))?;
    }
    put(
        &mut list.wallet_providers,
        provider,
        |e| &e.id,
        "wallet provider",
        replace,
    )
}

/// Whether desks must match the face for `purpose`. Requiring it needs `portrait` in the
/// purpose and in every registration for it.
pub fn set_face_match(
    list: &mut TrustList,
    purpose: Purpose,
    required: bool,
) -> Result<(), TrustError> {
    let portrait = |attributes: &[String]| attributes.iter().any(|a| a == "portrait");
    let entry = list
        .purpose(purpose)
        .ok_or_else(|| TrustError::UnknownPurpose(purpose.as_str().to_owned()))?;
    if required {
        if !portrait(&entry.attributes) {
            return Err(TrustError::FaceMatchWithoutPortrait {
                purpose,
                relying_party: None,
            });
        }
        if let Some(rp) = list.relying_parties.iter().find(|rp| {
            rp.purposes
                .get(&purpose)
                .is_some_and(|attributes| !portrait(attributes))
        }) {
            return Err(TrustError::FaceMatchWithoutPortrait {
                purpose,
                relying_party: Some(rp.id.clone()),
            });
        }
    }
    if !required && entry.paper_allowed {
        return Err(TrustError::PaperWithoutFaceMatch { purpose });
    }
    for entry in list.purposes.iter_mut().filter(|p| p.purpose == purpose) {
        entry.face_match_required = required;
    }
    Ok(())
}

/// Whether desks accept, and authorities print, a code on paper for `purpose` (the
/// catalogue's `paper_allowed`). Allowing it needs the face match required.
pub fn set_paper(list: &mut TrustList, purpose: Purpose, allowed: bool) -> Result<(), TrustError> {
    let entry = list
        .purposes
        .iter_mut()
        .find(|p| p.purpose == purpose)
        .ok_or_else(|| TrustError::UnknownPurpose(purpose.as_str().to_owned()))?;
    if allowed && !entry.face_match_required {
        return Err(TrustError::PaperWithoutFaceMatch { purpose });
    }
    entry.paper_allowed = allowed;
    Ok(())
}

/// Whether desks accept a credential a parent or guardian holds for the resident for
/// `purpose` (the catalogue's `delegation_allowed`).
pub fn set_delegation(
    list: &mut TrustList,
    purpose: Purpose,
    allowed: bool,
) -> Result<(), TrustError> {
    let entry = list
        .purposes
        .iter_mut()
        .find(|p| p.purpose == purpose)
        .ok_or_else(|| TrustError::UnknownPurpose(purpose.as_str().to_owned()))?;
    entry.delegation_allowed = allowed;
    Ok(())
}

/// Registers the web origins of relying party `id`'s pages (replacing those it had; none
/// removes them): where an unsigned request through the Digital Credentials API is taken to
/// come from it.
pub fn set_web_origins(
    list: &mut TrustList,
    id: &str,
    origins: &[String],
) -> Result<(), TrustError> {
    if let Some(bad) = origins.iter().find(|o| !crate::model::is_web_origin(o)) {
        return Err(TrustError::Content(format!(
            "{bad:?} is not a web origin as a browser writes it (https://host[:port], or http:// on loopback; nothing after)"
        )));
    }
    if let Some((other, origin)) = list
        .relying_parties
        .iter()
        .filter(|rp| rp.id != id)
        .find_map(|rp| Some((&rp.id, rp.web_origins.iter().find(|o| origins.contains(o))?)))
    {
        return Err(TrustError::Content(format!(
            "the web origin {origin} is registered for {other}: an origin is one relying party's"
        )));
    }
    let rp = list
        .relying_parties
        .iter_mut()
        .find(|rp| rp.id == id)
        .ok_or_else(|| TrustError::Content(format!("no relying party {id}")))?;
    rp.web_origins = origins.to_vec();
    Ok(())
}

/// Registers the public key (JWK, EC P-256) relying party `id`'s pseudonyms are sealed to
/// (replacing the one it had). The key must be a P-256 public key; the relying party keeps
/// the private half at its desks.
pub fn set_pseudonym_key(list: &mut TrustList, id: &str, key: Jwk) -> Result<(), TrustError> {
    key.verifying_key().map_err(|e| {
        TrustError::Content(format!(
            "a pseudonym key must be a P-256 public key (JWK): {e}"
        ))
    })?;
    let rp = list
        .relying_parties
        .iter_mut()
        .find(|rp| rp.id == id)
        .ok_or_else(|| TrustError::Content(format!("no relying party {id}")))?;
    rp.pseudonym_key = Some(key);
    Ok(())
}

/// Registers a relying party in county `region` for `purposes`, each with the attributes
/// given or, when none are, the catalogue's full set for that purpose but a
/// [`PSEUDONYM`] (which is registered by name); attributes beyond the catalogue are
/// refused. A relying party with a pseudonym has an id of at most 64 lower-case letters,
/// digits, `-` and `.` (it names an item of every credential), and at most
/// [`MAX_PSEUDONYM_RELYING_PARTIES`] have one.
pub fn add_relying_party(
    list: &mut TrustList,
    id: &str,
    name: &str,
    region: RegionCode,
    purposes: &[(Purpose, Option<Vec<String>>)],
    certificate: Option<&[u8]>,
    replace: bool,
) -> Result<(), TrustError> {
    use base64::Engine;
    if eid_core::region::lookup(region).is_none() {
        return Err(TrustError::Content(format!(
            "{region} is not a GB/T 2260 region code"
        )));
    }
    let mut registered = BTreeMap::new();
    for (purpose, attributes) in purposes {
        let catalogue = list
            .purpose(*purpose)
            .ok_or_else(|| TrustError::UnknownPurpose(purpose.as_str().to_owned()))?;
        let attributes = attributes.clone().unwrap_or_else(|| {
            let mut all = catalogue.attributes.clone();
            all.retain(|a| a != PSEUDONYM);
            all
        });
        if let Some(extra) = attributes
            .iter()
            .find(|a| !catalogue.attributes.contains(a))
        {
            return Err(TrustError::AttributeBeyondPurpose {
                attribute: extra.clone(),
                purpose: *purpose,
            });
        }
        if catalogue.face_match_required && !attributes.iter().any(|a| a == "portrait") {
            return Err(TrustError::FaceMatchWithoutPortrait {
                purpose: *purpose,
                relying_party: Some(id.to_owned()),
            });
        }
        registered.insert(*purpose, attributes);
    }
    if registered.is_empty() {
        return Err(TrustError::Content(
            "a relying party is registered for at least one purpose".into(),
        ));
    }
    // Its web origins and pseudonym key stay with a replaced registration (they have their
    // own commands).
    let (kept, pseudonym_key) = list
        .relying_parties
        .iter()
        .find(|rp| rp.id == id)
        .map(|rp| (rp.web_origins.clone(), rp.pseudonym_key.clone()))
        .unwrap_or_default();
    let entry = RelyingParty {
        id: id.to_owned(),
        name: name.to_owned(),
        region,
        purposes: registered,
        certificate: certificate.map(|der| base64::engine::general_purpose::STANDARD.encode(der)),
        web_origins: kept,
        pseudonym_key,
    };
    if let Some(other) = list
        .relying_parties
        .iter()
        .find(|rp| rp.id != id && rp.certificate.is_some() && rp.certificate == entry.certificate)
    {
        return Err(TrustError::Content(format!(
            "this reader certificate is registered for {} already: a certificate is one relying party's",
            other.id
        )));
    }
    if entry.has_pseudonym() {
        crate::signed::pseudonym_id_allowed(id)?;
        let others = list
            .pseudonym_relying_parties()
            .filter(|other| *other != id)
            .count();
        if others >= MAX_PSEUDONYM_RELYING_PARTIES {
            return Err(TrustError::Content(format!(
                "{others} relying parties have a pseudonym already, the most a list holds (each adds an item to every credential issued)"
            )));
        }
    }
    put(
        &mut list.relying_parties,
        entry,
        |e| &e.id,
        "relying party",
        replace,
    )
}

/// Announces the national root keys that may sign the lists after the next one signed, all
/// of them (replacing any announced; none withdraws the announcement, and readers go back
/// to their configured keys): the signed hand-over of a root rollover. Each key must parse.
pub fn announce_root_keys(list: &mut TrustList, keys: Vec<Jwk>) -> Result<(), TrustError> {
    for jwk in &keys {
        jwk.verifying_key()
            .map_err(|e| TrustError::BadKey(format!("announced next root key: {e}")))?;
    }
    list.next_root_keys = keys;
    Ok(())
}
