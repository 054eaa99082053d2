//! Remote enrolment (`POST /enrolment`): the seeds' flow — enter your identity, upload the
//! card's front and back, scan your face — from a wallet its provider attests. And the lost
//! phone reported from another wallet (`POST /lost`: identity, face, wallet proof): proofed
//! the same way, then every VALID credential of the resident in other wallet instances is
//! suspended — reversible, the phone may be found. With `"move": true` the report says the
//! holder has moved to the reporting wallet: it must then hold VALID credentials of that
//! resident itself (the new phone enrolled), else it is refused (`move_not_completed`,
//! nothing changed); if it does, every credential of hers in other instances is revoked
//! (INVALID, for good: a found old phone cannot come back) and her pending offers voided.
//! And a refresh (`POST /refresh`: a wallet proof only) for a wallet whose
//! credentials are still VALID: a new offer bound to it, no new proofing.
//!
//! ```text
//! { "id_number": tstr, "full_name": tstr,
//!   "card_front": base64 JPEG, "card_back": base64 JPEG,
//!   "face": base64 JPEG, "face_turned": base64 JPEG, "turn": "left" / "right",
//!   "wallet_proof": openid4vci-proof+jwt carrying the provider's key attestation }
//! ```
//!
//! The face is two captures: `face` looks at the camera, `face_turned` is the same person a
//! moment later with the head turned to their `turn` (the wallet picks the way at random and
//! says it), the liveness challenge of [`eid_face::head_turn`]. `POST /lost` carries the same
//! three fields.
//!
//! The wallet proves it is an attested wallet instance the way it will at the Credential
//! Endpoint: a `jwt` key proof (fresh `c_nonce` from `/nonce`, `aud` = the issuer) signed by
//! a key its provider attests, with the attestation in `key_attestation`. The offer that
//! comes back is bound to that wallet instance: no other wallet can redeem it.
//!
//! Checks, in order, each refusal with its own code (HTTP 422): the wallet's proof and
//! attestation (`wallet_not_attested`), the registry (as at the counter: `invalid_number`,
//! `not_in_registry`, `name_mismatch`, `card_reported_lost`, `card_replaced`, `card_expired`,
//! `deceased`), a registry portrait to compare with (`no_registry_portrait`), the face
//! capture (`face_capture_unusable`, `face_mismatch`, then `face_not_live`: the head did not
//! turn as asked or the two captures show different people), and with OCR the card front
//! (`card_text_mismatch`). Failures count against the identity and against the wallet
//! instance; too many in an hour and either is refused for a while (429). The answer is the
//! offer and its transaction code, given to the proofed wallet directly (there is no
//! second channel here to send the code on).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use base64::Engine;
use eid_core::ResidentIdNumber;
use eid_oid4vc::eid::{LostReport, LostTaken, OfferMade, RefreshRequest, RemoteEnrolment};
use eid_oid4vc::proof::{ProofPolicy, verify_key_proofs};

use crate::proofing::ImageError;
use crate::{ApiError, Authority};

/// The largest image accepted, per image.
pub const MAX_IMAGE: usize = 4 << 20;

/// The live capture: facing the camera, turned, and the way asked.
struct Capture {
    facing: Vec<u8>,
    turned: Vec<u8>,
    turn: eid_face::Turn,
}

impl Capture {
    fn read(face: &str, face_turned: &str, turn: &str) -> Result<Self, ApiError> {
        Ok(Self {
            facing: image("face", face)?,
            turned: image("face_turned", face_turned)?,
            turn: turn.parse().map_err(|()| {
                ApiError::BadRequest(
                    "invalid_request",
                    "turn must be \"left\" or \"right\": the way the person was asked to turn their head in face_turned".into(),
                )
            })?,
        })
    }
}

fn image(field: &'static str, text: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| {
            ApiError::BadRequest(
                "invalid_request",
                format!("{field} is not base64 (standard alphabet)"),
            )
        })?;
    if bytes.is_empty() || bytes.len() > MAX_IMAGE {
        return Err(ApiError::BadRequest(
            "invalid_request",
            format!(
                "{field} must be an image of 1 byte to {} MiB",
                MAX_IMAGE >> 20
            ),
        ));
    }
    Ok(bytes)
}

impl Authority {
    /// The remote proofing, or why remote enrolment is off.
    fn remote_proofing(&self) -> Result<Arc<crate::proofing::RemoteProofing>, ApiError> {
        self.remote.clone().ok_or_else(|| {
            ApiError::Unavailable(
                "remote enrolment needs face matching, which this service does not have (cargo feature face and face_models in the configuration); enrol at a counter, where an officer confirms your identity in person".into(),
            )
        })
    }

    async fn remote_enrolment(&self, request: RemoteEnrolment) -> Result<OfferMade, ApiError> {
        let (front, _back, face) = (
            image("card_front", &request.card_front)?,
            image("card_back", &request.card_back)?,
            Capture::read(&request.face, &request.face_turned, &request.turn)?,
        );
        let (proofed, number) = self
            .remote_proof(
                &request.id_number,
                &request.full_name,
                Some(front),
                face,
                &request.wallet_proof,
                "enrol_remote",
            )
            .await?;
        let mut made = self
            .make_offer(
                &number,
                &proofed.wallet,
                "enrol_remote",
                Some(&proofed.bound),
            )
            .await?;
        made.history_secret = Some(self.history_secret(&number));
        Ok(made)
    }

    /// A lost phone reported from another wallet (a second device, or the other provider's
    /// app): the reporter is proofed by face like a remote enrolment, then every credential
    /// of the resident held in *other* wallet instances is suspended (the reporting wallet's
    /// own are left alone). A report that says it is a move goes on in [`Self::move_here`].
    async fn report_lost(&self, request: LostReport) -> Result<LostTaken, ApiError> {
        let face = Capture::read(&request.face, &request.face_turned, &request.turn)?;
        let action = if request.moving {
            "report_move"
        } else {
            "report_lost"
        };
        let (proofed, number) = self
            .remote_proof(
                &request.id_number,
                &request.full_name,
                None,
                face,
                &request.wallet_proof,
                action,
            )
            .await?;
        if request.moving {
            return self.move_here(&number, &proofed).await;
        }
        let mut wallets: Vec<(String, String)> = Vec::new();
        for held in self.store.credentials_of(&number).await? {
            // A printed code is on paper, and a parent's wallet is not hers: her phone's loss
            // leaves both.
            let hers = crate::credential::in_her_wallet(&held);
            let key = (held.provider, held.wallet_instance);
            if hers
                && format!("{}/{}", key.0, key.1) != proofed.bound
                && held.state == eid_store::CredentialState::Valid
                && !wallets.contains(&key)
            {
                wallets.push(key);
            }
        }
        let mut instances = 0;
        for (provider, instance) in &wallets {
            instances += self
                .lifecycle(
                    eid_store::Selector::WalletInstance { provider, instance },
                    crate::admin::Action::Suspend,
                    &proofed.wallet,
                    "reported lost by the holder from another wallet (face proofed)",
                )
                .await?
                .instances;
        }
        Ok(LostTaken {
            wallets_suspended: Some(wallets.len()),
            wallets_revoked: None,
            moved: false,
            instances: instances as u64,
            history_secret: None,
        })
    }

    /// The holder, proofed by face from the reporting wallet, has moved to it: only when
    /// that wallet holds VALID, unexpired credentials of this very resident (the move
    /// completed: the new phone enrolled) is every credential of hers in *other* wallet
    /// instances revoked, VALID and SUSPENDED alike — INVALID is final, so neither a found
    /// old phone nor a resident-wide reinstate brings it back. Her pending offers and access
    /// tokens are voided first, so the old phone cannot redeem one afterwards. A report from
    /// a wallet without her valid credentials is refused (`move_not_completed`) and changes
    /// nothing: revoking for good on the word of a wallet that holds nothing of hers would let
    /// a lost report be turned into a lock-out; the holder enrols that wallet first, or
    /// reports the phone lost (suspended, reversible). Each credential revoked is audited by
    /// the lifecycle, and the move itself (done or refused) here.
    async fn move_here(
        &self,
        number: &ResidentIdNumber,
        proofed: &Proofed,
    ) -> Result<LostTaken, ApiError> {
        let (provider, instance) = proofed
            .bound
            .split_once('/')
            .ok_or_else(|| ApiError::Internal("an attested wallet without instance".into()))?;
        let now = self.clock.now().unix_timestamp();
        let resident = self.pseudonym(number.expose());
        let holds = self
            .store
            .resident_of_wallet(provider, instance, now)
            .await?;
        if holds.as_ref() != Some(number) {
            self.audit(
                &proofed.wallet,
                "report_move",
                &resident,
                "refused",
                "move_not_completed",
            )
            .await?;
            return Err(ApiError::Refused(
                "move_not_completed",
                "this wallet holds no valid credential of this resident: enrol it first, then report the move (or report the old phone lost, which suspends it until it is found)".into(),
            ));
        }
        self.store.void_pending(number).await?;
        let mut credentials = Vec::new();
        let mut wallets: Vec<(String, String)> = Vec::new();
        for held in self.store.credentials_of(number).await? {
            // A printed code is on paper, and a parent's wallet is not hers: her move between
            // phones leaves both.
            if !crate::credential::in_her_wallet(&held) {
                continue;
            }
            let key = (held.provider, held.wallet_instance);
            if format!("{}/{}", key.0, key.1) == proofed.bound
                || held.state == eid_store::CredentialState::Invalid
            {
                continue;
            }
            credentials.push(held.id);
            if !wallets.contains(&key) {
                wallets.push(key);
            }
        }
        // One credential at a time, not the old wallet instance as a whole: only her
        // credentials are revoked, whatever else that instance holds.
        let mut instances = 0;
        for id in &credentials {
            instances += self
                .lifecycle(
                    eid_store::Selector::Credential(id),
                    crate::admin::Action::Revoke,
                    &proofed.wallet,
                    "moved to another wallet by the holder (face proofed; that wallet holds her valid credentials)",
                )
                .await?
                .instances;
        }
        // What her old phones held for others (a child's credential) goes with them.
        instances += self
            .held_in(
                &wallets,
                crate::admin::Action::Revoke,
                &proofed.wallet,
                "its holder moved to another wallet (face proofed)",
            )
            .await?
            .instances;
        self.audit(
            &proofed.wallet,
            "report_move",
            &resident,
            "ok",
            &format!(
                "{} wallet(s) revoked, {} credential(s)",
                wallets.len(),
                credentials.len()
            ),
        )
        .await?;
        Ok(LostTaken {
            wallets_suspended: None,
            wallets_revoked: Some(wallets.len()),
            moved: true,
            instances: instances as u64,
            history_secret: Some(self.history_secret(number)),
        })
    }

    /// The wallet behind a key proof: its attestation by a listed, active provider, and a
    /// nonce of ours used once.
    async fn attested_wallet(&self, wallet_proof: &str) -> Result<Proofed, ApiError> {
        let now = self.clock.now();
        let providers = self
            .trust
            .read()
            .map(|t| t.list().wallet_providers.clone())
            .map_err(|_| ApiError::Internal("the trust list lock is poisoned".into()))?;
        let proof = verify_key_proofs(
            &[wallet_proof],
            &ProofPolicy {
                audience: &self.settings.issuer_url,
                now,
                max_proof_age: self.settings.max_proof_age,
                providers: &providers,
                key_storage: &self.settings.key_storage,
            },
        )
        .map_err(|e| ApiError::Refused("wallet_not_attested", e.to_string()))?
        .remove(0);
        if !self
            .store
            .consume_nonce(&crate::hash_secret(&proof.nonce), now.unix_timestamp())
            .await?
        {
            return Err(ApiError::Refused(
                "wallet_not_attested",
                "the proof's nonce is unknown, used or expired: fetch a new one from the nonce endpoint".into(),
            ));
        }
        let attestation = proof.attestation;
        let bound = format!("{}/{}", attestation.provider, attestation.wallet_instance);
        Ok(Proofed {
            wallet: format!("wallet:{bound}"),
            bound,
        })
    }

    /// A new batch for a wallet before its credentials expire (`POST /refresh`): the
    /// wallet proves it is the attested instance that holds VALID credentials of a resident
    /// whose card is still usable, and gets an offer bound to it — no new proofing. A
    /// suspended or revoked wallet (a lost phone) gets nothing.
    async fn refresh(&self, request: RefreshRequest) -> Result<OfferMade, ApiError> {
        let proofed = self.attested_wallet(&request.wallet_proof).await?;
        let (provider, instance) = proofed
            .bound
            .split_once('/')
            .ok_or_else(|| ApiError::Internal("an attested wallet without instance".into()))?;
        let now = self.clock.now().unix_timestamp();
        let Some(number) = self
            .store
            .resident_of_wallet(provider, instance, now)
            .await?
        else {
            return Err(ApiError::Refused(
                "no_valid_credentials",
                "this wallet holds no valid, unexpired credential to refresh (suspended, revoked, expired, or never enrolled): enrol again".into(),
            ));
        };
        let usable = self
            .store
            .resident(&number)
            .await?
            .is_some_and(|entry| entry.card_usable_on(self.clock.now().date()));
        if !usable {
            return Err(ApiError::Refused(
                "card_not_usable",
                "the identity card is no longer valid in the registry".into(),
            ));
        }
        self.make_offer(&number, &proofed.wallet, "refresh", Some(&proofed.bound))
            .await
    }

    /// The remote proofing of enrolment and of a lost-phone report: the wallet's proof and
    /// attestation, the rate limits, the registry, the face against the registry portrait,
    /// and with OCR the card front when one is given. Each refusal counts against the
    /// identity and the wallet and is audited under `action`. The wallet and the number,
    /// typed, once every check passed.
    async fn remote_proof(
        &self,
        id_number: &str,
        full_name: &str,
        front: Option<Vec<u8>>,
        face: Capture,
        wallet_proof: &str,
        action: &'static str,
    ) -> Result<(Proofed, ResidentIdNumber), ApiError> {
        let remote = self.remote_proofing()?;
        let now = self.clock.now();
        let Proofed { wallet, bound } = self.attested_wallet(wallet_proof).await?;
        let resident = self.pseudonym(id_number);
        let since = now.unix_timestamp() - 3600;
        for key in [&resident, &wallet] {
            if self.store.proofing_failures_since(key, since).await?
                >= self.settings.max_proofing_failures_per_hour
            {
                self.audit(&wallet, action, &resident, "refused", "too_many_attempts")
                    .await?;
                return Err(ApiError::TooManyAttempts(
                    "too many failed attempts in the last hour for this identity or this wallet; try again later or enrol at a counter".into(),
                ));
            }
        }
        let refuse = async |code: &'static str, message: String| -> Result<_, ApiError> {
            let at = now.unix_timestamp();
            self.store.record_proofing_failure(&resident, at).await?;
            self.store.record_proofing_failure(&wallet, at).await?;
            self.audit(&wallet, action, &resident, "refused", code)
                .await?;
            Err(ApiError::Refused(code, message))
        };
        let entry = match self.proof_identity(id_number, full_name).await? {
            Ok(entry) => entry,
            Err(refusal) => return refuse(refusal.code(), refusal.message().into()).await,
        };
        let proofed_number = entry.card.id_number;
        let portrait = entry.card.portrait.map(|p| p.as_jpeg().to_vec());
        let Some(portrait) = portrait else {
            return refuse(
                "no_registry_portrait",
                "the registry has no portrait to compare your face with: enrol at a counter".into(),
            )
            .await;
        };
        // Face matching and OCR take hundreds of milliseconds of CPU: off the async threads,
        // and no more at once than the machine has cores for.
        let _permit = self
            .proofing_slots
            .acquire()
            .await
            .map_err(|_| ApiError::Internal("the proofing slots are closed".into()))?;
        let (number, name) = (id_number.to_owned(), full_name.to_owned());
        let checked = tokio::task::spawn_blocking(move || {
            let distance =
                remote.live_face_distance(&portrait, &face.facing, &face.turned, face.turn);
            let card = match &front {
                Some(front) => remote.card_front_matches(front, &number, &name),
                None => Ok(None),
            };
            (distance, card, remote.threshold())
        })
        .await
        .map_err(|e| ApiError::Internal(format!("the proofing task failed: {e}")))?;
        let (distance, card, threshold) = checked;
        match distance {
            Ok((d, _)) if d > threshold => {
                return refuse(
                    "face_mismatch",
                    "the face does not match the registry portrait".into(),
                )
                .await;
            }
            Ok((_, Err(not_live))) => {
                return refuse(
                    "face_not_live",
                    format!("the capture is not of a live person turning as asked: {not_live}"),
                )
                .await;
            }
            Ok((_, Ok(_))) => {}
            Err(
                e @ (ImageError::NoFace(_)
                | ImageError::SeveralFaces(_)
                | ImageError::NotAnImage(_)
                | ImageError::TooLarge(_)),
            ) => {
                return refuse("face_capture_unusable", e.to_string()).await;
            }
            Err(e) => return Err(ApiError::Internal(e.to_string())),
        }
        match card {
            Ok(None | Some(true)) => {}
            Ok(Some(false)) => {
                return refuse(
                    "card_text_mismatch",
                    "the number and name on the card photograph do not match what was entered"
                        .into(),
                )
                .await;
            }
            Err(e @ ImageError::NotAnImage(_)) => {
                return refuse("card_text_mismatch", e.to_string()).await;
            }
            Err(e) => return Err(ApiError::Internal(e.to_string())),
        }
        Ok((Proofed { wallet, bound }, proofed_number))
    }
}

/// Who a remote proofing proofed, from which wallet.
struct Proofed {
    /// `wallet:provider/instance`, the actor in the audit log.
    wallet: String,
    /// `provider/instance`.
    bound: String,
}

pub(crate) async fn report_lost(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<LostReport>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<LostTaken>, ApiError> {
    authority.remote_proofing()?;
    let Json(request) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    Ok(Json(authority.report_lost(request).await?))
}

pub(crate) async fn refresh(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<RefreshRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<OfferMade>, ApiError> {
    let Json(request) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    Ok(Json(authority.refresh(request).await?))
}

pub(crate) async fn remote_enrolment(
    State(authority): State<Arc<Authority>>,
    body: Result<Json<RemoteEnrolment>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<OfferMade>, ApiError> {
    // Whether remote enrolment is on at all comes first: its answer is the useful one.
    authority.remote_proofing()?;
    let Json(request) = body.map_err(|e| ApiError::BadRequest("invalid_request", e.body_text()))?;
    Ok(Json(authority.remote_enrolment(request).await?))
}
