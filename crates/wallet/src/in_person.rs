//! The phone's side of an in-person presentation (ISO 18013-5, QR engagement).
//!
//! 1. [`Engagement::new`] makes a fresh ephemeral key and the DeviceEngagement the phone
//!    shows as an `mdoc:` QR code (with eid's TCP retrieval address when it listens).
//! 2. [`Engagement::receive`] takes the desk's SessionEstablishment and checks the request
//!    before the holder sees anything: it decrypts, is for the resident identity document,
//!    is signed (ReaderAuth) by a reader certificate that is registered for a relying party
//!    in the trust list (byte for byte, valid now, with the reader profile), names a purpose
//!    that relying party is registered for, and asks for nothing beyond that registration
//!    and the purpose's catalogue. A request that fails any of these is refused with its own
//!    [`RequestRefused`] — the holder is told who over-asked for what — and the desk receives
//!    only a session termination.
//! 3. The holder sees the [`ConsentRequest`] (who, where, why, what) and either
//!    [`PendingRequest::respond`]s — the DeviceResponse, signed with the credential's device
//!    key (which the PIN unlocked), encrypted for the session — or declines.

use eid_crypto::Signer;
use eid_crypto::session::AgreementKey;
use eid_crypto::x509::check_reader_certificate;
use eid_mdoc::engagement::{Capabilities, DeviceEngagement};
use eid_mdoc::request::DeviceRequest;
use eid_mdoc::session::{Session, session_termination};
use eid_mdoc::{DOCTYPE_RESIDENT_IDENTITY, ELEMENT_WALLET_PROVIDER, MdocError};
use eid_trust::VerifiedTrustList;

use crate::registration::Requested;
pub use crate::registration::{ConsentRequest, RequestRefused};
use time::OffsetDateTime;

/// The phone's engagement: its ephemeral key and the QR code's content.
pub struct Engagement {
    key: AgreementKey,
    bytes: Vec<u8>,
}

impl Engagement {
    /// A fresh engagement, announcing `tcp_address` when the phone listens there.
    pub fn new(tcp_address: Option<&str>) -> Result<Self, MdocError> {
        let key = AgreementKey::generate().map_err(MdocError::Algorithm)?;
        let bytes = DeviceEngagement::encode_with_tcp(key.public_point(), tcp_address);
        Ok(Self { key, bytes })
    }

    /// A fresh engagement of the second edition (version `"1.1"`): as [`Self::new`], and
    /// saying the phone takes one reader signature over the whole request
    /// (ReaderAuthAllSupport). Readers that compare the version exactly refuse it (isomdl
    /// 0.2.0 does), which is why [`Self::new`] stays at `"1.0"`.
    pub fn second_edition(tcp_address: Option<&str>) -> Result<Self, MdocError> {
        let key = AgreementKey::generate().map_err(MdocError::Algorithm)?;
        let capabilities = Capabilities {
            reader_auth_all: true,
            ..Capabilities::default()
        };
        let bytes =
            DeviceEngagement::encode_1_1(key.public_point(), tcp_address, &[], capabilities)?;
        Ok(Self { key, bytes })
    }

    /// The QR code's text (`mdoc:…`).
    pub fn qr_uri(&self) -> String {
        DeviceEngagement::qr_uri(&self.bytes)
    }

    /// Reads the desk's SessionEstablishment and checks its request against the trust
    /// list at `now`. The engagement is used up: one session per QR code.
    pub fn receive(
        self,
        establishment: &[u8],
        trust: &VerifiedTrustList,
        now: OffsetDateTime,
    ) -> Result<PendingRequest, RequestRefused> {
        let (session, request) = Session::for_device(&self.bytes, &self.key, establishment, None)
            .map_err(RequestRefused::Unreadable)?;
        let request = DeviceRequest::parse(&request).map_err(RequestRefused::Unreadable)?;
        let consent = check_request(&request, session.transcript(), trust, now)?;
        Ok(PendingRequest { session, consent })
    }
}

/// The checks every channel makes of an ISO DeviceRequest before the holder sees it (in
/// person, and through the Digital Credentials API): one request for the resident identity,
/// signed by a registered reader certificate, valid now, over `transcript`, for a purpose
/// that relying party is registered for, asking nothing beyond it.
pub(crate) fn check_request(
    request: &DeviceRequest,
    transcript: &[u8],
    trust: &VerifiedTrustList,
    now: OffsetDateTime,
) -> Result<ConsentRequest, RequestRefused> {
    let [doc] = request.doc_requests.as_slice() else {
        return Err(RequestRefused::NotForResidentIdentity);
    };
    let items = &doc.items_request;
    if items.doc_type != DOCTYPE_RESIDENT_IDENTITY {
        return Err(RequestRefused::NotForResidentIdentity);
    }
    // The reader signs the document's request (readerAuth), or the whole request
    // (readerAuthAll, second edition), or both: each signature there is checked, and
    // both come from the same certificate.
    let auth = doc
        .reader_auth
        .as_ref()
        .or(request.reader_auth_all.first())
        .ok_or(RequestRefused::Anonymous)?;
    let certificate = auth
        .headers
        .x5chain
        .first()
        .ok_or(RequestRefused::Anonymous)?;
    let rp = crate::registration::registered_party(trust, certificate)?;
    let reader_key =
        check_reader_certificate(certificate, now).map_err(RequestRefused::ReaderCertificate)?;
    if !request.reader_auth_all.is_empty() {
        let others = request
            .reader_auth_all
            .iter()
            .any(|all| all.headers.x5chain.first() != Some(certificate));
        if others {
            return Err(RequestRefused::ReaderSignature);
        }
        request
            .verify_reader_auth_all(transcript, &reader_key)
            .map_err(|_| RequestRefused::ReaderSignature)?;
    }
    if doc.reader_auth.is_some() {
        doc.verify_reader_auth(transcript, &reader_key)
            .map_err(|_| RequestRefused::ReaderSignature)?;
    }
    let requested = items.name_spaces.iter().flat_map(|(namespace, elements)| {
        elements.iter().map(move |(element, retain)| Requested {
            namespace: Some(namespace),
            element,
            retain: *retain,
        })
    });
    crate::registration::consent(trust, rp, items.info("purpose"), requested)
}

/// A checked request waiting for the holder's consent.
pub struct PendingRequest {
    session: Session,
    /// What the holder is asked.
    pub consent: ConsentRequest,
}

impl PendingRequest {
    /// The holder consented: the encrypted SessionData carrying the DeviceResponse that
    /// discloses the attributes asked for (and the wallet provider) from `issuer_signed` —
    /// those it holds: a card without an expiry date or a portrait has none to give —
    /// device-signed with `device_key`.
    pub fn respond(
        mut self,
        issuer_signed: &[u8],
        device_key: &dyn Signer,
    ) -> Result<Vec<u8>, MdocError> {
        let disclose = mdoc_disclosure(issuer_signed, &self.consent.attributes)?;
        let response = eid_mdoc::present::present(
            issuer_signed,
            &disclose,
            device_key,
            self.session.transcript(),
        )?;
        self.session.seal(&response)
    }

    /// The holder declined: a session termination, which says nothing of why.
    pub fn decline(self) -> Vec<u8> {
        session_termination()
    }
}

/// The elements of `issuer_signed` to disclose for `asked`: those the credential holds (a
/// card without an expiry date or a portrait has none to give), the wallet provider and, in a
/// delegated credential, the relationship.
pub(crate) fn mdoc_disclosure<'a>(
    issuer_signed: &[u8],
    asked: &'a [String],
) -> Result<Vec<&'a str>, MdocError> {
    let held = eid_mdoc::IssuerSigned::from_cbor(issuer_signed)?;
    let holds = |name: &str| {
        held.name_spaces
            .iter()
            .any(|(_, items)| items.iter().any(|i| i.element_identifier == name))
    };
    let mut disclose: Vec<&str> = asked
        .iter()
        .map(String::as_str)
        .filter(|name| holds(name))
        .collect();
    // Facts about the holding wallet, always: the provider, and in a credential held for
    // someone else the relationship (a desk refuses a delegated credential without it).
    for fact in [ELEMENT_WALLET_PROVIDER, eid_mdoc::ELEMENT_DELEGATION] {
        if holds(fact) {
            disclose.push(fact);
        }
    }
    Ok(disclose)
}

/// What the phone sends when it refuses a request without asking the holder.
pub fn refusal() -> Vec<u8> {
    session_termination()
}
