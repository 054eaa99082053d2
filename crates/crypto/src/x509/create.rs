//! Creating the Annex B certificates with any [`Signer`] (rcgen under it).

use eid_core::Random;
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, IsCa, KeyIdMethod,
    KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::keys::raw_to_der;
use crate::{CryptoError, Signer, VerifyingKey};

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

/// The certificates made here are ECDSA with SHA-256 over P-256 keys: rcgen writes only the
/// algorithms it knows, so SM2 keys are refused rather than labelled P-256.
fn p256_only(key: &VerifyingKey) -> Result<(), CryptoError> {
    if key.algorithm() == crate::Algorithm::Es256 {
        Ok(())
    } else {
        Err(CryptoError::CertificateBuild(
            "only P-256 keys have certificates made here (SM2 certificates are not built yet)"
                .into(),
        ))
    }
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
    p256_only(signer.verifying_key())?;
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
    Ok(CertificateDer(cert.der().to_vec()))
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
    p256_only(subject_key)?;
    p256_only(iaca_signer.verifying_key())?;
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
    Ok(CertificateDer(cert.der().to_vec()))
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
    p256_only(signer.verifying_key())?;
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
        let iaca_key = crate::SigningKey::generate()?;
        let iaca = create_iaca(&subject("IACA"), &terms(iaca_days), &iaca_key, random)?;
        let ds_key = crate::SigningKey::generate()?;
        let ds = create_document_signer(
            &subject("DS"),
            &terms(ds_days),
            ds_key.verifying_key(),
            &iaca,
            &iaca_key,
            random,
        )?;
        let root = TrustedIaca::new(&iaca.0, not_before)
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

    /// The root as a trust anchor, checked at `now`.
    pub fn trusted_root(&self, now: OffsetDateTime) -> Result<TrustedIaca, CertificateError> {
        TrustedIaca::new(&self.iaca.0, now)
    }
}
