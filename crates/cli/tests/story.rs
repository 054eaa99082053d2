//! The whole story of issue 6, end to end on loopback, with the real face model: a resident
//! of Nanning enrols from her phone (the face against the registry portrait), checks in at a
//! Nanning hotel in person, passes airport security by offline QR (each desk matching her face
//! in front of it; someone else with her phone is refused for the face), opens a bank account
//! online (her photograph taken with the request, matched against the disclosed portrait); a Hangzhou hotel refuses the pilot credential until trust list version 2 widens
//! Nanning's scope to the nation; the phone is reported lost from her tablet's wallet (her
//! face again) and all three channels refuse, the online one within a second; an account takeover (another face) is refused; a new
//! phone enrols with her face and is accepted while the old phone's instances stay dead; the
//! new phone refreshes its batch, the lost one cannot; a bar asking beyond its purpose is
//! refused by the wallet.
//!
//! Real services over HTTP and TCP: the authority (public and admin listeners), one verifier
//! service per relying party following the authority's pushes, phones as the wallet library
//! with the HTTP the CLI uses. Needs the `face` feature and the models and fixtures of
//! `scripts/fetch-proofing-data` in `EID_PROOFING_DIR` (`.ci/run` sets both); skips, saying
//! so, without the directory.

#![cfg(feature = "face")]
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed unwrap or a panic is a failed test"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use base64::Engine;
use eid_authority::proofing::{FaceMatcher, RemoteProofing};
use eid_authority::{Authority, Settings, admin_router, public_router};
use eid_core::identity::Portrait;
use eid_core::region::Scope;
use eid_core::{FixedClock, OsRandom, ResidentCard};
use eid_crypto::{Signer, SigningKey};
use eid_http::{fetch, post_form, post_json};
use eid_oid4vc::KeyAttestation;
use eid_store::Store;
use eid_trust::edit::set_scope;
use eid_trust::model::ProviderState;
use eid_trust::{AcceptanceScope, Purpose, TrustList, VerifiedTrustList};
use eid_verifier::Verifier;
use eid_verifier::service::{Service, ServiceConfig, keep_fresh, router};
use eid_wallet::enrolment::{Enrolment, Received, accept};
use eid_wallet::in_person::{Engagement, RequestRefused};
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
const ADMIN: &str = "admin-token-of-the-story";
/// Her live capture at remote enrolment: `obama3.jpg` facing the camera, then `obama2.jpg`,
/// the same man turned to his right (two photographs standing in for a capture's frames).
const HER_CAPTURE: [&str; 2] = ["obama3.jpg", "obama2.jpg"];

struct Reader {
    key: Arc<SigningKey>,
    certificate: Vec<u8>,
}

fn reader(name: &str) -> Reader {
    let eid_testing::Reader { key, certificate } = eid_testing::reader(name, NOW);
    Reader {
        key: Arc::new(key),
        certificate,
    }
}

/// A phone: its wallet instance at super-app A, one device key.
struct Phone {
    device: SigningKey,
    mdoc: Vec<u8>,
    airport: Vec<u8>,
}

struct Story {
    dir: PathBuf,
    root: SigningKey,
    draft: TrustList,
    trust: VerifiedTrustList,
    provider: SigningKey,
    resident: ResidentCard,
    authority: String,
    hotel: String,
    hangzhou: String,
    gate: String,
    bank: String,
    bar: String,
    store: Store,
}

/// The authority's status list shards are small in this story (the ¾ rule unchanged), and
/// shard 0 is filled to its threshold before the resident enrols: her credentials land on
/// shard 1, which every channel must follow.
const SHARD_SIZE: u64 = 1024;

async fn listen() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

fn fixture(dir: &std::path::Path, name: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(dir.join("fixtures").join(name)).unwrap())
}

impl Story {
    async fn begin(dir: PathBuf) -> Self {
        let nanning = eid_testing::nanning(NOW);
        let provider = SigningKey::generate().unwrap();
        let readers = eid_testing::PILOT_READERS.map(|(id, name, ..)| (id, reader(name)));
        // The pilot: Nanning's credentials in Guangxi only.
        let mut draft = eid_testing::pilot(
            &nanning,
            readers.each_ref().map(|(_, r)| &r.certificate[..]),
            NOW,
        );
        eid_testing::list_provider(
            &mut draft,
            "superapp-a",
            Some(&provider),
            ProviderState::Active,
        );
        let root = SigningKey::generate().unwrap();
        let (_, trust) = eid_testing::sign_trust_list(&draft, &root, NOW);
        let signed = trust.list().clone();

        // The registry, with our resident's portrait.
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let mut resident = eid_testing::residents(20, NOW.date()).remove(0);
        resident.portrait = Some(
            Portrait::from_jpeg(std::fs::read(dir.join("fixtures/obama.jpg")).unwrap()).unwrap(),
        );
        store
            .import_residents(std::slice::from_ref(&resident), NOW)
            .await
            .unwrap();
        for n in 0..SHARD_SIZE * 3 / 4 / 16 {
            let id = format!("filler-{n}");
            store
                .record_credential(
                    &eid_store::NewCredential {
                        id: &id,
                        id_number: &eid_testing::number(999),
                        provider: "superapp-a",
                        wallet_instance: "filler-phone",
                        configuration: "filler",
                        delegation: None,
                        issued_at: NOW.unix_timestamp(),
                        expires_at: NOW.unix_timestamp() + 86_400,
                    },
                    16,
                    SHARD_SIZE,
                    &OsRandom,
                )
                .await
                .unwrap();
        }

        // The authority, with face matching.
        let (public, authority_url) = listen().await;
        let (admin_listener, _) = listen().await;
        let ds_key = SigningKey::from_pkcs8_der(&nanning.ds_key.to_pkcs8_der().unwrap()).unwrap();
        let proofing =
            RemoteProofing::new(FaceMatcher::load(&dir.join("models"), 0.6).unwrap(), false)
                .unwrap();
        let mut settings = Settings::new(&authority_url, ADMIN, [7; 32]);
        settings.shard_size = SHARD_SIZE;
        let authority = Arc::new(
            Authority::new(
                settings,
                store.clone(),
                eid_authority::DocumentSigners::one(Arc::new(ds_key), vec![nanning.ds.0.clone()])
                    .unwrap(),
                trust.clone(),
                Arc::new(FixedClock(NOW)),
                Arc::new(OsRandom),
            )
            .with_remote_proofing(proofing),
        );
        tokio::spawn(axum::serve(public, public_router(authority.clone())).into_future());
        tokio::spawn(axum::serve(admin_listener, admin_router(authority)).into_future());

        // One verifier service per relying party, following the authority, each comparing
        // the face at its desk with the same model.
        let desk_model: Arc<dyn eid_face::CompareFaces> =
            Arc::new(FaceMatcher::load(&dir.join("models"), 0.6).unwrap());
        let mut urls = Vec::new();
        let identities = readers
            .iter()
            .map(|(id, r)| {
                (
                    *id,
                    Some((r.key.clone() as Arc<dyn Signer>, r.certificate.clone())),
                )
            })
            .chain([("nanning-airport", None)]);
        for (id, identity) in identities {
            let (listener, base) = listen().await;
            let service = Service::new(
                Verifier::new(trust.clone(), id, NOW),
                ServiceConfig {
                    public_url: base.clone(),
                    trust_roots: vec![root.verifying_key().clone()],
                    status_lists: Vec::new(),
                    status_shards: vec![format!("{authority_url}/status/")],
                    events: vec![format!("{authority_url}/events")],
                    identity,
                    request_lifetime: Duration::minutes(5),
                    face: Some(desk_model.clone()),
                },
                Arc::new(FixedClock(NOW)),
                Arc::new(OsRandom),
            );
            tokio::spawn(keep_fresh(service.clone()));
            tokio::spawn(axum::serve(listener, router(service)).into_future());
            urls.push(base);
        }
        let [hotel, hangzhou, bar, bank, gate] = <[String; 5]>::try_from(urls).unwrap();
        Self {
            dir,
            root,
            draft: signed,
            trust,
            provider,
            resident,
            authority: authority_url,
            hotel,
            hangzhou,
            gate,
            bank,
            bar,
            store,
        }
    }

    /// Until every verifier service holds the authority's status list.
    async fn wait_for_lists(&self, shard: u64) {
        let uri = format!("{}/status/{shard}", self.authority);
        for service in [
            &self.hotel,
            &self.hangzhou,
            &self.gate,
            &self.bank,
            &self.bar,
        ] {
            for attempt in 0.. {
                let health: Value = serde_json::from_slice(
                    &fetch(&format!("{service}/health"), "application/json")
                        .await
                        .unwrap(),
                )
                .unwrap();
                if health["status_lists"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|held| held["uri"] == uri.as_str()))
                {
                    break;
                }
                assert!(attempt < 100, "{service} never fetched the status list");
                tokio::time::sleep(StdDuration::from_millis(50)).await;
            }
        }
    }

    /// A key proof of `instance`'s `device` key with a fresh nonce and its attestation.
    async fn wallet_proof(&self, instance: &str, device: &SigningKey) -> String {
        let nonce: Value = serde_json::from_slice(
            &post_form(&format!("{}/nonce", self.authority), String::new())
                .await
                .unwrap(),
        )
        .unwrap();
        eid_oid4vc::proof::key_proof(
            device,
            &self.authority,
            nonce["c_nonce"].as_str().unwrap(),
            NOW,
            Some(&self.attestation(instance, device)),
        )
        .unwrap()
    }

    /// POSTs `body` to the authority's `path`: the offer and its code, or the refusal.
    async fn offer(&self, path: &str, body: String) -> Result<(String, String), String> {
        match post_json(&format!("{}{path}", self.authority), None, body).await {
            Ok(made) => {
                let made: Value = serde_json::from_slice(&made).unwrap();
                Ok((
                    made["offer_uri"].as_str().unwrap().to_owned(),
                    made["tx_code"].as_str().unwrap().to_owned(),
                ))
            }
            Err(eid_http::HttpError::Status(_, body)) => Err(body),
            Err(e) => panic!("{e}"),
        }
    }

    /// Remote enrolment from `instance` with the live capture `face` (facing, turned to the
    /// right): the offer and its code, or the authority's refusal (its `error` code).
    async fn enrol(
        &self,
        instance: &str,
        device: &SigningKey,
        [facing, turned]: [&str; 2],
    ) -> Result<(String, String), String> {
        let front = fixture(&self.dir, "obama3.jpg");
        let body = json!({
            "id_number": self.resident.id_number.expose(),
            "full_name": self.resident.full_name,
            "card_front": front,
            "card_back": front,
            "face": fixture(&self.dir, facing),
            "face_turned": fixture(&self.dir, turned),
            "turn": "right",
            "wallet_proof": self.wallet_proof(instance, device).await,
        });
        self.offer("/enrolment", body.to_string()).await
    }

    /// A refresh from `instance`: a new offer, or the authority's refusal.
    async fn refresh(
        &self,
        instance: &str,
        device: &SigningKey,
    ) -> Result<(String, String), String> {
        let proof = self.wallet_proof(instance, device).await;
        let body = eid_oid4vc::eid::RefreshRequest {
            wallet_proof: proof,
        };
        self.offer("/refresh", serde_json::to_string(&body).unwrap())
            .await
    }

    fn attestation(&self, instance: &str, device: &SigningKey) -> String {
        KeyAttestation {
            provider: "superapp-a",
            wallet_instance: instance,
            keys: std::slice::from_ref(device.verifying_key()),
            key_storage: &["iso_18045_high"],
            user_authentication: &["iso_18045_high"],
            issued_at: NOW,
            expires_at: NOW + Duration::hours(1),
        }
        .sign(&self.provider)
        .unwrap()
    }

    /// Redeems the offer over OpenID4VCI: the phone with its mdoc and airport code credential.
    async fn redeem(
        &self,
        instance: &'static str,
        device: SigningKey,
        offer: &str,
        tx_code: &str,
    ) -> Phone {
        let enrolment = Enrolment::from_offer(offer).unwrap();
        let (issuer_url, server_url) = enrolment.metadata_urls();
        let (endpoints, metadata) = enrolment
            .endpoints(
                &fetch(&issuer_url, "application/json").await.unwrap(),
                &fetch(&server_url, "application/json").await.unwrap(),
            )
            .unwrap();
        let token: Value = serde_json::from_slice(
            &post_form(&endpoints.token, enrolment.token_form(tx_code))
                .await
                .unwrap(),
        )
        .unwrap();
        let attestation = self.attestation(instance, &device);
        let get = async |configuration: &str| {
            let nonce: Value =
                serde_json::from_slice(&post_form(&endpoints.nonce, String::new()).await.unwrap())
                    .unwrap();
            let request = enrolment
                .credential_request(
                    configuration,
                    &[&device],
                    nonce["c_nonce"].as_str().unwrap(),
                    &attestation,
                    NOW,
                )
                .unwrap();
            let response = post_json(
                &endpoints.credential,
                token["access_token"].as_str(),
                request,
            )
            .await
            .unwrap();
            let format = &metadata.credential_configurations_supported[configuration].format;
            accept(
                format,
                &response,
                std::slice::from_ref(device.verifying_key()),
            )
            .unwrap()
            .remove(0)
            .received
        };
        let Received::Mdoc(mdoc) = get(eid_authority::credential::CONFIG_MDOC).await else {
            panic!("not an mdoc");
        };
        let Received::Compact(airport) = get(&eid_authority::credential::offline_configuration(
            Purpose::AirportSecurity,
        ))
        .await
        else {
            panic!("not a compact credential");
        };
        Phone {
            device,
            mdoc,
            airport,
        }
    }
}

/// In person: the phone listens with its engagement QR, the desk's service connects and asks
/// (`attributes`, or its registration); the report, and what the phone made of the request.
async fn in_person(
    desk: &str,
    phone: &Phone,
    trust: &VerifiedTrustList,
    purpose: Purpose,
    attributes: Option<&[&str]>,
    face: Option<&str>,
) -> (Value, Result<(), RequestRefused>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let engagement = Engagement::new(Some(&listener.local_addr().unwrap().to_string())).unwrap();
    let uri = engagement.qr_uri();
    let (mdoc, device, trust) = (
        phone.mdoc.clone(),
        SigningKey::from_pkcs8_der(&phone.device.to_pkcs8_der().unwrap()).unwrap(),
        trust.clone(),
    );
    let phone_side = std::thread::spawn(move || {
        use eid_mdoc::transport::{Framed, Transport};
        let (stream, _) = listener.accept().unwrap();
        let mut transport = Framed(stream);
        let establishment = transport.receive().unwrap();
        match engagement.receive(&establishment, &trust, NOW) {
            Ok(pending) => {
                transport
                    .send(&pending.respond(&mdoc, &device).unwrap())
                    .unwrap();
                Ok(())
            }
            Err(refused) => {
                transport.send(&eid_wallet::in_person::refusal()).unwrap();
                Err(refused)
            }
        }
    });
    let mut body = json!({"engagement": uri, "purpose": purpose.as_str()});
    if let Some(attributes) = attributes {
        body["attributes"] = json!(attributes);
    }
    if let Some(face) = face {
        body["face"] = json!(face);
    }
    let report = post_json(&format!("{desk}/verify/in-person"), None, body.to_string())
        .await
        .unwrap();
    (
        serde_json::from_slice(&report).unwrap(),
        tokio::task::spawn_blocking(move || phone_side.join().unwrap())
            .await
            .unwrap(),
    )
}

/// The airport gate scans the phone's fresh offline code, its camera on `face` (base64).
async fn offline(gate: &str, phone: &Phone, face: &str) -> Value {
    let credential = eid_mdoc::offline::CompactCredential::from_cbor(&phone.airport).unwrap();
    let code = eid_mdoc::offline::present_offline(&credential, &phone.device, NOW).unwrap();
    let body = json!({"code": eid_crypto::b64url(&code), "face": face});
    serde_json::from_slice(
        &post_json(
            &format!("{gate}/verify/offline?purpose=airport_security"),
            None,
            body.to_string(),
        )
        .await
        .unwrap(),
    )
    .unwrap()
}

/// The bank's website asks online, with its camera's photograph of the customer (`face`,
/// base64) if one is taken; the phone answers with its mdoc.
async fn online(bank: &str, phone: &Phone, trust: &VerifiedTrustList, face: Option<&str>) -> Value {
    let mut asked = json!({"purpose": "bank_account_opening"});
    if let Some(face) = face {
        asked["face"] = json!(face);
    }
    let started: Value = serde_json::from_slice(
        &post_json(&format!("{bank}/vp/requests"), None, asked.to_string())
            .await
            .unwrap(),
    )
    .unwrap();
    let (client_id, request_uri) =
        eid_oid4vc::vp::parse_invocation(started["invocation"].as_str().unwrap()).unwrap();
    let request_object = fetch(&request_uri, "application/oauth-authz-req+jwt")
        .await
        .unwrap();
    let pending = eid_wallet::online::receive(
        &client_id,
        std::str::from_utf8(&request_object).unwrap(),
        trust,
        NOW,
    )
    .unwrap();
    let answer = pending
        .respond(
            eid_wallet::online::Held::Mdoc(&phone.mdoc),
            &phone.device,
            &OsRandom,
            NOW,
        )
        .unwrap();
    post_form(&answer.response_uri, answer.body).await.unwrap();
    let outcome: Value = serde_json::from_slice(
        &fetch(
            &format!("{bank}{}", started["result"].as_str().unwrap()),
            "application/json",
        )
        .await
        .unwrap(),
    )
    .unwrap();
    outcome["report"].clone()
}

fn reasons(report: &Value) -> Vec<String> {
    report["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_story_from_enrolment_to_a_new_phone() {
    let Some(dir) = eid_core::testing::required_env("EID_PROOFING_DIR").map(PathBuf::from) else {
        return;
    };
    let story = Story::begin(dir).await;

    // 1. Enrolment from the phone: her face against the registry portrait.
    let device = SigningKey::generate().unwrap();
    let (offer, code) = story.enrol("phone-1", &device, HER_CAPTURE).await.unwrap();
    let phone = story.redeem("phone-1", device, &offer, &code).await;
    // Shard 0 was full: her credentials are all on shard 1, which the authority opened
    // (empty) when shard 0 passed half, and which every service follows.
    let held = story
        .store
        .credentials_of(&story.resident.id_number)
        .await
        .unwrap();
    let hers: Vec<_> = held
        .iter()
        .filter(|c| c.wallet_instance == "phone-1")
        .flat_map(|c| c.instances.iter().map(|&(shard, _)| shard))
        .collect();
    assert!(
        !hers.is_empty() && hers.iter().all(|&shard| shard == 1),
        "{hers:?}"
    );
    story.wait_for_lists(1).await;

    // At every desk that compares faces, her face in front of it: another photograph of her
    // than the registry's.
    let her_face = fixture(&story.dir, "obama2.jpg");

    // 2. Nanning hotel, in person.
    let (report, _) = in_person(
        &story.hotel,
        &phone,
        &story.trust,
        Purpose::HotelCheckIn,
        None,
        Some(&her_face),
    )
    .await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["channel"], "in_person");
    assert_eq!(report["presence"]["matched"], true, "{report}");
    //    Someone else at the hotel desk with her phone is refused for the face.
    let (report, _) = in_person(
        &story.hotel,
        &phone,
        &story.trust,
        Purpose::HotelCheckIn,
        None,
        Some(&fixture(&story.dir, "biden.jpg")),
    )
    .await;
    assert_eq!(reasons(&report), ["face_mismatch"], "{report}");
    assert_eq!(report["presence"]["matched"], false, "{report}");
    // 3. Airport security, offline QR: her face matches the code's template; someone else
    //    holding her phone is refused for the face.
    let report = offline(&story.gate, &phone, &her_face).await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["presence"]["matched"], true, "{report}");
    let report = offline(&story.gate, &phone, &fixture(&story.dir, "biden.jpg")).await;
    assert_eq!(reasons(&report), ["face_mismatch"], "{report}");
    assert_eq!(report["presence"]["matched"], false, "{report}");
    // 4. A bank account, online.
    let report = online(&story.bank, &phone, &story.trust, Some(&her_face)).await;
    assert_eq!(report["accepted"], true, "{report}");
    assert_eq!(report["presence"]["matched"], true, "{report}");
    assert_eq!(
        report["attributes"]["document_number"],
        story.resident.id_number.expose()
    );

    // 5. A Hangzhou hotel refuses the pilot city's credential...
    let (report, _) = in_person(
        &story.hangzhou,
        &phone,
        &story.trust,
        Purpose::HotelCheckIn,
        None,
        Some(&her_face),
    )
    .await;
    assert_eq!(reasons(&report), ["issuer_not_authorised"], "{report}");
    // 6. ...until trust list version 2 authorises Nanning nationally: same credential.
    let mut v2 = story.draft.clone();
    set_scope(
        &mut v2,
        "cn-4501",
        AcceptanceScope {
            region: Scope::Nation,
            purposes: Purpose::ALL.to_vec(),
            valid_from: NOW - Duration::days(30),
            valid_until: None,
        },
        false,
    )
    .unwrap();
    let (v2_jws, _) = eid_trust::signed::sign(&v2, &story.root, NOW, Duration::days(7)).unwrap();
    let trust_v2 = VerifiedTrustList::read(
        &v2_jws,
        &[story.root.verifying_key().clone()],
        NOW,
        Some(&story.trust),
    )
    .unwrap();
    let put = http_put(&format!("{}/trust-list", story.hangzhou), v2_jws.clone()).await;
    assert_eq!(put["trust_list_version"], 2, "{put}");
    let (report, _) = in_person(
        &story.hangzhou,
        &phone,
        &trust_v2,
        Purpose::HotelCheckIn,
        None,
        Some(&her_face),
    )
    .await;
    assert_eq!(report["accepted"], true, "{report}");

    // 7. The phone is lost: she reports it from her tablet's wallet (the face again); every
    //    channel refuses, the online verifier within a second of the authority taking the
    //    report.
    let tablet = SigningKey::generate().unwrap();
    let proof = story.wallet_proof("tablet-1", &tablet).await;
    let read = |name| std::fs::read(story.dir.join("fixtures").join(name)).unwrap();
    let (facing, turned) = (read(HER_CAPTURE[0]), read(HER_CAPTURE[1]));
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let body = serde_json::to_string(&eid_oid4vc::eid::LostReport {
        id_number: story.resident.id_number.expose().to_owned(),
        full_name: story.resident.full_name.clone(),
        face: b64(&facing),
        face_turned: b64(&turned),
        turn: "right".into(),
        wallet_proof: proof,
        moving: false,
    })
    .unwrap();
    let taken: Value = serde_json::from_slice(
        &post_json(&format!("{}/lost", story.authority), None, body)
            .await
            .unwrap(),
    )
    .unwrap();
    let reported = tokio::time::Instant::now();
    assert_eq!(taken["wallets_suspended"], 1, "{taken}");
    loop {
        // No photograph here: the status is what is timed (refused for it before any face).
        let report = online(&story.bank, &phone, &story.trust, None).await;
        if reasons(&report) == ["status_suspended"] {
            break;
        }
        assert!(
            reported.elapsed() < StdDuration::from_secs(1),
            "the bank still accepted a second after the report: {report}"
        );
    }
    let report = offline(&story.gate, &phone, &her_face).await;
    assert_eq!(reasons(&report), ["status_suspended"], "{report}");
    let (report, _) = in_person(
        &story.hotel,
        &phone,
        &story.trust,
        Purpose::HotelCheckIn,
        None,
        Some(&her_face),
    )
    .await;
    assert_eq!(reasons(&report), ["status_suspended"], "{report}");

    // 8. Account takeover: another person enrols her identity from their wallet: the face
    //    does not match.
    let thief = SigningKey::generate().unwrap();
    let refused = story
        .enrol("thief-phone", &thief, ["biden.jpg", "obama2.jpg"])
        .await
        .unwrap_err();
    assert!(refused.contains("face_mismatch"), "{refused}");

    // 9. A new phone: enrolled with her face, accepted; the old phone's instances stay dead.
    let device = SigningKey::generate().unwrap();
    let (offer, code) = story.enrol("phone-2", &device, HER_CAPTURE).await.unwrap();
    let new_phone = story.redeem("phone-2", device, &offer, &code).await;
    // The services learn of the new entries with their next list.
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    for _ in 0..100 {
        let report = online(&story.bank, &new_phone, &story.trust, Some(&her_face)).await;
        if report["accepted"] == true {
            break;
        }
        assert_eq!(reasons(&report), ["status_undetermined"], "{report}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let report = online(&story.bank, &new_phone, &story.trust, Some(&her_face)).await;
    assert_eq!(report["accepted"], true, "{report}");
    let report = offline(&story.gate, &new_phone, &her_face).await;
    assert_eq!(report["accepted"], true, "{report}");
    let report = online(&story.bank, &phone, &story.trust, Some(&her_face)).await;
    assert_eq!(reasons(&report), ["status_suspended"], "{report}");

    // 9b. Before expiry the new phone asks for a new batch (no new proofing) and gets it;
    //     the lost phone cannot.
    let refreshed = {
        let (offer, code) = story.refresh("phone-2", &new_phone.device).await.unwrap();
        let device = SigningKey::from_pkcs8_der(&new_phone.device.to_pkcs8_der().unwrap()).unwrap();
        story.redeem("phone-2", device, &offer, &code).await
    };
    let report = online(&story.bank, &refreshed, &story.trust, Some(&her_face)).await;
    assert_eq!(report["accepted"], true, "{report}");
    let refused = story.refresh("phone-1", &phone.device).await.unwrap_err();
    assert!(refused.contains("no_valid_credentials"), "{refused}");

    // 10. A bar asking beyond its age check: the wallet refuses before the holder is asked.
    let (report, phone_said) = in_person(
        &story.bar,
        &new_phone,
        &story.trust,
        Purpose::AgeCheck,
        Some(&["age_over_18", "document_number"]),
        None,
    )
    .await;
    assert!(
        matches!(
            phone_said,
            Err(RequestRefused::BeyondPurpose { ref attribute, .. }) if attribute == "document_number"
        ),
        "{phone_said:?}"
    );
    assert_eq!(report["accepted"], false, "{report}");
}

/// `PUT` of a body, as an operator does (the verifier service's trust list).
async fn http_put(url: &str, body: String) -> Value {
    call("PUT", url, body).await
}

async fn call(method: &str, url: &str, body: String) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).unwrap()
}
