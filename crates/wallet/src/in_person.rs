//! The phone's side of an in-person presentation (ISO 18013-5, QR engagement).
//!
//! 1. [`Engagement::new`] makes a fresh ephemeral key and the DeviceEngagement the phone
//!    shows as an `mdoc:` QR code (with eid's TCP retrieval address when it listens).
//! 2. [`Engagement::receive`] takes the desk's SessionEstablishment and checks the request
//!    before the holder sees anything: it decrypts, is for the resident identity document
//!    (and, where the purpose allows it, for one held for someone else, asked alike),
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
use eid_mdoc::request::{DeviceRequest, DocRequest};
use eid_mdoc::session::{Session, session_termination};
use eid_mdoc::{DOCTYPE_DELEGATED, DOCTYPE_RESIDENT_IDENTITY, ELEMENT_WALLET_PROVIDER, MdocError};
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
/// person, and through the Digital Credentials API): a request for the resident identity —
/// and, beside it, for one held for the resident in someone else's wallet, asked the same —
/// signed by a registered reader certificate, valid now, over `transcript`, for a purpose
/// that relying party is registered for (and that allows a held credential, where one is
/// asked for), asking nothing beyond it.
pub(crate) fn check_request(
    request: &DeviceRequest,
    transcript: &[u8],
    trust: &VerifiedTrustList,
    now: OffsetDateTime,
) -> Result<ConsentRequest, RequestRefused> {
    let of_type = |doc_type: &str| {
        let mut docs = request
            .doc_requests
            .iter()
            .filter(move |d| d.items_request.doc_type == doc_type);
        match (docs.next(), docs.next()) {
            (doc, None) => Ok(doc),
            (Some(_), Some(_)) => Err(RequestRefused::NotForResidentIdentity),
            (None, Some(_)) => unreachable!("an iterator ends once"),
        }
    };
    let own = of_type(DOCTYPE_RESIDENT_IDENTITY)?.ok_or(RequestRefused::NotForResidentIdentity)?;
    let delegated = of_type(DOCTYPE_DELEGATED)?;
    if request.doc_requests.len() != 1 + usize::from(delegated.is_some()) {
        return Err(RequestRefused::NotForResidentIdentity);
    }
    // The reader signs each document's request (readerAuth), or the whole request
    // (readerAuthAll, second edition), or both: each signature there is checked with the
    // key of the certificate that signed the resident identity's request.
    let auth = own
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
    for doc in std::iter::once(own).chain(delegated) {
        match &doc.reader_auth {
            Some(_) => doc
                .verify_reader_auth(transcript, &reader_key)
                .map_err(|_| RequestRefused::ReaderSignature)?,
            // Unsigned beside a signed one, with no signature over the whole request.
            None if request.reader_auth_all.is_empty() => {
                return Err(RequestRefused::Anonymous);
            }
            None => {}
        }
    }
    // The holder is asked once, whichever she shows: both documents ask alike — the same
    // purpose, the same elements each with the same intent to retain, in any order — the
    // relationship aside.
    if let Some(delegated) = delegated
        && asked_alike(own) != asked_alike(delegated)
    {
        return Err(RequestRefused::DocumentsDiffer);
    }
    let items = &own.items_request;
    let requested = items.name_spaces.iter().flat_map(|(namespace, elements)| {
        elements.iter().map(move |(element, retain)| Requested {
            namespace: Some(namespace),
            element,
            retain: *retain,
        })
    });
    crate::registration::consent(
        trust,
        rp,
        items.info("purpose"),
        requested,
        delegated.is_some(),
    )
}

/// What `doc` asks, to compare: its purpose, and its elements (namespace, name, intent to
/// retain) sorted, without the relationship.
fn asked_alike(doc: &DocRequest) -> (Option<&str>, Vec<(&str, &str, bool)>) {
    let items = &doc.items_request;
    let mut elements: Vec<(&str, &str, bool)> = items
        .name_spaces
        .iter()
        .flat_map(|(namespace, elements)| {
            elements
                .iter()
                .map(move |(element, retain)| (namespace.as_str(), element.as_str(), *retain))
        })
        .filter(|&(namespace, element, _)| {
            !(namespace == eid_mdoc::NAMESPACE_WALLET && element == eid_mdoc::ELEMENT_DELEGATION)
        })
        .collect();
    elements.sort_unstable();
    elements.dedup();
    (items.info("purpose"), elements)
}

/// A checked request waiting for the holder's consent.
pub struct PendingRequest {
    session: Session,
    /// What the holder is asked.
    pub consent: ConsentRequest,
}

impl PendingRequest {
    /// Whether the request takes a credential of the signed `doc_type`: the resident's own,
    /// or one held for her in someone else's wallet where it asked for that too.
    pub fn accepts(&self, doc_type: &str) -> bool {
        accepts(&self.consent, doc_type)
    }

    /// The holder consented: the encrypted SessionData carrying the DeviceResponse that
    /// discloses the attributes asked for (and the wallet provider) from `issuer_signed` —
    /// those it holds: a card without an expiry date or a portrait has none to give —
    /// device-signed with `device_key`. A credential of a type the request did not ask for
    /// is `DocTypeMismatch`.
    pub fn respond(
        mut self,
        issuer_signed: &[u8],
        device_key: &dyn Signer,
    ) -> Result<Vec<u8>, MdocError> {
        let disclose = checked_disclosure(issuer_signed, &self.consent)?;
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

/// Whether a request the holder was asked about (`consent`) takes a credential of the signed
/// `doc_type`: the resident's own, or one held for her where it asked for that too.
pub(crate) fn accepts(consent: &ConsentRequest, doc_type: &str) -> bool {
    doc_type == DOCTYPE_RESIDENT_IDENTITY || (doc_type == DOCTYPE_DELEGATED && consent.delegation)
}

/// What of `issuer_signed` to disclose for `consent` ([`mdoc_disclosure`]), once its signed
/// type is one the request takes (else `DocTypeMismatch`).
pub(crate) fn checked_disclosure<'a>(
    issuer_signed: &[u8],
    consent: &'a ConsentRequest,
) -> Result<Vec<&'a str>, MdocError> {
    if !accepts(consent, &eid_mdoc::present::doc_type(issuer_signed)?) {
        return Err(MdocError::DocTypeMismatch);
    }
    mdoc_disclosure(issuer_signed, &consent.attributes)
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
