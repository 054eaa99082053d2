//! Document signers over the years: issuance and the status lists move to the successor on
//! its first day, credentials of either keep verifying until they expire, no credential or
//! status list outlives the certificate that signed it, and an authority with no valid
//! certificate left says so (503, not ready) rather than signing what no one can verify.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eid_authority::config::AuthorityConfig;
use eid_authority::credential::{CONFIG_MDOC, CONFIG_SD_JWT};
use eid_authority::signers::HANDOVER_GRACE;
use eid_authority::{DocumentSigner, DocumentSigners};
use eid_crypto::x509::{AuthorityPki, CertificateTerms, Subject, create_document_signer};
use eid_crypto::{CryptoRandom, Signer, SigningKey};
use eid_status::token::SignedBy;
use eid_testing::TestClock;
use time::{Duration, OffsetDateTime};

use crate::common::*;
use crate::issuance::{ServedLists, fetch_list, verified_mdoc, verify_sd_jwt};

/// The successor takes over 300 days after the first DS began.
const HANDOVER: i64 = 300;

fn copy(key: &SigningKey) -> Arc<dyn Signer> {
    Arc::new(SigningKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap())
}

/// A DS certificate under `pki`'s IACA for `key`, named `name`, from `from` for 365 days.
fn ds_certificate(
    pki: &AuthorityPki,
    key: &SigningKey,
    name: &str,
    from: OffsetDateTime,
) -> Vec<u8> {
    create_document_signer(
        &Subject {
            country: "CN".into(),
            state: None,
            organization: "Nanning PSB".into(),
            common_name: name.into(),
        },
        &CertificateTerms {
            not_before: from,
            not_after: from + Duration::days(365),
            issuer_alt_name_uri: ISSUER.into(),
            crl_uri: format!("{ISSUER}/iaca.crl"),
        },
        key.verifying_key(),
        &pki.iaca,
        &pki.iaca_key,
        &CryptoRandom,
    )
    .unwrap()
    .0
}

/// The issuer key that signed an mdoc, its chain checked to the IACA at the world's time.
fn mdoc_signer(world: &World, credential: &str) -> eid_crypto::VerifyingKey {
    verified_mdoc(world, credential, None).unwrap().issuer_key
}

fn list_signer(list: &eid_status::token::VerifiedStatusList) -> String {
    match &list.signed_by {
        SignedBy::Certificate { common_name, .. } => common_name.clone().unwrap(),
        SignedBy::Key(_) => panic!("the authority signs its lists with a certificate"),
    }
}

async fn ready(world: &World) -> (StatusCode, serde_json::Value) {
    send(
        &world.admin,
        Request::get("/ready").body(Body::empty()).unwrap(),
    )
    .await
}

#[tokio::test]
async fn issuance_and_status_lists_move_to_the_successor_and_both_keep_verifying() {
    let clock = Arc::new(TestClock::new(NOW));
    let next = SigningKey::generate().unwrap();
    let first_day = NOW - Duration::days(1);
    let handover = first_day + Duration::days(HANDOVER);
    let world = World::with_signers("sqlite::memory:", clock.clone(), |pki| {
        let first = ds_certificate(pki, &pki.ds_key, "Nanning PSB DS 1", first_day);
        let second = ds_certificate(pki, &next, "Nanning PSB DS 2", handover);
        DocumentSigners::new(vec![
            // Listed successor first: the order given does not matter.
            DocumentSigner::new(copy(&next), vec![second, pki.iaca.0.clone()]).unwrap(),
            DocumentSigner::new(copy(&pki.ds_key), vec![first]).unwrap(),
        ])
        .unwrap()
    })
    .await;
    let first_end = first_day + Duration::days(365);
    let second_end = handover + Duration::days(365);
    let card = world
        .residents
        .iter()
        .find(|c| {
            c.card_expiry
                .is_valid_on((second_end + Duration::days(1)).date())
        })
        .unwrap()
        .clone();

    // Day one: the first DS signs credentials and lists; a credential never outlives it
    // (a year's validity asked for, its certificate ends sooner).
    let (offer, tx) = enrol(&world, &card).await;
    let phone = Phone::new("wechat", "phone-1", 1);
    let early = obtain(&world, &offer, &tx, &phone, &[CONFIG_MDOC, CONFIG_SD_JWT]).await;
    assert_eq!(
        &mdoc_signer(&world, &early[0][0]),
        world.pki.ds_key.verifying_key()
    );
    let lists = ServedLists(vec![(
        world.authority.status_uri(0),
        fetch_list(&world, 0, false).await,
    )]);
    assert_eq!(list_signer(&lists.0[0].1), "Nanning PSB DS 1");
    let early_sd_jwt = verify_sd_jwt(&world, &early[1][0], &phone.keys[0], &lists).unwrap();
    assert_eq!(&early_sd_jwt.issuer_key, world.pki.ds_key.verifying_key());
    assert_eq!(
        early_sd_jwt.claims["exp"].as_i64().unwrap(),
        first_end.unix_timestamp(),
        "a credential's validity ends with its DS certificate"
    );

    // The day before the hand-over: still the first DS.
    clock.set(handover - Duration::days(1));
    let (offer, tx) = enrol(&world, &card).await;
    let late = obtain(
        &world,
        &offer,
        &tx,
        &Phone::new("wechat", "phone-2", 1),
        &[CONFIG_MDOC],
    )
    .await;
    assert_eq!(
        &mdoc_signer(&world, &late[0][0]),
        world.pki.ds_key.verifying_key()
    );
    assert_eq!(
        list_signer(&fetch_list(&world, 0, true).await),
        "Nanning PSB DS 1"
    );

    // The lists as served a minute before the successor's first day, and half an hour into
    // it (a verifier whose clock is behind still finds the signing certificate valid): the
    // first DS. An hour and a minute in, with the shard unchanged: signed again by the
    // successor, not served from the cache.
    for at in [
        handover - Duration::minutes(1),
        handover + Duration::minutes(30),
    ] {
        clock.set(at);
        for cwt in [false, true] {
            assert_eq!(
                list_signer(&fetch_list(&world, 0, cwt).await),
                "Nanning PSB DS 1"
            );
        }
    }
    clock.set(handover + HANDOVER_GRACE + Duration::minutes(1));
    for cwt in [false, true] {
        assert_eq!(
            list_signer(&fetch_list(&world, 0, cwt).await),
            "Nanning PSB DS 2"
        );
    }

    // The successor signs new credentials from then on.
    let (offer, tx) = enrol(&world, &card).await;
    let phone_3 = Phone::new("wechat", "phone-3", 1);
    let after = obtain(&world, &offer, &tx, &phone_3, &[CONFIG_MDOC, CONFIG_SD_JWT]).await;
    assert_eq!(&mdoc_signer(&world, &after[0][0]), next.verifying_key());
    let lists = ServedLists(vec![(
        world.authority.status_uri(0),
        fetch_list(&world, 0, false).await,
    )]);
    assert_eq!(list_signer(&lists.0[0].1), "Nanning PSB DS 2");
    assert_eq!(
        list_signer(&fetch_list(&world, 0, true).await),
        "Nanning PSB DS 2"
    );
    let after_sd_jwt = verify_sd_jwt(&world, &after[1][0], &phone_3.keys[0], &lists).unwrap();
    assert_eq!(&after_sd_jwt.issuer_key, next.verifying_key());
    // A credential of the first DS still verifies, its status read from the successor's list.
    assert_eq!(
        &mdoc_signer(&world, &early[0][0]),
        world.pki.ds_key.verifying_key()
    );
    verify_sd_jwt(&world, &early[1][0], &phone.keys[0], &lists).unwrap();
    let (status, body) = ready(&world).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // An hour before the last certificate ends, a list (valid a day otherwise) ends with it.
    clock.set(second_end - Duration::hours(1));
    let list = fetch_list(&world, 0, false).await;
    assert_eq!(list.token.expires_at, Some(second_end));

    // Past the last certificate: nothing is signed, and the authority says why.
    clock.set(second_end + Duration::days(1));
    let (offer, tx) = enrol(&world, &card).await;
    let access = access_token(&world, &offer, &tx).await;
    let (status, body) = request_credential(
        &world,
        &access,
        CONFIG_MDOC,
        &Phone::new("wechat", "phone-4", 1),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.to_string().contains("no document signer"), "{body}");
    let (status, body) = send(
        &world.public,
        Request::get("/status/0").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = ready(&world).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body["missing"][0], "no document signer is valid now",
        "{body}"
    );
}

#[test]
fn signers_that_cannot_be_used_are_refused_with_the_reason() {
    let pki = eid_testing::authority("Nanning PSB", ISSUER, NOW - Duration::days(1), (3650, 365));
    let other = SigningKey::generate().unwrap();
    let ds = pki.ds.0.clone();
    // A key with another key's certificate.
    assert_eq!(
        DocumentSigner::new(copy(&other), vec![ds.clone()])
            .unwrap_err()
            .to_string(),
        "the key is not the one of its DS certificate"
    );
    // No certificate; the IACA given as a DS certificate.
    assert!(DocumentSigner::new(copy(&pki.ds_key), Vec::new()).is_err());
    assert!(
        DocumentSigner::new(copy(&pki.iaca_key), vec![pki.iaca.0.clone()])
            .unwrap_err()
            .to_string()
            .starts_with("the DS certificate: ")
    );
    // The same key twice (a "successor" that is the current key again), and none at all.
    let twice = vec![
        DocumentSigner::new(copy(&pki.ds_key), vec![ds.clone()]).unwrap(),
        DocumentSigner::new(
            copy(&pki.ds_key),
            vec![ds_certificate(
                &pki,
                &pki.ds_key,
                "again",
                NOW + Duration::days(200),
            )],
        )
        .unwrap(),
    ];
    assert_eq!(
        DocumentSigners::new(twice).unwrap_err().to_string(),
        "two document signers share one key: a successor needs a new key"
    );
    assert!(DocumentSigners::new(Vec::new()).is_err());
    // Two certificates beginning at the same moment: which signs would depend on the order.
    let next = SigningKey::generate().unwrap();
    let start = pki_start(&pki);
    let same_start = vec![
        DocumentSigner::new(copy(&pki.ds_key), vec![ds.clone()]).unwrap(),
        DocumentSigner::new(
            copy(&next),
            vec![ds_certificate(&pki, &next, "twin", start)],
        )
        .unwrap(),
    ];
    assert!(
        DocumentSigners::new(same_start)
            .unwrap_err()
            .to_string()
            .starts_with("two DS certificates begin at the same moment")
    );
    // A key that claims the certificate's public key but signs with another (a token with
    // two keys under one label): refused before it signs anything.
    let impostor = Impostor {
        claims: pki.ds_key.verifying_key().clone(),
        signs_with: SigningKey::generate().unwrap(),
    };
    assert!(
        DocumentSigner::new(Arc::new(impostor), vec![ds])
            .unwrap_err()
            .to_string()
            .starts_with("the key's signature does not verify with its DS certificate's key")
    );
}

/// The first DS's first day.
fn pki_start(pki: &AuthorityPki) -> OffsetDateTime {
    eid_crypto::x509::document_signer_terms(&pki.ds.0)
        .unwrap()
        .1
}

/// A signer that reports one public key and signs with another.
struct Impostor {
    claims: eid_crypto::VerifyingKey,
    signs_with: SigningKey,
}

impl Signer for Impostor {
    fn algorithm(&self) -> eid_crypto::Algorithm {
        self.signs_with.algorithm()
    }

    fn verifying_key(&self) -> &eid_crypto::VerifyingKey {
        &self.claims
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, eid_crypto::CryptoError> {
        self.signs_with.sign(message)
    }
}

#[test]
fn a_successor_verifiers_would_refuse_is_named_before_it_signs() {
    let pki = eid_testing::authority("Nanning PSB", ISSUER, NOW - Duration::days(1), (3650, 365));
    let elsewhere =
        eid_testing::authority("Staging PSB", ISSUER, NOW - Duration::days(1), (3650, 365));
    let next = SigningKey::generate().unwrap();
    let handover = NOW + Duration::days(300);
    let signers = |successor: Vec<u8>| {
        DocumentSigners::new(vec![
            DocumentSigner::new(copy(&pki.ds_key), vec![pki.ds.0.clone()]).unwrap(),
            DocumentSigner::new(copy(&next), vec![successor]).unwrap(),
        ])
        .unwrap()
    };
    let mut list = eid_trust::TrustList::new(NOW);
    eid_testing::accept_issuer(&mut list, "cn-4501", "Nanning PSB", &pki, "4501", NOW);
    eid_trust::edit::set_offline_keys(
        &mut list,
        "cn-4501",
        vec![pki.ds_key.verifying_key().to_jwk()],
    )
    .unwrap();
    let trust = eid_trust::VerifiedTrustList::dangerous_unsigned(list.clone());
    // Certified by another IACA than the one listed.
    let stray = signers(ds_certificate(&elsewhere, &next, "stray", handover));
    let refused = stray.refused_by(&trust, NOW);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, handover);
    assert!(
        refused[0]
            .1
            .contains("chains to no IACA root of the trust list"),
        "{refused:?}"
    );
    // Under the listed IACA, but its key not yet among the offline keys; then listed.
    let good = signers(ds_certificate(&pki, &next, "next", handover));
    let refused = good.refused_by(&trust, NOW);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .1
            .contains("not among the offline keys of cn-4501"),
        "{refused:?}"
    );
    eid_trust::edit::set_offline_keys(
        &mut list,
        "cn-4501",
        vec![
            pki.ds_key.verifying_key().to_jwk(),
            next.verifying_key().to_jwk(),
        ],
    )
    .unwrap();
    let trust = eid_trust::VerifiedTrustList::dangerous_unsigned(list);
    assert!(good.refused_by(&trust, NOW).is_empty());
}

#[test]
fn the_configuration_lists_successors_and_refuses_an_authority_with_none_valid() {
    let dir = std::env::temp_dir().join(format!("eid-rollover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pki = eid_testing::authority("Nanning PSB", ISSUER, NOW - Duration::days(1), (3650, 365));
    let next = SigningKey::generate().unwrap();
    let handover = NOW + Duration::days(300);
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).unwrap();
        dir.join(name).display().to_string()
    };
    let key_1 = write(
        "ds-1.key.pem",
        pki.ds_key.to_pkcs8_pem().unwrap().to_string(),
    );
    let chain_1 = write("ds-1.pem", pki.ds.to_pem());
    let key_2 = write("ds-2.key.pem", next.to_pkcs8_pem().unwrap().to_string());
    let chain_2 = write(
        "ds-2.pem",
        eid_crypto::x509::CertificateDer(ds_certificate(&pki, &next, "DS 2", handover)).to_pem(),
    );
    // The current key and one successor, whose certificate is the file at `chain`.
    let with_successor = |chain: &str| {
        AuthorityConfig::parse(
            &format!(
                r#"
                issuer_url = "{ISSUER}"
                trust_list = "unused.jwt"
                trust_anchors = []
                [signer]
                kind = "file"
                key = "{key_1}"
                certificates = "{chain_1}"
                [[successors]]
                kind = "file"
                key = "{key_2}"
                certificates = "{chain}"
                "#
            ),
            &|_| None,
        )
        .unwrap()
    };
    let config = with_successor(&chain_2);
    let signers = config.document_signers(NOW).unwrap();
    assert_eq!(signers.all().len(), 2);
    assert_eq!(
        signers.at(NOW).unwrap().signer().verifying_key(),
        pki.ds_key.verifying_key()
    );
    assert_eq!(
        signers
            .at(handover + HANDOVER_GRACE)
            .unwrap()
            .signer()
            .verifying_key(),
        next.verifying_key()
    );
    assert_eq!(signers.last_ends(), handover + Duration::days(365));
    // A successor beginning after the current one ends leaves days with nothing to sign.
    let late = write(
        "ds-3.pem",
        eid_crypto::x509::CertificateDer(ds_certificate(
            &pki,
            &next,
            "DS 3",
            NOW + Duration::days(400),
        ))
        .to_pem(),
    );
    let gap = with_successor(&late);
    let error = gap.document_signers(NOW).unwrap_err().to_string();
    assert!(error.contains("until a later one begins"), "{error}");
    // Two years on, nothing is valid: the authority does not start.
    let error = config
        .document_signers(NOW + Duration::days(800))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no DS certificate is valid now"), "{error}");
    assert!(error.contains("[[successors]]"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
