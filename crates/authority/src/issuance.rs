//! OpenID4VCI 1.0 on the public listener: the Token, Nonce and Credential Endpoints, and
//! the offers that counter enrolment and re-binding make (the metadata: `metadata.rs`).

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, body::Bytes};
use eid_crypto::b64url;
use eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE;
use eid_oid4vc::credential::{CredentialRequest, CredentialResponse, IssuedCredential};
use eid_oid4vc::offer::{CredentialOffer, TxCode};
use eid_oid4vc::proof::{ProofPolicy, keys_to_bind, verify_key_proofs};
use eid_oid4vc::token::{NonceResponse, TokenRequest, TokenResponse};
use eid_store::{CredentialState, NewCredential, NewOffer, Redemption, RegistryEntry, Selector};
use serde::Serialize;

use crate::credential::{self, CONFIG_MDOC};
use crate::{ApiError, Authority, DocumentSigner, hash_secret};

pub use eid_oid4vc::eid::OfferMade;

impl Authority {
    /// Makes an offer of both formats (and the offline QR's) for a resident the caller has
    /// proofed, notifies the resident's existing wallets, and audits it.
    pub(crate) async fn make_offer(
        &self,
        number: &eid_core::ResidentIdNumber,
        actor: &str,
        action: &str,
        wallet: Option<&str>,
    ) -> Result<OfferMade, ApiError> {
        self.make_offer_of(
            number,
            (actor, action),
            wallet,
            credential::all_configurations(),
        )
        .await
    }

    /// Makes an offer of `configurations`, redeemable only by `wallet` when given, as
    /// [`Self::make_offer`].
    pub(crate) async fn make_offer_of(
        &self,
        number: &eid_core::ResidentIdNumber,
        (actor, action): (&str, &str),
        wallet: Option<&str>,
        configurations: Vec<String>,
    ) -> Result<OfferMade, ApiError> {
        let code = self.secret_routed(32, number.expose(), true)?;
        let tx_code = self.tx_code()?;
        let now = self.clock.now();
        let expires_at = (now + self.settings.offer_ttl).unix_timestamp();
        self.store
            .create_offer(&NewOffer {
                code_hash: &hash_secret(&code),
                id_number: number,
                configurations: &configurations,
                tx_code_hash: Some(&hash_secret(&tx_code)),
                expires_at,
                wallet,
            })
            .await?;
        // The identity's existing wallets learn of the new enrolment (was it you?).
        let mut told = Vec::new();
        for held in self.store.credentials_of(number).await? {
            // A printed code is held by no wallet, and a parent's wallet is not hers: there
            // is no one of hers to tell.
            if held.state == CredentialState::Invalid
                || !credential::in_her_wallet(&held)
                || told.contains(&(held.provider.clone(), held.wallet_instance.clone()))
            {
                continue;
            }
            self.store
                .enqueue_notice(
                    number,
                    &held.provider,
                    &held.wallet_instance,
                    "new_enrolment",
                    now.unix_timestamp(),
                )
                .await?;
            told.push((held.provider, held.wallet_instance));
        }
        self.outbox_written();
        self.audit(
            actor,
            action,
            &self.pseudonym(number.expose()),
            "ok",
            &format!("offer made; {} existing wallet(s) notified", told.len()),
        )
        .await?;
        let offer = CredentialOffer::pre_authorized(
            &self.settings.issuer_url,
            configurations,
            code,
            Some(TxCode {
                input_mode: Some("numeric".into()),
                length: Some(self.settings.tx_code_length),
                description: Some("The code the authority sent to your registered phone".into()),
            }),
        );
        Ok(OfferMade {
            offer_uri: offer.to_uri(),
            tx_code,
            expires_at,
            history_secret: None,
        })
    }

    /// A numeric transaction code, uniform over its digits.
    fn tx_code(&self) -> Result<String, ApiError> {
        let mut code = String::with_capacity(self.settings.tx_code_length as usize);
        while code.len() < self.settings.tx_code_length as usize {
            let mut byte = [0u8; 1];
            self.random
                .fill(&mut byte)
                .map_err(|_| ApiError::Internal("the random source failed".into()))?;
            // Rejection sampling: 250 = 25 × 10 keeps the digits uniform.
            if byte[0] < 250 {
                code.push(char::from(b'0' + byte[0] % 10));
            }
        }
        Ok(code)
    }

    async fn token(&self, request: TokenRequest) -> Result<TokenResponse, ApiError> {
        if request.grant_type != GRANT_PRE_AUTHORIZED_CODE {
            return Err(ApiError::BadRequest(
                "unsupported_grant_type",
                format!("only {GRANT_PRE_AUTHORIZED_CODE} is supported"),
            ));
        }
        let code = request.pre_authorized_code.ok_or(ApiError::BadRequest(
            "invalid_request",
            "pre-authorized_code is missing".into(),
        ))?;
        // The token is stored beside the offer, in the code's (the resident's) partition.
        let token = self.secret_routed(32, &hash_secret(&code), true)?;
        let now = self.clock.now();
        let redemption = self
            .store
            .redeem_offer(
                &hash_secret(&code),
                request.tx_code.as_deref().map(hash_secret).as_deref(),
                now.unix_timestamp(),
                &hash_secret(&token),
                (now + self.settings.token_ttl).unix_timestamp(),
                self.settings.max_tx_failures,
            )
            .await?;
        let refusal = match redemption {
            Redemption::Granted { .. } => {
                return Ok(TokenResponse {
                    access_token: token,
                    token_type: "Bearer".into(),
                    expires_in: Some(
                        u64::try_from(self.settings.token_ttl.whole_seconds()).unwrap_or(0),
                    ),
                });
            }
            Redemption::UnknownCode => "the pre-authorized code is not known",
            Redemption::Expired => "the offer has expired or was voided",
            Redemption::AlreadyRedeemed => "the pre-authorized code was already used",
            Redemption::TxCodeRequired => {
                return Err(ApiError::BadRequest(
                    "invalid_request",
                    "this offer requires tx_code".into(),
                ));
            }
            Redemption::WrongTxCode { attempts_left } => {
                return Err(ApiError::BadRequest(
                    "invalid_grant",
                    format!("the tx_code is wrong; {attempts_left} attempt(s) left"),
                ));
            }
            _ => "the offer cannot be redeemed",
        };
        Err(ApiError::BadRequest("invalid_grant", refusal.into()))
    }

    async fn nonce(&self) -> Result<NonceResponse, ApiError> {
        let nonce = self.secret(24)?;
        let now = self.clock.now();
        self.store
            .create_nonce(
                &hash_secret(&nonce),
                now.unix_timestamp(),
                (now + self.settings.nonce_ttl).unix_timestamp(),
            )
            .await?;
        Ok(NonceResponse { c_nonce: nonce })
    }

    async fn credential(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<CredentialResponse, ApiError> {
        let token = bearer(headers).ok_or(ApiError::InvalidToken(
            "the request needs Authorization: Bearer <access token>".into(),
        ))?;
        let token_hash = hash_secret(token);
        let now = self.clock.now();
        let grant = self
            .store
            .access_grant(&token_hash, now.unix_timestamp())
            .await?
            .ok_or(ApiError::InvalidToken(
                "the access token is unknown or expired".into(),
            ))?;
        let request: CredentialRequest = serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(
                "invalid_credential_request",
                format!("the body is not a credential request: {e}"),
            )
        })?;
        let (configuration, proofs) = request
            .jwt_proofs(self.settings.batch_size)
            .map_err(|e| ApiError::BadRequest("invalid_credential_request", e.to_string()))?;
        if !grant.configurations.iter().any(|c| c == configuration) {
            return Err(ApiError::BadRequest(
                "unknown_credential_configuration",
                format!(
                    "{} is not offered under this access token",
                    eid_serve::excerpt(configuration)
                ),
            ));
        }
        let providers = self
            .trust
            .read()
            .map(|t| t.list().wallet_providers.clone())
            .map_err(|_| ApiError::Internal("the trust list lock is poisoned".into()))?;
        let proofs = verify_key_proofs(
            &proofs,
            &ProofPolicy {
                audience: &self.settings.issuer_url,
                now,
                max_proof_age: self.settings.max_proof_age,
                providers: &providers,
                key_storage: &self.settings.key_storage,
            },
        )
        .map_err(|e| ApiError::BadRequest("invalid_proof", e.to_string()))?;
        let attestation = &proofs[0].attestation;
        let wallet = format!("{}/{}", attestation.provider, attestation.wallet_instance);
        if grant.wallet.as_ref().is_some_and(|bound| *bound != wallet) {
            return Err(ApiError::Forbidden(
                "credential_request_denied",
                "this offer was made for another wallet instance (the one proofed at enrolment)"
                    .into(),
            ));
        }
        let keys = keys_to_bind(&proofs);
        if keys.len() > self.settings.batch_size as usize {
            return Err(ApiError::BadRequest(
                "invalid_credential_request",
                format!(
                    "the key attestation lists {} keys, more than the batch size of {}",
                    keys.len(),
                    self.settings.batch_size
                ),
            ));
        }
        let mut nonces: Vec<&str> = proofs.iter().map(|p| p.nonce.as_str()).collect();
        nonces.sort_unstable();
        nonces.dedup();
        for nonce in nonces {
            if !self
                .store
                .consume_nonce(&hash_secret(nonce), now.unix_timestamp())
                .await?
            {
                return Err(ApiError::BadRequest(
                    "invalid_nonce",
                    "the proofs' nonce is unknown, used or expired: fetch a new one from the nonce endpoint".into(),
                ));
            }
        }
        let entry = self
            .store
            .resident(&grant.id_number)
            .await?
            .ok_or(ApiError::Forbidden(
                "credential_request_denied",
                "the resident is no longer in the registry".into(),
            ))?;
        if !entry.card_usable_on(now.date()) {
            return Err(ApiError::Forbidden(
                "credential_request_denied",
                "the identity card is no longer valid".into(),
            ));
        }
        let delegation = credential::configuration_of(configuration).1;
        let holder = match delegation {
            Some(relationship) => Some(
                self.still_delegable(relationship, &entry, grant.wallet.as_deref(), now)
                    .await?,
            ),
            None => None,
        };
        let face_template = match credential::offline_purpose(configuration) {
            Some(purpose) => self.face_template_for(purpose, &entry).await?,
            None => None,
        };
        // The compact credentials of the offline QR serve desks that never ask for one.
        let pseudonyms = if credential::offline_purpose(configuration).is_some() {
            Vec::new()
        } else {
            self.relying_party_pseudonyms(&entry.card.id_number)?
        };
        if !self.store.mark_issued(&token_hash, configuration).await? {
            return Err(ApiError::Forbidden(
                "credential_request_denied",
                format!("{configuration} was already issued under this access token"),
            ));
        }
        let id = self.secret_routed(16, grant.id_number.expose(), false)?;
        let signer = self.document_signer(now)?;
        let expires_at = credential::held_until(
            delegation,
            entry.card.birth_date,
            self.valid_until(&entry, now, signer),
        );
        let recorded = self
            .store
            .record_credential(
                &NewCredential {
                    id: &id,
                    id_number: &grant.id_number,
                    provider: &attestation.provider,
                    wallet_instance: &attestation.wallet_instance,
                    configuration,
                    delegation: delegation
                        .zip(holder.as_ref())
                        .map(|(relationship, holder)| eid_store::Delegation {
                            relationship: relationship.as_str(),
                            holder,
                        }),
                    issued_at: now.unix_timestamp(),
                    expires_at: expires_at.unix_timestamp(),
                },
                u32::try_from(keys.len()).unwrap_or(u32::MAX),
                self.shard_size(),
                self.random.as_ref(),
            )
            .await;
        let positions = match recorded {
            Ok(positions) => positions,
            Err(e) => {
                self.store.unmark_issued(&token_hash, configuration).await?;
                return Err(e.into());
            }
        };
        // A revocation or re-binding of this resident between the checks above and the
        // record voids the token first: if it is gone now, the new batch is revoked too.
        let still_granted = self
            .store
            .access_grant(&token_hash, now.unix_timestamp())
            .await?
            .is_some();
        let issued = if still_granted {
            keys.iter()
                .zip(&positions)
                .map(|(key, &(shard, idx))| {
                    self.issue_one(
                        configuration,
                        &entry,
                        &attestation.provider,
                        key,
                        (shard, idx),
                        (now, expires_at),
                        (face_template.as_deref(), &pseudonyms),
                        signer,
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        } else {
            Err(ApiError::Forbidden(
                "credential_request_denied",
                "the resident's credentials were revoked or re-bound meanwhile".into(),
            ))
        };
        let credentials = match issued {
            Ok(credentials) => credentials,
            Err(e) => {
                // Nothing was delivered: the recorded batch is revoked, the token may retry.
                self.withdraw(
                    &id,
                    &format!("wallet:{}", attestation.provider),
                    "issued but not delivered",
                )
                .await?;
                self.store.unmark_issued(&token_hash, configuration).await?;
                return Err(e);
            }
        };
        self.audit(
            &format!("wallet:{}", attestation.provider),
            "issue",
            &format!("credential:{id}"),
            "ok",
            &format!(
                "{configuration} ×{} to wallet instance {}",
                credentials.len(),
                attestation.wallet_instance
            ),
        )
        .await?;
        Ok(CredentialResponse {
            credentials,
            notification_id: None,
        })
    }

    /// What a delegation's offer was made on still holds when its credential is asked for:
    /// the holder's wallet (the one the offer is bound to) still holds the holder's own
    /// valid credentials (not reported lost meanwhile), and a parent's ward is still a minor.
    async fn still_delegable(
        &self,
        relationship: eid_core::Relationship,
        entry: &RegistryEntry,
        wallet: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<eid_core::ResidentIdNumber, ApiError> {
        let denied = |why: &str| Err(ApiError::Forbidden("credential_request_denied", why.into()));
        let Some((provider, instance)) = wallet.and_then(|w| w.split_once('/')) else {
            return denied(
                "a delegation's offer is bound to its holder's wallet, and this one is not",
            );
        };
        // The holder: the one resident whose own valid credentials are in the wallet the
        // offer is bound to (it was hers when the counter registered the delegation).
        let Some(holder) = self
            .store
            .resident_of_wallet(provider, instance, now.unix_timestamp())
            .await?
        else {
            return denied(
                "the holder's wallet no longer holds valid credentials of its own (reported lost?): the counter registers the delegation again",
            );
        };
        if relationship == eid_core::Relationship::Parent
            && eid_core::identity::age_in_years(entry.card.birth_date, now.date()) >= 18
        {
            return denied("the resident is of age: a parent holds a minor's credential only");
        }
        Ok(holder)
    }

    /// Revokes credential `id`, recorded but never handed over (`detail` says why).
    pub(crate) async fn withdraw(
        &self,
        id: &str,
        actor: &str,
        detail: &str,
    ) -> Result<(), ApiError> {
        self.store
            .set_state(
                Selector::Credential(id),
                CredentialState::Invalid,
                self.clock.now().unix_timestamp(),
                &eid_store::AuditStamp {
                    actor,
                    action: "revoke",
                    detail,
                },
            )
            .await?;
        self.outbox_written();
        Ok(())
    }

    pub(crate) fn shard_size(&self) -> u64 {
        self.settings.shard_size.max(8)
    }

    /// The credential's end: the configured validity, but never past the card's own.
    pub(crate) fn valid_until(
        &self,
        entry: &RegistryEntry,
        now: time::OffsetDateTime,
        signer: &DocumentSigner,
    ) -> time::OffsetDateTime {
        // Never beyond the DS certificate: a verifier checks it at every presentation.
        let configured = (now + self.settings.credential_validity).min(signer.not_after());
        match entry.card.card_expiry {
            eid_core::CardExpiry::On(last_day) => {
                // The card is valid through its last day, China Standard Time.
                let end = last_day
                    .next_day()
                    .map(|d| {
                        time::PrimitiveDateTime::new(d, time::Time::MIDNIGHT)
                            .assume_offset(time::macros::offset!(+8))
                    })
                    .unwrap_or(configured);
                configured.min(end)
            }
            _ => configured,
        }
    }

    /// The face template an offline credential or a printed code for `purpose` carries: the registry
    /// portrait's, made by the face model off the async workers, where its purpose may see
    /// the face (`portrait` in the trust list's catalogue) and there is a portrait and a
    /// model to make it; else none, and a desk cannot compare the face. Where the purpose
    /// requires a face match such a credential is not made at all: every desk would refuse it.
    pub(crate) async fn face_template_for(
        &self,
        purpose: eid_trust::Purpose,
        entry: &RegistryEntry,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let (required, sees_face) = self
            .trust
            .read()
            .map_err(|_| ApiError::Internal("the trust list lock is poisoned".into()))?
            .list()
            .purpose(purpose)
            .map_or((false, false), |p| {
                (
                    p.face_match_required,
                    p.attributes.iter().any(|a| a == "portrait"),
                )
            });
        if !sees_face {
            return Ok(None);
        }
        let Some(proofing) = self.remote.clone() else {
            return if required {
                Err(ApiError::Forbidden(
                    "credential_request_denied",
                    format!(
                        "{purpose} requires a face match, and this authority has no face model to put the holder's face template in the code (cargo feature face and face_models)"
                    ),
                ))
            } else {
                Ok(None)
            };
        };
        let Some(portrait) = entry.card.portrait.as_ref().map(|p| p.as_jpeg().to_vec()) else {
            return if required {
                Err(ApiError::Forbidden(
                    "credential_request_denied",
                    format!(
                        "{purpose} requires a face match, and the registry holds no portrait of this resident to make the face template from"
                    ),
                ))
            } else {
                Ok(None)
            };
        };
        let _permit = self
            .proofing_slots
            .acquire()
            .await
            .map_err(|_| ApiError::Internal("the proofing slots are closed".into()))?;
        let template = tokio::task::spawn_blocking(move || proofing.face_template(&portrait))
            .await
            .map_err(|e| ApiError::Internal(format!("the face template task failed: {e}")))?;
        match template {
            Ok(template) => Ok(Some(template.as_bytes().to_vec())),
            Err(e) if required => Err(ApiError::Forbidden(
                "credential_request_denied",
                format!(
                    "{purpose} requires a face match, and the face model could not make the face template from the registry portrait ({e}): the registry photograph needs renewing at a counter"
                ),
            )),
            // A portrait the model finds no face in: the code goes without the template.
            Err(e) => {
                tracing::warn!(purpose = %purpose, cause = %e, "no face template for an offline code");
                Ok(None)
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one credential of a batch: what it is, whose, for which key, where, when, and the face"
    )]
    fn issue_one(
        &self,
        configuration: &str,
        entry: &RegistryEntry,
        provider: &str,
        key: &eid_crypto::VerifyingKey,
        (shard, idx): (u64, u64),
        (now, until): (time::OffsetDateTime, time::OffsetDateTime),
        (face_template, pseudonyms): (Option<&[u8]>, &credential::Pseudonyms),
        ds: &DocumentSigner,
    ) -> Result<IssuedCredential, ApiError> {
        let status = eid_core::status::StatusListReference {
            idx,
            uri: self.status_uri(shard),
        };
        let (form, delegation) = credential::configuration_of(configuration);
        let credential = if let Some(purpose) = credential::offline_purpose(configuration) {
            let catalogue = self
                .trust
                .read()
                .map_err(|_| ApiError::Internal("the trust list lock is poisoned".into()))?
                .list()
                .purpose(purpose)
                .map(|p| p.attributes.clone())
                .unwrap_or_default();
            let mut attributes =
                credential::compact_attributes(&entry.card, now.date(), &catalogue);
            if let Some(template) = face_template {
                attributes.push((
                    eid_mdoc::offline::FACE_TEMPLATE.to_owned(),
                    eid_mdoc::issue::ElementValue::Bytes(template.to_vec()),
                ));
            }
            let compact = eid_mdoc::offline::issue_compact(
                &eid_mdoc::offline::CompactCredentialRequest {
                    purpose: purpose.as_str(),
                    provider,
                    attributes: &attributes,
                    device_key: key,
                    issued_at: now,
                    expires_at: until,
                    status: Some(&status),
                },
                ds.signer(),
                ds.signer().verifying_key(),
            )
            .map_err(|e| match e {
                e @ eid_mdoc::offline::OfflineError::TooLargeForQr { .. } => {
                    ApiError::Forbidden("credential_request_denied", e.to_string())
                }
                e => ApiError::Internal(e.to_string()),
            })?;
            b64url(&compact)
        } else if form == CONFIG_MDOC {
            let name_spaces = credential::mdoc_name_spaces(
                &entry.card,
                now.date(),
                (provider, delegation),
                pseudonyms,
            );
            let issuer_signed = eid_mdoc::issue::issue(
                &eid_mdoc::issue::IssueRequest {
                    doc_type: credential::doc_type(delegation),
                    name_spaces: &name_spaces,
                    device_key: key,
                    valid_from: now,
                    valid_until: until,
                    status: Some(status),
                    x5chain: ds.x5chain(),
                },
                ds.signer(),
                self.random.as_ref(),
            )?;
            b64url(&issuer_signed)
        } else if form == credential::CONFIG_SD_JWT {
            let claims = credential::sd_jwt_claims(
                &entry.card,
                now.date(),
                (provider, delegation),
                pseudonyms,
            );
            eid_sdjwt::issue(
                &eid_sdjwt::IssueRequest {
                    claims: &claims,
                    vct: credential::vct(delegation),
                    issuer: Some(&self.settings.issuer_url),
                    holder_key: key,
                    issued_at: now,
                    expires_at: Some(until),
                    status: Some(status),
                    x5c: ds.x5chain(),
                    decoys: 4,
                },
                ds.signer(),
                self.random.as_ref(),
            )?
        } else {
            return Err(ApiError::Internal(format!(
                "no form of credential for configuration {configuration}"
            )));
        };
        Ok(IssuedCredential { credential })
    }
}

/// The bearer token of `Authorization: Bearer …` (RFC 6750 §2.1).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

fn no_store(value: impl Serialize) -> Response {
    let mut response = Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) async fn token(
    State(authority): State<Arc<Authority>>,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let Form(request) = form.map_err(|e| {
        ApiError::BadRequest(
            "invalid_request",
            format!("the token request must be a form with grant_type: {e}"),
        )
    })?;
    Ok(no_store(authority.token(request).await?))
}

pub(crate) async fn nonce(State(authority): State<Arc<Authority>>) -> Result<Response, ApiError> {
    Ok(no_store(authority.nonce().await?))
}

pub(crate) async fn credential(
    State(authority): State<Arc<Authority>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let issued = authority.credential(&headers, &body).await;
    authority.issuance_outcomes.add(&[match &issued {
        Ok(_) => "issued",
        Err(e) => e.code(),
    }]);
    Ok(no_store(issued?))
}
