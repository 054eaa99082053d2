//! Creating the Annex B certificates with any [`Signer`] (rcgen under it).

use eid_core::Random;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, IsCa, KeyIdMethod,
    KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::keys::raw_to_der;
use crate::{Algorithm, CryptoError, Signer, VerifyingKey};

use super::*;

/// Lets rcgen sign through a [`Signer`] (so an HSM can sign certificates too).
pub(super) struct RcgenSigner<'a> {
    pub(super) signer: &'a dyn Signer,
}

impl rcgen::PublicKeyData for RcgenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.signer.verifying_key().sec1()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for RcgenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        if self.signer.algorithm() != Algorithm::Es256 {
            // rcgen labels what it signs ECDSA with SHA-256: an SM2 certificate is
            // relabelled and signed afresh by `relabel`, so nothing is signed here.
            return Ok(PLACEHOLDER_SIGNATURE.to_vec());
        }
        let raw = self
            .signer
            .sign(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        raw_to_der(&raw).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A subject public key for rcgen.
pub(super) struct SubjectKey<'a>(pub(super) &'a VerifyingKey);

impl rcgen::PublicKeyData for SubjectKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.0.sec1()
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// A DER ECDSA-Sig-Value (r = s = 1) that rcgen writes where an SM2 certificate's signature
/// goes before [`relabel`] replaces it.
const PLACEHOLDER_SIGNATURE: [u8; 8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];

/// AlgorithmIdentifier of SM2 with SM3, 1.2.156.10197.1.501 (GB/T 35276-2017 §6, GM/T
/// 0006), without parameters: as long as ecdsa-with-SHA256's.
pub(super) const SM2_WITH_SM3: [u8; 12] = [
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75,
];

/// A certificate's key and its issuer's are of one algorithm: P-256 under P-256, SM2 under
/// SM2 (a verifier takes the algorithm a trust list names for the issuer, for the whole
/// chain).
fn one_algorithm(issuer: &dyn Signer, subject: &VerifyingKey) -> Result<(), CryptoError> {
    if issuer.verifying_key().algorithm() == subject.algorithm() {
        Ok(())
    } else {
        let name = |algorithm| match algorithm {
            Algorithm::Sm2Sm3 => "an SM2",
            _ => "a P-256",
        };
        Err(CryptoError::CertificateBuild(format!(
            "{} key cannot be certified by {} key: a chain is of one algorithm",
            name(subject.algorithm()),
            name(issuer.verifying_key().algorithm())
        )))
    }
}

/// The certificate rcgen made, as it stays for P-256; for SM2, relabelled and signed.
fn finish(
    der: &[u8],
    issuer: &dyn Signer,
    subject: &VerifyingKey,
) -> Result<CertificateDer, CryptoError> {
    match issuer.algorithm() {
        Algorithm::Es256 => Ok(CertificateDer(der.to_vec())),
        Algorithm::Sm2Sm3 => relabel(der, &SM2_WITH_SM3, &subject.to_spki_der(), issuer),
    }
}

/// rcgen writes only the algorithms it knows. An SM2 certificate is made from the one rcgen
/// made with P-256 labels: in the TBSCertificate (RFC 5280 §4.1) the `signature`
/// AlgorithmIdentifier becomes `algorithm` (SM2 with SM3) and the `subjectPublicKeyInfo`
/// becomes `spki` (naming the curve sm2p256v1); then `issuer` signs it (for SM2: with SM3
/// and the default distinguishing identifier, GB/T 32918.2) and the outer
/// `signatureAlgorithm` says `algorithm` too.
pub(super) fn relabel(
    der: &[u8],
    algorithm: &[u8],
    spki: &[u8],
    issuer: &dyn Signer,
) -> Result<CertificateDer, CryptoError> {
    let malformed =
        || CryptoError::CertificateBuild("rcgen wrote an unexpected certificate".into());
    let outer = elements(contents(der, 0x30).ok_or_else(malformed)?).ok_or_else(malformed)?;
    let [tbs, _, _] = outer[..] else {
        return Err(malformed());
    };
    let fields = elements(contents(tbs, 0x30).ok_or_else(malformed)?).ok_or_else(malformed)?;
    // version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo,
    // extensions: rcgen always writes all eight.
    if fields.len() != 8 {
        return Err(malformed());
    }
    let mut body = Vec::with_capacity(tbs.len());
    for (at, field) in fields.iter().enumerate() {
        body.extend_from_slice(match at {
            2 => algorithm,
            6 => spki,
            _ => field,
        });
    }
    let tbs = der_tlv(0x30, &body);
    let mut signature = vec![0x00];
    signature.extend(raw_to_der(&issuer.sign(&tbs)?)?);
    let certificate = [&tbs[..], algorithm, &der_tlv(0x03, &signature)].concat();
    Ok(CertificateDer(der_tlv(0x30, &certificate)))
}

/// The contents of `bytes` if it is exactly one DER element with `tag`.
fn contents(bytes: &[u8], tag: u8) -> Option<&[u8]> {
    match element(bytes)? {
        (found, content, len) if found == tag && len == bytes.len() => Some(content),
        _ => None,
    }
}

/// The first DER element of `bytes`: its tag, its contents and its whole length.
fn element(bytes: &[u8]) -> Option<(u8, &[u8], usize)> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 {
            return None;
        }
        let len = rest
            .get(..octets)?
            .iter()
            .fold(0usize, |len, &b| len << 8 | usize::from(b));
        (len, 2 + octets)
    };
    let end = header.checked_add(len)?;
    Some((tag, bytes.get(header..end)?, end))
}

/// The whole DER elements that `bytes` is made of, in order.
fn elements(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (_, _, len) = element(bytes)?;
        let (whole, rest) = bytes.split_at(len);
        out.push(whole);
        bytes = rest;
    }
    Some(out)
}

fn serial(random: &dyn Random) -> Result<SerialNumber, CryptoError> {
    // 20 octets at most (RFC 5280 §4.1.2.2), positive, at least 63 random bits: 16 bytes.
    let mut bytes = [0u8; 16];
    random
        .fill(&mut bytes)
        .map_err(|_| CryptoError::SigningFailed)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// DER of GeneralNames with one uniformResourceIdentifier ([6] IA5String).
fn general_names_uri(uri: &str) -> Result<Vec<u8>, CryptoError> {
    if !uri.is_ascii() || uri.is_empty() {
        return Err(CryptoError::CertificateBuild(
            "a URI must be non-empty ASCII".into(),
        ));
    }
    let inner = der_tlv(0x86, uri.as_bytes());
    Ok(der_tlv(0x30, &inner))
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// subjectKeyIdentifier (2.5.29.14), non-critical (RFC 5280 §4.2.1.2): an OCTET STRING with
/// [`key_identifier`]. rcgen writes this extension only together with basicConstraints, which
/// a DS or reader certificate must not carry, so leaves get it from here.
pub(super) fn subject_key_identifier_extension(key: &VerifyingKey) -> CustomExtension {
    CustomExtension::from_oid_content(&[2, 5, 29, 14], der_tlv(0x04, &key_identifier(key)))
}

/// extKeyUsage (2.5.29.37), critical (Annex B.1.4 and B.1.7): SEQUENCE { OID 1.0.18013.5.1.`last` }.
/// rcgen writes its own as non-critical. OID content: 0x28 is 1.0 (1 × 40 + 0), then 18013
/// in base 128 (0x81 0x8C 0x5D), 5, 1, `last`.
pub(super) fn mdoc_extended_key_usage(last: u8) -> CustomExtension {
    let mut eku = CustomExtension::from_oid_content(
        &[2, 5, 29, 37],
        der_tlv(
            0x30,
            &der_tlv(0x06, &[0x28, 0x81, 0x8C, 0x5D, 0x05, 0x01, last]),
        ),
    );
    eku.set_criticality(true);
    eku
}

/// What a DS (Annex B.1.4) and a reader certificate (B.1.7) share: no basicConstraints,
/// keyUsage critical with digitalSignature only, the critical extKeyUsage 1.0.18013.5.1.`eku`,
/// subject and authority key identifiers.
fn signing_leaf_params(
    subject: &Subject,
    terms: &CertificateTerms,
    subject_key: &VerifyingKey,
    eku: u8,
    random: &dyn Random,
) -> Result<CertificateParams, CryptoError> {
    let mut params = common_params(subject, terms, random)?;
    // `NoCa` writes no basicConstraints at all: the DS and reader tables have none, and
    // readers such as isomdl refuse a critical one they do not expect.
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // authorityKeyIdentifier, non-critical: rcgen takes the issuer's subjectKeyIdentifier
    // (for a self-signed reader, `key_identifier_method` below, the certificate's own).
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(subject_key).to_vec());
    params
        .custom_extensions
        .push(subject_key_identifier_extension(subject_key));
    params.custom_extensions.push(mdoc_extended_key_usage(eku));
    Ok(params)
}

pub(super) fn common_params(
    subject: &Subject,
    terms: &CertificateTerms,
    random: &dyn Random,
) -> Result<CertificateParams, CryptoError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject.distinguished_name()?;
    params.not_before = terms.not_before;
    params.not_after = terms.not_after;
    params.serial_number = Some(serial(random)?);
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![terms.crl_uri.clone()],
    }];
    // issuerAltName (2.5.29.18), non-critical.
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[2, 5, 29, 18],
            general_names_uri(&terms.issuer_alt_name_uri)?,
        ));
    Ok(params)
}

fn build_error(e: rcgen::Error) -> CryptoError {
    CryptoError::CertificateBuild(e.to_string())
}

/// Creates a self-signed IACA root certificate (ISO 18013-5 Annex B.1.2) for `signer`'s key.
pub fn create_iaca(
    subject: &Subject,
    terms: &CertificateTerms,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<CertificateDer, CryptoError> {
    if terms.not_after - terms.not_before > IACA_MAX_VALIDITY {
        return Err(CryptoError::CertificateBuild(
            "an IACA is valid for 20 years at most".into(),
        ));
    }
    let mut params = common_params(subject, terms, random)?;
    // basicConstraints critical, CA, pathLenConstraint 0 (Annex B.1.2): the IACA issues
    // leaves only. rcgen writes it critical, with the subjectKeyIdentifier (non-critical),
    // whose value is set here to Annex B's method.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_identifier_method =
        KeyIdMethod::PreSpecified(key_identifier(signer.verifying_key()).to_vec());
    // keyUsage critical (rcgen always writes it so), keyCertSign and cRLSign only.
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = RcgenSigner { signer };
    let cert = params.self_signed(&key).map_err(build_error)?;
    finish(cert.der(), signer, signer.verifying_key())
}

/// Creates a document-signer certificate (ISO 18013-5 Annex B.1.4) for `subject_key`,
/// issued by the IACA `iaca` whose key is `iaca_signer`.
pub fn create_document_signer(
    subject: &Subject,
    terms: &CertificateTerms,
    subject_key: &VerifyingKey,
    iaca: &CertificateDer,
    iaca_signer: &dyn Signer,
    random: &dyn Random,
) -> Result<CertificateDer, CryptoError> {
    if terms.not_after - terms.not_before > DS_MAX_VALIDITY {
        return Err(CryptoError::CertificateBuild(
            "a DS is valid for 457 days at most".into(),
        ));
    }
    one_algorithm(iaca_signer, subject_key)?;
    // extKeyUsage 1.0.18013.5.1.2 (mdlDS); the authority key identifier is the IACA's
    // subjectKeyIdentifier as written in its certificate (rcgen reads it from the DER).
    let params = signing_leaf_params(subject, terms, subject_key, 2, random)?;
    let ca_der = rustls_pki_types::CertificateDer::from(iaca.0.as_slice());
    let issuer = rcgen::Issuer::from_ca_cert_der(
        &ca_der,
        RcgenSigner {
            signer: iaca_signer,
        },
    )
    .map_err(build_error)?;
    let cert = params
        .signed_by(&SubjectKey(subject_key), &issuer)
        .map_err(build_error)?;
    finish(cert.der(), iaca_signer, subject_key)
}

/// Creates a relying party's mdoc reader authentication certificate with the ISO 18013-5
/// Annex B.1.7 extensions (see the module's table), self-signed: eid pins it in the relying
/// party's registration in the signed trust list, which is what vouches for it, where
/// Annex B has a reader CA issue it.
pub fn create_reader_certificate(
    subject: &Subject,
    terms: &CertificateTerms,
    signer: &dyn Signer,
    random: &dyn Random,
) -> Result<CertificateDer, CryptoError> {
    if terms.not_after - terms.not_before > DS_MAX_VALIDITY {
        return Err(CryptoError::CertificateBuild(
            "a reader certificate is valid for 457 days at most".into(),
        ));
    }
    if signer.algorithm() != Algorithm::Es256 {
        return Err(CryptoError::CertificateBuild(
            "a reader certificate is made for a P-256 key only".into(),
        ));
    }
    // extKeyUsage 1.0.18013.5.1.6 (mdoc reader authentication). Annex B.1.7 has a reader
    // CA issue the certificate; this one is its own issuer, so its authority key identifier
    // is its own subject key identifier.
    let params = signing_leaf_params(subject, terms, signer.verifying_key(), 6, random)?;
    let cert = params
        .self_signed(&RcgenSigner { signer })
        .map_err(build_error)?;
    Ok(CertificateDer(cert.der().to_vec()))
}

/// An issuing authority's certificates and software keys: an IACA root and one document
/// signer under it, both with the Annex B profile, checked against each other when made.
/// What `eid pki init` writes, and what tests and demos issue with.
pub struct AuthorityPki {
    /// The IACA's key (signs certificates only).
    pub iaca_key: crate::SigningKey,
    /// The IACA root certificate.
    pub iaca: CertificateDer,
    /// The document signer's key (signs MSOs and SD-JWTs).
    pub ds_key: crate::SigningKey,
    /// The document-signer certificate.
    pub ds: CertificateDer,
}

impl AuthorityPki {
    /// Makes a root valid for `iaca_days` and a DS valid for `ds_days`, both from
    /// `not_before`, for `organization` in `country`, reachable at `uri` (issuer alternative
    /// name; the CRL is published at `uri/iaca.crl`).
    pub fn generate(
        organization: &str,
        country: &str,
        uri: &str,
        not_before: OffsetDateTime,
        days: (i64, i64),
        random: &dyn Random,
    ) -> Result<Self, CryptoError> {
        Self::generate_for(
            Algorithm::Es256,
            organization,
            country,
            uri,
            not_before,
            days,
            random,
        )
    }

    /// [`Self::generate`] with keys of `algorithm` (SM2 with SM3 for a deployment that
    /// chooses the national algorithms).
    pub fn generate_for(
        algorithm: Algorithm,
        organization: &str,
        country: &str,
        uri: &str,
        not_before: OffsetDateTime,
        (iaca_days, ds_days): (i64, i64),
        random: &dyn Random,
    ) -> Result<Self, CryptoError> {
        let terms = |days: i64| CertificateTerms {
            not_before,
            not_after: not_before + Duration::days(days),
            issuer_alt_name_uri: uri.to_owned(),
            crl_uri: format!("{}/iaca.crl", uri.trim_end_matches('/')),
        };
        let subject = |cn: &str| Subject {
            country: country.to_owned(),
            state: None,
            organization: organization.to_owned(),
            common_name: format!("{organization} {cn}"),
        };
        let iaca_key = crate::SigningKey::generate_for(algorithm)?;
        let iaca = create_iaca(&subject("IACA"), &terms(iaca_days), &iaca_key, random)?;
        let ds_key = crate::SigningKey::generate_for(algorithm)?;
        let ds = create_document_signer(
            &subject("DS"),
            &terms(ds_days),
            ds_key.verifying_key(),
            &iaca,
            &iaca_key,
            random,
        )?;
        let root = TrustedIaca::new_allowing(&iaca.0, not_before, &[algorithm])
            .map_err(|e| CryptoError::CertificateBuild(e.to_string()))?;
        verify_document_signer(&ds.0, &[root], not_before)
            .map_err(|e| CryptoError::CertificateBuild(e.to_string()))?;
        Ok(Self {
            iaca_key,
            iaca,
            ds_key,
            ds,
        })
    }

    /// The root as a trust anchor of its own algorithm, checked at `now`.
    pub fn trusted_root(&self, now: OffsetDateTime) -> Result<TrustedIaca, CertificateError> {
        TrustedIaca::new_allowing(&self.iaca.0, now, &[self.iaca_key.algorithm()])
    }
}
