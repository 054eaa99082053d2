//! What the phone checks of any relying party's request, whichever channel carried it:
//! that the certificate it signed with is registered for a relying party in the trust list
//! (or, for an unsigned request through the Digital Credentials API, the page's web origin),
//! that the purpose it names is one that relying party is registered for, and that it asks
//! for nothing beyond that registration and the purpose's catalogue.

use eid_crypto::x509::CertificateError;
use eid_mdoc::MdocError;
use eid_mdoc::{DOCTYPE_RESIDENT_IDENTITY, ELEMENT_WALLET_PROVIDER, NAMESPACE_WALLET};
use eid_trust::model::RelyingParty;
use eid_trust::{Purpose, VerifiedTrustList, attribute_of_item};
use serde::Serialize;

/// Why the phone refused a desk's request without asking the holder. Carries names of
/// relying parties, purposes and attributes — never the holder's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestRefused {
    /// The SessionEstablishment did not decrypt or parse.
    #[error("the request could not be read: {0}")]
    Unreadable(MdocError),
    /// The request asks for no document, not the resident identity, or more than it and
    /// one held for the resident in someone else's wallet.
    #[error("the request is not for one resident identity document")]
    NotForResidentIdentity,
    /// The request asks for the resident's own credential and for one held for her, but not
    /// for the same attributes and purpose: what the holder is asked would not be what
    /// either answer shows.
    #[error(
        "the request asks differently for the holder's own credential and one held for someone else"
    )]
    DocumentsDiffer,
    /// No ReaderAuth: an anonymous desk.
    #[error("the desk did not identify itself (no reader authentication)")]
    Anonymous,
    /// The reader certificate is not registered for any relying party.
    #[error("the desk's certificate is not registered for any relying party in the trust list")]
    UnknownReader,
    /// The registered certificate fails the reader profile now (expired, for instance).
    #[error("the desk's certificate is not usable: {0}")]
    ReaderCertificate(CertificateError),
    /// ReaderAuth does not verify with the registered certificate's key.
    #[error("the desk's signature over the request does not verify")]
    ReaderSignature,
    /// No purpose, or one the trust list does not know.
    #[error("the request names no known purpose")]
    NoPurpose,
    /// The relying party is not registered for the purpose it names.
    #[error("{relying_party} is not registered for {purpose}")]
    PurposeNotRegistered {
        /// The relying party's name.
        relying_party: String,
        /// The purpose named.
        purpose: Purpose,
    },
    /// A Digital Credentials API request in a protocol this wallet does not answer.
    #[error("the wallet does not answer requests in the protocol {0:?}")]
    UnsupportedProtocol(String),
    /// An online request object failed its own checks (OpenID4VP).
    #[error("the online request is not acceptable: {0}")]
    Online(eid_oid4vc::vp::VpError),
    /// An unsigned request through the Digital Credentials API from a page whose origin is
    /// registered for no relying party, or for several: nothing says who asks.
    #[error("an unsigned request from {0}, a web origin registered for no single relying party")]
    UnknownOrigin(String),
    /// The request accepts a credential held for someone else (a delegated type) for a
    /// purpose whose catalogue does not allow one.
    #[error(
        "{relying_party} accepts a credential held for someone else for {purpose}, which does not allow one"
    )]
    DelegationNotAllowed {
        /// The relying party's name.
        relying_party: String,
        /// The purpose.
        purpose: Purpose,
    },
    /// An attribute beyond the registration for the purpose.
    #[error("{relying_party} asked for {attribute}, which {purpose} does not allow it")]
    BeyondPurpose {
        /// The relying party's name.
        relying_party: String,
        /// The purpose.
        purpose: Purpose,
        /// The attribute asked for.
        attribute: String,
    },
}

/// What the holder is asked to consent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRequest {
    /// The relying party's trust-list id.
    pub relying_party: String,
    /// Its registered name.
    pub relying_party_name: String,
    /// Where it operates (GB/T 2260 county).
    pub region: String,
    /// The purpose.
    pub purpose: Purpose,
    /// The purpose in words.
    pub purpose_name: String,
    /// The attributes asked for.
    pub attributes: Vec<String>,
    /// Whether it says it will keep any of them.
    pub intends_to_retain: bool,
    /// Whether it accepts a credential the holder holds for someone else (a child's, a
    /// ward's) as well as her own: the holder chooses whose to show.
    pub delegation: bool,
}

/// One attribute asked for: its namespace (mdoc) or none (an SD-JWT VC's top-level claim,
/// which is the resident credential's), its name, and whether it will be kept.
pub(crate) struct Requested<'a> {
    pub(crate) namespace: Option<&'a str>,
    pub(crate) element: &'a str,
    pub(crate) retain: bool,
}

/// The relying party whose registered certificate is `certificate`, byte for byte.
pub(crate) fn registered_party<'a>(
    trust: &'a VerifiedTrustList,
    certificate: &[u8],
) -> Result<&'a RelyingParty, RequestRefused> {
    // Registrations hold certificates in the trust list's base64: encode the one presented
    // once rather than decode every registration.
    let presented = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(certificate)
    };
    trust
        .list()
        .relying_parties
        .iter()
        .find(|rp| rp.certificate.as_deref() == Some(presented.as_str()))
        .ok_or(RequestRefused::UnknownReader)
}

/// The one relying party the trust list registers the web origin `origin` for: who asks in
/// an unsigned request through the Digital Credentials API. None, or several sharing it,
/// and the wallet cannot tell who asks.
pub(crate) fn registered_origin<'a>(
    trust: &'a VerifiedTrustList,
    origin: &str,
) -> Result<&'a RelyingParty, RequestRefused> {
    let mut parties = trust
        .list()
        .relying_parties
        .iter()
        .filter(|rp| rp.web_origins.iter().any(|o| o == origin));
    match (parties.next(), parties.next()) {
        (Some(rp), None) => Ok(rp),
        _ => Err(RequestRefused::UnknownOrigin(origin.to_owned())),
    }
}

/// The consent to ask for `requested` by `rp` for the purpose named, or why not to ask.
/// The wallet provider's element is metadata, asked for without counting, and so is the
/// relationship where the request takes a credential held for someone else.
pub(crate) fn consent<'a>(
    trust: &VerifiedTrustList,
    rp: &RelyingParty,
    purpose: Option<&str>,
    requested: impl IntoIterator<Item = Requested<'a>>,
    delegation: bool,
) -> Result<ConsentRequest, RequestRefused> {
    let list = trust.list();
    let purpose = purpose
        .and_then(Purpose::parse)
        .ok_or(RequestRefused::NoPurpose)?;
    let catalogue = list.purpose(purpose).ok_or(RequestRefused::NoPurpose)?;
    let registered =
        rp.purposes
            .get(&purpose)
            .ok_or_else(|| RequestRefused::PurposeNotRegistered {
                relying_party: rp.name.clone(),
                purpose,
            })?;
    if delegation && !catalogue.delegation_allowed {
        return Err(RequestRefused::DelegationNotAllowed {
            relying_party: rp.name.clone(),
            purpose,
        });
    }
    let mut attributes: Vec<String> = Vec::new();
    let mut intends_to_retain = false;
    for Requested {
        namespace,
        element,
        retain,
    } in requested
    {
        let resident = namespace.is_none_or(|ns| ns == DOCTYPE_RESIDENT_IDENTITY);
        let metadata = namespace == Some(NAMESPACE_WALLET)
            && (element == ELEMENT_WALLET_PROVIDER
                || (delegation && element == eid_mdoc::ELEMENT_DELEGATION));
        // A pseudonym is the asking relying party's own item, never another's: the one it
        // authenticated as (another's would let relying parties link the holder).
        let attribute = attribute_of_item(element, &rp.id);
        let allowed = resident
            && registered.iter().any(|a| a == attribute)
            && catalogue.attributes.iter().any(|a| a == attribute);
        if !(metadata || allowed) {
            return Err(RequestRefused::BeyondPurpose {
                relying_party: rp.name.clone(),
                purpose,
                attribute: match namespace {
                    Some(ns) if !resident => format!("{ns}/{element}"),
                    _ => element.to_owned(),
                },
            });
        }
        if !metadata && !attributes.iter().any(|a| a == element) {
            attributes.push(element.to_owned());
            intends_to_retain |= retain;
        }
    }
    Ok(ConsentRequest {
        relying_party: rp.id.clone(),
        relying_party_name: rp.name.clone(),
        region: rp.region.to_string(),
        purpose,
        purpose_name: catalogue.name.clone(),
        attributes,
        intends_to_retain,
        delegation,
    })
}
