//! Remote enrolment with the real face model (dlib) on the public-domain fixtures of the
//! face_recognition 1.3.0 sdist, and with OCR of a card front when the `ocr` feature is on.
//! Needs the files `scripts/fetch-proofing-data` fetches, in `EID_PROOFING_DIR` (`.ci/run`
//! sets it and fetches them); skips, saying so, when that variable is not set.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_authority::proofing::{FaceMatcher, RemoteProofing};
use eid_core::ResidentCard;
use eid_core::identity::Portrait;
use eid_oid4vc::offer::CredentialOffer;
use eid_store::CredentialState;
use serde_json::{Value, json};

use crate::common::*;

fn proofing_dir() -> Option<PathBuf> {
    eid_core::testing::required_env("EID_PROOFING_DIR").map(PathBuf::from)
}

fn fixture(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join("fixtures").join(name))
        .expect("a fixture of scripts/fetch-proofing-data in EID_PROOFING_DIR")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A card front as a photograph would show it: the name and the number in a CJK font
/// (ImageMagick with fonts-wqy-zenhei, which `.ci/run` installs).
fn card_front(card: &ResidentCard, number: &str) -> Vec<u8> {
    if !cfg!(feature = "ocr") {
        // Without OCR the front is not read; any image will do.
        return fixture(&proofing_dir().unwrap(), "obama3.jpg");
    }
    let out = std::env::temp_dir().join(format!("eid-card-{}-{number}.jpg", std::process::id()));
    let status = std::process::Command::new("convert")
        .args([
            "-size",
            "1000x630",
            "xc:white",
            "-font",
            "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
            "-fill",
            "black",
            "-pointsize",
            "46",
            "-annotate",
            "+60+120",
            &format!("姓名  {}", card.full_name),
            "-annotate",
            "+60+220",
            "性别  民族",
            "-annotate",
            "+60+520",
            &format!("公民身份号码  {number}"),
        ])
        .arg(&out)
        .status()
        .expect("ImageMagick's convert (apt-get install imagemagick fonts-wqy-zenhei)");
    assert!(status.success());
    let bytes = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    bytes
}

async fn world_with_portraits(dir: &Path) -> World {
    let world = World::new("sqlite::memory:").await;
    // Resident 20's registry portrait is obama.jpg; resident 21 has none.
    let mut card = world.residents[20].clone();
    card.portrait = Some(Portrait::from_jpeg(fixture(dir, "obama.jpg")).unwrap());
    world
        .authority
        .store()
        .import_residents(&[card], NOW)
        .await
        .unwrap();
    let face = FaceMatcher::load(&dir.join("models"), 0.6).unwrap();
    let proofing = RemoteProofing::new(face, cfg!(feature = "ocr")).unwrap();
    world
        .map_authority(|a| a.with_remote_proofing(proofing))
        .await
}

struct Application<'a> {
    card: &'a ResidentCard,
    name: String,
    front: Vec<u8>,
    /// The capture facing the camera; then `turned`, the head turned to the `turn`.
    face: Vec<u8>,
    turned: Vec<u8>,
    turn: &'static str,
    phone: &'a Phone,
}

/// Her live capture from the fixtures: `obama3.jpg` facing the camera, then `obama2.jpg`, the
/// same man turned to his right (two photographs standing in for one capture's frames).
fn her_capture(dir: &Path) -> (Vec<u8>, Vec<u8>, &'static str) {
    (
        fixture(dir, "obama3.jpg"),
        fixture(dir, "obama2.jpg"),
        "right",
    )
}

/// The wallet's proof for enrolment: a key proof with a fresh nonce and the attestation.
async fn wallet_proof(world: &World, phone: &Phone) -> String {
    let nonce = nonce(world).await;
    let attestation = phone.attestation(world);
    eid_oid4vc::proof::key_proof(&phone.keys[0], ISSUER, &nonce, NOW, Some(&attestation)).unwrap()
}

async fn apply(world: &World, app: &Application<'_>) -> (StatusCode, Value) {
    let proof = wallet_proof(world, app.phone).await;
    send(
        &world.public,
        Request::post("/enrolment")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({
                    "id_number": app.card.id_number.expose(),
                    "full_name": app.name,
                    "card_front": b64(&app.front),
                    "card_back": b64(&app.front),
                    "face": b64(&app.face),
                    "face_turned": b64(&app.turned),
                    "turn": app.turn,
                    "wallet_proof": proof,
                })
                .to_string(),
            ))
            .unwrap(),
    )
    .await
}

#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn remote_enrolment_matches_the_face_and_reads_the_card() {
    let Some(dir) = proofing_dir() else {
        return;
    };
    let world = world_with_portraits(&dir).await;
    let card = world.residents[20].clone();
    let number = card.id_number.expose().to_owned();
    let phone = Phone::new("wechat", "remote-phone-1", 2);
    let (face, turned, turn) = her_capture(&dir);
    let good = Application {
        card: &card,
        name: card.full_name.clone(),
        front: card_front(&card, &number),
        face,
        turned,
        turn,
        phone: &phone,
    };

    // The same person in another photograph: accepted, and the offer works.
    let (status, body) = apply(&world, &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = body["history_secret"]
        .as_str()
        .expect("a history secret")
        .to_owned();
    let offer = CredentialOffer::from_uri(body["offer_uri"].as_str().unwrap()).unwrap();
    // The offer is bound to the proofed wallet: another wallet holding it gets nothing.
    let (status, token) = send(
        &world.public,
        form_post(
            "/token",
            &[
                ("grant_type", eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE),
                (
                    "pre-authorized_code",
                    &offer.grants.pre_authorized_code.code,
                ),
                ("tx_code", body["tx_code"].as_str().unwrap()),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let access = token["access_token"].as_str().unwrap();
    let thief = Phone::new("alipay", "thief-phone", 2);
    let (status, refused) = request_credential(&world, access, CONFIG_SD_JWT, &thief).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("credential_request_denied"))
    );
    let (status, issued) = request_credential(&world, access, CONFIG_SD_JWT, &phone).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["credentials"].as_array().unwrap().len(), 2);
    // Proofed by face, the wallet gets her history secret: 32 bytes, the same from another
    // wallet of hers (it finds and opens the one backup), never one at the counter.
    assert_eq!(eid_crypto::b64url_decode(&secret).unwrap().len(), 32);
    let tablet = Phone::new("alipay", "remote-tablet", 2);
    let (status, again) = apply(
        &world,
        &Application {
            phone: &tablet,
            ..copy(&good)
        },
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["history_secret"], secret);
    let (status, counter) = send(
        &world.admin,
        admin_post(
            "/admin/enrolments",
            json!({
                "id_number": number,
                "full_name": card.full_name,
                "officer": "officer-7",
            }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{counter}");
    assert!(counter.get("history_secret").is_none(), "{counter}");

    // Another person's face: refused.
    let (status, body) = apply(
        &world,
        &Application {
            face: fixture(&dir, "biden.jpg"),
            ..copy(&good)
        },
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("face_mismatch")),
        "{body}"
    );
    // Not a face at all.
    let (_, body) = apply(
        &world,
        &Application {
            face: b"not an image".to_vec(),
            ..copy(&good)
        },
    )
    .await;
    assert_eq!(body["error"], "face_capture_unusable", "{body}");
    // The registry's checks run first: a wrong name.
    let (_, body) = apply(
        &world,
        &Application {
            name: "某某某".into(),
            ..copy(&good)
        },
    )
    .await;
    assert_eq!(body["error"], "name_mismatch");
    // No registry portrait to compare with.
    let other = world.residents[21].clone();
    let (_, body) = apply(
        &world,
        &Application {
            card: &other,
            name: other.full_name.clone(),
            ..copy(&good)
        },
    )
    .await;
    assert_eq!(body["error"], "no_registry_portrait");
    // A card photograph showing another number (read by OCR).
    if cfg!(feature = "ocr") {
        let mut wrong = number.clone();
        wrong.replace_range(6..10, "1960");
        let (_, body) = apply(
            &world,
            &Application {
                front: card_front(&card, &wrong),
                ..copy(&good)
            },
        )
        .await;
        assert_eq!(body["error"], "card_text_mismatch", "{body}");
    }
    // A wallet whose provider is not in the trust list.
    let rogue = Phone::new("wechat", "remote-phone-2", 1);
    let mut request = json!({
        "id_number": number, "full_name": card.full_name, "card_front": b64(&good.front),
        "card_back": b64(&good.front), "face": b64(&good.face),
        "face_turned": b64(&good.turned), "turn": good.turn,
    });
    let fresh = nonce(&world).await;
    let forged = eid_oid4vc::proof::KeyAttestation {
        provider: "wechat",
        wallet_instance: "remote-phone-2",
        keys: &rogue.public_keys(),
        key_storage: &["iso_18045_high"],
        user_authentication: &[],
        issued_at: NOW,
        expires_at: NOW + time::Duration::hours(1),
    }
    .sign(&rogue.keys[0])
    .unwrap();
    request["wallet_proof"] = json!(
        eid_oid4vc::proof::key_proof(&rogue.keys[0], ISSUER, &fresh, NOW, Some(&forged)).unwrap()
    );
    let (_, body) = send(
        &world.public,
        Request::post("/enrolment")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(request.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(body["error"], "wallet_not_attested");

    // Five failures of this wallet within the hour (four without OCR, plus one more): then
    // it is refused even with the right face.
    if !cfg!(feature = "ocr") {
        let (_, body) = apply(
            &world,
            &Application {
                face: fixture(&dir, "biden.jpg"),
                ..copy(&good)
            },
        )
        .await;
        assert_eq!(body["error"], "face_mismatch");
    }
    let (status, _) = apply(&world, &good).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// The liveness challenge at remote enrolment, each way of failing it alone (the rest of the
/// application is hers): asked to turn left while the capture turned right, the same
/// photograph twice (a still picture held up), the turned picture first (not facing the
/// camera): `face_not_live`, saying what was wrong; a `turn` that is neither way, or no
/// turned capture: 400 before anything is checked. Her capture as asked: accepted.
#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn remote_enrolment_refuses_a_face_that_does_not_turn_as_asked() {
    let Some(dir) = proofing_dir() else {
        return;
    };
    let world = world_with_portraits(&dir).await;
    let card = world.residents[20].clone();
    let phone = Phone::new("wechat", "remote-phone-3", 2);
    let (face, turned, turn) = her_capture(&dir);
    let good = Application {
        card: &card,
        name: card.full_name.clone(),
        front: card_front(&card, card.id_number.expose()),
        face,
        turned,
        turn,
        phone: &phone,
    };
    let not_live = [
        (
            Application {
                turn: "left",
                ..copy(&good)
            },
            "the head turned the other way, not to the person's left",
        ),
        (
            Application {
                turned: good.face.clone(),
                ..copy(&good)
            },
            "the head did not turn far enough to the person's right",
        ),
        (
            Application {
                face: good.turned.clone(),
                turned: good.face.clone(),
                turn: "left",
                ..copy(&good)
            },
            "does not look straight at the camera",
        ),
    ];
    for (app, says) in &not_live {
        let (status, body) = apply(&world, app).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("face_not_live")),
            "{body}"
        );
        let message = body["error_description"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    let (status, body) = apply(
        &world,
        &Application {
            turn: "up",
            ..copy(&good)
        },
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("turn must be")
    );
    let (status, body) = send(
        &world.public,
        Request::post("/enrolment")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({
                    "id_number": card.id_number.expose(), "full_name": card.full_name,
                    "card_front": b64(&good.front), "card_back": b64(&good.front),
                    "face": b64(&good.face), "wallet_proof": wallet_proof(&world, &phone).await,
                })
                .to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = apply(&world, &good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A report from `phone` (`POST /lost`): her identity and live capture, a lost phone or,
/// with `moving`, a move to `phone`.
async fn report(
    world: &World,
    card: &ResidentCard,
    (face, turned, turn): &(Vec<u8>, Vec<u8>, &str),
    phone: &Phone,
    moving: bool,
) -> (StatusCode, Value) {
    let mut body = json!({
        "id_number": card.id_number.expose(),
        "full_name": card.full_name,
        "face": b64(face),
        "face_turned": b64(turned),
        "turn": turn,
        "wallet_proof": wallet_proof(world, phone).await,
    });
    if moving {
        body["move"] = json!(true);
    }
    send(
        &world.public,
        Request::post("/lost")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

/// Counter enrolment of `card` into `phone`, both formats.
async fn issue_to(world: &World, card: &ResidentCard, phone: &Phone) {
    let (offer, tx_code) = enrol(world, card).await;
    obtain(
        world,
        &offer,
        &tx_code,
        phone,
        &[CONFIG_MDOC, CONFIG_SD_JWT],
    )
    .await;
}

/// The state of every credential of `card` in each wallet instance that holds one.
async fn states(world: &World, card: &ResidentCard) -> Vec<(String, CredentialState)> {
    let mut out: Vec<(String, CredentialState)> = world
        .authority
        .store()
        .credentials_of(&card.id_number)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.wallet_instance, c.state))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup();
    out
}

/// A lost report suspends the holder's other wallets (reversible: a resident-wide reinstate
/// brings them back); a move revokes them for good, and only from a wallet that holds her
/// valid credentials itself; a resident-wide reinstate after the move does not bring the
/// old phone back, and the old phone cannot redeem an offer made before the move.
#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn a_move_revokes_the_old_phones_for_good_and_a_lost_report_only_suspends() {
    use CredentialState::{Invalid, Suspended, Valid};
    let Some(dir) = proofing_dir() else {
        return;
    };
    let world = world_with_portraits(&dir).await;
    let card = world.residents[20].clone();
    let face = her_capture(&dir);
    let old = Phone::new("wechat", "old-phone", 2);
    let tablet = Phone::new("wechat", "tablet", 2);
    let new = Phone::new("alipay", "new-phone", 2);
    issue_to(&world, &card, &old).await;
    issue_to(&world, &card, &tablet).await;

    // The lost report from the new phone, not yet enrolled: the others suspended.
    let (status, taken) = report(&world, &card, &face, &new, false).await;
    assert_eq!(status, StatusCode::OK, "{taken}");
    assert_eq!(taken["wallets_suspended"], 2, "{taken}");
    // A lost report releases no history secret: only a completed move does.
    assert!(taken.get("history_secret").is_none(), "{taken}");
    assert_eq!(
        states(&world, &card).await,
        [
            ("old-phone".into(), Suspended),
            ("tablet".into(), Suspended)
        ]
    );
    // A move from it is refused while it holds nothing of hers, and changes nothing.
    let (status, refused) = report(&world, &card, &face, &new, true).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("move_not_completed")),
        "{refused}"
    );
    assert_eq!(
        states(&world, &card).await,
        [
            ("old-phone".into(), Suspended),
            ("tablet".into(), Suspended)
        ]
    );
    // A lost report alone is reversible: the phones are found, the hotline reinstates her.
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/residents/reinstate",
            json!({ "id_number": card.id_number.expose() }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        states(&world, &card).await,
        [("old-phone".into(), Valid), ("tablet".into(), Valid)]
    );

    // A wallet holding another resident's valid credentials cannot move her either.
    let stranger = Phone::new("alipay", "stranger-phone", 2);
    issue_to(&world, &world.residents[22].clone(), &stranger).await;
    let (_, refused) = report(&world, &card, &face, &stranger, true).await;
    assert_eq!(refused["error"], "move_not_completed", "{refused}");

    // The tablet is suspended by the hotline; an offer is made for the old phone and left
    // unredeemed; the new phone is enrolled, then she moves to it.
    let (status, _) = send(
        &world.admin,
        admin_post("/admin/wallets/wechat/tablet/suspend", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (pending, pending_code) = enrol(&world, &card).await;
    issue_to(&world, &card, &new).await;
    let (status, moved) = report(&world, &card, &face, &new, true).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["moved"], true, "{moved}");
    assert_eq!(moved["wallets_revoked"], 2, "{moved}");
    // The new phone gets her history secret, to restore her history; another resident's
    // move would give another.
    let secret = moved["history_secret"].as_str().expect("a history secret");
    assert_eq!(eid_crypto::b64url_decode(secret).unwrap().len(), 32);
    // Two batches of two per wallet (mdoc and SD-JWT VC), every instance flipped.
    assert_eq!(moved["instances"], 8, "{moved}");
    assert_eq!(
        states(&world, &card).await,
        [
            ("new-phone".into(), Valid),
            ("old-phone".into(), Invalid),
            ("tablet".into(), Invalid),
        ]
    );
    // The offer made before the move is void.
    let (status, token) = send(
        &world.public,
        form_post(
            "/token",
            &[
                ("grant_type", eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE),
                (
                    "pre-authorized_code",
                    &pending.grants.pre_authorized_code.code,
                ),
                ("tx_code", &pending_code),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{token}");
    // A resident-wide reinstate after the move (the old phone found) brings nothing back.
    let (status, body) = send(
        &world.admin,
        admin_post(
            "/admin/residents/reinstate",
            json!({ "id_number": card.id_number.expose() }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["credentials"], json!([]), "{body}");
    assert_eq!(
        states(&world, &card).await,
        [
            ("new-phone".into(), Valid),
            ("old-phone".into(), Invalid),
            ("tablet".into(), Invalid),
        ]
    );

    // Audited: the move and its refusals, each revocation with the reporting wallet as
    // actor; no identity number.
    let audit = world.authority.store().audit_log(200).await.unwrap();
    let moves: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.action == "report_move")
        .map(|e| (e.outcome.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            ("ok", "2 wallet(s) revoked, 4 credential(s)"),
            ("refused", "move_not_completed"),
            ("refused", "move_not_completed"),
        ]
    );
    let revoked = audit
        .iter()
        .filter(|e| e.action == "revoke" && e.actor == "wallet:alipay/new-phone")
        .count();
    assert_eq!(revoked, 4);
    assert!(
        audit
            .iter()
            .all(|e| !e.subject.contains(card.id_number.expose())
                && !e.detail.contains(card.id_number.expose()))
    );
}

fn copy<'a>(app: &Application<'a>) -> Application<'a> {
    Application {
        card: app.card,
        name: app.name.clone(),
        front: app.front.clone(),
        face: app.face.clone(),
        turned: app.turned.clone(),
        turn: app.turn,
        phone: app.phone,
    }
}

#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn the_face_model_separates_the_fixtures() {
    let Some(dir) = proofing_dir() else {
        return;
    };
    let face = FaceMatcher::load(&dir.join("models"), 0.6).unwrap();
    let obama = fixture(&dir, "obama.jpg");
    for (other, same) in [
        ("obama2.jpg", true),
        ("obama3.jpg", true),
        ("biden.jpg", false),
    ] {
        let capture = fixture(&dir, other);
        // obama3 and biden are group photographs: the largest face is taken.
        let d = face.distance(&capture, &obama).unwrap();
        assert_eq!(d <= 0.6, same, "{other}: distance {d}");
        println!("obama.jpg ~ {other}: {d:.3}");
    }
    // A model file that is not the published one is refused by its checksum.
    let bad = std::env::temp_dir().join(format!("eid-bad-models-{}", std::process::id()));
    std::fs::create_dir_all(&bad).unwrap();
    for (name, _) in eid_authority::proofing::MODELS {
        std::fs::write(bad.join(name), b"x").unwrap();
    }
    let error = FaceMatcher::load(&bad, 0.6).unwrap_err().to_string();
    assert!(error.contains("SHA-256"), "{error}");
    std::fs::remove_dir_all(&bad).unwrap();
}

/// Where the purpose may see the face (airport security and rail ticketing list `portrait`)
/// and no match is required (this world waives it), the offline code carries the face
/// template when the registry has a portrait, and goes without it when not; a purpose that
/// may not see the face (an age check) never gets one.
#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn an_offline_credential_carries_the_face_template_where_its_purpose_sees_the_face() {
    use eid_authority::credential::offline_configuration;
    use eid_mdoc::offline::{CompactCredential, FACE_TEMPLATE};
    use eid_trust::Purpose;
    let Some(dir) = proofing_dir() else {
        return;
    };
    let world = world_with_portraits(&dir).await;
    let airport = offline_configuration(Purpose::AirportSecurity);
    let rail = offline_configuration(Purpose::RailTicketing);
    let age = offline_configuration(Purpose::AgeCheck);
    // Whether resident `n`'s airport and rail codes carry a face template.
    let templates = async |n: usize, phone: &str| -> Vec<bool> {
        let (offer, tx_code) = enrol(&world, &world.residents[n]).await;
        let phone = Phone::new("wechat", phone, 1);
        let configurations = [airport.as_str(), rail.as_str(), age.as_str()];
        let issued = obtain(&world, &offer, &tx_code, &phone, &configurations).await;
        issued
            .iter()
            .map(|batch| {
                let code = eid_crypto::b64url_decode(&batch[0]).unwrap();
                let credential = CompactCredential::from_cbor(&code).unwrap();
                credential.claims.attributes.contains_key(FACE_TEMPLATE)
            })
            .collect()
    };
    // Resident 20 has a registry portrait, 21 none.
    assert_eq!(templates(20, "wechat-face-3").await, [true, true, false]);
    assert_eq!(templates(21, "wechat-face-4").await, [false, false, false]);
}

/// Once the trust list requires a face match for airport security, the authority puts the
/// holder's face template — its model's, from the registry portrait — into the offline
/// code's credential: it matches another photograph of the holder and not another person.
/// A resident without a registry portrait gets no such credential, and is told why.
#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn an_offline_credential_carries_the_face_template_where_a_match_is_required() {
    use eid_authority::credential::offline_configuration;
    use eid_mdoc::offline::{CompactCredential, FACE_TEMPLATE};
    use eid_trust::Purpose;
    let Some(dir) = proofing_dir() else {
        return;
    };
    let world = world_with_portraits(&dir).await;
    require_face_match(&world, Purpose::AirportSecurity);
    let airport = offline_configuration(Purpose::AirportSecurity);
    let phone = Phone::new("wechat", "wechat-face-1", 1);
    let (offer, tx_code) = enrol(&world, &world.residents[20]).await;
    let issued = obtain(&world, &offer, &tx_code, &phone, &[airport.as_str()]).await;
    let credential =
        CompactCredential::from_cbor(&eid_crypto::b64url_decode(&issued[0][0]).unwrap()).unwrap();
    let raw = &credential.claims.attributes[FACE_TEMPLATE];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(
            eid_mdoc::model::element_to_json(raw)
                .unwrap()
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let template = eid_face::Template::from_bytes(&bytes).unwrap();
    let model = FaceMatcher::load(&dir.join("models"), 0.6).unwrap();
    let distance = |name: &str| {
        let live = model
            .embedding(&fixture(&dir, name), "photograph", true)
            .unwrap();
        template.embedding().distance(&live)
    };
    assert!(distance("obama2.jpg") <= 0.6, "{}", distance("obama2.jpg"));
    assert!(distance("biden.jpg") > 0.6, "{}", distance("biden.jpg"));
    // Resident 21 has no registry portrait.
    let (offer, tx_code) = enrol(&world, &world.residents[21]).await;
    let access = access_token(&world, &offer, &tx_code).await;
    let other = Phone::new("wechat", "wechat-face-2", 1);
    let (status, body) = request_credential(&world, &access, &airport, &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "credential_request_denied", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("no portrait of this resident"),
        "{body}"
    );
}

/// A printed code where the face must match carries the holder's face template, made from
/// the registry portrait; without a portrait the counter prints none, and says why.
#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn a_printed_code_carries_the_face_template_and_without_a_portrait_none_is_printed() {
    use eid_mdoc::offline::FACE_TEMPLATE;
    use eid_trust::Purpose;
    let Some(dir) = proofing_dir() else {
        return;
    };
    let world = world_with_portraits(&dir).await;
    crate::paper::allow_paper(&world, Purpose::AirportSecurity, true);
    let (code, printed) = crate::paper::print(
        &world,
        crate::paper::request(&world, 20, "airport_security"),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{printed}");
    let verified = crate::paper::read(
        &world,
        printed["code"].as_str().unwrap(),
        "airport_security",
    );
    assert!(verified.claims.attributes.contains_key(FACE_TEMPLATE));
    assert!(printed["bytes"].as_u64().unwrap() <= eid_mdoc::offline::QR_CAPACITY_PAPER as u64);
    let (code, refused) = crate::paper::print(
        &world,
        crate::paper::request(&world, 21, "airport_security"),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("no portrait of this resident"),
        "{refused}"
    );
}

/// A printed code is on paper, not in a wallet, and a guardian's wallet is not hers: a lost
/// phone reported, or a move to a new phone, leaves both valid (the console or the
/// hotline's freeze withdraw them).
#[tokio::test]
#[ignore = "needs the face models: EID_PROOFING_DIR (scripts/test fetches them)"]
async fn a_lost_phone_or_a_move_leaves_the_printed_code() {
    use CredentialState::{Invalid, Suspended, Valid};
    let Some(dir) = proofing_dir() else {
        return;
    };
    let world = world_with_portraits(&dir).await;
    crate::paper::allow_paper(&world, eid_trust::Purpose::AirportSecurity, true);
    let card = world.residents[20].clone();
    let face = her_capture(&dir);
    let (status, printed) = crate::paper::print(
        &world,
        crate::paper::request(&world, 20, "airport_security"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{printed}");
    let paper = printed["credential"].as_str().unwrap().to_owned();
    // A guardian's wallet holds her credential too (a delegation): not hers either.
    let today = world.now().date();
    let holder = (0..world.residents.len())
        .find(|&n| {
            n != 20 && eid_core::identity::age_in_years(world.residents[n].birth_date, today) >= 18
        })
        .unwrap();
    let guardian = Phone::new("wechat", "guardian-phone", 1);
    issue_to(&world, &world.residents[holder], &guardian).await;
    crate::delegation::held_by(
        &world,
        (20, holder),
        eid_core::Relationship::Guardian,
        &guardian,
    )
    .await;
    let old = Phone::new("wechat", "old-phone", 1);
    let new = Phone::new("alipay", "new-phone", 1);
    issue_to(&world, &card, &old).await;
    // And she, of age, holds another's in her old phone as a guardian: it goes with her old
    // phone when she moves.
    assert!(eid_core::identity::age_in_years(card.birth_date, today) >= 18);
    crate::delegation::held_by(&world, (holder, 20), eid_core::Relationship::Guardian, &old).await;
    let (status, taken) = report(&world, &card, &face, &new, false).await;
    assert_eq!(status, StatusCode::OK, "{taken}");
    assert_eq!(taken["wallets_suspended"], 1, "{taken}");
    let with_paper = |old_phone| {
        let mut expected = vec![
            ("old-phone".to_owned(), old_phone),
            (paper.clone(), Valid),
            ("guardian-phone".to_owned(), Valid),
        ];
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        expected
    };
    assert_eq!(states(&world, &card).await, with_paper(Suspended));
    issue_to(&world, &card, &new).await;
    let (status, moved) = report(&world, &card, &face, &new, true).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["wallets_revoked"], 1, "{moved}");
    let mut expected = with_paper(Invalid);
    expected.push(("new-phone".into(), Valid));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(states(&world, &card).await, expected);
    // What her old phone held for the other resident is revoked; the other resident's own
    // are untouched.
    assert_eq!(
        states(&world, &world.residents[holder]).await,
        [
            ("guardian-phone".to_owned(), Valid),
            ("old-phone".to_owned(), Invalid)
        ]
    );
}
