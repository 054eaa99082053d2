//! The OpenID4VCI 1.0 pre-authorized flow, both formats, batches of three, every credential
//! verified with the credential core; and what the endpoints refuse.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_core::status::{CredentialStatus, StatusCheck, StatusListReference};
use eid_crypto::{Signer, b64url_decode};
use eid_mdoc::model::IssuerSigned;
use eid_mdoc::verify::{IssuerDataCheck, IssuerTrust, verify_issuer_data};
use eid_sdjwt::{KeyBinding, KeyBindingCheck, UnverifiedSdJwt, VerifyOptions};
use eid_status::token::{ReadOptions, TokenFormat, TokenTrust, VerifiedStatusList, read};
use serde_json::json;
use time::Duration;

use crate::common::*;

/// The served status lists, fetched and verified like a verifier does.
pub struct ServedLists(pub Vec<(String, VerifiedStatusList)>);

impl StatusCheck for ServedLists {
    fn status(&self, reference: &StatusListReference) -> Result<CredentialStatus, String> {
        let (_, list) = self
            .0
            .iter()
            .find(|(uri, _)| *uri == reference.uri)
            .ok_or("list not fetched")?;
        let value = list
            .token
            .list
            .get(reference.idx)
            .map_err(|e| e.to_string())?;
        eid_status::list::credential_status(value).ok_or_else(|| "undefined status".into())
    }
}

/// Fetches and verifies status list `shard` in the given form.
pub async fn fetch_list(world: &World, shard: u64, cwt: bool) -> VerifiedStatusList {
    let accept = if cwt {
        "application/statuslist+cwt"
    } else {
        "application/statuslist+jwt"
    };
    let response = tower::ServiceExt::oneshot(
        world.public.clone(),
        Request::get(format!("/status/{shard}"))
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], accept);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let root = world.pki.trusted_root(world.now()).unwrap();
    let uri = world.authority.status_uri(shard);
    let list = read(
        &bytes,
        &ReadOptions::new(
            TokenTrust {
                roots: std::slice::from_ref(&root),
                keys: &[],
            },
            world.now(),
            &uri,
        ),
    )
    .unwrap();
    assert_eq!(
        list.format,
        if cwt {
            TokenFormat::Cwt
        } else {
            TokenFormat::Jwt
        }
    );
    list
}

/// Verifies an issued mdoc with the credential core: chain to the authority's IACA,
/// signature, digests, docType, validity, status from the served list; bound to `key`.
pub fn verify_mdoc(
    world: &World,
    credential: &str,
    key: &dyn Signer,
    lists: &ServedLists,
) -> Result<Vec<String>, eid_mdoc::MdocError> {
    let verified = verified_mdoc(world, credential, Some(lists))?;
    assert!(verified.status_checked);
    assert_eq!(&verified.device_key, key.verifying_key());
    Ok(verified.elements.into_iter().map(|(_, id, _)| id).collect())
}

/// The issuer data of an issued mdoc, checked at the world's time against the authority's
/// IACA (and its status against `lists`, if given).
pub fn verified_mdoc(
    world: &World,
    credential: &str,
    lists: Option<&ServedLists>,
) -> Result<eid_mdoc::verify::VerifiedIssuerData, eid_mdoc::MdocError> {
    let issuer_signed = IssuerSigned::from_cbor(&b64url_decode(credential).unwrap())?;
    let root = world.pki.trusted_root(world.now()).unwrap();
    verify_issuer_data(
        eid_mdoc::DOCTYPE_RESIDENT_IDENTITY,
        &issuer_signed,
        &IssuerDataCheck {
            trust: IssuerTrust::Roots(std::slice::from_ref(&root)),
            now: world.now(),
            expected_doc_type: Some(eid_mdoc::DOCTYPE_RESIDENT_IDENTITY),
            status: lists.map(|l| l as &dyn StatusCheck),
        },
    )
}

/// Presents an issued SD-JWT VC with a key binding and verifies it with the credential
/// core, status included.
pub fn verify_sd_jwt(
    world: &World,
    credential: &str,
    key: &dyn Signer,
    lists: &ServedLists,
) -> Result<eid_sdjwt::VerifiedSdJwt, eid_sdjwt::SdJwtError> {
    let presentation = eid_sdjwt::present(
        credential,
        &["family_name", "age_over_18"],
        Some(&KeyBinding {
            signer: key,
            audience: "https://hotel.test",
            nonce: "n-42",
            issued_at: world.now(),
        }),
    )?;
    let root = world.pki.trusted_root(world.now()).unwrap();
    UnverifiedSdJwt::parse(&presentation)?.verify(&VerifyOptions {
        trust: eid_sdjwt::verify::IssuerTrust {
            x5c: eid_sdjwt::X5cTrust::Roots(std::slice::from_ref(&root)),
            keys: &[],
        },
        now: world.now(),
        leeway: Duration::ZERO,
        sd_jwt_vc: true,
        expected_vct: &[eid_sdjwt::VCT_RESIDENT_IDENTITY],
        key_binding: Some(&KeyBindingCheck {
            audience: "https://hotel.test",
            nonce: "n-42",
            max_age: Duration::minutes(5),
        }),
        status: Some(lists),
    })
}

async fn full_flow(world: &World) {
    // The metadata a wallet reads first.
    let (status, metadata) = send(
        &world.public,
        Request::get("/.well-known/openid-credential-issuer")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata["credential_issuer"], ISSUER);
    assert_eq!(metadata["batch_credential_issuance"]["batch_size"], 3);
    assert_eq!(
        metadata["credential_configurations_supported"][CONFIG_MDOC]["format"],
        "mso_mdoc"
    );
    assert_eq!(
        metadata["credential_configurations_supported"][CONFIG_SD_JWT]["vct"],
        eid_sdjwt::VCT_RESIDENT_IDENTITY
    );
    let (_, as_metadata) = send(
        &world.public,
        Request::get("/.well-known/oauth-authorization-server")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(as_metadata["token_endpoint"], format!("{ISSUER}/token"));

    let card = &world.residents[0];
    let (offer, tx_code) = enrol(world, card).await;
    assert_eq!(offer.credential_issuer, ISSUER);
    assert_eq!(tx_code.len(), 6);
    let phone = Phone::new("wechat", "wechat-phone-1", 3);
    let issued = obtain(
        world,
        &offer,
        &tx_code,
        &phone,
        &[CONFIG_MDOC, CONFIG_SD_JWT],
    )
    .await;
    assert_eq!(issued.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3]);

    // One status list so far; both forms verify to the same entries.
    let jwt = fetch_list(world, 0, false).await;
    let cwt = fetch_list(world, 0, true).await;
    assert_eq!(jwt.token.list, cwt.token.list);
    let lists = ServedLists(vec![(world.authority.status_uri(0), jwt)]);

    for (credential, key) in issued[0].iter().zip(&phone.keys) {
        let elements = verify_mdoc(world, credential, key, &lists).unwrap();
        for name in [
            "family_name",
            "document_number",
            "age_over_18",
            "resident_region",
        ] {
            assert!(elements.iter().any(|e| e == name), "{name}");
        }
    }
    for (credential, key) in issued[1].iter().zip(&phone.keys) {
        let verified = verify_sd_jwt(world, credential, key, &lists).unwrap();
        assert_eq!(verified.claims["family_name"], json!(card.family_name));
        assert!(verified.status_checked);
    }
    // The instances are distinct credentials: different status entries.
    let refs: Vec<u64> = issued
        .iter()
        .flatten()
        .map(|c| {
            if let Ok(sd) = UnverifiedSdJwt::parse(c) {
                sd.issuer_jwt().payload()["status"]["status_list"]["idx"]
                    .as_u64()
                    .unwrap()
            } else {
                let bytes = b64url_decode(c).unwrap();
                let signed = IssuerSigned::from_cbor(&bytes).unwrap();
                let mso = eid_mdoc::model::MobileSecurityObject::from_payload(
                    signed.issuer_auth.payload.as_deref().unwrap(),
                )
                .unwrap();
                mso.status.unwrap().idx
            }
        })
        .collect();
    let mut distinct = refs.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "{refs:?}");
}

/// An authority configured for SM2 with SM3 (`algorithm = "sm2"` on a file key) issues
/// both formats and its offline codes with SM2, signs its status lists with SM2, and says
/// so in its metadata; everything verifies under its root read as SM2 (the whole flow
/// above). The same key under the default `p256`, or beside a P-256 signer, is refused.
#[tokio::test]
async fn an_sm2_authority_issues_both_formats_and_signs_its_status_lists_with_sm2() {
    let pki = eid_crypto::x509::AuthorityPki::generate_for(
        eid_crypto::Algorithm::Sm2Sm3,
        "Nanning PSB",
        "CN",
        ISSUER,
        NOW - Duration::days(1),
        (3650, 365),
        &eid_core::OsRandom,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("eid-sm2-authority-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ds.key.pem"), &*pki.ds_key.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(dir.join("chain.pem"), pki.ds.to_pem() + &pki.iaca.to_pem()).unwrap();
    let config = |algorithm: &str| -> eid_authority::config::SignerConfig {
        toml::from_str(&format!(
            "kind = \"file\"\nkey = {:?}\ncertificates = {:?}\n{algorithm}",
            dir.join("ds.key.pem"),
            dir.join("chain.pem"),
        ))
        .unwrap()
    };
    let refused = config("").open().err().map(|e| e.to_string());
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("not a PKCS#8 P-256 key")),
        "{refused:?}"
    );
    let sm2 = config("algorithm = \"sm2\"").open().unwrap();
    assert_eq!(sm2.signer().algorithm(), eid_crypto::Algorithm::Sm2Sm3);
    let p256 = pki_signer(&eid_testing::nanning(NOW)).all()[0].clone();
    assert!(matches!(
        eid_authority::DocumentSigners::new(vec![sm2.clone(), p256]),
        Err(eid_authority::SignerError::TwoAlgorithms(..))
    ));
    let world = World::with_pki(
        "sqlite::memory:",
        std::sync::Arc::new(eid_core::FixedClock(NOW)),
        pki,
        |_| eid_authority::DocumentSigners::new(vec![sm2]).unwrap(),
    )
    .await;
    // Its offline keys, listed as SM2 keys, are found: nothing keeps it from serving.
    assert_eq!(world.authority.signers_refused(), []);
    let (ready, _) = send(
        &world.admin,
        Request::get("/ready").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(ready, StatusCode::OK);
    full_flow(&world).await;
    let (_, metadata) = send(
        &world.public,
        Request::get("/.well-known/openid-credential-issuer")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let configurations = &metadata["credential_configurations_supported"];
    assert_eq!(
        configurations[CONFIG_MDOC]["credential_signing_alg_values_supported"],
        json!([eid_crypto::SM2_COSE])
    );
    assert_eq!(
        configurations[CONFIG_SD_JWT]["credential_signing_alg_values_supported"],
        json!(["SM2SM3"])
    );
    // The status list's own header names SM2 (its signature verified in the flow).
    let response = tower::ServiceExt::oneshot(
        world.public.clone(),
        Request::get("/status/0")
            .header(header::ACCEPT, "application/statuslist+jwt")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let token = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let header = std::str::from_utf8(&token)
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&b64url_decode(header).unwrap()).unwrap();
    assert_eq!(header["alg"], "SM2SM3");
    // And a verifier that reads the root as P-256 trusts none of it.
    assert!(eid_crypto::x509::TrustedIaca::new(&world.pki.iaca.0, NOW).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn pre_authorized_flow_both_formats_batch_of_three_on_sqlite() {
    full_flow(&World::new("sqlite::memory:").await).await;
}

/// The authority over the in-memory storage (`memory:`): the same flow, no database.
#[tokio::test]
async fn pre_authorized_flow_both_formats_batch_of_three_in_memory() {
    full_flow(&World::new("memory:").await).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: EID_TEST_POSTGRES_URL (scripts/test starts one)"]
async fn pre_authorized_flow_both_formats_batch_of_three_on_postgres() {
    on_postgres("authority_flow", full_flow).await;
}

/// The compact credentials for the offline QR come in the same offer: one per scanner
/// purpose, with that purpose's attributes, the portrait as its digest, bound to the
/// phone's keys and to their own status entries; a purpose without one is not offered.
#[tokio::test]
async fn the_offer_includes_the_offline_qr_credentials() {
    use eid_authority::credential::offline_configuration;
    use eid_mdoc::offline::{
        CompactCredential, OfflineCheck, OfflineIssuerKey, key_id, present_offline, verify_offline,
    };
    use eid_trust::Purpose;
    let world = World::new("sqlite::memory:").await;
    let (_, metadata) = send(
        &world.public,
        Request::get("/.well-known/openid-credential-issuer")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let airport = offline_configuration(Purpose::AirportSecurity);
    assert_eq!(
        metadata["credential_configurations_supported"][&airport]["format"],
        eid_oid4vc::FORMAT_EID_COMPACT
    );
    let card = &world.residents[0];
    let (offer, tx_code) = enrol(&world, card).await;
    assert!(offer.credential_configuration_ids.contains(&airport));
    let phone = Phone::new("wechat", "wechat-phone-1", 2);
    let issued = obtain(&world, &offer, &tx_code, &phone, &[airport.as_str()]).await;
    assert_eq!(issued[0].len(), 2);
    let ds = world.pki.ds_key.verifying_key();
    let keys = [OfflineIssuerKey {
        issuer: "cn-4501".into(),
        kid: key_id(ds).unwrap(),
        key: ds.clone(),
    }];
    let mut indices = Vec::new();
    for (credential, key) in issued[0].iter().zip(&phone.keys) {
        let credential = CompactCredential::from_cbor(&b64url_decode(credential).unwrap()).unwrap();
        let qr = present_offline(&credential, key, NOW).unwrap();
        let verified = verify_offline(
            &qr,
            &OfflineCheck {
                keys: &keys,
                purpose: "airport_security",
                now: NOW,
            },
        )
        .unwrap();
        assert_eq!(verified.claims.provider.as_deref(), Some("wechat"));
        let names: Vec<_> = verified.claims.attributes.keys().cloned().collect();
        let mut expected = vec!["document_number", "family_name", "given_name"];
        if card.portrait.is_some() {
            expected.push("portrait_sha256");
        }
        assert_eq!(names, expected);
        indices.push(verified.claims.status.unwrap().idx);
    }
    indices.dedup();
    assert_eq!(indices.len(), 2);
    assert!(
        !offer
            .credential_configuration_ids
            .contains(&offline_configuration(Purpose::HotelCheckIn))
    );
    assert!(
        metadata["credential_configurations_supported"]
            .get(offline_configuration(Purpose::HotelCheckIn))
            .is_none()
    );
}

#[tokio::test]
async fn the_token_endpoint_refuses_with_oauth_errors() {
    let world = World::new("sqlite::memory:").await;
    let (offer, tx_code) = enrol(&world, &world.residents[1]).await;
    let code = offer.grants.pre_authorized_code.code.clone();
    let grant = eid_oid4vc::GRANT_PRE_AUTHORIZED_CODE;
    for (form, expected) in [
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            "unsupported_grant_type",
        ),
        (vec![("grant_type", grant)], "invalid_request"),
        (
            vec![("grant_type", grant), ("pre-authorized_code", "unknown")],
            "invalid_grant",
        ),
        (
            vec![("grant_type", grant), ("pre-authorized_code", &code)],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", grant),
                ("pre-authorized_code", &code),
                ("tx_code", "000000x"),
            ],
            "invalid_grant",
        ),
    ] {
        let (status, body) = send(&world.public, form_post("/token", &form)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(body["error"], expected, "{form:?}: {body}");
    }
    // The right code works once.
    let form = [
        ("grant_type", grant),
        ("pre-authorized_code", code.as_str()),
        ("tx_code", tx_code.as_str()),
    ];
    let (status, _) = send(&world.public, form_post("/token", &form)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(&world.public, form_post("/token", &form)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error_description"],
        "the pre-authorized code was already used"
    );
}

async fn access_token(world: &World, card_index: usize) -> String {
    let (offer, tx_code) = enrol(world, &world.residents[card_index]).await;
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
                ("tx_code", &tx_code),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    token["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_credential_endpoint_refuses_what_it_must() {
    let world = World::new("sqlite::memory:").await;
    let access = access_token(&world, 2).await;
    let phone = Phone::new("alipay", "alipay-phone-1", 2);

    // No or an unknown bearer token.
    let (status, body) = send(
        &world.public,
        Request::post("/credential").body(Body::from("{}")).unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let (status, _) = request_credential(&world, "not-a-token", CONFIG_MDOC, &phone).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An unknown configuration; too many proofs; a proof for another issuer.
    let (status, body) = request_credential(&world, &access, "passport", &phone).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("unknown_credential_configuration")
        )
    );
    let big = Phone::new("alipay", "alipay-phone-1", 4);
    let (_, body) = request_credential(&world, &access, CONFIG_MDOC, &big).await;
    assert_eq!(body["error"], "invalid_credential_request");
    let fresh = nonce(&world).await;
    let attestation = phone.attestation(&world);
    let wrong_aud = eid_oid4vc::proof::key_proof(
        &phone.keys[0],
        "https://other.test",
        &fresh,
        NOW,
        Some(&attestation),
    )
    .unwrap();
    let request =
        eid_oid4vc::credential::CredentialRequest::with_jwt_proofs(CONFIG_MDOC, vec![wrong_aud]);
    let (status, body) = post_credential(&world, &access, &request).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof"))
    );
    assert!(body["error_description"].as_str().unwrap().contains("aud"));

    // A nonce the issuer never handed out, then a used one.
    let forged = phone.proofs(&world, "made-up-nonce");
    let request = eid_oid4vc::credential::CredentialRequest::with_jwt_proofs(CONFIG_MDOC, forged);
    let (_, body) = post_credential(&world, &access, &request).await;
    assert_eq!(body["error"], "invalid_nonce");
    let fresh = nonce(&world).await;
    let request = eid_oid4vc::credential::CredentialRequest::with_jwt_proofs(
        CONFIG_MDOC,
        phone.proofs(&world, &fresh),
    );
    let (status, _) = post_credential(&world, &access, &request).await;
    assert_eq!(status, StatusCode::OK);
    // Replaying the same request: its nonce is used.
    let (_, body) = post_credential(&world, &access, &request).await;
    assert_eq!(body["error"], "invalid_nonce");
    // A fresh nonce, but the configuration was already issued under this token.
    let (status, body) = request_credential(&world, &access, CONFIG_MDOC, &phone).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("credential_request_denied"))
    );
    // The other format is still available under the token.
    let (status, _) = request_credential(&world, &access, CONFIG_SD_JWT, &phone).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_wallet_of_an_unlisted_or_suspended_provider_gets_nothing() {
    let world = World::new("sqlite::memory:").await;
    let access = access_token(&world, 3).await;
    let mut rogue = Phone::new("wechat", "phone-x", 1);
    rogue.provider = "rogue-app".into();
    // Signed by wechat's key but naming another provider: unknown provider.
    let fresh = nonce(&world).await;
    let attestation = eid_oid4vc::proof::KeyAttestation {
        provider: "rogue-app",
        wallet_instance: "phone-x",
        keys: &rogue.public_keys(),
        key_storage: &["iso_18045_high"],
        user_authentication: &[],
        issued_at: NOW,
        expires_at: NOW + Duration::hours(1),
    }
    .sign(world.provider("wechat"))
    .unwrap();
    let proof =
        eid_oid4vc::proof::key_proof(&rogue.keys[0], ISSUER, &fresh, NOW, Some(&attestation))
            .unwrap();
    let request =
        eid_oid4vc::credential::CredentialRequest::with_jwt_proofs(CONFIG_MDOC, vec![proof]);
    let (_, body) = post_credential(&world, &access, &request).await;
    assert_eq!(body["error"], "invalid_proof");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not a wallet provider")
    );
}

#[tokio::test]
async fn status_lists_are_served_by_accept_and_unknown_ones_are_404() {
    let world = World::new("sqlite::memory:").await;
    let access = access_token(&world, 4).await;
    let phone = Phone::new("wechat", "p", 1);
    let (status, _) = request_credential(&world, &access, CONFIG_SD_JWT, &phone).await;
    assert_eq!(status, StatusCode::OK);
    for (accept, expected) in [
        (None, StatusCode::OK),
        (Some("*/*"), StatusCode::OK),
        (Some("application/statuslist+cwt;q=1"), StatusCode::OK),
        (Some("text/html"), StatusCode::NOT_ACCEPTABLE),
    ] {
        let mut request = Request::get("/status/0");
        if let Some(accept) = accept {
            request = request.header(header::ACCEPT, accept);
        }
        let response =
            tower::ServiceExt::oneshot(world.public.clone(), request.body(Body::empty()).unwrap())
                .await
                .unwrap();
        assert_eq!(response.status(), expected, "{accept:?}");
        assert!(response.headers().contains_key("x-request-id"));
    }
    for missing in ["/status/9", "/status/x"] {
        let (status, body) = send(
            &world.public,
            Request::get(missing).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
    }
}

#[tokio::test]
async fn one_proof_with_an_attestation_of_three_keys_gets_three_credentials() {
    // OpenID4VCI 1.0 Appendix F.1: a single proof names one attested key by `kid` and
    // carries the attestation; the issuer binds one credential to each attested key.
    let world = World::new("sqlite::memory:").await;
    let access = access_token(&world, 5).await;
    let phone = Phone::new("alipay", "one-proof-phone", 3);
    let fresh = nonce(&world).await;
    let attestation = phone.attestation(&world);
    let mut header = serde_json::Map::new();
    header.insert("typ".into(), json!("openid4vci-proof+jwt"));
    header.insert("alg".into(), json!("ES256"));
    header.insert("kid".into(), json!("1"));
    header.insert("key_attestation".into(), json!(attestation));
    let mut claims = serde_json::Map::new();
    claims.insert("aud".into(), json!(ISSUER));
    claims.insert("iat".into(), json!(NOW.unix_timestamp()));
    claims.insert("nonce".into(), json!(fresh));
    let proof = eid_sdjwt::Jws::sign(&header, &claims, &phone.keys[1]).unwrap();
    let request =
        eid_oid4vc::credential::CredentialRequest::with_jwt_proofs(CONFIG_SD_JWT, vec![proof]);
    let (status, body) = post_credential(&world, &access, &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lists = ServedLists(vec![(
        world.authority.status_uri(0),
        fetch_list(&world, 0, false).await,
    )]);
    let credentials = body["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 3);
    for (credential, key) in credentials.iter().zip(&phone.keys) {
        verify_sd_jwt(
            &world,
            credential["credential"].as_str().unwrap(),
            key,
            &lists,
        )
        .unwrap();
    }
}

/// Where the trust list requires a face match for a scanner purpose, an authority without a
/// face model makes no offline credential for it (every desk would refuse the code), and
/// says why; the other formats are issued as before.
#[tokio::test]
async fn without_a_face_model_no_offline_credential_is_made_where_a_match_is_required() {
    use eid_authority::credential::{CONFIG_MDOC, offline_configuration};
    use eid_trust::Purpose;
    let world = World::new("sqlite::memory:").await;
    require_face_match(&world, Purpose::AirportSecurity);
    let (offer, tx_code) = enrol(&world, &world.residents[0]).await;
    let access = crate::common::access_token(&world, &offer, &tx_code).await;
    let phone = Phone::new("wechat", "wechat-no-face", 1);
    let airport = offline_configuration(Purpose::AirportSecurity);
    let (status, body) = request_credential(&world, &access, &airport, &phone).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "credential_request_denied", "{body}");
    assert!(
        body["error_description"].as_str().unwrap().contains(
            "airport_security requires a face match, and this authority has no face model"
        ),
        "{body}"
    );
    let (status, body) = request_credential(&world, &access, CONFIG_MDOC, &phone).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A fresh authority publishes its first status list before it issues anything: a desk
/// following the shards holds it when the first credential arrives (every later shard is
/// opened at half the one before).
#[tokio::test]
async fn a_fresh_authority_publishes_its_first_status_list_before_any_issuance() {
    let world = World::new("sqlite::memory:").await;
    let mut status = StatusCode::NOT_FOUND;
    for _ in 0..100 {
        (status, _) = send(
            &world.public,
            Request::get("/status/0")
                .header(header::ACCEPT, "application/statuslist+jwt")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, StatusCode::OK);
    // Nothing was issued into it: every entry valid, and no second shard yet.
    let statuses = world
        .authority
        .store()
        .shard_statuses(0)
        .await
        .unwrap()
        .unwrap();
    assert!(statuses.entries.is_empty());
    assert!(
        world
            .authority
            .store()
            .shard_statuses(1)
            .await
            .unwrap()
            .is_none()
    );
}
