//! The phone's side of an online presentation (OpenID4VP 1.0, `eid_oid4vc::vp`): a bank's
//! website shows `openid4vp://?client_id=x509_hash:…&request_uri=…`; the wallet fetches the
//! signed request object (the caller's HTTP), and [`receive`] checks it before the holder
//! sees anything — the request object's own checks (type, the `x509_hash` binding to the
//! signing certificate, the signature, the times, an encrypted `direct_post.jwt` answer),
//! then the same registration checks as in person: the certificate registered for a relying
//! party in the trust list, the purpose (in `verifier_info`) one it is registered for, no
//! claim of any credential query beyond that registration and the purpose's catalogue.
//! The holder sees the [`ConsentRequest`]; [`PendingOnline::respond`] makes the
//! presentation from the credential the wallet holds — an mdoc DeviceResponse signed over
//! the OpenID4VP SessionTranscript, or an SD-JWT VC with a KB-JWT for the client id and
//! nonce — and encrypts it to the verifier's key: the caller posts the returned body
//! (`response=<JWE>`) to the response URI. A holder who declines answers with
//! [`PendingOnline::decline`]: the error response `access_denied`, encrypted the same way,
//! so the relying party's page says so instead of waiting for the request to expire.
//!
//! The same request can reach the wallet through the W3C Digital Credentials API
//! ([`crate::dc_api`]): then the page's origin takes the place of the response URI — the
//! request must name it (`expected_origins`, signed) or be registered for it (unsigned), the
//! presentation's audience is `origin:<origin>`, and the mdoc is signed over the origin-bound
//! SessionTranscript.

use eid_crypto::jwe::{Recipient, encrypt};
use eid_crypto::x509::check_reader_certificate;
use eid_crypto::{Signer, VerifyingKey};
use eid_mdoc::{DOCTYPE_DELEGATED, DOCTYPE_RESIDENT_IDENTITY, MdocError};
use eid_oid4vc::vp::{
    AuthorizationRequest, ERROR_ACCESS_DENIED, ErrorPayload, ResponsePayload, VerifiedRequest,
    VpError, origin_audience, verify_request,
};
use eid_oid4vc::{FORMAT_MSO_MDOC, FORMAT_SD_JWT_VC};
use eid_sdjwt::{VCT_DELEGATED, VCT_RESIDENT_IDENTITY};
use eid_trust::VerifiedTrustList;
use serde_json::Value;
use time::OffsetDateTime;

use crate::in_person::{ConsentRequest, RequestRefused};
use crate::registration::{Requested, consent, registered_party};

/// A checked online request waiting for the holder's consent.
#[derive(Debug)]
pub struct PendingOnline {
    request: AuthorizationRequest,
    /// The page's origin when the request came through the Digital Credentials API.
    origin: Option<String>,
    /// What the holder is asked.
    pub consent: ConsentRequest,
}

/// The credential the wallet answers with.
#[derive(Debug, Clone, Copy)]
pub enum Held<'a> {
    /// An mdoc's IssuerSigned bytes.
    Mdoc(&'a [u8]),
    /// An issued SD-JWT VC (compact, ending in `~`).
    SdJwt(&'a str),
}

/// What to post, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineResponse {
    /// The verifier's response URI.
    pub response_uri: String,
    /// `application/x-www-form-urlencoded` body: `response=<JWE>`.
    pub body: String,
}

/// Why the wallet could not answer after consent.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    /// The request has no credential query for the credential held (its format and type).
    #[error("the request asks for no {0} credential of this type")]
    NotAsked(&'static str),
    /// The mdoc presentation failed.
    #[error("mdoc: {0}")]
    Mdoc(#[from] MdocError),
    /// The SD-JWT presentation failed.
    #[error("SD-JWT: {0}")]
    SdJwt(#[from] eid_sdjwt::SdJwtError),
    /// Encryption to the verifier failed.
    #[error("encrypting the response: {0}")]
    Encrypt(#[from] eid_crypto::jwe::JweError),
}

/// Checks `request_jwt`, fetched from the `request_uri` of an invocation with `client_id`.
pub fn receive(
    client_id: &str,
    request_jwt: &str,
    trust: &VerifiedTrustList,
    now: OffsetDateTime,
) -> Result<PendingOnline, RequestRefused> {
    let verified = reader_checked(now, |leaf| {
        verify_request(request_jwt, client_id, leaf, now)
    })?;
    let rp = registered_party(trust, &verified.certificate)?;
    pending(trust, rp, verified.request, None)
}

/// Checks the request object of an `openid4vp-v1-signed` call from a page at `origin`: its
/// own checks ([`eid_oid4vc::vp::verify_dc_api_request`]: `expected_origins` names the
/// origin) and the certificate registered for a relying party.
pub(crate) fn receive_signed(
    request_jwt: &str,
    origin: &str,
    trust: &VerifiedTrustList,
    now: OffsetDateTime,
) -> Result<PendingOnline, RequestRefused> {
    let verified = reader_checked(now, |leaf| {
        eid_oid4vc::vp::verify_dc_api_request(request_jwt, origin, leaf, now)
    })?;
    let rp = registered_party(trust, &verified.certificate)?;
    pending(trust, rp, verified.request, Some(origin))
}

/// Reads an `openid4vp-v1-unsigned` call's parameters from a page at `origin`: nothing is
/// signed, so the origin alone says who asks — the one relying party the trust list
/// registers it for.
pub(crate) fn receive_unsigned(
    data: &Value,
    origin: &str,
    trust: &VerifiedTrustList,
) -> Result<PendingOnline, RequestRefused> {
    let request = eid_oid4vc::vp::read_unsigned_request(data).map_err(RequestRefused::Online)?;
    let rp = crate::registration::registered_origin(trust, origin)?;
    pending(trust, rp, request, Some(origin))
}

/// Runs `verify` with the reader certificate profile as the way to the signing key, telling
/// a certificate that fails it from the request's own faults.
fn reader_checked(
    now: OffsetDateTime,
    verify: impl FnOnce(
        &mut dyn FnMut(&[u8]) -> Result<VerifyingKey, VpError>,
    ) -> Result<VerifiedRequest, VpError>,
) -> Result<VerifiedRequest, RequestRefused> {
    let mut certificate_error = None;
    let verified = verify(&mut |der| {
        check_reader_certificate(der, now).map_err(|e| {
            certificate_error = Some(e);
            VpError::Signature
        })
    });
    verified.map_err(|e| match certificate_error.take() {
        Some(c) => RequestRefused::ReaderCertificate(c),
        None => RequestRefused::Online(e),
    })
}

/// The types a credential query of eid's formats accepts: an mdoc query's `doctype_value`,
/// an SD-JWT VC query's `vct_values` (none for another format).
fn query_types(query: &eid_oid4vc::vp::CredentialQuery) -> Vec<&str> {
    match query.format.as_str() {
        FORMAT_MSO_MDOC => query
            .meta
            .get("doctype_value")
            .and_then(Value::as_str)
            .into_iter()
            .collect(),
        FORMAT_SD_JWT_VC => query
            .meta
            .get("vct_values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect(),
        _ => Vec::new(),
    }
}

/// The consent for what `request`'s DCQL query asks of `rp`.
fn pending(
    trust: &VerifiedTrustList,
    rp: &eid_trust::model::RelyingParty,
    request: AuthorizationRequest,
    origin: Option<&str>,
) -> Result<PendingOnline, RequestRefused> {
    let mut requested = Vec::new();
    // Whether any query accepts a credential held for someone else (its own type).
    let mut delegation = false;
    for query in &request.dcql_query.credentials {
        let types = query_types(query);
        let (own, delegated) = (
            types.contains(&DOCTYPE_RESIDENT_IDENTITY) || types.contains(&VCT_RESIDENT_IDENTITY),
            types.contains(&DOCTYPE_DELEGATED) || types.contains(&VCT_DELEGATED),
        );
        if !(own || delegated) {
            return Err(RequestRefused::NotForResidentIdentity);
        }
        delegation |= delegated;
        for claim in &query.claims {
            let path: Vec<&str> = claim.path.iter().filter_map(Value::as_str).collect();
            let (namespace, element) = match (query.format.as_str(), path.as_slice()) {
                (FORMAT_MSO_MDOC, [namespace, element]) if claim.path.len() == 2 => {
                    (Some(*namespace), *element)
                }
                (FORMAT_SD_JWT_VC, [name]) if claim.path.len() == 1 => (None, *name),
                _ => {
                    return Err(RequestRefused::Online(VpError::Malformed(
                        "a claims path eid does not answer (mdoc: [namespace, element]; SD-JWT: [claim])".into(),
                    )));
                }
            };
            requested.push(Requested {
                namespace,
                element,
                retain: claim.intent_to_retain.unwrap_or(false),
            });
        }
    }
    let consent = consent(trust, rp, request.purpose(), requested, delegation)?;
    Ok(PendingOnline {
        request,
        origin: origin.map(str::to_owned),
        consent,
    })
}

impl PendingOnline {
    /// Whether the request has a credential query that takes a credential of `format` whose
    /// signed type (an mdoc's docType, an SD-JWT VC's `vct`) is `signed_type`.
    pub fn accepts(&self, format: &str, signed_type: &str) -> bool {
        self.request
            .dcql_query
            .credentials
            .iter()
            .any(|q| q.format == format && query_types(q).contains(&signed_type))
    }

    /// The client identifier (`x509_hash:…`; empty for an unsigned request).
    pub fn client_id(&self) -> &str {
        &self.request.client_id
    }

    /// The holder consented: the presentation of `held` (the attributes asked for that it
    /// holds, and for an mdoc the wallet provider), bound to the request by `device_key`,
    /// encrypted for the verifier.
    pub fn respond(
        &self,
        held: Held<'_>,
        device_key: &dyn Signer,
        random: &dyn eid_core::Random,
        now: OffsetDateTime,
    ) -> Result<OnlineResponse, RespondError> {
        let jwe = self.presentation(held, device_key, random, now)?;
        Ok(self.form(&jwe))
    }

    /// The encrypted response (a JWE) carrying the presentation of `held`.
    pub(crate) fn presentation(
        &self,
        held: Held<'_>,
        device_key: &dyn Signer,
        random: &dyn eid_core::Random,
        now: OffsetDateTime,
    ) -> Result<String, RespondError> {
        let request = &self.request;
        // The query this credential answers: of its format, accepting its signed type (the
        // holder's own, or one held for someone else).
        let (format, signed_type) = match held {
            Held::Mdoc(issuer_signed) => {
                (FORMAT_MSO_MDOC, eid_mdoc::present::doc_type(issuer_signed)?)
            }
            Held::SdJwt(issued) => (
                FORMAT_SD_JWT_VC,
                eid_sdjwt::UnverifiedSdJwt::parse(issued.trim())?
                    .issuer_jwt()
                    .payload()
                    .get("vct")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ),
        };
        let query = request
            .dcql_query
            .credentials
            .iter()
            .find(|q| q.format == format && query_types(q).contains(&signed_type.as_str()))
            .ok_or(RespondError::NotAsked(format))?;
        let asked: Vec<&str> = self.consent.attributes.iter().map(String::as_str).collect();
        let presentation = match held {
            Held::Mdoc(issuer_signed) => {
                let disclose =
                    crate::in_person::mdoc_disclosure(issuer_signed, &self.consent.attributes)?;
                let thumbprint = self
                    .encryption_key()?
                    .thumbprint_sha256()
                    .map_err(|e| RespondError::Mdoc(MdocError::Algorithm(e)))?;
                let transcript = match &self.origin {
                    Some(origin) => eid_mdoc::session::oid4vp_dc_api_session_transcript(
                        origin,
                        &request.nonce,
                        Some(&thumbprint),
                    ),
                    None => eid_mdoc::session::oid4vp_session_transcript(
                        &request.client_id,
                        &request.nonce,
                        Some(&thumbprint),
                        &request.response_uri,
                    ),
                };
                let response =
                    eid_mdoc::present::present(issuer_signed, &disclose, device_key, &transcript)?;
                eid_crypto::b64url(&response)
            }
            Held::SdJwt(issued) => {
                let parsed = eid_sdjwt::UnverifiedSdJwt::parse(issued.trim())?;
                let holds = |name: &str| {
                    parsed
                        .disclosures()
                        .iter()
                        .any(|d| d.name.as_deref() == Some(name))
                };
                let disclose: Vec<&str> = asked.iter().copied().filter(|n| holds(n)).collect();
                let audience = match &self.origin {
                    Some(origin) => origin_audience(origin),
                    None => request.client_id.clone(),
                };
                eid_sdjwt::present(
                    issued.trim(),
                    &disclose,
                    Some(&eid_sdjwt::KeyBinding {
                        signer: device_key,
                        audience: &audience,
                        nonce: &request.nonce,
                        issued_at: now,
                    }),
                )?
            }
        };
        let payload = ResponsePayload {
            vp_token: [(query.id.clone(), vec![presentation])].into(),
            state: request.state.clone(),
        };
        let plaintext =
            serde_json::to_vec(&payload).map_err(|_| RespondError::NotAsked("serialisable"))?;
        self.encrypted(&plaintext, random)
    }

    /// The holder declined: the error response `access_denied` (no reason given), encrypted
    /// for the verifier like a presentation.
    pub fn decline(&self, random: &dyn eid_core::Random) -> Result<OnlineResponse, RespondError> {
        let payload = ErrorPayload {
            error: ERROR_ACCESS_DENIED.into(),
            error_description: None,
            state: self.request.state.clone(),
        };
        let plaintext =
            serde_json::to_vec(&payload).map_err(|_| RespondError::NotAsked("serialisable"))?;
        let jwe = self.encrypted(&plaintext, random)?;
        Ok(self.form(&jwe))
    }

    fn encryption_key(&self) -> Result<&eid_crypto::Jwk, RespondError> {
        // The request's checks made sure there is one.
        self.request.encryption_key().ok_or(RespondError::Encrypt(
            eid_crypto::jwe::JweError::BadEphemeralKey,
        ))
    }

    /// `jwe` as the form body for the response URI.
    fn form(&self, jwe: &str) -> OnlineResponse {
        OnlineResponse {
            response_uri: self.request.response_uri.clone(),
            body: format!(
                "response={}",
                url::form_urlencoded::byte_serialize(jwe.as_bytes()).collect::<String>()
            ),
        }
    }

    /// `plaintext` encrypted to the verifier's key.
    fn encrypted(
        &self,
        plaintext: &[u8],
        random: &dyn eid_core::Random,
    ) -> Result<String, RespondError> {
        let request = &self.request;
        let enc = request.content_encryption().ok_or(RespondError::Encrypt(
            eid_crypto::jwe::JweError::UnsupportedEncryption(String::new()),
        ))?;
        let jwe = encrypt(
            &Recipient {
                key: self.encryption_key()?,
                enc,
                apu: b"",
                apv: b"",
            },
            plaintext,
            random,
        )?;
        Ok(jwe)
    }
}
