//! Reader-side verification of a document's issuer data: `IssuerSigned` →
//! [`VerifiedIssuerData`], every check over the bytes received.
//!
//! Order: the document signer (x5chain) chains to a trusted IACA; the issuer signature over
//! the MSO bytes; the MSO's digest algorithm; every disclosed element's digest; the docType;
//! the validity window; the device key. Each check returns a proof only it constructs, and
//! [`VerifiedIssuerData`] holds all of them; the status hook runs last.

use eid_core::status::{CredentialStatus, StatusCheck};
use eid_crypto::VerifyingKey;
use eid_crypto::x509::{
    DocumentSignerCache, TrustedIaca, check_document_signer_profile, verify_document_signer,
};
use time::OffsetDateTime;

use crate::MdocError;
use crate::model::{IssuerSigned, MobileSecurityObject};

/// Where the document signer's trust comes from.
#[derive(Clone, Copy)]
pub enum IssuerTrust<'a> {
    /// Chain the DS certificate to one of these IACA roots, on every verification.
    Roots(&'a [TrustedIaca]),
    /// Chain it through a verifier's cache of checked signers (its own roots).
    Cached(&'a DocumentSignerCache),
    /// Check the DS certificate against the Annex B profile but **not** its chain to a
    /// root. Only for spec vectors whose IACA is not published (ISO 18013-5 Annex D).
    DangerousProfileOnly,
}

/// What the issuer-data check needs besides the document.
#[derive(Clone, Copy)]
pub struct IssuerDataCheck<'a> {
    /// The document signers' trust anchors.
    pub trust: IssuerTrust<'a>,
    /// The time to verify at.
    pub now: OffsetDateTime,
    /// The docType the verifier asked for, if any.
    pub expected_doc_type: Option<&'a str>,
    /// The status source; `None` leaves the status unchecked and says so in
    /// [`VerifiedIssuerData::status_checked`].
    pub status: Option<&'a dyn StatusCheck>,
}

impl std::fmt::Debug for IssuerDataCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let trust = match self.trust {
            IssuerTrust::Roots(roots) => format!("{} roots", roots.len()),
            IssuerTrust::Cached(cache) => format!("{} roots, cached", cache.roots().len()),
            IssuerTrust::DangerousProfileOnly => "DS profile only".to_owned(),
        };
        f.debug_struct("IssuerDataCheck")
            .field("trust", &trust)
            .field("now", &self.now)
            .field("expected_doc_type", &self.expected_doc_type)
            .field("status", &self.status.is_some())
            .finish()
    }
}

/// Issuer data that passed every check. Its `Debug` form names the disclosed elements but
/// shows none of their values.
#[derive(Clone)]
pub struct VerifiedIssuerData {
    /// The MSO.
    pub mso: MobileSecurityObject,
    /// The document signer's key.
    pub issuer_key: VerifyingKey,
    /// The DS certificate's common name, when the chain was checked.
    pub issuer_certificate: Option<String>,
    /// Which of the trusted IACA roots the DS certificate chained to (an index into the
    /// roots given, or the cache's); `None` when only the profile was checked.
    pub issuer_root: Option<usize>,
    /// The holder's device key from the MSO.
    pub device_key: VerifyingKey,
    /// The disclosed elements: (namespace, identifier, value as raw CBOR).
    pub elements: Vec<(String, String, Vec<u8>)>,
    /// Whether the status was checked (and found valid).
    pub status_checked: bool,
    _proofs: Proofs,
}

impl std::fmt::Debug for VerifiedIssuerData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let elements: Vec<(&str, &str)> = self
            .elements
            .iter()
            .map(|(ns, id, _)| (ns.as_str(), id.as_str()))
            .collect();
        f.debug_struct("VerifiedIssuerData")
            .field("doc_type", &self.mso.doc_type)
            .field("issuer_certificate", &self.issuer_certificate)
            .field("elements", &elements)
            .field("status_checked", &self.status_checked)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Proofs {
    _chain: ChainChecked,
    _signature: SignatureChecked,
    _digests: DigestsChecked,
    _doc_type: DocTypeChecked,
    _validity: ValidityChecked,
    _status: StatusChecked,
}
#[derive(Debug, Clone)]
struct ChainChecked(());
#[derive(Debug, Clone)]
struct SignatureChecked(());
#[derive(Debug, Clone)]
struct DigestsChecked(());
#[derive(Debug, Clone)]
struct DocTypeChecked(());
#[derive(Debug, Clone)]
struct ValidityChecked(());
#[derive(Debug, Clone)]
struct StatusChecked(());

/// Verifies the issuer data of a document of type `doc_type`.
pub fn verify_issuer_data(
    doc_type: &str,
    issuer_signed: &IssuerSigned,
    check: &IssuerDataCheck<'_>,
) -> Result<VerifiedIssuerData, MdocError> {
    let auth = &issuer_signed.issuer_auth;
    let ds = auth
        .headers
        .x5chain
        .first()
        .ok_or(MdocError::MissingCertificate)?;
    let (issuer_key, issuer_certificate, issuer_root) = match check.trust {
        IssuerTrust::DangerousProfileOnly => (
            check_document_signer_profile(ds, check.now).map_err(MdocError::IssuerCertificate)?,
            None,
            None,
        ),
        IssuerTrust::Roots(roots) => {
            let v = verify_document_signer(ds, roots, check.now)
                .map_err(MdocError::IssuerCertificate)?;
            (v.key, v.common_name, Some(v.iaca_index))
        }
        IssuerTrust::Cached(cache) => {
            let v = cache
                .verify(ds, check.now)
                .map_err(MdocError::IssuerCertificate)?;
            (v.key, v.common_name, Some(v.iaca_index))
        }
    };
    let chain = ChainChecked(());

    let payload = auth
        .payload
        .as_deref()
        .ok_or(MdocError::Malformed("issuerAuth without payload"))?;
    auth.verify(&issuer_key, None, MdocError::IssuerSignature)?;
    let signature = SignatureChecked(());

    let mso = MobileSecurityObject::from_payload(payload)?;
    if mso.digest_algorithm != "SHA-256" {
        return Err(MdocError::UnsupportedDigestAlgorithm(
            mso.digest_algorithm.clone(),
        ));
    }
    let mut elements = Vec::new();
    for (namespace, items) in &issuer_signed.name_spaces {
        for item in items {
            let missing = || MdocError::MissingDigest {
                namespace: namespace.clone(),
                element: item.element_identifier.clone(),
            };
            let expected = mso
                .value_digests
                .get(namespace)
                .and_then(|d| d.get(&item.digest_id))
                .ok_or_else(missing)?;
            // ISO 18013-5 §9.1.2.5: the digest is over IssuerSignedItemBytes as received.
            if eid_crypto::sha256(&item.bytes)[..] != expected[..] {
                return Err(MdocError::DigestMismatch {
                    namespace: namespace.clone(),
                    element: item.element_identifier.clone(),
                });
            }
            elements.push((
                namespace.clone(),
                item.element_identifier.clone(),
                item.element_value.clone(),
            ));
        }
    }
    let digests = DigestsChecked(());

    if mso.doc_type != doc_type || check.expected_doc_type.is_some_and(|e| e != doc_type) {
        return Err(MdocError::DocTypeMismatch);
    }
    let doc_type_checked = DocTypeChecked(());

    let v = &mso.validity;
    // §9.1.2.4: signed ≤ validFrom < validUntil.
    if v.signed > v.valid_from || v.valid_from >= v.valid_until {
        return Err(MdocError::MalformedValidity);
    }
    if check.now < mso.validity.valid_from {
        return Err(MdocError::NotYetValid);
    }
    if check.now > mso.validity.valid_until {
        return Err(MdocError::Expired);
    }
    let validity = ValidityChecked(());

    let device_key = mso.device_key()?;

    let status_checked = match (&mso.status, check.status) {
        (Some(reference), Some(source)) => match source
            .status(reference)
            .map_err(MdocError::StatusUnavailable)?
        {
            CredentialStatus::Valid => true,
            CredentialStatus::Invalid => return Err(MdocError::Status("INVALID (revoked)")),
            CredentialStatus::Suspended => return Err(MdocError::Status("SUSPENDED")),
        },
        _ => false,
    };
    let status = StatusChecked(());
    Ok(VerifiedIssuerData {
        mso,
        issuer_key,
        issuer_certificate,
        issuer_root,
        device_key,
        elements,
        status_checked,
        _proofs: Proofs {
            _chain: chain,
            _signature: signature,
            _digests: digests,
            _doc_type: doc_type_checked,
            _validity: validity,
            _status: status,
        },
    })
}

/// A document whose issuer data and device authentication both verified.
#[derive(Debug, Clone)]
pub struct VerifiedDocument {
    /// The issuer data.
    pub issuer: VerifiedIssuerData,
    _device: DeviceChecked,
}

#[derive(Debug, Clone)]
struct DeviceChecked(());

/// Verifies one document of a DeviceResponse: its issuer data, then its device
/// authentication over `session_transcript` (raw CBOR) with the MSO's device key.
pub fn verify_document(
    document: &crate::Document,
    check: &IssuerDataCheck<'_>,
    session_transcript: &[u8],
    mac: Option<&crate::session::MacCheck<'_>>,
) -> Result<VerifiedDocument, MdocError> {
    let issuer = verify_issuer_data(&document.doc_type, &document.issuer_signed, check)?;
    crate::session::verify_device_auth(document, &issuer.device_key, session_transcript, mac)?;
    Ok(VerifiedDocument {
        issuer,
        _device: DeviceChecked(()),
    })
}
