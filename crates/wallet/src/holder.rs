//! The holder's flows that talk to the authority, once, for every wallet: the command-line
//! wallet, the provider's hosted wallet and the phone SDK (`eid-sdk`) all call these.
//!
//! - [`Holder::redeem`]: an OpenID4VCI 1.0 offer (from the counter, a remote enrolment or a
//!   refresh) redeemed with the transaction code — the issuer's metadata, the token, for each
//!   configuration offered a fresh `c_nonce` and a key proof per instance, each credential
//!   kept only when bound to the key it was asked for.
//! - [`Holder::enrol_remote`]: the identity, the card's photographs and a live capture of the
//!   face to the authority's `POST /enrolment` with a proof of this wallet; the offer that
//!   comes back is redeemed.
//! - [`Holder::refresh`]: a proof of this wallet to `POST /refresh`; the offer redeemed.
//! - [`Holder::report_lost`]: the holder's other wallets reported lost (or, moving, revoked)
//!   from this one, proofed by face.
//! - [`Holder::offline`]: an offline code for a purpose, the showing recorded, and the
//!   credential to make the next ones with (every 30 s).
//! - [`Holder::receive_online`], [`Holder::share_online`], [`Holder::decline_online`]:
//!   OpenID4VP by an `openid4vp://` link — the request fetched and checked against the
//!   trust list, then shared (the answer posted, the showing recorded) or declined (the
//!   relying party told no).
//!
//! The keys are the wallet's: a [`DeviceKeys`] is the keystore, already unlocked for this one
//! operation (the PIN or the biometric prompt is the wallet's, before it calls), and an
//! [`Attester`] is the provider that vouches for them (a super-app's server, the hosted
//! provider, or a fixed attestation of one device key).

use eid_core::Random;
use eid_crypto::{Signer, VerifyingKey};
use eid_http::HttpError;
use eid_oid4vc::eid::{LostReport, LostTaken, OfferMade, RefreshRequest, RemoteEnrolment};
use eid_oid4vc::token::{NonceResponse, TokenResponse};
use eid_trust::{Purpose, VerifiedTrustList};
use time::OffsetDateTime;

use crate::enrolment::{EnrolError, Enrolment, LiveCapture, accept, held_for};
use crate::in_person::{ConsentRequest, PendingRequest, RequestRefused};
use crate::offline::OfflineCredential;
use crate::online::{Held, PendingOnline};
use crate::store::{Instance, Presentation, StoreError, WalletStore, Whose};

/// Instances asked for in one batch, at most (whatever the issuer offers).
pub const MAX_BATCH: u32 = 10;

/// Why a holder's flow did not complete. Never carries the holder's data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HolderError {
    /// The offer could not be read.
    #[error("the offer: {0}")]
    Offer(EnrolError),
    /// What the holder's app passed is not usable (a link, a purpose).
    #[error("{0}")]
    Invalid(String),
    /// The offer is from an issuer this wallet does not work with: it would get the
    /// transaction code, the key proofs and the attestation.
    #[error("the offer is not from an issuing authority this wallet works with")]
    UnknownIssuer,
    /// A service could not be reached, or did not answer in time.
    #[error("{what} could not be reached: {source}")]
    Unreachable {
        /// Which service.
        what: &'static str,
        /// Why.
        source: HttpError,
    },
    /// The authority (or issuer) refused, with its `error` code and its words.
    #[error("the authority refused ({code}): {description}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its OAuth-style `error` code (`refused` when it gave none).
        code: String,
        /// Its `error_description`.
        description: String,
    },
    /// A service answered with something that is not what the protocol says.
    #[error("{0}")]
    Upstream(String),
    /// The credentials that came back are not the ones asked for.
    #[error("the credentials: {0}")]
    Credentials(EnrolError),
    /// The wallet's keys (wrong PIN, locked, a key missing, the hardware refused).
    #[error("the wallet's keys: {0}")]
    Keys(String),
    /// The provider did not attest the keys.
    #[error("the key attestation: {0}")]
    Attestation(String),
    /// The wallet holds no credential yet (refresh before enrolment).
    #[error("this wallet holds no credential yet: enrol first")]
    NotEnrolled,
    /// The wallet holds no credential it may use for this.
    #[error("this wallet holds no {0}")]
    NoCredential(String),
    /// A credential held for someone else, chosen where the request takes the holder's own
    /// alone (its purpose does not allow delegation).
    #[error(
        "this relying party does not accept a credential held for someone else for this purpose: share your own, or decline"
    )]
    DelegationNotAccepted,
    /// The relying party's request was refused before the holder was asked (its signature,
    /// its registration, what it asks beyond it).
    #[error("{0}")]
    Request(RequestRefused),
    /// The credential store.
    #[error("the wallet's store: {0}")]
    Store(#[from] StoreError),
}

impl HolderError {
    /// `whose` credentials hold none this relying party may be shown: the holder's own
    /// none, or all shown to others (a refresh brings a new batch); a holding's expired or
    /// all shown to others (a holding is not refreshed: a new one comes from the counter).
    pub fn none_to_show(whose: Whose) -> Self {
        Self::NoCredential(match whose {
            Whose::Mine => "credential it may show this relying party (none, or all shown to others: refresh for a new batch)".into(),
            Whose::Held(_) => "credential held for someone else it may show this relying party (expired, or all shown to others: a new one comes from the counter)".into(),
        })
    }

    /// The error an HTTP exchange with `what` ended in: a refusal with the service's own
    /// code and words, or the service unreachable.
    pub fn from_exchange(what: &'static str, e: HttpError) -> Self {
        match e {
            HttpError::Status(status, body) => {
                let parsed: serde_json::Value =
                    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                let code = parsed["error"].as_str().unwrap_or("refused").to_owned();
                let description = parsed["error_description"]
                    .as_str()
                    .or(parsed["message"].as_str())
                    .map_or(body.clone(), str::to_owned);
                Self::Refused {
                    status,
                    code,
                    description,
                }
            }
            source => Self::Unreachable { what, source },
        }
    }
}

/// The wallet's keys for one operation, unlocked: a phone's secure hardware, or a software
/// keystore opened with the PIN.
pub trait DeviceKeys: Send + Sync {
    /// Keys for `count` new credential instances, each with its id: a fresh key for every
    /// instance where the keystore can make them (relying parties cannot link instances by
    /// key), else the one device key (then one instance only).
    fn instance_keys(&mut self, count: usize) -> Result<Vec<(String, VerifyingKey)>, HolderError>;
    /// The key that proves this wallet to the authority (its id and public key).
    fn wallet_key(&self) -> Result<(String, VerifyingKey), HolderError>;
    /// The public key `id`.
    fn public_key(&self, id: &str) -> Result<VerifyingKey, HolderError>;
    /// A signer with the key `id`.
    fn signer(&self, id: &str) -> Result<Box<dyn Signer + '_>, HolderError>;
}

/// The wallet provider vouching for keys of this wallet instance: an OpenID4VCI key
/// attestation (`key-attestation+jwt`) over exactly `keys`.
pub trait Attester: Send + Sync {
    /// The attestation of `keys`, made at `now`.
    fn attest(&self, keys: &[VerifyingKey], now: OffsetDateTime) -> Result<String, HolderError>;
}

/// One attestation made beforehand, of the one device key (the command-line wallet's
/// `eid provider attest`): it vouches for that key only.
#[derive(Debug, Clone)]
pub struct FixedAttestation(pub String);

impl Attester for FixedAttestation {
    fn attest(&self, _: &[VerifyingKey], _: OffsetDateTime) -> Result<String, HolderError> {
        Ok(self.0.trim().to_owned())
    }
}

/// What a redeemed offer left in the wallet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Enrolled {
    /// The issuer (its Credential Issuer Identifier).
    pub issuer: String,
    /// The configurations received (each in as many instances as the issuer's batch).
    pub credentials: Vec<String>,
    /// The holding they make, when they are held for someone else ([`Whose::Held`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holding: Option<i64>,
}

/// The holder, identified to the authority: for a remote enrolment or a lost report.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The resident identity number.
    pub id_number: &'a str,
    /// The name as on the card.
    pub full_name: &'a str,
}

/// The offline credential chosen for a purpose, its first code made and its showing
/// recorded: make the next codes with [`OfflineCredential::code`] and the signer of
/// `key_id`.
pub struct OfflineShow {
    /// The first code (what the QR code carries).
    pub code: Vec<u8>,
    /// The compact credential.
    pub credential: OfflineCredential,
    /// The key it is bound to.
    pub key_id: String,
    /// The attributes a code shows.
    pub shows: Vec<String>,
}

/// An in-person answer made for the desk: send `message`, then record it
/// ([`Holder::record_in_person`]).
pub struct InPersonAnswer {
    /// The encrypted SessionData to send the desk.
    pub message: Vec<u8>,
    instance: i64,
    consent: ConsentRequest,
    held_for: Option<String>,
}

impl std::fmt::Debug for InPersonAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InPersonAnswer")
            .field("relying_party", &self.consent.relying_party)
            .finish_non_exhaustive()
    }
}

/// A wallet's credential store with the holder's flows.
#[derive(Debug, Clone)]
pub struct Holder {
    store: WalletStore,
    holds_for_others: bool,
}

impl Holder {
    /// The holder of the credentials in `store`: her own alone, refusing a delegation's
    /// offer before its code is spent (a wallet that cannot keep another's credentials
    /// apart, on keys of their own, and let the holder choose, must not take them).
    pub fn new(store: WalletStore) -> Self {
        Self {
            store,
            holds_for_others: false,
        }
    }

    /// The same holder, also taking credentials held for someone else (a delegation's
    /// offer), each delegation kept as a holding apart from her own.
    pub fn holding_for_others(mut self) -> Self {
        self.holds_for_others = true;
        self
    }

    /// The credential store (listing, history).
    pub fn store(&self) -> &WalletStore {
        &self.store
    }

    /// The issuer of the credentials held, once the wallet holds any.
    pub async fn issuer(&self) -> Result<String, HolderError> {
        if self.store.list().await?.is_empty() {
            return Err(HolderError::NotEnrolled);
        }
        self.store.issuer().await?.ok_or(HolderError::NotEnrolled)
    }

    /// The offer `offer`, read, from one of `issuers` when they are given: what
    /// [`Self::redeem`] checks before anything is sent (callers check it before they ask for
    /// the PIN, too).
    pub fn check_offer(offer: &str, issuers: Option<&[String]>) -> Result<Enrolment, HolderError> {
        let enrolment = Enrolment::from_offer(offer).map_err(HolderError::Offer)?;
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        if let Some(issuers) = issuers
            && !issuers.iter().any(|i| same(i, enrolment.issuer()))
        {
            return Err(HolderError::UnknownIssuer);
        }
        Ok(enrolment)
    }

    /// Redeems the offer `offer` with `tx_code`, every configuration offered, keeping each
    /// credential only when bound to the key it was asked for. `issuers`, when given, are
    /// the only issuers this wallet sends its code, proofs and attestation to.
    pub async fn redeem(
        &self,
        offer: &str,
        tx_code: &str,
        issuers: Option<&[String]>,
        keys: &mut dyn DeviceKeys,
        attester: &dyn Attester,
        now: OffsetDateTime,
    ) -> Result<Enrolled, HolderError> {
        let enrolment = Self::check_offer(offer, issuers)?;
        let (issuer_url, server_url) = enrolment.metadata_urls();
        let fetch = |url| async move {
            eid_http::fetch(url, "application/json")
                .await
                .map_err(|source| HolderError::Unreachable {
                    what: "the issuer's metadata",
                    source,
                })
        };
        let (issuer, server) = (fetch(&issuer_url).await?, fetch(&server_url).await?);
        let (endpoints, metadata) = enrolment
            .endpoints(&issuer, &server)
            .map_err(|e| HolderError::Upstream(format!("the issuer's metadata: {e}")))?;
        // A credential held for someone else (a child's, in a parent's wallet) is of a type
        // of its own, and kept apart from the holder's own, as a holding of its own: an
        // offer is either all the holder's own or all one delegation, never a mix.
        let delegated = |id: &String| {
            metadata
                .credential_configurations_supported
                .get(id)
                .is_some_and(|c| {
                    c.doctype.as_deref() == Some(eid_mdoc::DOCTYPE_DELEGATED)
                        || c.vct.as_deref() == Some(eid_sdjwt::VCT_DELEGATED)
                })
        };
        let configurations = enrolment.configurations();
        let for_another = configurations.iter().any(delegated);
        if for_another && !self.holds_for_others {
            return Err(HolderError::Invalid(
                "this offer is of a credential held for someone else (a delegation), which this wallet does not hold".into(),
            ));
        }
        if for_another && !configurations.iter().all(delegated) {
            return Err(HolderError::Invalid(
                "this offer mixes the holder's own credentials with one held for someone else"
                    .into(),
            ));
        }
        let token: TokenResponse = exchange(
            "the token endpoint",
            eid_http::post_form(&endpoints.token, enrolment.token_form(tx_code)).await,
        )?;
        if token.access_token.is_empty() {
            return Err(HolderError::Upstream(
                "the token endpoint's answer has no access token".into(),
            ));
        }
        let batch = metadata
            .batch_credential_issuance
            .as_ref()
            .map_or(1, |b| b.batch_size.clamp(1, MAX_BATCH));
        let mut kept = Vec::new();
        let mut whose = (!for_another).then_some(Whose::Mine);
        let mut held_as = None;
        for configuration in configurations {
            let Some(supported) = metadata
                .credential_configurations_supported
                .get(configuration)
            else {
                continue;
            };
            let format = supported.format.clone();
            let signed_type = supported.doctype.clone().or(supported.vct.clone());
            let nonce: NonceResponse = exchange(
                "the nonce endpoint",
                eid_http::post_form(&endpoints.nonce, String::new()).await,
            )?;
            let asked = keys.instance_keys(batch as usize)?;
            let public: Vec<VerifyingKey> = asked.iter().map(|(_, k)| k.clone()).collect();
            let attestation = attester.attest(&public, now)?;
            let request = {
                let signers = asked
                    .iter()
                    .map(|(id, _)| keys.signer(id))
                    .collect::<Result<Vec<_>, _>>()?;
                let signers: Vec<&dyn Signer> = signers.iter().map(AsRef::as_ref).collect();
                enrolment
                    .credential_request(configuration, &signers, &nonce.c_nonce, &attestation, now)
                    .map_err(|e| HolderError::Keys(e.to_string()))?
            };
            let response =
                eid_http::post_json(&endpoints.credential, Some(&token.access_token), request)
                    .await
                    .map_err(|e| HolderError::from_exchange("the credential endpoint", e))?;
            let received = accept(&format, &response, &public).map_err(HolderError::Credentials)?;
            let relationship =
                held_for(&received, signed_type.as_deref(), for_another).map_err(|e| {
                    HolderError::Credentials(EnrolError::Response(format!(
                        "the credentials of {configuration}: {e}"
                    )))
                })?;
            // (`held_for` names a relationship exactly when the offer is a delegation's.)
            let whose = match (whose, relationship) {
                (Some(Whose::Mine), None) => Whose::Mine,
                (None, Some(relationship)) => {
                    let holding = self
                        .store
                        .add_holding(relationship.as_str(), enrolment.issuer(), now)
                        .await?;
                    held_as = Some(relationship);
                    *whose.insert(Whose::Held(holding))
                }
                (Some(held @ Whose::Held(_)), Some(relationship))
                    if held_as == Some(relationship) =>
                {
                    held
                }
                _ => {
                    return Err(HolderError::Credentials(EnrolError::Response(format!(
                        "the credentials of {configuration} name another relationship than the offer's others"
                    ))));
                }
            };
            for (accepted, (key_id, _)) in received.into_iter().zip(&asked) {
                let expires_at = accepted.expires_at(now);
                let (format, purpose) = (accepted.format(), accepted.purpose.clone());
                self.store
                    .add(
                        whose,
                        format,
                        purpose.as_deref(),
                        key_id,
                        &accepted.into_bytes(),
                        expires_at,
                    )
                    .await?;
            }
            kept.push(configuration.clone());
        }
        // The issuer a refresh goes to is the one of the holder's own credentials.
        if !kept.is_empty() && !for_another {
            self.store.set_issuer(enrolment.issuer()).await?;
        }
        Ok(Enrolled {
            issuer: enrolment.issuer().to_owned(),
            credentials: kept,
            holding: match whose {
                Some(Whose::Held(id)) => Some(id),
                _ => None,
            },
        })
    }

    /// Remote enrolment at `authority`: who the holder is, the card's front and back (JPEG)
    /// and a live capture of her face, with a proof of this wallet; the offer that comes back
    /// (bound to this wallet) is redeemed.
    #[expect(clippy::too_many_arguments, reason = "one flow's inputs, each named")]
    pub async fn enrol_remote(
        &self,
        authority: &str,
        identity: Identity<'_>,
        card: (&[u8], &[u8]),
        face: LiveCapture<'_>,
        keys: &mut dyn DeviceKeys,
        attester: &dyn Attester,
        now: OffsetDateTime,
    ) -> Result<Enrolled, HolderError> {
        let authority = authority.trim_end_matches('/');
        let (face, face_turned, turn) = capture(face);
        let body = RemoteEnrolment {
            id_number: identity.id_number.to_owned(),
            full_name: identity.full_name.to_owned(),
            card_front: b64(card.0),
            card_back: b64(card.1),
            face,
            face_turned,
            turn,
            wallet_proof: wallet_proof(authority, &*keys, attester, now).await?,
        };
        let made: OfferMade = post(&format!("{authority}/enrolment"), &body).await?;
        if let Some(secret) = &made.history_secret {
            self.keep_history_secret(secret).await?;
        }
        self.redeem(
            &made.offer_uri,
            &made.tx_code,
            Some(&[authority.to_owned()]),
            keys,
            attester,
            now,
        )
        .await
    }

    /// A new batch before the credentials run out or expire (no new proofing while they are
    /// valid): a proof of this wallet to `authority` (the one that issued them,
    /// [`Self::issuer`]), the offer redeemed.
    pub async fn refresh(
        &self,
        authority: &str,
        keys: &mut dyn DeviceKeys,
        attester: &dyn Attester,
        now: OffsetDateTime,
    ) -> Result<Enrolled, HolderError> {
        let authority = authority.trim_end_matches('/');
        let body = RefreshRequest {
            wallet_proof: wallet_proof(authority, &*keys, attester, now).await?,
        };
        let made: OfferMade = post(&format!("{authority}/refresh"), &body).await?;
        self.redeem(
            &made.offer_uri,
            &made.tx_code,
            Some(&[authority.to_owned()]),
            keys,
            attester,
            now,
        )
        .await
    }

    /// Reports the holder's other wallets lost, from this one, proofed by a live capture of
    /// her face: the authority suspends them (reversible). With `moving`, she has moved to
    /// this wallet: the authority revokes them for good, and refuses
    /// (`move_not_completed`) while this wallet holds none of her credentials.
    #[expect(clippy::too_many_arguments, reason = "one flow's inputs, each named")]
    pub async fn report_lost(
        &self,
        authority: &str,
        identity: Identity<'_>,
        face: LiveCapture<'_>,
        moving: bool,
        keys: &dyn DeviceKeys,
        attester: &dyn Attester,
        now: OffsetDateTime,
    ) -> Result<LostTaken, HolderError> {
        let authority = authority.trim_end_matches('/');
        let (face, face_turned, turn) = capture(face);
        let body = LostReport {
            id_number: identity.id_number.to_owned(),
            full_name: identity.full_name.to_owned(),
            face,
            face_turned,
            turn,
            wallet_proof: wallet_proof(authority, keys, attester, now).await?,
            moving,
        };
        let mut taken: LostTaken = post(&format!("{authority}/lost"), &body).await?;
        // Kept by the wallet, never handed on with the rest of the answer.
        if let Some(secret) = taken.history_secret.take() {
            self.keep_history_secret(&secret).await?;
        }
        Ok(taken)
    }

    /// Keeps the history secret a face-proofed step gave ([`crate::backup`]).
    async fn keep_history_secret(&self, secret: &str) -> Result<(), HolderError> {
        crate::backup::HistoryBackup::new(self.store.clone())
            .keep_secret(secret)
            .await
            .map_err(|e| match e {
                crate::backup::BackupError::Store(e) => e.into(),
                e => HolderError::Upstream(format!("the authority's answer: {e}")),
            })
    }

    /// Whether an offline code for `purpose` can be shown now: asked before the PIN or the
    /// biometric prompt, so that a wallet without the purpose's credential says so
    /// (`NoCredential`) rather than spend an attempt on nothing.
    pub async fn can_show_offline(
        &self,
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<(), HolderError> {
        let found = self
            .store
            .can_pick(
                Whose::Mine,
                eid_oid4vc::FORMAT_EID_COMPACT,
                Some(purpose.as_str()),
                &format!("offline:{purpose}"),
                now,
            )
            .await?;
        if found {
            Ok(())
        } else {
            Err(HolderError::NoCredential(format!(
                "offline credential for {purpose}"
            )))
        }
    }

    /// An offline code for `purpose`, signed at `now`, with the credential to make the next
    /// ones; the showing is recorded in the history once the code is made (a cancelled
    /// prompt shows nothing). Whoever scans an offline code is not known: the purpose's one
    /// instance is shown (as the relying party `offline:<purpose>`).
    pub async fn offline(
        &self,
        purpose: Purpose,
        keys: &dyn DeviceKeys,
        now: OffsetDateTime,
    ) -> Result<OfflineShow, HolderError> {
        let instance: Instance = self
            .store
            .pick(
                Whose::Mine,
                eid_oid4vc::FORMAT_EID_COMPACT,
                Some(purpose.as_str()),
                &format!("offline:{purpose}"),
                now,
            )
            .await?
            .ok_or_else(|| {
                HolderError::NoCredential(format!("offline credential for {purpose}"))
            })?;
        let device = keys.public_key(&instance.key_id)?;
        let credential = OfflineCredential::new(&instance.credential, &device)
            .map_err(|e| HolderError::Credentials(EnrolError::Response(e.to_string())))?;
        let shows: Vec<String> = credential
            .attribute_names()
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        let code = credential
            .code(keys.signer(&instance.key_id)?.as_ref(), now)
            .map_err(|e| HolderError::Keys(format!("the offline code could not be signed: {e}")))?;
        self.store
            .record(
                &Presentation {
                    at: now.unix_timestamp(),
                    channel: "offline_qr".into(),
                    relying_party: None,
                    relying_party_name: None,
                    purpose: purpose.as_str().into(),
                    attributes: shows.clone(),
                    held_for: None,
                },
                Some(instance.id),
            )
            .await?;
        Ok(OfflineShow {
            code,
            credential,
            key_id: instance.key_id,
            shows,
        })
    }

    /// Reads an OpenID4VP request from its `openid4vp://` invocation (a link or a QR code):
    /// the signed request object fetched from its `request_uri` and checked against the
    /// trust list — its reader certificate, the registration of who asks, what it may ask —
    /// before the holder is asked anything.
    pub async fn receive_online(
        &self,
        invocation: &str,
        trust: &VerifiedTrustList,
        now: OffsetDateTime,
    ) -> Result<PendingOnline, HolderError> {
        let (client_id, request_uri) = eid_oid4vc::vp::parse_invocation(invocation)
            .map_err(|e| HolderError::Invalid(format!("not an openid4vp:// invocation: {e}")))?;
        let request = eid_http::fetch(&request_uri, "application/oauth-authz-req+jwt")
            .await
            .map_err(|source| HolderError::Unreachable {
                what: "the relying party's request",
                source,
            })?;
        let request = String::from_utf8(request)
            .map_err(|_| HolderError::Invalid("the relying party's request is not text".into()))?;
        crate::online::receive(&client_id, &request, trust, now).map_err(HolderError::Request)
    }

    /// Shares what `pending` asks, the holder having agreed, from `whose` credentials (her
    /// own, or one she holds for someone else, where the request accepts that:
    /// `consent.delegation`): the instance of the mdoc this relying party may see (its own,
    /// never one shown to another), the answer signed by its key and posted, the showing
    /// recorded. When the wallet holds none it may show, the relying party is told no
    /// (`access_denied`, OpenID4VP §8.5) and the error says why.
    pub async fn share_online(
        &self,
        pending: &PendingOnline,
        whose: Whose,
        keys: &dyn DeviceKeys,
        random: &dyn Random,
        now: OffsetDateTime,
    ) -> Result<(), HolderError> {
        let relying_party = &pending.consent.relying_party;
        // Whether the request takes a credential of this type at all, before one is marked
        // shown: another's where it takes the holder's own alone is the holder's choice to
        // make again (nothing is sent).
        if !pending.accepts(eid_oid4vc::FORMAT_MSO_MDOC, whose.doc_type()) {
            if whose != Whose::Mine {
                return Err(HolderError::DelegationNotAccepted);
            }
            self.decline_online(pending, random).await;
            return Err(HolderError::NoCredential(
                "credential of the type this relying party asks for".into(),
            ));
        }
        let held_for = self.store.relationship(whose).await?;
        let picked = self
            .store
            .pick(whose, eid_oid4vc::FORMAT_MSO_MDOC, None, relying_party, now)
            .await?;
        if picked.is_none() && whose != Whose::Mine {
            // Not refreshed: the holder may still show her own, or decline.
            return Err(HolderError::none_to_show(whose));
        }
        let Some(instance) = picked else {
            self.decline_online(pending, random).await;
            return Err(HolderError::none_to_show(whose));
        };
        let answer = {
            let signer = keys.signer(&instance.key_id)?;
            pending
                .respond(
                    Held::Mdoc(&instance.credential),
                    signer.as_ref(),
                    random,
                    now,
                )
                .map_err(|e| HolderError::Keys(format!("the answer could not be made: {e}")))?
        };
        eid_http::post_form(&answer.response_uri, answer.body)
            .await
            .map_err(|source| HolderError::Unreachable {
                what: "the relying party",
                source,
            })?;
        self.store
            .record(
                &Presentation {
                    at: now.unix_timestamp(),
                    channel: "online".into(),
                    relying_party: Some(relying_party.clone()),
                    relying_party_name: Some(pending.consent.relying_party_name.clone()),
                    purpose: pending.consent.purpose.as_str().into(),
                    attributes: pending.consent.attributes.clone(),
                    held_for,
                },
                Some(instance.id),
            )
            .await?;
        Ok(())
    }

    /// The answer to a desk's in-person request the holder agreed to (`pending`, read and
    /// checked by [`crate::in_person::Engagement::receive`]) from `whose` credentials (her
    /// own, or one she holds for someone else, where the request takes that:
    /// `consent.delegation`): the mdoc instance this relying party may see (its own, never
    /// one shown to another), its DeviceResponse signed by that instance's key and encrypted
    /// for the session. The caller sends the answer's `message` over its transport (the
    /// phone's radio, TCP), then [`Self::record_in_person`]; with none it may show
    /// (`NoCredential`) or a key that does not sign, it sends
    /// [`crate::in_person::refusal`]. Another's credential where the request takes her own
    /// alone is `DelegationNotAccepted`, before anything is picked: the holder may choose
    /// again.
    pub async fn answer_in_person(
        &self,
        pending: PendingRequest,
        whose: Whose,
        keys: &dyn DeviceKeys,
        now: OffsetDateTime,
    ) -> Result<InPersonAnswer, HolderError> {
        let consent = pending.consent.clone();
        if !pending.accepts(whose.doc_type()) {
            return Err(HolderError::DelegationNotAccepted);
        }
        let held_for = self.store.relationship(whose).await?;
        let instance = self
            .store
            .pick(
                whose,
                eid_oid4vc::FORMAT_MSO_MDOC,
                None,
                &consent.relying_party,
                now,
            )
            .await?
            .ok_or(HolderError::none_to_show(whose))?;
        let signer = keys.signer(&instance.key_id)?;
        let message = pending
            .respond(&instance.credential, signer.as_ref())
            .map_err(|e| HolderError::Keys(format!("the answer could not be made: {e}")))?;
        Ok(InPersonAnswer {
            message,
            instance: instance.id,
            consent,
            held_for,
        })
    }

    /// Keeps an in-person answer that was sent in the history (who, when, why, which
    /// attributes).
    pub async fn record_in_person(
        &self,
        answer: &InPersonAnswer,
        now: OffsetDateTime,
    ) -> Result<(), HolderError> {
        let consent = &answer.consent;
        self.store
            .record(
                &Presentation {
                    at: now.unix_timestamp(),
                    channel: "in_person".into(),
                    relying_party: Some(consent.relying_party.clone()),
                    relying_party_name: Some(consent.relying_party_name.clone()),
                    purpose: consent.purpose.as_str().into(),
                    attributes: consent.attributes.clone(),
                    held_for: answer.held_for.clone(),
                },
                Some(answer.instance),
            )
            .await?;
        Ok(())
    }

    /// Tells the relying party no (`access_denied`, nothing else), so its page stops
    /// waiting: whether it could be told (if not, the answer is still no).
    pub async fn decline_online(&self, pending: &PendingOnline, random: &dyn Random) -> bool {
        match pending.decline(random) {
            Ok(answer) => eid_http::post_form(&answer.response_uri, answer.body)
                .await
                .is_ok(),
            Err(_) => false,
        }
    }
}

/// A key proof of this wallet for `authority`: a fresh nonce from its `/nonce`, signed with
/// the wallet key, the attestation of that key inside.
async fn wallet_proof(
    authority: &str,
    keys: &dyn DeviceKeys,
    attester: &dyn Attester,
    now: OffsetDateTime,
) -> Result<String, HolderError> {
    let what = "the authority's nonce endpoint";
    let nonce = eid_http::post_form(&format!("{authority}/nonce"), String::new())
        .await
        .map_err(|source| HolderError::Unreachable { what, source })?;
    let nonce: NonceResponse = read(what, nonce)?;
    let (id, public) = keys.wallet_key()?;
    let attestation = attester.attest(std::slice::from_ref(&public), now)?;
    let signer = keys.signer(&id)?;
    eid_oid4vc::proof::key_proof(
        signer.as_ref(),
        authority,
        &nonce.c_nonce,
        now,
        Some(&attestation),
    )
    .map_err(|e| HolderError::Keys(e.to_string()))
}

/// POSTs `body` as JSON to one of the authority's endpoints and reads its answer.
async fn post<T: serde::de::DeserializeOwned>(
    url: &str,
    body: &impl serde::Serialize,
) -> Result<T, HolderError> {
    let body = serde_json::to_string(body).map_err(|e| HolderError::Upstream(e.to_string()))?;
    exchange("the authority", eid_http::post_json(url, None, body).await)
}

/// The answer of an exchange with `what` (its refusal, with its code and words, as
/// [`HolderError::from_exchange`] reads it), read as `T`.
fn exchange<T: serde::de::DeserializeOwned>(
    what: &'static str,
    answer: Result<Vec<u8>, HttpError>,
) -> Result<T, HolderError> {
    read(
        what,
        answer.map_err(|e| HolderError::from_exchange(what, e))?,
    )
}

/// `what`'s answer read as `T`.
fn read<T: serde::de::DeserializeOwned>(what: &str, bytes: Vec<u8>) -> Result<T, HolderError> {
    serde_json::from_slice(&bytes).map_err(|e| {
        HolderError::Upstream(format!("{what}'s answer is not what it should be: {e}"))
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn capture(face: LiveCapture<'_>) -> (String, String, String) {
    (
        b64(face.facing),
        b64(face.turned),
        face.turn.as_str().to_owned(),
    )
}
