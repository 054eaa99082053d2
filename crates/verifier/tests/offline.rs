//! The offline QR at a desk with only a scanner (the Nanning airport gate): the phone's
//! code, made from the compact credential Nanning issued, decided with the cached trust
//! and status lists — accepted, then refused for each thing a gate must catch.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

#[expect(dead_code, reason = "the shared world has more than these tests use")]
mod common;

use common::{IDX, NOW, STATUS_URI, World};
use eid_core::status::CredentialStatus;
use eid_crypto::Signer;
use eid_mdoc::issue::ElementValue;
use eid_mdoc::offline::{
    CompactCredential, CompactCredentialRequest, issue_compact, present_offline,
};
use eid_trust::Purpose;
use eid_verifier::{Channel, Check, Verifier};
use time::{Duration, OffsetDateTime};

const AIRPORT: &str = "nanning-airport";

/// Nanning's compact credential for `purpose`, bound to the world's device key.
fn compact(world: &World, purpose: Purpose, provider: &str) -> CompactCredential {
    let text = |s: &str| ElementValue::Text(s.into());
    let attributes = [
        ("family_name".to_owned(), text("韦")),
        ("given_name".to_owned(), text("小兰")),
        ("document_number".to_owned(), text("450103199003070024")),
        (
            "portrait".to_owned(),
            ElementValue::Bytes(vec![0xff, 0xd8, 0xff]),
        ),
    ];
    let bytes = issue_compact(
        &CompactCredentialRequest {
            purpose: purpose.as_str(),
            provider,
            attributes: &attributes,
            device_key: world.device_key.verifying_key(),
            issued_at: NOW - Duration::days(1),
            expires_at: NOW + Duration::days(90),
            status: Some(&eid_core::status::StatusListReference {
                idx: IDX,
                uri: STATUS_URI.into(),
            }),
        },
        &world.nanning.ds_key,
        world.nanning.ds_key.verifying_key(),
    )
    .unwrap();
    CompactCredential::from_cbor(&bytes).unwrap()
}

fn code(world: &World, credential: &CompactCredential, at: OffsetDateTime) -> Vec<u8> {
    present_offline(credential, &world.device_key, at).unwrap()
}

fn gate(world: &World) -> Verifier {
    world.verifier(AIRPORT)
}

fn check(verifier: &Verifier) -> Vec<String> {
    verifier.registered_attributes(Purpose::AirportSecurity)
}

fn scan(verifier: &Verifier, qr: &[u8]) -> eid_verifier::Report {
    let requested = check(verifier);
    verifier.verify_offline(
        qr,
        &Check {
            purpose: Purpose::AirportSecurity,
            requested: &requested,
            channel: Channel::OfflineQr,
            now: NOW,
        },
    )
}

#[test]
fn the_gate_accepts_a_fresh_code_with_the_portrait_digest() {
    let world = World::new();
    let verifier = gate(&world);
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let report = scan(
        &verifier,
        &code(&world, &credential, NOW - Duration::seconds(5)),
    );
    assert!(report.accepted, "{:?}", report.reasons);
    assert_eq!(report.channel, Channel::OfflineQr);
    assert_eq!(report.format, Some("eid_offline_qr"));
    assert_eq!(report.issuer.as_deref(), Some("cn-4501"));
    assert_eq!(report.wallet_provider.as_deref(), Some("superapp-a"));
    let names: Vec<_> = report.attributes.keys().cloned().collect();
    assert_eq!(
        names,
        [
            "document_number",
            "family_name",
            "given_name",
            "portrait_sha256"
        ]
    );
    use base64::Engine;
    assert_eq!(
        report.attributes["portrait_sha256"],
        base64::engine::general_purpose::STANDARD.encode(eid_crypto::sha256(&[0xff, 0xd8, 0xff]))
    );
}

/// The same code twice (a photo of the screen passed on) is refused; a fresh one passes.
#[test]
fn a_code_accepted_once_is_refused_the_second_time() {
    let world = World::new();
    let verifier = gate(&world);
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let qr = code(&world, &credential, NOW - Duration::seconds(5));
    assert!(scan(&verifier, &qr).accepted);
    assert_eq!(scan(&verifier, &qr).codes(), ["code_replayed"]);
    assert!(scan(&verifier, &code(&world, &credential, NOW)).accepted);
}

/// Two replicas of the airport's desk service sharing the replay memory in Redis: a code
/// accepted at one is refused at the other; a refused code is forgotten (it may be shown
/// again); a memory that does not answer refuses the code with its own reason.
#[test]
#[ignore = "needs Redis: EID_TEST_REDIS_URL (scripts/test starts one)"]
fn replicas_sharing_redis_refuse_a_code_accepted_at_the_other() {
    use eid_verifier::replay::RedisReplayMemory;
    let Some(url) = eid_core::testing::required_env("EID_TEST_REDIS_URL") else {
        return;
    };
    let world = World::new();
    // A relying party of its own per run, so that runs never see each other's codes.
    let party = format!("{AIRPORT}-{}", std::process::id());
    let replica =
        || gate(&world).with_replay_memory(Box::new(RedisReplayMemory::new(&url, &party).unwrap()));
    let (a, b) = (replica(), replica());
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let qr = code(&world, &credential, NOW - Duration::seconds(5));
    assert!(scan(&a, &qr).accepted);
    let replayed = scan(&b, &qr);
    assert_eq!(replayed.codes(), ["code_replayed"]);
    assert!(
        replayed.reasons[0].message.contains("0 s ago"),
        "{:?}",
        replayed.reasons
    );
    assert!(scan(&b, &code(&world, &credential, NOW)).accepted);
    // Kept twice the code's window: a replica whose clock is behind still finds it.
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("eid:replay:{party}:*"))
        .query(&mut redis)
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let ttl: i64 = redis::cmd("TTL").arg(&keys[0]).query(&mut redis).unwrap();
    assert!((120..=130).contains(&ttl), "{ttl}");

    // Refused for another reason (a provider the trust list does not know): forgotten, so
    // the same code is judged afresh at the other replica, not called a replay.
    let stranger = compact(&world, Purpose::AirportSecurity, "no-such-provider");
    let refused = code(&world, &stranger, NOW - Duration::seconds(5));
    let first = scan(&a, &refused);
    assert!(!first.accepted);
    assert_ne!(first.codes(), ["code_replayed"]);
    assert_eq!(scan(&b, &refused).codes(), first.codes());

    // Nothing listens: the code is refused, saying why.
    let deaf = gate(&world).with_replay_memory(Box::new(
        RedisReplayMemory::new("redis://127.0.0.1:1/", &party).unwrap(),
    ));
    let fresh = code(&world, &credential, NOW - Duration::seconds(1));
    assert_eq!(scan(&deaf, &fresh).codes(), ["replay_check_unavailable"]);
    // What a desk's /ready asks.
    assert!(deaf.replay_reachable().is_err());
    assert!(a.replay_reachable().is_ok());
    assert!(gate(&world).replay_reachable().is_ok());
}

/// A copier re-encoding the photographed code (the time's CBOR head made longer, which
/// still verifies: the device signs the values, not their encoding) is still the same code.
#[test]
fn a_re_encoded_copy_of_an_accepted_code_is_refused_too() {
    let world = World::new();
    let verifier = gate(&world);
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let qr = code(&world, &credential, NOW - Duration::seconds(5));
    let (version, bytes, at, auth) = {
        let mut d = minicbor::Decoder::new(&qr);
        d.array().unwrap();
        let version = d.u64().unwrap();
        let bytes = d.bytes().unwrap().to_vec();
        let at = d.u64().unwrap();
        let start = d.position();
        (version, bytes, at, qr[start..].to_vec())
    };
    let mut copy = Vec::new();
    let mut e = minicbor::Encoder::new(&mut copy);
    e.array(4)
        .unwrap()
        .u64(version)
        .unwrap()
        .bytes(&bytes)
        .unwrap();
    copy.push(0x1b); // an eight-byte head for a value that needs four
    copy.extend_from_slice(&at.to_be_bytes());
    copy.extend_from_slice(&auth);
    assert_ne!(copy, qr);
    assert!(scan(&verifier, &qr).accepted);
    assert_eq!(scan(&verifier, &copy).codes(), ["code_replayed"]);
}

#[test]
fn a_screenshot_older_than_a_minute_is_refused() {
    let world = World::new();
    let verifier = gate(&world);
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let report = scan(
        &verifier,
        &code(&world, &credential, NOW - Duration::seconds(61)),
    );
    assert_eq!(report.codes(), ["presentation_expired"]);
    assert!(report.attributes.is_empty());
}

/// A lost phone reported: the pushed suspension reaches the gate's cache, and the phone's
/// next code is refused — offline, from the cache.
#[test]
fn a_suspended_credential_is_refused_from_the_cache() {
    let world = World::new();
    let mut verifier = gate(&world);
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    assert!(
        scan(
            &verifier,
            &code(&world, &credential, NOW - Duration::seconds(5))
        )
        .accepted
    );
    assert!(
        verifier
            .statuses_mut()
            .apply_push(STATUS_URI, IDX, CredentialStatus::Suspended)
    );
    assert_eq!(
        scan(&verifier, &code(&world, &credential, NOW)).codes(),
        ["status_suspended"]
    );
}

/// Without a status list, or with one older than the purpose allows (15 minutes at an
/// airport), the gate cannot accept.
#[test]
fn no_status_or_a_stale_one_is_refused() {
    let world = World::new();
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let bare = Verifier::new(world.trust.clone(), AIRPORT, NOW);
    assert_eq!(
        scan(&bare, &code(&world, &credential, NOW)).codes(),
        ["status_undetermined"]
    );
    let mut stale = Verifier::new(world.trust.clone(), AIRPORT, NOW);
    stale
        .store_status_list(
            "cn-4501",
            STATUS_URI,
            &world.status_token(NOW - Duration::minutes(16)),
            NOW,
        )
        .unwrap();
    assert_eq!(
        scan(&stale, &code(&world, &credential, NOW)).codes(),
        ["status_too_old"]
    );
}

#[test]
fn a_code_for_another_purpose_or_a_suspended_provider_is_refused() {
    let world = World::new();
    let verifier = gate(&world);
    let rail = compact(&world, Purpose::RailTicketing, "superapp-a");
    assert_eq!(
        scan(&verifier, &code(&world, &rail, NOW)).codes(),
        ["purpose_mismatch"]
    );
    let breached = compact(&world, Purpose::AirportSecurity, "superapp-b");
    assert_eq!(
        scan(&verifier, &code(&world, &breached, NOW)).codes(),
        ["wallet_provider_suspended"]
    );
}

/// A trust list that does not list the issuer's offline key: the code cannot be checked.
#[test]
fn an_issuer_without_a_listed_offline_key_is_refused() {
    let world = World::new();
    let mut draft = world.draft.clone();
    eid_trust::edit::set_offline_keys(&mut draft, "cn-4501", Vec::new()).unwrap();
    let trust = World::sign(&world.root, &draft);
    let verifier = Verifier::new(trust, AIRPORT, NOW);
    let credential = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let report = scan(&verifier, &code(&world, &credential, NOW));
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0]
            .message
            .contains("trust list does not list"),
        "{}",
        report.reasons[0].message
    );
}

/// Nanning's printed code for `purpose`: what a counter prints for a resident without a
/// smartphone, bound to no device.
fn printed(world: &World, purpose: Purpose) -> Vec<u8> {
    let text = |s: &str| ElementValue::Text(s.into());
    let attributes = [
        ("family_name".to_owned(), text("韦")),
        ("given_name".to_owned(), text("小兰")),
        ("document_number".to_owned(), text("450103199003070024")),
    ];
    eid_mdoc::offline::issue_paper(
        &eid_mdoc::offline::PaperCodeRequest {
            purpose: purpose.as_str(),
            attributes: &attributes,
            issued_at: NOW - Duration::hours(2),
            expires_at: NOW + Duration::hours(22),
            status: Some(&eid_core::status::StatusListReference {
                idx: IDX,
                uri: STATUS_URI.into(),
            }),
        },
        &world.nanning.ds_key,
        world.nanning.ds_key.verifying_key(),
    )
    .unwrap()
}

/// The world's trust list with airport security accepting paper (and so requiring the
/// face match), or not.
fn paper_at_the_airport(world: &World, allowed: bool) -> Verifier {
    let (_, trust) = world.with_paper(Purpose::AirportSecurity, allowed);
    world.verifier_under(&trust, AIRPORT)
}

/// A printed code is accepted where the catalogue allows paper, again and again (the same
/// paper is shown at every desk: no replay memory), held by no wallet provider.
#[test]
fn the_gate_accepts_a_printed_code_each_time_it_is_shown() {
    let world = World::new();
    let verifier = paper_at_the_airport(&world, true);
    let paper = printed(&world, Purpose::AirportSecurity);
    for _ in 0..2 {
        let report = scan(&verifier, &paper);
        assert!(report.accepted, "{:?}", report.reasons);
        assert_eq!(report.format, Some("eid_paper_code"));
        assert_eq!(report.wallet_provider, None);
        assert_eq!(report.issuer.as_deref(), Some("cn-4501"));
        assert!(report.attributes.contains_key("document_number"));
    }
}

/// Where the trust list's catalogue does not allow paper, the printed code is refused for
/// that reason alone; a suspended one is refused from the cache.
#[test]
fn a_printed_code_is_refused_where_paper_is_not_allowed_or_when_suspended() {
    let world = World::new();
    let paper = printed(&world, Purpose::AirportSecurity);
    assert_eq!(
        scan(&paper_at_the_airport(&world, false), &paper).codes(),
        ["paper_not_allowed"]
    );
    // The world's own list waives the face match, and so allows no paper.
    assert_eq!(scan(&gate(&world), &paper).codes(), ["paper_not_allowed"]);
    let mut verifier = paper_at_the_airport(&world, true);
    assert!(
        verifier
            .statuses_mut()
            .apply_push(STATUS_URI, IDX, CredentialStatus::Suspended)
    );
    assert_eq!(scan(&verifier, &paper).codes(), ["status_suspended"]);
    // A phone's credential copied onto paper is not a printed code.
    let phone = compact(&world, Purpose::AirportSecurity, "superapp-a");
    let mut copied = vec![0x82, 0x02];
    minicbor::Encoder::new(&mut copied)
        .bytes(&phone.bytes)
        .unwrap();
    let report = scan(&verifier, &copied);
    assert_eq!(report.codes(), ["presentation_not_verified"]);
    assert!(
        report.reasons[0].message.contains("bound to a phone"),
        "{:?}",
        report.reasons
    );
}
