//! Pairwise pseudonyms between the phone and a relying party: the bank, registered for a
//! pseudonym, asks for its own; the phone gives that one and never another relying party's
//! (it refuses a request for one); the bank reads it as `pseudonym`, the same in both
//! formats, and refuses an answer carrying another relying party's. Each pseudonym travels
//! sealed to its relying party's key: the bank opens its own; one it cannot open is refused.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use common::{IDX, NOW, STATUS_URI, World};
use eid_core::OsRandom;
use eid_core::region::RegionCode;
use std::sync::LazyLock;

use eid_crypto::hpke::HpkeRecipient;
use eid_crypto::{Signer, SigningKey, b64url, pseudonym};
use eid_mdoc::issue::ElementValue;
use eid_oid4vc::vp::{parse_invocation, sign_request};
use eid_sdjwt::{Jws, KeyBinding};
use eid_trust::edit::{add_relying_party, set_pseudonym_key};
use eid_trust::{PSEUDONYM, Purpose, VerifiedTrustList, pseudonym_item};
use eid_verifier::openid4vp::{OnlineRequest, OnlineTerms};
use eid_verifier::{Channel, Check, Verifier};
use eid_wallet::in_person::RequestRefused;
use eid_wallet::online::{Held, receive};
use serde_json::Value;
use time::Duration;

const BANK: &str = "nanning-bank";
/// The other relying party with a pseudonym: the bar's reader, registered for welfare.
const OTHER: &str = "nanning-bar";

/// The keys the bank's and the other party's pseudonyms are sealed to.
static KEYS: LazyLock<[(&str, SigningKey); 2]> =
    LazyLock::new(|| [BANK, OTHER].map(|rp| (rp, SigningKey::generate().unwrap())));

/// `relying_party`'s pseudonym key: its private half, as its desks hold it.
fn recipient(relying_party: &str) -> HpkeRecipient {
    let (_, key) = KEYS.iter().find(|(rp, _)| *rp == relying_party).unwrap();
    HpkeRecipient::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap()
}

/// The bank's verifier under `trust`, with its pseudonym key.
fn bank(world: &World, trust: &VerifiedTrustList) -> Verifier {
    world
        .verifier_under(trust, BANK)
        .with_pseudonym_key(recipient(BANK))
}

/// `pseudonym` sealed for `relying_party` to `to`'s key, as the credential carries it.
fn sealed(to: &str, relying_party: &str, pseudonym: &[u8]) -> Vec<u8> {
    pseudonym::seal_to(recipient(to).public_point(), relying_party, pseudonym).unwrap()
}

/// The world's trust list with the bank and the other relying party registered for a
/// pseudonym, each with its key.
fn with_pseudonyms(world: &World) -> VerifiedTrustList {
    world
        .next_trust_list(|draft| {
            let region = RegionCode::parse("450102").unwrap();
            let bank_attributes = ["family_name", "document_number", PSEUDONYM];
            for (id, purpose, attributes, reader) in [
                (
                    BANK,
                    Purpose::BankAccountOpening,
                    &bank_attributes[..],
                    &world.bank,
                ),
                (OTHER, Purpose::Welfare, &[PSEUDONYM][..], &world.bar),
            ] {
                add_relying_party(
                    draft,
                    id,
                    id,
                    region,
                    &[(
                        purpose,
                        Some(attributes.iter().map(|a| (*a).to_owned()).collect()),
                    )],
                    Some(&reader.certificate),
                    true,
                )
                .unwrap();
            }
            for (id, key) in KEYS.iter() {
                set_pseudonym_key(draft, id, key.verifying_key().to_jwk()).unwrap();
            }
        })
        .1
}

/// Her pseudonym for `relying_party`, as an authority makes it.
fn her_pseudonym(relying_party: &str) -> Vec<u8> {
    pseudonym::pseudonym(&[7; 32], relying_party, b"17digits").unwrap()
}

/// Her credentials in both formats, with her pseudonyms for the bank and the other party,
/// each sealed to its party.
fn credentials(world: &World) -> (Vec<u8>, String) {
    let items = [BANK, OTHER].map(|rp| {
        let value = sealed(rp, rp, &her_pseudonym(rp));
        (
            pseudonym_item(rp),
            ElementValue::Bytes(value.clone()),
            Value::from(b64url(&value)),
        )
    });
    credentials_with(world, &items)
}

/// Her credentials in both formats with `items`: name, mdoc value, SD-JWT VC value.
fn credentials_with(world: &World, items: &[(String, ElementValue, Value)]) -> (Vec<u8>, String) {
    let mut name_spaces = eid_testing::her_name_spaces("superapp-a", &[0xff, 0xd8, 0xff]);
    name_spaces[0].1.extend(
        items
            .iter()
            .map(|(item, value, _)| (item.clone(), value.clone())),
    );
    let mdoc = World::issue_name_spaces(
        &world.nanning,
        &world.device_key,
        eid_core::status::StatusListReference {
            idx: IDX,
            uri: STATUS_URI.into(),
        },
        std::slice::from_ref(&world.nanning.ds.0),
        &name_spaces,
    );
    let mut claims = eid_testing::her_claims("superapp-a");
    for (item, _, value) in items {
        claims.insert(item.clone(), value.clone());
    }
    (mdoc, world.sd_jwt_with(&claims))
}

/// The bank's online request answered by the phone holding `held`: what the holder was asked
/// for, and the bank's report.
fn bank_online(
    world: &World,
    trust: &VerifiedTrustList,
    verifier: &Verifier,
    held: Held<'_>,
) -> (Vec<String>, eid_verifier::Report) {
    let made = request(verifier, world);
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    let pending = receive(&client_id, &made.request_object, trust, NOW).unwrap();
    let asked = pending.consent.attributes.clone();
    let answer = pending
        .respond(held, &world.device_key, &OsRandom, NOW)
        .unwrap();
    let response = url::form_urlencoded::parse(answer.body.as_bytes())
        .find(|(k, _)| k == "response")
        .unwrap()
        .1
        .into_owned();
    (asked, verifier.verify_online(&made.session, &response, NOW))
}

fn request(verifier: &Verifier, world: &World) -> OnlineRequest {
    verifier
        .online_request(
            &OnlineTerms {
                purpose: Purpose::BankAccountOpening,
                attributes: None,
                intent_to_retain: true,
                signer: &world.bank.key,
                certificate: &world.bank.certificate,
                request_base: "https://bank.example/vp/request",
                response_uri: "https://bank.example/vp/response",
                lifetime: Duration::minutes(5),
            },
            NOW,
            &OsRandom,
        )
        .unwrap()
}

#[test]
fn the_bank_receives_its_own_pseudonym_in_either_format_and_no_other() {
    let world = World::new();
    let trust = with_pseudonyms(&world);
    let verifier = bank(&world, &trust);
    let (mdoc, sd_jwt) = credentials(&world);
    let bank = b64url(&her_pseudonym(BANK));
    for held in [Held::Mdoc(&mdoc), Held::SdJwt(&sd_jwt)] {
        let (asked, report) = bank_online(&world, &trust, &verifier, held);
        // The holder is asked for the bank's pseudonym, by its item.
        assert!(asked.contains(&pseudonym_item(BANK)), "{asked:?}");
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(
            report.attributes[PSEUDONYM],
            bank.as_str(),
            "{:?}",
            report.format
        );
        assert!(
            !report
                .attributes
                .keys()
                .any(|k| k.starts_with("pseudonym:")),
            "{:?}",
            report.attributes
        );
    }
}

#[test]
fn the_phone_refuses_a_request_for_another_relying_partys_pseudonym() {
    let world = World::new();
    let trust = with_pseudonyms(&world);
    let verifier = bank(&world, &trust);
    let made = request(&verifier, &world);
    // The bank asks, signed with its own certificate, for the other party's pseudonym.
    let jws = Jws::parse(&made.request_object).unwrap();
    let mut object: eid_oid4vc::vp::AuthorizationRequest =
        serde_json::from_value(Value::Object(jws.payload().clone())).unwrap();
    object.dcql_query = eid_oid4vc::vp::DcqlQuery::resident_identity(
        &["family_name".to_owned(), pseudonym_item(OTHER)],
        false,
        false,
    );
    let greedy = sign_request(&object, &world.bank.key, &world.bank.certificate).unwrap();
    let (client_id, _) = parse_invocation(&made.invocation).unwrap();
    assert!(matches!(
        receive(&client_id, &greedy, &trust, NOW).unwrap_err(),
        RequestRefused::BeyondPurpose { attribute, .. } if attribute == pseudonym_item(OTHER)
    ));
}

#[test]
fn the_bank_refuses_an_answer_carrying_another_relying_partys_pseudonym() {
    let world = World::new();
    let trust = with_pseudonyms(&world);
    let verifier = bank(&world, &trust);
    let (_, sd_jwt) = credentials(&world);
    let requested = ["family_name".to_owned(), PSEUDONYM.to_owned()];
    let check = Check {
        purpose: Purpose::BankAccountOpening,
        requested: &requested,
        channel: Channel::Online,
        now: NOW,
    };
    let present = |item: &str| {
        eid_sdjwt::present(
            &sd_jwt,
            &["family_name", item],
            Some(&KeyBinding {
                signer: &world.device_key,
                audience: "x509_hash:bank",
                nonce: "n-1",
                issued_at: NOW,
            }),
        )
        .unwrap()
    };
    let own = verifier.verify_sd_jwt(
        &present(&pseudonym_item(BANK)),
        "x509_hash:bank",
        "n-1",
        &check,
    );
    assert!(own.accepted, "{:?}", own.reasons);
    // A wallet that gives the other party's instead: refused, nothing of it kept.
    let other = verifier.verify_sd_jwt(
        &present(&pseudonym_item(OTHER)),
        "x509_hash:bank",
        "n-1",
        &check,
    );
    assert_eq!(
        other.codes(),
        ["attribute_disclosed_beyond_purpose"],
        "{:?}",
        other.reasons
    );
    assert!(other.attributes.is_empty());
}

/// At the bank's counter, in person (ISO 18013-5 over TCP): its request names its own
/// pseudonym's item, the phone gives it, the desk reads it as `pseudonym`.
#[test]
fn the_bank_counter_receives_its_own_pseudonym_in_person() {
    use eid_mdoc::engagement::DeviceEngagement;
    use eid_mdoc::transport::{Framed, Transport};
    use eid_verifier::in_person::{ReaderIdentity, present_in_person};
    use eid_wallet::in_person::Engagement;
    use std::net::{TcpListener, TcpStream};

    let world = World::new();
    let trust = with_pseudonyms(&world);
    let verifier = bank(&world, &trust);
    let (mdoc, _) = credentials(&world);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let engagement = Engagement::new(Some(&address)).unwrap();
    let qr = engagement.qr_uri();
    let asked = ["family_name".to_owned(), PSEUDONYM.to_owned()];
    let (report, consent) = std::thread::scope(|s| {
        let phone = s.spawn(|| {
            let (stream, _) = listener.accept().unwrap();
            let mut transport = Framed(stream);
            let establishment = transport.receive().unwrap();
            let pending = engagement.receive(&establishment, &trust, NOW).unwrap();
            let consent = pending.consent.clone();
            let answer = pending.respond(&mdoc, &world.device_key).unwrap();
            transport.send(&answer).unwrap();
            consent
        });
        let read = DeviceEngagement::from_qr_uri(&qr).unwrap();
        let stream = TcpStream::connect(read.tcp_address.as_deref().unwrap()).unwrap();
        let report = present_in_person(
            &mut Framed(stream),
            &read,
            &ReaderIdentity {
                signer: &world.bank.key,
                certificate: &world.bank.certificate,
                relying_party: BANK,
            },
            &verifier,
            Purpose::BankAccountOpening,
            &asked,
            || NOW,
        );
        (report, phone.join().unwrap())
    });
    assert_eq!(
        consent.attributes,
        ["family_name".to_owned(), pseudonym_item(BANK)]
    );
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(
        report.attributes[PSEUDONYM],
        b64url(&her_pseudonym(BANK)).as_str()
    );
}

/// A pseudonym that is not what eid's authorities make (a 24-byte pseudonym sealed to this
/// relying party: a bstr in the mdoc, base64url in the SD-JWT VC) is no pseudonym: refused,
/// in either format, naming why, and nothing of it kept — as is a sealed one at a desk
/// without the key to open it.
#[test]
fn a_pseudonym_that_does_not_open_is_refused_in_either_format() {
    let world = World::new();
    let trust = with_pseudonyms(&world);
    let verifier = bank(&world, &trust);
    let value = her_pseudonym(BANK);
    let good = sealed(BANK, BANK, &value);
    let cases: [(&str, ElementValue, Vec<u8>); 5] = [
        // The bytes as text in the mdoc; a byte short in the SD-JWT VC.
        (
            "not a byte string",
            ElementValue::Text(b64url(&good)),
            good[1..].to_vec(),
        ),
        // The pseudonym itself, unsealed.
        (
            "not a pseudonym sealed",
            ElementValue::Bytes(value.clone()),
            value.clone(),
        ),
        // Sealed to the other party's key; sealed for the other party's id.
        (
            "not a pseudonym sealed",
            ElementValue::Bytes(sealed(OTHER, BANK, &value)),
            sealed(OTHER, BANK, &value),
        ),
        (
            "not a pseudonym sealed",
            ElementValue::Bytes(sealed(BANK, OTHER, &value)),
            sealed(BANK, OTHER, &value),
        ),
        // Sealed right, but what is inside is not 24 bytes.
        (
            "not a pseudonym sealed",
            ElementValue::Bytes(sealed(BANK, BANK, &value[1..])),
            sealed(BANK, BANK, &value[1..]),
        ),
    ];
    for (why, mdoc_value, sd_jwt_value) in cases {
        let (mdoc, sd_jwt) = credentials_with(
            &world,
            &[(
                pseudonym_item(BANK),
                mdoc_value,
                Value::from(b64url(&sd_jwt_value)),
            )],
        );
        // The SD-JWT VC's value is base64url in every case: cut short, it does not open.
        let sd_jwt_why = why.replace("not a byte string", "not a pseudonym sealed");
        for (held, why) in [
            (Held::Mdoc(&mdoc), why),
            (Held::SdJwt(&sd_jwt), &*sd_jwt_why),
        ] {
            let (_, report) = bank_online(&world, &trust, &verifier, held);
            assert_eq!(
                report.codes(),
                ["attribute_disclosed_beyond_purpose"],
                "{why}: {:?}",
                report.reasons
            );
            let said = format!("{:?}", report.reasons);
            assert!(said.contains(why), "{why}: {said}");
            assert!(!report.attributes.contains_key(PSEUDONYM));
        }
    }
    // A desk without the key refuses a good one, and says it has no key.
    let keyless = world.verifier_under(&trust, BANK);
    let (mdoc, sd_jwt) = credentials(&world);
    for held in [Held::Mdoc(&mdoc), Held::SdJwt(&sd_jwt)] {
        let (_, report) = bank_online(&world, &trust, &keyless, held);
        assert_eq!(report.codes(), ["attribute_disclosed_beyond_purpose"]);
        assert!(
            format!("{:?}", report.reasons).contains("no pseudonym key"),
            "{:?}",
            report.reasons
        );
    }
}

/// The desk says when its key does not fit the trust list: none for a relying party the
/// list gives one, another than the list's, or one the list does not have.
#[test]
fn the_desk_says_when_its_pseudonym_key_does_not_fit_the_trust_list() {
    let world = World::new();
    let trust = with_pseudonyms(&world);
    assert_eq!(bank(&world, &trust).pseudonym_key_problem(), None);
    let problem = |verifier: Verifier| verifier.pseudonym_key_problem().unwrap_or("none");
    assert!(problem(world.verifier_under(&trust, BANK)).contains("this desk has none"));
    assert!(
        problem(
            world
                .verifier_under(&trust, BANK)
                .with_pseudonym_key(recipient(OTHER))
        )
        .contains("is not the one the trust list registers")
    );
    // The world's own list registers no key for the bank.
    assert!(
        problem(
            world
                .verifier_under(&world.trust, BANK)
                .with_pseudonym_key(recipient(BANK))
        )
        .contains("the trust list registers none")
    );
    assert_eq!(
        world
            .verifier_under(&world.trust, BANK)
            .pseudonym_key_problem(),
        None
    );
}
