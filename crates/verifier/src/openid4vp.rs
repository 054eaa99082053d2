//! The relying party's side of an online presentation (OpenID4VP 1.0, `eid_oid4vc::vp`): a
//! bank opening an account from home.
//!
//! [`Verifier::online_request`] makes a request for one purpose — the attributes the
//! relying party's registration allows, asked of either format (DCQL), a fresh nonce and
//! `state`, a fresh P-256 key for the encrypted answer (its `kid` is the request's id) —
//! signed with the relying party's registered certificate (`x509_hash` client id). The
//! caller serves the request object at its `request_uri` and shows the invocation
//! (`openid4vp://…`) as a link or QR code. [`Verifier::verify_online`] opens the
//! `direct_post.jwt` answer with that request's key and verifies the presentation in it
//! against that request — state, nonce, client id, and for an mdoc the OpenID4VP
//! SessionTranscript over the response URI and the key's thumbprint — into a [`Report`].
//! A wallet's error response instead (`access_denied`: the holder declined) is reported as
//! refused, `holder_declined`, by [`Verifier::wallet_error`] — encrypted inside the answer,
//! or as plain form fields.
//!
//! Through the W3C Digital Credentials API (OpenID4VP 1.0 Appendix A),
//! [`Verifier::dc_api_request`] makes the same request for a page at one origin — signed
//! (`openid4vp-v1-signed`, the origin in `expected_origins`) or unsigned
//! (`openid4vp-v1-unsigned`: the wallet knows the relying party by the origin alone) — with
//! the answer coming back through the page (`dc_api.jwt`); [`Verifier::verify_dc_api`]
//! checks it as above, the origin in place of the client id and response URI: the KB-JWT's
//! audience `origin:<origin>`, the mdoc's `OpenID4VPDCAPIHandover` SessionTranscript.

use eid_crypto::jwe::{Enc, decrypt};
use eid_crypto::session::AgreementKey;
use eid_crypto::{Jwk, Signer, b64url, b64url_decode};
use eid_oid4vc::vp::{
    AUD_SELF_ISSUED, AuthorizationRequest, ClientMetadata, DcqlQuery, ERROR_ACCESS_DENIED,
    ErrorPayload, Jwks, PROTOCOL_SIGNED, PROTOCOL_UNSIGNED, QUERY_MDOC, QUERY_MDOC_DELEGATED,
    QUERY_SD_JWT, RESPONSE_MODE_DC_API_JWT, RESPONSE_MODE_DIRECT_POST_JWT, ResponsePayload,
    VpError, invocation_uri, is_error_code, origin_audience, sign_request, x509_hash_client_id,
};
use eid_trust::Purpose;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::report::{Reason, Report};
use crate::verifier::{Check, Verifier};

/// One online request, held by the relying party until its answer comes (or it expires).
pub struct OnlineSession {
    /// Its id: the path of its request object, and the `kid` of its encryption key.
    pub id: String,
    /// `x509_hash:…`.
    pub client_id: String,
    /// The request's nonce.
    pub nonce: String,
    /// The request's state.
    pub state: String,
    /// Where the answer is posted.
    pub response_uri: String,
    /// The purpose asked for.
    pub purpose: Purpose,
    /// The attributes asked for.
    pub attributes: Vec<String>,
    /// Until when an answer is accepted.
    pub expires_at: OffsetDateTime,
    /// The page's origin, when the request goes through the Digital Credentials API (no
    /// response URI, no state).
    pub origin: Option<String>,
    key: AgreementKey,
    jwk: Jwk,
}

impl std::fmt::Debug for OnlineSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineSession")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The request's encryption key as the request object publishes it: its `kid` is the
/// request's id.
fn encryption_jwk(id: &str, key: &AgreementKey) -> Jwk {
    let point = key.public_point();
    Jwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        x: b64url(&point[1..33]),
        y: b64url(&point[33..]),
        kid: Some(id.to_owned()),
        alg: Some("ECDH-ES".into()),
        use_: Some("enc".into()),
    }
}

/// An online request as the replicas of a desk share it (`crate::sessions`): every field,
/// the key as its private scalar. It is only ever written sealed.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredSession {
    id: String,
    client_id: String,
    nonce: String,
    state: String,
    response_uri: String,
    purpose: Purpose,
    attributes: Vec<String>,
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    key: String,
}

impl OnlineSession {
    /// What another replica needs to take the answer.
    pub(crate) fn to_stored(&self) -> Result<StoredSession, eid_crypto::CryptoError> {
        Ok(StoredSession {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            nonce: self.nonce.clone(),
            state: self.state.clone(),
            response_uri: self.response_uri.clone(),
            purpose: self.purpose,
            attributes: self.attributes.clone(),
            expires_at: self.expires_at.unix_timestamp(),
            origin: self.origin.clone(),
            key: b64url(&self.key.scalar()?[..]),
        })
    }

    /// The session [`Self::to_stored`] kept.
    pub(crate) fn from_stored(stored: StoredSession) -> Result<Self, eid_crypto::CryptoError> {
        let scalar = zeroize::Zeroizing::new(
            b64url_decode(&stored.key).map_err(|_| eid_crypto::CryptoError::BadPrivateKey)?,
        );
        let key = AgreementKey::from_scalar(&scalar)?;
        Ok(Self {
            jwk: encryption_jwk(&stored.id, &key),
            id: stored.id,
            client_id: stored.client_id,
            nonce: stored.nonce,
            state: stored.state,
            response_uri: stored.response_uri,
            purpose: stored.purpose,
            attributes: stored.attributes,
            expires_at: OffsetDateTime::from_unix_timestamp(stored.expires_at)
                .map_err(|_| eid_crypto::CryptoError::BadPrivateKey)?,
            origin: stored.origin,
            key,
        })
    }

    /// What an answer to this request is checked against at `now`.
    fn check(&self, now: OffsetDateTime) -> Check<'_> {
        Check {
            purpose: self.purpose,
            requested: &self.attributes,
            channel: crate::Channel::Online,
            now,
        }
    }
}

/// What an online request is made of.
pub struct OnlineTerms<'a> {
    /// Why.
    pub purpose: Purpose,
    /// What (default: everything the registration allows for the purpose).
    pub attributes: Option<&'a [String]>,
    /// Whether the relying party will keep the values.
    pub intent_to_retain: bool,
    /// The relying party's request-signing key.
    pub signer: &'a dyn Signer,
    /// Its certificate (DER), as registered in the trust list.
    pub certificate: &'a [u8],
    /// The base of the request object's URI (`…/request`; the request id is appended).
    pub request_base: &'a str,
    /// The response URI.
    pub response_uri: &'a str,
    /// How long the request may be answered.
    pub lifetime: Duration,
}

/// What a request through the Digital Credentials API is made of.
pub struct DcApiTerms<'a> {
    /// Why.
    pub purpose: Purpose,
    /// What (default: everything the registration allows for the purpose).
    pub attributes: Option<&'a [String]>,
    /// Whether the relying party will keep the values.
    pub intent_to_retain: bool,
    /// The request-signing key and its registered certificate (DER): a signed request
    /// (`openid4vp-v1-signed`); none, an unsigned one (`openid4vp-v1-unsigned`).
    pub signer: Option<(&'a dyn Signer, &'a [u8])>,
    /// The origin of the page that calls the API (`https://bank.example`).
    pub origin: &'a str,
    /// How long the request may be answered.
    pub lifetime: Duration,
}

/// A request made: the session to keep, the signed request object to serve at
/// `request_uri`, the invocation to show.
#[derive(Debug)]
pub struct OnlineRequest {
    /// Keep until the answer.
    pub session: OnlineSession,
    /// Serve at `request_uri` as `application/oauth-authz-req+jwt`.
    pub request_object: String,
    /// The request object's URI.
    pub request_uri: String,
    /// `openid4vp://?client_id=…&request_uri=…`, as a link or QR code.
    pub invocation: String,
}

fn random_text(random: &dyn eid_core::Random, bytes: usize) -> Result<String, VpError> {
    let mut buffer = vec![0u8; bytes];
    random
        .fill(&mut buffer)
        .map_err(|_| VpError::Malformed("the random source failed".into()))?;
    Ok(b64url(&buffer))
}

impl Verifier {
    /// Makes an online request (see the module documentation).
    pub fn online_request(
        &self,
        terms: &OnlineTerms<'_>,
        now: OffsetDateTime,
        random: &dyn eid_core::Random,
    ) -> Result<OnlineRequest, VpError> {
        let client_id = x509_hash_client_id(terms.certificate);
        let (mut request, mut session) = self.new_request(
            terms.purpose,
            terms.attributes,
            terms.intent_to_retain,
            terms.lifetime,
            now,
            random,
        )?;
        request.client_id.clone_from(&client_id);
        request.response_mode = RESPONSE_MODE_DIRECT_POST_JWT.into();
        request.response_uri = terms.response_uri.to_owned();
        request.state = Some(random_text(random, 16)?);
        let request_object = sign_request(&request, terms.signer, terms.certificate)?;
        let request_uri = format!(
            "{}/{}",
            terms.request_base.trim_end_matches('/'),
            session.id
        );
        session.client_id = client_id;
        session.state = request.state.unwrap_or_default();
        session.response_uri = request.response_uri;
        Ok(OnlineRequest {
            invocation: invocation_uri(&session.client_id, &request_uri),
            request_uri,
            request_object,
            session,
        })
    }

    /// Makes a request through the Digital Credentials API (see the module documentation):
    /// the session to keep, and the entry for the page's `requests` array, `{"protocol",
    /// "data"}`.
    pub fn dc_api_request(
        &self,
        terms: &DcApiTerms<'_>,
        now: OffsetDateTime,
        random: &dyn eid_core::Random,
    ) -> Result<(OnlineSession, serde_json::Value), VpError> {
        let (mut request, mut session) = self.new_request(
            terms.purpose,
            terms.attributes,
            terms.intent_to_retain,
            terms.lifetime,
            now,
            random,
        )?;
        request.response_mode = RESPONSE_MODE_DC_API_JWT.into();
        session.origin = Some(terms.origin.to_owned());
        let entry = match terms.signer {
            Some((signer, certificate)) => {
                request.client_id = x509_hash_client_id(certificate);
                request.expected_origins = vec![terms.origin.to_owned()];
                session.client_id.clone_from(&request.client_id);
                json!({
                    "protocol": PROTOCOL_SIGNED,
                    "data": {"request": sign_request(&request, signer, certificate)?},
                })
            }
            None => {
                // Unsigned: the parameters themselves; nothing a request object alone has.
                request.aud = None;
                request.iat = None;
                request.exp = None;
                let data = serde_json::to_value(&request)
                    .map_err(|_| VpError::Malformed("the request is not an object".into()))?;
                json!({"protocol": PROTOCOL_UNSIGNED, "data": data})
            }
        };
        Ok((session, entry))
    }

    /// What every online request has: a fresh id, key and nonce, the DCQL query for the
    /// attributes (the registration's for the purpose, by default), the purpose, the times.
    fn new_request(
        &self,
        purpose: Purpose,
        attributes: Option<&[String]>,
        intent_to_retain: bool,
        lifetime: Duration,
        now: OffsetDateTime,
        random: &dyn eid_core::Random,
    ) -> Result<(AuthorizationRequest, OnlineSession), VpError> {
        let id = random_text(random, 16)?;
        let key = AgreementKey::generate()
            .map_err(|_| VpError::Malformed("no encryption key could be made".into()))?;
        let jwk = encryption_jwk(&id, &key);
        let issuer_algorithms = self.issuer_algorithms();
        let attributes = match attributes {
            Some(a) => a.to_vec(),
            None => self.registered_attributes(purpose),
        };
        let request = AuthorizationRequest {
            client_id: String::new(),
            response_type: "vp_token".into(),
            response_mode: String::new(),
            response_uri: String::new(),
            expected_origins: Vec::new(),
            nonce: random_text(random, 24)?,
            state: None,
            // A pseudonym is asked for as this relying party's own item.
            dcql_query: DcqlQuery::resident_identity(
                &attributes
                    .iter()
                    .map(|a| eid_trust::request_item(a, self.relying_party()))
                    .collect::<Vec<_>>(),
                intent_to_retain,
                self.delegation_allowed(purpose),
            ),
            client_metadata: ClientMetadata {
                jwks: Jwks {
                    keys: vec![jwk.clone()],
                },
                encrypted_response_enc_values_supported: vec![
                    Enc::A128Gcm.name().into(),
                    Enc::A256Gcm.name().into(),
                ],
                // The issuers' algorithms as the trust list names them; holders' keys are
                // ES256 only.
                vp_formats_supported: serde_json::from_value(json!({
                    "mso_mdoc": {
                        "issuerauth_alg_values": issuer_algorithms.iter().map(|a| a.cose_id()).collect::<Vec<_>>(),
                        "deviceauth_alg_values": [-7],
                    },
                    "dc+sd-jwt": {
                        "sd-jwt_alg_values": issuer_algorithms.iter().map(|a| a.jose_name()).collect::<Vec<_>>(),
                        "kb-jwt_alg_values": ["ES256"],
                    },
                }))
                .unwrap_or_default(),
            },
            verifier_info: vec![AuthorizationRequest::purpose_info(purpose.as_str())],
            aud: Some(AUD_SELF_ISSUED.into()),
            iat: Some(now.unix_timestamp()),
            exp: Some((now + lifetime).unix_timestamp()),
        };
        let session = OnlineSession {
            id,
            client_id: String::new(),
            nonce: request.nonce.clone(),
            state: String::new(),
            response_uri: String::new(),
            purpose,
            attributes,
            expires_at: now + lifetime,
            origin: None,
            key,
            jwk,
        };
        Ok((request, session))
    }

    /// Verifies the answer to a request through the Digital Credentials API, as the page
    /// received it (the DigitalCredential's `data`): `{"response": <JWE>}`, or the wallet's
    /// error `{"error": code}` (Appendix A.4).
    pub fn verify_dc_api(
        &self,
        session: &OnlineSession,
        data: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Report {
        if let Some(error) = data.get("error").and_then(serde_json::Value::as_str) {
            return self.wallet_error(session, error, None, now);
        }
        match data.get("response").and_then(serde_json::Value::as_str) {
            Some(response) => self.verify_online(session, response, now),
            None => self.refuse(
                &session.check(now),
                Reason::new(
                    "presentation_not_verified",
                    "the answer has neither \"response\" (a JWE) nor \"error\"",
                ),
            ),
        }
    }

    /// Verifies the `direct_post.jwt` answer (the `response` form field: a JWE) to
    /// `session` into a report.
    pub fn verify_online(
        &self,
        session: &OnlineSession,
        response: &str,
        now: OffsetDateTime,
    ) -> Report {
        let check = session.check(now);
        let refuse = |code: &str, message: String| self.refuse(&check, Reason::new(code, message));
        if now >= session.expires_at {
            return refuse(
                "request_expired",
                "the answer came after the request expired: start again".into(),
            );
        }
        let opened = match decrypt(response, &session.key, &[Enc::A128Gcm, Enc::A256Gcm]) {
            Ok(opened) => opened,
            Err(e) => return refuse("presentation_not_verified", e.to_string()),
        };
        // A presentation, the common case, is read first; only what is not one is read as
        // an error response.
        let payload: ResponsePayload = match serde_json::from_slice(&opened.plaintext) {
            Ok(p) => p,
            Err(_) => {
                return match serde_json::from_slice::<ErrorPayload>(&opened.plaintext) {
                    Ok(error) => {
                        self.wallet_error(session, &error.error, error.state.as_deref(), now)
                    }
                    Err(_) => refuse(
                        "presentation_not_verified",
                        "the answer is neither a vp_token response nor an error response".into(),
                    ),
                };
            }
        };
        // Through the Digital Credentials API there is no state (Appendix A.2): the answer is
        // this request's by its key, its nonce and the origin.
        if session.origin.is_none() && payload.state.as_deref() != Some(session.state.as_str()) {
            return refuse(
                "state_mismatch",
                "the answer is for another request (state)".into(),
            );
        }
        let mut presentations = payload.vp_token.into_iter();
        let (Some((id, mut values)), None) = (presentations.next(), presentations.next()) else {
            return refuse(
                "presentation_not_verified",
                "the answer must carry one credential".into(),
            );
        };
        let (Some(presentation), None) = (values.pop(), values.pop()) else {
            return refuse(
                "presentation_not_verified",
                "the answer must carry one presentation".into(),
            );
        };
        // The signed type decides what the presentation is (the policy refuses a delegated
        // one where the purpose does not allow it), whichever query it answers.
        match id.as_str() {
            QUERY_MDOC | QUERY_MDOC_DELEGATED => {
                let Ok(device_response) = b64url_decode(&presentation) else {
                    return refuse(
                        "presentation_not_verified",
                        "the mdoc presentation is not base64url".into(),
                    );
                };
                let Ok(thumbprint) = session.jwk.thumbprint_sha256() else {
                    return refuse("presentation_not_verified", "no key thumbprint".into());
                };
                let transcript = match &session.origin {
                    Some(origin) => eid_mdoc::session::oid4vp_dc_api_session_transcript(
                        origin,
                        &session.nonce,
                        Some(&thumbprint),
                    ),
                    None => eid_mdoc::session::oid4vp_session_transcript(
                        &session.client_id,
                        &session.nonce,
                        Some(&thumbprint),
                        &session.response_uri,
                    ),
                };
                self.verify_mdoc(&device_response, &transcript, &check)
            }
            QUERY_SD_JWT => {
                let audience = match &session.origin {
                    Some(origin) => origin_audience(origin),
                    None => session.client_id.clone(),
                };
                self.verify_sd_jwt(&presentation, &audience, &session.nonce, &check)
            }
            other => refuse(
                "presentation_not_verified",
                format!("the answer is for a credential query this request did not make ({other})"),
            ),
        }
    }

    /// The wallet's error response `error` (with `state`) to `session`, as a refusal:
    /// `holder_declined` for `access_denied`, `wallet_refused` naming any other code. The
    /// wallet's `error_description` is not repeated: it is outside text.
    pub fn wallet_error(
        &self,
        session: &OnlineSession,
        error: &str,
        state: Option<&str>,
        now: OffsetDateTime,
    ) -> Report {
        let check = session.check(now);
        let reason = if now >= session.expires_at {
            Reason::new(
                "request_expired",
                "the answer came after the request expired: start again",
            )
        } else if session.origin.is_none() && state != Some(session.state.as_str()) {
            Reason::new(
                "state_mismatch",
                "the answer is for another request (state)",
            )
        } else if !is_error_code(error) {
            Reason::new(
                "presentation_not_verified",
                "the answer's error code is malformed (lower-case letters and _, at most 64)",
            )
        } else if error == ERROR_ACCESS_DENIED {
            Reason::new("holder_declined", "the holder declined to share")
        } else {
            Reason::new(
                "wallet_refused",
                format!("the wallet refused the request ({error})"),
            )
        };
        self.refuse(&check, reason)
    }
}
