//! Verification of one presentation, in either format, down to a [`Report`].

use eid_crypto::x509::DocumentSignerCache;

use eid_core::Relationship;
use eid_mdoc::offline::{OfflineCheck, OfflineError, OfflineIssuerKey, key_id, verify_offline};
use eid_mdoc::verify::verify_document;
use eid_mdoc::{
    DOCTYPE_DELEGATED, DOCTYPE_RESIDENT_IDENTITY, DeviceResponse, IssuerDataCheck, IssuerTrust,
};
use eid_trust::{Purpose, Registration, VerifiedTrustList, attribute_of_item, decide};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::report::{Channel, FaceCheck, Reason, Report};
use crate::status::StatusCache;

/// A pseudonym's length as eid's authorities make it (`eid_crypto::pseudonym` of the 8-byte
/// subject).
const PSEUDONYM_LEN: usize = 24;
/// How long a key binding JWT may be old when it arrives.
const KEY_BINDING_MAX_AGE: Duration = Duration::minutes(5);
/// Clock difference tolerated between wallet and verifier.
const LEEWAY: Duration = Duration::seconds(30);

/// What one verification is for.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// The purpose.
    pub purpose: Purpose,
    /// The attributes asked for (names in the resident namespace / SD-JWT claims).
    pub requested: &'a [String],
    /// How the presentation came.
    pub channel: Channel,
    /// Now.
    pub now: OffsetDateTime,
}

/// Document signers remembered per trust list, for mdoc and SD-JWT VC alike: a desk sees
/// the same few DS certificates all day, so each chain to its IACA is checked once
/// (validity windows at every use); a new trust list starts a new cache.
const SIGNER_CACHE_CAPACITY: usize = 1024;

/// A relying party's verifier: the trust list, who it verifies for, its status cache.
pub struct Verifier {
    trust: VerifiedTrustList,
    /// The listed issuers' IACA roots, with the document signers checked under them.
    signers: DocumentSignerCache,
    /// `owners[i]` is the issuer of root `i`.
    owners: Vec<String>,
    /// The listed issuers' offline-QR keys, with their `kid`s.
    offline_keys: Vec<OfflineIssuerKey>,
    /// Offline codes accepted here within their validity, by digest: the same code twice is
    /// a replay (a photo of the screen passed on), never a second holder.
    replay: Box<dyn crate::replay::ReplayMemory>,
    relying_party: String,
    statuses: StatusCache,
    /// The private half of the relying party's pseudonym key (the trust list has the public
    /// half): its pseudonym arrives sealed to it.
    pseudonym_key: Option<eid_crypto::hpke::HpkeRecipient>,
}

fn offline_keys(trust: &VerifiedTrustList) -> Vec<OfflineIssuerKey> {
    trust
        .offline_keys()
        .into_iter()
        .filter_map(|(issuer, key)| {
            Some(OfflineIssuerKey {
                issuer,
                kid: key_id(&key).ok()?,
                key,
            })
        })
        .collect()
}

/// The content of `raw` when it is exactly one definite-length CBOR byte string (of up to
/// 65,535 bytes).
fn byte_string(raw: &[u8]) -> Option<&[u8]> {
    let (&head, rest) = raw.split_first()?;
    let (length, body) = match head {
        0x40..=0x57 => (usize::from(head - 0x40), rest),
        0x58 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x59 => (
            usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            rest.get(2..)?,
        ),
        _ => return None,
    };
    (body.len() == length).then_some(body)
}

/// What a verified credential gave, in either format, for the policy and the report.
struct Found {
    format: &'static str,
    issuer: Option<String>,
    wallet_provider: Option<String>,
    /// A code printed on paper (no wallet, no device).
    printed: bool,
    /// A delegated credential, with the relationship it names.
    delegated: Option<Relationship>,
    disclosed: Vec<String>,
    values: Map<String, Value>,
    valid_from: Option<OffsetDateTime>,
    valid_until: Option<OffsetDateTime>,
    status: Option<eid_core::status::StatusListReference>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("relying_party", &self.relying_party)
            .field("trust_list_version", &self.trust.list().version)
            .field("statuses", &self.statuses)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `relying_party` (its trust-list id) under `trust`.
    pub fn new(trust: VerifiedTrustList, relying_party: &str, now: OffsetDateTime) -> Self {
        let (roots, owners) = trust.roots(now);
        Self {
            offline_keys: offline_keys(&trust),
            replay: Box::new(crate::replay::LocalReplayMemory::default()),
            trust,
            signers: DocumentSignerCache::new(roots, SIGNER_CACHE_CAPACITY),
            owners,
            relying_party: relying_party.to_owned(),
            statuses: StatusCache::new(),
            pseudonym_key: None,
        }
    }

    /// Opens the relying party's pairwise pseudonym with `key`, the private half of the
    /// pseudonym key its trust-list registration names. Without one, a disclosed pseudonym
    /// is refused: it cannot be read.
    pub fn with_pseudonym_key(mut self, key: eid_crypto::hpke::HpkeRecipient) -> Self {
        self.pseudonym_key = Some(key);
        self
    }

    /// Why this desk cannot open its relying party's pseudonyms under the trust list in
    /// force, if it cannot: the list registers a key for the relying party and the desk has
    /// none (while the relying party is registered for a pseudonym) or another one, or the
    /// desk has one and the list registers none.
    pub fn pseudonym_key_problem(&self) -> Option<&'static str> {
        let rp = self.trust.list().relying_party(&self.relying_party)?;
        match (&rp.pseudonym_key, &self.pseudonym_key) {
            (None, None) => None,
            (Some(_), None) if !rp.has_pseudonym() => None,
            (Some(_), None) => Some(
                "the trust list registers a pseudonym key for this relying party, and this desk has none (--pseudonym-key)",
            ),
            (None, Some(_)) => Some(
                "this desk has a pseudonym key, and the trust list registers none for this relying party",
            ),
            (Some(registered), Some(held)) => match registered.verifying_key() {
                Ok(key) if key.sec1() == held.public_point() => None,
                _ => Some(
                    "this desk's pseudonym key is not the one the trust list registers for this relying party",
                ),
            },
        }
    }

    /// The relying party's own pseudonym, base64url, from `sealed` (the credential's item):
    /// `Err` says why it is not one.
    fn open_pseudonym(&self, sealed: &[u8]) -> Result<String, &'static str> {
        let key = self
            .pseudonym_key
            .as_ref()
            .ok_or("sealed; this desk has no pseudonym key to open it")?;
        match eid_crypto::pseudonym::open_sealed(key, &self.relying_party, sealed) {
            Ok(pseudonym) if pseudonym.len() == PSEUDONYM_LEN => Ok(eid_crypto::b64url(&pseudonym)),
            _ => Err("not a pseudonym sealed to this relying party"),
        }
    }

    /// Whether [`Verifier::verify_offline`] may wait on the network: its replay memory is
    /// shared (Redis) rather than this process's.
    pub fn offline_check_may_block(&self) -> bool {
        self.replay.may_block()
    }

    /// Whether the offline replay memory answers now (asked of a shared one: it may wait on
    /// the network).
    pub fn replay_reachable(&self) -> Result<(), crate::replay::ReplayError> {
        self.replay.reachable()
    }

    /// Keeps the offline replay memory in `memory` (Redis, shared by the desk's replicas)
    /// instead of this process.
    pub fn with_replay_memory(mut self, memory: Box<dyn crate::replay::ReplayMemory>) -> Self {
        self.replay = memory;
        self
    }

    /// The trust list in force.
    pub fn trust(&self) -> &VerifiedTrustList {
        &self.trust
    }

    /// Whom it verifies for.
    pub fn relying_party(&self) -> &str {
        &self.relying_party
    }

    /// Puts a newer trust list in force (read with `VerifiedTrustList::read` against the
    /// one held, so that an older list cannot come back).
    pub fn replace_trust(&mut self, trust: VerifiedTrustList, now: OffsetDateTime) {
        let (roots, owners) = trust.roots(now);
        self.offline_keys = offline_keys(&trust);
        self.trust = trust;
        self.signers = DocumentSignerCache::new(roots, SIGNER_CACHE_CAPACITY);
        self.owners = owners;
    }

    /// The listed issuers' IACA roots with the document signers checked under them (how
    /// many chains were checked in full: [`DocumentSignerCache::chains_checked`]).
    pub fn document_signers(&self) -> &DocumentSignerCache {
        &self.signers
    }

    /// The status cache.
    pub fn statuses(&self) -> &StatusCache {
        &self.statuses
    }

    /// The status cache, to store fetched lists and apply pushed changes.
    pub fn statuses_mut(&mut self) -> &mut StatusCache {
        &mut self.statuses
    }

    /// Stores a status list token fetched from `uri` for `issuer`'s credentials.
    pub fn store_status_list(
        &mut self,
        issuer: &str,
        uri: &str,
        token: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), eid_status::StatusError> {
        self.statuses.store(&self.trust, issuer, uri, token, now)
    }

    /// The algorithms the trust list's issuers sign with, in the list's order (ES256 when
    /// it names no issuer): what online requests advertise as the issuer algorithms.
    pub fn issuer_algorithms(&self) -> Vec<eid_crypto::Algorithm> {
        let mut algorithms = Vec::new();
        for issuer in &self.trust.list().issuers {
            if !algorithms.contains(&issuer.algorithm) {
                algorithms.push(issuer.algorithm);
            }
        }
        if algorithms.is_empty() {
            algorithms.push(eid_crypto::Algorithm::Es256);
        }
        algorithms
    }

    /// The attributes this relying party is registered to ask for `purpose` (within the
    /// purpose's catalogue): what a desk asks for by default.
    pub fn registered_attributes(&self, purpose: Purpose) -> Vec<String> {
        let list = self.trust.list();
        let catalogue = list.purpose(purpose).map(|p| &p.attributes);
        list.relying_party(&self.relying_party)
            .and_then(|rp| rp.purposes.get(&purpose))
            .map(|attributes| {
                attributes
                    .iter()
                    .filter(|a| catalogue.is_some_and(|c| c.contains(a)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `purpose` accepts a credential a parent or guardian holds for the resident
    /// (the catalogue's `delegation_allowed`): a request then names the delegated type too.
    pub fn delegation_allowed(&self, purpose: Purpose) -> bool {
        self.trust
            .list()
            .purpose(purpose)
            .is_some_and(|p| p.delegation_allowed)
    }

    fn issuer_of(&self, root: Option<usize>) -> Option<String> {
        root.and_then(|i| self.owners.get(i)).cloned()
    }

    /// A refusal for a reason found before or outside the format's verification (a
    /// transport failure, a holder who declined).
    pub fn refuse(&self, check: &Check<'_>, reason: Reason) -> Report {
        self.refused(check, None, reason)
    }

    fn refused(&self, check: &Check<'_>, format: Option<&'static str>, reason: Reason) -> Report {
        Report {
            accepted: false,
            channel: check.channel,
            relying_party: self.relying_party.clone(),
            purpose: check.purpose,
            format,
            issuer: None,
            wallet_provider: None,
            delegated: None,
            trust_list_version: self.trust.list().version,
            checked_at: check.now,
            attributes: Map::new(),
            reasons: vec![reason],
            presence: None,
        }
    }

    /// `report` with the desk's face check applied. Where the report's purpose requires a
    /// face match (the trust list's catalogue), an accepted report is refused when the faces
    /// did not match (`face_mismatch`) or were not compared (`face_not_checked`), and its
    /// attributes go. Where it does not, the comparison is only reported. A refused report
    /// stays as it is: nothing is compared for it.
    pub fn with_face_check(&self, mut report: Report, check: FaceCheck) -> Report {
        if !report.accepted {
            return report;
        }
        let required = self
            .trust
            .list()
            .purpose(report.purpose)
            .is_some_and(|p| p.face_match_required);
        let refusal = match check {
            FaceCheck::Compared {
                distance,
                threshold,
                live,
            } => {
                let matched = distance <= threshold;
                report.presence = Some(crate::Presence {
                    matched,
                    score: distance,
                    threshold,
                    live: live.as_ref().map(Result::is_ok),
                });
                if !matched {
                    Some(Reason::new(
                        "face_mismatch",
                        format!(
                            "the face at the desk is not the credential's (distance {distance:.2}, at most {threshold:.2} is a match)"
                        ),
                    ))
                } else if let Some(Err(why)) = live {
                    Some(Reason::new(
                        "face_not_live",
                        format!("the person at the desk did not pass the head turn: {why}"),
                    ))
                } else {
                    None
                }
            }
            FaceCheck::NotCompared(why) => Some(Reason::new(
                "face_not_checked",
                format!(
                    "{} requires a face match, and none was made: {why}",
                    report.purpose
                ),
            )),
        };
        if let Some(reason) = refusal.filter(|_| required) {
            report.accepted = false;
            report.attributes = Map::new();
            report.reasons.push(reason);
        }
        report
    }

    /// Verifies an ISO 18013-5 DeviceResponse whose device authentication covers
    /// `session_transcript` (raw CBOR).
    pub fn verify_mdoc(
        &self,
        device_response: &[u8],
        session_transcript: &[u8],
        check: &Check<'_>,
    ) -> Report {
        const FORMAT: &str = "mso_mdoc";
        let not_verified =
            |e: &dyn std::fmt::Display| Reason::new("presentation_not_verified", e.to_string());
        let response = match DeviceResponse::from_cbor(device_response) {
            Ok(r) => r,
            Err(e) => return self.refused(check, Some(FORMAT), not_verified(&e)),
        };
        // The resident's own credential, or one held for the resident (delegated).
        let Some(document) = response
            .documents
            .iter()
            .find(|d| d.doc_type == DOCTYPE_RESIDENT_IDENTITY || d.doc_type == DOCTYPE_DELEGATED)
        else {
            return self.refused(
                check,
                Some(FORMAT),
                Reason::new(
                    "no_document",
                    format!(
                        "the response holds no {DOCTYPE_RESIDENT_IDENTITY} document (status {})",
                        response.status
                    ),
                ),
            );
        };
        let issuer_check = IssuerDataCheck {
            trust: IssuerTrust::Cached(&self.signers),
            now: check.now,
            expected_doc_type: Some(&document.doc_type),
            status: None,
        };
        let verified = match verify_document(document, &issuer_check, session_transcript, None) {
            Ok(v) => v.issuer,
            Err(e) => return self.refused(check, Some(FORMAT), not_verified(&e)),
        };
        let mut found = Found {
            format: FORMAT,
            issuer: self.issuer_of(verified.issuer_root),
            wallet_provider: None,
            printed: false,
            delegated: None,
            disclosed: Vec::new(),
            values: Map::new(),
            valid_from: Some(verified.mso.validity.valid_from),
            valid_until: Some(verified.mso.validity.valid_until),
            status: verified.mso.status.clone(),
        };
        for (namespace, identifier, raw) in &verified.elements {
            let value = eid_mdoc::model::element_to_json(raw).unwrap_or(Value::Null);
            if namespace == eid_mdoc::NAMESPACE_WALLET
                && identifier == eid_mdoc::ELEMENT_WALLET_PROVIDER
            {
                found.wallet_provider = value.as_str().map(str::to_owned);
                continue;
            }
            if namespace == eid_mdoc::NAMESPACE_WALLET
                && identifier == eid_mdoc::ELEMENT_DELEGATION
                && document.doc_type == DOCTYPE_DELEGATED
            {
                found.delegated = value.as_str().and_then(Relationship::parse);
                if found.delegated.is_some() {
                    continue;
                }
            }
            // Elements of other namespaces keep their namespace: no purpose allows them. The
            // relying party's own pseudonym is `pseudonym` (another's stays itself, refused).
            let name = if namespace == DOCTYPE_RESIDENT_IDENTITY {
                attribute_of_item(identifier, &self.relying_party).to_owned()
            } else {
                format!("{namespace}/{identifier}")
            };
            // A pseudonym arrives sealed to this relying party (a bstr) and reads the same in
            // both formats once opened: base64url. One that does not open is refused.
            let (name, value) = if name == eid_trust::PSEUDONYM {
                let opened = byte_string(raw)
                    .ok_or("not a byte string")
                    .and_then(|sealed| self.open_pseudonym(sealed));
                match opened {
                    Ok(pseudonym) => (name, Value::from(pseudonym)),
                    Err(why) => (format!("{identifier} ({why})"), Value::Null),
                }
            } else {
                (name, value)
            };
            found.disclosed.push(name.clone());
            found.values.insert(name, value);
        }
        if document.doc_type == DOCTYPE_DELEGATED && found.delegated.is_none() {
            return self.refused(check, Some(FORMAT), undisclosed_delegation());
        }
        self.decide(found, check)
    }

    /// Verifies an SD-JWT VC presentation whose key binding JWT names `audience` as `aud`
    /// (over OpenID4VP the request's client id) and carries `nonce`.
    pub fn verify_sd_jwt(
        &self,
        presentation: &str,
        audience: &str,
        nonce: &str,
        check: &Check<'_>,
    ) -> Report {
        const FORMAT: &str = "dc+sd-jwt";
        let binding = eid_sdjwt::KeyBindingCheck {
            audience,
            nonce,
            max_age: KEY_BINDING_MAX_AGE,
        };
        let verified = eid_sdjwt::UnverifiedSdJwt::parse(presentation.trim()).and_then(|sd| {
            sd.verify(&eid_sdjwt::VerifyOptions {
                trust: eid_sdjwt::IssuerTrust {
                    x5c: eid_sdjwt::X5cTrust::Cached(&self.signers),
                    keys: &[],
                },
                now: check.now,
                leeway: LEEWAY,
                sd_jwt_vc: true,
                // The resident's own, or one held for her; which one is read below.
                expected_vct: &[eid_sdjwt::VCT_RESIDENT_IDENTITY, eid_sdjwt::VCT_DELEGATED],
                key_binding: Some(&binding),
                status: None,
            })
        });
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                return self.refused(
                    check,
                    Some(FORMAT),
                    Reason::new("presentation_not_verified", e.to_string()),
                );
            }
        };
        // The verified value is ours: its claims move into the report, not copied.
        let eid_sdjwt::VerifiedSdJwt {
            mut claims,
            disclosed: items,
            issuer_root,
            status_reference,
            ..
        } = verified;
        let time = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_i64)
                .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        };
        let (valid_from, valid_until) = (time("nbf"), time("exp"));
        let wallet_provider = claims
            .get("wallet_provider")
            .and_then(Value::as_str)
            .map(str::to_owned);
        // The library accepted one of the two types; which one decides whose it is.
        let vct = claims.get("vct").and_then(Value::as_str);
        let delegated = if vct == Some(eid_sdjwt::VCT_DELEGATED) {
            let relationship = claims
                .get("delegation")
                .and_then(Value::as_str)
                .and_then(Relationship::parse);
            if relationship.is_none() {
                return self.refused(check, Some(FORMAT), undisclosed_delegation());
            }
            relationship
        } else if vct != Some(eid_sdjwt::VCT_RESIDENT_IDENTITY) || claims.contains_key("delegation")
        {
            // Her own names no holder: one that does is not taken for either (nor is
            // another type, should the library's check ever be loosened).
            return self.refused(
                check,
                Some(FORMAT),
                Reason::new(
                    "presentation_not_verified",
                    format!(
                        "the credential is neither {} naming no holder (delegation) nor {}",
                        eid_sdjwt::VCT_RESIDENT_IDENTITY,
                        eid_sdjwt::VCT_DELEGATED
                    ),
                ),
            );
        } else {
            None
        };
        // The relying party's own pseudonym is `pseudonym` (another's stays itself, refused),
        // opened from its seal: base64url as the mdoc's reads.
        let mut disclosed = Vec::with_capacity(items.len());
        let mut values = Map::new();
        for item in &items {
            let mut value = claims.remove(item);
            let mut name = attribute_of_item(item, &self.relying_party).to_owned();
            if name == eid_trust::PSEUDONYM {
                let opened = value
                    .as_ref()
                    .and_then(Value::as_str)
                    .and_then(|text| eid_crypto::b64url_decode(text).ok())
                    .ok_or("not a base64url string")
                    .and_then(|sealed| self.open_pseudonym(&sealed));
                match opened {
                    Ok(pseudonym) => value = Some(Value::from(pseudonym)),
                    Err(why) => {
                        name = format!("{item} ({why})");
                        value = None;
                    }
                }
            }
            if let Some(value) = value {
                values.insert(name.clone(), value);
            }
            disclosed.push(name);
        }
        let found = Found {
            format: FORMAT,
            issuer: self.issuer_of(issuer_root),
            wallet_provider,
            printed: false,
            delegated,
            disclosed,
            values,
            valid_from,
            valid_until,
            status: status_reference,
        };
        self.decide(found, check)
    }

    /// Verifies the bytes of an offline QR code (`eid_mdoc::offline`): the format's checks
    /// (issuer key by `kid` from the trust list, issuer signature, validity, the desk's
    /// purpose, made within the last 60 s, the device signature), a code not already
    /// accepted here, then status and the acceptance policy. The portrait comes as its
    /// digest (`portrait_sha256`) and, where the desk matches faces, as the face template
    /// (`face_template`): each stands for `portrait` in the policy.
    ///
    /// A code printed on paper at a counter (format version 2, bound to no device) is
    /// reported as `eid_paper_code`: no replay memory (the same paper is shown again and
    /// again), and only a purpose whose catalogue allows paper accepts it.
    pub fn verify_offline(&self, code: &[u8], check: &Check<'_>) -> Report {
        const FORMAT: &str = "eid_offline_qr";
        const PAPER: &str = "eid_paper_code";
        let verified = verify_offline(
            code,
            &OfflineCheck {
                keys: &self.offline_keys,
                purpose: check.purpose.as_str(),
                now: check.now,
            },
        );
        let verified = match verified {
            Ok(v) => v,
            Err(e) => {
                let code = match e {
                    OfflineError::TooOld { .. } | OfflineError::FromTheFuture { .. } => {
                        "presentation_expired"
                    }
                    OfflineError::PurposeMismatch { .. } => "purpose_mismatch",
                    _ => "presentation_not_verified",
                };
                return self.refused(check, Some(FORMAT), Reason::new(code, e.to_string()));
            }
        };
        let window = eid_mdoc::offline::MAX_AGE + eid_mdoc::offline::CLOCK_LEEWAY;
        let seen = if verified.printed {
            Ok(None)
        } else {
            self.replay.first_seen(&verified.digest, check.now, window)
        };
        match seen {
            Ok(None) => {}
            Ok(Some(first)) => {
                return self.refused(
                    check,
                    Some(FORMAT),
                    Reason::new(
                        "code_replayed",
                        format!(
                            "this code was already accepted here {} s ago: ask the holder to show a fresh one",
                            (check.now - first).whole_seconds()
                        ),
                    ),
                );
            }
            Err(e) => {
                return self.refused(
                    check,
                    Some(FORMAT),
                    Reason::new(
                        "replay_check_unavailable",
                        format!("{e}: the code cannot be told from a copy; try again, or verify in person"),
                    ),
                );
            }
        }
        let claims = verified.claims;
        let mut found = Found {
            format: if verified.printed { PAPER } else { FORMAT },
            issuer: Some(verified.issuer),
            wallet_provider: claims.provider,
            printed: verified.printed,
            delegated: None,
            disclosed: Vec::new(),
            values: Map::new(),
            valid_from: Some(claims.issued_at),
            valid_until: Some(claims.expires_at),
            status: claims.status,
        };
        for (name, raw) in &claims.attributes {
            let value = eid_mdoc::model::element_to_json(raw).unwrap_or(Value::Null);
            // The portrait's digest and the face template stand for the portrait.
            let policy_name = match name.as_str() {
                eid_mdoc::offline::PORTRAIT_DIGEST | eid_mdoc::offline::FACE_TEMPLATE => "portrait",
                name => name,
            };
            found.disclosed.push(policy_name.to_owned());
            found.values.insert(name.clone(), value);
        }
        let report = self.decide(found, check);
        if !report.accepted && !verified.printed {
            // Refused codes may be shown again (a status list fetched meanwhile).
            self.replay.forget(&verified.digest);
        }
        report
    }

    /// The acceptance policy over what the format's verification found.
    fn decide(&self, found: Found, check: &Check<'_>) -> Report {
        let status =
            self.statuses
                .finding(found.issuer.as_deref(), found.status.as_ref(), check.now);
        let decision = decide(
            &eid_trust::Presentation {
                issuer: found.issuer.as_deref(),
                wallet_provider: found.wallet_provider.as_deref(),
                printed: found.printed,
                delegated: found.delegated,
                requested: check.requested,
                disclosed: &found.disclosed,
                valid_from: found.valid_from,
                valid_until: found.valid_until,
                status,
            },
            Registration {
                relying_party: &self.relying_party,
                purpose: check.purpose,
            },
            &self.trust,
            check.now,
        );
        Report {
            accepted: decision.accepted,
            channel: check.channel,
            relying_party: self.relying_party.clone(),
            purpose: check.purpose,
            format: Some(found.format),
            issuer: found.issuer,
            wallet_provider: found.wallet_provider,
            delegated: found.delegated,
            trust_list_version: self.trust.list().version,
            checked_at: check.now,
            attributes: if decision.accepted {
                found.values
            } else {
                Map::new()
            },
            reasons: decision.reasons.iter().map(Reason::policy).collect(),
            presence: None,
        }
    }
}

/// A delegated credential whose relationship is missing or not one eid knows: the desk
/// could not say who holds it, so it is refused.
fn undisclosed_delegation() -> Reason {
    Reason::new(
        "delegation_undisclosed",
        "the credential is held for the resident by someone else, and does not say by whom (its delegation is missing or unknown)",
    )
}

#[cfg(test)]
mod tests {
    use super::byte_string;

    #[test]
    fn a_byte_string_is_read_whole_and_nothing_else_is() {
        assert_eq!(byte_string(&[0x40]), Some(&[][..]));
        assert_eq!(byte_string(&[0x43, 1, 2, 3]), Some(&[1, 2, 3][..]));
        let long = [[0x58, 105].as_slice(), &[9; 105]].concat();
        assert_eq!(byte_string(&long), Some(&[9; 105][..]));
        let longer = [[0x59, 1, 0].as_slice(), &[7; 256]].concat();
        assert_eq!(byte_string(&longer), Some(&[7; 256][..]));
        for refused in [
            &[][..],
            &[0x43, 1, 2],             // cut short
            &[0x43, 1, 2, 3, 4],       // more after it
            &[0x58],                   // no length
            &[0x59, 1],                // half a length
            &[0x63, b'a', b'b', b'c'], // text
            &[0x5f, 0x41, 1, 0xff],    // indefinite length
            &[0x18, 24],               // an integer
        ] {
            assert_eq!(byte_string(refused), None, "{refused:?}");
        }
    }
}
