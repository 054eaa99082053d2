//! Reader-side verification of a document's issuer data: `IssuerSigned` →
//! [`VerifiedIssuerData`], every check over the bytes received.
//!
//! Order: the document signer (x5chain) chains to a trusted IACA; the issuer signature over
//! the MSO bytes; the MSO's digest algorithm; every disclosed element's digest; the docType;
//! the validity window; the device key; the status hook. Each check is a function in a module
//! of its own that returns a proof value whose field is private to that module, so only the
//! check can construct it; [`VerifiedIssuerData`] holds all of them, and [`VerifiedDocument`]
//! adds the device authentication's.

use eid_core::status::StatusCheck;
use eid_crypto::VerifyingKey;
use eid_crypto::x509::{DocumentSignerCache, TrustedIaca};
use time::OffsetDateTime;

use crate::MdocError;
use crate::model::{IssuerSigned, MobileSecurityObject};
use device_auth::{DeviceChecked, check_device_auth};
use device_key::{DeviceKeyChecked, check_device_key};
use digests::{DigestsChecked, check_digests};
use doc_type::{DocTypeChecked, check_doc_type};
use issuer_signature::{SignatureChecked, check_issuer_signature};
use issuer_trust::{ChainChecked, check_issuer_trust};
use status::{StatusChecked, check_status};
use validity::{ValidityChecked, check_validity};

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

/// The proof of every check, each made only by its check.
#[derive(Debug, Clone)]
struct Proofs {
    _chain: ChainChecked,
    _signature: SignatureChecked,
    _digests: DigestsChecked,
    _doc_type: DocTypeChecked,
    _validity: ValidityChecked,
    _device_key: DeviceKeyChecked,
    _status: StatusChecked,
}

/// Verifies the issuer data of a document of type `doc_type`: every check in the order of
/// the module documentation, each returning the proof that [`VerifiedIssuerData`] needs.
pub fn verify_issuer_data(
    doc_type: &str,
    issuer_signed: &IssuerSigned,
    check: &IssuerDataCheck<'_>,
) -> Result<VerifiedIssuerData, MdocError> {
    let auth = &issuer_signed.issuer_auth;
    let (signer, chain) = check_issuer_trust(auth, check.trust, check.now)?;
    let (mso, signature) = check_issuer_signature(auth, &signer.key)?;
    let (elements, digests) = check_digests(&mso, issuer_signed)?;
    let doc_type_checked = check_doc_type(&mso, doc_type, check.expected_doc_type)?;
    let validity = check_validity(&mso, check.now)?;
    let (device_key, device_key_checked) = check_device_key(&mso)?;
    let (status_checked, status) = check_status(&mso, check.status)?;
    Ok(VerifiedIssuerData {
        mso,
        issuer_key: signer.key,
        issuer_certificate: signer.common_name,
        issuer_root: signer.root,
        device_key,
        elements,
        status_checked,
        _proofs: Proofs {
            _chain: chain,
            _signature: signature,
            _digests: digests,
            _doc_type: doc_type_checked,
            _validity: validity,
            _device_key: device_key_checked,
            _status: status,
        },
    })
}

// Each check lives in a module of its own: its proof's field is private to that module, so
// the check is the only code that can construct the proof, and `verify_issuer_data` cannot
// build a `VerifiedIssuerData` without calling every one of them.

mod issuer_trust {
    use eid_crypto::VerifyingKey;
    use eid_crypto::x509::{check_document_signer_profile, verify_document_signer};
    use time::OffsetDateTime;

    use super::IssuerTrust;
    use crate::MdocError;
    use crate::cose::CoseSign1;

    /// The document signer chains to a trusted IACA (or, dangerously, fits the profile).
    #[derive(Debug, Clone)]
    pub(super) struct ChainChecked(());

    /// The document signer that `ChainChecked` vouches for.
    pub(super) struct DocumentSigner {
        pub(super) key: VerifyingKey,
        pub(super) common_name: Option<String>,
        pub(super) root: Option<usize>,
    }

    /// ISO 18013-5 §9.3.1: the DS certificate (the first of issuerAuth's x5chain, RFC 9360)
    /// validates to a trusted IACA at `now`.
    pub(super) fn check_issuer_trust(
        auth: &CoseSign1,
        trust: IssuerTrust<'_>,
        now: OffsetDateTime,
    ) -> Result<(DocumentSigner, ChainChecked), MdocError> {
        let ds = auth
            .headers
            .x5chain
            .first()
            .ok_or(MdocError::MissingCertificate)?;
        let signer = match trust {
            IssuerTrust::DangerousProfileOnly => DocumentSigner {
                key: check_document_signer_profile(ds, now)
                    .map_err(MdocError::IssuerCertificate)?,
                common_name: None,
                root: None,
            },
            IssuerTrust::Roots(roots) => {
                let v =
                    verify_document_signer(ds, roots, now).map_err(MdocError::IssuerCertificate)?;
                DocumentSigner {
                    key: v.key,
                    common_name: v.common_name,
                    root: Some(v.iaca_index),
                }
            }
            IssuerTrust::Cached(cache) => {
                let v = cache
                    .verify(ds, now)
                    .map_err(MdocError::IssuerCertificate)?;
                DocumentSigner {
                    key: v.key,
                    common_name: v.common_name,
                    root: Some(v.iaca_index),
                }
            }
        };
        Ok((signer, ChainChecked(())))
    }
}

mod issuer_signature {
    use eid_crypto::VerifyingKey;

    use crate::MdocError;
    use crate::cose::CoseSign1;
    use crate::model::MobileSecurityObject;

    /// The issuer signature over the MSO bytes verifies with the document signer's key.
    #[derive(Debug, Clone)]
    pub(super) struct SignatureChecked(());

    /// §9.1.2.4: issuerAuth signs MobileSecurityObjectBytes, which it must carry; the
    /// protected `alg` must be present, allowed and the key's. Returns the MSO it signs.
    pub(super) fn check_issuer_signature(
        auth: &CoseSign1,
        issuer_key: &VerifyingKey,
    ) -> Result<(MobileSecurityObject, SignatureChecked), MdocError> {
        let payload = auth
            .payload
            .as_deref()
            .ok_or(MdocError::Malformed("issuerAuth without payload"))?;
        auth.verify(issuer_key, None, MdocError::IssuerSignature)?;
        let mso = MobileSecurityObject::from_payload(payload)?;
        Ok((mso, SignatureChecked(())))
    }
}

mod digests {
    use crate::MdocError;
    use crate::model::{IssuerSigned, MobileSecurityObject};

    /// Every disclosed element's digest is the MSO's.
    #[derive(Debug, Clone)]
    pub(super) struct DigestsChecked(());

    /// The disclosed elements: (namespace, identifier, value as raw CBOR).
    type Elements = Vec<(String, String, Vec<u8>)>;

    /// §9.3.1: the MSO's digest algorithm is SHA-256, and each disclosed element has a
    /// digest in the MSO equal to the SHA-256 of its IssuerSignedItemBytes as received.
    pub(super) fn check_digests(
        mso: &MobileSecurityObject,
        issuer_signed: &IssuerSigned,
    ) -> Result<(Elements, DigestsChecked), MdocError> {
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
                // §9.1.2.5: the digest is over IssuerSignedItemBytes as received.
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
        Ok((elements, DigestsChecked(())))
    }
}

mod doc_type {
    use crate::MdocError;
    use crate::model::MobileSecurityObject;

    /// The docType is the MSO's and the one asked for.
    #[derive(Debug, Clone)]
    pub(super) struct DocTypeChecked(());

    /// §9.3.1: the document's docType is the one the MSO signs, and the verifier's when it
    /// asked for one.
    pub(super) fn check_doc_type(
        mso: &MobileSecurityObject,
        doc_type: &str,
        expected: Option<&str>,
    ) -> Result<DocTypeChecked, MdocError> {
        if mso.doc_type != doc_type || expected.is_some_and(|e| e != doc_type) {
            return Err(MdocError::DocTypeMismatch);
        }
        Ok(DocTypeChecked(()))
    }
}

mod validity {
    use time::OffsetDateTime;

    use crate::MdocError;
    use crate::model::MobileSecurityObject;

    /// The MSO's validity window is well-formed and holds `now`.
    #[derive(Debug, Clone)]
    pub(super) struct ValidityChecked(());

    /// §9.1.2.4: signed ≤ validFrom < validUntil; §9.3.1: validFrom ≤ now ≤ validUntil.
    pub(super) fn check_validity(
        mso: &MobileSecurityObject,
        now: OffsetDateTime,
    ) -> Result<ValidityChecked, MdocError> {
        let v = &mso.validity;
        if v.signed > v.valid_from || v.valid_from >= v.valid_until {
            return Err(MdocError::MalformedValidity);
        }
        if now < v.valid_from {
            return Err(MdocError::NotYetValid);
        }
        if now > v.valid_until {
            return Err(MdocError::Expired);
        }
        Ok(ValidityChecked(()))
    }
}

mod device_key {
    use eid_crypto::VerifyingKey;

    use crate::MdocError;
    use crate::model::MobileSecurityObject;

    /// The MSO's deviceKey is a usable P-256 COSE_Key.
    #[derive(Debug, Clone)]
    pub(super) struct DeviceKeyChecked(());

    /// §9.1.2.4 DeviceKeyInfo: the key device authentication will be checked with.
    pub(super) fn check_device_key(
        mso: &MobileSecurityObject,
    ) -> Result<(VerifyingKey, DeviceKeyChecked), MdocError> {
        Ok((mso.device_key()?, DeviceKeyChecked(())))
    }
}

mod status {
    use eid_core::status::{CredentialStatus, StatusCheck};

    use crate::MdocError;
    use crate::model::MobileSecurityObject;

    /// The status was valid, or there was no status source or reference to check.
    #[derive(Debug, Clone)]
    pub(super) struct StatusChecked(());

    /// The MSO's status reference (draft second edition) against the status source, when
    /// both are there; returns whether the status was checked.
    pub(super) fn check_status(
        mso: &MobileSecurityObject,
        source: Option<&dyn StatusCheck>,
    ) -> Result<(bool, StatusChecked), MdocError> {
        let (Some(reference), Some(source)) = (&mso.status, source) else {
            return Ok((false, StatusChecked(())));
        };
        match source
            .status(reference)
            .map_err(MdocError::StatusUnavailable)?
        {
            CredentialStatus::Valid => Ok((true, StatusChecked(()))),
            CredentialStatus::Invalid => Err(MdocError::Status("INVALID (revoked)")),
            CredentialStatus::Suspended => Err(MdocError::Status("SUSPENDED")),
        }
    }
}

/// A document whose issuer data and device authentication both verified.
#[derive(Debug, Clone)]
pub struct VerifiedDocument {
    /// The issuer data.
    pub issuer: VerifiedIssuerData,
    _device: DeviceChecked,
}

/// Verifies one document of a DeviceResponse: its issuer data, then its device
/// authentication over `session_transcript` (raw CBOR) with the MSO's device key.
pub fn verify_document(
    document: &crate::Document,
    check: &IssuerDataCheck<'_>,
    session_transcript: &[u8],
    mac: Option<&crate::session::MacCheck<'_>>,
) -> Result<VerifiedDocument, MdocError> {
    let issuer = verify_issuer_data(&document.doc_type, &document.issuer_signed, check)?;
    let device = check_device_auth(document, &issuer, session_transcript, mac)?;
    Ok(VerifiedDocument {
        issuer,
        _device: device,
    })
}

mod device_auth {
    use super::VerifiedIssuerData;
    use crate::session::MacCheck;
    use crate::{Document, MdocError};

    /// The device authenticated the session with the key the issuer bound.
    #[derive(Debug, Clone)]
    pub(super) struct DeviceChecked(());

    /// §9.1.3: deviceSignature or deviceMac over DeviceAuthenticationBytes, with the
    /// verified MSO's device key.
    pub(super) fn check_device_auth(
        document: &Document,
        issuer: &VerifiedIssuerData,
        session_transcript: &[u8],
        mac: Option<&MacCheck<'_>>,
    ) -> Result<DeviceChecked, MdocError> {
        crate::session::verify_device_auth(document, &issuer.device_key, session_transcript, mac)?;
        Ok(DeviceChecked(()))
    }
}
