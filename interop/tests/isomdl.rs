//! eid ↔ isomdl 0.2.0 (SpruceID's ISO 18013-5), both directions, as far as isomdl's public
//! API reaches without its own BLE/QR session flow:
//! - isomdl parses what eid issues and presents and verifies the issuer signature and the
//!   device signature over the session transcript;
//! - eid verifies what isomdl issues (chain, signature, every digest, validity), and a
//!   presentation of it made by eid's holder, which isomdl verifies too.
//!
//! isomdl does not compare element digests: it is a format oracle, never the judge of what
//! must be rejected.

use eid_core::OsRandom;
use eid_crypto::x509::{AuthorityPki, TrustedIaca};
use eid_crypto::{Signer, SigningKey};
use eid_mdoc::issue::{ElementValue, IssueRequest};
use eid_mdoc::{DeviceResponse, IssuerDataCheck, IssuerSigned, IssuerTrust};
use isomdl::definitions::device_key::cose_key::{EC2Curve, EC2Y};
use isomdl::definitions::session::SessionTranscript;
use isomdl::definitions::x509::X5Chain;
use isomdl::definitions::{CoseKey, DeviceKeyInfo, DigestAlgorithm, ValidityInfo};
use isomdl::presentation::authentication::mdoc::{device_authentication, issuer_authentication};
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

fn now() -> OffsetDateTime {
    eid_core::Clock::now(&eid_core::SystemClock)
        .replace_nanosecond(0)
        .unwrap()
}

struct Pki {
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
    let AuthorityPki { ds_key, ds, .. } = pki;
    Pki {
        roots: vec![TrustedIaca::new(&pki.iaca.0, now()).unwrap()],
        ds_key,
        ds_der: ds.0,
    }
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

#[test]
fn isomdl_verifies_what_eid_issues_and_presents() {
    let pki = pki();
    let holder = SigningKey::generate().unwrap();
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
    let issued = eid_mdoc::issue::issue(
        &IssueRequest {
            doc_type: DOC_TYPE,
            name_spaces: &name_spaces,
            device_key: holder.verifying_key(),
            valid_from: now() - Duration::minutes(1),
            valid_until: now() + Duration::days(30),
            status: None,
            x5chain: std::slice::from_ref(&pki.ds_der),
        },
        &pki.ds_key,
        &OsRandom,
    )
    .unwrap();
    let theirs: isomdl::definitions::IssuerSigned =
        isomdl::cbor::from_slice(&issued).expect("isomdl parses eid's IssuerSigned");
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

#[test]
fn eid_verifies_what_isomdl_issues() {
    let pki = pki();
    let holder = SigningKey::generate().unwrap();
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
    let mut elements = std::collections::BTreeMap::new();
    elements.insert(
        "family_name".to_owned(),
        ciborium::Value::Text("Wang".into()),
    );
    elements.insert("age_over_21".to_owned(), ciborium::Value::Bool(true));
    let mut namespaces = std::collections::BTreeMap::new();
    namespaces.insert(NS.to_owned(), elements);
    let validity = ValidityInfo {
        signed: now() - Duration::minutes(1),
        valid_from: now() - Duration::minutes(1),
        valid_until: now() + Duration::days(30),
        expected_update: None,
    };
    let mdoc = isomdl::issuance::Mdoc::builder()
        .doc_type(DOC_TYPE.to_owned())
        .namespaces(namespaces)
        .validity_info(validity)
        .digest_algorithm(DigestAlgorithm::SHA256)
        .device_key_info(device_key_info)
        .issue::<p256::ecdsa::SigningKey, p256::ecdsa::Signature>(x5chain(&pki.ds_der), ds_p256)
        .unwrap();
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

/// The in-person flow between an isomdl phone and an eid reader: isomdl's QR engagement,
/// eid's SessionEstablishment with an encrypted DeviceRequest, isomdl's encrypted
/// SessionData, eid's decryption and verification of the DeviceResponse.
#[test]
fn eid_reader_verifies_an_isomdl_device_presentation() {
    use eid_mdoc::engagement::DeviceEngagement;
    use eid_mdoc::request::{DeviceRequest, ItemsRequest};
    use eid_mdoc::session::Session;
    use isomdl::definitions::x509::trust_anchor::TrustAnchorRegistry;
    use isomdl::presentation::device::{self, PermittedItems};
    use p256::ecdsa::signature::Signer as _;

    let pki = pki();
    let holder = SigningKey::generate().unwrap();
    let holder_p256 = p256::ecdsa::SigningKey::from(p256::SecretKey::from_pkcs8_der(&holder.to_pkcs8_der().unwrap()).unwrap());
    let ds_p256 = p256::ecdsa::SigningKey::from(p256::SecretKey::from_pkcs8_der(&pki.ds_key.to_pkcs8_der().unwrap()).unwrap());
    let point = holder.verifying_key().sec1();
    let mut elements = std::collections::BTreeMap::new();
    elements.insert("family_name".to_owned(), ciborium::Value::Text("Wang".into()));
    elements.insert("age_over_21".to_owned(), ciborium::Value::Bool(true));
    let mut namespaces = std::collections::BTreeMap::new();
    namespaces.insert(NS.to_owned(), elements);
    let mdoc = isomdl::issuance::Mdoc::builder()
        .doc_type(DOC_TYPE.to_owned())
        .namespaces(namespaces)
        .validity_info(ValidityInfo { signed: now() - Duration::minutes(1), valid_from: now() - Duration::minutes(1), valid_until: now() + Duration::days(30), expected_update: None })
        .digest_algorithm(DigestAlgorithm::SHA256)
        .device_key_info(DeviceKeyInfo {
            device_key: CoseKey::EC2 { crv: EC2Curve::P256, x: point[1..33].to_vec(), y: EC2Y::Value(point[33..].to_vec()) },
            key_authorizations: None,
            key_info: None,
        })
        .issue::<p256::ecdsa::SigningKey, p256::ecdsa::Signature>(x5chain(&pki.ds_der), ds_p256)
        .unwrap();
    let documents = isomdl::definitions::helpers::NonEmptyMap::new(DOC_TYPE.to_owned(), device::Document::from(mdoc));

    // The phone shows its QR code.
    let (engaged, qr) = device::SessionManagerInit::initialise(documents, None, None).unwrap().qr_engagement().unwrap();

    // The eid reader reads it and sends its request, encrypted.
    let engagement = DeviceEngagement::from_qr_uri(&qr).expect("eid reads isomdl's engagement QR");
    let mut session = Session::for_reader(&engagement, None).unwrap();
    let transcript = session.transcript().to_vec();
    let items = ItemsRequest { doc_type: DOC_TYPE.into(), name_spaces: vec![(NS.into(), vec![("age_over_21".into(), false)])], request_info: vec![] };
    let request = DeviceRequest::encode(&[items], None, &transcript).unwrap();
    let establishment = session.establishment(&request).unwrap();

    // The phone decrypts it, the holder consents, the device key signs.
    let establishment: isomdl::definitions::SessionEstablishment = isomdl::cbor::from_slice(&establishment).expect("isomdl parses eid's SessionEstablishment");
    let (mut device_session, outcome) = engaged.process_session_establishment(establishment, TrustAnchorRegistry::default()).unwrap();
    let permitted: PermittedItems = [(DOC_TYPE.to_owned(), [(NS.to_owned(), vec!["age_over_21".to_owned()])].into_iter().collect())].into_iter().collect();
    device_session.prepare_response(&outcome.items_request, permitted);
    let (_, payload) = device_session.get_next_signature_payload().unwrap();
    let signature: p256::ecdsa::Signature = holder_p256.sign(payload);
    device_session.submit_next_signature(signature.to_vec()).unwrap();
    let reply = device_session.retrieve_response().unwrap();

    // The eid reader decrypts and verifies the response over this session's transcript.
    let response = session.open(&reply).expect("eid decrypts isomdl's SessionData").unwrap();
    let response = DeviceResponse::from_cbor(&response).unwrap();
    let v = eid_mdoc::verify::verify_document(&response.documents[0], &check(&pki), &transcript, None).expect("eid verifies isomdl's presentation");
    assert_eq!(v.issuer.elements.iter().map(|(_, id, _)| id.as_str()).collect::<Vec<_>>(), ["age_over_21"]);
}
