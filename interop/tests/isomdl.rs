//! eid ↔ isomdl 0.2.0 (SpruceID's ISO 18013-5), both directions, the way isomdl's users use
//! it:
//! - isomdl's reader (`reader::SessionManager`: QR engagement, `establish_session`,
//!   `handle_response` with a `TrustAnchorRegistry` holding eid's IACA) reads an eid device's
//!   encrypted DeviceResponse: the DS certificate against the Annex B profile and its chain to
//!   the IACA, the issuer signature, the device signature over the session transcript;
//! - isomdl's phone (`device::SessionManager`) checks an eid reader's request: reader
//!   authentication with eid's reader certificate as the registry's reader anchor;
//! - eid verifies what isomdl issues (chain, signature, every digest, validity), and a
//!   presentation of it made by eid's holder, which isomdl verifies too.
//!
//! Each acceptance has its refusal beside it (another IACA, certificates made the way eid
//! made them before issue 16), so that a certificate check that stopped running would show.
//! isomdl does not compare element digests: it is a format oracle, never the judge of what
//! must be rejected.

use std::collections::BTreeMap;

use eid_core::OsRandom;
use eid_crypto::session::AgreementKey;
use eid_crypto::x509::{
    AuthorityPki, CertificateTerms, Subject, TrustedIaca, create_reader_certificate,
};
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::engagement::DeviceEngagement;
use eid_mdoc::issue::{ElementValue, IssueRequest};
use eid_mdoc::request::{DeviceRequest, ItemsRequest};
use eid_mdoc::session::Session;
use eid_mdoc::{DeviceResponse, IssuerDataCheck, IssuerSigned, IssuerTrust};
use isomdl::definitions::device_key::cose_key::{EC2Curve, EC2Y};
use isomdl::definitions::helpers::NonEmptyMap;
use isomdl::definitions::session::SessionTranscript;
use isomdl::definitions::x509::X5Chain;
use isomdl::definitions::x509::trust_anchor::{PemTrustAnchor, TrustAnchorRegistry, TrustPurpose};
use isomdl::definitions::x509::validation::ValidationRuleset;
use isomdl::definitions::{CoseKey, DeviceKeyInfo, DigestAlgorithm, ValidityInfo};
use isomdl::presentation::authentication::mdoc::{device_authentication, issuer_authentication};
use isomdl::presentation::authentication::{
    AuthenticationStatus, RequestAuthenticationOutcome, ResponseAuthenticationOutcome,
};
use isomdl::presentation::device::{self, PermittedItems, ReaderAuthOutcome};
use isomdl::presentation::reader;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::DecodePrivateKey;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

const DOC_TYPE: &str = "org.iso.18013.5.1.mDL";
const NS: &str = "org.iso.18013.5.1";

/// Any SessionTranscript, carried as the CBOR both sides agreed on.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct Transcript(ciborium::Value);

impl SessionTranscript for Transcript {}

/// isomdl checks certificate validity against the system clock, so these tests do too.
fn now() -> OffsetDateTime {
    eid_core::Clock::now(&eid_core::SystemClock)
        .replace_nanosecond(0)
        .unwrap()
}

struct Pki {
    iaca_der: Vec<u8>,
    roots: Vec<TrustedIaca>,
    ds_key: SigningKey,
    ds_der: Vec<u8>,
}

fn pki() -> Pki {
    let pki = AuthorityPki::generate(
        "Nanning PSB",
        "CN",
        "https://eid.example.cn/4501",
        now() - Duration::days(1),
        (3650, 365),
        &OsRandom,
    )
    .unwrap();
    let AuthorityPki {
        iaca, ds_key, ds, ..
    } = pki;
    Pki {
        roots: vec![TrustedIaca::new(&iaca.0, now()).unwrap()],
        iaca_der: iaca.0,
        ds_key,
        ds_der: ds.0,
    }
}

fn pem(der: &[u8]) -> String {
    eid_crypto::pem::encode("CERTIFICATE", der)
}

/// A registry as an isomdl reader (IACA) or phone (reader CA) holds it.
fn registry(anchors: &[(&[u8], TrustPurpose)]) -> TrustAnchorRegistry {
    TrustAnchorRegistry::from_pem_certificates(
        anchors
            .iter()
            .map(|(der, purpose)| PemTrustAnchor {
                certificate_pem: pem(der),
                purpose: *purpose,
            })
            .collect(),
    )
    .unwrap()
}

fn x5chain(der: &[u8]) -> X5Chain {
    X5Chain::builder()
        .with_der_certificate(der)
        .unwrap()
        .build()
        .unwrap()
}

fn transcript(nonce: &str) -> Vec<u8> {
    eid_mdoc::session::oid4vp_session_transcript(
        "x509_hash:verifier",
        nonce,
        None,
        "https://verifier.example.cn/r",
    )
}

fn their_transcript(bytes: &[u8]) -> Transcript {
    Transcript(ciborium::from_reader(bytes).unwrap())
}

fn check(pki: &Pki) -> IssuerDataCheck<'_> {
    IssuerDataCheck {
        trust: IssuerTrust::Roots(&pki.roots),
        now: now(),
        expected_doc_type: None,
        status: None,
    }
}

/// An mDL issued by eid with the DS `ds_key`/`ds_der`, for `holder`.
fn issue(ds_key: &SigningKey, ds_der: &[u8], holder: &SigningKey) -> Vec<u8> {
    let name_spaces = vec![(
        NS.to_owned(),
        vec![
            ("family_name".to_owned(), ElementValue::Text("Wang".into())),
            (
                "birth_date".to_owned(),
                ElementValue::FullDate(time::macros::date!(1990 - 03 - 07)),
            ),
            ("age_over_21".to_owned(), ElementValue::Bool(true)),
        ],
    )];
    eid_mdoc::issue::issue(
        &IssueRequest {
            doc_type: DOC_TYPE,
            name_spaces: &name_spaces,
            device_key: holder.verifying_key(),
            valid_from: now() - Duration::minutes(1),
            valid_until: now() + Duration::days(30),
            status: None,
            x5chain: &[ds_der.to_vec()],
        },
        ds_key,
        &OsRandom,
    )
    .unwrap()
}

/// The in-person flow between an eid phone and an isomdl reader, as isomdl's users run it:
/// the phone shows its QR engagement, the reader establishes the session with its request,
/// eid's holder answers with `age_over_21` over the session, and the reader's
/// `handle_response` judges the answer against `anchors`.
fn isomdl_reader_reads(
    issued: &[u8],
    holder: &SigningKey,
    anchors: TrustAnchorRegistry,
) -> ResponseAuthenticationOutcome {
    let e_device = AgreementKey::generate().unwrap();
    let engagement = DeviceEngagement::encode(e_device.public_point());
    let qr = DeviceEngagement::qr_uri(&engagement);

    let wanted = NonEmptyMap::new(
        NS.to_owned(),
        NonEmptyMap::new("age_over_21".to_owned(), false),
    );
    let (mut reader, establishment, _ble_ident) =
        reader::SessionManager::establish_session(qr, wanted, anchors)
            .expect("isomdl reads eid's engagement QR");

    let (mut session, request) = Session::for_device(&engagement, &e_device, &establishment, None)
        .expect("eid opens isomdl's SessionEstablishment");
    let request = DeviceRequest::parse(&request).expect("eid parses isomdl's DeviceRequest");
    assert_eq!(request.doc_requests[0].items_request.doc_type, DOC_TYPE);
    let response =
        eid_mdoc::present::present(issued, &["age_over_21"], holder, session.transcript()).unwrap();
    let sealed = session.seal(&response).unwrap();
    reader.handle_response(&sealed)
}

/// A second-edition engagement (version "1.1", OriginInfos and ReaderAuthAllSupport), as
/// eid's `Engagement::second_edition` and some phones send it: isomdl 0.2.0 compares the
/// version with "1.0" and refuses it, where ISO/IEC 18013-5 lets a reader go on with an
/// unknown minor version. This is why eid's phone sends "1.0" unless asked; eid's desk reads
/// both. When a later isomdl reads it, this test fails and the phone can move to "1.1".
#[test]
fn isomdl_0_2_refuses_a_second_edition_engagement_that_eid_reads() {
    let e_device = AgreementKey::generate().unwrap();
    let capabilities = eid_mdoc::engagement::Capabilities {
        reader_auth_all: true,
        ..Default::default()
    };
    let engagement =
        DeviceEngagement::encode_1_1(e_device.public_point(), None, &[], capabilities).unwrap();
    let qr = DeviceEngagement::qr_uri(&engagement);
    let read = DeviceEngagement::from_qr_uri(&qr).unwrap();
    assert!(read.capabilities.reader_auth_all);
    let wanted = NonEmptyMap::new(
        NS.to_owned(),
        NonEmptyMap::new("age_over_21".to_owned(), false),
    );
    let refused = reader::SessionManager::establish_session(qr, wanted, registry(&[]))
        .err()
        .map(|e| format!("{e:?}"));
    assert!(
        refused
            .as_deref()
            // isomdl's Error::UnsupportedVersion, raised when the version is not "1.0".
            .is_some_and(|e| e.contains("Expected isomdl major version 1")),
        "isomdl now reads a 1.1 engagement, or refuses it otherwise: {refused:?}"
    );
}

fn certificate_errors(outcome: &ResponseAuthenticationOutcome) -> Vec<String> {
    outcome
        .errors
        .get("certificate_errors")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default()
}

#[test]
fn isomdl_reader_accepts_an_eid_response_with_the_certificates_checked() {
    let pki = pki();
    let holder = SigningKey::generate().unwrap();
    let issued = issue(&pki.ds_key, &pki.ds_der, &holder);

    let outcome = isomdl_reader_reads(
        &issued,
        &holder,
        registry(&[(&pki.iaca_der, TrustPurpose::Iaca)]),
    );
    assert!(
        outcome.errors.is_empty(),
        "isomdl's reader: {:?}",
        outcome.errors
    );
    assert_eq!(outcome.issuer_authentication, AuthenticationStatus::Valid);
    assert_eq!(outcome.device_authentication, AuthenticationStatus::Valid);
    assert_eq!(outcome.response[NS]["age_over_21"], serde_json::json!(true));
}

#[test]
fn isomdl_reader_refuses_an_eid_response_under_another_iaca() {
    let pki = pki();
    let other = self::pki();
    let holder = SigningKey::generate().unwrap();
    let issued = issue(&pki.ds_key, &pki.ds_der, &holder);

    let outcome = isomdl_reader_reads(
        &issued,
        &holder,
        registry(&[(&other.iaca_der, TrustPurpose::Iaca)]),
    );
    assert_eq!(outcome.issuer_authentication, AuthenticationStatus::Invalid);
    assert_eq!(
        certificate_errors(&outcome),
        ["IACA certificate error: no valid trust anchor found"]
    );
    // The device signature is still fine: only the certificate check refused.
    assert_eq!(outcome.device_authentication, AuthenticationStatus::Valid);

    // The IACA as a reader CA instead of an IACA is no trust anchor for a DS either.
    let outcome = isomdl_reader_reads(
        &issued,
        &holder,
        registry(&[(&pki.iaca_der, TrustPurpose::ReaderCa)]),
    );
    assert_eq!(outcome.issuer_authentication, AuthenticationStatus::Invalid);
}

/// How eid made its certificates before issue 16: key identifiers the truncated SHA-256 of
/// the whole SubjectPublicKeyInfo (rcgen's default), and a critical basicConstraints
/// `CA:FALSE` on leaves. Kept here only to show that isomdl's check refuses them.
mod old_profile {
    use rcgen::{
        BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DnType, IsCa,
        KeyPair, KeyUsagePurpose,
    };

    fn params(cn: &str, days: i64) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CountryName, "CN");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.not_before = super::now() - time::Duration::days(1);
        params.not_after = params.not_before + time::Duration::days(days);
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec!["https://eid.example.cn/old/iaca.crl".into()],
        }];
        // issuerAltName: GeneralNames { uniformResourceIdentifier "https://x" }.
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[2, 5, 29, 18],
                vec![
                    0x30, 0x0b, 0x86, 0x09, b'h', b't', b't', b'p', b's', b':', b'/', b'/', b'x',
                ],
            ));
        params
    }

    fn eku(last: u8) -> CustomExtension {
        let mut eku = CustomExtension::from_oid_content(
            &[2, 5, 29, 37],
            vec![
                0x30, 0x09, 0x06, 0x07, 0x28, 0x81, 0x8C, 0x5D, 0x05, 0x01, last,
            ],
        );
        eku.set_criticality(true);
        eku
    }

    fn key_pair(key: &eid_crypto::SigningKey) -> KeyPair {
        KeyPair::try_from(key.to_pkcs8_der().unwrap().as_slice()).unwrap()
    }

    /// An IACA and a DS for `ds_key`, the old way: (IACA DER, DS DER).
    pub fn chain(ds_key: &eid_crypto::SigningKey) -> (Vec<u8>, Vec<u8>) {
        let iaca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut iaca = params("Old IACA", 3650);
        iaca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        iaca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let iaca_cert = iaca.self_signed(&iaca_key).unwrap();
        let issuer = rcgen::Issuer::new(iaca, iaca_key);
        let mut ds = params("Old DS", 365);
        ds.is_ca = IsCa::ExplicitNoCa;
        ds.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        ds.use_authority_key_identifier_extension = true;
        ds.custom_extensions.push(eku(2));
        let ds_cert = ds.signed_by(&key_pair(ds_key), &issuer).unwrap();
        (iaca_cert.der().to_vec(), ds_cert.der().to_vec())
    }

    /// A self-signed reader certificate for `key`, the old way.
    pub fn reader(key: &eid_crypto::SigningKey) -> Vec<u8> {
        let mut reader = params("Old reader", 365);
        reader.is_ca = IsCa::ExplicitNoCa;
        reader.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        reader.custom_extensions.push(eku(6));
        reader.self_signed(&key_pair(key)).unwrap().der().to_vec()
    }
}

#[test]
fn isomdl_reader_refuses_certificates_made_the_way_eid_made_them_before() {
    let ds_key = SigningKey::generate().unwrap();
    let (iaca_der, ds_der) = old_profile::chain(&ds_key);
    let holder = SigningKey::generate().unwrap();
    let issued = issue(&ds_key, &ds_der, &holder);

    let outcome = isomdl_reader_reads(
        &issued,
        &holder,
        registry(&[(&iaca_der, TrustPurpose::Iaca)]),
    );
    assert_eq!(outcome.issuer_authentication, AuthenticationStatus::Invalid);
    let errors = certificate_errors(&outcome);
    // What the outside tester saw (issue 16).
    for expected in [
        "DS certificate error: contains unknown critical extension: 2.5.29.19",
        "DS certificate error: SubjectKeyIdentifier: public key digest did not match the expected value",
        "IACA certificate error: SubjectKeyIdentifier: public key digest did not match the expected value",
    ] {
        assert!(
            errors.iter().any(|e| e == expected),
            "{expected:?} not in {errors:?}"
        );
    }
}

#[test]
fn isomdl_verifies_what_eid_issues_and_presents() {
    let pki = pki();
    let holder = SigningKey::generate().unwrap();
    let issued = issue(&pki.ds_key, &pki.ds_der, &holder);
    let theirs: isomdl::definitions::IssuerSigned =
        isomdl::cbor::from_slice(&issued).expect("isomdl parses eid's IssuerSigned");
    // The DS certificate and its chain, as `handle_response` checks them, then the signature.
    let anchors = registry(&[(&pki.iaca_der, TrustPurpose::Iaca)]);
    let validation = ValidationRuleset::Mdl.validate(&x5chain(&pki.ds_der), &anchors);
    assert!(validation.success(), "{:?}", validation.errors);
    issuer_authentication(x5chain(&pki.ds_der), &theirs)
        .expect("isomdl verifies eid's issuer signature");

    let st = transcript("nonce-1");
    let response = eid_mdoc::present::present(&issued, &["age_over_21"], &holder, &st).unwrap();
    let parsed: isomdl::definitions::DeviceResponse =
        isomdl::cbor::from_slice(&response).expect("isomdl parses eid's DeviceResponse");
    let doc = parsed.documents.as_ref().unwrap().first().unwrap().clone();
    issuer_authentication(x5chain(&pki.ds_der), &doc.issuer_signed).unwrap();
    device_authentication(&doc, their_transcript(&st))
        .expect("isomdl verifies eid's device signature");
    // And it notices another transcript.
    assert!(device_authentication(&doc, their_transcript(&transcript("nonce-2"))).is_err());
}

fn isomdl_mdoc(pki: &Pki, holder: &SigningKey) -> isomdl::issuance::Mdoc {
    // isomdl signs with the DS key eid's PKI certified.
    let ds_p256 = p256::ecdsa::SigningKey::from(
        p256::SecretKey::from_pkcs8_der(&pki.ds_key.to_pkcs8_der().unwrap()).unwrap(),
    );
    let point = holder.verifying_key().sec1();
    let device_key_info = DeviceKeyInfo {
        device_key: CoseKey::EC2 {
            crv: EC2Curve::P256,
            x: point[1..33].to_vec(),
            y: EC2Y::Value(point[33..].to_vec()),
        },
        key_authorizations: None,
        key_info: None,
    };
    let mut elements = BTreeMap::new();
    elements.insert(
        "family_name".to_owned(),
        ciborium::Value::Text("Wang".into()),
    );
    elements.insert("age_over_21".to_owned(), ciborium::Value::Bool(true));
    let mut namespaces = BTreeMap::new();
    namespaces.insert(NS.to_owned(), elements);
    let validity = ValidityInfo {
        signed: now() - Duration::minutes(1),
        valid_from: now() - Duration::minutes(1),
        valid_until: now() + Duration::days(30),
        expected_update: None,
    };
    isomdl::issuance::Mdoc::builder()
        .doc_type(DOC_TYPE.to_owned())
        .namespaces(namespaces)
        .validity_info(validity)
        .digest_algorithm(DigestAlgorithm::SHA256)
        .device_key_info(device_key_info)
        .issue::<p256::ecdsa::SigningKey, p256::ecdsa::Signature>(x5chain(&pki.ds_der), ds_p256)
        .unwrap()
}

#[test]
fn eid_verifies_what_isomdl_issues() {
    let pki = pki();
    let holder = SigningKey::generate().unwrap();
    let mdoc = isomdl_mdoc(&pki, &holder);
    let their_issuer_signed = isomdl::definitions::IssuerSigned {
        namespaces: Some(mdoc.namespaces),
        issuer_auth: mdoc.issuer_auth,
    };
    let bytes = isomdl::cbor::to_vec(&their_issuer_signed).unwrap();

    // eid verifies isomdl's credential: chain, signature, every digest, validity.
    let ours = IssuerSigned::from_cbor(&bytes).expect("eid parses isomdl's IssuerSigned");
    let v = eid_mdoc::verify_issuer_data(DOC_TYPE, &ours, &check(&pki))
        .expect("eid verifies isomdl's issuer data");
    assert_eq!(v.elements.len(), 2);
    assert_eq!(&v.device_key, holder.verifying_key());

    // eid's holder presents it; eid and isomdl both verify the presentation.
    let st = transcript("nonce-3");
    let response = eid_mdoc::present::present(&bytes, &["age_over_21"], &holder, &st).unwrap();
    let parsed = DeviceResponse::from_cbor(&response).unwrap();
    eid_mdoc::verify::verify_document(&parsed.documents[0], &check(&pki), &st, None).unwrap();
    let theirs: isomdl::definitions::DeviceResponse = isomdl::cbor::from_slice(&response).unwrap();
    let doc = theirs.documents.as_ref().unwrap().first().unwrap().clone();
    device_authentication(&doc, their_transcript(&st)).unwrap();
}

/// What an isomdl phone made of an eid reader's request.
struct PhoneSaw {
    outcome: RequestAuthenticationOutcome,
    reader_auth: ReaderAuthOutcome,
    reply: Vec<u8>,
    session: Session,
}

/// The in-person flow between an isomdl phone and an eid reader: isomdl's QR engagement,
/// eid's SessionEstablishment with an encrypted DeviceRequest (signed with `reader` when
/// given: key and certificate), isomdl's checks of it against `anchors`, its encrypted
/// SessionData with `age_over_21`.
fn isomdl_phone_reads(
    pki: &Pki,
    reader: Option<(&SigningKey, &[u8])>,
    anchors: TrustAnchorRegistry,
) -> PhoneSaw {
    isomdl_phone_reads_also(pki, reader, anchors, &[])
}

/// [`isomdl_phone_reads`], the request also asking for documents of the types `also`, the
/// same items each (as eid's desk asks for a credential held for someone else beside the
/// resident's own, where the purpose allows it): a phone answers with those it holds.
fn isomdl_phone_reads_also(
    pki: &Pki,
    reader: Option<(&SigningKey, &[u8])>,
    anchors: TrustAnchorRegistry,
    also: &[&str],
) -> PhoneSaw {
    let holder = SigningKey::generate().unwrap();
    let holder_p256 = p256::ecdsa::SigningKey::from(
        p256::SecretKey::from_pkcs8_der(&holder.to_pkcs8_der().unwrap()).unwrap(),
    );
    let documents = NonEmptyMap::new(
        DOC_TYPE.to_owned(),
        device::Document::from(isomdl_mdoc(pki, &holder)),
    );

    // The phone shows its QR code.
    let (engaged, qr) = device::SessionManagerInit::initialise(documents, None, None)
        .unwrap()
        .qr_engagement()
        .unwrap();

    // The eid reader reads it and sends its request, encrypted.
    let engagement = DeviceEngagement::from_qr_uri(&qr).expect("eid reads isomdl's engagement QR");
    let mut session = Session::for_reader(&engagement, None).unwrap();
    let transcript = session.transcript().to_vec();
    let items = ItemsRequest {
        doc_type: DOC_TYPE.into(),
        name_spaces: vec![(NS.into(), vec![("age_over_21".into(), false)])],
        request_info: vec![],
    };
    let chain;
    let signer = match reader {
        Some((key, der)) => {
            chain = [der.to_vec()];
            Some((key as &dyn Signer, &chain[..]))
        }
        None => None,
    };
    let mut asked = vec![items];
    for doc_type in also {
        let mut more = asked[0].clone();
        more.doc_type = (*doc_type).to_owned();
        asked.push(more);
    }
    let request = DeviceRequest::encode(&asked, signer, &transcript).unwrap();
    let establishment = session.establishment(&request).unwrap();

    // The phone decrypts it and checks the reader; the holder consents, the device key signs.
    let establishment: isomdl::definitions::SessionEstablishment =
        isomdl::cbor::from_slice(&establishment).expect("isomdl parses eid's SessionEstablishment");
    let (mut device_session, outcome) = engaged
        .process_session_establishment(establishment, anchors)
        .unwrap();
    // `process_session_establishment` logs the reader authentication errors and keeps only
    // Valid/Invalid; the same check, called on the request as sent, returns them.
    let their_request: isomdl::definitions::device_request::DeviceRequest =
        isomdl::cbor::from_slice(&request).unwrap();
    let reader_auth = device_session.reader_authentication(their_request.doc_requests[0].clone());
    let permitted: PermittedItems = [(
        DOC_TYPE.to_owned(),
        [(NS.to_owned(), vec!["age_over_21".to_owned()])]
            .into_iter()
            .collect(),
    )]
    .into_iter()
    .collect();
    device_session.prepare_response(&outcome.items_request, permitted);
    let (_, payload) = device_session.get_next_signature_payload().unwrap();
    let signature: p256::ecdsa::Signature = holder_p256.sign(payload);
    device_session
        .submit_next_signature(signature.to_vec())
        .unwrap();
    let reply = device_session.retrieve_response().unwrap();
    PhoneSaw {
        outcome,
        reader_auth,
        reply,
        session,
    }
}

/// The eid reader's side of [`PhoneSaw`]: the phone's SessionData opened (the DeviceResponse)
/// and the session's transcript, to verify it over.
fn eid_opens(session: &mut Session, reply: &[u8]) -> (DeviceResponse, Vec<u8>) {
    let transcript = session.transcript().to_vec();
    let response = session
        .open(reply)
        .expect("eid decrypts isomdl's SessionData")
        .unwrap();
    (DeviceResponse::from_cbor(&response).unwrap(), transcript)
}

#[test]
fn eid_reader_verifies_an_isomdl_device_presentation() {
    let pki = pki();
    let PhoneSaw {
        outcome,
        reply,
        mut session,
        ..
    } = isomdl_phone_reads(&pki, None, TrustAnchorRegistry::default());
    assert_eq!(outcome.reader_authentication, AuthenticationStatus::Invalid);

    // The eid reader decrypts and verifies the response over this session's transcript.
    let (response, transcript) = eid_opens(&mut session, &reply);
    let v =
        eid_mdoc::verify::verify_document(&response.documents[0], &check(&pki), &transcript, None)
            .expect("eid verifies isomdl's presentation");
    assert_eq!(
        v.issuer
            .elements
            .iter()
            .map(|(_, id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["age_over_21"]
    );
}

fn reader_certificate(key: &SigningKey) -> Vec<u8> {
    create_reader_certificate(
        &Subject {
            country: "CN".into(),
            state: None,
            organization: "Nanning Hotel".into(),
            common_name: "Nanning Hotel front desk".into(),
        },
        &CertificateTerms {
            not_before: now() - Duration::days(1),
            not_after: now() + Duration::days(364),
            issuer_alt_name_uri: "https://hotel.example.cn".into(),
            crl_uri: "https://hotel.example.cn/reader.crl".into(),
        },
        key,
        &OsRandom,
    )
    .unwrap()
    .0
}

/// eid pins each relying party's self-signed reader certificate in the trust list; an isomdl
/// phone trusts it the same way, as the reader CA anchor of its registry (isomdl's
/// `MdlReaderOneStep`: the Annex B reader profile, the anchor's subject, key identifier and
/// signature, validity).
#[test]
fn isomdl_phone_authenticates_an_eid_reader() {
    let pki = pki();
    let key = SigningKey::generate().unwrap();
    let cert = reader_certificate(&key);

    let saw = isomdl_phone_reads(
        &pki,
        Some((&key, &cert)),
        registry(&[(&cert, TrustPurpose::ReaderCa)]),
    );
    assert!(
        saw.reader_auth.errors.is_empty(),
        "{:?}",
        saw.reader_auth.errors
    );
    assert_eq!(
        saw.outcome.reader_authentication,
        AuthenticationStatus::Valid
    );
    assert_eq!(
        saw.outcome.common_name.as_deref(),
        Some("Nanning Hotel front desk")
    );

    // Not in the phone's registry (or only as an IACA): refused.
    for anchors in [
        TrustAnchorRegistry::default(),
        registry(&[(&cert, TrustPurpose::Iaca)]),
    ] {
        let saw = isomdl_phone_reads(&pki, Some((&key, &cert)), anchors);
        assert_eq!(
            saw.outcome.reader_authentication,
            AuthenticationStatus::Invalid
        );
        assert_eq!(
            saw.reader_auth.errors,
            ["Reader CA certificate error: no valid trust anchor found"]
        );
    }

    // Signed by another key than the certificate's: refused.
    let other = SigningKey::generate().unwrap();
    let saw = isomdl_phone_reads(
        &pki,
        Some((&other, &cert)),
        registry(&[(&cert, TrustPurpose::ReaderCa)]),
    );
    assert_eq!(
        saw.outcome.reader_authentication,
        AuthenticationStatus::Invalid
    );
}

/// eid's desk asks, where the purpose allows it, for the resident's own document and for one
/// held for someone else (a second DocRequest of another docType, asked alike): a phone of
/// another make holding only the first takes the request, authenticates the reader and
/// answers with what it holds, which the eid reader verifies.
#[test]
fn isomdl_phone_answers_a_request_that_also_asks_for_another_document_type() {
    let pki = pki();
    let key = SigningKey::generate().unwrap();
    let cert = reader_certificate(&key);
    let PhoneSaw {
        outcome,
        reply,
        mut session,
        ..
    } = isomdl_phone_reads_also(
        &pki,
        Some((&key, &cert)),
        registry(&[(&cert, TrustPurpose::ReaderCa)]),
        &[eid_mdoc::DOCTYPE_DELEGATED],
    );
    assert_eq!(outcome.reader_authentication, AuthenticationStatus::Valid);
    let (response, transcript) = eid_opens(&mut session, &reply);
    let documents: Vec<&str> = response
        .documents
        .iter()
        .map(|d| d.doc_type.as_str())
        .collect();
    assert_eq!(documents, [DOC_TYPE]);
    eid_mdoc::verify::verify_document(&response.documents[0], &check(&pki), &transcript, None)
        .expect("eid verifies isomdl's presentation");
}

#[test]
fn isomdl_phone_refuses_a_reader_certificate_made_the_old_way() {
    let pki = pki();
    let key = SigningKey::generate().unwrap();
    let cert = old_profile::reader(&key);
    let saw = isomdl_phone_reads(
        &pki,
        Some((&key, &cert)),
        registry(&[(&cert, TrustPurpose::ReaderCa)]),
    );
    assert_eq!(
        saw.outcome.reader_authentication,
        AuthenticationStatus::Invalid
    );
    for expected in [
        "Reader certificate error: contains unknown critical extension: 2.5.29.19",
        "Reader certificate error: SubjectKeyIdentifier: public key digest did not match the expected value",
        // No authorityKeyIdentifier: nothing ties it to the anchor.
        "Reader CA certificate error: no valid trust anchor found",
    ] {
        assert!(
            saw.reader_auth.errors.iter().any(|e| e == expected),
            "{expected:?} not in {:?}",
            saw.reader_auth.errors
        );
    }
}
