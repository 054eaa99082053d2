//! The desk's side of an in-person presentation (ISO 18013-5): read the phone's engagement
//! QR, send a DeviceRequest signed with the relying party's reader key and naming the
//! purpose, receive the encrypted DeviceResponse, verify it.
//!
//! The request is signed per document (`readerAuth`), or once over the whole request
//! (`readerAuthAll`, ISO/IEC 18013-5 second edition) when the phone's engagement says it
//! takes that (ReaderAuthAllSupport).
//!
//! The request names the purpose in `requestInfo` (`"purpose"`) and asks for the resident
//! attributes given plus the wallet provider (`cn.eid.wallet.1/provider`, which no purpose
//! counts). Where the purpose allows a credential held for someone else (the catalogue's
//! `delegation_allowed`), it asks for the delegated docType too: a second DocRequest, the
//! same items, and its relationship (`cn.eid.wallet.1/delegation`); the phone answers with
//! one document of either. The phone checks the reader certificate against the relying party's
//! registration and refuses a request beyond it; a refusal or a declined consent arrives as
//! a session termination and is reported as `holder_declined`.

use eid_crypto::Signer;
use eid_mdoc::engagement::DeviceEngagement;
use eid_mdoc::request::{DeviceRequest, ItemsRequest, ReaderSignature};
use eid_mdoc::session::Session;
use eid_mdoc::transport::Transport;
use eid_mdoc::{
    DOCTYPE_DELEGATED, DOCTYPE_RESIDENT_IDENTITY, ELEMENT_DELEGATION, ELEMENT_WALLET_PROVIDER,
    MdocError, NAMESPACE_WALLET,
};
use eid_trust::{Purpose, request_item};
use time::OffsetDateTime;

use crate::report::{Channel, Reason, Report};
use crate::verifier::{Check, Verifier};

/// The relying party's reader key and its registered certificate (DER).
pub struct ReaderIdentity<'a> {
    /// Signs the DeviceRequest (ReaderAuth).
    pub signer: &'a dyn Signer,
    /// The certificate registered for the relying party in the trust list.
    pub certificate: &'a [u8],
    /// The relying party's trust-list id: a `pseudonym` it asks for is the item of its own
    /// (`eid_trust::request_item`).
    pub relying_party: &'a str,
}

/// The ItemsRequest `relying_party`'s desk sends: `attributes` of the resident identity (a
/// pseudonym as its own item) and the wallet provider, for `purpose` (in `requestInfo`),
/// each with `intent_to_retain`.
pub(crate) fn resident_items_request(
    relying_party: &str,
    purpose: Purpose,
    attributes: &[String],
    intent_to_retain: bool,
) -> ItemsRequest {
    ItemsRequest {
        doc_type: DOCTYPE_RESIDENT_IDENTITY.to_owned(),
        name_spaces: vec![
            (
                DOCTYPE_RESIDENT_IDENTITY.to_owned(),
                attributes
                    .iter()
                    .map(|a| (request_item(a, relying_party), intent_to_retain))
                    .collect(),
            ),
            (
                NAMESPACE_WALLET.to_owned(),
                vec![(ELEMENT_WALLET_PROVIDER.to_owned(), false)],
            ),
        ],
        request_info: vec![("purpose".to_owned(), purpose.as_str().to_owned())],
    }
}

/// What a desk asks for: the resident's own credential and, with `delegation` (where the
/// purpose allows it: [`Verifier::delegation_allowed`]), one held for her too, asked alike.
pub(crate) fn items_requests(
    relying_party: &str,
    purpose: Purpose,
    attributes: &[String],
    intent_to_retain: bool,
    delegation: bool,
) -> Vec<ItemsRequest> {
    let own = resident_items_request(relying_party, purpose, attributes, intent_to_retain);
    let mut items = vec![own];
    if delegation {
        items.push(delegated_items_request(&items[0]));
    }
    items
}

/// The request for a credential held for the resident in someone else's wallet, beside
/// `own`: the delegated docType, the same items, and the relationship.
pub(crate) fn delegated_items_request(own: &ItemsRequest) -> ItemsRequest {
    let mut items = own.clone();
    items.doc_type = DOCTYPE_DELEGATED.to_owned();
    for (namespace, elements) in &mut items.name_spaces {
        if namespace == NAMESPACE_WALLET {
            elements.push((ELEMENT_DELEGATION.to_owned(), false));
        }
    }
    items
}

/// A session begun from the phone's engagement, waiting for its response.
pub struct ReaderSession {
    session: Session,
    purpose: Purpose,
    requested: Vec<String>,
}

impl ReaderSession {
    /// Begins a session from the engagement read off the phone: returns the session and
    /// the SessionEstablishment message to send, with a request for `attributes` for
    /// `purpose`, signed by `reader` — for the resident's own credential and, with
    /// `delegation` (where the purpose allows it: [`Verifier::delegation_allowed`]), for one
    /// held for her too.
    pub fn start(
        engagement: &DeviceEngagement,
        reader: &ReaderIdentity<'_>,
        purpose: Purpose,
        attributes: &[String],
        delegation: bool,
    ) -> Result<(Self, Vec<u8>), MdocError> {
        let mut session = Session::for_reader(engagement, None)?;
        let items = items_requests(reader.relying_party, purpose, attributes, false, delegation);
        let chain = [reader.certificate.to_vec()];
        // A phone that takes one signature over the whole request (second edition) gets
        // one (`readerAuthAll`, version "1.1"); any other a signature per document.
        let request = if engagement.capabilities.reader_auth_all {
            DeviceRequest::encode_1_1(
                &items,
                None,
                ReaderSignature::All(reader.signer, &chain),
                session.transcript(),
            )?
        } else {
            DeviceRequest::encode(&items, Some((reader.signer, &chain)), session.transcript())?
        };
        let establishment = session.establishment(&request)?;
        Ok((
            Self {
                session,
                purpose,
                requested: attributes.to_vec(),
            },
            establishment,
        ))
    }

    /// Opens the phone's answer and verifies it.
    pub fn finish(mut self, verifier: &Verifier, message: &[u8], now: OffsetDateTime) -> Report {
        let check = Check {
            purpose: self.purpose,
            requested: &self.requested,
            channel: Channel::InPerson,
            now,
        };
        match self.session.open(message) {
            Ok(Some(response)) => {
                verifier.verify_mdoc(&response, self.session.transcript(), &check)
            }
            Ok(None) => verifier.refuse(
                &check,
                Reason::new(
                    "holder_declined",
                    "the holder declined, or the phone refused the request",
                ),
            ),
            Err(e) => verifier.refuse(
                &check,
                Reason::new("presentation_not_verified", e.to_string()),
            ),
        }
    }
}

/// The whole exchange over `transport`: start, send, receive, verify. Transport failures
/// are reported as `transport_failed`.
pub fn present_in_person(
    transport: &mut dyn Transport,
    engagement: &DeviceEngagement,
    reader: &ReaderIdentity<'_>,
    verifier: &Verifier,
    purpose: Purpose,
    attributes: &[String],
    now: impl Fn() -> OffsetDateTime,
) -> Report {
    let check = || Check {
        purpose,
        requested: attributes,
        channel: Channel::InPerson,
        now: now(),
    };
    let delegation = verifier.delegation_allowed(purpose);
    let (session, establishment) =
        match ReaderSession::start(engagement, reader, purpose, attributes, delegation) {
            Ok(started) => started,
            Err(e) => {
                return verifier.refuse(
                    &check(),
                    Reason::new("presentation_not_verified", e.to_string()),
                );
            }
        };
    let answer = transport
        .send(&establishment)
        .and_then(|()| transport.receive());
    match answer {
        Ok(message) => session.finish(verifier, &message, now()),
        Err(e) => verifier.refuse(
            &check(),
            Reason::new("transport_failed", format!("the phone did not answer: {e}")),
        ),
    }
}
