//! Validating the Annex B certificates to trusted roots, each rule with its own error.

use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_SIG_ECDSA_WITH_SHA256, Oid};
use x509_parser::prelude::FromDer;

use crate::{Algorithm, VerifyingKey};

use super::*;

/// Checks a reader authentication certificate at `now` and returns its key: the common
/// profile (as for a DS: version, algorithm, validity of at most 457 days, extensions),
/// not a CA, digitalSignature only, extended key usage 1.0.18013.5.1.6. Whose certificate
/// it is, is for the caller to establish (eid: byte-equal to the one registered in the
/// trust list).
pub fn check_reader_certificate(
    der: &[u8],
    now: OffsetDateTime,
) -> Result<VerifyingKey, CertificateError> {
    let cert = parse(der)?;
    check_common(&cert, "reader", now, DS_MAX_VALIDITY, &[Algorithm::Es256])?;
    check_signing_leaf(
        &cert,
        "reader",
        MDL_READER_EKU,
        CertificateError::ReaderExtendedKeyUsage,
        &[Algorithm::Es256],
    )
}

/// A trusted IACA root, validated once when loaded.
#[derive(Debug, Clone)]
pub struct TrustedIaca {
    der: Vec<u8>,
    key: VerifyingKey,
    subject_raw: Vec<u8>,
    key_identifier: Option<Vec<u8>>,
    country: Option<String>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl TrustedIaca {
    /// The IACA's country (ISO 3166 alpha-2); a DS under it must name the same.
    pub fn country(&self) -> Option<&str> {
        self.country.as_deref()
    }

    /// Checks `der` against the IACA profile at `now` and keeps it as a trust anchor: a
    /// P-256 root signed with ECDSA and SHA-256.
    pub fn new(der: &[u8], now: OffsetDateTime) -> Result<Self, CertificateError> {
        Self::load(der, now, &[Algorithm::Es256])
    }

    /// [`Self::new`] for a root of one of the algorithms `allowed`: what a trust list names
    /// for the issuer (for [`Algorithm::Sm2Sm3`], an SM2 key signed with SM2 and SM3). A root
    /// of another algorithm is refused, and every DS under it must be of its own.
    pub fn new_allowing(
        der: &[u8],
        now: OffsetDateTime,
        allowed: &[Algorithm],
    ) -> Result<Self, CertificateError> {
        Self::load(der, now, allowed)
    }

    fn load(
        der: &[u8],
        now: OffsetDateTime,
        allowed: &[Algorithm],
    ) -> Result<Self, CertificateError> {
        let cert = parse(der)?;
        let signed_with = check_common(&cert, "IACA", now, IACA_MAX_VALIDITY, allowed)?;
        let key = public_key(&cert, allowed)?;
        if key.algorithm() != signed_with {
            return Err(CertificateError::AlgorithmMismatch("IACA"));
        }
        match cert.basic_constraints() {
            Ok(Some(bc))
                if bc.critical && bc.value.ca && bc.value.path_len_constraint == Some(0) => {}
            _ => return Err(CertificateError::BasicConstraints("IACA")),
        }
        match cert.key_usage() {
            // keyCertSign (bit 5) and cRLSign (bit 6), nothing else.
            Ok(Some(ku)) if ku.critical && ku.value.flags == (1 << 5) | (1 << 6) => {}
            Ok(Some(_)) => return Err(CertificateError::KeyUsage("IACA")),
            _ => {
                return Err(CertificateError::MissingExtension {
                    role: "IACA",
                    extension: "keyUsage",
                });
            }
        }
        if cert.tbs_certificate.issuer.as_raw() != cert.tbs_certificate.subject.as_raw() {
            return Err(CertificateError::Signature("IACA"));
        }
        key.verify_der_signature(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
            .map_err(|_| CertificateError::Signature("IACA"))?;
        Ok(Self {
            der: der.to_vec(),
            key,
            subject_raw: cert.tbs_certificate.subject.as_raw().to_vec(),
            key_identifier: subject_key_identifier(&cert),
            country: country(&cert),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
        })
    }

    /// Checks `der` against the IACA profile as of its own first day: a root its owner
    /// keeps through the years, valid today or not (see [`Self::not_after`]), of any
    /// algorithm eid signs with (the owner chose it).
    pub fn as_of_first_day(der: &[u8]) -> Result<Self, CertificateError> {
        let not_before = parse(der)?.validity().not_before.to_datetime();
        Self::load(der, not_before, ALGORITHMS)
    }

    /// The root's first day.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// The root's last moment: no DS under it is valid beyond it.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// From a `CERTIFICATE` PEM.
    pub fn from_pem(text: &str, now: OffsetDateTime) -> Result<Self, CertificateError> {
        let der =
            crate::pem::decode("CERTIFICATE", text).map_err(|_| CertificateError::Malformed)?;
        Self::new(&der, now)
    }

    /// The root's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The root's public key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The root's algorithm, which every DS under it uses too.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }
}

/// Every algorithm eid makes certificates with.
const ALGORITHMS: &[Algorithm] = &[Algorithm::Es256, Algorithm::Sm2Sm3];

/// A document signer that chains to a trusted IACA.
#[derive(Debug, Clone)]
pub struct VerifiedDocumentSigner {
    /// The DS certificate's public key, which signs MSOs and SD-JWTs.
    pub key: VerifyingKey,
    /// Which of the trusted roots issued it (index into the slice given).
    pub iaca_index: usize,
    /// The DS subject's common name.
    pub common_name: Option<String>,
    /// Start of the DS certificate's validity.
    pub not_before: OffsetDateTime,
    /// End of the DS certificate's validity.
    pub not_after: OffsetDateTime,
}

/// Checks a P-256 DS certificate against the DS profile at `now` (no chain): for
/// certificates whose IACA is not at hand, such as the Annex D example.
pub fn check_document_signer_profile(
    der: &[u8],
    now: OffsetDateTime,
) -> Result<VerifyingKey, CertificateError> {
    let cert = parse(der)?;
    check_ds(&cert, now, &[Algorithm::Es256]).map(|(key, _)| key)
}

/// A DS certificate's key and validity (`notBefore`, `notAfter`), checked against the DS
/// profile as of its own first day: a successor made ahead of its use is not valid yet,
/// and its issuer chooses when to begin signing with it. The issuer reads its own
/// certificates here, so the key may be of any algorithm eid signs with.
pub fn document_signer_terms(
    der: &[u8],
) -> Result<(VerifyingKey, OffsetDateTime, OffsetDateTime), CertificateError> {
    let cert = parse(der)?;
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    let (key, _) = check_ds(&cert, not_before, ALGORITHMS)?;
    Ok((key, not_before, not_after))
}

/// The DS profile; the key and the algorithm the certificate says it was signed with.
fn check_ds(
    cert: &X509Certificate<'_>,
    now: OffsetDateTime,
    allowed: &[Algorithm],
) -> Result<(VerifyingKey, Algorithm), CertificateError> {
    let signed_with = check_common(cert, "DS", now, DS_MAX_VALIDITY, allowed)?;
    let key = check_signing_leaf(
        cert,
        "DS",
        MDL_DS_EKU,
        CertificateError::ExtendedKeyUsage,
        allowed,
    )?;
    Ok((key, signed_with))
}

/// A leaf that signs: not a CA, critical keyUsage digitalSignature only, critical
/// extKeyUsage containing `eku`. Returns its key.
fn check_signing_leaf(
    cert: &X509Certificate<'_>,
    role: &'static str,
    eku: &[u64],
    wrong_eku: CertificateError,
    allowed: &[Algorithm],
) -> Result<VerifyingKey, CertificateError> {
    let key = public_key(cert, allowed)?;
    match cert.basic_constraints() {
        Ok(None) => {}
        Ok(Some(bc)) if !bc.value.ca => {}
        _ => return Err(CertificateError::BasicConstraints(role)),
    }
    match cert.key_usage() {
        // digitalSignature (bit 0), nothing else.
        Ok(Some(ku)) if ku.critical && ku.value.flags == 1 => {}
        Ok(Some(_)) => return Err(CertificateError::KeyUsage(role)),
        _ => {
            return Err(CertificateError::MissingExtension {
                role,
                extension: "keyUsage",
            });
        }
    }
    let wanted = Oid::from(eku).map_err(|_| wrong_eku.clone())?;
    match cert.extended_key_usage() {
        Ok(Some(e)) if e.critical && e.value.other.contains(&wanted) => Ok(key),
        Ok(Some(_)) => Err(wrong_eku),
        _ => Err(CertificateError::MissingExtension {
            role,
            extension: "extKeyUsage",
        }),
    }
}

/// Validates a DS certificate and its chain to one of `roots` at `now`: the DS profile, the
/// issuer name and key identifier, the IACA's signature, the country, and one algorithm
/// for the chain (the DS key, its certificate's signature and the root's key).
pub fn verify_document_signer(
    der: &[u8],
    roots: &[TrustedIaca],
    now: OffsetDateTime,
) -> Result<VerifiedDocumentSigner, CertificateError> {
    let cert = parse(der)?;
    let (key, signed_with) = check_ds(&cert, now, ALGORITHMS)?;
    // Several trusted roots may share a name (a renewed IACA keeps its subject): the one
    // whose key verifies the signature is the issuer.
    let issuer = cert.tbs_certificate.issuer.as_raw();
    let mut named = roots
        .iter()
        .enumerate()
        .filter(|(_, r)| r.subject_raw == issuer)
        .peekable();
    if named.peek().is_none() {
        return Err(CertificateError::UntrustedIssuer);
    }
    let (iaca_index, root) = named
        .find(|(_, r)| {
            r.key
                .verify_der_signature(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
                .is_ok()
        })
        .ok_or(CertificateError::Signature("DS"))?;
    // A root verifies only signatures of its own algorithm; the DS key must share it, or
    // an SM2 key would be accepted under a P-256 root the trust list names as ES256.
    if signed_with != root.algorithm() || key.algorithm() != root.algorithm() {
        return Err(CertificateError::AlgorithmMismatch("DS"));
    }
    // The root was valid when loaded; it must still be at the time of this verification.
    if now < root.not_before || now > root.not_after {
        return Err(CertificateError::OutsideValidity {
            role: "IACA",
            at: now,
            not_before: root.not_before,
            not_after: root.not_after,
        });
    }
    let aki = cert
        .tbs_certificate
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        });
    match (&aki, &root.key_identifier) {
        (Some(a), Some(s)) if a == s => {}
        (None, _) => {
            return Err(CertificateError::MissingExtension {
                role: "DS",
                extension: "authorityKeyIdentifier",
            });
        }
        _ => return Err(CertificateError::AuthorityKeyIdentifier),
    }
    if country(&cert).is_none() || country(&cert) != root.country {
        return Err(CertificateError::Country);
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    Ok(VerifiedDocumentSigner {
        key,
        iaca_index,
        common_name,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
    })
}

/// A set of trusted roots with a cache of the document signers verified under them.
///
/// Every presentation carries its DS certificate; checking its chain costs one more
/// signature verify than the presentation itself. The DS certificates of a trust list are
/// few (a handful per issuing authority), so a verifier checks each once. A hit is the same
/// certificate bytes (compared in full, not by a digest of them) under the same root: the
/// cache belongs to one set of roots, which it holds and never changes, so a new trust list
/// means a new cache and nothing checked under the old one is trusted under the new. At each
/// use the validity windows of the DS and of its root are checked again. The cache holds at
/// most `capacity` signers and is emptied when full (a verifier sees a handful; a flood of
/// distinct certificates costs full checks, never memory).
pub struct DocumentSignerCache {
    roots: Vec<TrustedIaca>,
    capacity: usize,
    pub(super) entries:
        std::sync::Mutex<std::collections::HashMap<Box<[u8]>, VerifiedDocumentSigner>>,
    /// Chains checked in full (the misses), for tests and monitoring.
    chains_checked: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for DocumentSignerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentSignerCache")
            .field("roots", &self.roots.len())
            .field("capacity", &self.capacity)
            .field("chains_checked", &self.chains_checked())
            .finish_non_exhaustive()
    }
}

impl DocumentSignerCache {
    /// A cache for `roots`, holding at most `capacity` document signers.
    pub fn new(roots: Vec<TrustedIaca>, capacity: usize) -> Self {
        Self {
            roots,
            capacity,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
            chains_checked: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The roots.
    pub fn roots(&self) -> &[TrustedIaca] {
        &self.roots
    }

    /// How many chains were checked in full since the cache was made (the calls that did
    /// not find the certificate cached, whether it then verified or not).
    pub fn chains_checked(&self) -> u64 {
        self.chains_checked
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`verify_document_signer`] against the cache's roots, once per certificate; the
    /// validity of the DS and of its root at every call.
    pub fn verify(
        &self,
        der: &[u8],
        now: OffsetDateTime,
    ) -> Result<VerifiedDocumentSigner, CertificateError> {
        let cached = self
            .entries
            .lock()
            .ok()
            .and_then(|entries| entries.get(der).cloned());
        if let Some(hit) = cached {
            if now < hit.not_before || now > hit.not_after {
                return Err(CertificateError::OutsideValidity {
                    role: "DS",
                    at: now,
                    not_before: hit.not_before,
                    not_after: hit.not_after,
                });
            }
            let root = self
                .roots
                .get(hit.iaca_index)
                .ok_or(CertificateError::UntrustedIssuer)?;
            if now < root.not_before || now > root.not_after {
                return Err(CertificateError::OutsideValidity {
                    role: "IACA",
                    at: now,
                    not_before: root.not_before,
                    not_after: root.not_after,
                });
            }
            return Ok(hit);
        }
        self.chains_checked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let verified = verify_document_signer(der, &self.roots, now)?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(der.into(), verified.clone());
        }
        Ok(verified)
    }
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, CertificateError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        _ => Err(CertificateError::Malformed),
    }
}

/// SM2 with SM3's OID, 1.2.156.10197.1.501, as DER content octets.
const SM2_WITH_SM3_OID: [u8; 8] = [0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75];

/// The algorithm an AlgorithmIdentifier names, of those `allowed`: ecdsa-with-SHA256 or SM2
/// with SM3, each without parameters (RFC 5758 §3.2; GM/T 0015).
fn signature_algorithm(
    id: &x509_parser::x509::AlgorithmIdentifier<'_>,
    allowed: &[Algorithm],
) -> Option<Algorithm> {
    let algorithm = if id.algorithm == OID_SIG_ECDSA_WITH_SHA256 {
        Algorithm::Es256
    } else if id.algorithm.as_bytes() == SM2_WITH_SM3_OID {
        Algorithm::Sm2Sm3
    } else {
        return None;
    };
    (id.parameters.is_none() && allowed.contains(&algorithm)).then_some(algorithm)
}

/// The profile every certificate shares; returns the algorithm it says it is signed with.
fn check_common(
    cert: &X509Certificate<'_>,
    role: &'static str,
    now: OffsetDateTime,
    max_validity: Duration,
    allowed: &[Algorithm],
) -> Result<Algorithm, CertificateError> {
    if cert.version().0 != 2 {
        return Err(CertificateError::NotVersion3);
    }
    let signed_with = match (
        signature_algorithm(&cert.signature_algorithm, allowed),
        signature_algorithm(&cert.tbs_certificate.signature, allowed),
    ) {
        (Some(outer), Some(inner)) if outer == inner => outer,
        _ => return Err(CertificateError::SignatureAlgorithm),
    };
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    if now < not_before || now > not_after {
        return Err(CertificateError::OutsideValidity {
            role,
            at: now,
            not_before,
            not_after,
        });
    }
    if not_after - not_before > max_validity {
        return Err(CertificateError::ValidityTooLong(role));
    }
    let has = |wanted: fn(&ParsedExtension<'_>) -> bool| {
        cert.tbs_certificate
            .extensions()
            .iter()
            .any(|e| wanted(e.parsed_extension()))
    };
    if !has(|e| matches!(e, ParsedExtension::SubjectKeyIdentifier(_))) {
        return Err(CertificateError::MissingExtension {
            role,
            extension: "subjectKeyIdentifier",
        });
    }
    if !has(
        |e| matches!(e, ParsedExtension::IssuerAlternativeName(ian) if !ian.general_names.is_empty() && ian.general_names.iter().all(|n| matches!(n, GeneralName::URI(_) | GeneralName::RFC822Name(_)))),
    ) {
        return Err(CertificateError::MissingExtension {
            role,
            extension: "issuerAltName",
        });
    }
    if !has(|e| matches!(e, ParsedExtension::CRLDistributionPoints(_))) {
        return Err(CertificateError::MissingExtension {
            role,
            extension: "cRLDistributionPoints",
        });
    }
    if country(cert).is_none() {
        return Err(CertificateError::Country);
    }
    if cert.tbs_certificate.extensions().iter().any(|e| {
        e.critical
            && matches!(
                e.parsed_extension(),
                ParsedExtension::UnsupportedExtension { .. }
            )
    }) {
        return Err(CertificateError::UnknownCriticalExtension(role));
    }
    Ok(signed_with)
}

fn public_key(
    cert: &X509Certificate<'_>,
    allowed: &[Algorithm],
) -> Result<VerifyingKey, CertificateError> {
    VerifyingKey::from_spki_der_allowing(cert.tbs_certificate.subject_pki.raw, allowed)
        .map_err(|_| CertificateError::PublicKey)
}

fn subject_key_identifier(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.tbs_certificate
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

fn country(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_country()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned)
}
