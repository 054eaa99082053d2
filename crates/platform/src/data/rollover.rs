//! The platform's keys over the years, kept in its folder and rolled over when it starts
//! ([`super::Data::open`]): each authority's document signer is followed by a new
//! key and certificate before it ends, the IACA root by a new root listed beside it in the
//! trust list, and each desk's reader certificate is renewed.
//!
//! ```text
//! <authority>/iaca.pem, iaca.key.pem                 the first IACA root and its key (secret)
//! <authority>/iaca-2.pem, iaca-2.key.pem             the next root, once made; and so on
//! <authority>/ds.pem, ds.key.pem, chain.pem          the first document signer, its key, DS + IACA
//! <authority>/ds-2.pem, ds-2.key.pem, chain-2.pem    the next; and so on
//! ```
//!
//! The schedule: a successor DS is made when every DS ends within [`DS_LEAD`], valid from
//! then for [`DS_DAYS`] under the oldest root that covers all of it; the authority moves
//! issuance to it an hour later ([`eid_authority::signers`]). A new root is made when the
//! newest ends within [`IACA_LEAD`], long before a DS needs it. The trust list names every
//! root valid today that a DS with work ahead chains to, and the newest; its offline keys
//! are the keys of every DS with work ahead. Folders made before the IACA's key was kept
//! get a new root at their next start.

use std::path::Path;

use eid_core::Random;
use eid_crypto::x509::{
    CertificateDer, CertificateTerms, Subject, TrustedIaca, check_reader_certificate,
    create_document_signer, create_iaca, create_reader_certificate, document_signer_terms,
    verify_document_signer,
};
use eid_crypto::{Algorithm, Signer, SigningKey, pem};
use eid_trust::TrustList;
use eid_trust::edit::{add_issuer, add_relying_party, set_offline_keys};
use time::{Duration, OffsetDateTime};

use super::{AuthorityPlan, DeskPlan, read_authority_key, read_certificate, write, write_key};
use crate::PlatformError;

/// A DS certificate's life (ISO/IEC 18013-5 Annex B allows 457 days).
pub const DS_DAYS: i64 = 450;
/// A successor DS is made when the last one ends within this.
pub const DS_LEAD: Duration = Duration::days(90);
/// An IACA root's life.
pub const IACA_DAYS: i64 = 3650;
/// A new root is made when the newest ends within this: two DS leads and a DS life, so
/// that verifiers hold it at least half a year before a DS under it signs.
pub const IACA_LEAD: Duration = Duration::days(DS_DAYS + 180);
/// A desk's reader certificate is renewed when it ends within this.
pub const READER_LEAD: Duration = Duration::days(90);

/// A generation's file stem: `ds`, `ds-2`, …
fn stem(kind: &str, n: usize) -> String {
    if n == 1 {
        kind.to_owned()
    } else {
        format!("{kind}-{n}")
    }
}

/// An IACA root of the folder.
struct Root {
    n: usize,
    iaca: TrustedIaca,
    /// Absent in folders made before the key was kept: no DS is made under it any more.
    key: Option<SigningKey>,
}

/// A document signer of the folder: its key and chain (DS then its IACA, DER).
pub struct Generation {
    /// Its number (1: `ds.pem`).
    pub n: usize,
    /// The key.
    pub key: SigningKey,
    /// DS then IACA certificate (DER).
    pub chain: Vec<Vec<u8>>,
    /// The DS certificate's last moment.
    pub not_after: OffsetDateTime,
}

fn roots(folder: &Path) -> Result<Vec<Root>, PlatformError> {
    let mut roots = Vec::new();
    for n in 1.. {
        let path = folder.join(format!("{}.pem", stem("iaca", n)));
        if !path.exists() {
            break;
        }
        let der = read_certificate(&path)?;
        let iaca = TrustedIaca::as_of_first_day(&der)
            .map_err(|e| PlatformError::Data(format!("{}: {e}", path.display())))?;
        let key_path = folder.join(format!("{}.key.pem", stem("iaca", n)));
        let key = if key_path.exists() {
            Some(read_authority_key(&key_path, iaca.key())?)
        } else {
            None
        };
        roots.push(Root { n, iaca, key });
    }
    if roots.is_empty() {
        return Err(PlatformError::Data(format!(
            "{}: no iaca.pem",
            folder.display()
        )));
    }
    Ok(roots)
}

/// Every document signer of the authority's folder, oldest first, each with the chain to
/// the root of the folder that issued it.
pub fn generations(folder: &Path) -> Result<Vec<Generation>, PlatformError> {
    signers(folder, &roots(folder)?)
}

fn signers(folder: &Path, roots: &[Root]) -> Result<Vec<Generation>, PlatformError> {
    let anchors: Vec<TrustedIaca> = roots.iter().map(|r| r.iaca.clone()).collect();
    let mut signers = Vec::new();
    for n in 1.. {
        let path = folder.join(format!("{}.pem", stem("ds", n)));
        if !path.exists() {
            break;
        }
        let der = read_certificate(&path)?;
        let bad =
            |e: &dyn std::fmt::Display| PlatformError::Data(format!("{}: {e}", path.display()));
        let (_, not_before, not_after) = document_signer_terms(&der).map_err(|e| bad(&e))?;
        let verified = verify_document_signer(&der, &anchors, not_before).map_err(|e| bad(&e))?;
        let key = read_authority_key(
            &folder.join(format!("{}.key.pem", stem("ds", n))),
            &verified.key,
        )?;
        let iaca = anchors[verified.iaca_index].der().to_vec();
        let chain_path = folder.join(format!("{}.pem", stem("chain", n)));
        if !chain_path.exists() {
            // `eid authority serve` reads it ([signer] or [[successors]] `certificates`).
            let text = [
                pem::encode("CERTIFICATE", &der),
                pem::encode("CERTIFICATE", &iaca),
            ];
            write(&chain_path, text.concat().as_bytes(), false)?;
        }
        signers.push(Generation {
            n,
            key,
            chain: vec![der, iaca],
            not_after,
        });
    }
    if signers.is_empty() {
        return Err(PlatformError::Data(format!(
            "{}: no ds.pem",
            folder.display()
        )));
    }
    Ok(signers)
}

fn subject(plan: &AuthorityPlan, common_name: &str) -> Subject {
    Subject {
        country: "CN".into(),
        state: None,
        organization: plan.name.into(),
        common_name: format!("{} {common_name}", plan.name),
    }
}

fn terms(plan: &AuthorityPlan, from: OffsetDateTime, days: i64) -> CertificateTerms {
    let uri = format!("https://{}.eid.example", plan.key);
    CertificateTerms {
        not_before: from,
        not_after: from + Duration::days(days),
        crl_uri: format!("{uri}/iaca.crl"),
        issuer_alt_name_uri: uri,
    }
}

/// Writes generation `n` of `kind`: the key first, since a certificate without its key
/// would be a root no DS can be made under, or a DS no one can sign with.
fn write_generation(
    folder: &Path,
    kind: &str,
    n: usize,
    key: &SigningKey,
    der: &[u8],
) -> Result<(), PlatformError> {
    write_key(&folder.join(format!("{}.key.pem", stem(kind, n))), key)?;
    write(
        &folder.join(format!("{}.pem", stem(kind, n))),
        pem::encode("CERTIFICATE", der).as_bytes(),
        false,
    )
}

/// A new root of `algorithm`, written to the folder.
fn new_root(
    folder: &Path,
    plan: &AuthorityPlan,
    (n, algorithm): (usize, Algorithm),
    from: OffsetDateTime,
    random: &dyn Random,
) -> Result<Root, PlatformError> {
    let key = SigningKey::generate_for(algorithm)?;
    let der = create_iaca(
        &subject(plan, "IACA"),
        &terms(plan, from, IACA_DAYS),
        &key,
        random,
    )?
    .0;
    let iaca = TrustedIaca::new_allowing(&der, from, &[algorithm])
        .map_err(|e| PlatformError::Data(format!("the new IACA of {}: {e}", plan.key)))?;
    write_generation(folder, "iaca", n, &key, &der)?;
    Ok(Root {
        n,
        iaca,
        key: Some(key),
    })
}

/// Rolls the authority's keys over where the schedule says (see the module), and brings
/// its entry of `list` to them. Says what it made to `progress`; true when `list` changed.
pub fn authority(
    folder: &Path,
    plan: &AuthorityPlan,
    list: &mut TrustList,
    now: OffsetDateTime,
    random: &dyn Random,
    progress: &mut dyn FnMut(&str),
) -> Result<bool, PlatformError> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut roots = roots(folder)?;
    // The newest root, if it has its key and a DS life and two leads ahead: else a new one
    // (made at the first start after an upgrade in folders without the root's key, so that
    // verifiers hold it before a DS under it signs).
    let newest = roots.iter().max_by_key(|r| r.iaca.not_after());
    // The authority keeps the algorithm the trust list names for it (its folder was made
    // with it: `eid up --algorithm`); a root of another would verify nothing.
    let algorithm = list
        .issuer(plan.issuer_id)
        .map_or(Algorithm::Es256, |issuer| issuer.algorithm);
    if let Some(root) = newest.filter(|r| r.iaca.algorithm() != algorithm) {
        return Err(PlatformError::Data(format!(
            "{}: its root {} is {} but the trust list names {} for {}",
            plan.key,
            stem("iaca", root.n),
            root.iaca.algorithm().jose_name(),
            algorithm.jose_name(),
            plan.issuer_id
        )));
    }
    if newest.is_none_or(|r| r.key.is_none() || r.iaca.not_after() - now < IACA_LEAD) {
        let n = roots.len() + 1;
        roots.push(new_root(folder, plan, (n, algorithm), now, random)?);
        progress(&format!(
            "{}: a new IACA root ({}), listed beside the current one",
            plan.name,
            stem("iaca", n)
        ));
    }
    let mut signers = signers(folder, &roots)?;
    let last_ends = signers.iter().map(|s| s.not_after).max();
    if last_ends.is_none_or(|end| end - now < DS_LEAD) {
        let end = now + Duration::days(DS_DAYS);
        let covering =
            |r: &&Root| r.key.is_some() && r.iaca.not_before() <= now && end <= r.iaca.not_after();
        if !roots.iter().any(|r| covering(&r)) {
            // No root of ours covers a DS's whole life (a folder without the IACA's key).
            let n = roots.len() + 1;
            roots.push(new_root(folder, plan, (n, algorithm), now, random)?);
        }
        let Some(root) = roots.iter().find(covering) else {
            return Err(PlatformError::Data(format!(
                "{}: no IACA root covers a new DS",
                plan.key
            )));
        };
        let n = signers.len() + 1;
        let key = SigningKey::generate_for(root.iaca.algorithm())?;
        let iaca = CertificateDer(root.iaca.der().to_vec());
        let Some(iaca_key) = &root.key else {
            return Err(PlatformError::Data(format!(
                "{}: the root has no key",
                plan.key
            )));
        };
        let der = create_document_signer(
            &subject(plan, &format!("DS {n}")),
            &terms(plan, now, DS_DAYS),
            key.verifying_key(),
            &iaca,
            iaca_key,
            random,
        )?
        .0;
        verify_document_signer(&der, std::slice::from_ref(&root.iaca), now)
            .map_err(|e| PlatformError::Data(format!("the new DS of {}: {e}", plan.key)))?;
        write_generation(folder, "ds", n, &key, &der)?;
        progress(&format!(
            "{}: a new document signer ({}, under {}), issuing from an hour on",
            plan.name,
            stem("ds", n),
            stem("iaca", root.n)
        ));
        signers = self::signers(folder, &roots)?;
    }
    listed(plan, &roots, &signers, list, now)
}

/// Brings the issuer's roots and offline keys in `list` to the folder's: true when changed.
fn listed(
    plan: &AuthorityPlan,
    roots: &[Root],
    signers: &[Generation],
    list: &mut TrustList,
    now: OffsetDateTime,
) -> Result<bool, PlatformError> {
    use base64::Engine;
    let working: Vec<&Generation> = signers.iter().filter(|s| s.not_after > now).collect();
    let newest = roots.iter().map(|r| r.n).max();
    let roots: Vec<Vec<u8>> = roots
        .iter()
        .filter(|r| r.iaca.not_before() <= now && now < r.iaca.not_after())
        .filter(|r| Some(r.n) == newest || working.iter().any(|s| s.chain[1] == r.iaca.der()))
        .map(|r| r.iaca.der().to_vec())
        .collect();
    let Some(entry) = list.issuer(plan.issuer_id) else {
        return Err(PlatformError::Data(format!(
            "the trust list has no issuer {}",
            plan.issuer_id
        )));
    };
    let encoded: Vec<String> = roots
        .iter()
        .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
        .collect();
    let keys: Vec<_> = working
        .iter()
        .map(|s| s.key.verifying_key().clone())
        .collect();
    let offline: Vec<_> = entry
        .offline_keys
        .iter()
        .filter_map(|jwk| jwk.verifying_key_allowing(&[entry.algorithm]).ok())
        .collect();
    let mut changed = false;
    if entry.iaca_roots != encoded {
        let (name, status_list_keys) = (entry.name.clone(), entry.status_list_keys.clone());
        add_issuer(
            list,
            plan.issuer_id,
            &name,
            &roots,
            status_list_keys,
            now,
            true,
        )?;
        changed = true;
    }
    if offline != keys {
        set_offline_keys(
            list,
            plan.issuer_id,
            keys.iter().map(|k| k.to_jwk()).collect(),
        )?;
        changed = true;
    }
    Ok(changed)
}

/// Renews the desk's reader certificate (a new key, valid from a day before `now` for
/// wallets whose clock is behind) when it ends within [`READER_LEAD`], and registers the
/// desk's certificate in `list` when the registration names another (a start cut short
/// after the renewal): true when `list` changed.
pub fn reader(
    folder: &Path,
    plan: &DeskPlan,
    list: &mut TrustList,
    now: OffsetDateTime,
    random: &dyn Random,
) -> Result<bool, PlatformError> {
    use base64::Engine;
    let mut certificate = read_certificate(&folder.join("reader.pem"))?;
    if check_reader_certificate(&certificate, now + READER_LEAD).is_err() {
        let key;
        (key, certificate) = new_reader(plan, now - Duration::days(1), random)?;
        write_reader(folder, &key, &certificate)?;
    }
    let Some(registered) = list.relying_parties.iter().find(|rp| rp.id == plan.id) else {
        return Err(PlatformError::Data(format!(
            "the trust list has no relying party {}",
            plan.id
        )));
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(&certificate);
    if registered.certificate.as_deref() == Some(encoded.as_str()) {
        return Ok(false);
    }
    let purposes: Vec<_> = registered
        .purposes
        .iter()
        .map(|(purpose, attributes)| (*purpose, Some(attributes.clone())))
        .collect();
    let (name, region) = (registered.name.clone(), registered.region);
    add_relying_party(
        list,
        plan.id,
        &name,
        region,
        &purposes,
        Some(&certificate),
        true,
    )?;
    Ok(true)
}

/// A reader key and its certificate (DER), valid from `since` for [`DS_DAYS`].
pub fn new_reader(
    plan: &DeskPlan,
    since: OffsetDateTime,
    random: &dyn Random,
) -> Result<(SigningKey, Vec<u8>), PlatformError> {
    let key = SigningKey::generate()?;
    let certificate = create_reader_certificate(
        &Subject {
            country: "CN".into(),
            state: None,
            organization: plan.name.into(),
            common_name: plan.name.into(),
        },
        &CertificateTerms {
            not_before: since,
            not_after: since + Duration::days(DS_DAYS),
            issuer_alt_name_uri: format!("https://{}.rp.example", plan.id),
            crl_uri: format!("https://{}.rp.example/crl", plan.id),
        },
        &key,
        random,
    )?
    .0;
    Ok((key, certificate))
}

/// Writes a desk's reader key and certificate.
pub fn write_reader(
    folder: &Path,
    key: &SigningKey,
    certificate: &[u8],
) -> Result<(), PlatformError> {
    write_key(&folder.join("reader.key.pem"), key)?;
    write(
        &folder.join("reader.pem"),
        pem::encode("CERTIFICATE", certificate).as_bytes(),
        false,
    )
}
