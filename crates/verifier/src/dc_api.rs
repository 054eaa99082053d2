//! The relying party's side of the W3C Digital Credentials API with ISO/IEC 18013-7 Annex C
//! (`org-iso-mdoc`): a bank's page asks the browser with `navigator.credentials.get({digital:
//! {requests: [{protocol, data}]}})`, the browser hands the request and the page's origin to
//! a wallet on the phone, and the page passes the wallet's answer back to this service.
//!
//! [`MdocDcApiRequest::new`] makes the request for the origin the page will call from: a
//! fresh HPKE key and nonce (EncryptionInfo), the DeviceRequest signed with the relying
//! party's reader key over the Annex C SessionTranscript (which binds that origin and the
//! EncryptionInfo). [`MdocDcApiRequest::finish`] opens the answer with that key under the
//! same transcript and verifies the DeviceResponse over it, as in person: an answer made
//! for another origin or another request does not open, and one that opened but was signed
//! over another transcript does not verify.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_core::{OsRandom, Random};
use eid_crypto::hpke::HpkeRecipient;
use eid_crypto::{Algorithm, VerifyingKey};
use eid_mdoc::MdocError;
use eid_mdoc::dcapi::{EncryptionInfo, PROTOCOL, open_response, session_transcript};
use eid_mdoc::request::DeviceRequest;
use eid_trust::Purpose;
use time::OffsetDateTime;

use crate::in_person::{ReaderIdentity, items_requests};
use crate::report::{Channel, Reason, Report};
use crate::verifier::{Check, Verifier};

/// One `org-iso-mdoc` request, kept until its answer comes back.
pub struct MdocDcApiRequest {
    recipient: HpkeRecipient,
    transcript: Vec<u8>,
    purpose: Purpose,
    requested: Vec<String>,
}

impl std::fmt::Debug for MdocDcApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdocDcApiRequest")
            .field("purpose", &self.purpose)
            .field("requested", &self.requested)
            .finish_non_exhaustive()
    }
}

/// What another replica needs to open the answer: the HPKE key, the transcript, and what was
/// asked.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredMdocDcApiRequest {
    scalar: String,
    public: String,
    transcript: String,
    purpose: Purpose,
    requested: Vec<String>,
}

impl MdocDcApiRequest {
    /// What [`Self::from_stored`] takes back.
    pub(crate) fn to_stored(&self) -> StoredMdocDcApiRequest {
        StoredMdocDcApiRequest {
            scalar: URL_SAFE_NO_PAD.encode(self.recipient.scalar()),
            public: URL_SAFE_NO_PAD.encode(self.recipient.public_point()),
            transcript: URL_SAFE_NO_PAD.encode(&self.transcript),
            purpose: self.purpose,
            requested: self.requested.clone(),
        }
    }

    /// The request [`Self::to_stored`] kept.
    pub(crate) fn from_stored(
        stored: StoredMdocDcApiRequest,
    ) -> Result<Self, eid_crypto::CryptoError> {
        let scalar = zeroize::Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(&stored.scalar)
                .map_err(|_| eid_crypto::CryptoError::BadPrivateKey)?,
        );
        let public = URL_SAFE_NO_PAD
            .decode(&stored.public)
            .map_err(|_| eid_crypto::CryptoError::BadPublicKey)?;
        Ok(Self {
            recipient: HpkeRecipient::from_parts(&scalar, &public)?,
            transcript: URL_SAFE_NO_PAD
                .decode(&stored.transcript)
                .map_err(|_| eid_crypto::CryptoError::BadPublicKey)?,
            purpose: stored.purpose,
            requested: stored.requested,
        })
    }

    /// A request for `attributes` for `purpose`, signed by `reader`, for a page at `origin`
    /// (its ASCII serialisation, `https://bank.example`) — for the resident's own credential
    /// and, with `delegation` (where the purpose allows it:
    /// [`crate::Verifier::delegation_allowed`]), for one held for her too. Returns the
    /// request and the entry for the page's `requests` array: `{"protocol": "org-iso-mdoc",
    /// "data": {"deviceRequest", "encryptionInfo"}}`.
    pub fn new(
        reader: &ReaderIdentity<'_>,
        purpose: Purpose,
        attributes: &[String],
        intent_to_retain: bool,
        delegation: bool,
        origin: &str,
    ) -> Result<(Self, serde_json::Value), MdocError> {
        let recipient = HpkeRecipient::generate().map_err(MdocError::Algorithm)?;
        let mut nonce = vec![0; 16];
        OsRandom
            .fill(&mut nonce)
            .map_err(|_| MdocError::Malformed("the operating system's random source failed"))?;
        let encryption_info = EncryptionInfo {
            nonce,
            recipient_public_key: VerifyingKey::from_sec1(
                Algorithm::Es256,
                recipient.public_point(),
            )
            .map_err(MdocError::Algorithm)?,
        };
        let encryption_info_text = URL_SAFE_NO_PAD.encode(encryption_info.encode());
        let transcript = session_transcript(&encryption_info_text, origin);
        let chain = [reader.certificate.to_vec()];
        let device_request = DeviceRequest::encode(
            &items_requests(
                reader.relying_party,
                purpose,
                attributes,
                intent_to_retain,
                delegation,
            ),
            Some((reader.signer, &chain)),
            &transcript,
        )?;
        let entry = serde_json::json!({
            "protocol": PROTOCOL,
            "data": {
                "deviceRequest": URL_SAFE_NO_PAD.encode(device_request),
                "encryptionInfo": encryption_info_text,
            },
        });
        Ok((
            Self {
                recipient,
                transcript,
                purpose,
                requested: attributes.to_vec(),
            },
            entry,
        ))
    }

    /// Opens and verifies the wallet's answer (the `data` of the page's
    /// DigitalCredential, `{"response": base64url}`).
    pub fn finish(
        &self,
        verifier: &Verifier,
        data: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Report {
        let check = Check {
            purpose: self.purpose,
            requested: &self.requested,
            channel: Channel::Online,
            now,
        };
        let refused = |message: String| {
            verifier.refuse(&check, Reason::new("presentation_not_verified", message))
        };
        let Some(text) = data.get("response").and_then(serde_json::Value::as_str) else {
            return refused("the answer has no \"response\" (base64url text)".to_owned());
        };
        let Ok(sealed) = URL_SAFE_NO_PAD.decode(text) else {
            return refused("the answer's \"response\" is not base64url".to_owned());
        };
        match open_response(&sealed, &self.recipient, &self.transcript) {
            Ok(response) => verifier.verify_mdoc(&response, &self.transcript, &check),
            Err(MdocError::Algorithm(_)) => refused(
                "the answer does not open with this request's key for this origin: it was made for another request or another page"
                    .to_owned(),
            ),
            Err(e) => refused(e.to_string()),
        }
    }
}
