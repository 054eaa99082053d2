//! The W3C Digital Credentials API, as a native wallet app meets it: a web page called
//! `navigator.credentials.get({digital: …})`, the browser and the phone's platform (Android's
//! Credential Manager, iOS's IdentityDocumentServices) chose this wallet, and hand it the
//! protocol, the request data and the origin of the page. The app calls [`receive`], shows
//! the holder the [`ConsentRequest`], and on consent [`PendingDigitalCredential::respond`]s
//! with the data to hand back; on a refusal or a decline it hands back nothing (the page
//! sees the call fail, and learns nothing of why).
//!
//! Protocols: `org-iso-mdoc` (ISO/IEC 18013-7 Annex C, [`eid_mdoc::dcapi`]). The request is
//! checked as in person ([`crate::in_person`]): one request for the resident identity,
//! signed by a reader certificate registered for a relying party, valid now, for a purpose
//! it is registered for, nothing beyond — with the reader's signature over the Annex C
//! SessionTranscript, which binds the page's origin and the reader's encryption key. The
//! answer is device-signed over that transcript and sealed to the reader's key, so it
//! opens and verifies only for this request from this origin. The OpenID4VP protocols
//! (`openid4vp-v1-signed`, `openid4vp-v1-unsigned`) are not answered yet
//! ([`RequestRefused::UnsupportedProtocol`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_crypto::Signer;
use eid_mdoc::MdocError;
use eid_mdoc::dcapi::{EncryptionInfo, PROTOCOL, seal_response, session_transcript};
use eid_mdoc::request::DeviceRequest;
use eid_trust::VerifiedTrustList;
use time::OffsetDateTime;

use crate::in_person::{ConsentRequest, RequestRefused, check_request, mdoc_disclosure};

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
    transcript: Vec<u8>,
    encryption_info: EncryptionInfo,
}

/// Reads and checks the page's request against the trust list at `now`.
pub fn receive(
    request: &DigitalCredentialRequest<'_>,
    trust: &VerifiedTrustList,
    now: OffsetDateTime,
) -> Result<PendingDigitalCredential, RequestRefused> {
    if request.protocol != PROTOCOL {
        return Err(RequestRefused::UnsupportedProtocol(
            request.protocol.chars().take(64).collect(),
        ));
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
        transcript,
        encryption_info,
    })
}

impl PendingDigitalCredential {
    /// The holder consented: the response data to hand back to the platform,
    /// `{"response": base64url(EncryptedResponse)}`, disclosing what was asked (and held)
    /// from `issuer_signed`, device-signed with `device_key`.
    pub fn respond(
        self,
        issuer_signed: &[u8],
        device_key: &dyn Signer,
    ) -> Result<serde_json::Value, MdocError> {
        let disclose = mdoc_disclosure(issuer_signed, &self.consent.attributes)?;
        let response =
            eid_mdoc::present::present(issuer_signed, &disclose, device_key, &self.transcript)?;
        let sealed = seal_response(&response, &self.encryption_info, &self.transcript)?;
        Ok(serde_json::json!({ "response": URL_SAFE_NO_PAD.encode(sealed) }))
    }
}
