//! Enrolment from the wallet: OpenID4VCI 1.0's pre-authorized code flow against the
//! authority, as messages (the caller carries them over HTTP).
//!
//! 1. The citizen was proofed (at a counter, or remotely with the face check); the
//!    authority's answer is an offer (`openid-credential-offer://…`) and a transaction code.
//!    [`Enrolment::from_offer`] reads the offer.
//! 2. The wallet reads the issuer's metadata ([`Enrolment::endpoints`]), redeems the code at
//!    the token endpoint ([`Enrolment::token_form`]) and fetches a nonce.
//! 3. For each configuration it wants, it sends key proofs — one per device key of the
//!    batch, each signed by that key, all carrying the wallet provider's key attestation
//!    ([`Enrolment::credential_request`]) — and takes what comes back only when each
//!    credential is bound to one of its keys ([`accept`]).
//!
//! [`crate::holder::Holder`] carries these over HTTP, and also asks for a new batch before the
//! credentials run out or expire, reports a lost phone from another wallet of the holder and
//! a move to a new phone (the bodies are `eid_oid4vc::eid`'s).

use eid_core::Relationship;
use eid_crypto::{Signer, VerifyingKey, b64url_decode};
use eid_oid4vc::credential::{CredentialRequest, CredentialResponse};
use eid_oid4vc::metadata::{AuthorizationServerMetadata, CredentialIssuerMetadata};
use eid_oid4vc::offer::CredentialOffer;
use eid_oid4vc::proof::key_proof;
use eid_oid4vc::{
    FORMAT_EID_COMPACT, FORMAT_MSO_MDOC, FORMAT_SD_JWT_VC, GRANT_PRE_AUTHORIZED_CODE,
};
use time::OffsetDateTime;

/// Why enrolment could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// The offer could not be read.
    #[error("the offer: {0}")]
    Offer(#[from] eid_oid4vc::OfferError),
    /// The issuer's metadata is not usable.
    #[error("the issuer's metadata: {0}")]
    Metadata(String),
    /// A key proof could not be made.
    #[error("a key proof: {0}")]
    Proof(#[from] eid_oid4vc::ProofError),
    /// The issuer's answer is not a credential response.
    #[error("the issuer's answer: {0}")]
    Response(String),
    /// A credential came bound to none of the wallet's keys (or another instance's).
    #[error("credential {index} is not bound to the key it was asked for")]
    NotOurKey {
        /// Its position in the response.
        index: usize,
    },
    /// A credential is not of the format its configuration says.
    #[error("credential {index} is not a {format} credential")]
    Unreadable {
        /// Its position.
        index: usize,
        /// The format expected.
        format: String,
    },
}

/// Where the issuer's endpoints are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The Token Endpoint.
    pub token: String,
    /// The Nonce Endpoint.
    pub nonce: String,
    /// The Credential Endpoint.
    pub credential: String,
}

/// A credential the wallet accepted, in its format.
#[derive(Clone, PartialEq, Eq)]
pub enum Received {
    /// An mdoc's IssuerSigned.
    Mdoc(Vec<u8>),
    /// An SD-JWT VC.
    SdJwt(String),
    /// A compact credential for the offline QR.
    Compact(Vec<u8>),
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials carry personal data: the kind only.
        f.write_str(match self {
            Self::Mdoc(_) => "Received::Mdoc",
            Self::SdJwt(_) => "Received::SdJwt",
            Self::Compact(_) => "Received::Compact",
        })
    }
}

/// How long a credential that states no end (an SD-JWT VC without `exp`) is kept before the
/// wallet asks for a new one.
pub const UNSTATED_VALIDITY: time::Duration = time::Duration::days(365);

/// A credential accepted, with what the wallet keeps beside it — read once, where it was
/// checked bound to its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The credential.
    pub received: Received,
    /// A compact credential's purpose.
    pub purpose: Option<String>,
    /// The end of validity it states (the MSO's `validUntil`, `exp`), if it states one.
    pub ends: Option<OffsetDateTime>,
    /// Its signed type: an mdoc's docType, an SD-JWT VC's `vct` (none for a compact one).
    pub credential_type: Option<String>,
    /// For whom its holder holds it, when it is held for someone else: the relationship it
    /// states (an mdoc's `delegation` element, an SD-JWT VC's `delegation` claim).
    pub delegation: Option<String>,
}

impl Accepted {
    /// Its format (`mso_mdoc`, `dc+sd-jwt`, `eid_compact_cwt`).
    pub fn format(&self) -> &'static str {
        match self.received {
            Received::Mdoc(_) => FORMAT_MSO_MDOC,
            Received::SdJwt(_) => FORMAT_SD_JWT_VC,
            Received::Compact(_) => FORMAT_EID_COMPACT,
        }
    }

    /// Until when the wallet keeps it: its stated end, or [`UNSTATED_VALIDITY`] from `now`.
    pub fn expires_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        self.ends.unwrap_or(now + UNSTATED_VALIDITY)
    }

    /// The bytes the wallet stores (an SD-JWT VC's text as UTF-8).
    pub fn into_bytes(self) -> Vec<u8> {
        match self.received {
            Received::Mdoc(bytes) | Received::Compact(bytes) => bytes,
            Received::SdJwt(text) => text.into_bytes(),
        }
    }
}

/// Whom the credentials `received` for one configuration are held for: checked to be all
/// of the configuration's signed type (`signed_type`, when its metadata names one), and to
/// say for whom they are held exactly when the offer is a delegation's (`for_another`), all
/// the same relationship, one eid knows. The relationship, or none for the holder's own.
pub fn held_for(
    received: &[Accepted],
    signed_type: Option<&str>,
    for_another: bool,
) -> Result<Option<Relationship>, String> {
    let mut said = None;
    for accepted in received {
        if signed_type.is_some() && accepted.credential_type.as_deref() != signed_type {
            return Err("not of the type their configuration names".into());
        }
        // The signed type decides whose it is, whatever the metadata said.
        let delegated_type = matches!(
            accepted.credential_type.as_deref(),
            Some(eid_mdoc::DOCTYPE_DELEGATED | eid_sdjwt::VCT_DELEGATED)
        );
        if delegated_type != for_another {
            return Err(if for_another {
                "the offer is a delegation's, and they are not of a delegated type".into()
            } else {
                "the offer is the holder's own, and they are of a delegated type".into()
            });
        }
        let relationship = match (&accepted.delegation, for_another) {
            (None, false) => None,
            (Some(r), true) => Some(Relationship::parse(r).ok_or_else(|| {
                format!(
                    "held for someone as {}, a relationship eid does not know",
                    excerpt(r)
                )
            })?),
            (None, true) => {
                return Err("the offer is a delegation's, and they name no holder".into());
            }
            (Some(_), false) => {
                return Err(
                    "the offer is the holder's own, and they say they are held for someone else"
                        .into(),
                );
            }
        };
        if said.is_some() && said != relationship {
            return Err("they name different relationships".into());
        }
        said = relationship;
    }
    if for_another && said.is_none() {
        return Err("the offer is a delegation's, and none came".into());
    }
    Ok(said)
}

/// At most 16 characters of outside text, for an error.
fn excerpt(text: &str) -> String {
    text.chars().take(16).flat_map(char::escape_debug).collect()
}

/// An enrolment under way.
#[derive(Debug, Clone)]
pub struct Enrolment {
    offer: CredentialOffer,
}

impl Enrolment {
    /// Reads the offer (`openid-credential-offer://?credential_offer=…`).
    pub fn from_offer(uri: &str) -> Result<Self, EnrolError> {
        Ok(Self {
            offer: CredentialOffer::from_uri(uri.trim())?,
        })
    }

    /// The Credential Issuer Identifier.
    pub fn issuer(&self) -> &str {
        &self.offer.credential_issuer
    }

    /// The configurations offered.
    pub fn configurations(&self) -> &[String] {
        &self.offer.credential_configuration_ids
    }

    /// Where the issuer's metadata is (`/.well-known/openid-credential-issuer`) and where
    /// its authorization server's is.
    pub fn metadata_urls(&self) -> (String, String) {
        let base = self.issuer().trim_end_matches('/');
        (
            format!("{base}/.well-known/openid-credential-issuer"),
            format!("{base}/.well-known/oauth-authorization-server"),
        )
    }

    /// The endpoints, from the two metadata documents; the issuer metadata must be this
    /// offer's issuer's.
    pub fn endpoints(
        &self,
        issuer_metadata: &[u8],
        authorization_server_metadata: &[u8],
    ) -> Result<(Endpoints, CredentialIssuerMetadata), EnrolError> {
        let issuer: CredentialIssuerMetadata = serde_json::from_slice(issuer_metadata)
            .map_err(|e| EnrolError::Metadata(e.to_string()))?;
        if issuer.credential_issuer != self.offer.credential_issuer {
            return Err(EnrolError::Metadata(
                "the metadata is another issuer's than the offer's".into(),
            ));
        }
        let server: AuthorizationServerMetadata =
            serde_json::from_slice(authorization_server_metadata)
                .map_err(|e| EnrolError::Metadata(e.to_string()))?;
        let nonce = issuer
            .nonce_endpoint
            .clone()
            .ok_or_else(|| EnrolError::Metadata("the issuer has no nonce endpoint".into()))?;
        Ok((
            Endpoints {
                token: server.token_endpoint,
                nonce,
                credential: issuer.credential_endpoint.clone(),
            },
            issuer,
        ))
    }

    /// The Token Request's form body, redeeming the offer's code with `tx_code`.
    pub fn token_form(&self, tx_code: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", GRANT_PRE_AUTHORIZED_CODE)
            .append_pair(
                "pre-authorized_code",
                &self.offer.grants.pre_authorized_code.code,
            )
            .append_pair("tx_code", tx_code)
            .finish()
    }

    /// The Credential Request (JSON) for `configuration`: one `jwt` key proof per key,
    /// each carrying the provider's `attestation` of the keys.
    pub fn credential_request(
        &self,
        configuration: &str,
        keys: &[&dyn Signer],
        nonce: &str,
        attestation: &str,
        now: OffsetDateTime,
    ) -> Result<String, EnrolError> {
        let proofs = keys
            .iter()
            .map(|key| key_proof(*key, self.issuer(), nonce, now, Some(attestation)))
            .collect::<Result<Vec<_>, _>>()?;
        serde_json::to_string(&CredentialRequest::with_jwt_proofs(configuration, proofs))
            .map_err(|e| EnrolError::Response(e.to_string()))
    }
}

/// A live capture of the holder's face for the authority's liveness challenge: a picture
/// facing the camera, then one with the head turned the way the wallet asked (the wallet
/// picks the way at random and tells the holder), JPEG.
#[derive(Debug, Clone, Copy)]
pub struct LiveCapture<'a> {
    /// Facing the camera.
    pub facing: &'a [u8],
    /// The head turned.
    pub turned: &'a [u8],
    /// The way the holder was asked to turn.
    pub turn: eid_face::Turn,
}

/// Reads a Credential Response for a configuration of `format` and keeps its credentials
/// only when the `i`-th is bound to `keys[i]` (the issuer answers in the proofs' order).
pub fn accept(
    format: &str,
    response: &[u8],
    keys: &[VerifyingKey],
) -> Result<Vec<Accepted>, EnrolError> {
    let response: CredentialResponse = serde_json::from_slice(response)
        .map_err(|e| EnrolError::Response(format!("not a credential response: {e}")))?;
    if response.credentials.len() != keys.len() {
        return Err(EnrolError::Response(format!(
            "{} credentials for {} keys",
            response.credentials.len(),
            keys.len()
        )));
    }
    let mut out = Vec::with_capacity(keys.len());
    for (index, (issued, key)) in response.credentials.iter().zip(keys).enumerate() {
        let unreadable = || EnrolError::Unreadable {
            index,
            format: format.to_owned(),
        };
        let (bound, received, purpose, ends, credential_type, delegation) = match format {
            FORMAT_MSO_MDOC => {
                let bytes = b64url_decode(&issued.credential).map_err(|_| unreadable())?;
                let signed = eid_mdoc::IssuerSigned::from_cbor(&bytes).map_err(|_| unreadable())?;
                let mso = eid_mdoc::MobileSecurityObject::from_payload(
                    signed.issuer_auth.payload.as_deref().unwrap_or_default(),
                )
                .map_err(|_| unreadable())?;
                let device = mso.device_key().map_err(|_| unreadable())?;
                let ends = Some(mso.validity.valid_until);
                let delegation = signed
                    .name_spaces
                    .iter()
                    .filter(|(namespace, _)| namespace == eid_mdoc::NAMESPACE_WALLET)
                    .flat_map(|(_, items)| items)
                    .find(|item| item.element_identifier == eid_mdoc::ELEMENT_DELEGATION)
                    .map(|item| {
                        eid_mdoc::model::element_to_json(&item.element_value)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .ok_or_else(unreadable)
                    })
                    .transpose()?;
                (
                    device,
                    Received::Mdoc(bytes),
                    None,
                    ends,
                    Some(mso.doc_type),
                    delegation,
                )
            }
            FORMAT_SD_JWT_VC => {
                let parsed = eid_sdjwt::UnverifiedSdJwt::parse(&issued.credential)
                    .map_err(|_| unreadable())?;
                let payload = parsed.issuer_jwt().payload();
                let ends = match payload.get("exp") {
                    None => None,
                    Some(exp) => Some(
                        // A NumericDate: seconds, possibly with a fraction.
                        exp.as_i64()
                            .or_else(|| exp.as_f64().map(|s| s.floor() as i64))
                            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                            .ok_or_else(unreadable)?,
                    ),
                };
                let jwk: eid_crypto::Jwk = payload
                    .get("cnf")
                    .and_then(|c| c.get("jwk"))
                    .cloned()
                    .and_then(|j| serde_json::from_value(j).ok())
                    .ok_or_else(unreadable)?;
                let device = jwk.verifying_key().map_err(|_| unreadable())?;
                let text = |name: &str| match payload.get(name) {
                    None => Ok(None),
                    Some(v) => v
                        .as_str()
                        .map(|t| Some(t.to_owned()))
                        .ok_or_else(unreadable),
                };
                (
                    device,
                    Received::SdJwt(issued.credential.clone()),
                    None,
                    ends,
                    text("vct")?,
                    text("delegation")?,
                )
            }
            FORMAT_EID_COMPACT => {
                let bytes = b64url_decode(&issued.credential).map_err(|_| unreadable())?;
                let compact = eid_mdoc::offline::CompactCredential::from_cbor(&bytes)
                    .map_err(|_| unreadable())?;
                let claims = compact.claims;
                // A printed code's credential is bound to no key: not for a wallet.
                (
                    claims.device_key.ok_or_else(unreadable)?,
                    Received::Compact(bytes),
                    Some(claims.purpose),
                    Some(claims.expires_at),
                    None,
                    None,
                )
            }
            _ => return Err(unreadable()),
        };
        if bound.sec1() != key.sec1() {
            return Err(EnrolError::NotOurKey { index });
        }
        out.push(Accepted {
            received,
            purpose,
            ends,
            credential_type,
            delegation,
        });
    }
    Ok(out)
}
