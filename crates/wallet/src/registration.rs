//! What the phone checks of any relying party's request, whichever channel carried it:
//! that the certificate it signed with is registered for a relying party in the trust list
//! (or, for an unsigned request through the Digital Credentials API, the page's web origin),
//! that the purpose it names is one that relying party is registered for, and that it asks
//! for nothing beyond that registration and the purpose's catalogue.

use eid_mdoc::{DOCTYPE_RESIDENT_IDENTITY, ELEMENT_WALLET_PROVIDER, NAMESPACE_WALLET};
use eid_trust::model::RelyingParty;
use eid_trust::{Purpose, VerifiedTrustList};

use crate::in_person::{ConsentRequest, RequestRefused};

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
/// The wallet provider's element is metadata, asked for without counting.
pub(crate) fn consent<'a>(
    trust: &VerifiedTrustList,
    rp: &RelyingParty,
    purpose: Option<&str>,
    requested: impl IntoIterator<Item = Requested<'a>>,
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
    let mut attributes: Vec<String> = Vec::new();
    let mut intends_to_retain = false;
    for Requested {
        namespace,
        element,
        retain,
    } in requested
    {
        let resident = namespace.is_none_or(|ns| ns == DOCTYPE_RESIDENT_IDENTITY);
        let metadata = namespace == Some(NAMESPACE_WALLET) && element == ELEMENT_WALLET_PROVIDER;
        let allowed = resident
            && registered.iter().any(|a| a == element)
            && catalogue.attributes.iter().any(|a| a == element);
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
    })
}
