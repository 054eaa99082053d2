//! The W3C Digital Credentials API, as a native wallet app meets it: a web page called
//! `navigator.credentials.get({digital: …})`, the browser and the phone's platform (Android's
//! Credential Manager, iOS's IdentityDocumentServices) chose this wallet, and hand it the
//! protocol, the request data and the origin of the page. The app calls [`receive`], shows
//! the holder the [`ConsentRequest`], and on consent [`PendingDigitalCredential::respond`]s
//! with the data to hand back; on a refusal or a decline it hands back nothing (the page
//! sees the call fail, and learns nothing of why).
//!
//! Protocols:
//! - `org-iso-mdoc` (ISO/IEC 18013-7 Annex C, [`eid_mdoc::dcapi`]). The request is checked
//!   as in person ([`crate::in_person`]): a request for the resident identity (and, beside
//!   it, for one held for someone else, asked alike), signed by a reader certificate
//!   registered for a relying party, valid now, for a purpose it is registered for (that
//!   allows a held credential, where one is asked for), nothing beyond — with the reader's signature over the Annex C
//!   SessionTranscript, which binds the page's origin and the reader's encryption key. The
//!   answer is device-signed over that transcript and sealed to the reader's key, so it
//!   opens and verifies only for this request from this origin.
//! - `openid4vp-v1-signed` (OpenID4VP 1.0 Appendix A): the request object is checked as by
//!   redirect ([`crate::online`]) and must name the page's origin in `expected_origins`.
//! - `openid4vp-v1-unsigned`: nothing is signed, so the page's origin says who asks — the
//!   one relying party the trust list registers it for; without one the request is refused.
//!
//! Either OpenID4VP answer is `{"response": <JWE>}` to the request's key, the presentation
//! bound to the origin (`origin:<origin>` as the KB-JWT's audience; the mdoc signed over the
//! `OpenID4VPDCAPIHandover` SessionTranscript). Any other protocol is
//! [`RequestRefused::UnsupportedProtocol`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_crypto::Signer;
use eid_mdoc::MdocError;
use eid_mdoc::dcapi::{EncryptionInfo, PROTOCOL, seal_response, session_transcript};
use eid_mdoc::request::DeviceRequest;
use eid_oid4vc::vp::{PROTOCOL_SIGNED, PROTOCOL_UNSIGNED};
use eid_trust::VerifiedTrustList;
use time::OffsetDateTime;

use crate::in_person::{
    ConsentRequest, RequestRefused, accepts, check_request, checked_disclosure,
};
use crate::online::{Held, PendingOnline, RespondError};

/// What the platform hands the wallet: one of the page's requests.
#[derive(Debug, Clone, Copy)]
pub struct DigitalCredentialRequest<'a> {
    /// `protocol` of the page's request.
    pub protocol: &'a str,
    /// `data` of the page's request, as JSON.
    pub data: &'a serde_json::Value,
    /// The origin of the page that asked, as the platform serialises it
    /// (`https://bank.example`); the platform vouches for it, not the page.
    pub origin: &'a str,
}

/// A checked request waiting for the holder's consent.
#[derive(Debug)]
pub struct PendingDigitalCredential {
    /// What the holder is asked.
    pub consent: ConsentRequest,
    answer: Answer,
}

/// How the answer is made, by protocol.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per request, held while the holder decides"
)]
enum Answer {
    /// `org-iso-mdoc`: the Annex C SessionTranscript and the reader's HPKE key.
    Mdoc {
        transcript: Vec<u8>,
        encryption_info: EncryptionInfo,
    },
    /// `openid4vp-v1-signed` / `-unsigned`.
    OpenId4Vp(PendingOnline),
}

/// Reads and checks the page's request against the trust list at `now`.
pub fn receive(
    request: &DigitalCredentialRequest<'_>,
    trust: &VerifiedTrustList,
    now: OffsetDateTime,
) -> Result<PendingDigitalCredential, RequestRefused> {
    let online = match request.protocol {
        PROTOCOL => None,
        PROTOCOL_SIGNED => {
            let jwt = request
                .data
                .get("request")
                .and_then(serde_json::Value::as_str)
                .ok_or(RequestRefused::Online(eid_oid4vc::vp::VpError::Malformed(
                    "the openid4vp-v1-signed request needs \"request\" (a signed request object)"
                        .into(),
                )))?;
            Some(crate::online::receive_signed(
                jwt,
                request.origin,
                trust,
                now,
            )?)
        }
        PROTOCOL_UNSIGNED => Some(crate::online::receive_unsigned(
            request.data,
            request.origin,
            trust,
        )?),
        other => {
            return Err(RequestRefused::UnsupportedProtocol(
                other.chars().take(64).collect(),
            ));
        }
    };
    if let Some(pending) = online {
        return Ok(PendingDigitalCredential {
            consent: pending.consent.clone(),
            answer: Answer::OpenId4Vp(pending),
        });
    }
    let field = |name: &'static str| {
        request
            .data
            .get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or(RequestRefused::Unreadable(MdocError::Malformed(
                "the org-iso-mdoc request needs deviceRequest and encryptionInfo (base64url text)",
            )))
    };
    let (device_request, encryption_info_text) =
        (field("deviceRequest")?, field("encryptionInfo")?);
    let unreadable = |what| move |_| RequestRefused::Unreadable(MdocError::Malformed(what));
    let device_request = URL_SAFE_NO_PAD
        .decode(device_request)
        .map_err(unreadable("deviceRequest is not base64url"))?;
    let encryption_info = URL_SAFE_NO_PAD
        .decode(encryption_info_text)
        .map_err(unreadable("encryptionInfo is not base64url"))?;
    let encryption_info =
        EncryptionInfo::parse(&encryption_info).map_err(RequestRefused::Unreadable)?;
    let device_request =
        DeviceRequest::parse(&device_request).map_err(RequestRefused::Unreadable)?;
    let transcript = session_transcript(encryption_info_text, request.origin);
    let consent = check_request(&device_request, &transcript, trust, now)?;
    Ok(PendingDigitalCredential {
        consent,
        answer: Answer::Mdoc {
            transcript,
            encryption_info,
        },
    })
}

impl PendingDigitalCredential {
    /// Whether the request takes an mdoc of the signed `doc_type`: the resident's own, or
    /// one held for her in someone else's wallet where it asked for that too
    /// (`consent.delegation`).
    pub fn accepts(&self, doc_type: &str) -> bool {
        match &self.answer {
            Answer::Mdoc { .. } => accepts(&self.consent, doc_type),
            Answer::OpenId4Vp(pending) => pending.accepts(eid_oid4vc::FORMAT_MSO_MDOC, doc_type),
        }
    }

    /// The holder consented: the response data to hand back to the platform, disclosing
    /// what was asked (and held) from `held`, bound to the request with `device_key`:
    /// `{"response": base64url(EncryptedResponse)}` for `org-iso-mdoc` (an mdoc only),
    /// `{"response": <JWE>}` for OpenID4VP.
    pub fn respond(
        self,
        held: Held<'_>,
        device_key: &dyn Signer,
        random: &dyn eid_core::Random,
        now: OffsetDateTime,
    ) -> Result<serde_json::Value, RespondError> {
        let response = match (self.answer, held) {
            (
                Answer::Mdoc {
                    transcript,
                    encryption_info,
                },
                Held::Mdoc(issuer_signed),
            ) => {
                // A credential of a type the request did not ask for is not shown.
                let disclose = checked_disclosure(issuer_signed, &self.consent)?;
                let response =
                    eid_mdoc::present::present(issuer_signed, &disclose, device_key, &transcript)?;
                let sealed = seal_response(&response, &encryption_info, &transcript)?;
                URL_SAFE_NO_PAD.encode(sealed)
            }
            (Answer::Mdoc { .. }, Held::SdJwt(_)) => {
                return Err(RespondError::NotAsked(eid_oid4vc::FORMAT_SD_JWT_VC));
            }
            (Answer::OpenId4Vp(pending), held) => {
                pending.presentation(held, device_key, random, now)?
            }
        };
        Ok(serde_json::json!({ "response": response }))
    }
}
